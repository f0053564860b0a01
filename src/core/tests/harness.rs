//! A world for the core to live in: a fake MUC service that answers the bot's stanzas as
//! Prosody does, a fake store that answers its queries and records its writes as the database
//! does, people who join, leave, talk and ask, and a clock that moves only when a test says so.
//!
//! - [`World::input`] feeds one input and runs the core until nothing more is due at the
//!   current time (every answer it provokes included); [`World::until`] moves the clock from
//!   deadline to deadline up to a time, as quinn-proto's `drive()` does. Both return what
//!   happened meanwhile ([`Event`]s, in order); [`World::log`] keeps all of it with its time. A
//!   drive of more than [`MAX_STEPS`] steps fails: a loop is a bug.
//! - [`Muc`]: rooms (password, occupants with real JIDs and affiliations, the bot's own
//!   affiliation). A join of a missing room creates it (110 + 201); of an existing one, the
//!   occupants' presences then the bot's own (110); a wrong password, `not-authorized`. The owner
//!   form ([`FORM`]), its submit, destroy, kick (then the occupant's 307), pings (a session in
//!   [`Muc::gone`] bounces with `service-unavailable`). What people receive is kept per full JID
//!   ([`Muc::received`]). Faults are scripted with [`Muc::fault`] (no answer at all, so that the
//!   core's own time limit fires; or an error); with [`Muc::hold`] requests wait until
//!   [`World::serve`] answers them, to look at what is in flight.
//! - [`Store`]: claims, statuses (kept from the writes), the queue's rows, blocked labels and
//!   the pace, all settable; every [`Query`] answered from them (or refused while
//!   [`Store::down`], or held while [`Store::hold`]); every [`Write`] recorded in order.
//!
//! Not played: the bot's own presences echoed back after it leaves or destroys a room (the core
//! has forgotten the room by then), message history replayed on a join (tests feed it).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;

use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Type as PresenceType;

use crate::core::effects::Answers;
use crate::core::effects::{
    Assigned, Effect, EndedChat, Input, Line, LiveChat, Query, QueryResult, Stored, Waiter, Write,
};
use crate::core::queue::{Enqueued, Swept};
use crate::core::types::{Claims, Reason, Status, Time};
use crate::core::Core;
use crate::xmpp::stanza::{self, PresenceKind, RoomMessage, RoomPresence};
use crate::xmpp::IqError;

/// Steps one drive may take before it is taken for a loop.
pub const MAX_STEPS: usize = 100_000;

/// The bot's own full JID, as the rooms show it.
pub const BOT: &str = "bot@localhost/helpim";

/// Something the core did.
#[derive(Debug, Clone)]
pub enum Event {
    /// A stanza it sent: to whom (empty: to nobody, its own presence), as XML.
    Sent {
        /// The addressee.
        to: String,
        /// The stanza.
        xml: String,
    },
    /// A query it asked the store.
    Query(Query),
    /// A change it asked the store to record.
    Write(Write),
    /// Message bodies it asked to erase, before this time.
    Prune(Time),
}

/// The owner form the fake MUC service offers.
pub const FORM: &str = "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='form'><field var='muc#roomconfig_roomsecret' type='text-private'/><field var='muc#roomconfig_persistentroom' type='boolean'/></x></query>";

/// A request of the bot the fake MUC service can be told to answer otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// A join (or creation) of any room.
    Join,
    /// The owner form asked for.
    Form,
    /// The owner form submitted.
    Submit,
    /// A room destroyed.
    Destroy,
    /// An occupant kicked.
    Kick,
    /// A ping (a probe of an occupant, or of a person's session).
    Ping,
    /// The member list read or changed (muc#admin items by affiliation).
    Affiliations,
}

/// How a scripted fault answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Not at all: the core's own time limit decides.
    Silence,
    /// With this error condition (`not-allowed`, `not-acceptable` …).
    Error(&'static str),
}

/// Someone inside a room.
#[derive(Debug, Clone)]
pub struct Occupant {
    /// The nick.
    pub nick: String,
    /// The real full JID.
    pub jid: String,
    /// `owner`, `member`, `none` …
    pub affiliation: String,
}

/// A room of the fake MUC service.
#[derive(Debug, Clone, Default)]
pub struct MucRoom {
    /// Its password (empty: none).
    pub password: String,
    /// Who is inside, the bot aside.
    pub occupants: Vec<Occupant>,
    /// Whether the bot is inside.
    pub bot_inside: bool,
    /// The bot's affiliation.
    pub bot_affiliation: String,
    /// How many times its configuration was submitted.
    pub configured: u32,
    /// The last configuration submitted: field → value.
    pub config: BTreeMap<String, String>,
    /// Bare JIDs with affiliation `member`.
    pub members: BTreeSet<String>,
}

/// The fake MUC service (and the server's routing to people).
#[derive(Debug, Default)]
pub struct Muc {
    /// The rooms, by JID.
    pub rooms: BTreeMap<BareJid, MucRoom>,
    /// Sessions (full JIDs) that are gone: a ping to them bounces.
    pub gone: BTreeSet<String>,
    /// What each person (full JID) received from the bot, as XML, in order.
    pub received: BTreeMap<String, Vec<String>>,
    /// True: the bot's requests (joins, IQs) wait in `held` until [`World::serve`] answers them.
    pub hold: bool,
    held: Vec<Stanza>,
    faults: Vec<(Ask, Reply, usize)>,
}

impl Muc {
    /// The next `times` requests of kind `ask` are answered with `reply`.
    pub fn fault(&mut self, ask: Ask, reply: Reply, times: usize) {
        self.faults.push((ask, reply, times));
    }

