-- Crate schema, version 10 (PostgreSQL twin of ../0010_voice_controls.sql):
-- a server's voice volume, and votes on a session's controls.

ALTER TABLE guild_settings ADD COLUMN voice_volume BIGINT
    CHECK (voice_volume IS NULL OR voice_volume BETWEEN 0 AND 200);

CREATE TABLE session_votes (
    guild_id   BIGINT           NOT NULL,
    session_id BIGINT           NOT NULL,
    action     TEXT             NOT NULL,
    target     BIGINT           NOT NULL,
    user_id    BIGINT           NOT NULL,
    voted_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, session_id, action, target, user_id),
    FOREIGN KEY (guild_id, session_id) REFERENCES sessions (guild_id, id) ON DELETE CASCADE
);
