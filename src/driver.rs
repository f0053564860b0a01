//! The driver: the thin shell around the [`Core`] that does its I/O.
//!
//! It owns the XMPP [`Session`], the database ([`Store`] and the [`WriteQueue`]) and one sleep
//! until the core's next deadline. Everything that happens — a session event, a database read
//! that finished, the deadline — becomes one [`Input`] to the core with the current time, and
//! each [`Effect`] that comes back is carried out: stanzas through the session, reads on a task
//! whose result comes back as an input, writes into the queue. It also tells `/livez`,
//! `/readyz`, `/metrics` and systemd how things are.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use xmpp_parsers::jid::BareJid;

use crate::active::{Fence, Leadership};
use crate::config::Config;
use crate::core::effects::{Effect, Input, Query, Restored, Write};
use crate::core::room::{Handover, Room};
use crate::core::settings::{self, Settings};
use crate::core::tally::Counters;
use crate::core::types::{Claims, Limits, Status, Time};
use crate::core::{self, Core};
use crate::metrics::{metrics, Health, HelpLine, KickLabel, StatusLabel, TransitionLabels};
use crate::notify::Notifier;
use crate::secrets::OsSecrets;
use crate::store::{HandoverRow, RoomRow, Store};
use crate::writer::WriteQueue;
use crate::xmpp::connect::LoginGate;
use crate::xmpp::session::PING_INTERVAL;
use crate::xmpp::{ConnectSettings, Session, SessionEvent};

/// How often health and systemd hear from the loop (and how late a stuck loop is noticed).
const REPORT_EVERY: Duration = Duration::from_millis(250);
/// How long a database read may take before it counts as failed.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the bot until `shutdown` completes: connect, pick up the rooms of an earlier run, keep the
/// pool filled and follow every room. Errors when the first login fails or times out.
pub async fn run(
    config: Config,
    store: Store,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let health = Arc::new(Health::new(config.pool.size as usize, PING_INTERVAL));
    run_active(config, store, None, health, shutdown).await
}

/// [`run`] for an instance that holds the active lock (high availability on PostgreSQL): it
/// touches XMPP and the tables only while it can prove it holds the lock (the [`Fence`]); it
/// leaves XMPP while the lock is lost and logs in anew once it holds it again; and it stops at
/// once, leaving the rooms to the instance that took over, if it is deposed.
pub async fn run_active(
    config: Config,
    store: Store,
    fence: Option<Fence>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let settings = ConnectSettings::from_config(&config)?;
    let gate = fence.clone().map(login_gate);
    let (session, mut events) = Session::start_gated(settings.clone(), gate.clone());
    tokio::pin!(shutdown);
    tokio::select! {
        online = wait_online(&config, &session, &mut events) => online?,
        _ = &mut shutdown => {
            tracing::info!("stopped before the first login");
            session.close().await;
            return Ok(());
        }
    }
    let mut core = Core::new(core_settings(&config)?, Box::new(OsSecrets));
    core.restore(load_rooms(&store).await?);
    let (reads_tx, reads_rx) = mpsc::unbounded_channel();
    let mut driver = Driver {
        core,
        writes: WriteQueue::start(store.clone(), fence.clone()),
        pool_size: config.pool.size as usize,
        session,
        connect: settings,
        gate,
        fence,
        held_back: Vec::new(),
        store,
        reads_tx,
        reads_rx,
        health,
        notifier: Notifier::from_env(),
        counted: Counters::default(),
    };
    // The session was online before the core existed.
    driver.input(Input::Online { fresh: true });
    match driver.main_loop(&mut events, shutdown).await {
        Ended::Shutdown => {
            driver.notifier.stopping();
            driver.shut_down(&mut events).await;
            Ok(())
        }
        Ended::Deposed => bail!(
            "another instance took over while this one had lost its database connection; \
             stopping without touching the rooms ({} writes not applied)",
            driver.writes.len()
        ),
    }
}

