//! Every SQL statement the bot and the CLI run, each with its SQLite and its PostgreSQL text side
//! by side ([`Sql`]). Most read the same in both; where they differ it shows here: the claims use
//! the database's own clock, SQLite compares stored times as times (`julianday`), and on
//! PostgreSQL a status change is one statement that also announces itself (`NOTIFY`).
//!
//! Parameters are `$1`, `$2`, …, which both drivers understand. Times are `TIMESTAMPTZ` on
//! PostgreSQL and ISO-8601 UTC text on SQLite. `docs/database.md` shows the statements of the web
//! application's contract verbatim; a test checks that it does.

use std::sync::LazyLock;

use crate::core::types::Status;

/// One statement in both dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sql {
    /// The SQLite text.
    pub sqlite: &'static str,
    /// The PostgreSQL text.
    pub postgres: &'static str,
}

/// A statement that reads the same in both dialects.
const fn both(text: &'static str) -> Sql {
    Sql {
        sqlite: text,
        postgres: text,
    }
}

// ---------------------------------------------------------------------------------------------
// The web application's contract (docs/database.md)

/// Staff claim on PostgreSQL: one `available`, unclaimed room, oldest first; `SKIP LOCKED` lets
/// concurrent claims pass each other instead of taking the same row.
pub const CLAIM_STAFF_POSTGRES: &str = "UPDATE rooms SET staff_claimed_at = now(), staff_claim = $1
WHERE id = (SELECT id FROM rooms
            WHERE status = 'available' AND staff_claimed_at IS NULL
            ORDER BY created_at, id LIMIT 1
            FOR UPDATE SKIP LOCKED)
  AND status = 'available' AND staff_claimed_at IS NULL
RETURNING id, jid, password";

/// Staff claim on SQLite: SQLite runs one writer at a time, so the single statement is atomic.
pub const CLAIM_STAFF_SQLITE: &str =
    "UPDATE rooms SET staff_claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), staff_claim = $1
WHERE id = (SELECT id FROM rooms
            WHERE status = 'available' AND staff_claimed_at IS NULL
            ORDER BY created_at, id LIMIT 1)
RETURNING id, jid, password";

/// Client claim on PostgreSQL: the `staffed` room without a client claim whose staff member has
/// waited longest.
pub const CLAIM_CLIENT_POSTGRES: &str =
    "UPDATE rooms SET client_claimed_at = now(), client_claim = $1
WHERE id = (SELECT id FROM rooms
            WHERE status = 'staffed' AND client_claimed_at IS NULL
            ORDER BY staffed_at, id LIMIT 1
            FOR UPDATE SKIP LOCKED)
  AND status = 'staffed' AND client_claimed_at IS NULL
RETURNING id, jid, password";

/// Client claim on SQLite.
pub const CLAIM_CLIENT_SQLITE: &str =
    "UPDATE rooms SET client_claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), client_claim = $1
WHERE id = (SELECT id FROM rooms
            WHERE status = 'staffed' AND client_claimed_at IS NULL
            ORDER BY staffed_at, id LIMIT 1)
RETURNING id, jid, password";

/// Claim an `available` room for a staff member: `$1` the label → `id, jid, password`.
pub const CLAIM_STAFF: Sql = Sql {
    sqlite: CLAIM_STAFF_SQLITE,
    postgres: CLAIM_STAFF_POSTGRES,
};

/// Claim the longest-waiting `staffed` room for a client: `$1` the label → `id, jid, password`.
pub const CLAIM_CLIENT: Sql = Sql {
    sqlite: CLAIM_CLIENT_SQLITE,
    postgres: CLAIM_CLIENT_POSTGRES,
};

/// Re-claim on PostgreSQL: the client of a chat in progress comes back with a new JID (an
/// anonymous visitor after a refresh); `$1` the room's JID, `$2` the label of the first claim.
pub const RECLAIM_CLIENT_POSTGRES: &str = "UPDATE rooms SET client_claimed_at = now()
WHERE jid = $1 AND client_claim = $2 AND status IN ('busy', 'closing')
RETURNING id, jid, password";

/// Re-claim on SQLite.
pub const RECLAIM_CLIENT_SQLITE: &str =
    "UPDATE rooms SET client_claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE jid = $1 AND client_claim = $2 AND status IN ('busy', 'closing')
RETURNING id, jid, password";

/// Re-claim a chat's client seat for the same visitor: `$1` jid, `$2` label → `id, jid, password`.
pub const RECLAIM_CLIENT: Sql = Sql {
    sqlite: RECLAIM_CLIENT_SQLITE,
    postgres: RECLAIM_CLIENT_POSTGRES,
};

/// A room's transcript after position `$2` (both databases; `$1` is `rooms.id`).
pub const TRANSCRIPT_AFTER: &str =
    "SELECT seq, at, nick, role, body FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq";

/// Reading one room's status (both databases).
pub const ROOM_STATUS: &str = "SELECT status, status_changed_at FROM rooms WHERE jid = $1";

/// The channel on which PostgreSQL announces every status change.
pub const NOTIFY_CHANNEL: &str = "helpim_rooms";

// ---------------------------------------------------------------------------------------------
// Rooms and their history

/// The announcement of a status change (PostgreSQL) as a select-list item over a changed row
/// `r` of `rooms`: the one place its payload is built. The arguments are SQL expressions for the
/// time, the status before, the reason and the nick.
fn notify(at: &str, from: &str, reason: &str, nick: &str) -> String {
    format!(
        "pg_notify('{NOTIFY_CHANNEL}', json_build_object(
    'room_id', r.id, 'jid', r.jid, 'status', r.status, 'from', {from}::text, 'reason', {reason}::text,
    'nick', {nick}::text, 'at', {at}::timestamptz)::text)"
    )
}

/// A newly created, configured room, then its creation event, in one transaction: `$1` jid, `$2`
/// password, `$3` the time. A retried write adds nothing; on PostgreSQL a new room is announced.
pub static INSERT_ROOM: LazyLock<[Sql; 2]> = LazyLock::new(|| {
    let event = "INSERT INTO room_events (room_id, at, from_status, to_status, reason, nick)
SELECT id, $3, NULL, 'available', 'created', NULL FROM rooms WHERE jid = $1
  AND NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = rooms.id AND e.to_status = 'available')";
    [
        both(
            "INSERT INTO rooms (jid, password, status, created_at, status_changed_at)
VALUES ($1, $2, 'available', $3, $3) ON CONFLICT (jid) DO NOTHING",
        ),
        Sql {
            sqlite: event,
            postgres: leak(format!(
                "WITH ev AS ({event}\n  RETURNING room_id)\nSELECT {} FROM rooms r JOIN ev ON ev.room_id = r.id",
                notify("$3", "NULL", "'created'", "NULL")
            )),
        },
    ]
});

/// The update of `rooms` for a status change to `to`: `$1` jid, `$2` time, `$3` the nick for
/// `staffed` and `busy`, the reason for `closed`, the status itself otherwise; `$8` the real JID
/// a role is bound to (`staffed`, and `busy` when the client's JID is new).
fn update_status(to: Status) -> &'static str {
    match to {
        Status::Staffed => {
            "UPDATE rooms SET status = 'staffed', status_changed_at = $2, staff_nick = $3, staffed_at = $2, staff_jid = $8 WHERE jid = $1"
        }
        // The client joining, or one of the two coming back: `$8` (a JID a fresh claim vouched
        // for) goes to the seat whose nick is `$3`. A handover (`$6`) gives the staff seat to the
        // colleague: nick `$3`, JID `$8`.
        Status::Busy => {
            "UPDATE rooms SET status = 'busy', status_changed_at = $2, client_nick = COALESCE(client_nick, $3), busy_at = COALESCE(busy_at, $2),
  client_jid = CASE WHEN $6 = 'handover' THEN client_jid WHEN client_nick IS NULL OR client_nick = $3 THEN COALESCE($8, client_jid) ELSE client_jid END,
  staff_jid = CASE WHEN $6 = 'handover' THEN $8 WHEN client_nick IS NOT NULL AND client_nick <> $3 AND staff_nick = $3 THEN COALESCE($8, staff_jid) ELSE staff_jid END,
  staff_nick = CASE WHEN $6 = 'handover' THEN $3 ELSE staff_nick END
WHERE jid = $1"
        }
        Status::Closed => {
            "UPDATE rooms SET status = 'closed', status_changed_at = $2, closed_at = $2, close_reason = $3 WHERE jid = $1"
        }
        Status::Available | Status::Closing => {
            "UPDATE rooms SET status = $3, status_changed_at = $2 WHERE jid = $1"
        }
    }
}

