//! The whole bot as a pure state machine: `(state, input, now) → (effects, next deadline)`.
//!
//! [`Core::handle`] takes what happened — a room presence or message read off the wire, the
//! answer to a request, the result of a database read, the coming of a deadline, shutdown — with
//! the current time, and returns what to do: stanzas to send ([`Effect::Send`],
//! [`Effect::Request`]), reads and writes to make ([`Effect::Read`], [`Effect::Write`]).
//! [`Core::next_deadline`] says when to call it again if nothing else happens. No sockets, no
//! database, no clock, no tasks: the driver ([`crate::driver`]) owns those, and the tests here
//! run the bot on a simulated clock.
//!
//! What it owns: every live room ([`room`]), the pool and its backoff ([`pool`]), rejoining after
//! a restart or a new session (with the history the bot missed), claim checks and the claims
//! poll, destroy retries, ghost probes, retention and shutdown. Each room's time limits are
//! deadlines in one heap ([`deadlines`]): nothing runs per room while nothing happens.

pub mod effects;
mod outbox;
pub mod pool;
mod protocol;
pub mod questions;
pub mod queue;
pub mod room;
pub mod settings;
pub mod tally;
pub mod timers;
pub mod translate;
pub mod types;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;

use crate::xmpp::stanza::domain_of;
use crate::xmpp::stanza::{
    self, PresenceKind, RoomMessage, RoomPresence, RoomSettings, STATUS_CREATED, STATUS_GHOST,
    STATUS_KICKED, STATUS_SELF,
};
use crate::xmpp::{self, Answer, IqError, Joined, Request};
pub use effects::{
    Assigned, Effect, Input, Line, LiveChat, Query, QueryResult, RequestId, Restored, Waiter, Write,
};
use outbox::{JoinAnswer, Outbox};
use pool::{Backoff, Secrets};
use protocol::{Lent, Protocol, Waiting};
use queue::Queue;
use room::{Action, Event, HandoverEnd, Room};
pub use settings::Settings;
use tally::{Counters, Counts, Tally};
use timers::{Deadlines, Timer, Wake};
use types::{KickReason, Reason, Role, Seat, Status, Time};

/// How many names are tried before a creation fails (each one existed already).
const NAME_ATTEMPTS: u32 = 5;
/// How many times a destroy that met a lost connection or a timeout is sent.
const DESTROY_ATTEMPTS: u32 = 8;
/// After a rejoin failed for a passing reason, how long before rejoins go on.
const REJOIN_RETRY: Duration = Duration::from_secs(1);
/// How often old message bodies are erased.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long a leave without the clean status waits for the leaver's session to answer a ping
/// (XEP-0199) before it counts as a dropped connection. A session that answers left on purpose,
/// as a standard client (Converse.js, Gajim) leaves a room: without a status text.
pub const LEAVE_CHECK: Duration = Duration::from_secs(5);
/// Stored messages this close before the latest are remembered, so that the same line replayed
/// by the room's history is not stored twice (history is asked for from a second earlier). It is
/// also how far a replayed line's stamp (the server's, whole seconds on Prosody) may be from the
/// time the line was stored at (the bot's, when it heard the line live) and still be that line.
const REPLAY_OVERLAP: Duration = Duration::from_secs(2);

/// The name of an enum's variant, without its fields: what a log line may say of a value that
/// can hold a password or a visitor's name.
pub(crate) fn variant(value: &impl std::fmt::Debug) -> String {
    let shown = format!("{value:?}");
    let name = shown
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next();
    name.unwrap_or_default().to_string()
}

/// Where a room is with rejoining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejoin {
    /// Inside (or never left).
    Done,
    /// Waiting in the rejoin queue.
    Queued,
    /// The join is on its way.
    Running,
}

/// A live (not closed) room: its state machine, its password, and whether the bot is inside.
#[derive(Debug)]
struct Entry {
    room: Room,
    password: String,
    /// The bot is inside and sees presences (false while it rejoins).
    inside: bool,
    rejoin: Rejoin,
    /// The transcript number of the next chat message.
    next_seq: i64,
    /// History is asked for from here on when the bot rejoins.
    history_since: Time,
    /// The messages stored in the last [`REPLAY_OVERLAP`] before the latest one.
    recent: VecDeque<(Time, String, String)>,
    /// The stored lines (time, nick, body) the room's current history replay may repeat: armed
    /// from `recent` at each self-presence (every join, however many in one session, is
    /// followed by its own replay), each matched at most once per replay.
    replay_skip: Vec<(Time, String, String)>,
    /// Leaves without the clean status held back while the leaver's session is pinged, by nick:
    /// until the answer the room still counts them inside.
    leave_checks: HashMap<String, LeaveCheck>,
}

impl Entry {
    /// A history replay begins: every stored line it may repeat can be skipped once.
    fn arm_replay_skip(&mut self) {
        self.replay_skip = self.recent.iter().cloned().collect();
    }
}

/// A leave without the clean status, held back until the leaver's session answers a ping.
#[derive(Debug)]
struct LeaveCheck {
    /// Tells this check's answer from that of an earlier one for the same nick.
    id: u64,
    /// The leaver's real bare JID: the same person coming back under the nick drops the leave.
    jid: Option<String>,
}

/// What an outstanding request or read is for.
#[derive(Debug)]
enum Pending {
    CreateJoin {
        room: BareJid,
        password: String,
        attempt: u32,
    },
    CreateForm {
        room: BareJid,
        password: String,
    },
    CreateSubmit {
        room: BareJid,
        password: String,
        /// Submitted with the form learned from an earlier room, without asking for this one's.
        learned: bool,
    },
    Rejoin {
        room: BareJid,
    },
    RotateForm {
        room: BareJid,
        password: String,
        client_claimed_at: Time,
    },
    RotateSubmit {
        room: BareJid,
        password: String,
        client_claimed_at: Time,
    },
    Kick {
        room: BareJid,
        nick: String,
    },
    Destroy {
        room: BareJid,
        reason: Reason,
        attempt: u32,
    },
    Probe {
        room: BareJid,
        nick: String,
    },
    Claims {
        room: BareJid,
    },
    Poll,
    Assign,
    Sweep,
    /// A database query of a command; its answer goes to the command's home.
    Command(Waiting),
    /// The waiting list read for the pushes to staff.
    ShiftList,
    /// A step of setting up the staff room.
    StaffRoom(protocol::StaffRoomStep),
    /// A ping, after a new session, to a waiting visitor or a staff member present before: is
    /// that session still there?
    PresenceProbe(xmpp_parsers::jid::FullJid),
    /// A ping to someone who left `room` without the clean status: an answer makes it a clean
    /// leave ([`LEAVE_CHECK`]).
    LeaveCheck {
        room: BareJid,
        nick: String,
        id: u64,
    },
}

