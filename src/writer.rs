//! The write queue: every change the bot records is queued, written in order and retried until
//! the database takes it. A database outage delays writes; it never drops or reorders them.
//!
//! Order matters within a room (its creation, then each status change and message). So every
//! room's writes go through one lane, a task of its own; PostgreSQL gets [`POSTGRES_LANES`] lanes,
//! so that commits of different rooms overlap, SQLite one (it has one writer anyway).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::active::Leadership;
use crate::core::room::{Role, Time, Transition};
use crate::metrics::metrics;
use crate::store::Store;

/// One change to record.
#[derive(Debug, Clone)]
pub enum Write {
    /// A room was created and configured.
    InsertRoom {
        /// The room's JID.
        jid: String,
        /// Its password.
        password: String,
        /// When.
        at: Time,
    },
    /// A room changed status.
    Transition {
        /// The room's JID.
        jid: String,
        /// The change.
        transition: Transition,
    },
    /// A chat message, stored in the transcript as number `seq` of its room.
    Message {
        /// The room's JID.
        jid: String,
        /// 1, 2, 3 … within the room.
        seq: i64,
        /// When it was received.
        at: Time,
        /// The sender's nick.
        nick: String,
        /// The sender's role.
        role: Role,
        /// The text.
        body: String,
    },
    /// A chat message was sent at `at` (transcripts disabled: only the time is kept).
    MessageAt {
        /// The room's JID.
        jid: String,
        /// When.
        at: Time,
    },
    /// The room got a new password and the expired client claim is cleared.
    RotatePassword {
        /// The room's JID.
        jid: String,
        /// The new password.
        password: String,
        /// The claim that expired.
        client_claimed_at: Time,
    },
    /// A visitor over XMPP whose session ended leaves the queue if they were waiting or assigned.
    VisitorGone {
        /// Their full JID.
        visitor: String,
    },
}

/// Lanes on PostgreSQL: commits that may be in flight at once.
pub const POSTGRES_LANES: usize = 4;

impl Write {
    /// The room this write is about.
    fn room(&self) -> &str {
        match self {
            Write::InsertRoom { jid, .. }
            | Write::Transition { jid, .. }
            | Write::Message { jid, .. }
            | Write::MessageAt { jid, .. }
            | Write::RotatePassword { jid, .. } => jid,
            // A visitor's writes keep their own order in the lane of their JID.
            Write::VisitorGone { visitor } => visitor,
        }
    }

    async fn apply(&self, store: &Store) -> sqlx::Result<()> {
        match self {
            Write::InsertRoom { jid, password, at } => store.insert_room(jid, password, *at).await,
            Write::Transition { jid, transition } => store.record_transition(jid, transition).await,
            Write::Message {
                jid,
                seq,
                at,
                nick,
                role,
                body,
            } => {
                store
                    .record_message(jid, *seq, *at, nick, *role, body)
                    .await
            }
            Write::MessageAt { jid, at } => store.record_message_time(jid, *at).await,
            Write::VisitorGone { visitor } => store.visitor_gone(visitor).await,
            Write::RotatePassword {
                jid,
                password,
                client_claimed_at,
            } => {
                if !store
                    .rotate_password(jid, password, *client_claimed_at)
                    .await?
                {
                    tracing::warn!(room = %jid, "the expired client claim had changed; password stored anyway on the next rotation");
                }
                Ok(())
            }
        }
    }
}

/// What a lane carries: a write, or a barrier that fires once every write before it is
/// committed.
enum Item {
    Write(Instant, Write),
    Barrier(oneshot::Sender<()>),
}

/// The sending side of the queue.
#[derive(Clone)]
pub struct WriteQueue {
    lanes: Arc<[mpsc::UnboundedSender<Item>]>,
    pending: Arc<AtomicUsize>,
}