/// The history row of a status change; a retried write that already landed adds none.
/// `$1` jid, `$2` time, `$4` from, `$5` to, `$6` reason, `$7` nick.
const INSERT_EVENT: &str = "INSERT INTO room_events (room_id, at, from_status, to_status, reason, nick)
SELECT id, $2, $4, $5, $6, $7 FROM rooms WHERE jid = $1
  AND NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = rooms.id AND e.at = $2 AND e.to_status = $5)";

/// A status change: the text to run in one transaction, the same parameters for each of its
/// statements (`$1` jid, `$2` time, `$3` as in [`update_status`], `$4` from, `$5` to, `$6`
/// reason, `$7` nick, `$8` the role's JID). SQLite: the update, then the history row (and the queue row),
/// as one text of several statements — one trip to the connection's worker thread instead of
/// one each, which is most of what a write costs there. PostgreSQL: one statement (one round
/// trip) with the update, the history row and, only when that row is new, the announcement.
pub fn transition(to: Status) -> (&'static str, &'static str) {
    static SQL: LazyLock<[(&'static str, &'static str); 4]> = LazyLock::new(|| {
        [Status::Staffed, Status::Busy, Status::Closed, Status::Closing].map(|status| {
            let update = update_status(status);
            let (queue_sqlite, queue_postgres) = queue_follows(status);
            let postgres = leak(format!(
                "WITH up AS ({} RETURNING id, jid, status),
ev AS (INSERT INTO room_events (room_id, at, from_status, to_status, reason, nick)
  SELECT id, $2, $4::text, $5::text, $6::text, $7::text FROM up
  WHERE NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = up.id AND e.at = $2 AND e.to_status = $5::text)
  RETURNING room_id)
{queue_postgres}
SELECT {} FROM up r JOIN ev ON ev.room_id = r.id",
                update.replace("$8", "$8::text"),
                notify("$2", "$4", "$6", "$7")
            ));
            let sqlite: Vec<&str> = [update, INSERT_EVENT].into_iter().chain(queue_sqlite).collect();
            (leak(sqlite.join(";\n")), postgres)
        })
    });
    let (sqlite, postgres) = SQL[match to {
        Status::Staffed => 0,
        Status::Busy => 1,
        Status::Closed => 2,
        Status::Available | Status::Closing => 3,
    }];
    (sqlite, postgres)
}