/// The core's settings from the configuration file.
pub fn core_settings(config: &Config) -> anyhow::Result<Settings> {
    let t = &config.timeouts;
    Ok(Settings {
        service: config.muc.service.clone(),
        nick: config.muc.nick.clone(),
        prefix: config.muc.room_prefix.clone(),
        history: config.muc.history,
        owner: BareJid::new(&config.xmpp.jid).map_err(|e| anyhow::anyhow!("xmpp.jid: {e}"))?,
        clean_exit: config.muc.clean_exit_status.clone(),
        limits: Limits {
            claim: t.claim,
            rejoin_grace: t.rejoin_grace,
            closing: t.closing,
            idle: t.idle,
        },
        pool_size: config.pool.size,
        max_rooms: config.pool.max_rooms,
        parallel_creations: config.pool.parallel_creations,
        request_timeout: config.xmpp.iq_timeout,
        poll_interval: config.database.poll_interval,
        transcripts: config.transcripts.enabled,
        keep_days: config.transcripts.keep_days,
        keep_visitor_names: config.privacy.keep_visitor_names,
        queue_auto: config.queue.assign == crate::config::Assign::Auto,
        max_wait: config.queue.max_wait,
        visitor_timeout: config.queue.visitor_timeout,
        max_length: config.queue.max_length,
        pace_window: config.queue.pace_window,
        return_grace: config.queue.return_grace,
        reoffer_after: config.queue.reoffer_after,
        hours: config.hours.schedule(),
        questions: std::sync::Arc::new(config.questions.clone()),
        staff: settings::Staff {
            jids: config.staff.jids.clone(),
            max_chats: config.staff.max_chats,
            supervisors: config.staff.supervisors.clone(),
            room: (!config.staff.room.is_empty())
                .then(|| BareJid::new(&config.staff.room).ok())
                .flatten(),
        },
        visitors: settings::Visitors {
            domains: config.visitors.domains.clone(),
        },
        catalogs: std::sync::Arc::new(config.catalogs()?),
    })
}

/// Why the main loop ended.
enum Ended {
    /// SIGTERM, or the session task ended.
    Shutdown,
    /// Another instance holds the active lock now.
    Deposed,
}

/// Completes when the lock is no longer held (lost or deposed); never without high availability.
async fn not_held(fence: &Option<Fence>) -> Leadership {
    match fence {
        Some(f) => match f.leadership().wait_for(|l| *l != Leadership::Held).await {
            Ok(l) => *l,
            Err(_) => Leadership::Deposed,
        },
        None => std::future::pending().await,
    }
}

/// The gate every XMPP login waits for: a check of the lock made for that login.
fn login_gate(fence: Fence) -> LoginGate {
    Arc::new(move || {
        let fence = fence.clone();
        Box::pin(async move { fence.may_log_in().await })
    })
}

/// What woke the main loop.
enum Step {
    Shutdown,
    NotHeld(Leadership),
    Session(Option<SessionEvent>),
    Input(Input),
    Timer(Option<core::timers::Wake>),
    Stall,
}

/// Waits for the first login, failing fast on a refused password and after `connect_timeout`.
async fn wait_online(
    config: &Config,
    session: &Session,
    events: &mut mpsc::UnboundedReceiver<SessionEvent>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + config.xmpp.connect_timeout;
    let mut last_error = None;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(SessionEvent::Online { .. })) => return Ok(()),
            Ok(Some(SessionEvent::ConnectFailed { error, fatal: true })) => {
                session.close().await;
                bail!("cannot log into XMPP: {error}");
            }
            Ok(Some(SessionEvent::ConnectFailed { error, .. })) => last_error = Some(error),
            Ok(Some(_)) => {}
            Ok(None) => bail!("the XMPP session stopped before it was online"),
            Err(_) => {
                session.close().await;
                bail!(
                    "not online with XMPP after {:?} (xmpp.connect_timeout): {}",
                    config.xmpp.connect_timeout,
                    last_error.unwrap_or_else(|| "no answer from the server".into())
                );
            }
        }
    }
}

