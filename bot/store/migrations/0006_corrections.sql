-- Crate schema, version 6: what a server's members taught Crate about its tracks' genres.
--
-- One row per member and track: correcting a track again replaces that member's earlier answer.
-- genre is a family id (rock, metal, ..., see bot/listen/families.py) or a genre the server named
-- itself ("vaporwave", "city pop"), stored as the member typed it, trimmed (bot/teach.py checks
-- the name before it gets here). The composite foreign key keeps a correction inside its guild:
-- no server ever reads or teaches with another's. /forget deletes a member's rows; deleting a
-- track deletes the corrections of it.

CREATE TABLE corrections (
    guild_id     INTEGER NOT NULL,
    track_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    genre        TEXT    NOT NULL CHECK (length(genre) BETWEEN 1 AND 40),
    corrected_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, track_id, user_id),
    FOREIGN KEY (guild_id, track_id) REFERENCES tracks (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX corrections_by_user ON corrections (guild_id, user_id);

-- How many times each guild's tracks were relabelled by its head: part of the catalog's
-- fingerprint (bot/store/tracks.py), so cached catalogs notice rewritten genres.
CREATE TABLE relabels (
    guild_id INTEGER PRIMARY KEY,
    version  INTEGER NOT NULL
) WITHOUT ROWID;