/// What a status change means for the queue row of the visitor the room was assigned to, as a
/// SQLite statement and as a PostgreSQL CTE (joined to the update `up`; it starts with a comma):
/// the client joined (`busy` after `client_joined`): `served`; the room closed before they came:
/// back to `waiting`, with their place. Other changes touch no queue row.
fn queue_follows(to: Status) -> (Option<&'static str>, &'static str) {
    match to {
        Status::Busy => (
            Some("UPDATE queue SET status = 'served', status_changed_at = $2
WHERE status = 'assigned' AND $6 = 'client_joined' AND room_id = (SELECT id FROM rooms WHERE jid = $1)"),
            ",
sv AS (UPDATE queue SET status = 'served', status_changed_at = $2 FROM up
  WHERE queue.room_id = up.id AND queue.status = 'assigned' AND $6::text = 'client_joined'
  RETURNING queue.id)",
        ),
        Status::Closed => (
            Some("UPDATE queue SET status = 'waiting', room_id = NULL, status_changed_at = $2
WHERE status = 'assigned' AND room_id = (SELECT id FROM rooms WHERE jid = $1)"),
            ",
rq AS (UPDATE queue SET status = 'waiting', room_id = NULL, status_changed_at = $2 FROM up
  WHERE queue.room_id = up.id AND queue.status = 'assigned'
  RETURNING queue.id)",
        ),
        Status::Available | Status::Staffed | Status::Closing => (None, ""),
    }
}

/// The visitor assigned to room `$1` (its JID) did not join in time: `missed` (the room's
/// client claim expired and its password changed).
pub const MISSED: Sql = Sql {
    sqlite: "UPDATE queue SET status = 'missed', reason = 'claim_timeout',
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE status = 'assigned' AND room_id = (SELECT id FROM rooms WHERE jid = $1)",
    postgres:
        "UPDATE queue SET status = 'missed', reason = 'claim_timeout', status_changed_at = now()
WHERE status = 'assigned' AND room_id = (SELECT id FROM rooms WHERE jid = $1)",
};

/// Every room (`WHERE …` and `ORDER BY` appended by the caller).
pub const SELECT_ROOMS: &str =
    "SELECT id, jid, password, status, created_at, status_changed_at, staff_claim, client_claim,
       staff_nick, client_nick, closed_at, close_reason, last_message_at, staff_jid, client_jid,
       staff_claimed_at, client_claimed_at FROM rooms";

// ---------------------------------------------------------------------------------------------
// Handovers (docs/database.md, "handovers")

/// A handover begins: `$1` room JID, `$2` from (bare JID), `$3` to (bare JID, NULL for the
/// queue), `$4` note, `$5` when. A retried write adds no second row.
pub const HANDOVER_OFFERED: Sql = both(
    "INSERT INTO handovers (room_id, from_jid, to_jid, note, offered_at)
SELECT id, $2, $3, $4, $5 FROM rooms WHERE jid = $1
  AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.room_id = rooms.id AND h.offered_at = $5)",
);

/// The open handover to the queue of room `$1` was taken by `$2` (bare JID).
pub const HANDOVER_TAKEN: Sql = both(
    "UPDATE handovers SET taken_by = $2
WHERE ended_at IS NULL AND room_id = (SELECT id FROM rooms WHERE jid = $1)",
);

/// The open handover of room `$1` ended at `$2` with outcome `$3`.
pub const HANDOVER_ENDED: Sql = both(
    "UPDATE handovers SET ended_at = $2, outcome = $3
WHERE ended_at IS NULL AND room_id = (SELECT id FROM rooms WHERE jid = $1)",
);

/// The topic of the visitor of room `$1`: their queue row's (assigned, or served in it).
pub const VISITOR_TOPIC: Sql = both(
    "SELECT q.topic FROM queue q JOIN rooms r ON r.id = q.room_id
WHERE r.jid = $1 AND q.status IN ('assigned', 'served') ORDER BY q.id DESC LIMIT 1",
);

/// The open handovers of the rooms that are not closed, for a restart.
pub const OPEN_HANDOVERS: Sql = both(
    "SELECT r.jid, h.from_jid, h.to_jid, h.taken_by, h.note, h.offered_at FROM handovers h
JOIN rooms r ON r.id = h.room_id WHERE h.ended_at IS NULL AND r.status <> 'closed' ORDER BY h.id",
);

/// One room's handovers, oldest first: `$1` room JID.
pub const HANDOVERS: Sql = both(
    "SELECT h.from_jid, h.to_jid, h.taken_by, h.note, h.offered_at, h.ended_at, h.outcome
FROM handovers h JOIN rooms r ON r.id = h.room_id WHERE r.jid = $1 ORDER BY h.id",
);

/// One room's history, oldest first: `$1` jid.
pub const EVENTS: Sql = both(
    "SELECT e.at, e.from_status, e.to_status, e.reason, e.nick FROM room_events e
JOIN rooms r ON r.id = e.room_id WHERE r.jid = $1 ORDER BY e.id",
);

/// A room's id: `$1` jid.
pub const ROOM_ID: Sql = both("SELECT id FROM rooms WHERE jid = $1");

/// The claims of one room: `$1` jid.
pub const CLAIMS: Sql =
    both("SELECT staff_claimed_at, client_claimed_at FROM rooms WHERE jid = $1");

/// The claims of every `available` or `staffed` room that has one.
pub const OPEN_CLAIMS: Sql = both(
    "SELECT jid, staff_claimed_at, client_claimed_at FROM rooms
WHERE status IN ('available', 'staffed')
  AND (staff_claimed_at IS NOT NULL OR client_claimed_at IS NOT NULL)",
);

/// A new password, and the expired client claim cleared if it is still `$3`: `$1` jid, `$2` the
/// password. SQLite compares the times as times: the web application may write them in another
/// text form.
pub const ROTATE_PASSWORD: Sql = Sql {
    sqlite: "UPDATE rooms SET password = $2, client_claimed_at = NULL, client_claim = NULL
WHERE jid = $1 AND julianday(client_claimed_at) = julianday($3)",
    postgres: "UPDATE rooms SET password = $2, client_claimed_at = NULL, client_claim = NULL
WHERE jid = $1 AND client_claimed_at = $3",
};

// ---------------------------------------------------------------------------------------------
// Transcripts

/// Message `$2` of room `$1`, said at `$3` by `$4` (role `$5`): `$6`; the room's
/// `last_message_at` follows. A retried write (the same `seq`) changes nothing.
pub const RECORD_MESSAGE: [Sql; 2] = [
    both(
        "INSERT INTO messages (room_id, seq, at, nick, role, body)
SELECT id, $2, $3, $4, $5, $6 FROM rooms WHERE jid = $1
ON CONFLICT (room_id, seq) DO NOTHING",
    ),
    both("UPDATE rooms SET last_message_at = $3 WHERE jid = $1"),
];

/// `last_message_at` only (transcripts disabled): `$1` jid, `$2` time.
pub const MESSAGE_TIME: Sql = both("UPDATE rooms SET last_message_at = $2 WHERE jid = $1");

/// The highest message `seq` of every room that is not closed.
pub const LAST_SEQS: Sql = both(
    "SELECT r.jid, MAX(m.seq) AS last_seq FROM rooms r JOIN messages m ON m.room_id = r.id
WHERE r.status <> 'closed' GROUP BY r.jid",
);

/// The last ten messages with a body of every room that is not closed, oldest first. A client's
/// line, stored under the role ([`CLIENT`]), is given the nick the client has in the room (the
/// room's history replays it under that nick).
pub const RECENT_MESSAGES: Sql = both(
    "SELECT r.jid, m.at,
       CASE WHEN m.role = 'client' THEN COALESCE(r.client_nick, m.nick) ELSE m.nick END AS nick, m.body
FROM rooms r JOIN messages m ON m.room_id = r.id
WHERE r.status <> 'closed' AND m.body IS NOT NULL
  AND m.seq > (SELECT MAX(seq) FROM messages WHERE room_id = r.id) - 10
ORDER BY r.id, m.seq",
);

/// Retention: the bodies of messages before `$1` are erased; rows and times stay.
pub const PRUNE: Sql = both("UPDATE messages SET body = NULL WHERE at < $1 AND body IS NOT NULL");

/// Retention of the notes about a chat (a supervisor's whispers): their text goes with the
/// transcript's bodies, before `$1`.
pub const PRUNE_NOTES: Sql =
    both("UPDATE notes SET text = NULL WHERE at < $1 AND text IS NOT NULL");

// ---------------------------------------------------------------------------------------------
// Privacy (docs/database.md, "What is kept of visitors"): unless `privacy.keep_visitor_names`,
// a visitor's nick, topic and real JID are erased when their chat or queue row ends. The
// transcript names the client by role from the start ([`CLIENT`]). With them go why a visitor
// had priority and their answers to the questions before the chat, except the answers kept for
// the reports (`queue_answers.kept`, SPEC §14).

/// The name the visitor has in the records once their names are erased: their role.
pub const CLIENT: &str = "client";

/// The chat in room `$1` (its JID) has closed: its client's names go, in this order, in one
/// transaction. The events the client caused are named by role; an event of a nick that is
/// neither seat's (someone who renamed themselves in the room) loses its nick; the client's
/// transcript lines are named by role (already so, unless written by an older version or with
/// names kept); the queue rows of the room (the visitor served) lose nick, topic and JID; the
/// room loses the client's nick (the role instead) and JID. Statements on a room that is not
/// `closed`, or was erased already, change nothing.
pub const FORGET_VISITOR: [Sql; 5] = [
    both(
        "UPDATE room_events SET nick = CASE WHEN nick = (SELECT client_nick FROM rooms WHERE jid = $1) THEN 'client' END
WHERE room_id = (SELECT id FROM rooms WHERE jid = $1 AND status = 'closed')
  AND nick IS NOT NULL AND nick <> 'client'
  AND nick <> COALESCE((SELECT staff_nick FROM rooms WHERE jid = $1), '')",
    ),
    both(
        "UPDATE messages SET nick = 'client'
WHERE room_id = (SELECT id FROM rooms WHERE jid = $1 AND status = 'closed')
  AND role = 'client' AND nick <> 'client'",
    ),
    both(
        "UPDATE queue SET nick = '', topic = NULL, jid = NULL, priority_reason = NULL
WHERE room_id = (SELECT id FROM rooms WHERE jid = $1 AND status = 'closed')
  AND (nick <> '' OR topic IS NOT NULL OR jid IS NOT NULL OR priority_reason IS NOT NULL)",
    ),
    both(
        "UPDATE rooms SET client_nick = CASE WHEN client_nick IS NOT NULL THEN 'client' END, client_jid = NULL
WHERE jid = $1 AND status = 'closed' AND (client_nick <> 'client' OR client_jid IS NOT NULL)",
    ),
    // The answers to the questions before the chat go with the row, except those kept for the
    // reports (SPEC §14).
    Sql {
        sqlite: "DELETE FROM queue_answers
WHERE kept = 0 AND queue_id IN (SELECT q.id FROM queue q JOIN rooms r ON r.id = q.room_id
                                WHERE r.jid = $1 AND r.status = 'closed')",
        postgres: "DELETE FROM queue_answers
WHERE NOT kept AND queue_id IN (SELECT q.id FROM queue q JOIN rooms r ON r.id = q.room_id
                                WHERE r.jid = $1 AND r.status = 'closed')",
    },
];

/// Queue rows that ended without a chat (`left`, `expired`, `missed`), by the bot or by the web
/// application, lose nick, topic and JID. Run every poll interval; the partial index
/// `queue_not_forgotten` (migration 0007) holds only rows that still carry any, so it costs
/// nothing however long the history (SQLite is told to use it).
pub const FORGET_ENDED_QUEUE: Sql = Sql {
    sqlite: "UPDATE queue INDEXED BY queue_not_forgotten SET nick = '', topic = NULL, jid = NULL, priority_reason = NULL
WHERE status IN ('left', 'expired', 'missed')
  AND (nick <> '' OR topic IS NOT NULL OR jid IS NOT NULL)",
    postgres: "UPDATE queue SET nick = '', topic = NULL, jid = NULL, priority_reason = NULL
WHERE status IN ('left', 'expired', 'missed')
  AND (nick <> '' OR topic IS NOT NULL OR jid IS NOT NULL)",
};

/// The answers to the questions before the chat of queue rows that ended without a chat go,
/// except those kept for the reports. Only the answers not kept are looked at (the partial
/// index `queue_answers_unkept`): they belong to rows still open or just ended, so it costs
/// nothing however long the history.
pub const FORGET_ENDED_ANSWERS: Sql = Sql {
    sqlite: "DELETE FROM queue_answers INDEXED BY queue_answers_unkept
WHERE kept = 0 AND EXISTS (SELECT 1 FROM queue q WHERE q.id = queue_answers.queue_id
                           AND q.status IN ('left', 'expired', 'missed'))",
    postgres: "DELETE FROM queue_answers
WHERE NOT kept AND EXISTS (SELECT 1 FROM queue q WHERE q.id = queue_answers.queue_id
                           AND q.status IN ('left', 'expired', 'missed'))",
};

/// The closed rooms whose client still has a name or JID on record (a bot stopped between a
/// room's closing and its erasure, or rows of an older version) → `jid`. Read once at start.
pub const NOT_FORGOTTEN_ROOMS: Sql = both(
    "SELECT jid FROM rooms WHERE status = 'closed' AND (client_nick <> 'client' OR client_jid IS NOT NULL)",
);

/// SQLite, after an erasure: the write-ahead log, which still holds the pages as they were
/// before, is copied into the database and emptied.
pub const CHECKPOINT_SQLITE: &str = "PRAGMA wal_checkpoint(TRUNCATE)";

// ---------------------------------------------------------------------------------------------
// The waiting queue (docs/database.md, "The waiting queue")

/// Queue a visitor: `$1` the visitor label, `$2` their full JID (over XMPP) or NULL, `$3` nick,
/// `$4` topic or NULL, `$5` the longest the queue may be → `id`. No row comes back when the label
/// is blocked, the queue is full, or the label or the session (`queue_open_jid`) already has an
/// open (waiting or assigned) row. On PostgreSQL it runs after [`QUEUE_LOCK`] in one
/// transaction, so that concurrent requests cannot overrun `$5`.
pub const ENQUEUE: Sql = Sql {
    sqlite: "INSERT INTO queue (visitor, jid, nick, topic, enqueued_at, last_seen_at, status, status_changed_at)
SELECT $1, $2, $3, $4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
       'waiting', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE NOT EXISTS (SELECT 1 FROM blocked b WHERE b.visitor = $1
                  AND (b.until IS NULL OR b.until > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))
  AND NOT EXISTS (SELECT 1 FROM queue o WHERE o.jid = $2 AND o.status IN ('waiting', 'assigned'))
  AND (SELECT COUNT(*) FROM queue WHERE status = 'waiting') < $5
ON CONFLICT (visitor) WHERE status IN ('waiting', 'assigned') DO NOTHING
RETURNING id",
    postgres: "INSERT INTO queue (visitor, jid, nick, topic, enqueued_at, last_seen_at, status, status_changed_at)
SELECT $1, $2, $3, $4, now(), now(), 'waiting', now()
WHERE NOT EXISTS (SELECT 1 FROM blocked b WHERE b.visitor = $1
                  AND (b.until IS NULL OR b.until > now()))
  AND NOT EXISTS (SELECT 1 FROM queue o WHERE o.jid = $2 AND o.status IN ('waiting', 'assigned'))
  AND (SELECT COUNT(*) FROM queue WHERE status = 'waiting') < $5
ON CONFLICT (visitor) WHERE status IN ('waiting', 'assigned') DO NOTHING
RETURNING id",
};

/// The bot's visitor just queued as row `$1` has priority `$2` (0 or 1) because `$3` (staff's
/// words, or NULL); run in [`ENQUEUE`]'s transaction (the web application's rows keep 0).
pub const QUEUE_PRIORITY: Sql =
    both("UPDATE queue SET priority = $2, priority_reason = $3 WHERE id = $1");

/// One answer to a question before the chat, in [`ENQUEUE`]'s transaction: `$1` the row's id,
/// `$2` the question, `$3` the answer, `$4` kept for the reports after the row ends.
pub const INSERT_QUEUE_ANSWER: Sql =
    both("INSERT INTO queue_answers (queue_id, question, answer, kept) VALUES ($1, $2, $3, $4)");

/// The answers of queue row `$1` to the questions before the chat, in the order given
/// → `question, answer` (for the staff member the visitor is coming to).
pub const QUEUE_ANSWERS: Sql =
    both("SELECT question, answer FROM queue_answers WHERE queue_id = $1 ORDER BY id");

/// Every answer to the questions before the chat, oldest first → `queue_id, question, answer,
/// kept` (tests and audits).
pub const ALL_QUEUE_ANSWERS: Sql =
    both("SELECT queue_id, question, answer, kept FROM queue_answers ORDER BY id");

/// PostgreSQL: one queue insertion at a time (a transaction-scoped advisory lock), so that the
/// count in [`ENQUEUE`] holds under READ COMMITTED. SQLite writes one at a time anyway.
pub const QUEUE_LOCK: &str = "SELECT pg_advisory_xact_lock(4242001)";

/// Why [`ENQUEUE`] queued nobody: `$1` the visitor label, `$2` the session's full JID or NULL
/// → `open_id` (the open row of the label, else of the session, if any), `blocked` (1 when
/// blocked now).
pub const ENQUEUE_REFUSAL: Sql = Sql {
    sqlite: "SELECT COALESCE((SELECT id FROM queue WHERE visitor = $1 AND status IN ('waiting', 'assigned')),
                (SELECT id FROM queue WHERE jid = $2 AND status IN ('waiting', 'assigned'))) AS open_id,
       EXISTS (SELECT 1 FROM blocked b WHERE b.visitor = $1
               AND (b.until IS NULL OR b.until > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) AS blocked",
    postgres: "SELECT COALESCE((SELECT id FROM queue WHERE visitor = $1 AND status IN ('waiting', 'assigned')),
                (SELECT id FROM queue WHERE jid = $2 AND status IN ('waiting', 'assigned'))) AS open_id,
       EXISTS (SELECT 1 FROM blocked b WHERE b.visitor = $1
               AND (b.until IS NULL OR b.until > now())) AS blocked",
};

