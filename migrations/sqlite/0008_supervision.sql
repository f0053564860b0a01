-- Supervision (SPEC §13, docs/protocol.md "Supervision"): one row per watch started, whisper and
-- request for help, who and when; a whisper's text is kept apart from the transcript in `notes`
-- (never in `messages`, never in the room's history), and erased with the transcript's bodies
-- after `transcripts.keep_days`.
CREATE TABLE supervision (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    kind    TEXT NOT NULL CHECK (kind IN ('watch', 'whisper', 'help')),
    jid     TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX supervision_at ON supervision (at);
CREATE INDEX supervision_room ON supervision (room_id, id);

CREATE TABLE notes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    jid     TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('whisper')),
    text    TEXT,
    at      TEXT NOT NULL
);
CREATE INDEX notes_room ON notes (room_id, id);
