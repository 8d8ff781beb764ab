-- Crate schema, version 3: Crate's picks are marked as such.
--
-- Until now a queue entry with added_by = NULL meant "Crate picked it for the group", and /forget
-- set added_by to NULL on a member's entries, so their tracks turned into Crate's picks. Now
-- picked_by_crate says who chose an entry, and a forgotten member's entry is simply unattributed.
-- Existing NULL rows cannot be told apart; they are taken as Crate's picks, as they were shown.

ALTER TABLE session_queue ADD COLUMN picked_by_crate INTEGER NOT NULL DEFAULT 0 CHECK (picked_by_crate IN (0, 1));
UPDATE session_queue SET picked_by_crate = 1 WHERE added_by IS NULL;
