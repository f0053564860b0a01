//! Every SQL statement the bot and the CLI run, each with its SQLite and its PostgreSQL text side
//! by side ([`Sql`]). Most read the same in both; where they differ it shows here: the claims use
//! the database's own clock, SQLite compares stored times as times (`julianday`), and on
//! PostgreSQL a status change is one statement that also announces itself (`NOTIFY`).
//!
//! Parameters are `$1`, `$2`, …, which both drivers understand. Times are `TIMESTAMPTZ` on
//! PostgreSQL and ISO-8601 UTC text on SQLite. `docs/database.md` shows the statements of the web
//! application's contract verbatim; a test checks that it does.

use std::sync::LazyLock;

use crate::core::room::Status;

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
        // for) goes to the seat whose nick is `$3`.
        Status::Busy => {
            "UPDATE rooms SET status = 'busy', status_changed_at = $2, client_nick = COALESCE(client_nick, $3), busy_at = COALESCE(busy_at, $2),
  client_jid = CASE WHEN client_nick IS NULL OR client_nick = $3 THEN COALESCE($8, client_jid) ELSE client_jid END,
  staff_jid = CASE WHEN client_nick IS NOT NULL AND client_nick <> $3 AND staff_nick = $3 THEN COALESCE($8, staff_jid) ELSE staff_jid END
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

/// A status change: the statements to run in one transaction, all with the same parameters
/// (`$1` jid, `$2` time, `$3` as in [`update_status`], `$4` from, `$5` to, `$6` reason, `$7`
/// nick, `$8` the role's JID). SQLite: the update, then the history row. PostgreSQL: one
/// statement (one round trip) with the update, the history row and, only when that row is new,
/// the announcement.
pub fn transition(to: Status) -> (&'static [&'static str], &'static [&'static str]) {
    static SQL: LazyLock<[([&'static str; 2], [&'static str; 1]); 4]> = LazyLock::new(|| {
        [Status::Staffed, Status::Busy, Status::Closed, Status::Closing].map(|status| {
            let update = update_status(status);
            let postgres = leak(format!(
                "WITH up AS ({} RETURNING id, jid, status),
ev AS (INSERT INTO room_events (room_id, at, from_status, to_status, reason, nick)
  SELECT id, $2, $4::text, $5::text, $6::text, $7::text FROM up
  WHERE NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = up.id AND e.at = $2 AND e.to_status = $5::text)
  RETURNING room_id)
SELECT {} FROM up r JOIN ev ON ev.room_id = r.id",
                update.replace("$8", "$8::text"),
                notify("$2", "$4", "$6", "$7")
            ));
            ([update, INSERT_EVENT], [postgres])
        })
    });
    let (sqlite, postgres) = &SQL[match to {
        Status::Staffed => 0,
        Status::Busy => 1,
        Status::Closed => 2,
        Status::Available | Status::Closing => 3,
    }];
    (sqlite, postgres)
}

/// Every room (`WHERE …` and `ORDER BY` appended by the caller).
pub const SELECT_ROOMS: &str =
    "SELECT id, jid, password, status, created_at, status_changed_at, staff_claim, client_claim,
       staff_nick, client_nick, closed_at, close_reason, last_message_at, staff_jid, client_jid,
       staff_claimed_at, client_claimed_at FROM rooms";

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

/// The last ten messages with a body of every room that is not closed, oldest first.
pub const RECENT_MESSAGES: Sql = both(
    "SELECT r.jid, m.at, m.nick, m.body FROM rooms r JOIN messages m ON m.room_id = r.id
WHERE r.status <> 'closed' AND m.body IS NOT NULL
  AND m.seq > (SELECT MAX(seq) FROM messages WHERE room_id = r.id) - 10
ORDER BY r.id, m.seq",
);

/// Retention: the bodies of messages before `$1` are erased; rows and times stay.
pub const PRUNE: Sql = both("UPDATE messages SET body = NULL WHERE at < $1 AND body IS NOT NULL");

/// A string that lives as long as the program: the statements built once at first use.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}
