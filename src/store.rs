//! The database: migrations and the SQL contract with the web application (docs/database.md).
//!
//! One [`Store`] serves SQLite and PostgreSQL. The statements are written once with `$N`
//! placeholders, which both drivers understand; only the two claims differ, because they use the
//! database's own clock. Times are `TIMESTAMPTZ` on PostgreSQL and ISO-8601 UTC text on SQLite
//! (see [`DbTime`]). `docs/database.md` documents the same statements; a test checks that it does.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::SecondsFormat;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Postgres, Row, Sqlite};

use crate::core::room::{Claims, Role, Status, Time, Transition};

/// Staff claim on PostgreSQL: one `available`, unclaimed room, oldest first; `SKIP LOCKED` lets
/// concurrent claims pass each other instead of taking the same row.
pub const CLAIM_STAFF_POSTGRES: &str = "UPDATE rooms SET staff_claimed_at = now(), staff_claim = $1
WHERE id = (SELECT id FROM rooms
            WHERE status = 'available' AND staff_claimed_at IS NULL
            ORDER BY created_at, id LIMIT 1
            FOR UPDATE SKIP LOCKED)
  AND status = 'available' AND staff_claimed_at IS NULL
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

/// Staff claim on SQLite: SQLite runs one writer at a time, so the single statement is atomic.
pub const CLAIM_STAFF_SQLITE: &str =
    "UPDATE rooms SET staff_claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), staff_claim = $1
WHERE id = (SELECT id FROM rooms
            WHERE status = 'available' AND staff_claimed_at IS NULL
            ORDER BY created_at, id LIMIT 1)
RETURNING id, jid, password";

/// Client claim on SQLite.
pub const CLAIM_CLIENT_SQLITE: &str =
    "UPDATE rooms SET client_claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), client_claim = $1
WHERE id = (SELECT id FROM rooms
            WHERE status = 'staffed' AND client_claimed_at IS NULL
            ORDER BY staffed_at, id LIMIT 1)
RETURNING id, jid, password";

/// A room's transcript after position `$2` (both databases; `$1` is `rooms.id`).
pub const TRANSCRIPT_AFTER: &str =
    "SELECT seq, at, nick, role, body FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq";

/// The channel on which PostgreSQL announces every status change.
pub const NOTIFY_CHANNEL: &str = "helpim_rooms";

/// Announces the status change just written (PostgreSQL, in the same transaction, so listeners
/// hear of it only once it is committed, and in commit order). `$1` jid, `$2` from, `$3` reason,
/// `$4` nick, `$5` time.
const NOTIFY_STATUS: &str = "SELECT pg_notify('helpim_rooms', json_build_object(
    'room_id', id, 'jid', jid, 'status', status, 'from', $2::text, 'reason', $3::text,
    'nick', $4::text, 'at', $5::timestamptz)::text) FROM rooms WHERE jid = $1";

/// Reading one room's status (both databases).
pub const ROOM_STATUS: &str = "SELECT status, status_changed_at FROM rooms WHERE jid = $1";

/// A database, SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub enum Store {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// The production database shared with the web application.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// Which role a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// A staff member takes an `available` room.
    Staff,
    /// A client takes a `staffed` room.
    Client,
}

/// What a claim hands to the web application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRoom {
    /// `rooms.id`.
    pub id: i64,
    /// The room's JID.
    pub jid: String,
    /// The room's password.
    pub password: String,
}

/// A row of `rooms`, as the CLI and the tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRow {
    /// `rooms.id`.
    pub id: i64,
    /// The room's JID.
    pub jid: String,
    /// The room's password.
    pub password: String,
    /// Its status.
    pub status: Status,
    /// When it was created.
    pub created_at: Time,
    /// When its status last changed.
    pub status_changed_at: Time,
    /// The web application's staff claim label.
    pub staff_claim: Option<String>,
    /// The web application's client claim label.
    pub client_claim: Option<String>,
    /// The staff member's nick.
    pub staff_nick: Option<String>,
    /// The client's nick.
    pub client_nick: Option<String>,
    /// When it was closed.
    pub closed_at: Option<Time>,
    /// Why it was closed.
    pub close_reason: Option<String>,
    /// The time of the last chat message.
    pub last_message_at: Option<Time>,
    /// The staff member's real bare JID.
    pub staff_jid: Option<String>,
    /// The client's real bare JID.
    pub client_jid: Option<String>,
    /// When the staff claim was made.
    pub staff_claimed_at: Option<Time>,
    /// When the client claim was made.
    pub client_claimed_at: Option<Time>,
}

