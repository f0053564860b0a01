//! What goes into the core and what comes out: [`Input`]s (stanzas read, answers, query
//! results, timers), [`Effect`]s (stanzas to send, requests, queries, writes), the [`Query`]s it
//! asks of the store with their [`QueryResult`]s, and the [`Write`]s it asks to be recorded. The
//! driver carries effects out; the store answers queries and applies writes.

use std::time::Duration;

use tokio_xmpp::Stanza;
use xmpp_parsers::jid::BareJid;

use super::queue::{Enqueued, Swept};
use super::room::Room;
use super::types::{Claims, Role, Supervision, Time, Transition};
use crate::xmpp::adhoc::Incoming;
use crate::xmpp::stanza::{RoomMessage, RoomPresence};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;

use crate::xmpp::IqError;

/// Names a request or query, so that its answer finds its way back.
pub type RequestId = u64;

/// Something that happened, for [`super::Core::handle`].
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
    /// An IQ answer (result or error) read off the wire; the core matches it to its request.
    Response {
        /// The IQ's id.
        id: String,
        /// Who sent it (`None`: the server).
        from: Option<Jid>,
        /// Its payload, or the error's condition.
        result: Result<Option<Element>, IqError>,
    },
    /// The result of [`Effect::Query`] `id`.
    QueryDone {
        /// The query.
        id: RequestId,
        /// Its rows, or why not.
        result: Result<QueryResult, String>,
    },
    /// A command (or the list of commands) asked of the bot itself (docs/protocol.md).
    Request(Incoming),
    /// A deadline came ([`super::Core::next_deadline`]); nothing else happened.
    Timer,
}

/// A database query (a read, or a statement whose answer the core waits for) the core asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
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
        /// `queue.return_grace`.
        return_grace: Duration,
        /// Also read the places of the visitors over XMPP and the queue's pace over this window
        /// (at most every five seconds: the list is long in a long queue).
        places: Option<Duration>,
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
        /// 1 when an answer matched a question's priority rule (SPEC §14), else 0.
        priority: i64,
        /// Why, in staff's words ("Are you safe right now?: No"); none without priority.
        priority_reason: Option<String>,
        /// The answers to the questions before the chat: question, answer, kept for the
        /// reports after the row ends ([`crate::core::questions::Question::kept`]).
        answers: Vec<(String, String, bool)>,
        /// The answers could not be taken: an open row of the label is taken up again (a
        /// refreshed page asks without them), but no new row is made
        /// ([`Enqueued::Unanswered`](crate::core::queue::Enqueued::Unanswered)).
        unanswered: bool,
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
    /// The topic the visitor of room `room` gave when they asked for a chat (for a handover).
    VisitorTopic(String),
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
    /// The chats going on (rooms `busy` or `closing`), or only room `room`: their topics and
    /// when they began.
    LiveChats {
        /// Only this room (its JID).
        room: Option<String>,
    },
    /// The stored lines of room `room` up to number `upto`, oldest first (a watch's earlier
    /// lines).
    Transcript {
        /// The room's JID.
        room: String,
        /// The last `seq` to read: the lines recorded after it reach the watcher live.
        upto: i64,
    },
    /// The chats staff member `staff` (a bare JID) had when they ended (rooms `closing` or
    /// `closed` whose staff seat is theirs) that began at or after `since`, newest first, each
    /// with whether it is registered (`register-chat`).
    EndedChats {
        /// The staff member's bare JID.
        staff: String,
        /// The earliest start (`rooms.busy_at`) listed.
        since: Time,
    },
    /// Register the chat in room `room` (a `registrations` row and its answers), if it is one of
    /// [`Query::EndedChats`] of `staff` since `since` and not registered yet.
    Register {
        /// The room's JID.
        room: String,
        /// The staff member's bare JID.
        staff: String,
        /// The earliest start of a chat that may be registered.
        since: Time,
        /// When.
        at: Time,
        /// Question, answer (the questions answered), kept after the transcript's bodies go.
        answers: Vec<(String, String, bool)>,
    },
    /// Store a visitor's feedback about the chat in room `room` (by room, never by visitor), if
    /// a queue row of theirs (`label`) was for that room and the chat began at or after `since`,
    /// and the chat has no feedback yet.
    Feedback {
        /// The room's JID.
        room: String,
        /// The visitor label (a hash of their key): checked, never stored.
        label: String,
        /// The earliest start of a chat feedback is taken for.
        since: Time,
        /// When.
        at: Time,
        /// Question, answer, kept after the transcript's bodies go.
        answers: Vec<(String, String, bool)>,
    },
}

