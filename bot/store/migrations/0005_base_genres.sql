-- Crate schema, version 5 (STAND-IN: the `families` branch owns migration 0005; when it is merged,
-- its file replaces this one and bot/store/tracks.py reads its column instead).
--
-- The base model's genre distribution of each track, kept apart from the shown tracks.genres /
-- top_genre, which a server's own head (bot/listen/server_head.py) may rewrite from it.

ALTER TABLE tracks ADD COLUMN base_genres TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(base_genres));

UPDATE tracks SET base_genres = genres;
