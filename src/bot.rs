//! The event loop that wires everything together.
//!
//! One task owns the room map. It `select!`s over what the XMPP session reports, the results of
//! the work it spawned (room creations, claim reads, password changes, rejoins), a tick for the
//! time limits and the pool, a timer for reading claims, and shutdown. Room events go into the
//! pure state machine ([`crate::room`]); its actions come out as stanzas (through the session)
//! and SQL writes (through the [`WriteQueue`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use xmpp_parsers::jid::BareJid;

use crate::active::Leadership;
use crate::config::Config;
use crate::metrics::{metrics, Health, KickLabel, StatusLabel, TransitionLabels};
use crate::notify::Notifier;
use crate::pool::{self, CreateError, CreateSettings, CreatedRoom};
use crate::room::{Action, Claims, Event, KickReason, Limits, Reason, Room, Status};
use crate::store::{RoomRow, Store};
use crate::writer::{Write, WriteQueue};
use crate::xmpp::session::PING_INTERVAL;
use crate::xmpp::stanza::{
    self, PresenceKind, RoomPresence, STATUS_CREATED, STATUS_GHOST, STATUS_KICKED,
};
use crate::xmpp::{ConnectSettings, IqError, Joined, Session, SessionEvent};

/// How often the time limits are checked and the pool is topped up.
const TICK: Duration = Duration::from_millis(250);
/// The longest wait between failed room creations.
const MAX_CREATE_BACKOFF: Duration = Duration::from_secs(30);

/// A live (not closed) room: its state machine, its password, and whether the bot is inside.
struct Entry {
    room: Room,
    password: String,
    /// The bot is inside and sees presences (false while it rejoins).
    inside: bool,
    /// A rejoin failed for a passing reason and must be tried again.
    needs_rejoin: bool,
    /// The transcript number of the next chat message.
    next_seq: i64,
}

/// Results of work the loop spawned.
enum Done {
    Created(Result<CreatedRoom, CreateError>),
    Claims(BareJid, Result<Option<Claims>, String>),
    Polled(Result<Vec<(String, Claims)>, String>),
    Rotated(BareJid, Option<String>),
    Rejoined(BareJid, Result<Joined, IqError>),
}

/// The running bot.
pub struct Bot {
    config: Config,
    limits: Limits,
    create: CreateSettings,
    session: Session,
    store: Store,
    writes: WriteQueue,
    rooms: HashMap<BareJid, Entry>,
    creating: usize,
    create_backoff: Duration,
    create_paused_until: Option<Instant>,
    polling: bool,
    /// The last claims poll failed (so the next failure is not logged again).
    poll_failing: bool,
    rejoins_running: usize,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    health: Arc<Health>,
    notifier: Notifier,
}

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
/// writes only while it holds the lock, and stops at once, leaving the rooms to the instance that
/// took over, if it is deposed.
pub async fn run_active(
    config: Config,
    store: Store,
    mut leadership: Option<watch::Receiver<Leadership>>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let settings = ConnectSettings::from_config(&config)?;
    let (session, mut events) = Session::start(settings);
    tokio::pin!(shutdown);
    tokio::select! {
        online = wait_online(&config, &session, &mut events) => online?,
        _ = &mut shutdown => {
            tracing::info!("stopped before the first login");
            session.close().await;
            return Ok(());
        }
    }
    let owner = BareJid::new(&config.xmpp.jid).context("xmpp.jid")?;
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let mut bot = Bot {
        limits: Limits::from(&config.timeouts),
        create: CreateSettings {
            service: config.muc.service.clone(),
            nick: config.muc.nick.clone(),
            prefix: config.muc.room_prefix.clone(),
            history: config.muc.history,
            owner,
        },
        writes: WriteQueue::start(store.clone(), leadership.clone()),
        config,
        session,
        store,
        rooms: HashMap::new(),
        creating: 0,
        create_backoff: Duration::from_millis(500),
        create_paused_until: None,
        polling: false,
        poll_failing: false,
        rejoins_running: 0,
        done_tx,
        done_rx,
        health,
        notifier: Notifier::from_env(),
    };
    bot.load_rooms().await?;
    match bot.main_loop(&mut events, shutdown, &mut leadership).await {
        Ended::Shutdown => {
            bot.notifier.stopping();
            bot.shut_down().await;
            Ok(())
        }
        Ended::Deposed => bail!(
            "another instance took over while this one had lost its database connection; \
             stopping without touching the rooms ({} writes not applied)",
            bot.writes.len()
        ),
    }
}

