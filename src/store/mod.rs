//! The database: connections, migrations, and the SQL contract with the web application
//! (docs/database.md) as a Rust API for the bot and the CLI.
//!
//! One [`Store`] serves SQLite (the embedded default) and PostgreSQL (shared with the web
//! application). Every statement lives in [`sql`], its SQLite and PostgreSQL texts side by side;
//! this module runs them and reads their rows into the structs of `rows.rs`, which derive
//! `sqlx::FromRow` (by column name, the same on both databases). Times are `TIMESTAMPTZ` on
//! PostgreSQL and ISO-8601 UTC text on SQLite ([`DbTime`]).

mod query;
mod rows;
pub mod sql;

use std::str::FromStr;
use std::time::Duration;

use chrono::SecondsFormat;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Postgres, Row, Sqlite};

use crate::core::effects::{EndedChat, Line, LiveChat, Stored};
pub use crate::core::queue::{Enqueued, Swept};
use crate::core::types::{Claims, Role, Status, Supervision, Time, Transition};
pub use sql::{
    CLAIM_CLIENT_POSTGRES, CLAIM_CLIENT_SQLITE, CLAIM_STAFF_POSTGRES, CLAIM_STAFF_SQLITE,
    NOTIFY_CHANNEL, RECLAIM_CLIENT_POSTGRES, RECLAIM_CLIENT_SQLITE, ROOM_STATUS, TRANSCRIPT_AFTER,
};

use rows::{AssignedRoom, AssignedVisitor, ChatOfVisitor, ClaimsRow, OpenClaimsRow};
pub use rows::{
    Assignment, ClaimedRoom, EventRow, FeedbackRow, HandoverRow, MessageRow, NoteRow, QueueRecord,
    QueueRow, QueueState, RegistrationRow, RoomRow, SupervisionRow, WaitingVisitor,
};

/// A database, SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub enum Store {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// The production database shared with the web application.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds; with `$sql`, also with
/// `$text` bound to that statement's text in the store's dialect.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
    ($store:expr, $sql:expr, $pool:ident, $text:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => {
                let $text = $sql.sqlite;
                $body
            }
            Store::Postgres($pool) => {
                let $text = $sql.postgres;
                $body
            }
        }
    };
}

/// The answers to the questions before the chat a visitor queues with, and the priority they
/// give (SPEC §14).
#[derive(Debug, Clone, Copy, Default)]
pub struct Answers<'a> {
    /// 0, or 1 ahead of those without.
    pub priority: i64,
    /// Why, in staff's words.
    pub reason: Option<&'a str>,
    /// Question, answer, kept for the reports after the row ends.
    pub answers: &'a [(String, String, bool)],
    /// The answers could not be taken: only an open row is taken up again, none is made.
    pub unanswered: bool,
}

/// Which role a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// A staff member takes an `available` room.
    Staff,
    /// A client takes a `staffed` room.
    Client,
}

/// The figures of the statistics report as the statements give them, each list by period
/// (`sql::STATS_*`); `stats::Report` puts them together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsFigures {
    /// `period, chats`.
    pub chats: Vec<(String, i64)>,
    /// `period, status, visitors` for `left`, `expired` and `missed`.
    pub queue_ends: Vec<(String, String, i64)>,
    /// `period, served, p50, p90, max` of the waiting times, in seconds.
    pub waits: Vec<(String, i64, f64, f64, f64)>,
    /// `period, ended, p50, p90` of the chats' durations, in seconds.
    pub durations: Vec<(String, i64, f64, f64)>,
    /// `period, reason, rooms` closed.
    pub closed: Vec<(String, String, i64)>,
    /// `period, blocks`.
    pub blocks: Vec<(String, i64)>,
    /// `period, kind, n` of the `supervision` rows (`watch`, `whisper`, `help`).
    pub supervision: Vec<(String, String, i64)>,
    /// `period, handovers, done`.
    pub handovers: Vec<(String, i64, i64)>,
    /// `period, chats` begun whose visitor had priority.
    pub priority: Vec<(String, i64)>,
    /// `period, question, answer, n` of the answers before the chat kept for statistics.
    pub before: Vec<(String, String, String, i64)>,
    /// `period, question, answer, n` of the registrations' choice answers.
    pub registered: Vec<(String, String, String, i64)>,
    /// `period, missing`: chats ended without a registration.
    pub registrations_missing: Vec<(String, i64)>,
    /// `period, question, answer, n` of the visitors' feedback.
    pub feedback: Vec<(String, String, String, i64)>,
}

/// One staff member's line of `stats --by staff` (`sql::STATS_BY_STAFF`): counts only.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StaffFigures {
    /// The staff member's bare JID (empty for a chat that names none).
    pub staff: String,
    /// Chats begun.
    pub chats: i64,
    /// Minutes in the chats that ended.
    pub minutes: f64,
    /// Chats ended without a registration.
    pub registrations_missing: i64,
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

