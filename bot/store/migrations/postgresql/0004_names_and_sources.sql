-- Crate schema, version 4: members' display names, and where each attachment was shared
-- (PostgreSQL twin of ../0004_names_and_sources.sql).

ALTER TABLE members ADD COLUMN display_name TEXT;

ALTER TABLE tracks ADD COLUMN source_channel_id BIGINT;

ALTER TABLE tracks ADD COLUMN source_message_id BIGINT;