/// A visitor asks again with the same key from a new XMPP session (a refresh, a dropped
/// connection): `$1` the row's id, `$2` the new full JID. The row follows the new session and is
/// no longer gone, so the visitor keeps their place and pushes reach the new session.
pub const REQUEUE_JID: Sql = both(
    "UPDATE queue SET jid = $2, gone_at = NULL WHERE id = $1 AND status IN ('waiting', 'assigned')",
);

/// A queue row as its visitor sees it: `$1` its id → `status`, `position` (1 for the next one,
/// counted among the waiting in line order: priority first, then arrival), and once assigned
/// the room's `room_jid` and `room_password`.
pub const QUEUE_POSITION: Sql = both(
    "SELECT q.status,
       (SELECT COUNT(*) FROM queue w WHERE w.status = 'waiting'
          AND (w.priority > q.priority OR (w.priority = q.priority
          AND (w.enqueued_at < q.enqueued_at OR (w.enqueued_at = q.enqueued_at AND w.id <= q.id))))) AS position,
       r.jid AS room_jid, r.password AS room_password
FROM queue q LEFT JOIN rooms r ON r.id = q.room_id AND q.status = 'assigned'
WHERE q.id = $1",
);

/// The web application keeps a visitor it queued alive: `$1` the row's id.
pub const KEEP_ALIVE: Sql = Sql {
    sqlite: "UPDATE queue SET last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE id = $1 AND status IN ('waiting', 'assigned')",
    postgres:
        "UPDATE queue SET last_seen_at = now() WHERE id = $1 AND status IN ('waiting', 'assigned')",
};

/// A visitor gives up: `$1` the row's id.
pub const LEAVE_QUEUE: Sql = Sql {
    sqlite: "UPDATE queue SET status = 'left', reason = 'left', status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE id = $1 AND status IN ('waiting', 'assigned')",
    postgres: "UPDATE queue SET status = 'left', reason = 'left', status_changed_at = now()
WHERE id = $1 AND status IN ('waiting', 'assigned')",
};

/// The waiting visitors, first in line first (priority, then arrival): `id, visitor, nick,
/// topic, enqueued_at, priority, priority_reason`.
pub const WAITING: Sql = both(
    "SELECT id, visitor, nick, topic, enqueued_at, CAST(priority AS BIGINT) AS priority, priority_reason
FROM queue WHERE status = 'waiting' ORDER BY priority DESC, enqueued_at, id",
);

/// Assignment on PostgreSQL, one statement: the first waiting visitor gets the `staffed` room
/// without a client claim whose staff member has waited longest; the room's client claim is the
/// visitor's label. `SKIP LOCKED` lets two bots, or a bot and a web application's claim, pass
/// each other. The room is locked first and a visitor only with one: a statement that finds no
/// free room must not hold the first visitor while another takes the second.
/// → `queue_id, visitor, visitor_jid, nick, topic, waiting_since, room_jid, client_claimed_at,
/// priority, priority_reason`. The first waiting visitor: priority first, then arrival.
pub const ASSIGN_NEXT_POSTGRES: &str = "WITH r AS (
    SELECT id FROM rooms WHERE status = 'staffed' AND client_claimed_at IS NULL
    ORDER BY staffed_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
v AS (
    SELECT id, visitor FROM queue WHERE status = 'waiting' AND gone_at IS NULL
      AND EXISTS (SELECT 1 FROM r)
    ORDER BY priority DESC, enqueued_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
room AS (
    UPDATE rooms SET client_claimed_at = now(), client_claim = v.visitor
    FROM r, v WHERE rooms.id = r.id
    RETURNING rooms.id, rooms.jid, rooms.client_claimed_at),
q AS (
    UPDATE queue SET status = 'assigned', status_changed_at = now(), room_id = room.id
    FROM v, room WHERE queue.id = v.id
    RETURNING queue.id, queue.visitor, queue.jid, queue.nick, queue.topic, queue.enqueued_at,
      queue.priority, queue.priority_reason)
SELECT q.id AS queue_id, q.visitor, q.jid AS visitor_jid, q.nick, q.topic,
  q.enqueued_at AS waiting_since, room.jid AS room_jid, room.client_claimed_at,
  CAST(q.priority AS BIGINT) AS priority, q.priority_reason
FROM q, room";

/// Assignment on SQLite, first of two statements in one transaction: the room (a write first, so
/// that the transaction holds SQLite's one write lock from the start).
pub const ASSIGN_ROOM_SQLITE: &str =
    "UPDATE rooms SET client_claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    client_claim = (SELECT visitor FROM queue WHERE status = 'waiting' AND gone_at IS NULL
                    ORDER BY priority DESC, enqueued_at, id LIMIT 1)
WHERE id = (SELECT id FROM rooms WHERE status = 'staffed' AND client_claimed_at IS NULL
            ORDER BY staffed_at, id LIMIT 1)
  AND EXISTS (SELECT 1 FROM queue WHERE status = 'waiting' AND gone_at IS NULL)
RETURNING id, jid AS room_jid, client_claimed_at";

