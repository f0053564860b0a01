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

pub mod deadlines;
pub mod pool;
pub mod protocol;
pub mod queue;
pub mod room;
pub mod translate;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio_xmpp::Stanza;
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::minidom::Element;

use crate::metrics::{metrics, KickLabel};
use crate::writer::Write;
use crate::xmpp::adhoc::Incoming;
use crate::xmpp::stanza::{
    self, PresenceKind, RoomMessage, RoomPresence, RoomSettings, STATUS_CREATED, STATUS_GHOST,
    STATUS_KICKED,
};
use crate::xmpp::{Answer, IqError, Joined, Request};
use deadlines::Deadlines;
use pool::{Backoff, Secrets};
use protocol::{People, Question};
use queue::{Enqueued, Queue, Swept};
use room::{Action, Claims, Event, KickReason, Limits, Reason, Room, Seat, Status, Time};

/// Names a request or read, so that its answer finds its way back.
pub type RequestId = u64;

/// How many names are tried before a creation fails (each one existed already).
const NAME_ATTEMPTS: u32 = 5;
/// How many times a destroy that met a lost connection or a timeout is sent.
const DESTROY_ATTEMPTS: u32 = 8;
/// After a rejoin failed for a passing reason, how long before rejoins go on.
const REJOIN_RETRY: Duration = Duration::from_secs(1);
/// How often old message bodies are erased.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Stored messages this close before the latest are remembered, so that the same line replayed
/// by the room's history is not stored twice (history is asked for from a second earlier).
const REPLAY_OVERLAP: Duration = Duration::from_secs(2);

/// What the core needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The MUC service's domain.
    pub service: String,
    /// The bot's nick in every room.
    pub nick: String,
    /// The room name prefix.
    pub prefix: String,
    /// How many messages a room keeps as history.
    pub history: u32,
    /// The bot's bare JID (the only owner).
    pub owner: BareJid,
    /// The status text of a deliberate leave.
    pub clean_exit: String,
    /// The time limits of the room life cycle.
    pub limits: Limits,
    /// Ready rooms wanted.
    pub pool_size: u32,
    /// Live rooms at most.
    pub max_rooms: u32,
    /// Creations in flight at most (rejoins: four times as many).
    pub parallel_creations: u32,
    /// How often the open claims are read.
    pub poll_interval: Duration,
    /// Whether message bodies are stored.
    pub transcripts: bool,
    /// Message bodies older than this many days are erased.
    pub keep_days: u32,
    /// The bot gives waiting visitors staffed rooms itself (`queue.assign = "auto"`).
    pub queue_auto: bool,
    /// A visitor who waited this long expires.
    pub max_wait: Duration,
    /// A visitor queued over SQL and not kept alive this long has left.
    pub visitor_timeout: Duration,
    /// At most this many visitors wait (`queue.max_length`).
    pub max_length: u32,
    /// Who may use the staff commands, and how many chats each may hold.
    pub staff: crate::config::Staff,
    /// Who may use the visitor commands.
    pub visitors: crate::config::Visitors,
}

impl Settings {
    /// The settings of a configuration file.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Settings> {
        Ok(Settings {
            service: config.muc.service.clone(),
            nick: config.muc.nick.clone(),
            prefix: config.muc.room_prefix.clone(),
            history: config.muc.history,
            owner: BareJid::new(&config.xmpp.jid).map_err(|e| anyhow::anyhow!("xmpp.jid: {e}"))?,
            clean_exit: config.muc.clean_exit_status.clone(),
            limits: Limits::from(&config.timeouts),
            pool_size: config.pool.size,
            max_rooms: config.pool.max_rooms,
            parallel_creations: config.pool.parallel_creations,
            poll_interval: config.database.poll_interval,
            transcripts: config.transcripts.enabled,
            keep_days: config.transcripts.keep_days,
            queue_auto: config.queue.assign == crate::config::Assign::Auto,
            max_wait: config.queue.max_wait,
            visitor_timeout: config.queue.visitor_timeout,
            max_length: config.queue.max_length,
            staff: config.staff.clone(),
            visitors: config.visitors.clone(),
        })
    }
}