    fn faulty(&mut self, ask: Ask) -> Option<Reply> {
        let i = self
            .faults
            .iter()
            .position(|(a, _, n)| *a == ask && *n > 0)?;
        self.faults[i].2 -= 1;
        Some(self.faults[i].1.clone())
    }

    /// A room that exists already, with the bot's affiliation `owner`.
    pub fn add_room(&mut self, room: &BareJid, password: &str, occupants: &[&str]) {
        self.rooms.insert(
            room.clone(),
            MucRoom {
                password: password.into(),
                occupants: occupants.iter().map(|n| occupant(n)).collect(),
                bot_inside: false,
                bot_affiliation: "owner".into(),
                configured: 1,
                ..MucRoom::default()
            },
        );
    }

    /// What `to` (a full JID) received.
    pub fn received(&self, to: &str) -> &[String] {
        self.received.get(to).map_or(&[], Vec::as_slice)
    }
}

/// An occupant `nick` whose real JID is `nick@localhost/web`.
pub fn occupant(nick: &str) -> Occupant {
    Occupant {
        nick: nick.into(),
        jid: format!("{nick}@localhost/web"),
        affiliation: "none".into(),
    }
}

/// A row of the fake queue.
#[derive(Debug, Clone)]
pub struct Row {
    /// `queue.id`.
    pub id: i64,
    /// The visitor label.
    pub label: String,
    /// The full JID of a visitor over XMPP.
    pub jid: Option<String>,
    /// The nick.
    pub nick: String,
    /// The topic.
    pub topic: Option<String>,
    /// Since when they wait.
    pub since: Time,
    /// The room given, once assigned.
    pub room: Option<String>,
    /// False once they left.
    pub open: bool,
    /// 0, or 1 ahead of those without (SPEC §14).
    pub priority: i64,
    /// Why.
    pub why: Option<String>,
    /// The answers to the questions before the chat: question, answer, kept.
    pub answers: Vec<(String, String, bool)>,
}

/// The fake store: in-memory rows the test sets, answers to every query, every write in order.
#[derive(Debug)]
pub struct Store {
    /// Claims per room.
    pub claims: BTreeMap<String, Claims>,
    /// Each room's status, as written.
    pub status: BTreeMap<String, Status>,
    /// The queue.
    pub queue: Vec<Row>,
    /// The id the next queued row gets.
    pub next_id: i64,
    /// Visitor labels that are blocked.
    pub blocked: BTreeSet<String>,
    /// Visitors given a room within the pace window: this many, a minute apart, the last a
    /// minute before the sweep.
    pub pace: i64,
    /// True: every query fails (the database is down).
    pub down: bool,
    /// True: queries are kept unanswered in `held` until [`World::release`].
    pub hold: bool,
    /// Queries kept unanswered.
    pub held: Vec<(u64, Query)>,
    /// Every write, in order, with its time.
    pub writes: Vec<(Time, Write)>,
    /// The lines stored, per room, in order.
    pub lines: BTreeMap<String, Vec<Line>>,
    /// When each room's chat began (its first `busy`).
    pub busy_at: BTreeMap<String, Time>,
    /// The bare JID of each room's staff member (from `staffed`, and a handover's `busy`).
    pub staff_jid: BTreeMap<String, String>,
    /// When each room's chat ended (its first `closing` or `closed`).
    pub ended_at: BTreeMap<String, Time>,
    /// The registrations by room: who, and the answers (question, answer, kept).
    pub registrations: BTreeMap<String, (String, Answers)>,
    /// The feedback by room: (question, answer, kept); never who gave it.
    pub feedback: BTreeMap<String, Answers>,
}

impl Default for Store {
    fn default() -> Store {
        Store {
            claims: BTreeMap::new(),
            status: BTreeMap::new(),
            queue: Vec::new(),
            next_id: 1,
            blocked: BTreeSet::new(),
            pace: 0,
            down: false,
            hold: false,
            held: Vec::new(),
            writes: Vec::new(),
            lines: BTreeMap::new(),
            busy_at: BTreeMap::new(),
            staff_jid: BTreeMap::new(),
            ended_at: BTreeMap::new(),
            registrations: BTreeMap::new(),
            feedback: BTreeMap::new(),
        }
    }
}