/// Assignment on SQLite, second statement: the visitor, `$1` the room's id
/// → `queue_id, visitor, visitor_jid, nick, topic, waiting_since, priority, priority_reason`.
pub const ASSIGN_VISITOR_SQLITE: &str = "UPDATE queue SET status = 'assigned', room_id = $1,
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE id = (SELECT id FROM queue WHERE status = 'waiting' AND gone_at IS NULL
            ORDER BY priority DESC, enqueued_at, id LIMIT 1)
RETURNING id AS queue_id, visitor, jid AS visitor_jid, nick, topic, enqueued_at AS waiting_since,
  priority, priority_reason";

/// The bot's sweep, in one transaction: visitors waiting longer than `$1` seconds expire,
/// visitors queued over SQL (no JID) not kept alive for `$2` seconds have left, and visitors over
/// XMPP whose session has been gone for `$3` seconds (`queue.return_grace`) without the same key
/// asking again have left (`offline`). The times are the database's own, as the queue's are.
pub const SWEEP_QUEUE: [Sql; 3] = [
    Sql {
        sqlite: "UPDATE queue SET status = 'expired', reason = 'max_wait',
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE status = 'waiting' AND (julianday('now') - julianday(enqueued_at)) * 86400.0 > $1",
        postgres:
            "UPDATE queue SET status = 'expired', reason = 'max_wait', status_changed_at = now()
WHERE status = 'waiting' AND enqueued_at < now() - make_interval(secs => $1)",
    },
    Sql {
        sqlite: "UPDATE queue SET status = 'left', reason = 'timeout',
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE status = 'waiting' AND jid IS NULL
  AND (julianday('now') - julianday(last_seen_at)) * 86400.0 > $2",
        postgres: "UPDATE queue SET status = 'left', reason = 'timeout', status_changed_at = now()
WHERE status = 'waiting' AND jid IS NULL AND last_seen_at < now() - make_interval(secs => $2)",
    },
    Sql {
        sqlite: "UPDATE queue SET status = 'left', reason = 'offline',
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE status IN ('waiting', 'assigned') AND gone_at IS NOT NULL
  AND (julianday('now') - julianday(gone_at)) * 86400.0 > $3",
        postgres: "UPDATE queue SET status = 'left', reason = 'offline', status_changed_at = now()
WHERE status IN ('waiting', 'assigned') AND gone_at IS NOT NULL
  AND gone_at < now() - make_interval(secs => $3)",
    },
];

/// Block a visitor label: `$1` the label, `$2` until when (NULL: for good), `$3` why, `$4` by
/// whom; their open queue row, if any, is closed (`left`, reason `blocked`) in the same
/// transaction.
pub const BLOCK: [Sql; 2] = [
    Sql {
        sqlite: "INSERT INTO blocked (visitor, at, until, reason, by)
VALUES ($1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), $2, $3, $4)",
        postgres:
            "INSERT INTO blocked (visitor, at, until, reason, by) VALUES ($1, now(), $2, $3, $4)",
    },
    Sql {
        sqlite: "UPDATE queue SET status = 'left', reason = 'blocked',
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE visitor = $1 AND status IN ('waiting', 'assigned')",
        postgres: "UPDATE queue SET status = 'left', reason = 'blocked', status_changed_at = now()
WHERE visitor = $1 AND status IN ('waiting', 'assigned')",
    },
];

/// Lift the blocks of a visitor label (`$1`) from now on; the rows stay for the record.
pub const UNBLOCK: Sql = Sql {
    sqlite: "UPDATE blocked SET until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE visitor = $1 AND (until IS NULL OR until > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    postgres:
        "UPDATE blocked SET until = now() WHERE visitor = $1 AND (until IS NULL OR until > now())",
};

/// Every open queue row (waiting, then assigned), for the CLI: `id, visitor, nick, topic,
/// status, enqueued_at, room_jid`.
pub const OPEN_QUEUE: Sql = both(
    "SELECT q.id, q.visitor, q.nick, q.topic, q.status, q.enqueued_at, r.jid AS room_jid
FROM queue q LEFT JOIN rooms r ON r.id = q.room_id
WHERE q.status IN ('waiting', 'assigned') ORDER BY q.status DESC, q.priority DESC, q.enqueued_at, q.id",
);

/// Every queue row, oldest first: `id, visitor, status, reason, room_id` (tests and audits).
pub const QUEUE_ROWS: Sql =
    both("SELECT id, visitor, status, reason, room_id FROM queue ORDER BY id");

/// How many visitors wait, since when the first does, and the newest waiting row.
pub const WAITING_COUNT: Sql = both(
    "SELECT COUNT(*) AS waiting, MIN(enqueued_at) AS oldest, MAX(id) AS newest FROM queue WHERE status = 'waiting'",
);

// ---------------------------------------------------------------------------------------------
// The bot's own protocol (docs/protocol.md): the queue as visitors and staff use it over XMPP

/// A visitor over XMPP whose session ended (`$1` their full JID) is gone: their row keeps its
/// place for `queue.return_grace` (a refresh, a phone that dropped the tab), is not given a room
/// meanwhile, and leaves at the sweep after it unless the same key asks again ([`REQUEUE_JID`]).
pub const VISITOR_GONE: Sql = Sql {
    sqlite: "UPDATE queue SET gone_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE jid = $1 AND status IN ('waiting', 'assigned') AND gone_at IS NULL",
    postgres: "UPDATE queue SET gone_at = now()
WHERE jid = $1 AND status IN ('waiting', 'assigned') AND gone_at IS NULL",
};

/// A visitor over XMPP leaves the queue (`$1` their full JID).
pub const LEAVE_QUEUE_BY_JID: Sql = Sql {
    sqlite: "UPDATE queue SET status = 'left', reason = 'left',
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE jid = $1 AND status IN ('waiting', 'assigned')",
    postgres: "UPDATE queue SET status = 'left', reason = 'left', status_changed_at = now()
WHERE jid = $1 AND status IN ('waiting', 'assigned')",
};

/// The chat a visitor label (`$1`) has or is about to have: its latest `assigned` or `served`
/// row whose room is still open → `id, status, room_jid`.
pub const CHAT_OF_VISITOR: Sql = both(
    "SELECT q.id, q.status, r.jid AS room_jid FROM queue q JOIN rooms r ON r.id = q.room_id
WHERE q.visitor = $1 AND q.status IN ('assigned', 'served') AND r.status <> 'closed'
ORDER BY q.id DESC LIMIT 1",
);

/// The visitor of queue row `$1` is now at full JID `$2` (a new session resumed the chat).
pub const MOVE_VISITOR: Sql = both("UPDATE queue SET jid = $2 WHERE id = $1");

/// Pick mode, first of two statements in one transaction: the staffed room `$1` (its JID, no
/// client claim yet) gets the client claim of the waiting visitor of row `$2`
/// → `id, room_jid, client_claimed_at`.
pub const PICK_ROOM: Sql = Sql {
    sqlite: "UPDATE rooms SET client_claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    client_claim = (SELECT visitor FROM queue WHERE id = $2 AND status = 'waiting')
WHERE jid = $1 AND status = 'staffed' AND client_claimed_at IS NULL
  AND EXISTS (SELECT 1 FROM queue WHERE id = $2 AND status = 'waiting')
RETURNING id, jid AS room_jid, client_claimed_at",
    postgres: "UPDATE rooms SET client_claimed_at = now(),
    client_claim = (SELECT visitor FROM queue WHERE id = $2 AND status = 'waiting')
WHERE jid = $1 AND status = 'staffed' AND client_claimed_at IS NULL
  AND EXISTS (SELECT 1 FROM queue WHERE id = $2 AND status = 'waiting')
RETURNING id, jid AS room_jid, client_claimed_at",
};

/// Pick mode, second statement: the visitor of row `$2` is `assigned` to room `$1` (its id),
/// if nobody took them meanwhile → `queue_id, visitor, visitor_jid, nick, topic, waiting_since,
/// priority, priority_reason`.
pub const PICK_VISITOR: Sql = Sql {
    sqlite: "UPDATE queue SET status = 'assigned', room_id = $1,
    status_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE id = $2 AND status = 'waiting'
RETURNING id AS queue_id, visitor, jid AS visitor_jid, nick, topic, enqueued_at AS waiting_since,
  priority, priority_reason",
    postgres: "UPDATE queue SET status = 'assigned', room_id = $1, status_changed_at = now()
WHERE id = $2 AND status = 'waiting'
RETURNING id AS queue_id, visitor, jid AS visitor_jid, nick, topic, enqueued_at AS waiting_since,
  CAST(priority AS BIGINT) AS priority, priority_reason",
};

