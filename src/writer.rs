//! The write queue: every change the bot records is queued, written in order and retried until
//! the database takes it. A database outage delays writes; it never drops or reorders them.
//!
//! Order matters within a room (its creation, then each status change and message) and within a
//! visitor's writes: each room or visitor has its own line, with one write of it at the database
//! at a time. Between lines, what people wait on goes first: a status change before a chat
//! message, both before a new pool room's row (a burst of those, a pool filling, is committed
//! in one transaction). SQLite takes one write at a time (it has one writer anyway);
//! PostgreSQL [`POSTGRES_IN_FLIGHT`], so that commits of different rooms overlap.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::active::{Fence, Leadership};
use crate::core::effects::Write;
use crate::core::types::Time;
use crate::metrics::metrics;
use crate::store::Store;

/// Writes (of different rooms) at the database at once on PostgreSQL.
pub const POSTGRES_IN_FLIGHT: usize = 4;

impl Write {
    /// The line this write keeps its order in: its room's.
    fn line(&self) -> &str {
        match self {
            Write::InsertRoom { jid, .. }
            | Write::Transition { jid, .. }
            | Write::Message { jid, .. }
            | Write::MessageAt { jid, .. }
            | Write::RotatePassword { jid, .. }
            | Write::Supervised { jid, .. }
            | Write::HandoverOffered { jid, .. }
            | Write::HandoverTaken { jid, .. }
            | Write::HandoverEnded { jid, .. }
            | Write::ForgetVisitor { jid } => jid,
            // Ended queue rows: a line of their own (no JID contains a space).
            Write::ForgetEnded { .. } | Write::ForgetAnswers { jid: None } => "queue rows ended",
            Write::ForgetAnswers { jid: Some(jid) } => jid,
            // A visitor's writes keep their own order in the line of their JID.
            Write::VisitorGone { visitor } => visitor,
        }
    }

    /// Which goes first between lines (lower first): changes people wait on (a status change
    /// holds up a visitor's invitation, a session's end their next request), then messages,
    /// then new pool rooms, which nobody waits for while the pool has others.
    fn urgency(&self) -> u8 {
        match self {
            Write::Transition { .. }
            | Write::VisitorGone { .. }
            | Write::RotatePassword { .. }
            | Write::HandoverOffered { .. }
            | Write::HandoverTaken { .. }
            | Write::HandoverEnded { .. } => 0,
            Write::Message { .. } | Write::MessageAt { .. } => 1,
            Write::ForgetVisitor { .. } | Write::ForgetEnded { .. } => 1,
            Write::ForgetAnswers { .. } => 1,
            Write::Supervised { .. } => 1,
            Write::InsertRoom { .. } => 2,
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
            Write::HandoverOffered {
                jid,
                from_jid,
                to_jid,
                note,
                at,
            } => {
                store
                    .handover_offered(jid, from_jid, to_jid.as_deref(), note.as_deref(), *at)
                    .await
            }
            Write::HandoverTaken { jid, by } => store.handover_taken(jid, by).await,
            Write::HandoverEnded { jid, outcome, at } => {
                store.handover_ended(jid, outcome, *at).await
            }
            Write::ForgetVisitor { jid } => store.forget_visitor(jid).await,
            Write::ForgetEnded { rooms } => store.forget_ended(*rooms).await.map(|_| ()),
            Write::ForgetAnswers { jid } => store.forget_answers(jid.as_deref()).await,
            Write::Supervised {
                jid,
                kind,
                by,
                at,
                text,
            } => {
                store
                    .record_supervision(jid, *kind, by, *at, text.as_deref())
                    .await
            }
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

/// What the queue carries to the writer task: a write, or a barrier that fires once every
/// write before it is committed.
enum Item {
    Write(Instant, Write),
    Barrier(oneshot::Sender<()>),
}

/// The sending side of the queue.
#[derive(Clone)]
pub struct WriteQueue {
    tx: mpsc::UnboundedSender<Item>,
    pending: Arc<AtomicUsize>,
}

impl WriteQueue {
    /// Starts the writer task on `store`. With a `gate` (high availability), it writes only while
    /// this instance holds the active lock with a fresh proof, and stops for good once deposed.
    pub fn start(store: Store, gate: Option<Fence>) -> WriteQueue {
        let in_flight = match store {
            Store::Sqlite(_) => 1,
            Store::Postgres(_) => POSTGRES_IN_FLIGHT,
        };
        let pending = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, rx, pending.clone(), gate, in_flight));
        WriteQueue { tx, pending }
    }

    /// Queues a write.
    pub fn push(&self, write: Write) {
        let queued = self.pending.fetch_add(1, Ordering::SeqCst) + 1;
        metrics().write_queue.set(queued as i64);
        if self.tx.send(Item::Write(Instant::now(), write)).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::error!("the write queue has stopped; a write was not queued");
        }
    }