impl Store {
    /// A visitor waiting since `since`, over XMPP when `jid` is given; returns the row id.
    pub fn wait(&mut self, jid: Option<&str>, nick: &str, since: Time) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.queue.push(Row {
            id,
            label: format!("label-{id}"),
            jid: jid.map(str::to_string),
            nick: nick.into(),
            topic: None,
            since,
            room: None,
            open: true,
            priority: 0,
            why: None,
            answers: Vec::new(),
        });
        id
    }

    /// The waiting rows in line order, as the database orders them: priority first, then
    /// arrival (`priority DESC, enqueued_at, id`).
    fn waiting(&self) -> impl Iterator<Item = &Row> {
        let mut rows: Vec<&Row> = self
            .queue
            .iter()
            .filter(|r| r.open && r.room.is_none())
            .collect();
        rows.sort_by_key(|r| (std::cmp::Reverse(r.priority), r.since, r.id));
        rows.into_iter()
    }

    fn apply(&mut self, write: &Write) {
        match write {
            Write::InsertRoom { jid, .. } => {
                self.claims.entry(jid.clone()).or_default();
                self.status.insert(jid.clone(), Status::Available);
            }
            Write::Transition { jid, transition } => {
                self.status.insert(jid.clone(), transition.to);
                if transition.to == Status::Busy {
                    self.busy_at.entry(jid.clone()).or_insert(transition.at);
                }
                if transition.to == Status::Closed {
                    self.claims.remove(jid);
                }
                let staff_seat = transition.to == Status::Staffed
                    || (transition.to == Status::Busy && transition.reason == Reason::Handover);
                if let (true, Some(staff)) = (staff_seat, transition.jid.as_ref()) {
                    self.staff_jid.insert(jid.clone(), staff.clone());
                }
                if matches!(transition.to, Status::Closing | Status::Closed) {
                    self.ended_at.entry(jid.clone()).or_insert(transition.at);
                }
            }
            Write::RotatePassword { jid, .. } => {
                if let Some(c) = self.claims.get_mut(jid) {
                    c.client_at = None;
                }
            }
            Write::VisitorGone { visitor } => {
                for r in &mut self.queue {
                    if r.jid.as_deref() == Some(visitor) {
                        r.open = false;
                    }
                }
            }
            Write::Message {
                jid,
                seq,
                at,
                nick,
                role,
                body,
            } => self.lines.entry(jid.clone()).or_default().push(Line {
                seq: *seq,
                at: *at,
                nick: nick.clone(),
                role: *role,
                body: body.clone(),
            }),
            Write::MessageAt { .. }
            | Write::ForgetVisitor { .. }
            | Write::ForgetEnded { .. }
            | Write::ForgetAnswers { .. }
            | Write::Supervised { .. } => {}
            Write::HandoverOffered { .. }
            | Write::HandoverTaken { .. }
            | Write::HandoverEnded { .. } => {}
        }
    }

    fn answer(&mut self, query: &Query, now: Time) -> Result<QueryResult, String> {
        if self.down {
            return Err("connection refused".into());
        }
        Ok(match query {
            Query::Claims(room) => QueryResult::Claims(self.claims.get(room).copied()),
            Query::OpenClaims => QueryResult::OpenClaims(
                self.claims
                    .iter()
                    .filter(|(_, c)| c.staff_at.is_some() || c.client_at.is_some())
                    .map(|(r, c)| (r.clone(), *c))
                    .collect(),
            ),
            Query::Assign => {
                let room = self
                    .status
                    .iter()
                    .find(|(r, s)| {
                        **s == Status::Staffed
                            && self.claims.get(*r).is_some_and(|c| c.client_at.is_none())
                    })
                    .map(|(r, _)| r.clone());
                let first = self.waiting().next().map(|r| r.id);
                match (room, first) {
                    (Some(room), Some(id)) => {
                        QueryResult::Assigned(Some(self.give(id, &room, now)))
                    }
                    _ => QueryResult::Assigned(None),
                }
            }
            Query::SweepQueue { places, .. } => {
                let waiting: Vec<&Row> = self.waiting().collect();
                QueryResult::Swept(Swept {
                    waiting: waiting.len() as i64,
                    oldest: waiting.iter().map(|r| r.since).min(),
                    newest: waiting.iter().map(|r| r.id).max(),
                    places: places.map(|_| {
                        (
                            waiting
                                .iter()
                                .enumerate()
                                .filter_map(|(i, r)| Some((r.id, r.jid.clone()?, i as i64 + 1)))
                                .collect(),
                            // `pace` visitors given a room a minute apart, the last a minute ago.
                            (1..=self.pace)
                                .rev()
                                .map(|k| now - chrono::Duration::seconds(60 * k))
                                .collect(),
                        )
                    }),
                })
            }
            Query::Enqueue {
                label,
                jid,
                nick,
                topic,
                max_length,
                priority,
                priority_reason,
                answers,
                unanswered,
            } => {
                let place = |s: &Store, id: i64| {
                    s.waiting()
                        .position(|r| r.id == id)
                        .map_or(0, |p| p as i64 + 1)
                };
                if self.blocked.contains(label) {
                    QueryResult::Enqueued(Enqueued::Blocked, 0)
                } else if let Some(r) = self.queue.iter().find(|r| r.open && r.label == *label) {
                    let id = r.id;
                    QueryResult::Enqueued(Enqueued::AlreadyQueued(id), place(self, id))
                } else if *unanswered {
                    QueryResult::Enqueued(Enqueued::Unanswered, 0)
                } else if self.waiting().count() >= *max_length as usize {
                    QueryResult::Enqueued(Enqueued::Full, 0)
                } else {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.queue.push(Row {
                        id,
                        label: label.clone(),
                        jid: Some(jid.clone()),
                        nick: nick.clone(),
                        topic: topic.clone(),
                        since: now,
                        room: None,
                        open: true,
                        priority: *priority,
                        why: priority_reason.clone(),
                        answers: answers.clone(),
                    });
                    QueryResult::Enqueued(Enqueued::Queued(id), place(self, id))
                }
            }
            Query::LeaveQueue(jid) => {
                let row = self
                    .queue
                    .iter_mut()
                    .find(|r| r.open && r.jid.as_deref() == Some(jid));
                QueryResult::Left(row.map(|r| r.open = false).is_some())
            }
            Query::Resume { label, jid } => {
                let row = self
                    .queue
                    .iter_mut()
                    .find(|r| r.open && r.label == *label && r.room.is_some());
                QueryResult::Room(row.map(|r| {
                    r.jid = Some(jid.clone());
                    r.room.clone().expect("assigned")
                }))
            }
            Query::TakeChat(_) => {
                let room = self
                    .status
                    .iter()
                    .find(|(r, s)| {
                        **s == Status::Available
                            && self.claims.get(*r).is_none_or(|c| c.staff_at.is_none())
                    })
                    .map(|(r, _)| r.clone());
                if let Some(room) = &room {
                    self.claims.entry(room.clone()).or_default().staff_at = Some(now);
                }
                QueryResult::Room(room)
            }
            Query::WaitingList => QueryResult::WaitingList(
                self.waiting()
                    .map(|r| Waiter {
                        id: r.id,
                        nick: r.nick.clone(),
                        topic: r.topic.clone(),
                        since: r.since,
                        priority: r.priority,
                        why: r.why.clone(),
                    })
                    .collect(),
            ),
            Query::Pick { room, queue_id } => {
                let free = self.claims.get(room).is_some_and(|c| c.client_at.is_none());
                let waits = self.waiting().any(|r| r.id == *queue_id);
                QueryResult::Assigned((free && waits).then(|| self.give(*queue_id, room, now)))
            }
            Query::VisitorTopic(room) => QueryResult::Topic(
                self.queue
                    .iter()
                    .rev()
                    .find(|r| r.room.as_deref() == Some(room))
                    .and_then(|r| r.topic.clone()),
            ),
            Query::BlockVisitor { room, .. } => {
                let label = self
                    .queue
                    .iter()
                    .find(|r| r.open && r.room.as_deref() == Some(room))
                    .map(|r| r.label.clone());
                if let Some(l) = &label {
                    self.blocked.insert(l.clone());
                }
                QueryResult::Blocked(label)
            }
            Query::LiveChats { room } => QueryResult::LiveChats(
                self.status
                    .iter()
                    .filter(|(r, s)| {
                        matches!(s, Status::Busy | Status::Closing)
                            && room.as_ref().is_none_or(|x| x == *r)
                    })
                    .map(|(r, _)| LiveChat {
                        room: r.clone(),
                        topic: self
                            .queue
                            .iter()
                            .rev()
                            .find(|q| q.room.as_deref() == Some(r))
                            .and_then(|q| q.topic.clone()),
                        since: self.busy_at.get(r).copied(),
                        priority: self
                            .queue
                            .iter()
                            .rev()
                            .find(|q| q.room.as_deref() == Some(r))
                            .map_or(0, |q| q.priority),
                    })
                    .collect(),
            ),
            Query::EndedChats { staff, since } => {
                QueryResult::EndedChats(self.ended_chats(staff, *since))
            }
            Query::Register {
                room,
                staff,
                since,
                answers,
                ..
            } => {
                let chats = self.ended_chats(staff, *since);
                QueryResult::Stored(match chats.iter().find(|c| c.room == *room) {
                    None => Stored::NoChat,
                    Some(c) if c.registered => Stored::Already,
                    Some(_) => {
                        let row = (staff.clone(), answers.clone());
                        self.registrations.insert(room.clone(), row);
                        Stored::Done
                    }
                })
            }
            Query::Feedback {
                room,
                label,
                since,
                answers,
                ..
            } => {
                let theirs = self
                    .queue
                    .iter()
                    .any(|q| q.room.as_deref() == Some(room) && q.label == *label);
                let recent = self.busy_at.get(room).is_some_and(|b| b >= since);
                QueryResult::Stored(if !(theirs && recent) {
                    Stored::NoChat
                } else if self.feedback.contains_key(room) {
                    Stored::Already
                } else {
                    self.feedback.insert(room.clone(), answers.clone());
                    Stored::Done
                })
            }
            Query::Transcript { room, upto } => QueryResult::Transcript(
                self.lines
                    .get(room)
                    .into_iter()
                    .flatten()
                    .filter(|l| l.seq <= *upto)
                    .cloned()
                    .collect(),
            ),
        })
    }

    /// The chats `staff` had when they ended, begun at or after `since`, newest first.
    fn ended_chats(&self, staff: &str, since: Time) -> Vec<EndedChat> {
        let mut chats: Vec<EndedChat> = self
            .ended_at
            .iter()
            .filter(|(room, _)| self.staff_jid.get(*room).map(String::as_str) == Some(staff))
            .filter_map(|(room, ended)| {
                let began = *self.busy_at.get(room)?;
                let row = self.queue.iter().find(|q| q.room.as_deref() == Some(room));
                (began >= since).then(|| EndedChat {
                    room: room.clone(),
                    nick: row.map(|r| r.nick.clone()).filter(|n| !n.is_empty()),
                    topic: row.and_then(|r| r.topic.clone()),
                    began,
                    ended: *ended,
                    registered: self.registrations.contains_key(room),
                })
            })
            .collect();
        chats.sort_by_key(|c| std::cmp::Reverse(c.began));
        chats
    }

    fn give(&mut self, id: i64, room: &str, now: Time) -> Assigned {
        self.claims.entry(room.to_string()).or_default().client_at = Some(now);
        let row = self.queue.iter_mut().find(|r| r.id == id).expect("a row");
        row.room = Some(room.to_string());
        Assigned {
            queue_id: id,
            visitor_jid: row.jid.clone(),
            room: room.to_string(),
            client_claimed_at: now,
            nick: row.nick.clone(),
            topic: row.topic.clone(),
            waiting_since: row.since,
            priority: row.priority,
            why: row.why.clone(),
            answers: row
                .answers
                .iter()
                .map(|(q, a, _)| (q.clone(), a.clone()))
                .collect(),
        }
    }
}