/// Reads the rooms an earlier run left running, with their claims and last messages.
async fn load_rooms(store: &Store) -> anyhow::Result<Vec<Restored>> {
    let context = "reading the rooms of an earlier run";
    let rows = store.rooms(false).await.context(context)?;
    let last_seqs: std::collections::HashMap<String, i64> = store
        .last_seqs()
        .await
        .context(context)?
        .into_iter()
        .collect();
    let mut recent: std::collections::HashMap<String, Vec<(Time, String, String)>> =
        std::collections::HashMap::new();
    for (jid, at, nick, body) in store.recent_messages().await.context(context)? {
        recent.entry(jid).or_default().push((at, nick, body));
    }
    let mut handovers: std::collections::HashMap<String, HandoverRow> = store
        .open_handovers()
        .await
        .context(context)?
        .into_iter()
        .map(|h| (h.jid.clone(), h))
        .collect();
    let mut rooms = Vec::with_capacity(rows.len());
    for row in rows {
        let Ok(jid) = BareJid::new(&row.jid) else {
            tracing::error!(room = %row.jid, "a room row has an invalid JID; leaving it alone");
            continue;
        };
        let mut room = restore(&row);
        if let Some(h) = handovers.remove(&row.jid) {
            // The staff seat is still the first staff member's while the handover is open.
            if let Some(from) = core::seat(row.staff_nick.clone(), Some(h.from_jid), None) {
                room.restore_handover(Handover {
                    from,
                    queue: h.to_jid.is_none(),
                    to: h.to_jid.or(h.taken_by),
                    note: h.note,
                    // A visitor's words are not kept in `handovers`: shown again once offered anew.
                    topic: None,
                    offered_at: h.offered_at,
                });
            }
        }
        rooms.push(Restored {
            room,
            last_seq: last_seqs.get(&row.jid).copied().unwrap_or(0),
            history_since: row.last_message_at.unwrap_or(row.created_at),
            recent: recent.remove(&row.jid).unwrap_or_default(),
            password: row.password,
            jid,
        });
    }
    if !rooms.is_empty() {
        tracing::info!(
            rooms = rooms.len(),
            "picking up the rooms of an earlier run"
        );
    }
    Ok(rooms)
}

/// The state machine of a room read back from its row.
fn restore(row: &RoomRow) -> Room {
    Room::restore(
        row.status,
        row.status_changed_at,
        Claims {
            staff_at: row.staff_claimed_at,
            client_at: row.client_claimed_at,
        },
        core::seat(
            row.staff_nick.clone(),
            row.staff_jid.clone(),
            row.staff_claimed_at,
        ),
        core::seat(
            row.client_nick.clone(),
            row.client_jid.clone(),
            row.client_claimed_at,
        ),
        row.last_message_at.unwrap_or(row.status_changed_at),
    )
}

/// The running bot: the core and the I/O it needs.
struct Driver {
    core: Core,
    session: Session,
    store: Store,
    writes: WriteQueue,
    pool_size: usize,
    reads_tx: mpsc::UnboundedSender<Input>,
    reads_rx: mpsc::UnboundedReceiver<Input>,
    health: Arc<Health>,
    notifier: Notifier,
    /// The core's counters as last exported.
    counted: Counters,
    /// How to log in again after leaving XMPP.
    connect: ConnectSettings,
    /// What every login waits for (high availability).
    gate: Option<LoginGate>,
    /// The proof that this instance holds the active lock (high availability).
    fence: Option<Fence>,
    /// Database answers that came while this instance was out of XMPP, fed after it is back.
    held_back: Vec<Input>,
}

