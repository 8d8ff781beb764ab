-- Crate schema, version 6 (PostgreSQL twin of ../../0006_corrections.sql, branch `server-learn`):
-- what a server's members taught Crate about its tracks' genres.

CREATE TABLE corrections (
    guild_id     BIGINT           NOT NULL,
    track_id     BIGINT           NOT NULL,
    user_id      BIGINT           NOT NULL,
    genre        TEXT             NOT NULL CHECK (length(genre) BETWEEN 1 AND 40),
    corrected_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, track_id, user_id),
    FOREIGN KEY (guild_id, track_id) REFERENCES tracks (guild_id, id) ON DELETE CASCADE
);

CREATE INDEX corrections_by_user ON corrections (guild_id, user_id);

CREATE TABLE relabels (
    guild_id BIGINT PRIMARY KEY,
    version  BIGINT NOT NULL
);