/// A row of `room_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// When.
    pub at: Time,
    /// The status before (none for the creation).
    pub from_status: Option<String>,
    /// The status after.
    pub to_status: String,
    /// Why.
    pub reason: String,
    /// Whose presence caused it.
    pub nick: Option<String>,
}

/// A row of `messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// 1, 2, 3 … within the room.
    pub seq: i64,
    /// When the bot received it.
    pub at: Time,
    /// The sender's nick.
    pub nick: String,
    /// `staff` or `client`.
    pub role: String,
    /// The text; `None` once erased by retention.
    pub body: Option<String>,
}

/// A time as the database stores it: `TIMESTAMPTZ` on PostgreSQL, ISO-8601 text on SQLite.
#[derive(Debug, Clone, Copy)]
pub struct DbTime(pub Time);

impl DbTime {
    /// The SQLite text form: `2026-11-22T10:00:00.123Z`, the same as
    /// `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`.
    pub fn sqlite_text(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl sqlx::Type<Sqlite> for DbTime {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as sqlx::Type<Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <String as sqlx::Encode<'q, Sqlite>>::encode(self.sqlite_text(), buf)
    }
}

impl sqlx::Type<Postgres> for DbTime {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Time as sqlx::Type<Postgres>>::type_info()
    }
}

impl sqlx::Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <Time as sqlx::Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

/// The statement that moves a room to `to`; `$1` jid, `$2` time, `$3` the nick for `staffed` and
/// `busy`, the reason for `closed`, the status itself otherwise; `role_jid` names the parameter
/// of the real JID a role is bound to (`staffed`, and `busy` when the client's JID is new).
fn transition_sql(to: Status, role_jid: &str) -> String {
    match to {
        Status::Staffed => format!(
            "UPDATE rooms SET status = 'staffed', status_changed_at = $2, staff_nick = $3, staffed_at = $2, staff_jid = {role_jid} WHERE jid = $1"
        ),
        Status::Busy => format!(
            "UPDATE rooms SET status = 'busy', status_changed_at = $2, client_nick = COALESCE(client_nick, $3), busy_at = COALESCE(busy_at, $2), client_jid = COALESCE({role_jid}, client_jid) WHERE jid = $1"
        ),
        Status::Closed => {
            "UPDATE rooms SET status = 'closed', status_changed_at = $2, closed_at = $2, close_reason = $3 WHERE jid = $1".into()
        }
        Status::Available | Status::Closing => {
            "UPDATE rooms SET status = $3, status_changed_at = $2 WHERE jid = $1".into()
        }
    }
}

/// [`transition_sql`] for SQLite: the role's JID is `$4`.
fn sqlite_transition_sql(to: Status) -> &'static str {
    static SQL: LazyLock<[String; 4]> = LazyLock::new(|| {
        [
            Status::Staffed,
            Status::Busy,
            Status::Closed,
            Status::Closing,
        ]
        .map(|status| transition_sql(status, "$4"))
    });
    &SQL[sql_slot(to)]
}

fn sql_slot(to: Status) -> usize {
    match to {
        Status::Staffed => 0,
        Status::Busy => 1,
        Status::Closed => 2,
        Status::Available | Status::Closing => 3,
    }
}