impl Driver {
    async fn main_loop(
        &mut self,
        events: &mut mpsc::UnboundedReceiver<SessionEvent>,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Ended {
        let mut stall = debug_stall_signal();
        let mut next_report = Instant::now();
        self.health.set_online(true);
        self.health.pong();
        loop {
            let next = self.core.next_wake();
            let wake = next
                .map(|w| instant_of(w.at))
                .map_or(next_report, |d| d.min(next_report));
            let step = tokio::select! {
                _ = &mut shutdown => Step::Shutdown,
                l = not_held(&self.fence) => Step::NotHeld(l),
                event = events.recv() => Step::Session(event),
                Some(input) = self.reads_rx.recv() => Step::Input(input),
                _ = tokio::time::sleep_until(wake) => Step::Timer(next),
                Some(()) = stall.recv() => Step::Stall,
            };
            // Whatever was read (a timer that fired right after the process was thawed, a
            // stanza), the core acts on it only with a fresh proof of the lock.
            let verdict = match (&step, &self.fence) {
                (Step::Shutdown | Step::NotHeld(_) | Step::Stall, _) | (_, None) => None,
                (_, Some(fence)) => Some(fence.proven().await),
            };
            let left = match (step, verdict) {
                (Step::Shutdown, _) => return Ended::Shutdown,
                (_, Some(Leadership::Deposed)) | (Step::NotHeld(Leadership::Deposed), _) => {
                    return Ended::Deposed
                }
                (Step::Input(input), Some(Leadership::Lost)) => {
                    self.held_back.push(input);
                    true
                }
                (Step::NotHeld(_), _) | (_, Some(Leadership::Lost)) => true,
                (Step::Session(None), _) => {
                    tracing::error!("the XMPP session task ended");
                    return Ended::Shutdown;
                }
                (Step::Session(Some(event)), _) => {
                    self.on_session_event(event);
                    false
                }
                (Step::Input(input), _) => {
                    self.input(input);
                    false
                }
                (Step::Timer(next), _) => {
                    if let Some(w) = next.filter(|w| w.at <= Utc::now()) {
                        tracing::trace!(timer = w.timer.as_str(), "woke for a timer");
                    }
                    self.input(Input::Timer);
                    false
                }
                (Step::Stall, _) => {
                    // Debug builds only: a stuck main loop, for the test of /livez and the
                    // watchdog. A blocking sleep holds this task as a deadlock would.
                    tracing::warn!("SIGUSR2: stalling the main loop for 15 s (debug build)");
                    std::thread::sleep(Duration::from_secs(15));
                    false
                }
            };
            if left {
                if let Some(ended) = self.stay_out(events, shutdown.as_mut()).await {
                    return ended;
                }
            }
            if Instant::now() >= next_report {
                self.report();
                next_report = Instant::now() + REPORT_EVERY;
            }
        }
    }

    /// The lock cannot be proven: leave XMPP (end the session; the server takes the bot out of
    /// every room) and stay out until the lock is held again, then log in anew: a new session,
    /// whose rooms the core rejoins. `Some` when the loop must end instead.
    async fn stay_out(
        &mut self,
        events: &mut mpsc::UnboundedReceiver<SessionEvent>,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Option<Ended> {
        let fence = self.fence.clone()?;
        tracing::error!(
            "this instance cannot prove it holds the active lock: leaving XMPP until it does"
        );
        self.session.close().await;
        self.health.set_online(false);
        self.input(Input::Offline);
        let mut state = fence.leadership();
        loop {
            tokio::select! {
                _ = &mut shutdown => return Some(Ended::Shutdown),
                held = state.wait_for(|l| *l != Leadership::Lost) => match held.map(|l| *l) {
                    Ok(Leadership::Held) => break,
                    _ => return Some(Ended::Deposed),
                },
                Some(input) = self.reads_rx.recv() => self.held_back.push(input),
                // Out of XMPP is not stuck: /livez and systemd's watchdog still hear from the loop.
                _ = tokio::time::sleep(REPORT_EVERY) => self.report(),
            }
        }
        tracing::warn!("the active lock is held again: starting a new XMPP session");
        let (session, fresh_events) = Session::start_gated(self.connect.clone(), self.gate.clone());
        self.session = session;
        *events = fresh_events;
        for input in std::mem::take(&mut self.held_back) {
            self.input(input);
        }
        None
    }

    fn on_session_event(&mut self, event: SessionEvent) {
        let input = match event {
            SessionEvent::Online { fresh, .. } => {
                self.health.set_online(true);
                self.health.pong();
                metrics().xmpp_reconnects.inc();
                Input::Online { fresh }
            }
            SessionEvent::Offline => {
                self.health.set_online(false);
                Input::Offline
            }
            SessionEvent::Pong(_) => return self.health.pong(),
            SessionEvent::OtherMessage(m) => {
                return tracing::debug!(from = ?m.from.as_ref().map(|j| j.to_string()), kind = ?m.type_, "ignoring a message that is not a room chat message");
            }
            SessionEvent::ConnectFailed { .. } => return,
            SessionEvent::RoomPresence(p) => Input::Presence(p),
            SessionEvent::Message(m) => Input::Message(m),
            SessionEvent::Response { id, from, result } => Input::Response { id, from, result },
            SessionEvent::Request(request) => Input::Request(request),
        };
        self.input(input);
    }

    /// Feeds one input to the core and carries out what it asks for.
    fn input(&mut self, input: Input) {
        let started = Instant::now();
        let effects = self.core.handle(input, Utc::now());
        metrics()
            .core_seconds
            .observe(started.elapsed().as_secs_f64());
        self.carry_out(effects);
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(stanza) => self.session.send(*stanza),
                Effect::Query { id, query } => self.query(id, query),
                Effect::Write(write) => {
                    if let Write::Transition { transition: t, .. } = &write {
                        metrics()
                            .transitions
                            .get_or_create(&TransitionLabels {
                                to: t.to.as_str(),
                                reason: t.reason.as_str(),
                            })
                            .inc();
                    }
                    self.writes.push(write);
                }
                Effect::Prune { before } => self.prune(before),
            }
        }
    }

    /// Asks the store; the answer comes back as an input.
    fn query(&self, id: core::RequestId, query: Query) {
        let (store, done) = (self.store.clone(), self.reads_tx.clone());
        let recorded = query.waits_for_writes().then(|| self.writes.barrier());
        tokio::spawn(async move {
            let result = tokio::time::timeout(READ_TIMEOUT, async {
                if let Some(recorded) = recorded {
                    recorded.await;
                }
                store.query(&query).await
            })
            .await;
            let result = match result {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("timed out".into()),
            };
            let _ = done.send(Input::QueryDone { id, result });
        });
    }

