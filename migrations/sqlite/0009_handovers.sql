-- Handovers (docs/database.md, "handovers"): a staff member hands a busy chat to a named colleague
-- on duty (`to_jid`) or back to the front of the queue (`to_jid` NULL; `taken_by` is who took it
-- there). Open while `ended_at` is NULL; the bot restores open handovers after a restart.
CREATE TABLE handovers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    from_jid   TEXT NOT NULL,
    to_jid     TEXT,
    taken_by   TEXT,
    note       TEXT,
    offered_at TEXT NOT NULL,
    ended_at   TEXT,
    outcome    TEXT CHECK (outcome IN ('done', 'expired', 'declined', 'closed')),
    CHECK ((ended_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX handovers_room ON handovers (room_id, id);
CREATE INDEX handovers_open ON handovers (room_id) WHERE ended_at IS NULL;
