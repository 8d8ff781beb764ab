-- Crate schema, version 8 (PostgreSQL twin of ../../0008_settings.sql, branch `social-b`):
-- per-server settings (/settings).

CREATE TABLE guild_settings (
    guild_id              BIGINT PRIMARY KEY,
    dj_role_id            BIGINT,
    voice_idle_timeout    DOUBLE PRECISION CHECK (voice_idle_timeout IS NULL OR voice_idle_timeout >= 0),
    stay_in_voice         BIGINT CHECK (stay_in_voice IS NULL OR stay_in_voice IN (0, 1)),
    member_analysis_limit BIGINT CHECK (member_analysis_limit IS NULL OR member_analysis_limit >= 1),
    profiles_public       BIGINT CHECK (profiles_public IS NULL OR profiles_public IN (0, 1)),
    announce_channel_id   BIGINT,
    updated_at            DOUBLE PRECISION NOT NULL
);
