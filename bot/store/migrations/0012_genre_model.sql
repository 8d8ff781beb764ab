-- Crate schema, version 12: which family model answered each track.
--
-- tracks.genre_model names the family model whose answer base_genres holds (FamilyModel.version,
-- "families:<digest of its arrays and threshold>"); '' when unknown: analyzed before this version,
-- before genre families at all (base_genres = '[]'), or by a custom `crate train` model. At start-up
-- Crate relabels every track whose genre_model is not the loaded model's from its stored tagger
-- outputs, no audio decoded (bot/listen/relabel.py), so a new model reaches the whole catalog and
-- a second start finds nothing to do. That replaces the relabel of tracks from before schema 5,
-- and its index.

ALTER TABLE tracks ADD COLUMN genre_model TEXT NOT NULL DEFAULT '';

DROP INDEX tracks_to_relabel;

-- "Is any track answered by another model?" at every start, read from this index alone.
CREATE INDEX tracks_by_genre_model ON tracks (genre_model);