/// Something that happened, for [`Core::handle`].
#[derive(Debug)]
pub enum Input {
    /// Logged in: `fresh` for a new session (every room presence is gone: rejoin), not for a
    /// resumed stream.
    Online {
        /// True for a new session.
        fresh: bool,
    },
    /// The link is down (the session reconnects by itself).
    Offline,
    /// A presence from a room occupant.
    Presence(RoomPresence),
    /// A groupchat message from a room.
    Message(RoomMessage),
    /// The answer to [`Effect::Request`] `id` (or why there is none).
    Answer {
        /// The request.
        id: RequestId,
        /// Its answer.
        result: Result<Answer, IqError>,
    },
    /// The result of [`Effect::Read`] `id`.
    ReadDone {
        /// The read.
        id: RequestId,
        /// Its rows, or why not.
        result: Result<ReadResult, String>,
    },
    /// A command (or the list of commands) asked of the bot itself (docs/protocol.md).
    Request(Incoming),
    /// A deadline came ([`Core::next_deadline`]); nothing else happened.
    Timer,
}

/// A database read the core asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The claims of one room.
    Claims(String),
    /// The claims of every room that has an open one.
    OpenClaims,
    /// Give the first waiting visitor the longest-waiting staffed room without a client claim.
    Assign,
    /// Expire visitors who waited `max_wait`, let go of those not kept alive for
    /// `visitor_timeout`, and count who waits.
    SweepQueue {
        /// `queue.max_wait`.
        max_wait: Duration,
        /// `queue.visitor_timeout`.
        visitor_timeout: Duration,
        /// Also read the places of the visitors over XMPP and the queue's pace (at most every
        /// [`protocol::PUSH_EVERY`]: the list is long in a long queue).
        places: bool,
    },
    /// Queue a visitor who asked over XMPP, and read their place.
    Enqueue {
        /// The visitor label (a hash of their key).
        label: String,
        /// Their full JID.
        jid: String,
        /// The nick they gave.
        nick: String,
        /// What they want to talk about.
        topic: Option<String>,
        /// `queue.max_length`.
        max_length: u32,
    },
    /// A visitor over XMPP (their full JID) leaves the queue.
    LeaveQueue(String),
    /// A new session (`jid`) of visitor `label` takes up their chat.
    Resume {
        /// The visitor label.
        label: String,
        /// The new session's full JID.
        jid: String,
    },
    /// Claim an `available` room for a staff member (the label: `xmpp:` and their bare JID).
    TakeChat(String),
    /// The waiting visitors, first in line first.
    WaitingList,
    /// Pick mode: give the waiting visitor of row `queue_id` the staffed room `room`.
    Pick {
        /// The room's JID.
        room: String,
        /// `queue.id`.
        queue_id: i64,
    },
    /// Block the visitor of room `room`.
    BlockVisitor {
        /// The room's JID.
        room: String,
        /// Until when (`None`: for good).
        until: Option<Time>,
        /// Why.
        reason: String,
        /// By whom (a bare JID).
        by: String,
    },
}

/// A waiting visitor given a staffed room (the row is `assigned`, the room's client claim set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// `queue.id`.
    pub queue_id: i64,
    /// The visitor's full JID when they came over XMPP.
    pub visitor_jid: Option<String>,
    /// The room's JID.
    pub room: String,
    /// The room's new client claim.
    pub client_claimed_at: Time,
}

/// What a [`Read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    /// For [`Read::Claims`]: `None` when the row is not written yet.
    Claims(Option<Claims>),
    /// For [`Read::OpenClaims`]: room JID and claims.
    OpenClaims(Vec<(String, Claims)>),
    /// For [`Read::Assign`]: the assignment made, or none.
    Assigned(Option<Assigned>),
    /// For [`Read::SweepQueue`]: who waits, and the queue's pace.
    Swept(Swept),
    /// For [`Read::Enqueue`]: what became of the request, and the place in line.
    Enqueued(Enqueued, i64),
    /// For [`Read::LeaveQueue`]: whether there was an open row.
    Left(bool),
    /// For [`Read::Resume`] and [`Read::TakeChat`]: the room, or none.
    Room(Option<String>),
    /// For [`Read::WaitingList`].
    WaitingList(Vec<Waiter>),
    /// For [`Read::BlockVisitor`]: the label blocked, or none (the room had no client claim).
    Blocked(Option<String>),
}

