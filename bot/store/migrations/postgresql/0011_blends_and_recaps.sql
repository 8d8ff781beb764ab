-- Crate schema, version 11 (PostgreSQL twin of ../0011_blends_and_recaps.sql):
-- Blend playlists, and the monthly recap.

CREATE TABLE blends (
    guild_id          BIGINT           NOT NULL,
    playlist_id       BIGINT           NOT NULL,
    refreshed_at      DOUBLE PRECISION NOT NULL,
    together_track_id BIGINT,
    taste_match       DOUBLE PRECISION CHECK (taste_match IS NULL OR taste_match BETWEEN 0 AND 1),
    PRIMARY KEY (guild_id, playlist_id),
    FOREIGN KEY (guild_id, playlist_id) REFERENCES playlists (guild_id, id) ON DELETE CASCADE
);

CREATE INDEX blends_by_refresh ON blends (refreshed_at);

CREATE TABLE blend_members (
    guild_id    BIGINT           NOT NULL,
    playlist_id BIGINT           NOT NULL,
    user_id     BIGINT           NOT NULL,
    joined_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, playlist_id, user_id),
    FOREIGN KEY (guild_id, playlist_id) REFERENCES blends (guild_id, playlist_id) ON DELETE CASCADE
);

CREATE INDEX blend_members_by_user ON blend_members (guild_id, user_id);

CREATE TABLE blend_tracks (
    guild_id    BIGINT NOT NULL,
    playlist_id BIGINT NOT NULL,
    track_id    BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    PRIMARY KEY (guild_id, playlist_id, track_id, user_id),
    FOREIGN KEY (guild_id, playlist_id, track_id)
        REFERENCES playlist_tracks (guild_id, playlist_id, track_id) ON DELETE CASCADE,
    FOREIGN KEY (guild_id, playlist_id, user_id)
        REFERENCES blend_members (guild_id, playlist_id, user_id) ON DELETE CASCADE
);

ALTER TABLE guild_settings ADD COLUMN recap_monthly BIGINT
    CHECK (recap_monthly IS NULL OR recap_monthly IN (0, 1));

CREATE TABLE recap_posts (
    guild_id   BIGINT           NOT NULL,
    period     TEXT             NOT NULL,
    posted_at  DOUBLE PRECISION NOT NULL,
    channel_id BIGINT,
    PRIMARY KEY (guild_id, period)
);
