-- Crate schema, version 3: reserved for the "house" branch's migration 0003.
--
-- Placeholder so that 0004 applies (migrations are numbered without gaps). When the house branch
-- is merged, its 0003 replaces this file.
SELECT 1;