/// A waiting visitor, as staff see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    /// `queue.id`.
    pub id: i64,
    /// Their nick.
    pub nick: String,
    /// Their topic.
    pub topic: Option<String>,
    /// Since when they wait.
    pub since: Time,
}

/// Something to do, from [`Core::handle`].
#[derive(Debug)]
pub enum Effect {
    /// Send a stanza that gets no answer (a presence, an invitation, a command's answer).
    Send(Box<Stanza>),
    /// Send a request; feed its answer back as [`Input::Answer`] with the same `id`.
    Request {
        /// The request's name.
        id: RequestId,
        /// What to send.
        request: Request,
    },
    /// Read from the database; feed the result back as [`Input::ReadDone`].
    Read {
        /// The read's name.
        id: RequestId,
        /// What to read.
        read: Read,
    },
    /// Record a change in the database (queued, in order, retried until it lands).
    Write(Write),
    /// Erase message bodies older than `before`.
    Prune {
        /// The cutoff.
        before: Time,
    },
}

/// A room of an earlier run, as its row and transcript say, for [`Core::restore`].
#[derive(Debug, Clone)]
pub struct Restored {
    /// The room's JID.
    pub jid: BareJid,
    /// Its password.
    pub password: String,
    /// Its state machine, read back from the row.
    pub room: Room,
    /// The highest transcript number stored.
    pub last_seq: i64,
    /// The room's history is asked for from this time on (the last stored message, else the
    /// room's creation).
    pub history_since: Time,
    /// The last messages stored (time, nick, body), oldest first.
    pub recent: Vec<(Time, String, String)>,
}

/// How many rooms are in each state, for `/metrics`, `/readyz` and systemd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Live rooms by status: available, staffed, busy, closing.
    pub by_status: [usize; 4],
    /// Rooms ready for a staff member: `available`, unclaimed, and the bot inside.
    pub ready: usize,
    /// Rooms of an earlier run or session that will be ready once the bot is back inside.
    pub ready_rejoining: usize,
    /// `staffed` rooms the bot is in whose staff member waits for a client (no client claim):
    /// the rooms a waiting visitor can get.
    pub open_staffed: usize,
    /// `staffed` rooms without a client claim that the bot is not inside yet (rejoining): while
    /// there are any, the database's oldest open room may be one the bot cannot vouch for.
    pub open_staffed_rejoining: usize,
}

impl Counts {
    fn slot(entry: &Entry) -> (usize, [bool; 4]) {
        let status = entry.room.status();
        let i = match status {
            Status::Available => 0,
            Status::Staffed => 1,
            Status::Busy => 2,
            Status::Closing | Status::Closed => 3,
        };
        let ready = entry.room.is_ready();
        let open = status == Status::Staffed && entry.room.claims().client_at.is_none();
        let inside = entry.inside;
        (
            i,
            [
                ready && inside,
                ready && !inside,
                open && inside,
                open && !inside,
            ],
        )
    }

    fn add(&mut self, entry: &Entry) {
        let (i, [ready, rejoining, open, open_rejoining]) = Counts::slot(entry);
        self.by_status[i] += 1;
        self.ready += usize::from(ready);
        self.ready_rejoining += usize::from(rejoining);
        self.open_staffed += usize::from(open);
        self.open_staffed_rejoining += usize::from(open_rejoining);
    }

    fn remove(&mut self, entry: &Entry) {
        let (i, [ready, rejoining, open, open_rejoining]) = Counts::slot(entry);
        self.by_status[i] -= 1;
        self.ready -= usize::from(ready);
        self.ready_rejoining -= usize::from(rejoining);
        self.open_staffed -= usize::from(open);
        self.open_staffed_rejoining -= usize::from(open_rejoining);
    }
}

/// The room counts, and the staffed and busy rooms of each staff member (by bare JID), kept up
/// to date as rooms change.
#[derive(Debug, Default)]
struct Tally {
    counts: Counts,
    staff_rooms: HashMap<String, usize>,
}