    fn prune(&self, before: Time) {
        let store = self.store.clone();
        tokio::spawn(async move {
            match store.prune(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(erased = n, "erased old message bodies"),
                Err(e) => {
                    tracing::warn!(error = %e, "erasing old message bodies failed; will try again in an hour")
                }
            }
        });
    }

    /// Tells `/livez`, `/readyz`, `/metrics` and systemd how things are; called from the main
    /// loop, so that a loop that is stuck stops petting the watchdog. The core keeps the counts,
    /// so this costs the same with ten rooms or a hundred thousand.
    fn report(&mut self) {
        self.export_counters();
        self.health.loop_turned();
        self.health.set_database(self.core.database_ok());
        let counts = self.core.counts();
        let statuses = [
            Status::Available,
            Status::Staffed,
            Status::Busy,
            Status::Closing,
        ];
        for (status, n) in statuses.iter().zip(counts.by_status) {
            metrics()
                .rooms
                .get_or_create(&StatusLabel {
                    status: status.as_str(),
                })
                .set(n as i64);
        }
        self.health.set_ready_rooms(counts.ready);
        let (queue_length, oldest) = self.core.queue();
        let staff_on_duty = self.core.staff_on_duty();
        let line = self.core.line_status(Utc::now());
        self.health.set_help_line(HelpLine {
            open: line.open(),
            reason: line.closed.map(|c| c.as_str()),
            next_opening: line.next_opening,
            staff_on_duty,
            queue_length,
            oldest_wait_seconds: oldest.map(|t| (Utc::now() - t).num_seconds().max(0)),
        });
        let [_, staffed, busy, closing] = counts.by_status;
        let status = format!(
            "{} rooms ready, {staffed} staffed, {busy} busy, {closing} closing",
            counts.ready
        );
        if counts.ready >= self.pool_size {
            self.notifier.ready(&status);
        }
        self.notifier.status(&status);
        self.notifier.pet();
    }

    /// Adds what the core counted since the last report to `/metrics`.
    fn export_counters(&mut self) {
        let now = self.core.counters();
        let was = std::mem::replace(&mut self.counted, now);
        let m = metrics();
        m.rooms_created
            .inc_by(now.rooms_created - was.rooms_created);
        m.room_create_failures
            .inc_by(now.room_create_failures - was.room_create_failures);
        m.db_errors.inc_by(now.db_errors - was.db_errors);
        m.iq_timeouts
            .inc_by(now.request_timeouts - was.request_timeouts);
        for (i, (_, reason)) in Counters::KICK_REASONS.iter().enumerate() {
            let n = now.kicks[i] - was.kicks[i];
            if n > 0 {
                m.kicks.get_or_create(&KickLabel { reason }).inc_by(n);
            }
        }
    }

    /// SIGTERM: destroy the unclaimed `available` rooms, leave the rest running, write everything
    /// down, end the XMPP stream cleanly.
    async fn shut_down(&mut self, events: &mut mpsc::UnboundedReceiver<SessionEvent>) {
        let effects = self.core.shutdown(Utc::now());
        self.carry_out(effects);
        // The destroys' answers come on the event channel: wait for them, a few seconds at most.
        let deadline = Instant::now() + Duration::from_secs(4);
        while self.core.destroys_pending() > 0 {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(SessionEvent::Response { id, from, result })) => {
                    self.input(Input::Response { id, from, result })
                }
                Ok(Some(SessionEvent::RoomPresence(p))) => self.input(Input::Presence(p)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if !self.writes.flush(Duration::from_secs(3)).await {
            tracing::error!(
                queued = self.writes.len(),
                "the database did not take every write before shutdown"
            );
        }
        self.session.close().await;
        tracing::info!("stopped");
    }
}

/// The tokio instant of a wall-clock deadline.
fn instant_of(deadline: Time) -> Instant {
    let wait = (deadline - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Instant::now() + wait
}

/// SIGUSR2 in a debug build; never in a release build.
fn debug_stall_signal() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    if cfg!(debug_assertions) {
        if let Ok(mut usr2) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2())
        {
            tokio::spawn(async move {
                while usr2.recv().await.is_some() {
                    if tx.send(()).is_err() {
                        break;
                    }
                }
            });
        }
    }
    rx
}
