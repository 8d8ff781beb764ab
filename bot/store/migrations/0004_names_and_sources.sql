-- Crate schema, version 4: members' display names, and where each attachment was shared.
--
-- Without the privileged GUILD_MEMBERS intent Discord does not tell the bot who is in a server:
-- names arrive only with each member's interactions, so Crate remembers the latest one (per
-- guild, since nicknames are per server). It lives in the members row, which /forget deletes.
--
-- Discord attachment links expire after about a day. A track shared as an attachment keeps the
-- channel and message it was shared in (NULL when Discord gave no message, e.g. a slash-command
-- upload), so its link can be refreshed before Crate downloads or re-shares it.

ALTER TABLE members ADD COLUMN display_name TEXT;

ALTER TABLE tracks ADD COLUMN source_channel_id INTEGER;

ALTER TABLE tracks ADD COLUMN source_message_id INTEGER;
