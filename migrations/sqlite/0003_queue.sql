-- The waiting queue: visitors who asked for a chat while no staff member was free. One row per
-- request; a visitor label has at most one open (waiting or assigned) row. The label is the web
-- application's visitor id, or a hash of the key the visitor's page keeps (never the key).
CREATE TABLE queue (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor           TEXT NOT NULL,
    jid               TEXT,
    nick              TEXT NOT NULL,
    topic             TEXT,
    enqueued_at       TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('waiting', 'assigned', 'served', 'left', 'expired', 'missed')),
    status_changed_at TEXT NOT NULL,
    room_id           INTEGER REFERENCES rooms (id),
    reason            TEXT
);
CREATE UNIQUE INDEX queue_open_visitor ON queue (visitor) WHERE status IN ('waiting', 'assigned');
CREATE INDEX queue_by_status ON queue (status, enqueued_at, id);
CREATE INDEX queue_by_room ON queue (room_id);

-- Visitor labels that may not ask for a chat (until `until`, or for good when it is NULL).
CREATE TABLE blocked (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor TEXT NOT NULL,
    at      TEXT NOT NULL,
    until   TEXT,
    reason  TEXT,
    by      TEXT
);
CREATE INDEX blocked_visitor ON blocked (visitor);