/// The label of the client claim of room `$1` (its JID) → `client_claim`.
pub const ROOM_CLIENT_LABEL: Sql = both("SELECT client_claim FROM rooms WHERE jid = $1");

/// The waiting visitors over XMPP and their place in line among all who wait (priority first,
/// then arrival) → `id, jid, position`.
pub const WAITING_OVER_XMPP: Sql = both(
    "SELECT id, jid, position FROM (
    SELECT id, jid, ROW_NUMBER() OVER (ORDER BY priority DESC, enqueued_at, id) AS position
    FROM queue WHERE status = 'waiting') w
WHERE jid IS NOT NULL ORDER BY position",
);

/// The pace of the queue: when visitors were given a room within the last `$1` seconds
/// (`queue.pace_window`), oldest first → `at`.
pub const PACE: Sql = Sql {
    sqlite: "SELECT status_changed_at AS at FROM queue
WHERE room_id IS NOT NULL AND status IN ('assigned', 'served', 'missed')
  AND (julianday('now') - julianday(status_changed_at)) * 86400.0 < ?1
ORDER BY status_changed_at",
    postgres: "SELECT status_changed_at AS at FROM queue
WHERE room_id IS NOT NULL AND status IN ('assigned', 'served', 'missed')
  AND status_changed_at > now() - make_interval(secs => $1)
ORDER BY status_changed_at",
};

// ---------------------------------------------------------------------------------------------
// Supervision (docs/protocol.md "Supervision", docs/database.md "Supervision")

/// The chats going on (`busy` or `closing`), or only room `$1` (its JID) when it is not NULL
/// → `room, since, topic, priority`: when the chat began, the topic of the visitor it serves
/// and their priority (NULL over SQL without a queue row).
pub const LIVE_CHATS: Sql = Sql {
    sqlite: "SELECT r.jid AS room, r.busy_at AS since,
       (SELECT q.topic FROM queue q WHERE q.room_id = r.id AND q.status IN ('assigned', 'served')
        ORDER BY q.id DESC LIMIT 1) AS topic,
       (SELECT CAST(q.priority AS BIGINT) FROM queue q WHERE q.room_id = r.id AND q.status IN ('assigned', 'served')
        ORDER BY q.id DESC LIMIT 1) AS priority
FROM rooms r WHERE r.status IN ('busy', 'closing') AND ($1 IS NULL OR r.jid = $1)
ORDER BY r.busy_at, r.id",
    postgres: "SELECT r.jid AS room, r.busy_at AS since,
       (SELECT q.topic FROM queue q WHERE q.room_id = r.id AND q.status IN ('assigned', 'served')
        ORDER BY q.id DESC LIMIT 1) AS topic,
       (SELECT CAST(q.priority AS BIGINT) FROM queue q WHERE q.room_id = r.id AND q.status IN ('assigned', 'served')
        ORDER BY q.id DESC LIMIT 1) AS priority
FROM rooms r WHERE r.status IN ('busy', 'closing') AND ($1::text IS NULL OR r.jid = $1::text)
ORDER BY r.busy_at, r.id",
};

/// The stored lines of room `$1` (its JID) up to number `$2`, oldest first, as stored (the
/// client named by role unless names are kept); bodies erased by retention are left out
/// → `seq, at, nick, role, body`.
pub const LINES_UPTO: Sql = both(
    "SELECT m.seq, m.at, m.nick, m.role, m.body FROM messages m JOIN rooms r ON r.id = m.room_id
WHERE r.jid = $1 AND m.seq <= $2 AND m.body IS NOT NULL ORDER BY m.seq",
);

/// A watch, whisper or request for help, in one transaction: `$1` the room's JID, `$2` the kind,
/// `$3` who (a bare JID), `$4` when, `$5` a whisper's text (NULL otherwise). The row, then the
/// whisper's note; a retried write that already landed adds neither again.
pub const RECORD_SUPERVISION: [Sql; 2] = [
    both(
        "INSERT INTO supervision (room_id, kind, jid, at)
SELECT id, $2, $3, $4 FROM rooms WHERE jid = $1
  AND NOT EXISTS (SELECT 1 FROM supervision s
                  WHERE s.room_id = rooms.id AND s.kind = $2 AND s.jid = $3 AND s.at = $4)",
    ),
    both(
        "INSERT INTO notes (room_id, jid, kind, text, at)
SELECT id, $3, $2, $5, $4 FROM rooms WHERE jid = $1 AND $5 IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM notes n WHERE n.room_id = rooms.id AND n.jid = $3 AND n.at = $4)",
    ),
];

/// The notes of room `$1` (its JID), oldest first → `jid, kind, text, at`.
pub const NOTES: Sql = both(
    "SELECT n.jid, n.kind, n.text, n.at FROM notes n JOIN rooms r ON r.id = n.room_id
WHERE r.jid = $1 ORDER BY n.id",
);

/// The supervision rows of room `$1` (its JID), oldest first → `kind, jid, at`.
pub const SUPERVISION_ROWS: Sql = both(
    "SELECT s.kind, s.jid, s.at FROM supervision s JOIN rooms r ON r.id = s.room_id
WHERE r.jid = $1 ORDER BY s.id",
);

/// A string that lives as long as the program: the statements built once at first use.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

// ---------------------------------------------------------------------------------------------
// The statistics report (`helpim-bot stats`, docs/database.md "Statistics"): one statement per
// figure, grouped by period. `$1` and `$2` bound the period (from, to: a time at or after `$1`
// and before `$2`), `$3` names the period of each row: a `strftime` format on SQLite, a
// `to_char` format on PostgreSQL (both in UTC; see `stats::Per`). Percentiles are nearest-rank:
// the smallest value at or above that share of the sorted values. On SQLite a duration is a
// difference of `julianday`s, rounded to the millisecond (a julian day is a float).

/// Chats: rooms that became `busy` (a staff member and a client met) → `period, chats`.
pub const STATS_CHATS: Sql = Sql {
    sqlite: "SELECT strftime($3, busy_at) AS period, COUNT(*) AS chats FROM rooms
WHERE julianday(busy_at) >= julianday($1) AND julianday(busy_at) < julianday($2)
GROUP BY 1 ORDER BY 1",
    postgres:
        "SELECT to_char(busy_at AT TIME ZONE 'UTC', $3) AS period, COUNT(*) AS chats FROM rooms
WHERE busy_at >= $1 AND busy_at < $2
GROUP BY 1 ORDER BY 1",
};

/// Visitors who did not reach a staff member: queue rows that ended `left`, `expired` or
/// `missed` → `period, status, visitors`.
pub const STATS_QUEUE_ENDS: Sql = Sql {
    sqlite: "SELECT strftime($3, status_changed_at) AS period, status, COUNT(*) AS visitors FROM queue
WHERE status IN ('left', 'expired', 'missed')
  AND julianday(status_changed_at) >= julianday($1) AND julianday(status_changed_at) < julianday($2)
GROUP BY 1, 2 ORDER BY 1, 2",
    postgres: "SELECT to_char(status_changed_at AT TIME ZONE 'UTC', $3) AS period, status, COUNT(*) AS visitors FROM queue
WHERE status IN ('left', 'expired', 'missed')
  AND status_changed_at >= $1 AND status_changed_at < $2
GROUP BY 1, 2 ORDER BY 1, 2",
};

/// Waiting times of the visitors served (from joining the queue to joining the chat), by when
/// they were served → `period, served, p50, p90, max` (seconds).
pub const STATS_WAITS: Sql = Sql {
    sqlite: "WITH w AS (
    SELECT strftime($3, status_changed_at) AS period,
           ROUND((julianday(status_changed_at) - julianday(enqueued_at)) * 86400.0, 3) AS secs
    FROM queue WHERE status = 'served'
      AND julianday(status_changed_at) >= julianday($1) AND julianday(status_changed_at) < julianday($2)
), r AS (
    SELECT period, secs, ROW_NUMBER() OVER (PARTITION BY period ORDER BY secs) AS n,
           COUNT(*) OVER (PARTITION BY period) AS total FROM w
)
SELECT period, COUNT(*) AS served,
       MIN(CASE WHEN n >= 0.5 * total THEN secs END) AS p50,
       MIN(CASE WHEN n >= 0.9 * total THEN secs END) AS p90,
       MAX(secs) AS max
