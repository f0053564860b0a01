//! The rows the store reads, each a struct whose fields are the columns of its statement
//! (`sqlx::FromRow`, read by column name, the same on SQLite and PostgreSQL): the public rows the
//! bot, the CLI and the tests use, and the few the store only reads on its way to a result.

use sqlx::FromRow;

use super::{Claims, Status, Time};

/// What a claim hands to the web application.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClaimedRoom {
    /// `rooms.id`.
    pub id: i64,
    /// The room's JID.
    pub jid: String,
    /// The room's password.
    pub password: String,
}

/// A row of `rooms`, as the CLI and the tests read it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RoomRow {
    /// `rooms.id`.
    pub id: i64,
    /// The room's JID.
    pub jid: String,
    /// The room's password.
    pub password: String,
    /// Its status.
    #[sqlx(try_from = "String")]
    pub status: Status,
    /// When it was created.
    pub created_at: Time,
    /// When its status last changed.
    pub status_changed_at: Time,
    /// The web application's staff claim label.
    pub staff_claim: Option<String>,
    /// The web application's client claim label.
    pub client_claim: Option<String>,
    /// The staff member's nick.
    pub staff_nick: Option<String>,
    /// The client's nick.
    pub client_nick: Option<String>,
    /// When it was closed.
    pub closed_at: Option<Time>,
    /// Why it was closed.
    pub close_reason: Option<String>,
    /// The time of the last chat message.
    pub last_message_at: Option<Time>,
    /// The staff member's real bare JID.
    pub staff_jid: Option<String>,
    /// The client's real bare JID.
    pub client_jid: Option<String>,
    /// When the staff claim was made.
    pub staff_claimed_at: Option<Time>,
    /// When the client claim was made.
    pub client_claimed_at: Option<Time>,
}

/// A row of `room_events`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EventRow {
    /// When.
    pub at: Time,
    /// The status before (none for the creation).
    pub from_status: Option<String>,
    /// The status after.
    pub to_status: String,
    /// Why.
    pub reason: String,
    /// Whose presence caused it.
    pub nick: Option<String>,
}

/// A row of `messages`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct MessageRow {
    /// 1, 2, 3 … within the room.
    pub seq: i64,
    /// When the bot received it.
    pub at: Time,
    /// The sender's nick.
    pub nick: String,
    /// `staff` or `client`.
    pub role: String,
    /// The text; `None` once erased by retention.
    pub body: Option<String>,
}

/// A row of `notes`: a supervisor's whisper about a chat.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct NoteRow {
    /// Its author (a bare JID).
    pub jid: String,
    /// `whisper`.
    pub kind: String,
    /// The text; `None` once erased by retention.
    pub text: Option<String>,
    /// When.
    pub at: Time,
}

/// A row of `supervision`: a watch, a whisper or a request for help.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SupervisionRow {
    /// `watch`, `whisper` or `help`.
    pub kind: String,
    /// Who (a bare JID).
    pub jid: String,
    /// When.
    pub at: Time,
}

/// A queue row as its visitor sees it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct QueueState {
    /// `waiting`, `assigned`, `served`, `left`, `expired` or `missed`.
    pub status: String,
    /// The place in line among the waiting (1 is next), while waiting.
    pub position: i64,
    /// Once assigned: the room's JID.
    pub room_jid: Option<String>,
    /// Once assigned: the room's password.
    pub room_password: Option<String>,
}

/// A waiting visitor, for staff.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct WaitingVisitor {
    /// `queue.id`.
    pub id: i64,
    /// The visitor label.
    pub visitor: String,
    /// The nick they gave.
    pub nick: String,
    /// What they want to talk about, if they said.
    pub topic: Option<String>,
    /// Since when they wait.
    pub enqueued_at: Time,
    /// 0, or 1 ahead of those without (SPEC §14).
    pub priority: i64,
    /// Why they have priority, in staff's words.
    pub priority_reason: Option<String>,
}

/// A waiting visitor given a staffed room.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Assignment {
    /// `queue.id`.
    pub queue_id: i64,
    /// The visitor label (now the room's client claim).
    pub visitor: String,
    /// The visitor's full JID, when they came over XMPP.
    pub visitor_jid: Option<String>,
    /// The room's JID.
    pub room_jid: String,
    /// The room's new client claim time.
    pub client_claimed_at: Time,
    /// The visitor's nick.
    pub nick: String,
    /// The visitor's topic.
    pub topic: Option<String>,
    /// `queue.enqueued_at`: since when the visitor waited.
    pub waiting_since: Time,
    /// The visitor's priority (0 or 1).
    pub priority: i64,
    /// Why they had priority, in staff's words.
    pub priority_reason: Option<String>,
}