/// The core, the MUC service, the store and the clock.
pub struct World {
    /// The bot.
    pub core: Core,
    /// The current time.
    pub now: Time,
    /// The MUC service and the people's sessions.
    pub muc: Muc,
    /// The database.
    pub store: Store,
    /// Everything the core did, in order.
    pub log: Vec<(Time, Event)>,
    inbox: VecDeque<Input>,
}

impl World {
    /// A world around `core` at time `now`.
    pub fn new(core: Core, now: Time) -> World {
        World {
            core,
            now,
            muc: Muc::default(),
            store: Store::default(),
            log: Vec::new(),
            inbox: VecDeque::new(),
        }
    }

    /// Feeds `input` now and drives the core until nothing more is due now.
    pub fn input(&mut self, input: Input) -> Vec<Event> {
        let mark = self.log.len();
        self.inbox.push_back(input);
        self.settle();
        self.since(mark)
    }

    /// Moves the clock to `until`, waking the core at each deadline on the way, and settles.
    pub fn until(&mut self, until: Time) -> Vec<Event> {
        assert!(until >= self.now, "time does not go back");
        let mark = self.log.len();
        self.settle();
        let mut steps = 0;
        while let Some(at) = self.core.next_deadline() {
            if at > until {
                break;
            }
            steps += 1;
            assert!(steps < MAX_STEPS, "the core keeps waking before {until}");
            self.now = self.now.max(at);
            self.inbox.push_back(Input::Timer);
            self.settle();
        }
        self.now = until;
        self.inbox.push_back(Input::Timer);
        self.settle();
        self.since(mark)
    }