impl Store {
    /// The text of `statement` in this store's dialect.
    fn text(&self, statement: sql::Sql) -> &'static str {
        match self {
            Store::Sqlite(_) => statement.sqlite,
            Store::Postgres(_) => statement.postgres,
        }
    }

    /// Connects to `url` (`sqlite://FILE`, created if missing, or `postgres://…`).
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // What is erased is overwritten with zeros in the file (docs/database.md).
                .pragma("secure_delete", "ON")
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
            // TLS as the URL's `sslmode` says (`require`, `verify-ca`, `verify-full`, with
            // `sslrootcert` for a private CA); config.rs refuses plain text off this machine.
            let options = PgConnectOptions::from_str(url)?;
            let tls = match options.get_ssl_mode() {
                PgSslMode::Require => Some("require"),
                PgSslMode::VerifyCa => Some("verify-ca"),
                PgSslMode::VerifyFull => Some("verify-full"),
                PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer => None,
            };
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(|e| {
                    // rustls reports a refused certificate as an I/O error: say it was TLS, and
                    // what a verified certificate must be.
                    let Some(mode) = tls else { return e.into() };
                    let what = match mode {
                        _ if !e.to_string().contains("certificate") => "",
                        "verify-ca" => ": the server's certificate must be signed by the CA of sslrootcert or a CA of the system",
                        "verify-full" => ": the server's certificate must be signed by the CA of sslrootcert or a CA of the system, and name the URL's host",
                        _ => "",
                    };
                    anyhow::anyhow!("{e} (TLS, sslmode={mode}{what})")
                })?;
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

    /// Which database this is: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Records a newly created, configured room as `available`, with its creation event (on
    /// PostgreSQL also announced to `LISTEN helpim_rooms`).
    pub async fn insert_room(&self, jid: &str, password: &str, at: Time) -> sqlx::Result<()> {
        self.insert_rooms(&[(jid, password, at)]).await
    }

    /// Records new rooms (`jid`, `password`, created `at`) in one transaction: a pool filling
    /// commits once for many rooms. As [`Store::insert_room`] for each.
    pub async fn insert_rooms(&self, rooms: &[(&str, &str, Time)]) -> sqlx::Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (jid, password, at) in rooms {
                for statement in sql::INSERT_ROOM.iter() {
                    sqlx::query(self.text(*statement)).bind(*jid).bind(*password).bind(DbTime(*at)).execute(&mut *tx).await?;
                }
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
        let (sqlite, postgres) = sql::transition(t.to);
        on_pool!(self, pool => {
            let text = match self {
                Store::Sqlite(_) => sqlite,
                Store::Postgres(_) => postgres,
            };
            let mut tx = pool.begin().await?;
            sqlx::query(text)
                .bind(jid)
                .bind(DbTime(t.at))
                .bind(third)
                .bind(t.from.map(Status::as_str))
                .bind(t.to.as_str())
                .bind(t.reason.as_str())
                .bind(t.nick.clone())
                .bind(t.jid.clone())
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
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
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for statement in sql::RECORD_MESSAGE {
                sqlx::query(self.text(statement))
                    .bind(jid)
                    .bind(seq)
                    .bind(DbTime(at))
                    .bind(nick)
                    .bind(role.as_str())
                    .bind(body)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    /// The highest message `seq` of every room that is not closed.
    pub async fn last_seqs(&self) -> sqlx::Result<Vec<(String, i64)>> {
        on_pool!(self, sql::LAST_SEQS, pool, text => {
            let rows = sqlx::query(text).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get("jid")?, r.try_get("last_seq")?))).collect()
        })
    }

    /// The last few messages (up to ten) of every room that is not closed: room JID, time, nick
    /// and body, oldest first within a room. A rejoin asks the room for its history from just
    /// before the latest, and these tell which replayed lines are stored already.
    pub async fn recent_messages(&self) -> sqlx::Result<Vec<(String, Time, String, String)>> {
        on_pool!(self, sql::RECENT_MESSAGES, pool, text => {
            let rows = sqlx::query(text).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("jid")?, r.try_get("at")?, r.try_get("nick")?, r.try_get("body")?)))
                .collect()
        })
    }

    /// The id of a room given by id or JID.
    pub async fn room_id(&self, room: &str) -> sqlx::Result<Option<i64>> {
        if let Ok(id) = room.parse::<i64>() {
            return Ok(Some(id));
        }
        on_pool!(self, sql::ROOM_ID, pool, text => {
            let row = sqlx::query(text).bind(room).fetch_optional(pool).await?;
            row.map(|r| r.try_get("id")).transpose()
        })
    }

    /// The messages of room `room_id` with `seq` above `after`, in order (docs/database.md).
    pub async fn transcript(&self, room_id: i64, after: i64) -> sqlx::Result<Vec<MessageRow>> {
        on_pool!(self, pool => {
            sqlx::query_as(TRANSCRIPT_AFTER).bind(room_id).bind(after).fetch_all(pool).await
        })
    }

    /// Erases the bodies of messages received before `cutoff`; rows, `seq` and times stay.
    /// Returns how many bodies were erased.
    pub async fn prune(&self, cutoff: Time) -> sqlx::Result<u64> {
        let erased = on_pool!(self, sql::PRUNE, pool, text => {
            sqlx::query(text).bind(DbTime(cutoff)).execute(pool).await?.rows_affected()
        });
        // The notes about a chat (whispers) go with its transcript.
        let notes = on_pool!(self, sql::PRUNE_NOTES, pool, text => {
            sqlx::query(text).bind(DbTime(cutoff)).execute(pool).await?.rows_affected()
        });
        // The free text of registrations goes with it, and feedback not kept for the reports.
        let registrations = on_pool!(self, sql::PRUNE_REGISTRATION_ANSWERS, pool, text => {
            sqlx::query(text).bind(DbTime(cutoff)).execute(pool).await?.rows_affected()
        });
        let feedback = on_pool!(self, sql::PRUNE_FEEDBACK, pool, text => {
            sqlx::query(text).bind(DbTime(cutoff)).execute(pool).await?.rows_affected()
        });
        let erased = erased + notes + registrations + feedback;
        // Gone from the file too: zeroed (secure_delete) and out of the write-ahead log.
        if erased > 0 {
            self.checkpoint().await?;
        }
        Ok(erased)
    }

    /// The chat in room `jid` has closed: its client's nick, topic and real JID are erased from
    /// `rooms`, `room_events`, `messages` and `queue` (docs/database.md, "What is kept of
    /// visitors"); on SQLite the write-ahead log is then emptied into the file. Nothing happens
    /// to a room that is not closed.
    pub async fn forget_visitor(&self, jid: &str) -> sqlx::Result<()> {
        let erased = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut erased = 0;
            for statement in sql::FORGET_VISITOR {
                erased += sqlx::query(self.text(statement)).bind(jid).execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            erased
        });
        if erased > 0 {
            self.checkpoint().await?;
        }
        Ok(())
    }

    /// Queue rows that ended without a chat (`left`, `expired`, `missed`) lose nick, topic and
    /// JID; with `rooms`, also the closed rooms whose client is still named (at start: a bot
    /// stopped between a closing and its erasure). Returns how many rows were erased.
    pub async fn forget_ended(&self, rooms: bool) -> sqlx::Result<u64> {
        let mut erased = on_pool!(self, sql::FORGET_ENDED_QUEUE, pool, text => {
            sqlx::query(text).execute(pool).await?.rows_affected()
        });
        erased += on_pool!(self, sql::FORGET_ENDED_ANSWERS, pool, text => {
            sqlx::query(text).execute(pool).await?.rows_affected()
        });
        if rooms {
            let jids: Vec<String> = on_pool!(self, sql::NOT_FORGOTTEN_ROOMS, pool, text => {
                let rows = sqlx::query(text).fetch_all(pool).await?;
                rows.iter().map(|r| r.try_get("jid")).collect::<sqlx::Result<_>>()?
            });
            for jid in &jids {
                on_pool!(self, pool => {
                    let mut tx = pool.begin().await?;
                    for statement in sql::FORGET_VISITOR {
                        erased += sqlx::query(self.text(statement)).bind(jid).execute(&mut *tx).await?.rows_affected();
                    }
                    tx.commit().await?;
                });
            }
        }
        if erased > 0 {
            self.checkpoint().await?;
        }
        Ok(erased)
    }

    /// The answers to the questions before the chat not kept for the reports are erased, names
    /// kept (`privacy.keep_visitor_names`): of the chat in closed room `jid`, or with `None` of
    /// the queue rows that ended without a chat.
    pub async fn forget_answers(&self, jid: Option<&str>) -> sqlx::Result<()> {
        let erased = match jid {
            Some(jid) => on_pool!(self, sql::FORGET_VISITOR[4], pool, text => {
                sqlx::query(text).bind(jid).execute(pool).await?.rows_affected()
            }),
            None => on_pool!(self, sql::FORGET_ENDED_ANSWERS, pool, text => {
                sqlx::query(text).execute(pool).await?.rows_affected()
            }),
        };
        if erased > 0 {
            self.checkpoint().await?;
        }
        Ok(())
    }

    /// SQLite: copies the write-ahead log, which still holds pages as they were before an
    /// erasure, into the database file and empties it. PostgreSQL: nothing (its vacuum is the
    /// help line's, docs/database.md).
    async fn checkpoint(&self) -> sqlx::Result<()> {
        let Store::Sqlite(pool) = self else {
            return Ok(());
        };
        // A reader of an older snapshot (the web application) holds frames back; SQLite waits for
        // it up to the busy timeout, then answers `busy`: try again a few times.
        for attempt in 1..=20u64 {
            let row = sqlx::query(sql::CHECKPOINT_SQLITE).fetch_one(pool).await?;
            let busy: i64 = row.try_get(0)?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
        }
        tracing::warn!("the write-ahead log could not be emptied after an erasure (a reader held it); SQLite empties it later");
        Ok(())
    }

    /// Sets `last_message_at`.
    pub async fn record_message_time(&self, jid: &str, at: Time) -> sqlx::Result<()> {
        on_pool!(self, sql::MESSAGE_TIME, pool, text => {
            sqlx::query(text).bind(jid).bind(DbTime(at)).execute(pool).await.map(|_| ())
        })
    }

    /// Stores a new password and clears the client claim, if the claim is still `claimed_at`; the
    /// visitor the room was assigned to has then `missed` it.
    pub async fn rotate_password(
        &self,
        jid: &str,
        password: &str,
        claimed_at: Time,
    ) -> sqlx::Result<bool> {
        on_pool!(self, sql::ROTATE_PASSWORD, pool, text => {
            let mut tx = pool.begin().await?;
            sqlx::query(self.text(sql::MISSED)).bind(jid).execute(&mut *tx).await?;
            let rotated = sqlx::query(text)
                .bind(jid)
                .bind(password)
                .bind(DbTime(claimed_at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            tx.commit().await?;
            Ok(rotated)
        })
    }

    /// The claims of one room, or `None` when there is no such row.
    pub async fn claims(&self, jid: &str) -> sqlx::Result<Option<Claims>> {
        on_pool!(self, sql::CLAIMS, pool, text => {
            let row: Option<ClaimsRow> = sqlx::query_as(text).bind(jid).fetch_optional(pool).await?;
            Ok(row.map(Claims::from))
        })
    }

    /// The claims of every `available` or `staffed` room that has one.
    pub async fn open_claims(&self) -> sqlx::Result<Vec<(String, Claims)>> {
        on_pool!(self, sql::OPEN_CLAIMS, pool, text => {
            let rows: Vec<OpenClaimsRow> = sqlx::query_as(text).fetch_all(pool).await?;
            Ok(rows.into_iter().map(|r| (r.jid, r.claims.into())).collect())
        })
    }

    /// The web application's claim (docs/database.md), atomically; `None` when no room is free.
    pub async fn claim(&self, kind: ClaimKind, label: &str) -> sqlx::Result<Option<ClaimedRoom>> {
        let statement = match kind {
            ClaimKind::Staff => sql::CLAIM_STAFF,
            ClaimKind::Client => sql::CLAIM_CLIENT,
        };
        on_pool!(self, statement, pool, text => {
            sqlx::query_as(text).bind(label).fetch_optional(pool).await
        })
    }

    /// The web application's re-claim (docs/database.md): the client of the chat in room `jid`,
    /// claimed with `label`, comes back with a new JID; the fresh claim lets the bot seat that
    /// JID within the grace. `None` when the room is not a chat of that label.
    pub async fn reclaim_client(
        &self,
        jid: &str,
        label: &str,
    ) -> sqlx::Result<Option<ClaimedRoom>> {
        on_pool!(self, sql::RECLAIM_CLIENT, pool, text => {
            sqlx::query_as(text).bind(jid).bind(label).fetch_optional(pool).await
        })
    }

    /// Queues a visitor (the web application's or the bot's enqueue, docs/database.md):
    /// `visitor` its label, `jid` its full JID when it came over XMPP; refused when the label
    /// is blocked or the queue holds `max_length` waiting visitors. A visitor already waiting
    /// keeps their row and place; over XMPP the row then follows the new session.
    pub async fn enqueue(
        &self,
        visitor: &str,
        jid: Option<&str>,
        nick: &str,
        topic: Option<&str>,
        max_length: u32,
    ) -> sqlx::Result<Enqueued> {
        self.enqueue_answered(visitor, jid, nick, topic, max_length, &Answers::default())
            .await
    }

    /// [`Store::enqueue`] with the answers to the questions before the chat and the priority
    /// they give (SPEC §14), recorded with the new row in one transaction. A visitor already
    /// queued keeps their row, its priority and its answers.
    pub async fn enqueue_answered(
        &self,
        visitor: &str,
        jid: Option<&str>,
        nick: &str,
        topic: Option<&str>,
        max_length: u32,
        answered: &Answers<'_>,
    ) -> sqlx::Result<Enqueued> {
        // One insertion at a time on PostgreSQL (the queue's length holds under concurrency);
        // a second open row of the same session that slips past the statement's own check is
        // stopped by `queue_open_jid` and answered as a refusal like any other.
        let inserted: Option<i64> = if answered.unanswered {
            None
        } else {
            on_pool!(self, sql::ENQUEUE, pool, text => {
                let mut tx = pool.begin().await?;
                if matches!(self, Store::Postgres(_)) {
                    sqlx::query(sql::QUEUE_LOCK).execute(&mut *tx).await?;
                }
                let row = sqlx::query(text)
                    .bind(visitor)
                    .bind(jid)
                    .bind(nick)
                    .bind(topic)
                    .bind(i64::from(max_length))
                    .fetch_optional(&mut *tx)
                    .await;
                let id: Option<i64> = match row {
                    Ok(row) => row.map(|r| r.try_get("id")).transpose()?,
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => None,
                    Err(e) => return Err(e),
                };
                if let Some(id) = id {
                    if answered.priority != 0 || answered.reason.is_some() {
                        sqlx::query(self.text(sql::QUEUE_PRIORITY))
                            .bind(id)
                            .bind(answered.priority as i32)
                            .bind(answered.reason)
                            .execute(&mut *tx)
                            .await?;
                    }
                    for (question, answer, kept) in answered.answers {
                        sqlx::query(self.text(sql::INSERT_QUEUE_ANSWER))
                            .bind(id)
                            .bind(question)
                            .bind(answer)
                            .bind(*kept)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                id
            })
        };
        if let Some(id) = inserted {
            return Ok(Enqueued::Queued(id));
        }
        on_pool!(self, pool => {
            let row = sqlx::query(self.text(sql::ENQUEUE_REFUSAL))
                .bind(visitor)
                .bind(jid)
                .fetch_one(pool)
                .await?;
            let open: Option<i64> = row.try_get("open_id")?;
            let blocked: bool = row.try_get("blocked")?;
            Ok(match (open, blocked) {
                (_, true) => Enqueued::Blocked,
                (Some(id), false) => {
                    if let Some(jid) = jid {
                        sqlx::query(self.text(sql::REQUEUE_JID)).bind(id).bind(jid).execute(pool).await?;
                    }
                    Enqueued::AlreadyQueued(id)
                }
                (None, false) if answered.unanswered => Enqueued::Unanswered,
                (None, false) => Enqueued::Full,
            })
        })
    }

    /// The answers of queue row `id` to the questions before the chat: question, answer.
    pub async fn queue_answers(&self, id: i64) -> sqlx::Result<Vec<(String, String)>> {
        on_pool!(self, sql::QUEUE_ANSWERS, pool, text => {
            let rows = sqlx::query(text).bind(id).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("question")?, r.try_get("answer")?)))
                .collect()
        })
    }

    /// Every row of `queue_answers`: queue row, question, answer, kept (tests and audits).
    pub async fn all_queue_answers(&self) -> sqlx::Result<Vec<(i64, String, String, bool)>> {
        on_pool!(self, sql::ALL_QUEUE_ANSWERS, pool, text => {
            let rows = sqlx::query(text).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("queue_id")?,
                        r.try_get("question")?,
                        r.try_get("answer")?,
                        r.try_get("kept")?,
                    ))
                })
                .collect()
        })
    }

    /// A queue row as its visitor sees it; `None` when there is no such row.
    pub async fn queue_state(&self, id: i64) -> sqlx::Result<Option<QueueState>> {
        on_pool!(self, sql::QUEUE_POSITION, pool, text => {
            sqlx::query_as(text).bind(id).fetch_optional(pool).await
        })
    }

    /// The web application keeps a visitor it queued alive; false when the row is not open.
    pub async fn keep_alive(&self, id: i64) -> sqlx::Result<bool> {
        on_pool!(self, sql::KEEP_ALIVE, pool, text => {
            Ok(sqlx::query(text).bind(id).execute(pool).await?.rows_affected() == 1)
        })
    }

    /// A visitor leaves the queue; false when the row was not open.
    pub async fn leave_queue(&self, id: i64) -> sqlx::Result<bool> {
        on_pool!(self, sql::LEAVE_QUEUE, pool, text => {
            Ok(sqlx::query(text).bind(id).execute(pool).await?.rows_affected() == 1)
        })
    }

    /// The waiting visitors, first in line first.
    pub async fn waiting(&self) -> sqlx::Result<Vec<WaitingVisitor>> {
        on_pool!(self, sql::WAITING, pool, text => {
            sqlx::query_as(text).fetch_all(pool).await
        })
    }

    /// Gives the first waiting visitor the longest-waiting staffed room without a client claim,
    /// atomically (two bots, or a bot and a web application, never give one room or one visitor
    /// twice); `None` when there is no such pair.
    pub async fn assign_next(&self) -> sqlx::Result<Option<Assignment>> {
        match self {
            Store::Postgres(pool) => {
                sqlx::query_as(sql::ASSIGN_NEXT_POSTGRES)
                    .fetch_optional(pool)
                    .await
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let Some(room): Option<AssignedRoom> = sqlx::query_as(sql::ASSIGN_ROOM_SQLITE)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let visitor: AssignedVisitor = sqlx::query_as(sql::ASSIGN_VISITOR_SQLITE)
                    .bind(room.id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(Assignment::of(room, visitor)))
            }
        }
    }

    /// The bot's sweep of the queue: visitors waiting longer than `max_wait` expire, visitors
    /// queued over SQL and not kept alive for `visitor_timeout` have left. Returns how many wait;
    /// with `places` (the pace window), also the places of the visitors over XMPP and when
    /// visitors were given a room within that window.
    pub async fn sweep_queue(
        &self,
        max_wait: Duration,
        visitor_timeout: Duration,
        return_grace: Duration,
        places: Option<Duration>,
    ) -> sqlx::Result<Swept> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for statement in sql::SWEEP_QUEUE {
                sqlx::query(self.text(statement))
                    .bind(max_wait.as_secs_f64())
                    .bind(visitor_timeout.as_secs_f64())
                    .bind(return_grace.as_secs_f64())
                    .execute(&mut *tx)
                    .await?;
            }
            let row = sqlx::query(self.text(sql::WAITING_COUNT)).fetch_one(&mut *tx).await?;
            let (waiting, oldest) = (row.try_get("waiting")?, row.try_get("oldest")?);
            let newest: Option<i64> = row.try_get("newest")?;
            let places = if let Some(pace_window) = places {
                let over_xmpp = sqlx::query(self.text(sql::WAITING_OVER_XMPP))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("jid")?, r.try_get("position")?)))
                    .collect::<sqlx::Result<Vec<_>>>()?;
                let pace = sqlx::query(self.text(sql::PACE))
                    .bind(pace_window.as_secs_f64())
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get("at"))
                    .collect::<sqlx::Result<Vec<_>>>()?;
                Some((over_xmpp, pace))
            } else {
                None
            };
            tx.commit().await?;
            Ok(Swept { waiting, oldest, newest, places })
        })
    }

    /// Records that a handover of room `jid` began (a retried write adds no second row).
    pub async fn handover_offered(
        &self,
        jid: &str,
        from_jid: &str,
        to_jid: Option<&str>,
        note: Option<&str>,
        at: Time,
    ) -> sqlx::Result<()> {
        on_pool!(self, sql::HANDOVER_OFFERED, pool, text => {
            sqlx::query(text).bind(jid).bind(from_jid).bind(to_jid).bind(note).bind(DbTime(at))
                .execute(pool).await.map(|_| ())
        })
    }

    /// Records who took the open handover to the queue of room `jid`.
    pub async fn handover_taken(&self, jid: &str, by: &str) -> sqlx::Result<()> {
        on_pool!(self, sql::HANDOVER_TAKEN, pool, text => {
            sqlx::query(text).bind(jid).bind(by).execute(pool).await.map(|_| ())
        })
    }

    /// Records how the open handover of room `jid` ended.
    pub async fn handover_ended(&self, jid: &str, outcome: &str, at: Time) -> sqlx::Result<()> {
        on_pool!(self, sql::HANDOVER_ENDED, pool, text => {
            sqlx::query(text).bind(jid).bind(DbTime(at)).bind(outcome).execute(pool).await.map(|_| ())
        })
    }

    /// The topic the visitor of room `jid` gave, if any.
    pub async fn visitor_topic(&self, jid: &str) -> sqlx::Result<Option<String>> {
        on_pool!(self, sql::VISITOR_TOPIC, pool, text => {
            let row = sqlx::query(text).bind(jid).fetch_optional(pool).await?;
            Ok(row.and_then(|r| r.try_get::<Option<String>, _>("topic").ok().flatten()))
        })
    }

    /// The open handovers of rooms that are not closed, oldest first (for a restart).
    pub async fn open_handovers(&self) -> sqlx::Result<Vec<HandoverRow>> {
        on_pool!(self, sql::OPEN_HANDOVERS, pool, text => {
            sqlx::query_as(text).fetch_all(pool).await
        })
    }

    /// Every handover of room `jid`, oldest first.
    pub async fn handovers(&self, jid: &str) -> sqlx::Result<Vec<HandoverRow>> {
        on_pool!(self, sql::HANDOVERS, pool, text => {
            sqlx::query_as(text).bind(jid).fetch_all(pool).await
        })
    }

    /// A visitor over XMPP whose session ended leaves the queue (if they were waiting or assigned).
    pub async fn visitor_gone(&self, jid: &str) -> sqlx::Result<()> {
        on_pool!(self, sql::VISITOR_GONE, pool, text => {
            sqlx::query(text).bind(jid).execute(pool).await.map(|_| ())
        })
    }

    /// A visitor over XMPP leaves the queue; false when they had no open row.
    pub async fn leave_queue_by_jid(&self, jid: &str) -> sqlx::Result<bool> {
        on_pool!(self, sql::LEAVE_QUEUE_BY_JID, pool, text => {
            Ok(sqlx::query(text).bind(jid).execute(pool).await?.rows_affected() > 0)
        })
    }

    /// A new session (`jid`) of the visitor `label` takes up their chat: an `assigned` row just
    /// moves to the new JID; a `served` one also gets a fresh client claim (the re-claim of
    /// docs/database.md §5), which lets the bot seat the new JID within the grace. Returns the
    /// room's JID, or `None` when the label has no open chat.
    pub async fn resume(&self, label: &str, jid: &str) -> sqlx::Result<Option<String>> {
        let chat: Option<ChatOfVisitor> = on_pool!(self, sql::CHAT_OF_VISITOR, pool, text => {
            sqlx::query_as(text).bind(label).fetch_optional(pool).await?
        });
        let Some(chat) = chat else {
            return Ok(None);
        };
        if chat.status == "served" && self.reclaim_client(&chat.room_jid, label).await?.is_none() {
            return Ok(None);
        }
        on_pool!(self, sql::MOVE_VISITOR, pool, text => {
            sqlx::query(text).bind(chat.id).bind(jid).execute(pool).await?;
        });
        Ok(Some(chat.room_jid))
    }

    /// Pick mode: the waiting visitor of row `queue_id` gets the staffed room `room_jid` (which has
    /// no client claim yet), both or neither; `None` when someone else took either first.
    pub async fn pick(&self, room_jid: &str, queue_id: i64) -> sqlx::Result<Option<Assignment>> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let Some(room): Option<AssignedRoom> = sqlx::query_as(self.text(sql::PICK_ROOM))
                .bind(room_jid)
                .bind(queue_id)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(None);
            };
            let Some(visitor): Option<AssignedVisitor> = sqlx::query_as(self.text(sql::PICK_VISITOR))
                .bind(room.id)
                .bind(queue_id)
                .fetch_optional(&mut *tx)
                .await?
            else {
                // Taken by someone else between the two statements: undo the room's claim.
                tx.rollback().await?;
                return Ok(None);
            };
            tx.commit().await?;
            Ok(Some(Assignment::of(room, visitor)))
        })
    }

    /// Blocks the visitor whose label holds the client claim of room `room_jid` (see
    /// [`Store::block`]); returns the label, or `None` when the room has no client claim.
    pub async fn block_room_visitor(
        &self,
        room_jid: &str,
        until: Option<Time>,
        reason: &str,
        by: &str,
    ) -> sqlx::Result<Option<String>> {
        let label: Option<String> = on_pool!(self, sql::ROOM_CLIENT_LABEL, pool, text => {
            match sqlx::query(text).bind(room_jid).fetch_optional(pool).await? {
                Some(r) => r.try_get("client_claim")?,
                None => None,
            }
        });
        let Some(label) = label else {
            return Ok(None);
        };
        self.block(&label, until, reason, by).await?;
        Ok(Some(label))
    }

    /// Blocks a visitor label (until `until`, or for good), with a reason and who did it;
    /// their open queue row is closed.
    pub async fn block(
        &self,
        visitor: &str,
        until: Option<Time>,
        reason: &str,
        by: &str,
    ) -> sqlx::Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for statement in sql::BLOCK {
                sqlx::query(self.text(statement))
                    .bind(visitor)
                    .bind(until.map(DbTime))
                    .bind(reason)
                    .bind(by)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    /// Lifts the blocks of a visitor label; false when there was none in force.
    pub async fn unblock(&self, visitor: &str) -> sqlx::Result<bool> {
        on_pool!(self, sql::UNBLOCK, pool, text => {
            Ok(sqlx::query(text).bind(visitor).execute(pool).await?.rows_affected() > 0)
        })
    }

    /// The statistics report's figures for times from `since` to before `until`, per period
    /// named by `per` (`sql::STATS_PER_DAY`, `STATS_PER_HOUR` or `STATS_WHOLE`): one statement
    /// per figure.
    pub async fn stats(
        &self,
        since: Time,
        until: Time,
        per: sql::Sql,
    ) -> sqlx::Result<StatsFigures> {
        let (since, until) = (DbTime(since), DbTime(until));
        let format = self.text(per);
        on_pool!(self, pool => {
            let run = |statement: sql::Sql| {
                sqlx::query(self.text(statement)).bind(since).bind(until).bind(format).fetch_all(pool)
            };
            let period = |r: &_| -> sqlx::Result<String> { Row::try_get(r, "period") };
            let mut f = StatsFigures::default();
            for r in run(sql::STATS_CHATS).await? {
                f.chats.push((period(&r)?, r.try_get("chats")?));
            }
            for r in run(sql::STATS_QUEUE_ENDS).await? {
                f.queue_ends.push((period(&r)?, r.try_get("status")?, r.try_get("visitors")?));
            }
            for r in run(sql::STATS_WAITS).await? {
                f.waits.push((period(&r)?, r.try_get("served")?, r.try_get("p50")?, r.try_get("p90")?, r.try_get("max")?));
            }
            for r in run(sql::STATS_DURATIONS).await? {
                f.durations.push((period(&r)?, r.try_get("ended")?, r.try_get("p50")?, r.try_get("p90")?));
            }
            for r in run(sql::STATS_CLOSED).await? {
                f.closed.push((period(&r)?, r.try_get("reason")?, r.try_get("rooms")?));
            }
            for r in run(sql::STATS_BLOCKS).await? {
                f.blocks.push((period(&r)?, r.try_get("blocks")?));
            }
            for r in run(sql::STATS_SUPERVISION).await? {
                f.supervision.push((period(&r)?, r.try_get("kind")?, r.try_get("n")?));
            }
            for r in run(sql::STATS_HANDOVERS).await? {
                f.handovers.push((period(&r)?, r.try_get("handovers")?, r.try_get("done")?));
            }
            for r in run(sql::STATS_PRIORITY).await? {
                f.priority.push((period(&r)?, r.try_get("chats")?));
            }
            for r in run(sql::STATS_BEFORE).await? {
                f.before.push((period(&r)?, r.try_get("question")?, r.try_get("answer")?, r.try_get("n")?));
            }
            for r in run(sql::STATS_REGISTERED).await? {
                f.registered.push((period(&r)?, r.try_get("question")?, r.try_get("answer")?, r.try_get("n")?));
            }
            for r in run(sql::STATS_REGISTRATIONS_MISSING).await? {
                f.registrations_missing.push((period(&r)?, r.try_get("missing")?));
            }
            for r in run(sql::STATS_FEEDBACK).await? {
                f.feedback.push((period(&r)?, r.try_get("question")?, r.try_get("answer")?, r.try_get("n")?));
            }
            Ok(f)
        })
    }

    /// `stats --by staff`: a line per staff member for the chats begun from `since` to before
    /// `until` (`sql::STATS_BY_STAFF`).
    pub async fn stats_by_staff(
        &self,
        since: Time,
        until: Time,
    ) -> sqlx::Result<Vec<StaffFigures>> {
        let (since, until) = (DbTime(since), DbTime(until));
        on_pool!(self, sql::STATS_BY_STAFF, pool, text => {
            let rows = sqlx::query(text).bind(since).bind(until).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok(StaffFigures {
                    staff: r.try_get("staff")?,
                    chats: r.try_get("chats")?,
                    minutes: r.try_get("minutes")?,
                    registrations_missing: r.try_get("missing")?,
                }))
                .collect()
        })
    }

    /// The chats going on (`busy` or `closing`), or only `room`: topic and start of each.
    pub async fn live_chats(&self, room: Option<&str>) -> sqlx::Result<Vec<LiveChat>> {
        on_pool!(self, sql::LIVE_CHATS, pool, text => {
            let rows = sqlx::query(text).bind(room).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok(LiveChat { room: r.try_get("room")?, topic: r.try_get("topic")?, since: r.try_get("since")?, priority: r.try_get::<Option<i64>, _>("priority")?.unwrap_or(0) }))
                .collect()
        })
    }

    /// The stored lines of room `jid` up to number `upto`, oldest first, with their bodies.
    pub async fn lines_upto(&self, jid: &str, upto: i64) -> sqlx::Result<Vec<Line>> {
        let rows: Vec<MessageRow> = on_pool!(self, sql::LINES_UPTO, pool, text => {
            sqlx::query_as(text).bind(jid).bind(upto).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|m| Line {
                seq: m.seq,
                at: m.at,
                nick: m.nick,
                role: if m.role == "client" {
                    Role::Client
                } else {
                    Role::Staff
                },
                body: m.body.unwrap_or_default(),
            })
            .collect())
    }

    /// Records a watch, a whisper (with its text in `notes`) or a request for help about the
    /// chat in room `jid`; a retried write that landed already adds nothing.
    pub async fn record_supervision(
        &self,
        jid: &str,
        kind: Supervision,
        by: &str,
        at: Time,
        text: Option<&str>,
    ) -> sqlx::Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for statement in sql::RECORD_SUPERVISION {
                sqlx::query(self.text(statement))
                    .bind(jid)
                    .bind(kind.as_str())
                    .bind(by)
                    .bind(DbTime(at))
                    .bind(text)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    /// The notes about the chat in room `jid`, oldest first.
    pub async fn notes(&self, jid: &str) -> sqlx::Result<Vec<NoteRow>> {
        on_pool!(self, sql::NOTES, pool, text => {
            sqlx::query_as(text).bind(jid).fetch_all(pool).await
        })
    }

    /// The chats staff member `staff` (a bare JID) had when they ended, begun at or after
    /// `since`, newest first, each with whether it is registered.
    pub async fn ended_chats(&self, staff: &str, since: Time) -> sqlx::Result<Vec<EndedChat>> {
        on_pool!(self, sql::ENDED_CHATS, pool, text => {
            let rows = sqlx::query(text).bind(staff).bind(DbTime(since)).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(EndedChat {
                        room: r.try_get("room")?,
                        nick: r.try_get("nick")?,
                        topic: r.try_get("topic")?,
                        began: r.try_get("began")?,
                        ended: r.try_get("ended")?,
                        registered: r.try_get("registered")?,
                    })
                })
                .collect()
        })
    }

    /// Registers the chat in room `room` for staff member `staff` at `at`, with `answers`
    /// (question, answer, kept), in one transaction: [`Stored::NoChat`] unless it is one of
    /// [`Store::ended_chats`] of theirs since `since`, [`Stored::Already`] when it has a
    /// registration.
    pub async fn register(
        &self,
        room: &str,
        staff: &str,
        since: Time,
        at: Time,
        answers: &[(String, String, bool)],
    ) -> sqlx::Result<Stored> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let Some(row) = sqlx::query(self.text(sql::REGISTER_ROOM))
                .bind(room)
                .bind(staff)
                .bind(DbTime(since))
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Stored::NoChat);
            };
            let (room_id, registered): (i64, bool) = (row.try_get("id")?, row.try_get("registered")?);
            if registered {
                return Ok(Stored::Already);
            }
            let Some(row) = sqlx::query(self.text(sql::INSERT_REGISTRATION))
                .bind(room_id)
                .bind(staff)
                .bind(DbTime(at))
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Stored::Already);
            };
            let id: i64 = row.try_get("id")?;
            for (question, answer, kept) in answers {
                sqlx::query(self.text(sql::INSERT_REGISTRATION_ANSWER))
                    .bind(id)
                    .bind(question)
                    .bind(answer)
                    .bind(*kept)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Stored::Done)
        })
    }

    /// Stores a visitor's feedback about the chat in room `room` at `at`, by room only, in one
    /// transaction: [`Stored::NoChat`] unless visitor `label` had that chat and it began at or
    /// after `since`, [`Stored::Already`] when the chat has feedback.
    pub async fn feedback(
        &self,
        room: &str,
        label: &str,
        since: Time,
        at: Time,
        answers: &[(String, String, bool)],
    ) -> sqlx::Result<Stored> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let Some(row) = sqlx::query(self.text(sql::FEEDBACK_ROOM))
                .bind(room)
                .bind(label)
                .bind(DbTime(since))
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Stored::NoChat);
            };
            let (room_id, given): (i64, bool) = (row.try_get("id")?, row.try_get("given")?);
            if given {
                return Ok(Stored::Already);
            }
            let mut stored = 0;
            for (question, answer, kept) in answers {
                stored += sqlx::query(self.text(sql::INSERT_FEEDBACK))
                    .bind(room_id)
                    .bind(question)
                    .bind(answer)
                    .bind(DbTime(at))
                    .bind(*kept)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            Ok(if stored == 0 && !answers.is_empty() { Stored::Already } else { Stored::Done })
        })
    }

    /// The registration of the chat in room `jid`: its answers, in order (none: unregistered).
    pub async fn registration(&self, jid: &str) -> sqlx::Result<Vec<RegistrationRow>> {
        on_pool!(self, sql::REGISTRATION_ROWS, pool, text => {
            sqlx::query_as(text).bind(jid).fetch_all(pool).await
        })
    }

    /// The feedback about the chat in room `jid`, in order.
    pub async fn feedback_rows(&self, jid: &str) -> sqlx::Result<Vec<FeedbackRow>> {
        on_pool!(self, sql::FEEDBACK_ROWS, pool, text => {
            sqlx::query_as(text).bind(jid).fetch_all(pool).await
        })
    }

    /// The watches, whispers and requests for help about the chat in room `jid`, oldest first.
    pub async fn supervision(&self, jid: &str) -> sqlx::Result<Vec<SupervisionRow>> {
        on_pool!(self, sql::SUPERVISION_ROWS, pool, text => {
            sqlx::query_as(text).bind(jid).fetch_all(pool).await
        })
    }

    /// Every queue row, oldest first, whatever its status.
    pub async fn queue_rows(&self) -> sqlx::Result<Vec<QueueRecord>> {
        on_pool!(self, sql::QUEUE_ROWS, pool, text => {
            sqlx::query_as(text).fetch_all(pool).await
        })
    }

    /// Every open queue row (waiting first in line first, then assigned), for the CLI:
    /// (id, visitor, nick, topic, status, enqueued_at, room JID).
    pub async fn open_queue(&self) -> sqlx::Result<Vec<QueueRow>> {
        on_pool!(self, sql::OPEN_QUEUE, pool, text => {
            sqlx::query_as(text).fetch_all(pool).await
        })
    }

    /// Every room, newest first; closed ones only with `include_closed`.
    pub async fn rooms(&self, include_closed: bool) -> sqlx::Result<Vec<RoomRow>> {
        let select = sql::SELECT_ROOMS;
        let query = if include_closed {
            format!("{select} ORDER BY id DESC")
        } else {
            format!("{select} WHERE status <> 'closed' ORDER BY id DESC")
        };
        on_pool!(self, pool => {
            sqlx::query_as(&query).fetch_all(pool).await
        })
    }

    /// One room by JID.
    pub async fn room(&self, jid: &str) -> sqlx::Result<Option<RoomRow>> {
        let query = format!("{} WHERE jid = $1", sql::SELECT_ROOMS);
        on_pool!(self, pool => {
            sqlx::query_as(&query).bind(jid).fetch_optional(pool).await
        })
    }

    /// The history of one room, oldest first.
    pub async fn events(&self, jid: &str) -> sqlx::Result<Vec<EventRow>> {
        on_pool!(self, sql::EVENTS, pool, text => {
            sqlx::query_as(text).bind(jid).fetch_all(pool).await
        })
    }

    /// Closes the connections.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

