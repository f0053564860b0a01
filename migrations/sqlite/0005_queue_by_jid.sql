-- A visitor over XMPP is found by their full JID when their session ends or they leave.
CREATE INDEX queue_by_jid ON queue (jid) WHERE jid IS NOT NULL;