impl Tally {
    /// Counts `entry` in (`add`) or out.
    fn count(&mut self, entry: &Entry, add: bool) {
        let staff = matches!(entry.room.status(), Status::Staffed | Status::Busy)
            .then(|| entry.room.staff_jid())
            .flatten();
        if add {
            self.counts.add(entry);
            if let Some(jid) = staff {
                *self.staff_rooms.entry(jid.to_string()).or_default() += 1;
            }
        } else {
            self.counts.remove(entry);
            if let Some(n) = staff.and_then(|jid| self.staff_rooms.get_mut(jid)) {
                *n -= 1;
                if *n == 0 {
                    self.staff_rooms.remove(staff.expect("found"));
                }
            }
        }
    }
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
    /// Lines stored before the current rejoin (nick, body), which the room's history will
    /// replay: each is skipped once.
    replay_skip: Vec<(String, String)>,
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
    /// A database read (or a request) for a command; its answer goes to the asker.
    Command(Question),
    /// A ping, after a new session, to a waiting visitor or a staff member present before: is
    /// that session still there?
    PresenceProbe(xmpp_parsers::jid::FullJid),
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
    pending: HashMap<RequestId, Pending>,
    next_id: RequestId,
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
    next_prune: Option<Time>,
    queue: Queue,
    tally: Tally,
    /// Visitors and staff over XMPP ([`protocol`]).
    people: People,
    effects: Vec<Effect>,
}