impl Query {
    /// True when the writes asked for before it must be recorded first: a visitor is given a
    /// room the bot has just seen staffed (the row must say so), and a visitor asking again after
    /// a refresh is queued after their old session's end is recorded, not into the row that end
    /// is about to close. A watch reads every line recorded before it began, and the list of
    /// live chats is read with the rows of the chats the bot has just seen begin; a request for
    /// help does not wait (its chat's topic was written when the visitor queued, and the
    /// supervisors are not kept waiting behind a backlog of writes).
    pub fn waits_for_writes(&self) -> bool {
        matches!(
            self,
            Query::Assign
                | Query::Pick { .. }
                | Query::Enqueue { .. }
                | Query::LiveChats { room: None }
                | Query::Transcript { .. }
                | Query::EndedChats { .. }
                | Query::Register { .. }
                | Query::Feedback { .. }
        )
    }
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
    /// The visitor's nick, for the staff member of the room.
    pub nick: String,
    /// The visitor's topic, when they gave one.
    pub topic: Option<String>,
    /// Since when the visitor waited.
    pub waiting_since: Time,
    /// Their priority (0 or 1, SPEC §14).
    pub priority: i64,
    /// Why they have priority, in staff's words.
    pub why: Option<String>,
    /// Their answers to the questions before the chat: question, answer (as stored).
    pub answers: Vec<(String, String)>,
}

/// What a [`Query`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    /// For [`Query::Claims`]: `None` when the row is not written yet.
    Claims(Option<Claims>),
    /// For [`Query::OpenClaims`]: room JID and claims.
    OpenClaims(Vec<(String, Claims)>),
    /// For [`Query::Assign`]: the assignment made, or none.
    Assigned(Option<Assigned>),
    /// For [`Query::SweepQueue`]: who waits, and the queue's pace.
    Swept(Swept),
    /// For [`Query::Enqueue`]: what became of the request, and the place in line.
    Enqueued(Enqueued, i64),
    /// For [`Query::LeaveQueue`]: whether there was an open row.
    Left(bool),
    /// For [`Query::Resume`] and [`Query::TakeChat`]: the room, or none.
    Room(Option<String>),
    /// For [`Query::WaitingList`].
    WaitingList(Vec<Waiter>),
    /// For [`Query::BlockVisitor`]: the label blocked, or none (the room had no client claim).
    Blocked(Option<String>),
    /// For [`Query::LiveChats`].
    LiveChats(Vec<LiveChat>),
    /// For [`Query::Transcript`].
    Transcript(Vec<Line>),
    /// For [`Query::VisitorTopic`]: the topic, if the visitor gave one.
    Topic(Option<String>),
    /// For [`Query::EndedChats`].
    EndedChats(Vec<EndedChat>),
    /// For [`Query::Register`] and [`Query::Feedback`]: what became of the answers.
    Stored(Stored),
}

/// Answers to the questions after the chat: question, answer, kept after the transcript's
/// bodies go.
pub type Answers = Vec<(String, String, bool)>;

/// A chat a staff member had when it ended, for `register-chat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedChat {
    /// The room's JID.
    pub room: String,
    /// The visitor's nick, while it is still known (erased when the chat closes, unless kept).
    pub nick: Option<String>,
    /// The visitor's topic, while it is still known.
    pub topic: Option<String>,
    /// When the chat began (`rooms.busy_at`).
    pub began: Time,
    /// When it ended (`rooms.closed_at`, or when it began closing).
    pub ended: Time,
    /// True once it has a `registrations` row.
    pub registered: bool,
}

