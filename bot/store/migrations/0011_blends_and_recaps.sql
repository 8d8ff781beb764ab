-- Crate schema, version 11: Blend playlists (/blend), and the monthly recap (/recap, /settings recap:).
--
-- A Blend is a real playlist (so /playlist play and export work on it) that Crate refills for its
-- two to six members: daily, and at once when one of them rates a track (bot/app/blends.py).
-- ``together_track_id`` is the playlist's first track when Crate found "the song that brings you
-- together" (no foreign key: the playlist's entries are the truth, this only says which one it is);
-- ``taste_match`` is the members' taste match at the last refresh (NULL: not enough ratings).
-- Deleting the playlist deletes the blend.
CREATE TABLE blends (
    guild_id          INTEGER NOT NULL,
    playlist_id       INTEGER NOT NULL,
    refreshed_at      REAL    NOT NULL,
    together_track_id INTEGER,
    taste_match       REAL    CHECK (taste_match IS NULL OR taste_match BETWEEN 0 AND 1),
    PRIMARY KEY (guild_id, playlist_id),
    FOREIGN KEY (guild_id, playlist_id) REFERENCES playlists (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX blends_by_refresh ON blends (refreshed_at);

-- The blend's members; leaving (/blend leave) or /forget deletes the row.
CREATE TABLE blend_members (
    guild_id    INTEGER NOT NULL,
    playlist_id INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    joined_at   REAL    NOT NULL,
    PRIMARY KEY (guild_id, playlist_id, user_id),
    FOREIGN KEY (guild_id, playlist_id) REFERENCES blends (guild_id, playlist_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX blend_members_by_user ON blend_members (guild_id, user_id);

-- Who each track of a blend is for (a track may be for several members).
CREATE TABLE blend_tracks (
    guild_id    INTEGER NOT NULL,
    playlist_id INTEGER NOT NULL,
    track_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    PRIMARY KEY (guild_id, playlist_id, track_id, user_id),
    FOREIGN KEY (guild_id, playlist_id, track_id)
        REFERENCES playlist_tracks (guild_id, playlist_id, track_id) ON DELETE CASCADE,
    FOREIGN KEY (guild_id, playlist_id, user_id)
        REFERENCES blend_members (guild_id, playlist_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- A server that opted in (/settings recap:True) gets its recap posted on the 1st of each month.
ALTER TABLE guild_settings ADD COLUMN recap_monthly INTEGER
    CHECK (recap_monthly IS NULL OR recap_monthly IN (0, 1));

-- The recaps posted, one per server and month ('2026-11'): claimed before posting, so a restart
-- or a second process never posts one twice.
CREATE TABLE recap_posts (
    guild_id   INTEGER NOT NULL,
    period     TEXT    NOT NULL,
    posted_at  REAL    NOT NULL,
    channel_id INTEGER,
    PRIMARY KEY (guild_id, period)
) WITHOUT ROWID;