impl Core {
    /// A bot with no rooms yet, offline.
    pub fn new(settings: Settings, secrets: Box<dyn Secrets>) -> Core {
        Core {
            queue: Queue::new(settings.queue_auto, settings.poll_interval),
            settings,
            secrets,
            rooms: HashMap::new(),
            deadlines: Deadlines::default(),
            pending: HashMap::new(),
            next_id: 0,
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
            tally: Tally::default(),
            people: People::default(),
            effects: Vec::new(),
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
            };
            self.tally.count(&entry, true);
            self.rejoin_queue.push_back(r.jid.clone());
            self.rooms.insert(r.jid, entry);
        }
    }

    /// Feeds one input in at `now`; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Time) -> Vec<Effect> {
        match input {
            Input::Online { fresh } => self.on_online(fresh, now),
            Input::Offline => self.online = false,
            Input::Presence(p) => self.on_presence(p, now),
            Input::Message(m) => self.on_message(m, now),
            Input::Request(r) => self.on_request(r, now),
            Input::Answer { id, result } => self.on_answer(id, result, now),
            Input::ReadDone { id, result } => self.on_read(id, result, now),
            Input::Timer => {}
        }
        self.run_due(now);
        std::mem::take(&mut self.effects)
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
        std::mem::take(&mut self.effects)
    }

    /// When [`Core::handle`] wants to be called with [`Input::Timer`] at the latest.
    pub fn next_deadline(&mut self) -> Option<Time> {
        let refill = (self.online && !self.stopping)
            .then(|| self.backoff.until())
            .flatten();
        let rejoin = (self.online && !self.rejoin_queue.is_empty())
            .then_some(self.rejoin_paused_until)
            .flatten();
        [
            self.deadlines.earliest(),
            self.destroy_retries.iter().map(|d| d.at).min(),
            (!self.polling && !self.stopping)
                .then_some(self.next_poll)
                .flatten(),
            (!self.stopping).then_some(self.next_prune).flatten(),
            (!self.stopping).then(|| self.queue.deadline()).flatten(),
            refill,
            rejoin,
        ]
        .into_iter()
        .flatten()
        .min()
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
        self.pending
            .values()
            .filter(|p| matches!(p, Pending::Destroy { .. }))
            .count()
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
        // A new session may be a new or reconfigured server: learn its room form again.
        self.room_form = None;
        // Available, so that the presences visitors and staff direct at the bot reach it.
        self.effects.push(Effect::Send(Box::new(
            xmpp_parsers::presence::Presence::available().into(),
        )));
        // Visitors and staff who went away while the bot had no session were never seen to go.
        self.people.probe_after_next_sweep();
        self.probe_staff();
        // Every room presence of the old session is gone: rejoin them all.
        self.rejoin_queue.clear();
        self.rejoin_paused_until = None;
        let jids: Vec<BareJid> = self.rooms.keys().cloned().collect();
        for jid in jids {
            self.queue_rejoin(jid);
        }
    }

    fn on_presence(&mut self, p: RoomPresence, now: Time) {
        if p.room.domain().as_str() != self.settings.service {
            // Not from a room: a person's presence directed at the bot (docs/protocol.md).
            return self.on_direct_presence(p);
        }
        let Some(entry) = self.rooms.get(&p.room) else {
            tracing::debug!(room = %p.room, nick = %p.nick, "presence from a room the bot does not follow");
            return;
        };
        if !entry.inside {
            return;
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
            Event::Joined(o) => {
                tracing::info!(room = %p.room, nick = %o.nick, jid = ?o.jid, "joined")
            }
            Event::Left { nick, clean } => {
                tracing::info!(room = %p.room, nick = %nick, clean, kicked = p.has(STATUS_KICKED), ghost = p.has(STATUS_GHOST), "left")
            }
            _ => {}
        }
        let real_jid = p.real_bare_jid();
        self.feed_from(&p.room, event, now, real_jid.as_deref());
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
                // The room replays from a second before the last stored line: skip what was
                // stored before the rejoin, once each.
                if let Some(i) = entry
                    .replay_skip
                    .iter()
                    .position(|(n, b)| *n == nick && *b == body)
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

    fn on_answer(&mut self, id: RequestId, result: Result<Answer, IqError>, now: Time) {
        let Some(pending) = self.pending.remove(&id) else {
            tracing::debug!(id, "an answer to no request of ours");
            return;
        };
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
                    let id = self.request(Request::iq(submit));
                    self.pending.insert(
                        id,
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
                    self.effects.push(Effect::Write(Write::RotatePassword {
                        jid: room.to_string(),
                        password,
                        client_claimed_at,
                    }));
                    tracing::info!(room = %room, "client claim expired; room password changed");
                    self.feed(&room, Event::PasswordRotated, now);
                }
                Err(e) => self.rotation_failed(&room, e, now),
            },
            Pending::Kick { room, nick } => {
                if let Err(e) = result {
                    tracing::warn!(room = %room, nick = %nick, error = %e, "kick failed");
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
                    tracing::info!(room = %room, nick = %nick, error = %e, "occupant did not answer a probe")
                }
            },
            Pending::PresenceProbe(jid) => {
                if let Err(IqError::Error(condition)) = result {
                    self.session_gone(&jid, &condition);
                }
            }
            Pending::Claims { .. }
            | Pending::Poll
            | Pending::Assign
            | Pending::Sweep
            | Pending::Command(_) => {
                tracing::warn!(id, "a database read was answered as a request");
            }
        }
    }

    fn on_read(&mut self, id: RequestId, result: Result<ReadResult, String>, now: Time) {
        match self.pending.remove(&id) {
            Some(Pending::Claims { room }) => match result {
                Ok(ReadResult::Claims(claims)) => {
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
                    Ok(ReadResult::OpenClaims(rows)) => {
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
                        metrics().db_errors.inc();
                        if !std::mem::replace(&mut self.poll_failing, true) {
                            tracing::warn!(error = %e, "cannot read claims from the database; XMPP goes on, writes are queued");
                        }
                    }
                }
            }
            Some(Pending::Sweep) => match result {
                Ok(ReadResult::Swept(swept)) => {
                    self.queue.swept(Some((swept.waiting, swept.oldest)), now);
                    self.queue_swept(swept, now);
                }
                Ok(_) => unreachable!("answer to the queue sweep"),
                Err(e) => {
                    metrics().db_errors.inc();
                    tracing::warn!(error = %e, "sweeping the queue failed; will try again");
                    self.queue.swept(None, now);
                }
            },
            Some(Pending::Assign) => match result {
                Ok(ReadResult::Assigned(Some(a))) => {
                    self.queue.assigned(Some(true));
                    tracing::info!(queue_id = a.queue_id, room = %a.room, over_xmpp = a.visitor_jid.is_some(), "a waiting visitor got a room");
                    self.hand_over(&a, now);
                }
                Ok(ReadResult::Assigned(None)) => self.queue.assigned(Some(false)),
                Ok(_) => unreachable!("answer to an assignment"),
                Err(e) => {
                    metrics().db_errors.inc();
                    tracing::warn!(error = %e, "assigning a waiting visitor failed; will try again");
                    self.queue.assigned(None);
                }
            },
            Some(Pending::Command(question)) => self.read_for(question, result, now),
            Some(other) => {
                tracing::warn!(id, what = ?other, "a request was answered as a database read");
            }
            None => tracing::debug!(id, "a read result for no read of ours"),
        }
    }

    /// Everything whose time has come, then the pool and the rejoins.
    fn run_due(&mut self, now: Time) {
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
            let id = self.new_id();
            self.pending.insert(id, Pending::Poll);
            self.effects.push(Effect::Read {
                id,
                read: Read::OpenClaims,
            });
        }
        if self.next_prune.is_some_and(|t| t <= now) {
            self.next_prune = Some(now + chrono_of(PRUNE_EVERY));
            self.effects.push(Effect::Prune {
                before: now - chrono::Duration::days(self.settings.keep_days.into()),
            });
        }
        if self.queue.sweep_due(now) {
            let id = self.new_id();
            self.pending.insert(id, Pending::Sweep);
            self.effects.push(Effect::Read {
                id,
                read: Read::SweepQueue {
                    max_wait: self.settings.max_wait,
                    visitor_timeout: self.settings.visitor_timeout,
                    places: self.people.places_due(now),
                },
            });
        }
        // The statement takes the database's oldest open room: while one the bot is not back
        // inside is open, it could be that one (gone with a restarted server), so wait.
        let counts = &self.tally.counts;
        let open = if counts.open_staffed_rejoining > 0 {
            0
        } else {
            counts.open_staffed
        };
        if self.queue.assignment_due(open) {
            let id = self.new_id();
            self.pending.insert(id, Pending::Assign);
            self.effects.push(Effect::Read {
                id,
                read: Read::Assign,
            });
        }
        if self.online {
            self.start_rejoins(now);
            self.refill(now);
        }
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
        let id = self.request(Request::Join {
            room: room.clone(),
            presence,
        });
        self.pending.insert(
            id,
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
        metrics().rooms_created.inc();
        self.effects.push(Effect::Write(Write::InsertRoom {
            jid: room.to_string(),
            password: password.clone(),
            at: now,
        }));
        let entry = Entry {
            room: Room::new(now),
            password,
            inside: true,
            rejoin: Rejoin::Done,
            next_seq: 1,
            history_since: now,
            recent: VecDeque::new(),
            replay_skip: Vec::new(),
        };
        self.tally.count(&entry, true);
        self.rooms.insert(room, entry);
    }

    /// A creation failed; a room that was made but not configured is destroyed again.
    fn creation_failed(&mut self, error: String, made: Option<BareJid>, now: Time) {
        self.creating -= 1;
        metrics().room_create_failures.inc();
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
                    entry.replay_skip = entry
                        .recent
                        .iter()
                        .map(|(_, nick, body)| (nick.clone(), body.clone()))
                        .collect();
                    entry.rejoin = Rejoin::Running;
                    self.rejoins_running += 1;
                    let id = self.request(Request::Join {
                        room: jid.clone(),
                        presence,
                    });
                    self.pending.insert(id, Pending::Rejoin { room: jid });
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
                let id = self.request(Request::iq(stanza::ping(occupant.into())));
                self.pending.insert(
                    id,
                    Pending::Probe {
                        room: jid.clone(),
                        nick: o.nick.clone(),
                    },
                );
            }
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
        self.tally.count(entry, false);
        entry.inside = false;
        entry.rejoin = Rejoin::Queued;
        self.tally.count(entry, true);
        self.rejoin_queue.push_back(jid);
    }

    fn set_inside(&mut self, jid: &BareJid) {
        if let Some(entry) = self.rooms.get_mut(jid) {
            self.tally.count(entry, false);
            entry.inside = true;
            self.tally.count(entry, true);
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
        self.tally.count(entry, false);
        let actions = entry.room.handle(event, now, &self.settings.limits);
        self.tally.count(entry, true);
        for action in actions {
            self.act(jid, action, who);
        }
        let Some(entry) = self.rooms.get(jid) else {
            return;
        };
        if entry.room.status() == Status::Closed {
            let entry = self.rooms.remove(jid).expect("present");
            self.tally.count(&entry, false);
            self.deadlines.set(jid, None);
        } else {
            let deadline = entry.room.deadline(&self.settings.limits);
            self.deadlines.set(jid, deadline);
        }
    }

    fn act(&mut self, jid: &BareJid, action: Action, who: Option<&str>) {
        match action {
            Action::Transition(t) => {
                tracing::info!(room = %jid, from = t.from.map_or("", Status::as_str), status = %t.to, reason = %t.reason, nick = ?t.nick, "status changed");
                self.effects.push(Effect::Write(Write::Transition {
                    jid: jid.to_string(),
                    transition: t,
                }));
            }
            Action::Kick { nick, reason } => {
                let label = match reason {
                    KickReason::NoClaim => "no_claim",
                    KickReason::ThirdPerson => "third_person",
                    KickReason::Impostor => "impostor",
                    KickReason::Timeout => "timeout",
                };
                metrics()
                    .kicks
                    .get_or_create(&KickLabel { reason: label })
                    .inc();
                match reason {
                    KickReason::NoClaim => {
                        tracing::warn!(target: "helpim_bot::security", room = %jid, nick = %nick, jid = ?who, "kicking someone who joined without a claim")
                    }
                    KickReason::ThirdPerson => {
                        tracing::warn!(target: "helpim_bot::security", room = %jid, nick = %nick, jid = ?who, "kicking a third person")
                    }
                    KickReason::Impostor => {
                        tracing::warn!(target: "helpim_bot::security", room = %jid, nick = %nick, jid = ?who, "kicking someone from another account who took the seat of a person who dropped out")
                    }
                    KickReason::Timeout => {
                        tracing::info!(room = %jid, nick = %nick, "kicking at a timeout")
                    }
                }
                self.kick(jid, nick, reason.text());
            }
            Action::CheckClaims => {
                let id = self.new_id();
                self.pending
                    .insert(id, Pending::Claims { room: jid.clone() });
                self.effects.push(Effect::Read {
                    id,
                    read: Read::Claims(jid.to_string()),
                });
            }
            Action::RotatePassword { client_claimed_at } => {
                let password = self.secrets.password();
                let id = self.request(Request::iq(stanza::config_request(jid)));
                self.pending.insert(
                    id,
                    Pending::RotateForm {
                        room: jid.clone(),
                        password,
                        client_claimed_at,
                    },
                );
            }
            Action::Destroy { reason } => self.destroy(jid.clone(), reason, 1),
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
                let write = if self.settings.transcripts {
                    let seq = entry.next_seq;
                    entry.next_seq += 1;
                    Write::Message {
                        jid: jid.to_string(),
                        seq,
                        at,
                        nick,
                        role,
                        body,
                    }
                } else {
                    Write::MessageAt {
                        jid: jid.to_string(),
                        at,
                    }
                };
                self.effects.push(Effect::Write(write));
            }
        }
    }

    fn destroy(&mut self, room: BareJid, reason: Reason, attempt: u32) {
        let id = self.request(Request::iq(stanza::destroy(&room, reason.as_str())));
        self.pending.insert(
            id,
            Pending::Destroy {
                room,
                reason,
                attempt,
            },
        );
    }

    /// Kicks `nick` out of `room`, telling them `text`.
    fn kick(&mut self, room: &BareJid, nick: String, text: &str) {
        let id = self.request(Request::iq(stanza::kick(room, &nick, text)));
        let room = room.clone();
        self.pending.insert(id, Pending::Kick { room, nick });
    }

    fn leave(&mut self, room: &BareJid) {
        if let Ok(leave) = stanza::leave(room, &self.settings.nick) {
            self.effects.push(Effect::Send(Box::new(leave.into())));
        }
    }

    /// Asks for the owner form of the new `room`.
    fn ask_room_form(&mut self, room: BareJid, password: String) {
        let id = self.request(Request::iq(stanza::config_request(&room)));
        self.pending
            .insert(id, Pending::CreateForm { room, password });
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
        let id = self.request(Request::iq(submit));
        self.pending.insert(
            id,
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

    fn new_id(&mut self) -> RequestId {
        self.next_id += 1;
        self.next_id
    }

    fn request(&mut self, request: Request) -> RequestId {
        let id = self.new_id();
        self.effects.push(Effect::Request { id, request });
        id
    }
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
