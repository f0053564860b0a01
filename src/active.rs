//! High availability on PostgreSQL: which instance is the active one.
//!
//! Every instance started on the same PostgreSQL database tries to take a session-level advisory
//! lock ([`LOCK_KEY`]) on a connection of its own. The one that holds it is active: it logs into
//! XMPP and runs the rooms. The others are standbys: they wait, asking for the lock every
//! [`STANDBY_POLL`], and never touch XMPP or the tables until they hold it. When the active
//! instance dies, its connection closes, PostgreSQL releases the lock, and a standby takes over
//! (and reconciles the rooms, as after any restart).
//!
//! An active instance that loses the lock's connection (PostgreSQL restarted, the backend
//! terminated) stops writing at once ([`Leadership::Lost`]) and asks for the lock again. If it gets
//! it back, it writes what it queued meanwhile; if a standby was quicker, it is
//! [`Leadership::Deposed`] and must stop without touching the rooms, so that two instances are never
//! active at once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::watch;

/// The advisory lock held by the active instance ("helpim" in ASCII).
pub const LOCK_KEY: i64 = 0x6865_6c70_696d;
/// How often a standby asks for the lock.
pub const STANDBY_POLL: Duration = Duration::from_secs(1);
/// How often the active instance checks that the connection holding the lock is alive.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a check or a reconnection may take before the connection counts as lost.
const CHECK_LIMIT: Duration = Duration::from_secs(3);
/// How often an instance that lost the connection asks for the lock again: more often than a
/// standby does, so that after a database restart the instance that was active usually wins.
const REGAIN_EVERY: Duration = Duration::from_millis(200);

/// Whether this instance may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// It holds the lock: it may write.
    Held,
    /// The connection holding the lock is gone; writes wait until it is taken again.
    Lost,
    /// Another instance took the lock meanwhile: this one must stop.
    Deposed,
}

/// The advisory lock, held on its own connection.
pub struct ActiveLock {
    url: String,
    conn: PgConnection,
}

/// Takes the lock with one attempt: `Some(connection)` when this instance got it.
async fn try_take(url: &str) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(conn))
}

impl ActiveLock {
    /// Waits until this instance holds the lock; `None` when `shutdown` comes first.
    /// `standing_by` is called each time the lock is asked for in vain.
    pub async fn acquire(
        url: &str,
        mut standing_by: impl FnMut(),
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Option<ActiveLock> {
        let mut announced = false;
        let mut failing = false;
        loop {
            match tokio::time::timeout(CHECK_LIMIT, try_take(url)).await {
                Ok(Ok(Some(conn))) => {
                    if announced {
                        tracing::warn!("the active instance is gone: this instance takes over");
                    }
                    return Some(ActiveLock {
                        url: url.to_owned(),
                        conn,
                    });
                }
                Ok(Ok(None)) => {
                    failing = false;
                    standing_by();
                    if !announced {
                        announced = true;
                        tracing::info!(
                            lock = LOCK_KEY,
                            "standby: another instance is active on this database; waiting to take over"
                        );
                    }
                }
                Ok(Err(e)) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "standby: cannot reach the database to ask for the active lock; will keep asking");
                }
                Err(_) if !failing => {
                    failing = true;
                    tracing::warn!("standby: the database does not answer; will keep asking");
                }
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(STANDBY_POLL) => {}
                _ = shutdown.as_mut() => return None,
            }
        }
    }

    /// Keeps the lock from now on, in a task of its own, and reports what becomes of it.
    pub fn keep(self) -> watch::Receiver<Leadership> {
        let (tx, rx) = watch::channel(Leadership::Held);
        tokio::spawn(self.watch(tx));
        rx
    }

    async fn watch(mut self, tx: watch::Sender<Leadership>) {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            if tx.is_closed() {
                return;
            }
            let alive = tokio::time::timeout(CHECK_LIMIT, self.conn.ping()).await;
            if matches!(alive, Ok(Ok(()))) {
                continue;
            }
            tracing::error!("lost the database connection that holds the active lock; writes wait until it is taken again");
            tx.send_replace(Leadership::Lost);
            loop {
                tokio::time::sleep(REGAIN_EVERY).await;
                match tokio::time::timeout(CHECK_LIMIT, try_take(&self.url)).await {
                    Ok(Ok(Some(conn))) => {
                        self.conn = conn;
                        tracing::info!("the active lock is held again; writing what was queued");
                        tx.send_replace(Leadership::Held);
                        break;
                    }
                    Ok(Ok(None)) => {
                        tracing::error!("another instance took the active lock meanwhile");
                        tx.send_replace(Leadership::Deposed);
                        return;
                    }
                    _ => {}
                }
            }
        }
    }
}
