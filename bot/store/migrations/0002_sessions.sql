-- Crate schema, version 2: group listening sessions.
--
-- Like every table of version 1, each row carries its guild_id and points at other rows with
-- composite foreign keys that include it: a session's member, queue entry or vote can never
-- belong to another guild's session or name another guild's track.
--
-- At most one OPEN session per text channel (a partial unique index); closed sessions stay as
-- history (their summary can be shown again). A restart reads the open ones back (see
-- bot/store/sessions.py open_sessions) instead of forgetting them.

CREATE TABLE sessions (
    id                     INTEGER PRIMARY KEY,
    guild_id               INTEGER NOT NULL,
    channel_id             INTEGER NOT NULL,
    host_id                INTEGER NOT NULL,
    voice_channel_id       INTEGER,
    status                 TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    started_at             REAL    NOT NULL,
    ended_at               REAL,
    now_playing_message_id INTEGER,
    CHECK ((status = 'open') = (ended_at IS NULL)),
    UNIQUE (guild_id, id)
);

CREATE UNIQUE INDEX sessions_one_open_per_channel ON sessions (guild_id, channel_id)
    WHERE status = 'open';
CREATE INDEX sessions_open ON sessions (status) WHERE status = 'open';
CREATE INDEX sessions_by_channel ON sessions (guild_id, channel_id, started_at);

-- Who is in a session. left_at IS NULL while the member is present; joining again clears it.
CREATE TABLE session_members (
    guild_id   INTEGER NOT NULL,
    session_id INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    joined_at  REAL    NOT NULL,
    left_at    REAL,
    PRIMARY KEY (guild_id, session_id, user_id),
    FOREIGN KEY (guild_id, session_id) REFERENCES sessions (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- The queue, in position order: what played, what plays, what comes next.
-- added_by IS NULL: Crate picked the track for the group (reason says why).
CREATE TABLE session_queue (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    session_id INTEGER NOT NULL,
    position   INTEGER NOT NULL CHECK (position >= 1),
    track_id   INTEGER NOT NULL,
    added_by   INTEGER,
    reason     TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'playing', 'played', 'skipped')),
    queued_at  REAL    NOT NULL,
    started_at REAL,
    ended_at   REAL,
    UNIQUE (guild_id, session_id, position),
    UNIQUE (guild_id, session_id, id),
    FOREIGN KEY (guild_id, session_id) REFERENCES sessions (guild_id, id) ON DELETE CASCADE,
    FOREIGN KEY (guild_id, track_id) REFERENCES tracks (guild_id, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX session_queue_one_playing ON session_queue (guild_id, session_id)
    WHERE status = 'playing';
CREATE INDEX session_queue_by_track ON session_queue (guild_id, track_id);

-- Fairness: the members each queue entry was "for" (Crate's pick suited them, or they added
-- it). The group picker favours members whose last entry lies furthest back.
CREATE TABLE session_served (
    guild_id   INTEGER NOT NULL,
    session_id INTEGER NOT NULL,
    entry_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, session_id, entry_id, user_id),
    FOREIGN KEY (guild_id, session_id, entry_id)
        REFERENCES session_queue (guild_id, session_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Votes to skip one queue entry: votes belong to the entry, so they reset with every track.
CREATE TABLE session_skip_votes (
    guild_id   INTEGER NOT NULL,
    session_id INTEGER NOT NULL,
    entry_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    voted_at   REAL    NOT NULL,
    PRIMARY KEY (guild_id, session_id, entry_id, user_id),
    FOREIGN KEY (guild_id, session_id, entry_id)
        REFERENCES session_queue (guild_id, session_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
