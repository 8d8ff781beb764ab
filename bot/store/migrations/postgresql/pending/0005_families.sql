-- Crate schema, version 5 (PostgreSQL twin of ../../0005_families.sql, branch `families`):
-- genre families, how sure Crate is, and the second tagger's output.

ALTER TABLE tracks ADD COLUMN base_genres TEXT NOT NULL DEFAULT '[]' CHECK ((base_genres::json) IS NOT NULL);

ALTER TABLE tracks ADD COLUMN confident BIGINT NOT NULL DEFAULT 0 CHECK (confident IN (0, 1));

ALTER TABLE tracks ADD COLUMN mtt_tag_probs BYTEA CHECK (mtt_tag_probs IS NULL OR octet_length(mtt_tag_probs) = 200);

ALTER TABLE tracks ADD COLUMN mtt_embedding BYTEA CHECK (mtt_embedding IS NULL OR octet_length(mtt_embedding) = 800);

CREATE INDEX tracks_to_relabel ON tracks (guild_id, id) WHERE base_genres = '[]';