/// A destroy to send again later.
#[derive(Debug)]
struct DestroyRetry {
    at: Time,
    room: BareJid,
    reason: Reason,
    attempt: u32,
}

/// The bot's state. See the module documentation.
pub struct Core {
    settings: Settings,
    secrets: Box<dyn Secrets>,
    rooms: HashMap<BareJid, Entry>,
    deadlines: Deadlines<BareJid>,
    /// The effects of the turn and the requests and queries waiting for their answer.
    out: Outbox,
    online: bool,
    stopping: bool,
    creating: usize,
    /// The fields the MUC service's owner form offered for the first room of this session: every
    /// room of one service gets the same form, so later creations submit it without asking (two
    /// round trips a room instead of three). Forgotten with the session, and when a submission
    /// based on it is refused.
    room_form: Option<Vec<stanza::OfferedField>>,
    backoff: Backoff,
    rejoin_queue: VecDeque<BareJid>,
    rejoins_running: usize,
    rejoin_paused_until: Option<Time>,
    destroy_retries: Vec<DestroyRetry>,
    polling: bool,
    next_poll: Option<Time>,
    poll_failing: bool,
    /// The closed rooms not yet erased were looked for (once, with the first sweep).
    forgot_rooms: bool,
    next_prune: Option<Time>,
    queue: Queue,
    tally: Tally,
    counters: Counters,
    /// Visitors and staff over XMPP ([`protocol`]).
    protocol: Protocol,
    /// Leave checks started since the start (the id of the next).
    leave_checks: u64,
}

impl Core {
    /// A bot with no rooms yet, offline.
    pub fn new(settings: Settings, secrets: Box<dyn Secrets>) -> Core {
        Core {
            queue: Queue::new(settings.queue_auto, settings.poll_interval),
            out: Outbox::new(settings.request_timeout),
            settings,
            secrets,
            rooms: HashMap::new(),
            deadlines: Deadlines::default(),
            online: false,
            stopping: false,
            creating: 0,
            room_form: None,
            backoff: Backoff::default(),
            rejoin_queue: VecDeque::new(),
            rejoins_running: 0,
            rejoin_paused_until: None,
            destroy_retries: Vec::new(),
            polling: false,
            next_poll: None,
            poll_failing: false,
            next_prune: None,
            forgot_rooms: false,
            tally: Tally::default(),
            counters: Counters::default(),
            protocol: Protocol::default(),
            leave_checks: 0,
        }
    }

    /// Takes over the rooms an earlier run left running; they are rejoined once online.
    pub fn restore(&mut self, rooms: Vec<Restored>) {
        for r in rooms {
            let entry = Entry {
                room: r.room,
                password: r.password,
                inside: false,
                rejoin: Rejoin::Queued,
                next_seq: r.last_seq + 1,
                history_since: r.history_since,
                recent: r.recent.into(),
                replay_skip: Vec::new(),
                leave_checks: HashMap::new(),
            };
            self.tally.count(&entry.room, entry.inside, true);
            self.rejoin_queue.push_back(r.jid.clone());
            self.rooms.insert(r.jid, entry);
        }
    }

