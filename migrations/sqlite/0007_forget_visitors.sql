-- Privacy (docs/database.md, "What is kept of visitors"): a visitor's nick, topic and JID are
-- erased once their queue row has ended. The bot looks for such rows every poll interval; this
-- index holds only the rows that still carry something to erase (the open ones, and with
-- `privacy.keep_visitor_names` the ended ones too), so the look costs nothing in a long history.
CREATE INDEX queue_not_forgotten ON queue (status)
    WHERE nick <> '' OR topic IS NOT NULL OR jid IS NOT NULL;