/// Appends one `room_events` row; a retried write that already landed is not added twice.
/// A status change on PostgreSQL as one statement: the update of [`transition_sql`], the history
/// row of [`INSERT_EVENT`] and, only when that row is new, the notification of [`NOTIFY_STATUS`].
/// Parameters: jid, at, the status's third value (as in `transition_sql`), from, to, reason, nick,
/// the role's JID.
fn pg_transition_sql(to: Status) -> &'static str {
    static SQL: LazyLock<[String; 4]> = LazyLock::new(|| {
        [Status::Staffed, Status::Busy, Status::Closed, Status::Closing].map(|status| {
            format!(
                "WITH up AS ({} RETURNING id, jid, status),
ev AS (INSERT INTO room_events (room_id, at, from_status, to_status, reason, nick)
  SELECT id, $2, $4::text, $5::text, $6::text, $7::text FROM up
  WHERE NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = up.id AND e.at = $2 AND e.to_status = $5::text)
  RETURNING room_id)
SELECT pg_notify('helpim_rooms', json_build_object(
    'room_id', up.id, 'jid', up.jid, 'status', up.status, 'from', $4::text, 'reason', $6::text,
    'nick', $7::text, 'at', $2::timestamptz)::text)
FROM up JOIN ev ON ev.room_id = up.id",
                transition_sql(status, "$8::text")
            )
        })
    });
    &SQL[sql_slot(to)]
}

const INSERT_EVENT: &str = "INSERT INTO room_events (room_id, at, from_status, to_status, reason, nick)
SELECT id, $2, $3, $4, $5, $6 FROM rooms WHERE jid = $1
  AND NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = rooms.id AND e.at = $2 AND e.to_status = $4)";

const INSERT_ROOM: &str = "INSERT INTO rooms (jid, password, status, created_at, status_changed_at)
VALUES ($1, $2, 'available', $3, $3) ON CONFLICT (jid) DO NOTHING";

const SELECT_ROOMS: &str =
    "SELECT id, jid, password, status, created_at, status_changed_at, staff_claim, client_claim,
       staff_nick, client_nick, closed_at, close_reason, last_message_at, staff_jid, client_jid,
       staff_claimed_at, client_claimed_at FROM rooms";