/// What became of a registration or of feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The rows are written.
    Done,
    /// The chat had them already: nothing written.
    Already,
    /// No such chat of the asker's (unknown, someone else's, or too old): nothing written.
    NoChat,
}

/// What the database knows of a chat going on that the bot's rooms do not: its topic and start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChat {
    /// The room's JID.
    pub room: String,
    /// The visitor's topic, from their queue row (none over SQL without one).
    pub topic: Option<String>,
    /// When the chat began (`rooms.busy_at`).
    pub since: Option<Time>,
    /// The visitor's priority (0 or 1, SPEC §14), from their queue row.
    pub priority: i64,
}

/// A line of a chat, as stored in `messages` (the client named by role unless names are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1, 2, 3 … within the room (0 when transcripts are off: nothing is stored).
    pub seq: i64,
    /// When it was said.
    pub at: Time,
    /// The sender's nick as stored.
    pub nick: String,
    /// The sender's role.
    pub role: Role,
    /// The text.
    pub body: String,
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
    /// Their priority (0 or 1, SPEC §14): those with 1 wait ahead of those without.
    pub priority: i64,
    /// Why they have priority, in staff's words.
    pub why: Option<String>,
}

/// Something to do, from [`super::Core::handle`].
#[derive(Debug)]
pub enum Effect {
    /// Send a stanza: a presence, an invitation, a command's answer, or a request whose answer
    /// the core recognises when it comes back as an input (an IQ's id, a join's presences).
    Send(Box<Stanza>),
    /// Ask the database; feed the result back as [`Input::QueryDone`].
    Query {
        /// The query's name.
        id: RequestId,
        /// What to ask.
        query: Query,
    },
    /// Record a change in the database (queued, in order, retried until it lands).
    Write(Write),
    /// Erase message bodies older than `before`.
    Prune {
        /// The cutoff.
        before: Time,
    },
}

/// A room of an earlier run, as its row and transcript say, for [`super::Core::restore`].
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
    /// The chat in this (closed) room has ended: its client's nick, topic and real JID are
    /// erased (`privacy.keep_visitor_names` is false).
    ForgetVisitor {
        /// The room's JID.
        jid: String,
    },
    /// Queue rows that ended without a chat lose the visitor's nick, topic and JID; with
    /// `rooms` (at start), closed rooms still naming their client are erased too.
    ForgetEnded {
        /// Also look for closed rooms not erased yet.
        rooms: bool,
    },
    /// A help line that keeps visitor names (`privacy.keep_visitor_names`) still erases the
    /// answers to the questions before the chat not kept for the reports (SPEC §14: free text is
    /// never kept past the chat): of the chat in (closed) room `jid`, or with `None` of the queue
    /// rows that ended without a chat.
    ForgetAnswers {
        /// The closed room; `None`: the ended queue rows.
        jid: Option<String>,
    },
    /// A visitor over XMPP whose session ended leaves the queue if they were waiting or assigned.
    VisitorGone {
        /// Their full JID.
        visitor: String,
    },
    /// A watch, a whisper or a request for help about the chat in room `jid` (a `supervision`
    /// row; a whisper's text also in `notes`).
    Supervised {
        /// The room's JID.
        jid: String,
        /// What happened.
        kind: Supervision,
        /// Who did it (a bare JID).
        by: String,
        /// When.
        at: Time,
        /// A whisper's text.
        text: Option<String>,
    },
    /// A staff member began handing the chat of a room over (a `handovers` row).
    HandoverOffered {
        /// The room's JID.
        jid: String,
        /// Who hands over (bare JID).
        from_jid: String,
        /// The colleague named; `None` for the queue.
        to_jid: Option<String>,
        /// The note for the colleague.
        note: Option<String>,
        /// When.
        at: Time,
    },
    /// The room's open handover to the queue was taken by `by` (bare JID).
    HandoverTaken {
        /// The room's JID.
        jid: String,
        /// Who took it.
        by: String,
    },
    /// The room's open handover ended.
    HandoverEnded {
        /// The room's JID.
        jid: String,
        /// `done`, `expired`, `declined` or `closed`.
        outcome: &'static str,
        /// When.
        at: Time,
    },
}
