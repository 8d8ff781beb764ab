-- Crate schema, version 7: saved playlists, and radio sessions.
--
-- A playlist belongs to one guild and has an owner (who may change it, as may members with
-- Manage Server: checked in bot/playlists.py). Names are unique per guild, ignoring case.
-- Entries point at catalog tracks with the composite (guild_id, track_id) key, so a playlist can
-- never hold another guild's track; a track removed from the catalog leaves every playlist.
-- A track is at most once in a playlist. added_by is NULL once that member used /forget.

CREATE TABLE playlists (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    owner_id   INTEGER NOT NULL,
    created_at REAL    NOT NULL,
    UNIQUE (guild_id, id)
);

CREATE UNIQUE INDEX playlists_by_name ON playlists (guild_id, lower(name));
CREATE INDEX playlists_by_owner ON playlists (guild_id, owner_id);

CREATE TABLE playlist_tracks (
    guild_id    INTEGER NOT NULL,
    playlist_id INTEGER NOT NULL,
    track_id    INTEGER NOT NULL,
    position    INTEGER NOT NULL CHECK (position >= 1),
    added_by    INTEGER,
    added_at    REAL    NOT NULL,
    PRIMARY KEY (guild_id, playlist_id, track_id),
    FOREIGN KEY (guild_id, playlist_id) REFERENCES playlists (guild_id, id) ON DELETE CASCADE,
    FOREIGN KEY (guild_id, track_id) REFERENCES tracks (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX playlist_tracks_by_track ON playlist_tracks (guild_id, track_id);
CREATE INDEX playlist_tracks_by_adder ON playlist_tracks (guild_id, added_by) WHERE added_by IS NOT NULL;

-- A radio session (the "Start radio" button, /session start seed:) keeps its seed track here;
-- Crate fills its queue with tracks that sound like the last one played (bot/recommend/radio.py).
-- A session without a row is an ordinary group session. Deleting the seed track (/forget) turns
-- the radio back into an ordinary session rather than leaving it pointing nowhere.
CREATE TABLE session_radio (
    guild_id      INTEGER NOT NULL,
    session_id    INTEGER NOT NULL,
    seed_track_id INTEGER NOT NULL,
    PRIMARY KEY (guild_id, session_id),
    FOREIGN KEY (guild_id, session_id) REFERENCES sessions (guild_id, id) ON DELETE CASCADE,
    FOREIGN KEY (guild_id, seed_track_id) REFERENCES tracks (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
