-- Crate schema, version 5: genre families, how sure Crate is, and the second tagger's output.
--
-- tracks.genres / tracks.top_genre stay the answer Crate shows: from version 5 a distribution over
-- the 14 families (bot/genres.py), most probable first; a server that teaches Crate its own genres
-- may blend its corrections into it and add custom genre names. base_genres keeps the family
-- model's own distribution beside it, so the shown answer can be recomputed (for instance when a
-- server's corrections change) without decoding the audio again. confident (0/1) says whether the
-- shown top genre is sure enough to be stated; when not, Crate says "not sure — A or B?".
--
-- mtt_tag_probs (50 float32, 200 bytes) and mtt_embedding (200 float32, 800 bytes) are
-- MTT_musicnn's output. They are NULL for tracks analyzed before version 5: those were labelled
-- with GTZAN's ten genres, and Crate relabels them with the family model from their stored MSD tags
-- at start-up (bot/listen/relabel.py); base_genres = '[]' marks a track not relabelled yet.

ALTER TABLE tracks ADD COLUMN base_genres TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(base_genres));

ALTER TABLE tracks ADD COLUMN confident INTEGER NOT NULL DEFAULT 0 CHECK (confident IN (0, 1));

ALTER TABLE tracks ADD COLUMN mtt_tag_probs BLOB CHECK (mtt_tag_probs IS NULL OR length(mtt_tag_probs) = 200);

ALTER TABLE tracks ADD COLUMN mtt_embedding BLOB CHECK (mtt_embedding IS NULL OR length(mtt_embedding) = 800);

CREATE INDEX tracks_to_relabel ON tracks (guild_id, id) WHERE base_genres = '[]';
