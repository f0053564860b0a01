-- A visitor over XMPP is found by their full JID when their session ends or they leave.
CREATE INDEX queue_by_jid ON queue (jid) WHERE jid IS NOT NULL;

-- Every change of a queue row, whoever makes it (the bot or the web application), is announced
-- on the channel `helpim_queue` (docs/database.md).
CREATE FUNCTION helpim_queue_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('helpim_queue', json_build_object(
        'id', NEW.id, 'status', NEW.status, 'reason', NEW.reason,
        'room_id', NEW.room_id, 'at', NEW.status_changed_at)::text);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER queue_inserted AFTER INSERT ON queue
    FOR EACH ROW EXECUTE FUNCTION helpim_queue_notify();
CREATE TRIGGER queue_changed AFTER UPDATE ON queue
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.room_id IS DISTINCT FROM NEW.room_id)
    EXECUTE FUNCTION helpim_queue_notify();