    /// Completes once every write queued before this call is committed (a read that must see
    /// them waits for it: the assignment of a visitor to a room just recorded `staffed`).
    pub fn barrier(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(Item::Barrier(tx)).is_ok();
        async move {
            if sent {
                let _ = rx.await;
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

/// Waits while the active lock is lost or unproven; false once this instance is deposed. A
/// process thawed after a freeze asks for a new check before it writes anything.
async fn may_write(gate: &Option<Fence>) -> bool {
    let Some(fence) = gate else {
        return true;
    };
    loop {
        match fence.proven().await {
            Leadership::Held => return true,
            Leadership::Deposed => return false,
            Leadership::Lost => {
                let mut state = fence.leadership();
                if state.wait_for(|l| *l != Leadership::Lost).await.is_err() {
                    return false;
                }
            }
        }
    }
}

/// The most room creations committed in one transaction.
const MAX_INSERT_BATCH: usize = 64;

/// A queued write with its place in the order of arrival.
struct Queued {
    seq: u64,
    at: Instant,
    write: Write,
}

/// The writes not yet committed, line by line, and which may go next. Pure bookkeeping: the
/// writer task does the waiting and the database work.
#[derive(Default)]
struct Lines {
    next_seq: u64,
    lines: HashMap<String, VecDeque<Queued>>,
    /// The first write of every line that has none at the database: (urgency, seq, line).
    ready: BTreeSet<(u8, u64, String)>,
    /// Seqs queued and not yet committed.
    open: BTreeSet<u64>,
    /// Barriers, each with the first seq after it.
    barriers: VecDeque<(u64, oneshot::Sender<()>)>,
}

impl Lines {
    /// Queues `write`; false when it is not needed: a look for ended queue rows while another
    /// waits its turn (during an outage one would pile up every poll interval).
    fn push(&mut self, at: Instant, write: Write) -> bool {
        if let Write::ForgetEnded { rooms: false } | Write::ForgetAnswers { jid: None } = write {
            if let Some(queue) = self.lines.get(write.line()) {
                // One waits its turn already (not only one at the database): it does the same.
                let waiting = self.ready.iter().any(|(_, _, l)| l == write.line());
                if queue.len() >= 2 || waiting {
                    return false;
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.open.insert(seq);
        let line = write.line().to_string();
        let queue = self.lines.entry(line.clone()).or_default();
        if queue.is_empty() {
            self.ready.insert((write.urgency(), seq, line));
        }
        queue.push_back(Queued { seq, at, write });
        true
    }

    fn barrier(&mut self, done: oneshot::Sender<()>) {
        self.barriers.push_back((self.next_seq, done));
        self.fire_barriers();
    }

    /// The next writes to apply together: the most urgent ready line's first write, with (for a
    /// room creation) other lines' creations up to [`MAX_INSERT_BATCH`]. Their lines stay busy
    /// until [`Lines::committed`].
    fn take(&mut self) -> Option<Vec<(u64, Instant, Write)>> {
        let (_, _, line) = self.ready.pop_first()?;
        let mut batch = vec![self.head(&line)];
        // Creations are the least urgent: every ready line after this one starts with one.
        if matches!(batch[0].2, Write::InsertRoom { .. }) {
            while batch.len() < MAX_INSERT_BATCH {
                let Some(next) = self.ready.pop_first() else {
                    break;
                };
                batch.push(self.head(&next.2));
            }
        }
        Some(batch)
    }

    /// A copy of the first write of `line` (it stays queued until committed).
    fn head(&self, line: &str) -> (u64, Instant, Write) {
        let q = self.lines[line].front().expect("a ready line has a write");
        (q.seq, q.at, q.write.clone())
    }

    /// The writes `seqs` (each the first of its line) are committed.
    fn committed(&mut self, writes: &[(u64, String)]) {
        for (seq, line) in writes {
            self.open.remove(seq);
            let queue = self.lines.get_mut(line).expect("a line at the database");
            let done = queue.pop_front().expect("its first write");
            debug_assert_eq!(done.seq, *seq);
            match queue.front() {
                Some(next) => {
                    self.ready
                        .insert((next.write.urgency(), next.seq, line.clone()));
                }
                None => {
                    self.lines.remove(line);
                }
            }
        }
        self.fire_barriers();
    }

    fn fire_barriers(&mut self) {
        let first_open = self.open.first().copied().unwrap_or(u64::MAX);
        while self
            .barriers
            .front()
            .is_some_and(|(after, _)| *after <= first_open)
        {
            let (_, done) = self.barriers.pop_front().expect("checked");
            let _ = done.send(());
        }
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Item>,
    pending: Arc<AtomicUsize>,
    gate: Option<Fence>,
    in_flight: usize,
) {
    let mut lines = Lines::default();
    let mut applying: JoinSet<Option<Vec<(u64, String)>>> = JoinSet::new();
    let mut open = true;
    loop {
        while applying.len() < in_flight {
            let Some(batch) = lines.take() else {
                break;
            };
            let taken = Instant::now();
            for (_, queued_at, _) in &batch {
                metrics()
                    .write_wait_seconds
                    .observe((taken - *queued_at).as_secs_f64());
            }
            applying.spawn(apply_until_committed(
                store.clone(),
                batch,
                gate.clone(),
                pending.clone(),
            ));
        }
        if !open && applying.is_empty() {
            return;
        }
        tokio::select! {
            item = rx.recv(), if open => {
                let Some(item) = item else {
                    // Every sender is gone: what is queued is still written.
                    open = false;
                    continue;
                };
                // Everything already queued is seen before the next pick: a status change
                // behind a burst of creations goes first, and the creations go together.
                let mut next = Some(item);
                while let Some(item) = next.take() {
                    match item {
                        Item::Write(at, write) => {
                            if !lines.push(at, write) {
                                let left = pending.fetch_sub(1, Ordering::SeqCst) - 1;
                                metrics().write_queue.set(left as i64);
                            }
                        }
                        Item::Barrier(done) => lines.barrier(done),
                    }
                    next = rx.try_recv().ok();
                }
            }
            Some(done) = applying.join_next() => match done {
                Ok(Some(writes)) => {
                    lines.committed(&writes);
                    let left = pending.fetch_sub(writes.len(), Ordering::SeqCst) - writes.len();
                    metrics().write_queue.set(left as i64);
                }
                Ok(None) => {
                    tracing::error!(
                        queued = pending.load(Ordering::SeqCst),
                        "this instance is no longer active: its queued writes are not applied"
                    );
                    return;
                }
                // The runtime is shutting down and took the write with it: nothing to report.
                Err(e) if e.is_cancelled() => return,
                Err(e) => panic!("a database write panicked: {e}"),
            },
        }
    }
}

/// Applies `batch`, retrying with growing waits until the database takes it; its (seq, line)
/// pairs, or `None` once this instance is deposed.
async fn apply_until_committed(
    store: Store,
    batch: Vec<(u64, Instant, Write)>,
    gate: Option<Fence>,
    pending: Arc<AtomicUsize>,
) -> Option<Vec<(u64, String)>> {
    let mut delay = Duration::from_millis(100);
    loop {
        if !may_write(&gate).await {
            return None;
        }
        let started = Instant::now();
        let applied = apply(&store, &batch).await;
        metrics()
            .write_apply_seconds
            .observe(started.elapsed().as_secs_f64());
        match applied {
            Ok(()) => break,
            Err(e) => {
                metrics().db_errors.inc();
                tracing::warn!(error = %e, queued = pending.load(Ordering::SeqCst), retry_in_ms = delay.as_millis() as u64, "database write failed; will retry");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    Some(
        batch
            .into_iter()
            .map(|(seq, queued_at, write)| {
                let took = queued_at.elapsed().as_secs_f64();
                metrics().commit_latency.observe(took);
                if let Write::Transition { .. } = write {
                    metrics().status_commit_seconds.observe(took);
                }
                (seq, write.line().to_string())
            })
            .collect(),
    )
}

/// Applies one write, or a batch of room creations in one transaction.
async fn apply(store: &Store, batch: &[(u64, Instant, Write)]) -> sqlx::Result<()> {
    if let [(_, _, write)] = batch {
        return write.apply(store).await;
    }
    let rooms: Vec<(&str, &str, Time)> = batch
        .iter()
        .filter_map(|(_, _, w)| match w {
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

    fn room(i: usize) -> String {
        format!("room-{i}@conference.localhost")
    }

    fn create(i: usize) -> Write {
        Write::InsertRoom {
            jid: room(i),
            password: format!("pw-{i}"),
            at: chrono::Utc::now(),
        }
    }

    fn message(i: usize) -> Write {
        Write::MessageAt {
            jid: room(i),
            at: chrono::Utc::now(),
        }
    }

    fn gone(visitor: &str) -> Write {
        Write::VisitorGone {
            visitor: visitor.into(),
        }
    }

    /// Takes the next batch and commits it at once: its lines, in order.
    fn next(lines: &mut Lines) -> Vec<String> {
        let batch = lines.take().expect("a write is ready");
        let done: Vec<(u64, String)> = batch
            .iter()
            .map(|(seq, _, w)| (*seq, w.line().to_string()))
            .collect();
        lines.committed(&done);
        done.into_iter().map(|(_, line)| line).collect()
    }

    #[test]
    fn urgent_writes_of_other_lines_go_first_and_a_line_keeps_its_order() {
        let mut lines = Lines::default();
        let now = Instant::now();
        lines.push(now, create(1));
        lines.push(now, create(2));
        lines.push(now, message(1)); // behind room-1's creation, in its line
        lines.push(now, message(3));
        lines.push(now, gone("v@anon.localhost/a"));
        // The session's end first, then room-3's message, then the creations together, then
        // room-1's message, which had to wait for its room's row.
        assert_eq!(next(&mut lines), ["v@anon.localhost/a"]);
        assert_eq!(next(&mut lines), [room(3)]);
        assert_eq!(next(&mut lines), [room(1), room(2)]);
        assert_eq!(next(&mut lines), [room(1)]);
        assert!(lines.take().is_none());
    }

    #[test]
    fn a_look_for_ended_queue_rows_waits_once_not_once_per_poll() {
        let mut lines = Lines::default();
        let now = Instant::now();
        let forget = |rooms| Write::ForgetEnded { rooms };
        assert!(lines.push(now, forget(true)));
        assert!(!lines.push(now, forget(false)), "the first covers it");
        let at_db = lines.take().unwrap();
        assert!(
            lines.push(now, forget(false)),
            "one waits behind the one at work"
        );
        for _ in 0..100 {
            assert!(
                !lines.push(now, forget(false)),
                "an outage piles up nothing"
            );
        }
        lines.committed(&[(at_db[0].0, at_db[0].2.line().to_string())]);
        assert!(matches!(
            lines.take().unwrap()[..],
            [(_, _, Write::ForgetEnded { rooms: false })]
        ));
        assert!(lines.take().is_none());
    }

    #[test]
    fn a_line_has_one_write_at_the_database_at_a_time() {
        let mut lines = Lines::default();
        let now = Instant::now();
        lines.push(now, message(1));
        lines.push(now, message(1));
        lines.push(now, message(2));
        let a = lines.take().unwrap();
        let b = lines.take().unwrap();
        assert_eq!(a[0].2.line(), room(1));
        assert_eq!(b[0].2.line(), room(2));
        assert!(
            lines.take().is_none(),
            "room-1's second waits for its first"
        );
        lines.committed(&[(a[0].0, room(1))]);
        assert_eq!(lines.take().unwrap()[0].0, 1, "then room-1's second");
    }

    #[test]
    fn a_barrier_fires_once_every_write_before_it_is_committed_and_not_for_later_ones() {
        let mut lines = Lines::default();
        let now = Instant::now();
        let (early, mut early_rx) = oneshot::channel();
        lines.barrier(early);
        assert!(early_rx.try_recv().is_ok(), "nothing queued: at once");
        lines.push(now, create(1));
        lines.push(now, message(2));
        let (tx, mut rx) = oneshot::channel();
        lines.barrier(tx);
        lines.push(now, gone("v@anon.localhost/a"));
        assert_eq!(next(&mut lines), ["v@anon.localhost/a"]);
        assert_eq!(next(&mut lines), [room(2)]);
        assert!(
            rx.try_recv().is_err(),
            "room-1's creation is not committed yet"
        );
        assert_eq!(next(&mut lines), [room(1)]);
        assert!(rx.try_recv().is_ok());
    }

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