/// A queue row, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct QueueRecord {
    /// `queue.id`.
    pub id: i64,
    /// The visitor label.
    pub visitor: String,
    /// Its status.
    pub status: String,
    /// Why it is `left`, `expired` or `missed`.
    pub reason: Option<String>,
    /// The room it was given, if any.
    pub room_id: Option<i64>,
}

/// An open queue row, as the CLI lists it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct QueueRow {
    /// `queue.id`.
    pub id: i64,
    /// The visitor label.
    pub visitor: String,
    /// The nick they gave.
    pub nick: String,
    /// Their topic, if any.
    pub topic: Option<String>,
    /// `waiting` or `assigned`.
    pub status: String,
    /// Since when they wait.
    pub enqueued_at: Time,
    /// The room they were given, once assigned.
    pub room_jid: Option<String>,
}

/// The claims of one room: `staff_claimed_at, client_claimed_at`.
#[derive(Debug, FromRow)]
pub(super) struct ClaimsRow {
    staff_claimed_at: Option<Time>,
    client_claimed_at: Option<Time>,
}

impl From<ClaimsRow> for Claims {
    fn from(r: ClaimsRow) -> Claims {
        Claims {
            staff_at: r.staff_claimed_at,
            client_at: r.client_claimed_at,
        }
    }
}

/// A room with an open claim: `jid` and its claims.
#[derive(Debug, FromRow)]
pub(super) struct OpenClaimsRow {
    pub jid: String,
    #[sqlx(flatten)]
    pub claims: ClaimsRow,
}

/// The room half of an assignment made in two statements: `id, room_jid, client_claimed_at`.
#[derive(Debug, FromRow)]
pub(super) struct AssignedRoom {
    pub id: i64,
    room_jid: String,
    client_claimed_at: Time,
}

/// The visitor half of an assignment made in two statements: `queue_id, visitor, visitor_jid,
/// nick, topic, waiting_since, priority, priority_reason`.
#[derive(Debug, FromRow)]
pub(super) struct AssignedVisitor {
    queue_id: i64,
    visitor: String,
    visitor_jid: Option<String>,
    nick: String,
    topic: Option<String>,
    waiting_since: Time,
    priority: i64,
    priority_reason: Option<String>,
}

impl Assignment {
    /// The two halves together.
    pub(super) fn of(room: AssignedRoom, visitor: AssignedVisitor) -> Assignment {
        Assignment {
            queue_id: visitor.queue_id,
            visitor: visitor.visitor,
            visitor_jid: visitor.visitor_jid,
            room_jid: room.room_jid,
            client_claimed_at: room.client_claimed_at,
            nick: visitor.nick,
            topic: visitor.topic,
            waiting_since: visitor.waiting_since,
            priority: visitor.priority,
            priority_reason: visitor.priority_reason,
        }
    }
}

/// The chat a visitor label has or is about to have: `id, status, room_jid`.
#[derive(Debug, FromRow)]
pub(super) struct ChatOfVisitor {
    pub id: i64,
    pub status: String,
    pub room_jid: String,
}

/// A room's `status` column, as [`RoomRow`] reads it.
impl TryFrom<String> for Status {
    type Error = String;

    fn try_from(text: String) -> Result<Status, String> {
        Status::parse(&text).ok_or_else(|| format!("unknown status {text:?}"))
    }
}

/// A row of `handovers` with its room's JID (`sql::OPEN_HANDOVERS`, `sql::HANDOVERS`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HandoverRow {
    /// The room's JID (empty when read for one room).
    #[sqlx(default)]
    pub jid: String,
    /// Who hands over (bare JID).
    pub from_jid: String,
    /// The colleague named; `None` for the queue.
    pub to_jid: Option<String>,
    /// Who took a handover to the queue.
    pub taken_by: Option<String>,
    /// The note for the colleague.
    pub note: Option<String>,
    /// When it was offered.
    pub offered_at: Time,
    /// When it ended; `None` while open.
    #[sqlx(default)]
    pub ended_at: Option<Time>,
    /// `done`, `expired`, `declined` or `closed`; `None` while open.
    #[sqlx(default)]
    pub outcome: Option<String>,
}

/// An answer of a chat's registration (`registrations` joined to `registration_answers`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RegistrationRow {
    /// Who registered the chat (a bare JID).
    pub staff: String,
    /// The question's name.
    pub question: String,
    /// The answer; `None` once erased by retention (free text).
    pub answer: Option<String>,
    /// Kept for the reports after the transcript's bodies go.
    pub kept: bool,
}

/// A row of `feedback`: one answer about a chat, by room only.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FeedbackRow {
    /// The question's name.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// Kept for the reports after the transcript's bodies go.
    pub kept: bool,
}
