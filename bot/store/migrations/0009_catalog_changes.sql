-- Crate schema, version 9: a change counter per server.
--
-- The recommender keeps each server's decoded catalog and rating arrays in memory and must know,
-- at every request, whether they are still current, whichever process changed them (another
-- shard, `crate index`). Triggers count every change to a server's tracks and ratings, in the
-- same transaction as the change, so one primary-key lookup answers: no count(*) over 100,000
-- rows per request. The counts are bookkeeping: `crate migrate-db` does not copy them (the
-- target's triggers count the rows it copies).

CREATE TABLE catalog_changes (
    guild_id INTEGER PRIMARY KEY,
    tracks   INTEGER NOT NULL DEFAULT 0,  -- tracks added, changed (relabelled, renamed) or deleted
    ratings  INTEGER NOT NULL DEFAULT 0   -- ratings given, changed or withdrawn
);

CREATE TRIGGER tracks_added AFTER INSERT ON tracks BEGIN
    INSERT INTO catalog_changes (guild_id, tracks) VALUES (NEW.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET tracks = tracks + 1;
END;

CREATE TRIGGER tracks_changed AFTER UPDATE ON tracks BEGIN
    INSERT INTO catalog_changes (guild_id, tracks) VALUES (NEW.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET tracks = tracks + 1;
END;

CREATE TRIGGER tracks_deleted AFTER DELETE ON tracks BEGIN
    INSERT INTO catalog_changes (guild_id, tracks) VALUES (OLD.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET tracks = tracks + 1;
END;

CREATE TRIGGER ratings_added AFTER INSERT ON ratings BEGIN
    INSERT INTO catalog_changes (guild_id, ratings) VALUES (NEW.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET ratings = ratings + 1;
END;

CREATE TRIGGER ratings_changed AFTER UPDATE ON ratings BEGIN
    INSERT INTO catalog_changes (guild_id, ratings) VALUES (NEW.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET ratings = ratings + 1;
END;

CREATE TRIGGER ratings_deleted AFTER DELETE ON ratings BEGIN
    INSERT INTO catalog_changes (guild_id, ratings) VALUES (OLD.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET ratings = ratings + 1;
END;

-- The change counts replace the relabel versions of schema 6 (a relabel updates tracks).
DROP TABLE relabels;
