-- A visitor over XMPP whose session ended keeps their row (and place) for `queue.return_grace`:
-- `gone_at` says since when the session is gone; the same key asking again clears it, the bot's
-- sweep lets the row go (`left`, reason `offline`) once the grace has passed.
ALTER TABLE queue ADD COLUMN gone_at TIMESTAMPTZ;

-- One person, one place: a visitor session (full JID) holds at most one open row, as a label
-- does. Rows of an earlier version that break the rule keep only the oldest open one.
UPDATE queue SET status = 'left', reason = 'duplicate', status_changed_at = now()
WHERE jid IS NOT NULL AND status IN ('waiting', 'assigned')
  AND id > (SELECT MIN(o.id) FROM queue o
            WHERE o.jid = queue.jid AND o.status IN ('waiting', 'assigned'));
CREATE UNIQUE INDEX queue_open_jid ON queue (jid)
    WHERE jid IS NOT NULL AND status IN ('waiting', 'assigned');
