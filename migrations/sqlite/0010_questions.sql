-- Before and after the chat (SPEC §14, docs/database.md "Questions, registrations, feedback").
-- A waiting visitor's priority (0, or 1 when an answer of theirs matched a priority rule) orders
-- the queue ahead of arrival; `priority_reason` says why in staff's words and is erased with the
-- row's nick and topic. Rows the web application inserts keep the default 0.
ALTER TABLE queue ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN priority_reason TEXT;
DROP INDEX queue_by_status;
CREATE INDEX queue_by_status ON queue (status, priority DESC, enqueued_at, id);

-- The answers to the questions before the chat, one row per answered question. Rows not `kept`
-- (free text, and choices the help line does not mark for statistics) are deleted when the
-- queue row ends, with its nick and topic; `kept` ones (choice answers marked `statistics`)
-- stay for the reports and name no one.
CREATE TABLE queue_answers (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL REFERENCES queue (id),
    question TEXT NOT NULL,
    answer   TEXT NOT NULL,
    kept     INTEGER NOT NULL DEFAULT 0 CHECK (kept IN (0, 1))
);
CREATE INDEX queue_answers_queue ON queue_answers (queue_id);
CREATE INDEX queue_answers_unkept ON queue_answers (queue_id) WHERE kept = 0;

-- The staff member's registration of a chat after it ended (`register-chat`): one per chat.
CREATE TABLE registrations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER NOT NULL UNIQUE REFERENCES rooms (id),
    staff      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX registrations_at ON registrations (created_at);
-- Its answers, one row per question; free text (`kept` 0) is erased with the transcript's
-- bodies after `transcripts.keep_days` (answer set to NULL).
CREATE TABLE registration_answers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    registration_id INTEGER NOT NULL REFERENCES registrations (id),
    question        TEXT NOT NULL,
    answer          TEXT,
    kept            INTEGER NOT NULL DEFAULT 1 CHECK (kept IN (0, 1))
);
CREATE INDEX registration_answers_registration ON registration_answers (registration_id);

-- The visitor's feedback after the chat (`feedback`): by room, never by visitor; one answer per
-- question per chat.
CREATE TABLE feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (room_id, question)
);
CREATE INDEX feedback_at ON feedback (created_at);