#[cfg(test)]
mod privacy_tests {
    use super::*;

    /// The names as the tables hold them, one value a line.
    async fn names(pool: &SqlitePool) -> Vec<String> {
        let mut all = Vec::new();
        for select in [
            "SELECT COALESCE(staff_nick, '-') || ' ' || COALESCE(client_nick, '-') || ' ' || COALESCE(staff_jid, '-') || ' ' || COALESCE(client_jid, '-') FROM rooms ORDER BY id",
            "SELECT COALESCE(nick, '-') FROM room_events ORDER BY id",
            "SELECT nick FROM messages ORDER BY id",
            "SELECT COALESCE(jid, '-') || ' ' || nick || ' ' || COALESCE(topic, '-') FROM queue ORDER BY id",
        ] {
            let rows: Vec<String> = sqlx::query_scalar(select).fetch_all(pool).await.unwrap();
            all.extend(rows);
        }
        all
    }

    #[tokio::test]
    async fn a_closed_chat_and_ended_queue_rows_lose_the_visitors_names_and_live_ones_keep_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("privacy.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let Store::Sqlite(pool) = &store else {
            unreachable!()
        };
        sqlx::raw_sql(
            "INSERT INTO rooms (id, jid, password, status, created_at, status_changed_at, staff_nick, client_nick, staff_jid, client_jid) VALUES
               (1, 'done@c', 'pw', 'closed', 't', 't', 'Ann', 'Sam', 'ann@x', 'sam@anon'),
               (2, 'live@c', 'pw', 'busy', 't', 't', 'Bob', 'Kim', 'bob@x', 'kim@anon'),
               (3, 'old@c', 'pw', 'closed', 't', 't', 'Cy', 'Zoe', 'cy@x', 'zoe@anon');
             INSERT INTO room_events (room_id, at, from_status, to_status, reason, nick) VALUES
               (1, 't', 'available', 'staffed', 'staff_joined', 'Ann'),
               (1, 't', 'staffed', 'busy', 'client_joined', 'Sam'),
               (1, 't', 'busy', 'closing', 'left_unclean', 'Sammy'),
               (2, 't', 'staffed', 'busy', 'client_joined', 'Kim'),
               (3, 't', 'staffed', 'busy', 'client_joined', 'Zoe');
             INSERT INTO messages (room_id, seq, at, nick, role, body) VALUES
               (1, 1, 't', 'Sam', 'client', 'hi'), (1, 2, 't', 'Ann', 'staff', 'hello'),
               (2, 1, 't', 'client', 'client', 'hey');
             INSERT INTO queue (visitor, jid, nick, topic, enqueued_at, last_seen_at, status, status_changed_at, room_id) VALUES
               ('v1', 'sam@anon/w', 'Sam', 'exams', 't', 't', 'served', 't', 1),
               ('v2', 'kim@anon/w', 'Kim', 'work', 't', 't', 'served', 't', 2),
               ('v3', 'lea@anon/w', 'Lea', 'home', 't', 't', 'left', 't', NULL),
               ('v4', 'max@anon/w', 'Max', 'love', 't', 't', 'waiting', 't', NULL),
               ('v5', NULL, 'Ned', 'debts', 't', 't', 'missed', 't', 2),
               ('v6', NULL, 'Oli', NULL, 't', 't', 'assigned', 't', 2);",
        )
        .execute(pool)
        .await
        .unwrap();
        store.forget_visitor("done@c").await.unwrap();
        store.forget_visitor("live@c").await.unwrap();
        assert_eq!(
            store.forget_ended(false).await.unwrap(),
            2,
            "left and missed"
        );
        assert_eq!(
            names(pool).await,
            [
                "Ann client ann@x -",
                "Bob Kim bob@x kim@anon",
                "Cy Zoe cy@x zoe@anon",
                // The staff member's event stays; the client's by role; a renamed one's nick goes.
                "Ann",
                "client",
                "-",
                "Kim",
                "Zoe",
                "client",
                "Ann",
                "client",
                "-  -",
                "kim@anon/w Kim work",
                "-  -",
                "max@anon/w Max love",
                "-  -",
                "- Oli -",
            ]
        );
        // At start: closed rooms not erased yet (a bot stopped between closing and erasure).
        assert!(store.forget_ended(true).await.unwrap() > 0);
        let after = names(pool).await;
        assert_eq!(after[2], "Cy client cy@x -");
        assert_eq!(after[7], "client");
        assert_eq!(store.forget_ended(true).await.unwrap(), 0, "nothing twice");
    }
}