/// Why the main loop ended.
enum Ended {
    /// SIGTERM, or the session task ended.
    Shutdown,
    /// Another instance holds the active lock now.
    Deposed,
}

/// Completes when this instance is deposed; never without high availability.
async fn deposed(leadership: &mut Option<watch::Receiver<Leadership>>) {
    match leadership {
        Some(l) => {
            let _ = l.wait_for(|l| *l == Leadership::Deposed).await;
        }
        None => std::future::pending().await,
    }
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

impl Bot {
    /// Reads the rooms an earlier run left running; they are rejoined by the main loop.
    async fn load_rooms(&mut self) -> anyhow::Result<()> {
        let rows = self
            .store
            .rooms(false)
            .await
            .context("reading the rooms of an earlier run")?;
        let claims: HashMap<String, Claims> = self
            .store
            .open_claims()
            .await
            .context("reading claims")?
            .into_iter()
            .collect();
        let last_seqs: HashMap<String, i64> = self
            .store
            .last_seqs()
            .await
            .context("reading transcripts")?
            .into_iter()
            .collect();
        for row in rows {
            let Ok(jid) = BareJid::new(&row.jid) else {
                tracing::error!(room = %row.jid, "a room row has an invalid JID; leaving it alone");
                continue;
            };
            let room = restore(&row, claims.get(&row.jid).copied().unwrap_or_default());
            self.rooms.insert(
                jid,
                Entry {
                    room,
                    password: row.password,
                    inside: false,
                    needs_rejoin: true,
                    next_seq: last_seqs.get(&row.jid).map_or(1, |s| s + 1),
                },
            );
        }
        if !self.rooms.is_empty() {
            tracing::info!(
                rooms = self.rooms.len(),
                "picking up the rooms of an earlier run"
            );
        }
        Ok(())
    }

    async fn main_loop(
        &mut self,
        events: &mut mpsc::UnboundedReceiver<SessionEvent>,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
        leadership: &mut Option<watch::Receiver<Leadership>>,
    ) -> Ended {
        let mut tick = tokio::time::interval(TICK);
        let mut poll = tokio::time::interval(self.config.database.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Retention runs at start and then every hour.
        let mut prune = tokio::time::interval(Duration::from_secs(3600));
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stall = debug_stall_signal();
        let mut online = true;
        self.health.set_online(true);
        self.health.pong();
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ended::Shutdown,
                _ = deposed(leadership) => return Ended::Deposed,
                event = events.recv() => match event {
                    None => { tracing::error!("the XMPP session task ended"); return Ended::Shutdown; }
                    Some(SessionEvent::Online { fresh, .. }) => {
                        online = true;
                        self.health.set_online(true);
                        self.health.pong();
                        metrics().xmpp_reconnects.inc();
                        if fresh {
                            // Every room presence of the old session is gone: rejoin them all.
                            for entry in self.rooms.values_mut() {
                                entry.inside = false;
                                entry.needs_rejoin = true;
                            }
                        }
                    }
                    Some(SessionEvent::Offline) => {
                        online = false;
                        self.health.set_online(false);
                    }
                    Some(SessionEvent::Pong(_)) => self.health.pong(),
                    Some(SessionEvent::ConnectFailed { .. }) => {}
                    Some(SessionEvent::RoomPresence(p)) => self.on_presence(p),
                    Some(SessionEvent::Message(m)) => self.on_message(m),
                },
                Some(done) = self.done_rx.recv() => self.on_done(done),
                _ = tick.tick() => {
                    self.feed_all(|| Event::Tick);
                    if online {
                        self.start_rejoins();
                        self.refill();
                    }
                    self.report();
                }
                _ = poll.tick() => self.poll_claims(),
                _ = prune.tick() => self.prune_transcripts(),
                Some(()) = stall.recv() => {
                    // Debug builds only: a stuck main loop, for the test of /livez and the
                    // watchdog. A blocking sleep holds this task as a deadlock would.
                    tracing::warn!("SIGUSR2: stalling the main loop for 15 s (debug build)");
                    std::thread::sleep(Duration::from_secs(15));
                }
            }
        }
    }

    fn on_presence(&mut self, p: RoomPresence) {
        let Some(entry) = self.rooms.get(&p.room) else {
            tracing::debug!(room = %p.room, nick = %p.nick, "presence from a room the bot does not follow");
            return;
        };
        if !entry.inside {
            return;
        }
        let own_nick = self.config.muc.nick.as_str();
        let clean_exit = self.config.muc.clean_exit_status.as_str();
        let Some(event) = stanza::presence_event(&p, own_nick, clean_exit) else {
            if let PresenceKind::Error(condition) = &p.kind {
                tracing::debug!(room = %p.room, nick = %p.nick, %condition, "error presence from a room");
            }
            return;
        };
        match &event {
            Event::Lost => {
                tracing::error!(room = %p.room, codes = ?p.codes, affiliation = ?p.affiliation, destroyed = p.destroyed, "the bot was removed from a room or lost its ownership")
            }
            Event::Joined { nick } => {
                tracing::info!(room = %p.room, nick = %nick, jid = ?p.real_jid, "joined")
            }
            Event::Left { nick, clean } => {
                tracing::info!(room = %p.room, nick = %nick, clean, kicked = p.has(STATUS_KICKED), ghost = p.has(STATUS_GHOST), "left")
            }
            _ => {}
        }
        let real_jid = p.real_jid.clone();
        self.feed(&p.room, event, real_jid.as_deref());
    }

    fn on_message(&mut self, m: xmpp_parsers::message::Message) {
        let Some(msg) = stanza::room_message(&m) else {
            tracing::debug!(from = ?m.from.as_ref().map(|j| j.to_string()), kind = ?m.type_, "ignoring a message that is not a room chat message");
            return;
        };
        if msg.delayed || msg.nick == self.config.muc.nick || !self.rooms.contains_key(&msg.room) {
            return;
        }
        self.feed(
            &msg.room,
            Event::Message {
                nick: msg.nick,
                body: msg.body,
            },
            None,
        );
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Created(result) => {
                self.creating -= 1;
                match result {
                    Ok(created) => {
                        let now = Utc::now();
                        tracing::info!(room = %created.jid, "room created and ready");
                        metrics().rooms_created.inc();
                        self.writes.push(Write::InsertRoom {
                            jid: created.jid.to_string(),
                            password: created.password.clone(),
                            at: now,
                        });
                        self.rooms.insert(
                            created.jid,
                            Entry {
                                room: Room::new(now),
                                password: created.password,
                                inside: true,
                                needs_rejoin: false,
                                next_seq: 1,
                            },
                        );
                        self.create_backoff = Duration::from_millis(500);
                        self.create_paused_until = None;
                    }
                    Err(e) => {
                        metrics().room_create_failures.inc();
                        tracing::error!(error = %e, retry_in_ms = self.create_backoff.as_millis() as u64, "creating a room failed");
                        self.create_paused_until = Some(Instant::now() + self.create_backoff);
                        self.create_backoff = (self.create_backoff * 2).min(MAX_CREATE_BACKOFF);
                    }
                }
                self.refill();
            }
            Done::Claims(jid, Ok(Some(claims))) => self.feed(&jid, Event::Claims(claims), None),
            Done::Claims(jid, Ok(None)) => {
                // The row is not written yet (the insert is still queued): nobody can hold a claim.
                self.feed(&jid, Event::Claims(Claims::default()), None)
            }
            Done::Claims(jid, Err(e)) => {
                tracing::warn!(room = %jid, error = %e, "reading claims failed; will ask again");
                self.feed(&jid, Event::ClaimsUnavailable, None);
            }
            Done::Polled(result) => {
                self.polling = false;
                match result {
                    Ok(rows) => {
                        self.health.set_database(true);
                        if std::mem::take(&mut self.poll_failing) {
                            tracing::info!("the database answers again");
                        }
                        for (jid, claims) in rows {
                            if let Ok(jid) = BareJid::new(&jid) {
                                if self.rooms.get(&jid).is_some_and(|e| e.inside) {
                                    self.feed(&jid, Event::Claims(claims), None);
                                }
                            }
                        }
                    }
                    Err(e) if !self.poll_failing => {
                        metrics().db_errors.inc();
                        self.health.set_database(false);
                        self.poll_failing = true;
                        tracing::warn!(error = %e, "cannot read claims from the database; XMPP goes on, writes are queued");
                    }
                    Err(_) => {
                        metrics().db_errors.inc();
                    }
                }
            }
            Done::Rotated(jid, Some(password)) => {
                if let Some(entry) = self.rooms.get_mut(&jid) {
                    entry.password = password;
                }
                tracing::info!(room = %jid, "client claim expired; room password changed");
                self.feed(&jid, Event::PasswordRotated, None);
            }
            Done::Rotated(jid, None) => self.feed(&jid, Event::RotationFailed, None),
            Done::Rejoined(jid, result) => {
                self.rejoins_running -= 1;
                self.on_rejoined(jid, result);
            }
        }
    }

    fn on_rejoined(&mut self, jid: BareJid, result: Result<Joined, IqError>) {
        let Some(entry) = self.rooms.get_mut(&jid) else {
            return;
        };
        match result {
            Ok(joined) if joined.own.has(STATUS_CREATED) => {
                // The room had vanished and the join just created a new, empty one: remove it.
                tracing::error!(room = %jid, "room had vanished from the server; closing it");
                entry.inside = true;
                self.feed(&jid, Event::Lost, None);
            }
            Ok(joined) if joined.own.affiliation.as_deref() != Some("owner") => {
                tracing::error!(room = %jid, affiliation = ?joined.own.affiliation, "the bot is no longer owner of the room");
                if let Ok(leave) = stanza::leave(&jid, &self.config.muc.nick) {
                    self.session.send(leave);
                }
                entry.inside = true;
                self.feed(&jid, Event::Lost, None);
            }
            Ok(joined) => {
                entry.inside = true;
                entry.needs_rejoin = false;
                let present: Vec<String> = joined
                    .occupants
                    .iter()
                    .filter(|o| o.kind == PresenceKind::Available)
                    .map(|o| o.nick.clone())
                    .collect();
                tracing::info!(room = %jid, status = %entry.room.status(), present = present.len(), "rejoined room");
                self.probe_occupants(&jid, &present);
                self.feed(&jid, Event::Rejoined { present }, None);
            }
            Err(IqError::Error(condition)) => {
                tracing::error!(room = %jid, %condition, "cannot rejoin room; closing it");
                entry.inside = true;
                self.feed(&jid, Event::Lost, None);
            }
            Err(e) => {
                tracing::warn!(room = %jid, error = %e, "rejoining room failed; will try again");
                entry.needs_rejoin = true;
            }
        }
    }

    /// Tells `/livez`, `/readyz`, `/metrics` and systemd how things are; called on every tick of
    /// the main loop, so that a loop that is stuck stops petting the watchdog.
    fn report(&mut self) {
        self.health.loop_turned();
        // One pass over the rooms: counts by status, and the rooms ready for a staff member (a
        // room of an earlier session counts once the bot is back inside it).
        let mut by_status = [0i64; 4];
        let mut ready = 0;
        for entry in self.rooms.values() {
            let i = match entry.room.status() {
                Status::Available => 0,
                Status::Staffed => 1,
                Status::Busy => 2,
                Status::Closing | Status::Closed => 3,
            };
            by_status[i] += 1;
            if entry.inside && entry.room.is_ready() {
                ready += 1;
            }
        }
        let statuses = [
            Status::Available,
            Status::Staffed,
            Status::Busy,
            Status::Closing,
        ];
        for (status, n) in statuses.iter().zip(by_status) {
            metrics()
                .rooms
                .get_or_create(&StatusLabel {
                    status: status.as_str(),
                })
                .set(n);
        }
        self.health.set_ready_rooms(ready);
        let status = format!(
            "{ready} rooms ready, {} staffed, {} busy, {} closing",
            by_status[1], by_status[2], by_status[3]
        );
        if ready >= self.config.pool.size as usize {
            self.notifier.ready(&status);
        }
        self.notifier.status(&status);
        self.notifier.pet();
    }

    /// After a restart of the bot or of the server, an occupant the room lists may be a ghost
    /// whose session is gone. A ping to each one finds out: the server bounces it, removes the
    /// ghost with status 333, and that presence is an unclean leave like any other.
    fn probe_occupants(&self, room: &BareJid, nicks: &[String]) {
        for nick in nicks {
            let Ok(occupant) = room.with_resource_str(nick) else {
                continue;
            };
            let session = self.session.clone();
            let (room, nick) = (room.clone(), nick.clone());
            tokio::spawn(async move {
                match session
                    .iq(stanza::ping(occupant.into(), String::new()))
                    .await
                {
                    Ok(_) => {
                        tracing::debug!(room = %room, nick = %nick, "occupant answered a probe")
                    }
                    Err(e) => {
                        tracing::info!(room = %room, nick = %nick, error = %e, "occupant did not answer a probe")
                    }
                }
            });
        }
    }

    fn start_rejoins(&mut self) {
        let limit = self.config.pool.parallel_creations as usize * 4;
        let nick = self.config.muc.nick.clone();
        for (jid, entry) in self.rooms.iter_mut() {
            if self.rejoins_running >= limit {
                break;
            }
            if !entry.needs_rejoin {
                continue;
            }
            entry.needs_rejoin = false;
            self.rejoins_running += 1;
            let Ok(presence) = stanza::join(jid, &nick, &entry.password) else {
                continue;
            };
            let (session, done, jid) = (self.session.clone(), self.done_tx.clone(), jid.clone());
            tokio::spawn(async move {
                let result = session.join(jid.clone(), presence).await;
                let _ = done.send(Done::Rejoined(jid, result));
            });
        }
    }

    fn refill(&mut self) {
        if self.create_paused_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        // Rooms of an earlier run that are being rejoined count too: creating more would only
        // overshoot the pool.
        let ready = self.rooms.values().filter(|e| e.room.is_ready()).count();
        let n = pool::creations_to_start(
            self.config.pool.size,
            self.config.pool.max_rooms,
            self.config.pool.parallel_creations,
            ready,
            self.rooms.len(),
            self.creating,
        );
        for _ in 0..n {
            self.creating += 1;
            let (session, settings, done) = (
                self.session.clone(),
                self.create.clone(),
                self.done_tx.clone(),
            );
            tokio::spawn(async move {
                let result = pool::create_room(&session, &settings).await;
                let _ = done.send(Done::Created(result));
            });
        }
    }

    fn prune_transcripts(&self) {
        let store = self.store.clone();
        let days = self.config.transcripts.keep_days;
        tokio::spawn(async move {
            match store
                .prune(Utc::now() - chrono::Duration::days(days.into()))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(erased = n, keep_days = days, "erased old message bodies"),
                Err(e) => {
                    tracing::warn!(error = %e, "erasing old message bodies failed; will try again in an hour")
                }
            }
        });
    }

    fn poll_claims(&mut self) {
        if self.polling {
            return;
        }
        self.polling = true;
        let (store, done) = (self.store.clone(), self.done_tx.clone());
        tokio::spawn(async move {
            let result = tokio::time::timeout(Duration::from_secs(5), store.open_claims()).await;
            let result = match result {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("timed out".into()),
            };
            let _ = done.send(Done::Polled(result));
        });
    }

    fn feed_all(&mut self, event: impl Fn() -> Event) {
        let jids: Vec<BareJid> = self
            .rooms
            .iter()
            .filter(|(_, e)| e.inside)
            .map(|(j, _)| j.clone())
            .collect();
        for jid in jids {
            self.feed(&jid, event(), None);
        }
    }

    /// Feeds `event` to the room `jid` and carries out the actions.
    fn feed(&mut self, jid: &BareJid, event: Event, real_jid: Option<&str>) {
        let Some(entry) = self.rooms.get_mut(jid) else {
            return;
        };
        let now = Utc::now();
        let actions = entry.room.handle(event, now, &self.limits);
        let closed = entry.room.status() == Status::Closed;
        for action in actions {
            self.act(jid, action, real_jid);
        }
        if closed {
            self.rooms.remove(jid);
        }
    }

    fn act(&mut self, jid: &BareJid, action: Action, real_jid: Option<&str>) {
        let room = jid.to_string();
        match action {
            Action::Transition(t) => {
                metrics()
                    .transitions
                    .get_or_create(&TransitionLabels {
                        to: t.to.as_str(),
                        reason: t.reason.as_str(),
                    })
                    .inc();
                tracing::info!(room = %room, from = t.from.map_or("", Status::as_str), status = %t.to, reason = %t.reason, nick = ?t.nick, "status changed");
                self.writes.push(Write::Transition {
                    jid: room,
                    transition: t,
                });
            }
            Action::Kick { nick, reason } => {
                let label = match reason {
                    KickReason::NoClaim => "no_claim",
                    KickReason::ThirdPerson => "third_person",
                    KickReason::Timeout => "timeout",
                };
                metrics()
                    .kicks
                    .get_or_create(&KickLabel { reason: label })
                    .inc();
                match reason {
                    KickReason::NoClaim => {
                        tracing::warn!(target: "helpim_bot::security", room = %room, nick = %nick, jid = ?real_jid, "kicking someone who joined without a claim")
                    }
                    KickReason::ThirdPerson => {
                        tracing::warn!(target: "helpim_bot::security", room = %room, nick = %nick, jid = ?real_jid, "kicking a third person")
                    }
                    KickReason::Timeout => {
                        tracing::info!(room = %room, nick = %nick, "kicking at a timeout")
                    }
                }
                let (session, jid) = (self.session.clone(), jid.clone());
                tokio::spawn(async move {
                    if let Err(e) = session
                        .iq(stanza::kick(&jid, String::new(), &nick, reason.text()))
                        .await
                    {
                        tracing::warn!(room = %jid, nick = %nick, error = %e, "kick failed");
                    }
                });
            }
            Action::CheckClaims => {
                let (store, done, jid) = (self.store.clone(), self.done_tx.clone(), jid.clone());
                tokio::spawn(async move {
                    let result =
                        tokio::time::timeout(Duration::from_secs(5), store.claims(jid.as_str()))
                            .await;
                    let result = match result {
                        Ok(r) => r.map_err(|e| e.to_string()),
                        Err(_) => Err("timed out".into()),
                    };
                    let _ = done.send(Done::Claims(jid, result));
                });
            }
            Action::RotatePassword { client_claimed_at } => {
                let (session, settings, writes, done, jid) = (
                    self.session.clone(),
                    self.create.clone(),
                    self.writes.clone(),
                    self.done_tx.clone(),
                    jid.clone(),
                );
                tokio::spawn(async move {
                    let password = pool::new_password();
                    let result = match pool::configure(&session, &jid, &password, &settings).await {
                        Ok(()) => {
                            writes.push(Write::RotatePassword {
                                jid: jid.to_string(),
                                password: password.clone(),
                                client_claimed_at,
                            });
                            Some(password)
                        }
                        Err(e) => {
                            tracing::warn!(room = %jid, error = %e, "changing the room password failed; will try again");
                            None
                        }
                    };
                    let _ = done.send(Done::Rotated(jid, result));
                });
            }
            Action::Destroy { reason } => {
                let (session, jid) = (self.session.clone(), jid.clone());
                tokio::spawn(destroy_with_retries(session, jid, reason));
            }
            Action::RecordMessage { nick, role, body } => {
                let at = Utc::now();
                let entry = self.rooms.get_mut(jid);
                match entry {
                    Some(entry) if self.config.transcripts.enabled => {
                        let seq = entry.next_seq;
                        entry.next_seq += 1;
                        self.writes.push(Write::Message {
                            jid: room,
                            seq,
                            at,
                            nick,
                            role,
                            body,
                        });
                    }
                    _ => self.writes.push(Write::MessageAt { jid: room, at }),
                }
            }
        }
    }

    /// SIGTERM: destroy the unclaimed `available` rooms, leave the rest running, write everything
    /// down, end the XMPP stream cleanly.
    async fn shut_down(&mut self) {
        tracing::info!(rooms = self.rooms.len(), "shutting down");
        let now = Utc::now();
        let mut destroys = Vec::new();
        let jids: Vec<BareJid> = self.rooms.keys().cloned().collect();
        for jid in jids {
            let entry = self.rooms.get_mut(&jid).expect("present");
            for action in entry.room.handle(Event::Shutdown, now, &self.limits) {
                match action {
                    Action::Transition(t) => self.writes.push(Write::Transition {
                        jid: jid.to_string(),
                        transition: t,
                    }),
                    Action::Destroy { reason } => {
                        let session = self.session.clone();
                        let jid = jid.clone();
                        destroys.push(async move {
                            let _ = session
                                .iq(stanza::destroy(&jid, String::new(), reason.as_str()))
                                .await;
                        });
                    }
                    _ => {}
                }
            }
        }
        let _ = tokio::time::timeout(
            Duration::from_secs(4),
            futures_util::future::join_all(destroys),
        )
        .await;
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

/// Destroys a room whose row is closed. A lost connection or a timeout is retried for about a
/// minute (the row is closed already, so nothing else would remove the room); an error answer is
/// final: the server says the room is gone or not the bot's.
async fn destroy_with_retries(session: Session, jid: BareJid, reason: Reason) {
    let mut delay = Duration::from_secs(1);
    for attempt in 1.. {
        match session
            .iq(stanza::destroy(&jid, String::new(), reason.as_str()))
            .await
        {
            Ok(_) => {
                tracing::info!(room = %jid, %reason, "room destroyed");
                return;
            }
            Err(IqError::Error(condition)) => {
                tracing::warn!(room = %jid, %condition, "the server refused to destroy the room");
                return;
            }
            Err(e) if attempt < 8 => {
                tracing::warn!(room = %jid, error = %e, retry_in_ms = delay.as_millis() as u64, "destroying the room failed; will try again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
            Err(e) => {
                tracing::error!(room = %jid, error = %e, "destroying the room failed; giving up");
                return;
            }
        }
    }
}

/// The state machine of a room read back from its row.
fn restore(row: &RoomRow, claims: Claims) -> Room {
    Room::restore(
        row.status,
        row.status_changed_at,
        claims,
        row.staff_nick.clone(),
        row.client_nick.clone(),
        row.last_message_at.unwrap_or(row.status_changed_at),
    )
}
