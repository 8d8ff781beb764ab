-- Crate schema, version 3: Crate's picks are marked as such (PostgreSQL twin of ../0003_crate_picks.sql).

ALTER TABLE session_queue ADD COLUMN picked_by_crate BIGINT NOT NULL DEFAULT 0 CHECK (picked_by_crate IN (0, 1));
UPDATE session_queue SET picked_by_crate = 1 WHERE added_by IS NULL;
