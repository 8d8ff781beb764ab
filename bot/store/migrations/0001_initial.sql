-- Crate schema, version 1.
--
-- Every row belongs to exactly one guild (Discord server). Rows that point at a track use a
-- composite foreign key (guild_id, track_id) -> tracks (guild_id, id), so a rating, share or
-- member row can never reference another guild's track, even by mistake.
--
-- Vectors are little-endian float32 BLOBs (see bot/store/vectors.py): tag_probs holds 50
-- values (200 bytes), embedding 200 values (800 bytes).

CREATE TABLE tracks (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    title        TEXT    NOT NULL CHECK (length(title) > 0),
    source_url   TEXT,
    source_kind  TEXT    NOT NULL CHECK (source_kind IN ('attachment', 'link', 'file')),
    content_hash TEXT    NOT NULL CHECK (length(content_hash) = 64),
    duration     REAL    NOT NULL CHECK (duration >= 0),
    genres       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(genres)),
    top_genre    TEXT,
    tag_probs    BLOB    NOT NULL CHECK (length(tag_probs) = 200),
    embedding    BLOB    NOT NULL CHECK (length(embedding) = 800),
    tempo        REAL,
    added_at     REAL    NOT NULL,
    added_by     INTEGER,
    UNIQUE (guild_id, content_hash),
    UNIQUE (guild_id, id)
);

CREATE INDEX tracks_by_genre    ON tracks (guild_id, top_genre);
CREATE INDEX tracks_by_added    ON tracks (guild_id, added_at);
CREATE INDEX tracks_by_duration ON tracks (guild_id, duration);
CREATE INDEX tracks_by_adder    ON tracks (guild_id, added_by) WHERE added_by IS NOT NULL;

-- Who shared which track; the same track may be shared by several members.
CREATE TABLE shares (
    guild_id  INTEGER NOT NULL,
    track_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    shared_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, track_id, user_id),
    FOREIGN KEY (guild_id, track_id) REFERENCES tracks (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX shares_by_user ON shares (guild_id, user_id);

-- One rating per member and track: rating again replaces the earlier value.
CREATE TABLE ratings (
    guild_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    track_id INTEGER NOT NULL,
    value    INTEGER NOT NULL CHECK (value IN (-1, 1)),
    rated_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id, track_id),
    FOREIGN KEY (guild_id, track_id) REFERENCES tracks (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX ratings_by_track ON ratings (guild_id, track_id);

-- Per-member state. last_track_id is the track the member last analyzed or was recommended.
CREATE TABLE members (
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    last_track_id INTEGER,
    updated_at    REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id),
    FOREIGN KEY (guild_id, last_track_id) REFERENCES tracks (guild_id, id)
) WITHOUT ROWID;

CREATE INDEX members_by_last_track ON members (guild_id, last_track_id)
    WHERE last_track_id IS NOT NULL;

-- "ON DELETE SET NULL" on a composite key would null guild_id too (a NOT NULL, primary-key
-- column), so deleting a track clears members.last_track_id with a trigger instead. It runs
-- BEFORE the delete, so the foreign key above is satisfied when the track disappears.
CREATE TRIGGER tracks_clear_last_track BEFORE DELETE ON tracks
BEGIN
    UPDATE members SET last_track_id = NULL
     WHERE guild_id = OLD.guild_id AND last_track_id = OLD.id;
END;
