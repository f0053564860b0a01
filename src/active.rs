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
//!
//! The lock is only as good as its last proof: a process frozen (SIGSTOP, a paused VM) and thawed
//! still believes it holds it. The [`Fence`] keeps the time of the last successful check: the
//! instance acts on XMPP only while that proof is younger than [`LEASE`], asks for a check of its
//! own otherwise and waits for the verdict, and logs in only after a check made for that login.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// The advisory lock held by the active instance ("helpim" in ASCII).
pub const LOCK_KEY: i64 = 0x6865_6c70_696d;
/// How often a standby asks for the lock.
pub const STANDBY_POLL: Duration = Duration::from_secs(1);
/// How often the active instance checks that the connection holding the lock is alive.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a check or a reconnection may take before the connection counts as lost.
const CHECK_LIMIT: Duration = Duration::from_secs(3);
/// How often an instance that lost the connection asks for the lock again: more often than a
/// standby does, so that after a database restart the instance that was active usually wins.
const REGAIN_EVERY: Duration = Duration::from_millis(200);
/// How long a successful check proves the lock: two check intervals. Older (the checks stopped:
/// the process was frozen, the runtime stalled), the instance asks for a new check before it acts.
pub const LEASE: Duration = Duration::from_secs(2);

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
    /// When the lock was taken (the start of the attempt that got it).
    taken: Instant,
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
            let taken = Instant::now();
            match tokio::time::timeout(CHECK_LIMIT, try_take(url)).await {
                Ok(Ok(Some(conn))) => {
                    if announced {
                        tracing::warn!("the active instance is gone: this instance takes over");
                    }
                    return Some(ActiveLock {
                        url: url.to_owned(),
                        conn,
                        taken,
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
    pub fn keep(self) -> Fence {
        let taken = self.taken;
        Fence::spawn(
            PgHolder {
                url: self.url,
                conn: self.conn,
            },
            taken,
        )
    }
}

/// What the watcher does with the lock: check it, take it again. A trait so that the lease can
/// be tested without a database.
pub trait Holder: Send + 'static {
    /// Whether the connection holding the lock still answers (within [`CHECK_LIMIT`]).
    fn check(&mut self) -> impl Future<Output = bool> + Send;
    /// One attempt to take the lock again: `Some(true)` got it, `Some(false)` another instance
    /// holds it, `None` the database did not answer.
    fn retake(&mut self) -> impl Future<Output = Option<bool>> + Send;
}

/// The lock on its PostgreSQL connection.
struct PgHolder {
    url: String,
    conn: PgConnection,
}

impl Holder for PgHolder {
    async fn check(&mut self) -> bool {
        matches!(
            tokio::time::timeout(CHECK_LIMIT, self.conn.ping()).await,
            Ok(Ok(()))
        )
    }

    async fn retake(&mut self) -> Option<bool> {
        match tokio::time::timeout(CHECK_LIMIT, try_take(&self.url)).await {
            Ok(Ok(Some(conn))) => {
                self.conn = conn;
                Some(true)
            }
            Ok(Ok(None)) => Some(false),
            _ => None,
        }
    }
}

/// What the active instance knows of its lock: what became of it, and since when it is proven.
/// Cheap to clone; every part of the bot that touches XMPP or the tables asks it first.
#[derive(Clone)]
pub struct Fence {
    state: watch::Receiver<Leadership>,
    /// When the last successful check (or the taking of the lock) started.
    proven: Arc<Mutex<Instant>>,
    /// Asks the watcher for a check now; it answers with its verdict.
    ask: mpsc::UnboundedSender<oneshot::Sender<Leadership>>,
}

impl Fence {
    /// Starts the watcher of `holder`, whose lock was taken at `taken`.
    pub fn spawn(holder: impl Holder, taken: Instant) -> Fence {
        let (tx, state) = watch::channel(Leadership::Held);
        let proven = Arc::new(Mutex::new(taken));
        let (ask, asks) = mpsc::unbounded_channel();
        tokio::spawn(watch(holder, tx, proven.clone(), asks));
        Fence { state, proven, ask }
    }

    /// What became of the lock, as the watcher last saw it.
    pub fn leadership(&self) -> watch::Receiver<Leadership> {
        self.state.clone()
    }

    /// Held, and proven within the last [`LEASE`]: the instance may act without asking.
    pub fn fresh(&self) -> bool {
        *self.state.borrow() == Leadership::Held
            && self.proven.lock().expect("not poisoned").elapsed() < LEASE
    }

    /// Asks for a check made from now on and returns its verdict.
    pub async fn confirm(&self) -> Leadership {
        let (reply, verdict) = oneshot::channel();
        if self.ask.send(reply).is_ok() {
            if let Ok(verdict) = verdict.await {
                return verdict;
            }
        }
        // The watcher has stopped: it was deposed (or the runtime is ending).
        Leadership::Deposed
    }

    /// Held with a fresh proof, or else the verdict of a new check.
    pub async fn proven(&self) -> Leadership {
        if self.fresh() {
            Leadership::Held
        } else {
            self.confirm().await
        }
    }

    /// Waits until this instance may log into XMPP: a check made for this login found the lock
    /// held (or, lost, it was taken again). False once deposed: never log in then.
    pub async fn may_log_in(&self) -> bool {
        match self.confirm().await {
            Leadership::Held => true,
            Leadership::Deposed => false,
            Leadership::Lost => {
                // Taking the lock again is itself the proof.
                let mut state = self.state.clone();
                let held = state
                    .wait_for(|l| *l != Leadership::Lost)
                    .await
                    .map(|l| *l)
                    .ok();
                held == Some(Leadership::Held)
            }
        }
    }
}

/// The watcher: checks the lock every [`CHECK_EVERY`], and at once when asked; while the lock is
/// lost, tries to take it again every [`REGAIN_EVERY`].
async fn watch(
    mut holder: impl Holder,
    tx: watch::Sender<Leadership>,
    proven: Arc<Mutex<Instant>>,
    mut asks: mpsc::UnboundedReceiver<oneshot::Sender<Leadership>>,
) {
    let mut waiting: Vec<oneshot::Sender<Leadership>> = Vec::new();
    let answer = |waiting: &mut Vec<oneshot::Sender<Leadership>>, verdict: Leadership| {
        for reply in waiting.drain(..) {
            let _ = reply.send(verdict);
        }
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            Some(reply) = asks.recv() => {
                waiting.push(reply);
                while let Ok(reply) = asks.try_recv() {
                    waiting.push(reply);
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        let started = Instant::now();
        if holder.check().await {
            *proven.lock().expect("not poisoned") = started;
            answer(&mut waiting, Leadership::Held);
            continue;
        }
        tracing::error!("lost the database connection that holds the active lock; leaving XMPP and holding writes until it is taken again");
        tx.send_replace(Leadership::Lost);
        answer(&mut waiting, Leadership::Lost);
        loop {
            let next = Instant::now() + REGAIN_EVERY;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => break,
                    Some(reply) = asks.recv() => { let _ = reply.send(Leadership::Lost); }
                }
            }
            let started = Instant::now();
            match holder.retake().await {
                Some(true) => {
                    *proven.lock().expect("not poisoned") = started;
                    tracing::info!(
                        "the active lock is held again; back into XMPP, writing what was queued"
                    );
                    tx.send_replace(Leadership::Held);
                    break;
                }
                Some(false) => {
                    tracing::error!("another instance took the active lock meanwhile");
                    tx.send_replace(Leadership::Deposed);
                    return;
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A lock whose checks and attempts to take it again answer from a script; once the script
    /// is used up, checks succeed.
    struct Script {
        checks: VecDeque<bool>,
        retakes: VecDeque<Option<bool>>,
        checked: Arc<AtomicUsize>,
    }

    impl Holder for Script {
        async fn check(&mut self) -> bool {
            self.checked.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.checks.pop_front().unwrap_or(true)
        }
        async fn retake(&mut self) -> Option<bool> {
            self.retakes.pop_front().unwrap_or(None)
        }
    }

    fn fence(checks: &[bool], retakes: &[Option<bool>]) -> (Fence, Arc<AtomicUsize>) {
        let checked = Arc::new(AtomicUsize::new(0));
        let script = Script {
            checks: checks.iter().copied().collect(),
            retakes: retakes.iter().copied().collect(),
            checked: checked.clone(),
        };
        (Fence::spawn(script, Instant::now()), checked)
    }

    #[tokio::test(start_paused = true)]
    async fn the_lease_stays_fresh_while_checks_succeed_and_a_thawed_process_checks_before_it_acts()
    {
        let (fence, checked) = fence(&[], &[]);
        assert!(fence.fresh());
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(fence.fresh(), "checked every second");
        assert!(checked.load(Ordering::SeqCst) >= 9);
        // Frozen for 30 s and thawed: the clock jumped, nothing ran meanwhile.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(!fence.fresh(), "a proof 30 s old proves nothing");
        let before = checked.load(Ordering::SeqCst);
        assert_eq!(fence.proven().await, Leadership::Held);
        assert!(
            checked.load(Ordering::SeqCst) > before,
            "a new check decided"
        );
        assert!(fence.fresh());
    }

    #[tokio::test(start_paused = true)]
    async fn thawed_after_another_instance_took_the_lock_it_is_deposed_and_never_logs_in() {
        // The check after the thaw fails (the backend was terminated), and the lock is taken.
        let (fence, _) = fence(&[false], &[Some(false)]);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(!fence.fresh());
        assert!(!fence.may_log_in().await);
        assert_eq!(*fence.leadership().borrow(), Leadership::Deposed);
        assert_eq!(fence.proven().await, Leadership::Deposed);
        assert!(!fence.fresh());
    }

    #[tokio::test(start_paused = true)]
    async fn a_login_waits_until_the_lost_lock_is_taken_again() {
        let (fence, _) = fence(&[false], &[None, None, Some(true)]);
        let mut state = fence.leadership();
        state.wait_for(|l| *l == Leadership::Lost).await.unwrap();
        assert!(!fence.fresh());
        assert_eq!(fence.confirm().await, Leadership::Lost);
        let asked = Instant::now();
        assert!(fence.may_log_in().await);
        // Three attempts, 200 ms apart: not before the third.
        assert!(asked.elapsed() >= REGAIN_EVERY * 2, "{:?}", asked.elapsed());
        assert_eq!(*fence.leadership().borrow(), Leadership::Held);
        assert!(fence.fresh());
    }

    #[tokio::test(start_paused = true)]
    async fn every_login_is_preceded_by_a_check_of_its_own_even_with_a_fresh_proof() {
        let (fence, checked) = fence(&[], &[]);
        assert!(fence.fresh());
        let before = checked.load(Ordering::SeqCst);
        assert!(fence.may_log_in().await);
        assert_eq!(checked.load(Ordering::SeqCst), before + 1);
    }
}
