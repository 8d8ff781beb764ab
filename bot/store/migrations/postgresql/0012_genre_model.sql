-- Crate schema, version 12 (PostgreSQL twin of ../0012_genre_model.sql):
-- which family model answered each track ('' = unknown), relabelled at start-up when it changes.

ALTER TABLE tracks ADD COLUMN genre_model TEXT NOT NULL DEFAULT '';

DROP INDEX tracks_to_relabel;

CREATE INDEX tracks_by_genre_model ON tracks (genre_model);
