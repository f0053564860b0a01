-- A role is bound to the person who took it: their real bare JID, as the bot (a moderator) saw
-- it when they joined. A rejoin within the grace must come from the same JID, or be vouched for
-- by a fresh claim (a visitor whose anonymous JID changed after a refresh).
ALTER TABLE rooms ADD COLUMN staff_jid TEXT;
ALTER TABLE rooms ADD COLUMN client_jid TEXT;