impl WriteQueue {
    /// Starts the writer task on `store`. With a `gate` (high availability), it writes only while
    /// this instance holds the active lock, and stops for good once deposed.
    pub fn start(store: Store, gate: Option<watch::Receiver<Leadership>>) -> WriteQueue {
        let n = match store {
            Store::Sqlite(_) => 1,
            Store::Postgres(_) => POSTGRES_LANES,
        };
        let pending = Arc::new(AtomicUsize::new(0));
        let lanes = (0..n)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run(store.clone(), rx, pending.clone(), gate.clone()));
                tx
            })
            .collect();
        WriteQueue { lanes, pending }
    }

    /// Queues a write.
    pub fn push(&self, write: Write) {
        let queued = self.pending.fetch_add(1, Ordering::SeqCst) + 1;
        metrics().write_queue.set(queued as i64);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        write.room().hash(&mut hasher);
        let lane = &self.lanes[hasher.finish() as usize % self.lanes.len()];
        if lane.send(Item::Write(Instant::now(), write)).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::error!("the write queue has stopped; a write was not queued");
        }
    }

    /// Completes once every write queued before this call is committed (a read that must see
    /// them waits for it: the assignment of a visitor to a room just recorded `staffed`).
    pub fn barrier(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let waits: Vec<oneshot::Receiver<()>> = self
            .lanes
            .iter()
            .filter_map(|lane| {
                let (tx, rx) = oneshot::channel();
                lane.send(Item::Barrier(tx)).ok().map(|_| rx)
            })
            .collect();
        async move {
            for wait in waits {
                let _ = wait.await;
            }
        }
    }

    /// Writes queued and not yet committed.
    pub fn len(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// True when every queued write is committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until every queued write is committed, at most `limit`; true when it is.
    pub async fn flush(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_empty() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

/// Waits while the active lock is lost; false once this instance is deposed.
async fn may_write(gate: &mut Option<watch::Receiver<Leadership>>) -> bool {
    let Some(gate) = gate else {
        return true;
    };
    match gate.wait_for(|l| *l != Leadership::Lost).await {
        Ok(l) => *l == Leadership::Held,
        Err(_) => false,
    }
}

/// The most room creations committed in one transaction.
const MAX_INSERT_BATCH: usize = 64;

async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Item>,
    pending: Arc<AtomicUsize>,
    mut gate: Option<watch::Receiver<Leadership>>,
) {
    // An item taken from the channel while gathering a batch, handled next.
    let mut carried: Option<Item> = None;
    loop {
        let item = match carried.take() {
            Some(item) => item,
            None => match rx.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        let first = match item {
            Item::Write(at, write) => (at, write),
            Item::Barrier(done) => {
                let _ = done.send(());
                continue;
            }
        };
        // Rooms created in a burst (a pool filling) are committed together: one commit for many
        // rows. Only creations that are already queued, one after the other, so the order stays.
        let mut batch = vec![first];
        if matches!(batch[0].1, Write::InsertRoom { .. }) {
            while batch.len() < MAX_INSERT_BATCH {
                match rx.try_recv() {
                    Ok(Item::Write(at, write @ Write::InsertRoom { .. })) => {
                        batch.push((at, write))
                    }
                    Ok(other) => {
                        carried = Some(other);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        let taken = Instant::now();
        for (queued_at, _) in &batch {
            metrics()
                .write_wait_seconds
                .observe((taken - *queued_at).as_secs_f64());
        }
        let mut delay = Duration::from_millis(100);
        loop {
            if !may_write(&mut gate).await {
                tracing::error!(
                    queued = pending.load(Ordering::SeqCst),
                    "this instance is no longer active: its queued writes are not applied"
                );
                return;
            }
            let started = Instant::now();
            let applied = apply(&store, &batch).await;
            metrics()
                .write_apply_seconds
                .observe(started.elapsed().as_secs_f64());
            match applied {
                Ok(()) => {
                    for (queued_at, _) in &batch {
                        metrics()
                            .commit_latency
                            .observe(queued_at.elapsed().as_secs_f64());
                    }
                    break;
                }
                Err(e) => {
                    metrics().db_errors.inc();
                    tracing::warn!(error = %e, queued = pending.load(Ordering::SeqCst), retry_in_ms = delay.as_millis() as u64, "database write failed; will retry");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        let left = pending.fetch_sub(batch.len(), Ordering::SeqCst) - batch.len();
        metrics().write_queue.set(left as i64);
    }
}

/// Applies one write, or a batch of room creations in one transaction.
async fn apply(store: &Store, batch: &[(Instant, Write)]) -> sqlx::Result<()> {
    if let [(_, write)] = batch {
        return write.apply(store).await;
    }
    let rooms: Vec<(&str, &str, Time)> = batch
        .iter()
        .filter_map(|(_, w)| match w {
            Write::InsertRoom { jid, password, at } => Some((jid.as_str(), password.as_str(), *at)),
            _ => None,
        })
        .collect();
    debug_assert_eq!(rooms.len(), batch.len(), "only creations are batched");
    store.insert_rooms(&rooms).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn room_creations_in_a_burst_are_committed_together_and_the_order_holds() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("writes.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let queue = WriteQueue::start(store.clone(), None);
        let now = chrono::Utc::now();
        let create = |i: usize| Write::InsertRoom {
            jid: format!("room-{i}@conference.localhost"),
            password: format!("pw-{i}"),
            at: now,
        };
        // Creations queued faster than one commit each, a write of another kind in between (it
        // must wait for the creation of its room, batched or not), and more creations.
        for i in 0..100 {
            queue.push(create(i));
        }
        queue.push(Write::MessageAt {
            jid: "room-5@conference.localhost".into(),
            at: now + chrono::Duration::seconds(1),
        });
        for i in 100..150 {
            queue.push(create(i));
        }
        queue.barrier().await;
        assert!(queue.is_empty());
        let rooms = store.rooms(false).await.unwrap();
        assert_eq!(rooms.len(), 150);
        let five = rooms
            .iter()
            .find(|r| r.jid == "room-5@conference.localhost")
            .unwrap();
        assert_eq!(five.password, "pw-5");
        assert!(
            five.last_message_at.is_some(),
            "the write after the burst landed"
        );
        for r in &rooms {
            let events = store.events(&r.jid).await.unwrap();
            assert_eq!(events.len(), 1, "{}: one creation event", r.jid);
        }
    }
}