    /// SIGTERM, now.
    pub fn shutdown(&mut self) -> Vec<Event> {
        let mark = self.log.len();
        let effects = self.core.shutdown(self.now);
        self.carry_out(effects);
        self.settle();
        self.since(mark)
    }

    /// Answers the queries the store held, and stops holding.
    pub fn release(&mut self) -> Vec<Event> {
        let mark = self.log.len();
        self.store.hold = false;
        for (id, query) in std::mem::take(&mut self.store.held) {
            let result = self.store.answer(&query, self.now);
            self.inbox.push_back(Input::QueryDone { id, result });
        }
        self.settle();
        self.since(mark)
    }

    /// What happened since `mark` (a length of the log).
    pub fn since(&self, mark: usize) -> Vec<Event> {
        self.log[mark..].iter().map(|(_, e)| e.clone()).collect()
    }

    fn settle(&mut self) {
        let mut steps = 0;
        loop {
            let input = match self.inbox.pop_front() {
                Some(input) => input,
                None if self.core.next_deadline().is_some_and(|at| at <= self.now) => Input::Timer,
                None => return,
            };
            steps += 1;
            assert!(
                steps < MAX_STEPS,
                "the core does not settle at {}",
                self.now
            );
            let effects = self.core.handle(input, self.now);
            self.carry_out(effects);
        }
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(stanza) => self.deliver(*stanza),
                Effect::Query { id, query } => {
                    self.log.push((self.now, Event::Query(query.clone())));
                    if self.store.hold {
                        self.store.held.push((id, query));
                    } else {
                        let result = self.store.answer(&query, self.now);
                        self.inbox.push_back(Input::QueryDone { id, result });
                    }
                }
                Effect::Write(write) => {
                    self.store.apply(&write);
                    self.store.writes.push((self.now, write.clone()));
                    self.log.push((self.now, Event::Write(write)));
                }
                Effect::Prune { before } => self.log.push((self.now, Event::Prune(before))),
            }
        }
    }

    /// The MUC service and the server at work: one stanza of the bot's.
    fn deliver(&mut self, stanza: Stanza) {
        let element = match &stanza {
            Stanza::Iq(iq) => Element::from(iq.clone()),
            Stanza::Message(m) => Element::from(m.clone()),
            Stanza::Presence(p) => Element::from(p.clone()),
        };
        let xml = String::from(&element);
        let to = element.attr("to").unwrap_or_default().to_string();
        self.log.push((
            self.now,
            Event::Sent {
                to: to.clone(),
                xml: xml.clone(),
            },
        ));
        let request = match &stanza {
            Stanza::Iq(Iq::Get { .. } | Iq::Set { .. }) => true,
            Stanza::Presence(p) => p.type_ == PresenceType::None && to.contains("@conference."),
            _ => false,
        };
        if self.muc.hold && request {
            self.muc.held.push(stanza);
        } else {
            self.route(stanza, xml);
        }
    }

    /// Answers the held requests addressed to `room` (and those they lead to), in order, until
    /// none is left; the rest stay held.
    pub fn serve(&mut self, room: &BareJid) -> Vec<Event> {
        let room = room.clone();
        self.serve_if(move |to| to.as_ref().is_some_and(|j| j.to_bare() == room))
    }

    /// Answers the held requests addressed to `to` (a full JID) exactly, in order.
    pub fn serve_to(&mut self, to: &str) -> Vec<Event> {
        let to = to.to_string();
        self.serve_if(move |j| j.as_ref().is_some_and(|j| j.to_string() == to))
    }

    /// Answers every held request (and those they lead to) until none is left.
    pub fn serve_all(&mut self) -> Vec<Event> {
        self.serve_if(|_| true)
    }

    fn serve_if(&mut self, pick: impl Fn(&Option<Jid>) -> bool) -> Vec<Event> {
        let mark = self.log.len();
        let mut steps = 0;
        loop {
            let Some(i) = self.muc.held.iter().position(|s| {
                pick(&match s {
                    Stanza::Iq(iq) => iq.to().cloned(),
                    Stanza::Presence(p) => p.to.clone(),
                    Stanza::Message(m) => m.to.clone(),
                })
            }) else {
                return self.since(mark);
            };
            steps += 1;
            assert!(steps < MAX_STEPS, "the requests keep coming");
            let stanza = self.muc.held.remove(i);
            self.route(stanza, String::new());
            self.settle();
        }
    }

    fn route(&mut self, stanza: Stanza, xml: String) {
        let to = match &stanza {
            Stanza::Iq(iq) => iq.to().map(|j| j.to_string()),
            Stanza::Presence(p) => p.to.as_ref().map(|j| j.to_string()),
            Stanza::Message(m) => m.to.as_ref().map(|j| j.to_string()),
        }
        .unwrap_or_default();
        let target = Jid::from_str(&to).ok();
        let room = target
            .as_ref()
            .map(Jid::to_bare)
            .filter(|b| b.domain().as_str() == "conference.localhost");
        match (stanza, room) {
            (Stanza::Presence(p), Some(room)) => match p.type_ {
                PresenceType::None => {
                    let password = p
                        .payloads
                        .iter()
                        .find(|x| x.is("x", stanza::NS_MUC))
                        .and_then(|x| x.get_child("password", stanza::NS_MUC))
                        .map(Element::text)
                        .unwrap_or_default();
                    self.join(room, &password);
                }
                PresenceType::Unavailable => {
                    if let Some(r) = self.muc.rooms.get_mut(&room) {
                        r.bot_inside = false;
                    }
                }
                _ => {}
            },
            (Stanza::Iq(iq @ (Iq::Get { .. } | Iq::Set { .. })), _) => self.iq(iq),
            (Stanza::Presence(_), None) if to.is_empty() => {}
            _ => self.muc.received.entry(to).or_default().push(xml),
        }
    }

    fn join(&mut self, room: BareJid, password: &str) {
        match self.muc.faulty(Ask::Join) {
            Some(Reply::Silence) => {}
            Some(Reply::Error(c)) => self.inbox.push_back(Input::Presence(own_error(&room, c))),
            None => self.join_answered(room, password),
        }
    }

    fn join_answered(&mut self, room: BareJid, password: &str) {
        let created = !self.muc.rooms.contains_key(&room);
        let r = self
            .muc
            .rooms
            .entry(room.clone())
            .or_insert_with(|| MucRoom {
                password: password.into(),
                bot_affiliation: "owner".into(),
                ..MucRoom::default()
            });
        if !created && !r.password.is_empty() && r.password != password {
            self.inbox
                .push_back(Input::Presence(own_error(&room, "not-authorized")));
            return;
        }
        r.bot_inside = true;
        for o in r.occupants.clone() {
            self.inbox.push_back(Input::Presence(occupant_presence(
                &room,
                &o,
                PresenceKind::Available,
                &[],
            )));
        }
        let codes: &[u16] = if created { &[110, 201] } else { &[110] };
        let affiliation = r.bot_affiliation.clone();
        self.inbox.push_back(Input::Presence(own_presence(
            &room,
            PresenceKind::Available,
            codes,
            &affiliation,
        )));
    }

    fn iq(&mut self, iq: Iq) {
        let (get, to, id, payload) = match iq {
            Iq::Get {
                to, id, payload, ..
            } => (true, to, id, payload),
            Iq::Set {
                to, id, payload, ..
            } => (false, to, id, payload),
            _ => return,
        };
        let ask = if payload.is("ping", stanza::NS_PING) {
            Ask::Ping
        } else if payload.is("query", stanza::NS_MUC_ADMIN)
            && payload.children().any(|i| i.attr("affiliation").is_some())
        {
            Ask::Affiliations
        } else if payload.is("query", stanza::NS_MUC_ADMIN) {
            Ask::Kick
        } else if get {
            Ask::Form
        } else if payload.has_child("destroy", stanza::NS_MUC_OWNER) {
            Ask::Destroy
        } else {
            Ask::Submit
        };
        let answer = |result: Result<Option<Element>, IqError>| Input::Response {
            id: id.clone(),
            from: to.clone(),
            result,
        };
        match self.muc.faulty(ask.clone()) {
            Some(Reply::Silence) => return,
            Some(Reply::Error(c)) => {
                self.inbox.push_back(answer(Err(IqError::Error(c.into()))));
                return;
            }
            None => {}
        }
        let Some(to) = to.clone() else { return };
        let bare = to.to_bare();
        if ask == Ask::Ping {
            let ok = match self.muc.rooms.get(&bare) {
                Some(r) => r.occupants.iter().any(|o| {
                    Some(o.nick.as_str()) == to.resource().map(|r| r.as_str())
                        && !self.muc.gone.contains(&o.jid)
                }),
                None => !self.muc.gone.contains(&to.to_string()),
            };
            let result = if ok {
                Ok(None)
            } else {
                Err(IqError::Error("service-unavailable".into()))
            };
            self.inbox.push_back(answer(result));
            return;
        }
        let Some(r) = self.muc.rooms.get_mut(&bare) else {
            self.inbox
                .push_back(answer(Err(IqError::Error("item-not-found".into()))));
            return;
        };
        match ask {
            Ask::Form => {
                self.inbox
                    .push_back(answer(Ok(Some(FORM.parse().unwrap()))));
            }
            Ask::Submit => {
                if let Some(secret) = payload
                    .get_child("x", stanza::NS_DATA)
                    .into_iter()
                    .flat_map(|x| x.children())
                    .find(|f| f.attr("var") == Some("muc#roomconfig_roomsecret"))
                {
                    r.password = secret.children().map(Element::text).collect();
                }
                for f in payload
                    .get_child("x", stanza::NS_DATA)
                    .into_iter()
                    .flat_map(|x| x.children())
                {
                    let value = f.children().map(Element::text).collect();
                    r.config
                        .insert(f.attr("var").unwrap_or_default().to_string(), value);
                }
                r.configured += 1;
                self.inbox.push_back(answer(Ok(None)));
            }
            Ask::Destroy => {
                self.muc.rooms.remove(&bare);
                self.inbox.push_back(answer(Ok(None)));
            }
            Ask::Kick => {
                let nick = payload
                    .children()
                    .find_map(|i| i.attr("nick"))
                    .unwrap_or_default()
                    .to_string();
                let Some(i) = r.occupants.iter().position(|o| o.nick == nick) else {
                    self.inbox
                        .push_back(answer(Err(IqError::Error("item-not-found".into()))));
                    return;
                };
                let o = r.occupants.remove(i);
                let inside = r.bot_inside;
                self.inbox.push_back(answer(Ok(None)));
                if inside {
                    self.inbox.push_back(Input::Presence(occupant_presence(
                        &bare,
                        &o,
                        PresenceKind::Unavailable,
                        &[307],
                    )));
                }
            }
            Ask::Affiliations if get => {
                let items: String = r
                    .members
                    .iter()
                    .map(|j| format!("<item affiliation='member' jid='{j}'/>"))
                    .collect();
                let list = format!("<query xmlns='{}'>{items}</query>", stanza::NS_MUC_ADMIN);
                self.inbox
                    .push_back(answer(Ok(Some(list.parse().unwrap()))));
            }
            Ask::Affiliations => {
                for i in payload.children() {
                    let jid = i.attr("jid").unwrap_or_default().to_string();
                    if i.attr("affiliation") == Some("member") {
                        r.members.insert(jid);
                    } else {
                        r.members.remove(&jid);
                    }
                }
                self.inbox.push_back(answer(Ok(None)));
            }
            Ask::Join | Ask::Ping => unreachable!(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // People

    /// `nick` (real JID `nick@localhost/web`) joins `room`.
    pub fn enter(&mut self, room: &BareJid, nick: &str) -> Vec<Event> {
        self.enter_as(room, occupant(nick))
    }

    /// `o` joins `room`.
    pub fn enter_as(&mut self, room: &BareJid, o: Occupant) -> Vec<Event> {
        let r = self.muc.rooms.get_mut(room).expect("the room exists");
        r.occupants.retain(|x| x.nick != o.nick);
        r.occupants.push(o.clone());
        // A session that joins a room is there: a ping reaches it.
        self.muc.gone.remove(&o.jid);
        self.tell_bot(
            room,
            occupant_presence(room, &o, PresenceKind::Available, &[]),
        )
    }

    /// `nick` leaves `room`, with `status` as the presence's status text.
    pub fn exit(&mut self, room: &BareJid, nick: &str, status: Option<&str>) -> Vec<Event> {
        let r = self.muc.rooms.get_mut(room).expect("the room exists");
        let Some(i) = r.occupants.iter().position(|o| o.nick == nick) else {
            return Vec::new();
        };
        let o = r.occupants.remove(i);
        let mut p = occupant_presence(room, &o, PresenceKind::Unavailable, &[]);
        p.status_text = status.map(str::to_string);
        self.tell_bot(room, p)
    }

    /// `nick`'s session ends (a dropped connection, a reloaded page): the room says they left,
    /// without the clean status, and a ping to their session bounces.
    pub fn drop_out(&mut self, room: &BareJid, nick: &str) -> Vec<Event> {
        let r = self.muc.rooms.get(room).expect("the room exists");
        if let Some(o) = r.occupants.iter().find(|o| o.nick == nick) {
            self.muc.gone.insert(o.jid.clone());
        }
        self.exit(room, nick, None)
    }

    /// `nick` says `body` in `room`.
    pub fn say(&mut self, room: &BareJid, nick: &str, body: &str) -> Vec<Event> {
        self.input(Input::Message(RoomMessage {
            room: room.clone(),
            nick: nick.into(),
            body: body.into(),
            delayed: None,
        }))
    }

    /// The room puts the bot out: `codes` 307 for a kick, none for an earlier session's place.
    pub fn bot_out(&mut self, room: &BareJid, codes: &[u16]) -> Vec<Event> {
        let mut all = vec![110];
        all.extend_from_slice(codes);
        let affiliation = match self.muc.rooms.get_mut(room) {
            Some(r) => {
                r.bot_inside = false;
                r.bot_affiliation.clone()
            }
            None => "none".into(),
        };
        self.input(Input::Presence(own_presence(
            room,
            PresenceKind::Unavailable,
            &all,
            &affiliation,
        )))
    }

    fn tell_bot(&mut self, room: &BareJid, p: RoomPresence) -> Vec<Event> {
        if self.muc.rooms.get(room).is_some_and(|r| r.bot_inside) {
            self.input(Input::Presence(p))
        } else {
            Vec::new()
        }
    }

    /// A presence `from` (a full JID) directed at the bot.
    pub fn direct(&mut self, from: &str, kind: PresenceKind) -> Vec<Event> {
        if kind == PresenceKind::Available {
            self.muc.gone.remove(from);
        } else {
            self.muc.gone.insert(from.to_string());
        }
        self.input(direct(from, kind))
    }

    /// A command from `from` (a full JID) with `fields` submitted.
    pub fn command(&mut self, from: &str, node: &str, fields: &[(&str, &str)]) -> Vec<Event> {
        self.input(command(from, node, fields))
    }

    /// [`World::command`] in language `lang` (the command's `xml:lang`).
    pub fn command_in(
        &mut self,
        lang: &str,
        from: &str,
        node: &str,
        fields: &[(&str, &str)],
    ) -> Vec<Event> {
        self.input(command_in(Some(lang), from, node, fields))
    }
}

/// The presence of occupant `o` of `room`.
pub fn occupant_presence(
    room: &BareJid,
    o: &Occupant,
    kind: PresenceKind,
    codes: &[u16],
) -> RoomPresence {
    RoomPresence {
        room: room.clone(),
        nick: o.nick.clone(),
        kind,
        codes: codes.to_vec(),
        real_jid: Some(o.jid.clone()),
        affiliation: Some(o.affiliation.clone()),
        status_text: None,
        new_nick: None,
        destroyed: false,
    }
}

/// The bot's own presence in `room`.
pub fn own_presence(
    room: &BareJid,
    kind: PresenceKind,
    codes: &[u16],
    affiliation: &str,
) -> RoomPresence {
    let bot = Occupant {
        nick: "helpim-bot".into(),
        jid: BOT.into(),
        affiliation: affiliation.into(),
    };
    occupant_presence(room, &bot, kind, codes)
}

fn own_error(room: &BareJid, condition: &str) -> RoomPresence {
    RoomPresence {
        real_jid: None,
        affiliation: None,
        ..own_presence(room, PresenceKind::Error(condition.into()), &[], "none")
    }
}

/// A presence `from` (a full JID) sent to the bot itself.
pub fn direct(from: &str, kind: PresenceKind) -> Input {
    let (bare, resource) = from.split_once('/').unwrap();
    Input::Presence(RoomPresence {
        room: BareJid::from_str(bare).unwrap(),
        nick: resource.into(),
        kind,
        codes: Vec::new(),
        real_jid: None,
        affiliation: None,
        status_text: None,
        new_nick: None,
        destroyed: false,
    })
}

/// A command from `from` (a full JID) as the session reads it.
pub fn command(from: &str, node: &str, fields: &[(&str, &str)]) -> Input {
    command_in(None, from, node, fields)
}

/// [`command`] with `xml:lang` on the `<command/>` when `lang` is given.
pub fn command_in(lang: Option<&str>, from: &str, node: &str, fields: &[(&str, &str)]) -> Input {
    let lang = lang.map_or(String::new(), |l| format!(" xml:lang='{l}'"));
    let form = if fields.is_empty() {
        String::new()
    } else {
        let fields: String = fields
            .iter()
            .map(|(k, v)| format!("<field var='{k}'><value>{v}</value></field>"))
            .collect();
        format!("<x xmlns='jabber:x:data' type='submit'>{fields}</x>")
    };
    let xml = format!(
        "<iq xmlns='jabber:client' type='set' id='q1' from='{from}' to='bot@localhost'>\
         <command xmlns='http://jabber.org/protocol/commands' node='{node}' action='execute'{lang}>{form}</command></iq>"
    );
    let iq = Iq::try_from(xml.parse::<Element>().unwrap()).unwrap();
    Input::Request(crate::xmpp::adhoc::read_request(&iq).expect("a command"))
}

// ---------------------------------------------------------------------------------------------
// Reading what happened

/// The joins sent: the room and the presence as XML.
pub fn joins(events: &[Event]) -> Vec<(BareJid, String)> {
    sent_all(events)
        .into_iter()
        .filter(|(to, xml)| {
            xml.starts_with("<presence") && !xml.contains("type=") && to.contains("@conference.")
        })
        .map(|(to, xml)| (Jid::from_str(&to).unwrap().to_bare(), xml))
        .collect()
}

/// The IQ requests sent (gets and sets), as XML.
pub fn iqs(events: &[Event]) -> Vec<String> {
    sent_all(events)
        .into_iter()
        .filter(|(_, xml)| is_request(xml))
        .map(|(_, xml)| xml)
        .collect()
}

/// The stanzas sent to people (messages, answers to commands), as XML; but the pushes of the
/// help line's state to staff on duty, which come on their own (tested in `shift.rs`).
pub fn sent(events: &[Event]) -> Vec<String> {
    sent_all(events)
        .into_iter()
        .filter(|(to, xml)| !is_request(xml) && !xml.starts_with("<presence") && !to.is_empty())
        .filter(|(_, xml)| !xml.contains("<shift xmlns='urn:helpim:staff:0'"))
        .map(|(_, xml)| xml)
        .collect()
}

fn is_request(xml: &str) -> bool {
    xml.starts_with("<iq") && (xml.contains("type='get'") || xml.contains("type='set'"))
}

fn sent_all(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Sent { to, xml } => Some((to.clone(), xml.clone())),
            _ => None,
        })
        .collect()
}

/// The writes asked for.
/// The changes asked to be recorded, but for the erasure of ended queue rows that comes with
/// every sweep (tested in `privacy.rs`).
pub fn writes(events: &[Event]) -> Vec<&Write> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Write(Write::ForgetEnded { .. }) => None,
            Event::Write(w) => Some(w),
            _ => None,
        })
        .collect()
}

/// The transitions written: room, new status, reason.
pub fn transitions(events: &[Event]) -> Vec<(String, Status, Reason)> {
    writes(events)
        .into_iter()
        .filter_map(|w| match w {
            Write::Transition { jid, transition } => {
                Some((jid.clone(), transition.to, transition.reason))
            }
            _ => None,
        })
        .collect()
}

/// The queries asked.
pub fn queries(events: &[Event]) -> Vec<Query> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Query(q) => Some(q.clone()),
            _ => None,
        })
        .collect()
}

/// True for an IQ that asks for a room's owner form.
pub fn is_form_request(xml: &str) -> bool {
    xml.contains("muc#owner") && xml.contains("type='get'")
}