FROM r GROUP BY period ORDER BY period",
    postgres: "WITH w AS (
    SELECT to_char(status_changed_at AT TIME ZONE 'UTC', $3) AS period,
           EXTRACT(EPOCH FROM status_changed_at - enqueued_at)::float8 AS secs
    FROM queue WHERE status = 'served'
      AND status_changed_at >= $1 AND status_changed_at < $2
), r AS (
    SELECT period, secs, ROW_NUMBER() OVER (PARTITION BY period ORDER BY secs) AS n,
           COUNT(*) OVER (PARTITION BY period) AS total FROM w
)
SELECT period, COUNT(*) AS served,
       MIN(CASE WHEN n >= 0.5 * total THEN secs END) AS p50,
       MIN(CASE WHEN n >= 0.9 * total THEN secs END) AS p90,
       MAX(secs) AS max
FROM r GROUP BY period ORDER BY period",
};

/// How long the chats lasted (from `busy` to `closed`), by when they began → `period, ended,
/// p50, p90` (seconds). A chat still going is not counted.
pub const STATS_DURATIONS: Sql = Sql {
    sqlite: "WITH d AS (
    SELECT strftime($3, busy_at) AS period,
           ROUND((julianday(closed_at) - julianday(busy_at)) * 86400.0, 3) AS secs
    FROM rooms WHERE closed_at IS NOT NULL
      AND julianday(busy_at) >= julianday($1) AND julianday(busy_at) < julianday($2)
), r AS (
    SELECT period, secs, ROW_NUMBER() OVER (PARTITION BY period ORDER BY secs) AS n,
           COUNT(*) OVER (PARTITION BY period) AS total FROM d
)
SELECT period, COUNT(*) AS ended,
       MIN(CASE WHEN n >= 0.5 * total THEN secs END) AS p50,
       MIN(CASE WHEN n >= 0.9 * total THEN secs END) AS p90
FROM r GROUP BY period ORDER BY period",
    postgres: "WITH d AS (
    SELECT to_char(busy_at AT TIME ZONE 'UTC', $3) AS period,
           EXTRACT(EPOCH FROM closed_at - busy_at)::float8 AS secs
    FROM rooms WHERE closed_at IS NOT NULL
      AND busy_at >= $1 AND busy_at < $2
), r AS (
    SELECT period, secs, ROW_NUMBER() OVER (PARTITION BY period ORDER BY secs) AS n,
           COUNT(*) OVER (PARTITION BY period) AS total FROM d
)
SELECT period, COUNT(*) AS ended,
       MIN(CASE WHEN n >= 0.5 * total THEN secs END) AS p50,
       MIN(CASE WHEN n >= 0.9 * total THEN secs END) AS p90
FROM r GROUP BY period ORDER BY period",
};

/// Rooms closed, by the reason of their closing → `period, reason, rooms`.
pub const STATS_CLOSED: Sql = Sql {
    sqlite: "SELECT strftime($3, closed_at) AS period, close_reason AS reason, COUNT(*) AS rooms FROM rooms
WHERE julianday(closed_at) >= julianday($1) AND julianday(closed_at) < julianday($2)
GROUP BY 1, 2 ORDER BY 1, 2",
    postgres: "SELECT to_char(closed_at AT TIME ZONE 'UTC', $3) AS period, close_reason AS reason, COUNT(*) AS rooms FROM rooms
WHERE closed_at >= $1 AND closed_at < $2
GROUP BY 1, 2 ORDER BY 1, 2",
};

/// Blocks imposed → `period, blocks`.
pub const STATS_BLOCKS: Sql = Sql {
    sqlite: "SELECT strftime($3, at) AS period, COUNT(*) AS blocks FROM blocked
WHERE julianday(at) >= julianday($1) AND julianday(at) < julianday($2)
GROUP BY 1 ORDER BY 1",
    postgres: "SELECT to_char(at AT TIME ZONE 'UTC', $3) AS period, COUNT(*) AS blocks FROM blocked
WHERE at >= $1 AND at < $2
GROUP BY 1 ORDER BY 1",
};

/// Watches, whispers and requests for help (`supervision` rows) → `period, kind, n`.
pub const STATS_SUPERVISION: Sql = Sql {
    sqlite: "SELECT strftime($3, at) AS period, kind, COUNT(*) AS n FROM supervision
WHERE julianday(at) >= julianday($1) AND julianday(at) < julianday($2)
GROUP BY 1, 2 ORDER BY 1, 2",
    postgres:
        "SELECT to_char(at AT TIME ZONE 'UTC', $3) AS period, kind, COUNT(*) AS n FROM supervision
WHERE at >= $1 AND at < $2
GROUP BY 1, 2 ORDER BY 1, 2",
};

/// Handovers offered in each period (by `offered_at`), and how many of them were done.
pub const STATS_HANDOVERS: Sql = Sql {
    sqlite: "SELECT strftime($3, offered_at) AS period, COUNT(*) AS handovers,
  SUM(CASE WHEN outcome = 'done' THEN 1 ELSE 0 END) AS done FROM handovers
WHERE julianday(offered_at) >= julianday($1) AND julianday(offered_at) < julianday($2)
GROUP BY 1 ORDER BY 1",
    postgres: "SELECT to_char(offered_at AT TIME ZONE 'UTC', $3) AS period, COUNT(*) AS handovers,
  SUM(CASE WHEN outcome = 'done' THEN 1 ELSE 0 END) AS done FROM handovers
WHERE offered_at >= $1 AND offered_at < $2
GROUP BY 1 ORDER BY 1",
};

/// Chats begun whose visitor had priority (SPEC §14: an answer before the chat matched a
/// priority rule): rooms that became `busy`, served to a queue row with `priority` 1 →
/// `period, chats`.
pub const STATS_PRIORITY: Sql = Sql {
    sqlite: "SELECT strftime($3, r.busy_at) AS period, COUNT(*) AS chats FROM rooms r
WHERE julianday(r.busy_at) >= julianday($1) AND julianday(r.busy_at) < julianday($2)
  AND EXISTS (SELECT 1 FROM queue q WHERE q.room_id = r.id AND q.status = 'served' AND q.priority = 1)
GROUP BY 1 ORDER BY 1",
    postgres: "SELECT to_char(r.busy_at AT TIME ZONE 'UTC', $3) AS period, COUNT(*) AS chats FROM rooms r
WHERE r.busy_at >= $1 AND r.busy_at < $2
  AND EXISTS (SELECT 1 FROM queue q WHERE q.room_id = r.id AND q.status = 'served' AND q.priority = 1)
GROUP BY 1 ORDER BY 1",
};

/// The answers before the chat kept for statistics (`queue_answers.kept`), by when the visitor
/// joined the queue → `period, question, answer, n`.
pub const STATS_BEFORE: Sql = Sql {
    sqlite: "SELECT strftime($3, q.enqueued_at) AS period, a.question, a.answer, COUNT(*) AS n
FROM queue q JOIN queue_answers a ON a.queue_id = q.id
WHERE a.kept = 1
  AND julianday(q.enqueued_at) >= julianday($1) AND julianday(q.enqueued_at) < julianday($2)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    postgres: "SELECT to_char(q.enqueued_at AT TIME ZONE 'UTC', $3) AS period, a.question, a.answer, COUNT(*) AS n
FROM queue q JOIN queue_answers a ON a.queue_id = q.id
WHERE a.kept
  AND q.enqueued_at >= $1 AND q.enqueued_at < $2
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
};

/// The registrations' choice and yes/no answers (`registration_answers.kept`; free text is
/// never counted), by when the chat began → `period, question, answer, n`.
pub const STATS_REGISTERED: Sql = Sql {
    sqlite: "SELECT strftime($3, r.busy_at) AS period, a.question, a.answer, COUNT(*) AS n
FROM rooms r JOIN registrations g ON g.room_id = r.id
JOIN registration_answers a ON a.registration_id = g.id
WHERE a.kept = 1 AND a.answer IS NOT NULL
  AND julianday(r.busy_at) >= julianday($1) AND julianday(r.busy_at) < julianday($2)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    postgres: "SELECT to_char(r.busy_at AT TIME ZONE 'UTC', $3) AS period, a.question, a.answer, COUNT(*) AS n
FROM rooms r JOIN registrations g ON g.room_id = r.id
JOIN registration_answers a ON a.registration_id = g.id
WHERE a.kept AND a.answer IS NOT NULL
  AND r.busy_at >= $1 AND r.busy_at < $2
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
};

/// Chats begun in the period that have ended (`closing` or `closed`) without a registration →
/// `period, missing`.
pub const STATS_REGISTRATIONS_MISSING: Sql = Sql {
    sqlite: "SELECT strftime($3, r.busy_at) AS period, COUNT(*) AS missing FROM rooms r
WHERE r.status IN ('closing', 'closed')
  AND julianday(r.busy_at) >= julianday($1) AND julianday(r.busy_at) < julianday($2)
  AND NOT EXISTS (SELECT 1 FROM registrations g WHERE g.room_id = r.id)
GROUP BY 1 ORDER BY 1",
    postgres: "SELECT to_char(r.busy_at AT TIME ZONE 'UTC', $3) AS period, COUNT(*) AS missing FROM rooms r
WHERE r.status IN ('closing', 'closed')
  AND r.busy_at >= $1 AND r.busy_at < $2
  AND NOT EXISTS (SELECT 1 FROM registrations g WHERE g.room_id = r.id)
GROUP BY 1 ORDER BY 1",
};

