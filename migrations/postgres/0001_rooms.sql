-- helpim-bot schema for PostgreSQL.
CREATE TABLE rooms (
    id                BIGSERIAL PRIMARY KEY,
    jid               TEXT NOT NULL UNIQUE,
    password          TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('available', 'staffed', 'busy', 'closing', 'closed')),
    created_at        TIMESTAMPTZ NOT NULL,
    status_changed_at TIMESTAMPTZ NOT NULL,
    staff_claimed_at  TIMESTAMPTZ,
    staff_claim       TEXT,
    client_claimed_at TIMESTAMPTZ,
    client_claim      TEXT,
    staff_nick        TEXT,
    client_nick       TEXT,
    staffed_at        TIMESTAMPTZ,
    busy_at           TIMESTAMPTZ,
    closed_at         TIMESTAMPTZ,
    close_reason      TEXT,
    last_message_at   TIMESTAMPTZ
);
CREATE INDEX rooms_status ON rooms (status, created_at);

CREATE TABLE room_events (
    id          BIGSERIAL PRIMARY KEY,
    room_id     BIGINT NOT NULL REFERENCES rooms (id),
    at          TIMESTAMPTZ NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    nick        TEXT
);
CREATE INDEX room_events_room ON room_events (room_id, id);

CREATE TABLE messages (
    id      BIGSERIAL PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    seq     BIGINT NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    nick    TEXT NOT NULL,
    role    TEXT NOT NULL CHECK (role IN ('staff', 'client')),
    body    TEXT,
    UNIQUE (room_id, seq)
);
