-- Crate schema, version 8: per-server settings (/settings).
--
-- One row per guild, written only when a server manager changes something. A NULL column means
-- "Crate's default" (from the environment, see .env.example), so changing a default in .env
-- reaches every server that never chose otherwise.

CREATE TABLE guild_settings (
    guild_id              INTEGER PRIMARY KEY,
    dj_role_id            INTEGER,
    voice_idle_timeout    REAL    CHECK (voice_idle_timeout IS NULL OR voice_idle_timeout >= 0),
    stay_in_voice         INTEGER CHECK (stay_in_voice IS NULL OR stay_in_voice IN (0, 1)),
    member_analysis_limit INTEGER CHECK (member_analysis_limit IS NULL OR member_analysis_limit >= 1),
    profiles_public       INTEGER CHECK (profiles_public IS NULL OR profiles_public IN (0, 1)),
    announce_channel_id   INTEGER,
    updated_at            REAL    NOT NULL
);