/// The visitors' feedback, by when the chat began → `period, question, answer, n`.
pub const STATS_FEEDBACK: Sql = Sql {
    sqlite: "SELECT strftime($3, r.busy_at) AS period, f.question, f.answer, COUNT(*) AS n
FROM rooms r JOIN feedback f ON f.room_id = r.id
WHERE julianday(r.busy_at) >= julianday($1) AND julianday(r.busy_at) < julianday($2)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    postgres: "SELECT to_char(r.busy_at AT TIME ZONE 'UTC', $3) AS period, f.question, f.answer, COUNT(*) AS n
FROM rooms r JOIN feedback f ON f.room_id = r.id
WHERE r.busy_at >= $1 AND r.busy_at < $2
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
};

/// `stats --by staff`: per staff member (the room's `staff_jid`: after a handover, who took the
/// chat), the chats begun from `$1` to before `$2`, the minutes of those that ended, and how
/// many of those ended without a registration → `staff, chats, minutes, missing`. Counts only.
pub const STATS_BY_STAFF: Sql = Sql {
    sqlite: "SELECT COALESCE(r.staff_jid, '') AS staff, COUNT(*) AS chats,
  TOTAL(CASE WHEN r.closed_at IS NOT NULL
             THEN (julianday(r.closed_at) - julianday(r.busy_at)) * 1440.0 END) AS minutes,
  SUM(CASE WHEN r.status IN ('closing', 'closed')
            AND NOT EXISTS (SELECT 1 FROM registrations g WHERE g.room_id = r.id)
           THEN 1 ELSE 0 END) AS missing
FROM rooms r
WHERE julianday(r.busy_at) >= julianday($1) AND julianday(r.busy_at) < julianday($2)
GROUP BY 1 ORDER BY 1",
    postgres: "SELECT COALESCE(r.staff_jid, '') AS staff, COUNT(*) AS chats,
  COALESCE(SUM(EXTRACT(EPOCH FROM r.closed_at - r.busy_at)::float8 / 60.0), 0.0)::float8 AS minutes,
  SUM(CASE WHEN r.status IN ('closing', 'closed')
            AND NOT EXISTS (SELECT 1 FROM registrations g WHERE g.room_id = r.id)
           THEN 1 ELSE 0 END) AS missing
FROM rooms r
WHERE r.busy_at >= $1 AND r.busy_at < $2
GROUP BY 1 ORDER BY 1",
};

/// `$3` of the statistics statements for periods of a day, named like `2026-11-26` (UTC).
pub const STATS_PER_DAY: Sql = Sql {
    sqlite: "%Y-%m-%d",
    postgres: "YYYY-MM-DD",
};

/// `$3` of the statistics statements for periods of an hour, named like `2026-11-26T14` (UTC).
pub const STATS_PER_HOUR: Sql = Sql {
    sqlite: "%Y-%m-%dT%H",
    postgres: "YYYY-MM-DD\"T\"HH24",
};

/// `$3` of the statistics statements for the whole report in one period, named `total`.
pub const STATS_WHOLE: Sql = Sql {
    sqlite: "total",
    postgres: "\"total\"",
};

// ---------------------------------------------------------------------------------------------
// After the chat (docs/protocol.md "register-chat" and "feedback", docs/database.md "Questions,
// registrations, feedback"): the staff member's registration and the visitor's feedback.

/// The chats staff member `$1` (a bare JID) had when they ended (rooms `closing` or `closed`
/// whose staff seat is theirs) that began at or after `$2`, newest first
/// → `room, nick, topic, began, ended, registered`: the visitor's nick and topic while their
/// queue row still has them (erased when the chat closes unless names are kept).
pub const ENDED_CHATS: Sql = both(
    "SELECT r.jid AS room, r.busy_at AS began, COALESCE(r.closed_at, r.status_changed_at) AS ended,
       (SELECT NULLIF(q.nick, '') FROM queue q WHERE q.room_id = r.id ORDER BY q.id DESC LIMIT 1) AS nick,
       (SELECT q.topic FROM queue q WHERE q.room_id = r.id ORDER BY q.id DESC LIMIT 1) AS topic,
       EXISTS (SELECT 1 FROM registrations g WHERE g.room_id = r.id) AS registered
FROM rooms r
WHERE r.staff_jid = $1 AND r.status IN ('closing', 'closed') AND r.busy_at >= $2
ORDER BY r.busy_at DESC, r.id DESC",
);

/// A registration, first of three statements in one transaction: room `$1` (its JID), if it is
/// one of [`ENDED_CHATS`] of `$2` since `$3` → `id, registered`.
pub const REGISTER_ROOM: Sql = both(
    "SELECT r.id, EXISTS (SELECT 1 FROM registrations g WHERE g.room_id = r.id) AS registered
FROM rooms r
WHERE r.jid = $1 AND r.staff_jid = $2 AND r.status IN ('closing', 'closed') AND r.busy_at >= $3",
);

/// Second: the `registrations` row of room `$1` (its id), by `$2` (a bare JID) at `$3` → `id`;
/// none when the room has one already.
pub const INSERT_REGISTRATION: Sql = both(
    "INSERT INTO registrations (room_id, staff, created_at) VALUES ($1, $2, $3)
ON CONFLICT (room_id) DO NOTHING RETURNING id",
);

/// Third, once per question answered: registration `$1`, question `$2`, answer `$3`, kept `$4`.
pub const INSERT_REGISTRATION_ANSWER: Sql = both(
    "INSERT INTO registration_answers (registration_id, question, answer, kept) VALUES ($1, $2, $3, $4)",
);

/// Feedback, first of two statements in one transaction: room `$1` (its JID), if a queue row of
/// visitor label `$2` was for it and its chat began at or after `$3` → `id, given` (whether it
/// has feedback already). The label is only compared, never stored with the feedback.
pub const FEEDBACK_ROOM: Sql = both(
    "SELECT r.id, EXISTS (SELECT 1 FROM feedback f WHERE f.room_id = r.id) AS given
FROM rooms r
WHERE r.jid = $1 AND r.busy_at >= $3
  AND EXISTS (SELECT 1 FROM queue q WHERE q.room_id = r.id AND q.visitor = $2)",
);

/// Second, once per question answered: room `$1` (its id), question `$2`, answer `$3`, at `$4`,
/// kept `$5`; nothing when that question of the chat has an answer already.
pub const INSERT_FEEDBACK: Sql = both(
    "INSERT INTO feedback (room_id, question, answer, created_at, kept) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (room_id, question) DO NOTHING",
);

/// Retention of the registrations' free text (answers not kept): erased (NULL) with the
/// transcript's bodies, for registrations made before `$1`.
pub const PRUNE_REGISTRATION_ANSWERS: Sql = Sql {
    sqlite: "UPDATE registration_answers SET answer = NULL
WHERE kept = 0 AND answer IS NOT NULL
  AND registration_id IN (SELECT id FROM registrations WHERE created_at < $1)",
    postgres: "UPDATE registration_answers SET answer = NULL
WHERE NOT kept AND answer IS NOT NULL
  AND registration_id IN (SELECT id FROM registrations WHERE created_at < $1)",
};

/// Retention of feedback not kept (free text, choices not marked for statistics): deleted with
/// the transcript's bodies, when given before `$1`.
pub const PRUNE_FEEDBACK: Sql = Sql {
    sqlite: "DELETE FROM feedback WHERE kept = 0 AND created_at < $1",
    postgres: "DELETE FROM feedback WHERE NOT kept AND created_at < $1",
};

/// The registration of room `$1` (its JID): one row per answer, in order
/// → `staff, question, answer, kept`.
pub const REGISTRATION_ROWS: Sql = both(
    "SELECT g.staff, a.question, a.answer, a.kept
FROM registrations g JOIN rooms r ON r.id = g.room_id
JOIN registration_answers a ON a.registration_id = g.id
WHERE r.jid = $1 ORDER BY a.id",
);

/// The feedback about room `$1` (its JID), in order → `question, answer, kept`.
pub const FEEDBACK_ROWS: Sql = both(
    "SELECT f.question, f.answer, f.kept FROM feedback f JOIN rooms r ON r.id = f.room_id
WHERE r.jid = $1 ORDER BY f.id",
);