    /// Feeds one input in at `now`; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Time) -> Vec<Effect> {
        self.out.turn(now);
        match input {
            Input::Online { fresh } => self.on_online(fresh, now),
            Input::Offline => self.online = false,
            Input::Presence(p) => self.on_presence(p, now),
            Input::Message(m) => self.on_message(m, now),
            Input::Request(r) => self.lend(now, |protocol, lent| protocol.on_request(r, lent)),
            Input::Response { id, from, result } => {
                self.on_response(&id, from.as_ref(), result, now)
            }
            Input::QueryDone { id, result } => self.on_read(id, result, now),
            Input::Timer => {}
        }
        self.run_due(now);
        if !self.stopping {
            // Staff on duty hear of what this input changed (rate-limited).
            self.lend(now, |protocol, lent| protocol.shift_turn(lent));
        }
        self.out.take()
    }

    /// SIGTERM: the unclaimed `available` rooms are closed and destroyed, every other room is
    /// left running for the next start; nothing new is started.
    pub fn shutdown(&mut self, now: Time) -> Vec<Effect> {
        self.stopping = true;
        tracing::info!(rooms = self.rooms.len(), "shutting down");
        let jids: Vec<BareJid> = self.rooms.keys().cloned().collect();
        for jid in jids {
            self.feed(&jid, Event::Shutdown, now);
        }
        self.out.take()
    }

    /// When [`Core::handle`] wants to be called with [`Input::Timer`] at the latest.
    pub fn next_deadline(&mut self) -> Option<Time> {
        self.next_wake().map(|w| w.at)
    }

    /// [`Core::next_deadline`] with its reason: the earliest of the named timers.
    pub fn next_wake(&mut self) -> Option<Wake> {
        let refill = (self.online && !self.stopping)
            .then(|| self.backoff.until())
            .flatten();
        let rejoin = (self.online && !self.rejoin_queue.is_empty())
            .then_some(self.rejoin_paused_until)
            .flatten();
        Wake::earliest([
            (self.deadlines.earliest(), Timer::Room),
            (
                self.destroy_retries.iter().map(|d| d.at).min(),
                Timer::DestroyRetry,
            ),
            (
                (!self.polling && !self.stopping)
                    .then_some(self.next_poll)
                    .flatten(),
                Timer::ClaimsPoll,
            ),
            (
                (!self.stopping).then_some(self.next_prune).flatten(),
                Timer::Prune,
            ),
            (
                (!self.stopping).then(|| self.queue.deadline()).flatten(),
                Timer::QueueSweep,
            ),
            (refill, Timer::Refill),
            (rejoin, Timer::Rejoin),
            (self.out.next_limit(), Timer::RequestLimit),
            (
                (!self.stopping)
                    .then(|| self.protocol.shift_deadline())
                    .flatten(),
                Timer::StaffPush,
            ),
        ])
    }

    /// Events counted since the start (for `/metrics`).
    pub fn counters(&self) -> Counters {
        Counters {
            request_timeouts: self.out.timeouts,
            ..self.counters
        }
    }

    /// Rooms by status and ready rooms.
    pub fn counts(&self) -> Counts {
        self.tally.counts
    }

    /// Visitors waiting and since when the first does, as of the last sweep.
    pub fn queue(&self) -> (i64, Option<Time>) {
        (self.queue.waiting(), self.queue.oldest())
    }

    /// False while the database cannot be read.
    pub fn database_ok(&self) -> bool {
        !self.poll_failing
    }

    /// Destroys sent and not answered yet (shutdown waits for them).
    pub fn destroys_pending(&self) -> usize {
        self.out.count(|p| matches!(p, Pending::Destroy { .. }))
    }

    /// Live rooms.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }

    fn on_online(&mut self, fresh: bool, now: Time) {
        self.online = true;
        self.next_poll.get_or_insert(now);
        self.next_prune.get_or_insert(now);
        self.queue.start(now);
        if !fresh {
            return;
        }
        // A new session: nothing sent in the old one will be answered.
        for pending in self.out.session_ended() {
            self.on_answer(pending, Err(IqError::Disconnected), now);
        }
        // A new session may be a new or reconfigured server: learn its room form again.
        self.room_form = None;
        // Available, so that the presences visitors and staff direct at the bot reach it, and
        // the server forwards those of staff who have the bot in their roster (and the requests
        // to add it made while the bot was away, RFC 6121 §3.1.3).
        self.out.send(xmpp_parsers::presence::Presence::available());
        // Visitors and staff who went away while the bot had no session were never seen to go.
        self.protocol.session_started(&mut self.out);
        // The staff room is joined and configured again (a new server may have lost it).
        self.protocol
            .staff_room_start(&self.settings, &mut self.out);
        // Every room presence of the old session is gone: rejoin them all.
        self.rejoin_queue.clear();
        self.rejoin_paused_until = None;
        let jids: Vec<BareJid> = self.rooms.keys().cloned().collect();
        for jid in jids {
            self.queue_rejoin(jid);
        }
    }

    fn on_presence(&mut self, p: RoomPresence, now: Time) {
        match self.out.join_answered(&p) {
            JoinAnswer::Done(done) => {
                let (pending, result) = *done;
                return self.on_answer(pending, result, now);
            }
            JoinAnswer::Taken => return,
            JoinAnswer::None => {}
        }
        if self.settings.staff.room.as_ref() == Some(&p.room) {
            return self.protocol.staff_room_presence(&p, &self.settings);
        }
        if p.room.domain().as_str() != self.settings.service {
            // Not from a room: a person's presence directed at the bot (docs/protocol.md).
            return self.lend(now, |protocol, lent| protocol.on_direct_presence(p, lent));
        }
        let Some(entry) = self.rooms.get(&p.room) else {
            tracing::debug!(room = %p.room, nick = %p.nick, "presence from a room the bot does not follow");
            return;
        };
        if !entry.inside {
            return;
        }
        if p.kind == PresenceKind::Available && p.has(STATUS_SELF) {
            // The bot's own presence again while inside (a second join of this room in the same
            // session): the room replays its history once more after it.
            if let Some(entry) = self.rooms.get_mut(&p.room) {
                entry.arm_replay_skip();
            }
        }
        if translate::bot_out_without_cause(&p) {
            tracing::warn!(room = %p.room, "the bot's place in the room ended without a kick (an earlier session of its JID left); joining it again");
            return self.queue_rejoin(p.room);
        }
        let Some(event) =
            translate::presence_event(&p, &self.settings.nick, &self.settings.clean_exit)
        else {
            if let PresenceKind::Error(condition) = &p.kind {
                tracing::debug!(room = %p.room, nick = %p.nick, %condition, "error presence from a room");
            }
            return;
        };
        match &event {
            Event::Lost => {
                tracing::error!(room = %p.room, codes = ?p.codes, affiliation = ?p.affiliation, destroyed = p.destroyed, "the bot was removed from a room or lost its ownership")
            }
            // Nicks and real JIDs may be a visitor's: debug only (README, "Logs").
            Event::Joined(o) => {
                tracing::debug!(room = %p.room, nick = %o.nick, jid = ?o.jid, "joined")
            }
            Event::Left { nick, clean } => {
                tracing::debug!(room = %p.room, nick = %nick, clean, kicked = p.has(STATUS_KICKED), ghost = p.has(STATUS_GHOST), "left")
            }
            _ => {}
        }
        let real_jid = p.real_bare_jid();
        let Some(event) = self.leave_check(&p, event, now) else {
            return;
        };
        self.feed_from(&p.room, event, now, real_jid.as_deref());
    }

    /// Leaves without the clean status and the checks of them (see [`LEAVE_CHECK`]): the event to
    /// feed the room now, or `None` when there is none. A seated person's leave in a busy room is
    /// held back while their real full JID is pinged; until the answer, the room goes on as if
    /// they were inside. The same person back under the nick meanwhile drops the leave; anyone
    /// else taking the nick lets it stand, unclean, before their own join.
    fn leave_check(&mut self, p: &RoomPresence, event: Event, now: Time) -> Option<Event> {
        let entry = self.rooms.get_mut(&p.room)?;
        match event {
            Event::Left { nick, clean: false } => {
                let to = translate::leaver_to_ping(p)
                    .filter(|_| entry.room.leave_decides(&nick).is_some());
                let Some(to) = to else {
                    return Some(Event::Left { nick, clean: false });
                };
                self.leave_checks += 1;
                let id = self.leave_checks;
                let check = LeaveCheck {
                    id,
                    jid: p.real_bare_jid(),
                };
                entry.leave_checks.insert(nick.clone(), check);
                tracing::debug!(room = %p.room, nick = %nick, "a leave without the clean status: is the session still there?");
                let room = p.room.clone();
                let ping = Request::iq(stanza::ping(to.into()));
                let what = Pending::LeaveCheck { room, nick, id };
                self.out.request_within(ping, what, LEAVE_CHECK);
                None
            }
            Event::Joined(o) => {
                let Some(check) = entry.leave_checks.remove(&o.nick) else {
                    return Some(Event::Joined(o));
                };
                if check.jid == o.jid {
                    tracing::debug!(room = %p.room, nick = %o.nick, "back before the leave check's answer: still inside");
                    return None;
                }
                let left = Event::Left {
                    nick: o.nick.clone(),
                    clean: false,
                };
                self.feed(&p.room, left, now);
                Some(Event::Joined(o))
            }
            Event::NickChanged { old, new } => {
                if entry.leave_checks.remove(&new).is_some() {
                    let left = Event::Left {
                        nick: new.clone(),
                        clean: false,
                    };
                    self.feed(&p.room, left, now);
                }
                Some(Event::NickChanged { old, new })
            }
            other => Some(other),
        }
    }

    /// The answer to a leave check: a result makes the leave clean (and the bot says so in the
    /// room, for the person still there, whose client saw no clean status); an error or no answer
    /// leaves it unclean, as a dropped connection. An answer to a check dropped meanwhile (the
    /// person came back, the bot rejoined) changes nothing.
    fn leave_checked(
        &mut self,
        room: BareJid,
        nick: String,
        id: u64,
        result: Result<Answer, IqError>,
        now: Time,
    ) {
        let Some(entry) = self.rooms.get_mut(&room) else {
            return;
        };
        if entry.leave_checks.get(&nick).is_none_or(|c| c.id != id) {
            return;
        }
        entry.leave_checks.remove(&nick);
        let role = entry.room.leave_decides(&nick);
        let clean = result.is_ok();
        match &result {
            Ok(_) => {
                tracing::info!(room = %room, "a leave without the clean status: the session answered, a clean leave")
            }
            Err(e) => {
                tracing::info!(room = %room, error = %e, "a leave without the clean status: no answer, a dropped connection")
            }
        }
        self.feed(
            &room,
            Event::Left {
                nick: nick.clone(),
                clean,
            },
            now,
        );
        let (Some(role), true) = (role, clean) else {
            return;
        };
        if !self.rooms.contains_key(&room) {
            return;
        }
        // Read by the one still inside: a staff member's leave by the visitor, in their words.
        let words = match role {
            Role::Staff => self.protocol.visitor_words(&room, &self.settings),
            Role::Client => {
                let catalogs = &self.settings.catalogs;
                crate::i18n::Words::new(catalogs, catalogs.default_lang())
            }
        };
        let text = words.with(
            "left-clean",
            &[("name", crate::i18n::Arg::Str(nick.clone()))],
        );
        self.out.send(stanza::left_clean(&room, &nick, &text));
    }

    fn on_message(&mut self, m: RoomMessage, now: Time) {
        if !self.rooms.get(&m.room).is_some_and(|e| e.inside) {
            return;
        }
        let Some(event) = translate::message_event(&m, &self.settings.nick) else {
            return;
        };
        let event = match event {
            Event::Replayed { nick, body, at } => {
                let entry = self.rooms.get_mut(&m.room).expect("checked");
                // The room replays from a second before the last stored line: a replayed line
                // that is a stored one (same nick and body, its stamp near the stored time) is
                // skipped, each stored line once per replay.
                let near = chrono_of(REPLAY_OVERLAP);
                if let Some(i) = entry
                    .replay_skip
                    .iter()
                    .position(|(t, n, b)| *n == nick && *b == body && (at - *t).abs() <= near)
                {
                    entry.replay_skip.remove(i);
                    return;
                }
                if at < entry.history_since - chrono_of(REPLAY_OVERLAP) {
                    return;
                }
                Event::Replayed { nick, body, at }
            }
            live => live,
        };
        self.feed(&m.room, event, now);
    }

    /// An IQ answer read off the wire: matched to its request, or dropped.
    fn on_response(
        &mut self,
        id: &str,
        from: Option<&Jid>,
        result: Result<Option<Element>, IqError>,
        now: Time,
    ) {
        match self.out.iq_answered(id, from, result) {
            Some((pending, result)) => self.on_answer(pending, result, now),
            None => tracing::debug!(id, "an answer to no request of ours"),
        }
    }

    /// What a request was for, and its answer (or why there is none).
    fn on_answer(&mut self, pending: Pending, result: Result<Answer, IqError>, now: Time) {
        match pending {
            Pending::CreateJoin {
                room,
                password,
                attempt,
            } => match result {
                Ok(Answer::Joined(joined)) if joined.own.has(STATUS_CREATED) => {
                    match self.room_form.clone() {
                        Some(offered) => self.submit_room_form(room, password, &offered, true),
                        None => self.ask_room_form(room, password),
                    }
                }
                Ok(_) => {
                    tracing::warn!(room = %room, "room name already existed; leaving it and trying another");
                    self.leave(&room);
                    if attempt < NAME_ATTEMPTS {
                        self.create_one(attempt + 1);
                    } else {
                        self.creation_failed(
                            format!("{NAME_ATTEMPTS} room names in a row already existed"),
                            None,
                            now,
                        );
                    }
                }
                Err(e) => {
                    self.creation_failed(format!("joining the new room failed: {e}"), None, now)
                }
            },
            Pending::CreateForm { room, password } => match result {
                Ok(Answer::Iq(form)) => {
                    let offered = form
                        .as_ref()
                        .map(stanza::offered_fields)
                        .unwrap_or_default();
                    self.room_form = Some(offered.clone());
                    self.submit_room_form(room, password, &offered, false);
                }
                Ok(Answer::Joined(_)) => unreachable!("a form request is answered by an IQ"),
                Err(e) => {
                    let error = format!("fetching the configuration form of {room} failed: {e}");
                    self.creation_failed(error, Some(room), now)
                }
            },
            Pending::CreateSubmit {
                room,
                password,
                learned,
            } => match result {
                Ok(_) => self.created(room, password, now),
                Err(e) if learned => {
                    // The server's form changed under us: ask for this room's own form.
                    tracing::warn!(room = %room, error = %e, "the room form learned from an earlier room was refused; asking for this room's form");
                    self.room_form = None;
                    self.ask_room_form(room, password);
                }
                Err(e) => {
                    let error = format!("configuring {room} failed: {e}");
                    self.creation_failed(error, Some(room), now)
                }
            },
            Pending::Rejoin { room } => {
                self.rejoins_running -= 1;
                self.on_rejoined(room, result, now);
            }
            Pending::RotateForm {
                room,
                password,
                client_claimed_at,
            } => match result {
                Ok(Answer::Iq(form)) => {
                    let submit = self.config_submit(&room, &password, form.as_ref());
                    self.out.request(
                        Request::iq(submit),
                        Pending::RotateSubmit {
                            room,
                            password,
                            client_claimed_at,
                        },
                    );
                }
                Ok(Answer::Joined(_)) => unreachable!("a form request is answered by an IQ"),
                Err(e) => self.rotation_failed(&room, e, now),
            },
            Pending::RotateSubmit {
                room,
                password,
                client_claimed_at,
            } => match result {
                Ok(_) => {
                    if let Some(entry) = self.rooms.get_mut(&room) {
                        entry.password = password.clone();
                    }
                    self.out.write(Write::RotatePassword {
                        jid: room.to_string(),
                        password,
                        client_claimed_at,
                    });
                    tracing::info!(room = %room, "client claim expired; room password changed");
                    self.feed(&room, Event::PasswordRotated, now);
                }
                Err(e) => self.rotation_failed(&room, e, now),
            },
            Pending::Kick { room, nick } => {
                if let Err(e) = result {
                    tracing::warn!(room = %room, error = %e, "kick failed");
                    tracing::debug!(room = %room, nick = %nick, "the kick that failed");
                }
            }
            Pending::Destroy {
                room,
                reason,
                attempt,
            } => match result {
                Ok(_) => tracing::info!(room = %room, %reason, "room destroyed"),
                Err(IqError::Error(condition)) => {
                    tracing::warn!(room = %room, %condition, "the server refused to destroy the room")
                }
                Err(e) if attempt < DESTROY_ATTEMPTS && !self.stopping => {
                    // The row is closed already, so nothing else would remove the room.
                    let delay =
                        Duration::from_secs(1 << (attempt - 1).min(4)).min(Duration::from_secs(15));
                    tracing::warn!(room = %room, error = %e, retry_in_ms = delay.as_millis() as u64, "destroying the room failed; will try again");
                    self.destroy_retries.push(DestroyRetry {
                        at: now + chrono_of(delay),
                        room,
                        reason,
                        attempt: attempt + 1,
                    });
                }
                Err(e) => {
                    tracing::error!(room = %room, error = %e, "destroying the room failed; giving up")
                }
            },
            Pending::Probe { room, nick } => match result {
                Ok(_) => tracing::debug!(room = %room, nick = %nick, "occupant answered a probe"),
                Err(e) => {
                    tracing::info!(room = %room, error = %e, "occupant did not answer a probe");
                    tracing::debug!(room = %room, nick = %nick, "the occupant who did not answer");
                }
            },
            Pending::StaffRoom(step) => {
                self.protocol
                    .staff_room_answered(step, result, &self.settings, &mut self.out)
            }
            Pending::LeaveCheck { room, nick, id } => {
                self.leave_checked(room, nick, id, result, now)
            }
            Pending::PresenceProbe(jid) => {
                if let Err(IqError::Error(condition)) = result {
                    self.protocol.session_gone(&jid, &condition, &mut self.out);
                }
            }
            other @ (Pending::Claims { .. }
            | Pending::Poll
            | Pending::Assign
            | Pending::Sweep
            | Pending::ShiftList
            | Pending::Command(_)) => {
                tracing::warn!(
                    what = variant(&other),
                    "a database read was answered as a request"
                );
            }
        }
    }

    fn on_read(&mut self, id: RequestId, result: Result<QueryResult, String>, now: Time) {
        match self.out.query_answered(id) {
            Some(Pending::Claims { room }) => match result {
                Ok(QueryResult::Claims(claims)) => {
                    // No row yet (the insert is still queued): nobody can hold a claim.
                    self.feed(&room, Event::Claims(claims.unwrap_or_default()), now)
                }
                Ok(_) => unreachable!("answer to a claims read"),
                Err(e) => {
                    tracing::warn!(room = %room, error = %e, "reading claims failed; will ask again");
                    self.feed(&room, Event::ClaimsUnavailable, now);
                }
            },
            Some(Pending::Poll) => {
                self.polling = false;
                self.next_poll = Some(now + chrono_of(self.settings.poll_interval));
                match result {
                    Ok(QueryResult::OpenClaims(rows)) => {
                        if std::mem::take(&mut self.poll_failing) {
                            tracing::info!("the database answers again");
                        }
                        for (jid, claims) in rows {
                            let Ok(jid) = BareJid::new(&jid) else {
                                continue;
                            };
                            if self.rooms.get(&jid).is_some_and(|e| e.inside) {
                                self.feed(&jid, Event::Claims(claims), now);
                            }
                        }
                    }
                    Ok(_) => unreachable!("answer to the claims poll"),
                    Err(e) => {
                        self.counters.db_errors += 1;
                        if !std::mem::replace(&mut self.poll_failing, true) {
                            tracing::warn!(error = %e, "cannot read claims from the database; XMPP goes on, writes are queued");
                        }
                    }
                }
            }
            Some(Pending::Sweep) => match result {
                Ok(QueryResult::Swept(swept)) => {
                    self.queue.swept(Some((swept.waiting, swept.oldest)), now);
                    self.protocol.shift_swept(&swept, &mut self.out, now);
                    let closes_at = self.closes_soon(now);
                    let free = if self.settings.queue_auto {
                        self.tally.free_rooms()
                    } else {
                        0
                    };
                    self.protocol.queue_swept(
                        swept,
                        now,
                        closes_at,
                        free,
                        &self.settings.catalogs,
                        &mut self.out,
                    );
                }
                Ok(_) => unreachable!("answer to the queue sweep"),
                Err(e) => {
                    self.counters.db_errors += 1;
                    tracing::warn!(error = %e, "sweeping the queue failed; will try again");
                    self.queue.swept(None, now);
                }
            },
            Some(Pending::Assign) => match result {
                Ok(QueryResult::Assigned(Some(a))) => {
                    self.queue.assigned(Some(true));
                    tracing::info!(queue_id = a.queue_id, room = %a.room, over_xmpp = a.visitor_jid.is_some(), "a waiting visitor got a room");
                    self.lend(now, |protocol, lent| protocol.hand_over(&a, lent));
                }
                Ok(QueryResult::Assigned(None)) => self.queue.assigned(Some(false)),
                Ok(_) => unreachable!("answer to an assignment"),
                Err(e) => {
                    self.counters.db_errors += 1;
                    tracing::warn!(error = %e, "assigning a waiting visitor failed; will try again");
                    self.queue.assigned(None);
                }
            },
            Some(Pending::ShiftList) => {
                self.lend(now, |protocol, lent| protocol.shift_listed(result, lent))
            }
            Some(Pending::Command(waiting)) => self.lend(now, |protocol, lent| {
                protocol.answered(waiting, result, lent)
            }),
            Some(other) => {
                tracing::warn!(
                    id,
                    what = variant(&other),
                    "a request was answered as a database read"
                );
            }
            None => tracing::debug!(id, "a read result for no read of ours"),
        }
    }

    /// Everything whose time has come, then the pool and the rejoins.
    fn run_due(&mut self, now: Time) {
        for pending in self.out.expired(now) {
            self.on_answer(pending, Err(IqError::Timeout), now);
        }
        while let Some(jid) = self.deadlines.pop_due(now) {
            self.feed(&jid, Event::Tick, now);
        }
        if !self.destroy_retries.is_empty() {
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.destroy_retries)
                .into_iter()
                .partition(|d| d.at <= now);
            self.destroy_retries = later;
            for d in due {
                self.destroy(d.room, d.reason, d.attempt);
            }
        }
        if self.stopping {
            return;
        }
        if !self.polling && self.next_poll.is_some_and(|t| t <= now) {
            self.polling = true;
            self.out.query(Query::OpenClaims, Pending::Poll);
        }
        if self.next_prune.is_some_and(|t| t <= now) {
            self.next_prune = Some(now + chrono_of(PRUNE_EVERY));
            self.out.push(Effect::Prune {
                before: now - chrono::Duration::days(self.settings.keep_days.into()),
            });
        }
        if self.queue.sweep_due(now) {
            self.forget_ended();
            self.out.query(
                Query::SweepQueue {
                    max_wait: self.settings.max_wait,
                    visitor_timeout: self.settings.visitor_timeout,
                    return_grace: self.settings.return_grace,
                    places: self
                        .protocol
                        .places_due(now, self.closes_soon(now))
                        .then_some(self.settings.pace_window),
                },
                Pending::Sweep,
            );
        }
        if self.queue.assignment_due(self.tally.free_rooms()) {
            self.out.query(Query::Assign, Pending::Assign);
        }
        if self.online {
            self.start_rejoins(now);
            self.refill(now);
        }
    }

    /// With every sweep of the queue: the queue rows that ended since (left, expired, missed:
    /// by the bot, the sweep, or the web application) lose the visitor's names; the first time,
    /// closed rooms still naming their client too (docs/database.md, "What is kept of visitors").
    fn forget_ended(&mut self) {
        if self.settings.keep_visitor_names {
            // The names stay; the answers not kept for the reports go all the same.
            if !self.settings.questions.before.is_empty() {
                self.out.write(Write::ForgetAnswers { jid: None });
            }
            return;
        }
        let rooms = !self.forgot_rooms;
        self.forgot_rooms = true;
        self.out.write(Write::ForgetEnded { rooms });
    }

    fn refill(&mut self, now: Time) {
        if self.backoff.paused(now) {
            return;
        }
        // Rooms of an earlier run that are being rejoined count too: creating more would only
        // overshoot the pool.
        let n = pool::creations_to_start(
            self.settings.pool_size,
            self.settings.max_rooms,
            self.settings.parallel_creations,
            self.tally.counts.ready + self.tally.counts.ready_rejoining,
            self.rooms.len(),
            self.creating,
        );
        for _ in 0..n {
            self.creating += 1;
            self.create_one(1);
        }
    }

    fn create_one(&mut self, attempt: u32) {
        let name = self.secrets.room_name(&self.settings.prefix);
        let password = self.secrets.password();
        let room = match BareJid::new(&format!("{name}@{}", self.settings.service)) {
            Ok(room) => room,
            Err(e) => {
                // Only a wrong muc.service or room_prefix gets here; config checks both.
                tracing::error!(error = %e, "invalid room JID");
                self.creating -= 1;
                return;
            }
        };
        let Ok(presence) = stanza::join(&room, &self.settings.nick, &password, None) else {
            tracing::error!(room = %room, nick = %self.settings.nick, "cannot build a join with this nick");
            self.creating -= 1;
            return;
        };
        self.out.request(
            Request::Join {
                room: room.clone(),
                presence,
            },
            Pending::CreateJoin {
                room,
                password,
                attempt,
            },
        );
    }

    fn created(&mut self, room: BareJid, password: String, now: Time) {
        self.creating -= 1;
        self.backoff.succeeded();
        tracing::info!(room = %room, "room created and ready");
        self.counters.rooms_created += 1;
        self.out.write(Write::InsertRoom {
            jid: room.to_string(),
            password: password.clone(),
            at: now,
        });
        let entry = Entry {
            room: Room::new(now),
            password,
            inside: true,
            rejoin: Rejoin::Done,
            next_seq: 1,
            history_since: now,
            recent: VecDeque::new(),
            replay_skip: Vec::new(),
            leave_checks: HashMap::new(),
        };
        self.tally.count(&entry.room, entry.inside, true);
        self.rooms.insert(room, entry);
    }

    /// A creation failed; a room that was made but not configured is destroyed again.
    fn creation_failed(&mut self, error: String, made: Option<BareJid>, now: Time) {
        self.creating -= 1;
        self.counters.room_create_failures += 1;
        let wait = self.backoff.failed(now);
        tracing::error!(%error, retry_in_ms = wait.as_millis() as u64, "creating a room failed");
        if let Some(room) = made {
            self.destroy(room, Reason::Lost, 1);
        }
    }

    fn rotation_failed(&mut self, room: &BareJid, error: IqError, now: Time) {
        tracing::warn!(room = %room, %error, "changing the room password failed; will try again");
        self.feed(room, Event::RotationFailed, now);
    }

    fn start_rejoins(&mut self, now: Time) {
        if self.rejoin_paused_until.is_some_and(|t| now < t) {
            return;
        }
        self.rejoin_paused_until = None;
        let limit = self.settings.parallel_creations as usize * 4;
        while self.rejoins_running < limit {
            let Some(jid) = self.rejoin_queue.pop_front() else {
                break;
            };
            let Some(entry) = self.rooms.get_mut(&jid) else {
                continue;
            };
            if entry.rejoin != Rejoin::Queued {
                continue;
            }
            // A second earlier than the last stored line: the server's stamps have whole
            // seconds, and what is stored already is recognised and skipped.
            let since = entry.history_since - chrono_of(Duration::from_secs(1));
            match stanza::join(&jid, &self.settings.nick, &entry.password, Some(since)) {
                Ok(presence) => {
                    entry.rejoin = Rejoin::Running;
                    self.rejoins_running += 1;
                    self.out.request(
                        Request::Join {
                            room: jid.clone(),
                            presence,
                        },
                        Pending::Rejoin { room: jid },
                    );
                }
                Err(e) => {
                    // The nick cannot make a JID with this room: the bot can never get back
                    // in, so the room is closed rather than retried forever.
                    tracing::error!(room = %jid, error = %e, "cannot build the join for this room; closing it");
                    entry.rejoin = Rejoin::Done;
                    self.set_inside(&jid);
                    self.feed(&jid, Event::Lost, now);
                }
            }
        }
    }

    fn on_rejoined(&mut self, jid: BareJid, result: Result<Answer, IqError>, now: Time) {
        let Some(entry) = self.rooms.get_mut(&jid) else {
            return;
        };
        if entry.rejoin != Rejoin::Running {
            return; // a fresh session queued it again meanwhile
        }
        entry.rejoin = Rejoin::Done;
        let joined = match result {
            Ok(Answer::Joined(joined)) => joined,
            Ok(Answer::Iq(_)) => unreachable!("a join is answered by a presence"),
            Err(IqError::Error(condition)) => {
                tracing::error!(room = %jid, %condition, "cannot rejoin room; closing it");
                self.set_inside(&jid);
                return self.feed(&jid, Event::Lost, now);
            }
            Err(e) => {
                tracing::warn!(room = %jid, error = %e, "rejoining room failed; will try again");
                entry.rejoin = Rejoin::Queued;
                self.rejoin_queue.push_back(jid);
                self.rejoin_paused_until = Some(now + chrono_of(REJOIN_RETRY));
                return;
            }
        };
        let Joined { own, occupants } = joined;
        if own.has(STATUS_CREATED) {
            // The room had vanished and the join just created a new, empty one: remove it.
            tracing::error!(room = %jid, "room had vanished from the server; closing it");
            self.set_inside(&jid);
            return self.feed(&jid, Event::Lost, now);
        }
        if own.affiliation.as_deref() != Some("owner") {
            tracing::error!(room = %jid, affiliation = ?own.affiliation, "the bot is no longer owner of the room");
            self.leave(&jid);
            self.set_inside(&jid);
            return self.feed(&jid, Event::Lost, now);
        }
        let present: Vec<_> = occupants
            .iter()
            .filter(|o| o.kind == PresenceKind::Available)
            .map(translate::occupant)
            .collect();
        tracing::info!(room = %jid, status = %entry.room.status(), present = present.len(), "rejoined room");
        // After a restart, an occupant the room lists may be a ghost whose session is gone. A
        // ping to each one finds out: the server bounces it, removes the ghost with status 333,
        // and that presence is an unclean leave like any other.
        for o in &present {
            if let Ok(occupant) = jid.with_resource_str(&o.nick) {
                self.out.request(
                    Request::iq(stanza::ping(occupant.into())),
                    Pending::Probe {
                        room: jid.clone(),
                        nick: o.nick.clone(),
                    },
                );
            }
        }
        // Who is inside now decides; a leave still being checked is part of the past.
        if let Some(entry) = self.rooms.get_mut(&jid) {
            entry.leave_checks.clear();
            entry.arm_replay_skip();
        }
        self.set_inside(&jid);
        self.feed(&jid, Event::Rejoined { present }, now);
    }

    /// The bot is not inside `jid` (any more): join it again, with its history since the last
    /// stored line, when the rejoins come to it.
    fn queue_rejoin(&mut self, jid: BareJid) {
        let Some(entry) = self.rooms.get_mut(&jid) else {
            return;
        };
        self.tally.count(&entry.room, entry.inside, false);
        entry.inside = false;
        entry.rejoin = Rejoin::Queued;
        self.tally.count(&entry.room, entry.inside, true);
        self.rejoin_queue.push_back(jid);
    }

    fn set_inside(&mut self, jid: &BareJid) {
        if let Some(entry) = self.rooms.get_mut(jid) {
            self.tally.count(&entry.room, entry.inside, false);
            entry.inside = true;
            self.tally.count(&entry.room, entry.inside, true);
        }
    }

    /// Feeds `event` to the room `jid` and carries out its actions.
    fn feed(&mut self, jid: &BareJid, event: Event, now: Time) {
        self.feed_from(jid, event, now, None)
    }

    /// [`Core::feed`] for an event caused by the person with real JID `who` (for the security log).
    fn feed_from(&mut self, jid: &BareJid, event: Event, now: Time, who: Option<&str>) {
        let Some(entry) = self.rooms.get_mut(jid) else {
            return;
        };
        self.tally.count(&entry.room, entry.inside, false);
        let actions = entry.room.handle(event, now, &self.settings.limits);
        self.tally.count(&entry.room, entry.inside, true);
        for action in actions {
            self.act(jid, action, who);
        }
        let Some(entry) = self.rooms.get(jid) else {
            return;
        };
        if entry.room.status() == Status::Closed {
            let entry = self.rooms.remove(jid).expect("present");
            self.tally.count(&entry.room, entry.inside, false);
            self.deadlines.set(jid, None);
            // Its watchers hear that the chat has ended.
            self.protocol.room_closed(jid, &mut self.out);
        } else {
            let deadline = entry.room.deadline(&self.settings.limits);
            self.deadlines.set(jid, deadline);
        }
    }

    fn act(&mut self, jid: &BareJid, action: Action, who: Option<&str>) {
        match action {
            Action::Transition(t) => {
                // Who caused it by role at info; a nick (a visitor's name) only at debug.
                let by = t.nick.as_deref().and_then(|nick| {
                    self.rooms
                        .get(jid)
                        .and_then(|e| e.room.role_of(nick))
                        .map(Role::as_str)
                });
                tracing::info!(room = %jid, from = t.from.map_or("", Status::as_str), status = %t.to, reason = %t.reason, by, "status changed");
                tracing::debug!(room = %jid, nick = ?t.nick, "the status change's nick");
                let closed = t.to == Status::Closed;
                self.out.write(Write::Transition {
                    jid: jid.to_string(),
                    transition: t,
                });
                if closed
                    && self.settings.keep_visitor_names
                    && !self.settings.questions.before.is_empty()
                {
                    self.out.write(Write::ForgetAnswers {
                        jid: Some(jid.to_string()),
                    });
                }
                if closed && !self.settings.keep_visitor_names {
                    // In the room's line, after its closing: the visitor's names go with the chat.
                    self.out.write(Write::ForgetVisitor {
                        jid: jid.to_string(),
                    });
                }
            }
            Action::Kick { nick, reason } => {
                self.counters.kicked(reason);
                match reason {
                    KickReason::NoClaim => {
                        tracing::warn!(target: "helpim_bot::security", room = %jid, domain = ?who.map(domain_of), "kicking someone who joined without a claim")
                    }
                    KickReason::ThirdPerson => {
                        tracing::warn!(target: "helpim_bot::security", room = %jid, domain = ?who.map(domain_of), "kicking a third person")
                    }
                    KickReason::Impostor => {
                        tracing::warn!(target: "helpim_bot::security", room = %jid, domain = ?who.map(domain_of), "kicking someone from another account who took the seat of a person who dropped out")
                    }
                    KickReason::Timeout => tracing::info!(room = %jid, "kicking at a timeout"),
                }
                // Who exactly: perhaps a visitor, so at debug only (README, "Logs").
                tracing::debug!(target: "helpim_bot::security", room = %jid, nick = %nick, jid = ?who, ?reason, "the person kicked");
                // The visitor of the room hears it in their language; staff and strangers in
                // the help line's default.
                let visitor = self
                    .rooms
                    .get(jid)
                    .and_then(|e| e.room.client_nick())
                    .is_some_and(|n| n == nick);
                let words = if visitor {
                    self.protocol.visitor_words(jid, &self.settings)
                } else {
                    let catalogs = &self.settings.catalogs;
                    crate::i18n::Words::new(catalogs, catalogs.default_lang())
                };
                kick(&mut self.out, jid, nick, &words.get(reason.key()));
            }
            Action::CheckClaims => check_claims(&mut self.out, jid),
            Action::RotatePassword { client_claimed_at } => {
                let password = self.secrets.password();
                self.out.request(
                    Request::iq(stanza::config_request(jid)),
                    Pending::RotateForm {
                        room: jid.clone(),
                        password,
                        client_claimed_at,
                    },
                );
            }
            Action::Destroy { reason } => self.destroy(jid.clone(), reason, 1),
            Action::HandoverOffered(h) => {
                tracing::info!(room = %jid, queue = h.queue, "a staff member hands a chat over");
                self.out.write(Write::HandoverOffered {
                    jid: jid.to_string(),
                    from_jid: h.from.jid.clone().unwrap_or_default(),
                    to_jid: h.to.clone(),
                    note: h.note.clone(),
                    at: h.offered_at,
                });
            }
            Action::HandoverTaken { by } => {
                tracing::info!(room = %jid, "a handover to the queue was taken");
                self.out.write(Write::HandoverTaken {
                    jid: jid.to_string(),
                    by,
                });
            }
            Action::HandoverEnded {
                handover,
                outcome,
                seat,
                at,
            } => {
                tracing::info!(room = %jid, outcome = outcome.as_str(), "a handover ended");
                self.out.write(Write::HandoverEnded {
                    jid: jid.to_string(),
                    outcome: outcome.as_str(),
                    at,
                });
                let Some(first) = handover
                    .from
                    .jid
                    .as_deref()
                    .and_then(|j| BareJid::new(j).ok())
                else {
                    return;
                };
                // To the sessions on duty (a console that only told the bot it is there gets
                // nothing sent to its bare JID); to the bare JID when none is known.
                let mut to: Vec<Jid> = self
                    .protocol
                    .sessions_of(first.as_str())
                    .into_iter()
                    .map(Jid::from)
                    .collect();
                if to.is_empty() {
                    to.push(Jid::from(first));
                }
                match outcome {
                    HandoverEnd::Done => {
                        let colleague = seat.map(|s| s.nick).unwrap_or_default();
                        for to in to {
                            let m = xmpp::handover::handed_over(to, jid, &colleague);
                            self.out.send(m);
                        }
                    }
                    HandoverEnd::Expired | HandoverEnd::Declined => {
                        for to in to {
                            let m = xmpp::handover::expired(to, jid, outcome.as_str());
                            self.out.send(m);
                        }
                    }
                    // The chat ended: the staff member saw it end.
                    HandoverEnd::Closed => {}
                }
            }
            Action::RecordMessage {
                nick,
                role,
                body,
                at,
            } => {
                let Some(entry) = self.rooms.get_mut(jid) else {
                    return;
                };
                entry.history_since = entry.history_since.max(at);
                let horizon = entry.history_since - chrono_of(REPLAY_OVERLAP);
                while entry.recent.front().is_some_and(|(t, _, _)| *t < horizon) {
                    entry.recent.pop_front();
                }
                entry.recent.push_back((at, nick.clone(), body.clone()));
                // The transcript names the visitor by role (unless the help line keeps names).
                let nick = if role == Role::Client && !self.settings.keep_visitor_names {
                    role.as_str().to_string()
                } else {
                    nick
                };
                let write = if self.settings.transcripts {
                    let seq = entry.next_seq;
                    entry.next_seq += 1;
                    Write::Message {
                        jid: jid.to_string(),
                        seq,
                        at,
                        nick: nick.clone(),
                        role,
                        body: body.clone(),
                    }
                } else {
                    Write::MessageAt {
                        jid: jid.to_string(),
                        at,
                    }
                };
                let seq = match &write {
                    Write::Message { seq, .. } => *seq,
                    _ => 0,
                };
                self.out.write(write);
                // Supervisors watching the chat get the line as it is recorded.
                let line = Line {
                    seq,
                    at,
                    nick,
                    role,
                    body,
                };
                self.protocol.line_recorded(jid, &line, &mut self.out);
            }
        }
    }

    fn destroy(&mut self, room: BareJid, reason: Reason, attempt: u32) {
        self.out.request(
            Request::iq(stanza::destroy(&room, reason.as_str())),
            Pending::Destroy {
                room,
                reason,
                attempt,
            },
        );
    }

    /// Runs a part of the protocol, lent what it needs, then feeds the rooms the events it left.
    fn lend(&mut self, now: Time, run: impl FnOnce(&mut Protocol, &mut Lent)) {
        let staff_room = self.protocol.staff_room_inside();
        let mut lent = Lent {
            staff_room,
            settings: &self.settings,
            rooms: &self.rooms,
            tally: &self.tally,
            queue: &mut self.queue,
            out: &mut self.out,
            feed: Vec::new(),
            now,
        };
        run(&mut self.protocol, &mut lent);
        for (room, event) in lent.feed {
            self.feed(&room, event, now);
        }
    }

    /// Whether the help line takes new visitors at `now`, and if not, why and when it opens.
    pub fn line_status(&self, now: Time) -> types::LineStatus {
        self.protocol.line_status(&self.settings, &self.tally, now)
    }

    /// When the hours close the help line, if that is within their warning from `now`.
    fn closes_soon(&self, now: Time) -> Option<Time> {
        let hours = self.settings.hours.as_ref()?;
        hours
            .closes_at(now)
            .filter(|t| (*t - now).to_std().unwrap_or_default() <= hours.warning)
    }

    /// Staff members on duty: those who told the bot they are there, and those in a staffed or
    /// busy room.
    pub fn staff_on_duty(&self) -> usize {
        self.protocol.staff_on_duty(&self.tally)
    }

    fn leave(&mut self, room: &BareJid) {
        if let Ok(leave) = stanza::leave(room, &self.settings.nick) {
            self.out.send(leave);
        }
    }

    /// Asks for the owner form of the new `room`.
    fn ask_room_form(&mut self, room: BareJid, password: String) {
        self.out.request(
            Request::iq(stanza::config_request(&room)),
            Pending::CreateForm { room, password },
        );
    }

    /// Configures the new `room` with the fields `offered` (its own form's, or `learned` from an
    /// earlier room's).
    fn submit_room_form(
        &mut self,
        room: BareJid,
        password: String,
        offered: &[stanza::OfferedField],
        learned: bool,
    ) {
        let submit = self.config_submit_offered(&room, &password, offered);
        self.out.request(
            Request::iq(submit),
            Pending::CreateSubmit {
                room,
                password,
                learned,
            },
        );
    }

    fn config_submit(
        &self,
        room: &BareJid,
        password: &str,
        form: Option<&Element>,
    ) -> xmpp_parsers::iq::Iq {
        let offered = form.map(stanza::offered_fields).unwrap_or_default();
        self.config_submit_offered(room, password, &offered)
    }

    fn config_submit_offered(
        &self,
        room: &BareJid,
        password: &str,
        offered: &[stanza::OfferedField],
    ) -> xmpp_parsers::iq::Iq {
        if !offered.iter().any(|f| f.var == "muc#roomconfig_roomsecret") {
            tracing::warn!(room = %room, "the server's room form has no password field; relying on the password given at creation");
        }
        let settings = RoomSettings {
            password,
            history: self.settings.history,
            owner: &self.settings.owner,
        };
        stanza::config_submit(room, offered, &settings)
    }
}

/// Kicks `nick` out of `room`, telling them `text`.
fn kick(out: &mut Outbox, room: &BareJid, nick: String, text: &str) {
    let request = Request::iq(stanza::kick(room, &nick, text));
    let room = room.clone();
    out.request(request, Pending::Kick { room, nick });
}

/// Reads the claims of `room` and feeds them to it.
fn check_claims(out: &mut Outbox, room: &BareJid) {
    let query = Query::Claims(room.to_string());
    out.query(query, Pending::Claims { room: room.clone() });
}

/// The seat a role was taken in, read back from a row: nick, real JID and the claim.
pub fn seat(nick: Option<String>, jid: Option<String>, claim: Option<Time>) -> Option<Seat> {
    nick.map(|nick| Seat { nick, jid, claim })
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests;
