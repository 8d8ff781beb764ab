-- Crate schema, version 10: the controls of a session in voice.
--
-- A server's voice volume (/session volume, 0-200 %) belongs to the server, not to one session:
-- Discord allows one voice connection per server, and a new session there plays at the level the
-- last one was left at. It is remembered in the server's settings row (NULL: Crate's default).
--
-- Votes on controls that affect everyone (pause, resume, shuffle, removing someone else's
-- track) are rows, as skip votes are: ``action`` names the control, ``target`` what it acts on
-- (the entry for pause, resume and remove; 0 for shuffle).

ALTER TABLE guild_settings ADD COLUMN voice_volume INTEGER
    CHECK (voice_volume IS NULL OR voice_volume BETWEEN 0 AND 200);

CREATE TABLE session_votes (
    guild_id   INTEGER NOT NULL,
    session_id INTEGER NOT NULL,
    action     TEXT    NOT NULL,
    target     INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    voted_at   REAL    NOT NULL,
    PRIMARY KEY (guild_id, session_id, action, target, user_id),
    FOREIGN KEY (guild_id, session_id) REFERENCES sessions (guild_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