impl Store {
    /// Connects to `url` (`sqlite://FILE`, created if missing, or `postgres://…`).
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            // Switching a new file to WAL needs it to itself: when another process (the web
            // app, `helpim-bot rooms`) opens it at the same moment, SQLite answers "database is
            // locked" at once instead of waiting. Wait and try again.
            let mut attempt = 0u32;
            loop {
                let opened = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options.clone())
                    .await;
                match opened {
                    Ok(pool) => return Ok(Store::Sqlite(pool)),
                    Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some("5") && attempt < 50 =>
                    {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt.min(10))))
                            .await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            Ok(Store::Postgres(pool))
        }
    }

    /// Brings the schema up to date (the migrations in `migrations/`).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(pool) => {
                // sqlx takes no lock on SQLite, so two processes starting together (the bot and
                // `helpim-bot migrate`, say) can race. Each migration is one transaction: the
                // loser's fails whole, and on a second look it finds the winner's applied.
                let mut attempt = 0;
                loop {
                    match sqlx::migrate!("migrations/sqlite").run(pool).await {
                        Ok(()) => break,
                        Err(e) if attempt < 5 => {
                            attempt += 1;
                            tracing::debug!(error = %e, attempt, "migration raced another process; looking again");
                            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            // On PostgreSQL sqlx holds an advisory lock while it migrates.
            Store::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// For SQLite, takes the lock that lets one bot at a time run on the file: the guard holds
    /// it until dropped. Two bots on one SQLite file would both own its rooms. `None` for
    /// PostgreSQL, where a second instance waits as a standby instead.
    pub fn lock_single_instance(url: &str) -> anyhow::Result<Option<std::fs::File>> {
        if !url.starts_with("sqlite:") {
            return Ok(None);
        }
        let db = SqliteConnectOptions::from_str(url)?
            .get_filename()
            .to_path_buf();
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = db.with_file_name(name);
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another helpim-bot is already running on {} (it holds {}); with SQLite only one instance may run",
                db.display(),
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                anyhow::bail!("cannot lock {}: {e}", path.display())
            }
        }
    }

    /// Which database this is: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Records a newly created, configured room as `available`, with its creation event.
    pub async fn insert_room(&self, jid: &str, password: &str, at: Time) -> sqlx::Result<()> {
        let created = crate::core::room::Room::created(at);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_ROOM).bind(jid).bind(password).bind(DbTime(at)).execute(&mut *tx).await?;
            let added = sqlx::query(INSERT_EVENT)
                .bind(jid)
                .bind(DbTime(at))
                .bind(None::<String>)
                .bind(created.to.as_str())
                .bind(created.reason.as_str())
                .bind(None::<String>)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if added == 1 && self.kind() == "postgres" {
                sqlx::query(NOTIFY_STATUS)
                    .bind(jid)
                    .bind(None::<String>)
                    .bind(created.reason.as_str())
                    .bind(None::<String>)
                    .bind(DbTime(at))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    /// Records a status change in `rooms` and `room_events`, in one transaction (on PostgreSQL
    /// also announced to `LISTEN helpim_rooms`). A retried write that had landed already adds no
    /// second history row and announces nothing new.
    pub async fn record_transition(&self, jid: &str, t: &Transition) -> sqlx::Result<()> {
        let third = match t.to {
            Status::Staffed | Status::Busy => t.nick.clone(),
            Status::Closed => Some(t.reason.as_str().to_string()),
            Status::Available | Status::Closing => Some(t.to.as_str().to_string()),
        };
        match self {
            Store::Postgres(pool) => {
                // One statement, one round trip: a status change costs mostly round trips.
                sqlx::query(pg_transition_sql(t.to))
                    .bind(jid)
                    .bind(DbTime(t.at))
                    .bind(third)
                    .bind(t.from.map(Status::as_str))
                    .bind(t.to.as_str())
                    .bind(t.reason.as_str())
                    .bind(t.nick.clone())
                    .bind(t.jid.clone())
                    .execute(pool)
                    .await?;
                Ok(())
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let mut update = sqlx::query(sqlite_transition_sql(t.to))
                    .bind(jid)
                    .bind(DbTime(t.at))
                    .bind(third);
                if matches!(t.to, Status::Staffed | Status::Busy) {
                    update = update.bind(t.jid.clone());
                }
                update.execute(&mut *tx).await?;
                sqlx::query(INSERT_EVENT)
                    .bind(jid)
                    .bind(DbTime(t.at))
                    .bind(t.from.map(Status::as_str))
                    .bind(t.to.as_str())
                    .bind(t.reason.as_str())
                    .bind(t.nick.clone())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
        }
    }

    /// Stores chat message number `seq` of a room and sets `last_message_at`; storing the same
    /// `seq` again (a retried write) changes nothing.
    pub async fn record_message(
        &self,
        jid: &str,
        seq: i64,
        at: Time,
        nick: &str,
        role: Role,
        body: &str,
    ) -> sqlx::Result<()> {
        const INSERT: &str = "INSERT INTO messages (room_id, seq, at, nick, role, body)
            SELECT id, $2, $3, $4, $5, $6 FROM rooms WHERE jid = $1
            ON CONFLICT (room_id, seq) DO NOTHING";
        const LAST: &str = "UPDATE rooms SET last_message_at = $2 WHERE jid = $1";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT)
                .bind(jid)
                .bind(seq)
                .bind(DbTime(at))
                .bind(nick)
                .bind(role.as_str())
                .bind(body)
                .execute(&mut *tx)
                .await?;
            sqlx::query(LAST).bind(jid).bind(DbTime(at)).execute(&mut *tx).await?;
            tx.commit().await
        })
    }

    /// The highest message `seq` of every room that is not closed.
    pub async fn last_seqs(&self) -> sqlx::Result<Vec<(String, i64)>> {
        const SQL: &str =
            "SELECT r.jid, MAX(m.seq) FROM rooms r JOIN messages m ON m.room_id = r.id
            WHERE r.status <> 'closed' GROUP BY r.jid";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)?))).collect()
        })
    }

    /// The last few messages (up to ten) of every room that is not closed: room JID, time, nick
    /// and body, oldest first within a room. A rejoin asks the room for its history from just
    /// before the latest, and these tell which replayed lines are stored already.
    pub async fn recent_messages(&self) -> sqlx::Result<Vec<(String, Time, String, String)>> {
        const SQL: &str =
            "SELECT r.jid, m.at, m.nick, m.body FROM rooms r JOIN messages m ON m.room_id = r.id
            WHERE r.status <> 'closed' AND m.body IS NOT NULL
              AND m.seq > (SELECT MAX(seq) FROM messages WHERE room_id = r.id) - 10
            ORDER BY r.id, m.seq";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("jid")?, r.try_get("at")?, r.try_get("nick")?, r.try_get("body")?)))
                .collect()
        })
    }

    /// The id of a room given by id or JID.
    pub async fn room_id(&self, room: &str) -> sqlx::Result<Option<i64>> {
        const SQL: &str = "SELECT id FROM rooms WHERE jid = $1";
        if let Ok(id) = room.parse::<i64>() {
            return Ok(Some(id));
        }
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).bind(room).fetch_optional(pool).await?;
            row.map(|r| r.try_get(0)).transpose()
        })
    }

    /// The messages of room `room_id` with `seq` above `after`, in order (docs/database.md).
    pub async fn transcript(&self, room_id: i64, after: i64) -> sqlx::Result<Vec<MessageRow>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(TRANSCRIPT_AFTER).bind(room_id).bind(after).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok(MessageRow {
                    seq: r.try_get::<i64, _>(0)?,
                    at: r.try_get(1)?,
                    nick: r.try_get(2)?,
                    role: r.try_get(3)?,
                    body: r.try_get(4)?,
                }))
                .collect()
        })
    }

    /// Erases the bodies of messages received before `cutoff`; rows, `seq` and times stay.
    /// Returns how many bodies were erased.
    pub async fn prune(&self, cutoff: Time) -> sqlx::Result<u64> {
        const SQL: &str = "UPDATE messages SET body = NULL WHERE at < $1 AND body IS NOT NULL";
        on_pool!(self, pool => Ok(sqlx::query(SQL).bind(DbTime(cutoff)).execute(pool).await?.rows_affected()))
    }

    /// Sets `last_message_at`.
    pub async fn record_message_time(&self, jid: &str, at: Time) -> sqlx::Result<()> {
        const SQL: &str = "UPDATE rooms SET last_message_at = $2 WHERE jid = $1";
        on_pool!(self, pool => sqlx::query(SQL).bind(jid).bind(DbTime(at)).execute(pool).await.map(|_| ()))
    }

    /// Stores a new password and clears the client claim, if the claim is still `claimed_at`.
    pub async fn rotate_password(
        &self,
        jid: &str,
        password: &str,
        claimed_at: Time,
    ) -> sqlx::Result<bool> {
        // On SQLite the claim time may have been written by the web app in another text form:
        // compare as times, not as text.
        let sql = match self {
            Store::Postgres(_) => {
                "UPDATE rooms SET password = $2, client_claimed_at = NULL, client_claim = NULL
                 WHERE jid = $1 AND client_claimed_at = $3"
            }
            Store::Sqlite(_) => {
                "UPDATE rooms SET password = $2, client_claimed_at = NULL, client_claim = NULL
                 WHERE jid = $1 AND julianday(client_claimed_at) = julianday($3)"
            }
        };
        on_pool!(self, pool => sqlx::query(sql)
            .bind(jid)
            .bind(password)
            .bind(DbTime(claimed_at))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
    }

    /// The claims of one room, or `None` when there is no such row.
    pub async fn claims(&self, jid: &str) -> sqlx::Result<Option<Claims>> {
        const SQL: &str = "SELECT staff_claimed_at, client_claimed_at FROM rooms WHERE jid = $1";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).bind(jid).fetch_optional(pool).await?;
            row.map(|r| Ok(Claims { staff_at: r.try_get(0)?, client_at: r.try_get(1)? })).transpose()
        })
    }

    /// The claims of every `available` or `staffed` room that has one.
    pub async fn open_claims(&self) -> sqlx::Result<Vec<(String, Claims)>> {
        const SQL: &str = "SELECT jid, staff_claimed_at, client_claimed_at FROM rooms
            WHERE status IN ('available', 'staffed')
              AND (staff_claimed_at IS NOT NULL OR client_claimed_at IS NOT NULL)";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.into_iter()
                .map(|r| Ok((r.try_get(0)?, Claims { staff_at: r.try_get(1)?, client_at: r.try_get(2)? })))
                .collect()
        })
    }

    /// The web application's claim (docs/database.md), atomically; `None` when no room is free.
    pub async fn claim(&self, kind: ClaimKind, label: &str) -> sqlx::Result<Option<ClaimedRoom>> {
        let sql = match (self, kind) {
            (Store::Sqlite(_), ClaimKind::Staff) => CLAIM_STAFF_SQLITE,
            (Store::Sqlite(_), ClaimKind::Client) => CLAIM_CLIENT_SQLITE,
            (Store::Postgres(_), ClaimKind::Staff) => CLAIM_STAFF_POSTGRES,
            (Store::Postgres(_), ClaimKind::Client) => CLAIM_CLIENT_POSTGRES,
        };
        on_pool!(self, pool => {
            let row = sqlx::query(sql).bind(label).fetch_optional(pool).await?;
            row.map(|r| Ok(ClaimedRoom { id: r.try_get(0)?, jid: r.try_get(1)?, password: r.try_get(2)? }))
                .transpose()
        })
    }

    /// Every room, newest first; closed ones only with `include_closed`.
    pub async fn rooms(&self, include_closed: bool) -> sqlx::Result<Vec<RoomRow>> {
        let sql = if include_closed {
            format!("{SELECT_ROOMS} ORDER BY id DESC")
        } else {
            format!("{SELECT_ROOMS} WHERE status <> 'closed' ORDER BY id DESC")
        };
        on_pool!(self, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(room_row).collect()
        })
    }

    /// One room by JID.
    pub async fn room(&self, jid: &str) -> sqlx::Result<Option<RoomRow>> {
        let sql = format!("{SELECT_ROOMS} WHERE jid = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(&sql).bind(jid).fetch_optional(pool).await?;
            row.as_ref().map(room_row).transpose()
        })
    }

    /// The history of one room, oldest first.
    pub async fn events(&self, jid: &str) -> sqlx::Result<Vec<EventRow>> {
        const SQL: &str =
            "SELECT e.at, e.from_status, e.to_status, e.reason, e.nick FROM room_events e
            JOIN rooms r ON r.id = e.room_id WHERE r.jid = $1 ORDER BY e.id";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(jid).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok(EventRow {
                    at: r.try_get(0)?,
                    from_status: r.try_get(1)?,
                    to_status: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    nick: r.try_get(4)?,
                }))
                .collect()
        })
    }

    /// Closes the connections.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

fn room_row<R: Row>(r: &R) -> sqlx::Result<RoomRow>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Time: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let status: String = r.try_get("status")?;
    Ok(RoomRow {
        id: r.try_get("id")?,
        jid: r.try_get("jid")?,
        password: r.try_get("password")?,
        status: Status::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown status {status:?}").into()))?,
        created_at: r.try_get("created_at")?,
        status_changed_at: r.try_get("status_changed_at")?,
        staff_claim: r.try_get("staff_claim")?,
        client_claim: r.try_get("client_claim")?,
        staff_nick: r.try_get("staff_nick")?,
        client_nick: r.try_get("client_nick")?,
        closed_at: r.try_get("closed_at")?,
        close_reason: r.try_get("close_reason")?,
        last_message_at: r.try_get("last_message_at")?,
        staff_jid: r.try_get("staff_jid")?,
        client_jid: r.try_get("client_jid")?,
        staff_claimed_at: r.try_get("staff_claimed_at")?,
        client_claimed_at: r.try_get("client_claimed_at")?,
    })
}
