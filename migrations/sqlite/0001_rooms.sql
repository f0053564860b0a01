-- helpim-bot schema for SQLite. Times are TEXT in UTC, 'YYYY-MM-DDTHH:MM:SS.sssZ', so that they
-- sort as text and SQLite's date functions read them.
CREATE TABLE rooms (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    jid               TEXT NOT NULL UNIQUE,
    password          TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('available', 'staffed', 'busy', 'closing', 'closed')),
    created_at        TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    staff_claimed_at  TEXT,
    staff_claim       TEXT,
    client_claimed_at TEXT,
    client_claim      TEXT,
    staff_nick        TEXT,
    client_nick       TEXT,
    staffed_at        TEXT,
    busy_at           TEXT,
    closed_at         TEXT,
    close_reason      TEXT,
    last_message_at   TEXT
);
CREATE INDEX rooms_status ON rooms (status, created_at);

CREATE TABLE room_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     INTEGER NOT NULL REFERENCES rooms (id),
    at          TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    nick        TEXT
);
CREATE INDEX room_events_room ON room_events (room_id, id);

CREATE TABLE messages (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    seq     INTEGER NOT NULL,
    at      TEXT NOT NULL,
    nick    TEXT NOT NULL,
    role    TEXT NOT NULL CHECK (role IN ('staff', 'client')),
    body    TEXT,
    UNIQUE (room_id, seq)
);
