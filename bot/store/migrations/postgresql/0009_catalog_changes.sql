-- Crate schema, version 9 (PostgreSQL twin of ../0009_catalog_changes.sql):
-- a change counter per server, kept by triggers in the changing transaction.

CREATE TABLE catalog_changes (
    guild_id BIGINT PRIMARY KEY,
    tracks   BIGINT NOT NULL DEFAULT 0,
    ratings  BIGINT NOT NULL DEFAULT 0
);

CREATE FUNCTION crate_count_track_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    guild BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN guild := OLD.guild_id; ELSE guild := NEW.guild_id; END IF;
    INSERT INTO catalog_changes AS c (guild_id, tracks) VALUES (guild, 1)
        ON CONFLICT (guild_id) DO UPDATE SET tracks = c.tracks + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION crate_count_rating_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    guild BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN guild := OLD.guild_id; ELSE guild := NEW.guild_id; END IF;
    INSERT INTO catalog_changes AS c (guild_id, ratings) VALUES (guild, 1)
        ON CONFLICT (guild_id) DO UPDATE SET ratings = c.ratings + 1;
    RETURN NULL;
END
$$;

-- One trigger per event, named as SQLite's (which has no multi-event triggers).
CREATE TRIGGER tracks_added AFTER INSERT ON tracks FOR EACH ROW EXECUTE FUNCTION crate_count_track_change();
CREATE TRIGGER tracks_changed AFTER UPDATE ON tracks FOR EACH ROW EXECUTE FUNCTION crate_count_track_change();
CREATE TRIGGER tracks_deleted AFTER DELETE ON tracks FOR EACH ROW EXECUTE FUNCTION crate_count_track_change();
CREATE TRIGGER ratings_added AFTER INSERT ON ratings FOR EACH ROW EXECUTE FUNCTION crate_count_rating_change();
CREATE TRIGGER ratings_changed AFTER UPDATE ON ratings FOR EACH ROW EXECUTE FUNCTION crate_count_rating_change();
CREATE TRIGGER ratings_deleted AFTER DELETE ON ratings FOR EACH ROW EXECUTE FUNCTION crate_count_rating_change();

-- The change counts replace the relabel versions of schema 6 (a relabel updates tracks).
DROP TABLE relabels;
