//! The bot's own XMPP protocol, as the core runs it (docs/protocol.md): the ad-hoc commands of
//! visitors and staff, the invitations that hand rooms over, the places in line pushed to waiting
//! visitors, and who is there.
//!
//! [`Protocol`] owns the protocol's state (staff on duty, rooms claimed over XMPP, the places last
//! pushed, command sessions, the supervisors' watches) and is lent the rest of the core it needs
//! as a [`Lent`]: the settings, a read-only view of the rooms and their counts, the queue, and the
//! outbox it sends and asks through. It never changes a room itself: an event for a room goes into
//! [`Lent::feed`], which the core feeds after the protocol has run.
//!
//! Each command has one home, a file of its own that owns its form, its permission check, its
//! steps, its query and its answer; [`TABLE`] names them, and [`Step`] names what a command waits
//! for. Who may run which command is decided here, from `staff.jids`, `staff.supervisors` and
//! `visitors.domains`; anyone else is refused with `forbidden` and logged on the security target.

mod ask_for_help;
mod block_visitor;
mod decline_handover;
mod feedback;
mod hand_over;
mod leave_queue;
mod line_status;
mod live_chats;
mod places;
mod presence;
mod register_chat;
mod request_chat;
mod resume_chat;
mod staff_push;
mod staff_room;
mod status;
mod supervision;
mod take_chat;
mod waiting_visitors;
mod watch_chat;
mod whisper;

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::stanza_error::DefinedCondition;

use super::effects::{Answers, Assigned, Query, QueryResult};
use super::outbox::Outbox;
use super::questions::{Kind, Problem, Question, MAX_TEXT};
use super::queue::Queue;
use super::room::Event;
use super::settings::Settings;
use super::tally::Tally;
use super::types::{Claims, Time};
use super::{Entry, Pending};
use crate::i18n::{Lang, Words};
use crate::xmpp::adhoc::{
    self, CommandReply, CommandRequest, CommandStatus, Form, FormField, Incoming, IncomingKind,
    NoteType,
};
use crate::xmpp::stanza;
use crate::xmpp::Request;

use places::Pushed;
#[cfg(test)]
pub use staff_push::SHIFT_EVERY;
pub use staff_room::StaffRoomStep;

/// The shortest visitor key accepted: 22 characters of base64 hold 128 bits.
pub const MIN_KEY_LEN: usize = 22;
/// A session may run this many commands per [`RATE_WINDOW`]; beyond, `resource-constraint`.
pub const RATE_LIMIT: u32 = 20;
/// The window of [`RATE_LIMIT`].
pub const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);
/// At most this many commands wait for the database at once; beyond, `resource-constraint`.
pub const MAX_IN_FLIGHT: usize = 1000;
/// Past this many sessions counted, windows that have ended are forgotten.
const RATE_SESSIONS: usize = 10_000;

/// The commands of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Visitors: queue for a chat.
    RequestChat,
    /// Visitors: leave the queue.
    LeaveQueue,
    /// Visitors: a new session takes up its chat with the visitor key.
    ResumeChat,
    /// Visitors: is the help line open?
    LineStatus,
    /// Staff: claim a ready room and be invited.
    TakeChat,
    /// Staff: the waiting visitors (in pick mode: take one).
    WaitingVisitors,
    /// Staff: block the visitor of one's room.
    BlockVisitor,
    /// Staff: rooms by status, the queue, staff on duty.
    Status,
    /// Staff: ask the supervisors on duty for help with a chat.
    AskForHelp,
    /// Supervisors: every chat going on.
    LiveChats,
    /// Supervisors: get each line of a chat.
    WatchChat,
    /// Supervisors: a line to the staff member of a chat, unseen by the visitor.
    Whisper,
    /// Staff: hand one's chat to a colleague on duty, or back to the queue.
    HandOver,
    /// Staff: decline a chat handed to one (or withdraw one's offer).
    DeclineHandover,
    /// Staff: register one's chat after it ended.
    RegisterChat,
    /// Visitors: answer the questions after the chat.
    Feedback,
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// JIDs on `visitors.domains`.
    Visitors,
    /// `staff.jids` (supervisors too).
    Staff,
    /// `staff.supervisors`.
    Supervisors,
}

/// The dispatch table: each command's node, its name for people, and who may run it. Its home is
/// the module of the same name.
#[rustfmt::skip]
pub const TABLE: [(Command, &str, &str, Who); 16] = [
    (Command::RequestChat,     "request-chat",     "Request a chat",         Who::Visitors),
    (Command::LeaveQueue,      "leave-queue",      "Leave the queue",        Who::Visitors),
    (Command::ResumeChat,      "resume-chat",      "Resume my chat",         Who::Visitors),
    (Command::LineStatus,      "line-status",      "Is the help line open?", Who::Visitors),
    (Command::TakeChat,        "take-chat",        "Take a chat",            Who::Staff),
    (Command::WaitingVisitors, "waiting-visitors", "Waiting visitors",       Who::Staff),
    (Command::BlockVisitor,    "block-visitor",    "Block visitor",          Who::Staff),
    (Command::Status,          "status",           "Help line status",       Who::Staff),
    (Command::AskForHelp,      "ask-for-help",     "Ask for help",           Who::Staff),
    (Command::LiveChats,       "live-chats",       "Live chats",             Who::Supervisors),
    (Command::WatchChat,       "watch-chat",       "Watch a chat",           Who::Supervisors),
    (Command::Whisper,         "whisper",          "Whisper to staff",       Who::Supervisors),
    (Command::HandOver,        "hand-over",        "Hand a chat over",       Who::Staff),
    (Command::DeclineHandover, "decline-handover", "Decline a handover",     Who::Staff),
    (Command::RegisterChat,    "register-chat",    "Register a chat",        Who::Staff),
    (Command::Feedback,        "feedback",         "Feedback",               Who::Visitors),
];

impl Command {
    fn row(self) -> &'static (Command, &'static str, &'static str, Who) {
        TABLE
            .iter()
            .find(|row| row.0 == self)
            .expect("every command is in the table")
    }

    /// Its node.
    pub fn node(self) -> &'static str {
        self.row().1
    }

    /// Its name for people.
    pub fn name(self) -> &'static str {
        self.row().2
    }

    fn parse(node: &str) -> Option<Command> {
        TABLE.iter().find(|row| row.1 == node).map(|row| row.0)
    }
}

/// What a command waits for from the database, and with what it goes on.
#[derive(Debug)]
pub enum Step {
    /// [`request_chat`]: the queue row and place; with `retry`, the answers could not be taken
    /// and only an open row of the visitor is taken up again (else the form is shown again).
    RequestChat {
        /// The request, its problem in words and the status for pages.
        retry: Option<Box<(CommandRequest, String, Option<&'static str>)>>,
    },
    /// [`leave_queue`]: whether there was a row.
    LeaveQueue,
    /// [`resume_chat`]: the room of the visitor's chat.
    ResumeChat,
    /// [`take_chat`]: the room claimed.
    TakeChat,
    /// [`waiting_visitors`]: the list (to pick from, in pick mode).
    WaitingList {
        /// Pick mode.
        pick: bool,
        /// A pick form came back without a choice.
        unpicked: bool,
    },
    /// [`waiting_visitors`]: the visitor picked was given the room.
    Pick,
    /// [`hand_over`]: the visitor's topic, for the colleague; then the handover starts.
    HandOver {
        /// The room.
        room: BareJid,
        /// The colleague; `None` for the queue.
        to: Option<BareJid>,
        /// The note.
        note: Option<String>,
    },
    /// [`block_visitor`]: the visitor of `room` is blocked.
    Block {
        /// The room.
        room: BareJid,
        /// Until when; `None` for ever.
        until: Option<Time>,
    },
    /// [`live_chats`]: the topics and starts of the chats.
    LiveChats,
    /// [`watch_chat`]: the earlier lines of `room`.
    Watch {
        /// The room.
        room: BareJid,
    },
    /// [`ask_for_help`]: the topic of the chat in `room`.
    Help {
        /// The room.
        room: BareJid,
        /// What the staff member said about it.
        text: Option<String>,
    },
    /// [`register_chat`]: the asker's ended chats, for the form or to check the one chosen.
    RegisterList {
        /// The command as asked (its submitted form, if any).
        command: CommandRequest,
    },
    /// [`register_chat`]: the registration is stored.
    Register {
        /// The asker's chats still unregistered once this one is.
        unregistered: usize,
    },
    /// [`feedback`]: the feedback is stored.
    Feedback,
}

/// Who asked a command, and where the answer goes.
#[derive(Debug)]
pub struct Ask {
    /// The asker's session.
    pub to: FullJid,
    /// The IQ's id.
    pub iq: String,
    /// The command's session id.
    pub session: String,
    /// The command.
    pub command: Command,
    /// The words of the request's language (`xml:lang`), or of the help line's default.
    pub words: Words,
}

impl Ask {
    /// Answers with `reply`.
    fn reply(
        &self,
        out: &mut Outbox,
        status: CommandStatus,
        note: Option<(NoteType, String)>,
        form: Option<Form>,
    ) {
        let reply = CommandReply {
            node: self.command.node().into(),
            session: self.session.clone(),
            status,
            note,
            form,
        };
        out.send(adhoc::command_result(&self.to, &self.iq, &reply));
    }

    /// Answers in one step: a note and a result form.
    fn done(&self, out: &mut Outbox, note: NoteType, text: &str, form: Form) {
        self.reply(
            out,
            CommandStatus::Completed,
            Some((note, text.into())),
            Some(form),
        );
    }

    /// Answers with `status` in a result form whose `status` field says how the command went.
    fn outcome(&self, out: &mut Outbox, note: NoteType, text: &str, status: &str) {
        self.done(out, note, text, self.result(status));
    }

    /// Message `key` in the asker's language.
    fn t(&self, key: &str) -> String {
        self.words.get(key)
    }

    /// A result form with its `status` field: hidden, a value for pages to branch on (the note
    /// says what happened in words for people).
    fn result(&self, status: &str) -> Form {
        self.result_form().field(status_field(status))
    }

    /// A result form for a chat the asker is invited to: `status`, the room's JID (`room`,
    /// hidden: for consoles; the invitation carries it too) and, once a visitor is known, the
    /// chat's name for people (`chat`, "Sam — exams").
    fn chat_result(&self, status: &str, room: &impl std::fmt::Display, name: Option<&str>) -> Form {
        let form =
            self.result(status)
                .field(FormField::new("room", "hidden", "", &room.to_string()));
        match name {
            Some(name) => form.value("chat", "Chat", name),
            None => form,
        }
    }

    /// A result form with nothing in it yet.
    fn result_form(&self) -> Form {
        Form::new("result", &self.title())
    }

    /// The command's name in the asker's language (visitors' commands; staff's in English).
    fn title(&self) -> String {
        match self.command.row().3 {
            Who::Visitors => self.t(self.command.node()),
            Who::Staff | Who::Supervisors => self.command.name().to_string(),
        }
    }

    /// Shows `form` to fill in, with a note when something is missing.
    fn form(&self, out: &mut Outbox, form: Form, note: Option<&str>) {
        match note {
            Some(problem) => self.retry(out, form, problem, None),
            None => self.reply(out, CommandStatus::Executing, None, Some(form)),
        }
    }

    /// Shows `form` again (`executing`, the same session) for the person to correct: `problem`
    /// as a warning note and first in its instructions (a client may show only one of them),
    /// with a hidden `status` saying why for pages that branch on it. Never an IQ error nor
    /// `completed` for something the person can fix: a generic client would hide the reason.
    fn retry(&self, out: &mut Outbox, mut form: Form, problem: &str, status: Option<&str>) {
        form.instructions = Some(match form.instructions.take() {
            Some(more) => format!("{problem}\n{more}"),
            None => problem.to_string(),
        });
        if let Some(status) = status {
            form.fields.insert(0, status_field(status));
        }
        let note = Some((NoteType::Warn, problem.to_string()));
        self.reply(out, CommandStatus::Executing, note, Some(form));
    }

    /// Refuses with an IQ error.
    fn error(&self, out: &mut Outbox, condition: DefinedCondition, text: &str) {
        let lang = self.words.tag();
        out.send(adhoc::error(&self.to, &self.iq, condition, lang, text));
    }

    /// Asks the database `query`; [`Step`] `step` goes on with its result.
    fn query(self, out: &mut Outbox, query: Query, step: Step) {
        out.query(query, Pending::Command(Waiting { ask: self, step }));
    }
}

/// A command waiting for its database query.
#[derive(Debug)]
pub struct Waiting {
    ask: Ask,
    step: Step,
}

/// A form field to fill in again, with the value that was submitted for it (if any) kept.
fn refill(field: FormField, submitted: &CommandRequest) -> FormField {
    match submitted.field(&field.var) {
        Some(value) => FormField {
            values: vec![value.to_string()],
            ..field
        },
        None => field,
    }
}

/// The answers to `questions` in `command`: (question, answer, kept) for those answered, or the
/// problem in `words` (the asker's) with the status for pages. Free text is never kept past the
/// transcript's bodies; choices and yes or no are (the reports count them).
fn question_answers(
    questions: &[Question],
    command: &CommandRequest,
    words: &Words,
    default: &str,
) -> Result<Answers, (String, Option<&'static str>)> {
    let mut answers = Vec::new();
    for q in questions {
        let label = q.label.get(words.tag(), default).to_string();
        match q.check(command.field(&q.field_var())) {
            Ok(Some(answer)) => answers.push((q.var.clone(), answer, q.kind != Kind::Text)),
            Ok(None) => {}
            Err(Problem::Missing) => {
                return Err((
                    words.with("form-need-answer", &[("question", label.into())]),
                    None,
                ))
            }
            Err(Problem::NotAnOption) => {
                return Err((
                    words.with("form-not-an-option", &[("question", label.into())]),
                    None,
                ))
            }
            Err(Problem::TooLong) => {
                let args = [("question", label.into()), ("max", MAX_TEXT.into())];
                return Err((words.with("too-long-answer", &args), Some("too-long")));
            }
        }
    }
    Ok(answers)
}

/// The machine `status` field of a result: hidden from people, read by pages by its `var`.
fn status_field(status: &str) -> FormField {
    FormField::new("status", "hidden", "", status)
}

/// How staff name a visitor's chat, everywhere: "Sam — exams", or "Sam" without a topic. The
/// nick and topic the visitor gave, nothing else (never a JID, label or key).
pub fn chat_name(nick: &str, topic: Option<&str>) -> String {
    match topic.map(str::trim).filter(|t| !t.is_empty()) {
        Some(topic) => format!("{nick} — {topic}"),
        None => nick.to_string(),
    }
}

/// A time for people: the help line's local time (`[hours].timezone`), else UTC said so;
/// "14:02" today, "Mon 15 Jan 14:02" on another day.
pub fn clock(settings: &Settings, now: Time, t: Time) -> String {
    fn local<Z: chrono::TimeZone>(zone: &Z, now: Time, t: Time) -> String
    where
        Z::Offset: std::fmt::Display,
    {
        let (now, t) = (now.with_timezone(zone), t.with_timezone(zone));
        if now.date_naive() == t.date_naive() {
            t.format("%H:%M").to_string()
        } else {
            t.format("%a %-d %b %H:%M").to_string()
        }
    }
    match settings.hours.as_ref() {
        Some(hours) => local(&hours.zone(), now, t),
        None => format!("{} UTC", local(&chrono::Utc, now, t)),
    }
}

/// How long since `t`, for people: "less than a minute", "4 min", "2 h 5 min".
pub fn how_long(now: Time, t: Time) -> String {
    let minutes = (now - t).num_minutes().max(0);
    match minutes {
        0 => "less than a minute".to_string(),
        1..=59 => format!("{minutes} min"),
        _ if minutes % 60 == 0 => format!("{} h", minutes / 60),
        _ => format!("{} h {} min", minutes / 60, minutes % 60),
    }
}

/// A wait or a chat's length for people, relative and local: "4 min, since 14:02".
pub fn since(settings: &Settings, now: Time, t: Time) -> String {
    format!("{}, since {}", how_long(now, t), clock(settings, now, t))
}

/// True when `command` carries a submitted form (not a first `execute` without one).
fn submitted(command: &CommandRequest) -> bool {
    command.fields.is_some()
}

/// What the protocol borrows from the rest of the core for one input.
pub struct Lent<'a> {
    /// The settings.
    pub settings: &'a Settings,
    /// Every live room (read-only).
    pub rooms: &'a HashMap<BareJid, Entry>,
    /// The rooms' counts.
    pub tally: &'a Tally,
    /// The waiting queue as the bot runs it.
    pub queue: &'a mut Queue,
    /// Where stanzas, queries and writes go.
    pub out: &'a mut Outbox,
    /// Events for rooms, fed by the core once the protocol has run.
    pub feed: Vec<(BareJid, Event)>,
    /// The bot is inside the staff room (`staff.room`) and may post there.
    pub staff_room: bool,
    /// The time.
    pub now: Time,
}

impl Lent<'_> {
    /// Sends `to` an invitation to `room` with its password; false when the bot does not follow
    /// the room.
    fn invite(&mut self, to: &FullJid, room: &BareJid, reason: &str) -> bool {
        let Some(entry) = self.rooms.get(room) else {
            return false;
        };
        self.out
            .send(adhoc::invitation(to, room, &entry.password, reason));
        true
    }

    /// The room reads its claims from the database (a claim was just made for it).
    fn check_claims(&mut self, room: &BareJid) {
        if self.rooms.contains_key(room) {
            super::check_claims(self.out, room);
        }
    }
}

/// The protocol's own state. See the module documentation.
#[derive(Debug, Default)]
pub struct Protocol {
    /// Sessions of staff members who told the bot they are there (directed presence).
    staff_present: HashSet<FullJid>,
    /// Rooms claimed with "take a chat" whose staff member has not joined yet: room → bare JID.
    staff_claims: HashMap<BareJid, String>,
    /// Waiting visitors over XMPP (`queue.id`) → the place they last heard.
    pushed: HashMap<i64, Pushed>,
    /// When visitors were given a room within the pace window, as of the last sweep.
    pace: Vec<Time>,
    /// After a new session: ping the waiting visitors once.
    probe: bool,
    /// When the places were last read.
    places_read: Option<Time>,
    /// Command sessions started.
    sessions: u64,
    /// The closing time the waiting visitors were last told of.
    closing_told: Option<Time>,
    /// Commands per session in the current window: when it started, how many.
    rate: HashMap<FullJid, (Time, u32)>,
    /// The language of the visitor invited to each live room (their last request's), for the
    /// words they get there: at most one entry per live room.
    room_lang: HashMap<BareJid, Lang>,
    /// The pushes to staff on duty ([`staff_push`]).
    shift: staff_push::Shift,
    /// The staff room ([`staff_room`]).
    staff_room: staff_room::StaffRoom,
    /// Supervisors' sessions watching chats ([`supervision`]).
    watches: supervision::Watches,
}

impl Protocol {
    /// The words for the visitor of `room` (the language of their last request), or the help
    /// line's default for a room whose visitor the bot did not invite.
    pub fn visitor_words(&self, room: &BareJid, settings: &Settings) -> Words {
        let catalogs = &settings.catalogs;
        let lang = self.room_lang.get(room).copied();
        Words::new(catalogs, lang.unwrap_or(catalogs.default_lang()))
    }

    /// Remembers that the visitor of `room` speaks `lang`; rooms gone are forgotten.
    fn room_speaks(&mut self, room: &BareJid, lang: Lang, lent: &Lent) {
        self.room_lang.retain(|r, _| lent.rooms.contains_key(r));
        self.room_lang.insert(room.clone(), lang);
    }

    /// Staff members on duty: those who told the bot they are there, those in a staffed or
    /// busy room, and those in the staff room.
    pub fn staff_on_duty(&self, tally: &Tally) -> usize {
        let mut on_duty: HashSet<String> = self
            .staff_present
            .iter()
            .map(|j| j.to_bare().to_string())
            .collect();
        on_duty.extend(tally.staff_rooms.keys().cloned());
        on_duty.extend(self.staff_room_on_duty().cloned());
        on_duty.len()
    }

    /// True when session `from` may run one more command now: at most [`RATE_LIMIT`] per
    /// [`RATE_WINDOW`] each, and [`MAX_IN_FLIGHT`] waiting for the database in all. What the bot
    /// holds for strangers stays bounded: past [`RATE_SESSIONS`] sessions, ended windows go.
    fn within_limits(&mut self, from: &FullJid, lent: &Lent) -> bool {
        let now = lent.now;
        let window = chrono::Duration::from_std(RATE_WINDOW).unwrap_or_default();
        if self.rate.len() >= RATE_SESSIONS {
            self.rate.retain(|_, (start, _)| now - *start < window);
        }
        let (start, count) = self.rate.entry(from.clone()).or_insert((now, 0));
        if now - *start >= window {
            (*start, *count) = (now, 0);
        }
        *count += 1;
        *count <= RATE_LIMIT && lent.out.count(|p| matches!(p, Pending::Command(_))) < MAX_IN_FLIGHT
    }

    /// A command, or the list of commands, asked of the bot. It is answered in the command's
    /// language (`xml:lang`), or else the help line's default.
    pub fn on_request(&mut self, request: Incoming, lent: &mut Lent) {
        let requested = match &request.kind {
            IncomingKind::Command(command) => command.lang.as_deref(),
            IncomingKind::ListCommands => None,
        };
        let words = Words::choose(&lent.settings.catalogs, requested);
        let refuse = |condition, key: &str| {
            adhoc::error(
                &request.from,
                &request.id,
                condition,
                words.tag(),
                &words.get(key),
            )
        };
        if !self.within_limits(&request.from, lent) {
            tracing::debug!(target: "helpim_bot::security", "refusing a command over the rate limit");
            return lent
                .out
                .send(refuse(DefinedCondition::ResourceConstraint, "error-rate"));
        }
        let bare = request.from.to_bare().to_string();
        let staff = &lent.settings.staff;
        let may = |who: Who| match who {
            Who::Staff => staff.allows(&bare) || staff.supervises(&bare),
            Who::Supervisors => staff.supervises(&bare),
            Who::Visitors => lent.settings.visitors.allows(&bare),
        };
        let command = match request.kind {
            IncomingKind::ListCommands => {
                let list: Vec<(&str, &str)> = TABLE
                    .iter()
                    .filter(|row| may(row.3))
                    .map(|row| (row.1, row.2))
                    .collect();
                // The session asked is the one that runs the commands; a request without a full
                // `to` (never from a server) gets the bare JID, the best the bot knows.
                let bot = request
                    .to
                    .clone()
                    .map_or_else(|| Jid::from(lent.settings.owner.clone()), Jid::from);
                return lent
                    .out
                    .send(adhoc::command_list(&request.from, &request.id, &bot, &list));
            }
            IncomingKind::Command(command) => command,
        };
        let Some(which) = Command::parse(&command.node) else {
            return lent
                .out
                .send(refuse(DefinedCondition::ItemNotFound, "error-no-command"));
        };
        if !may(which.row().3) {
            tracing::warn!(target: "helpim_bot::security", domain = %request.from.domain(), command = which.node(), "refusing a command to someone who may not use it");
            tracing::debug!(target: "helpim_bot::security", from = %request.from, "the one refused");
            return lent
                .out
                .send(refuse(DefinedCondition::Forbidden, "error-forbidden"));
        }
        let session = command.session.clone().unwrap_or_else(|| {
            self.sessions += 1;
            format!("hc{}", self.sessions)
        });
        let ask = Ask {
            to: request.from,
            iq: request.id,
            session,
            command: which,
            words,
        };
        if command.action == "cancel" {
            return ask.reply(lent.out, CommandStatus::Canceled, None, None);
        }
        match which {
            Command::RequestChat => request_chat::start(self, ask, &command, lent),
            Command::LeaveQueue => leave_queue::start(ask, lent),
            Command::ResumeChat => resume_chat::start(ask, &command, lent),
            Command::LineStatus => line_status::start(self, ask, lent),
            Command::TakeChat => take_chat::start(self, ask, lent),
            Command::WaitingVisitors => waiting_visitors::start(ask, &command, lent),
            Command::BlockVisitor => block_visitor::start(ask, &command, lent),
            Command::Status => status::start(self, ask, lent),
            Command::AskForHelp => ask_for_help::start(ask, &command, lent),
            Command::LiveChats => live_chats::start(ask, lent),
            Command::WatchChat => watch_chat::start(self, ask, &command, lent),
            Command::Whisper => whisper::start(ask, &command, lent),
            Command::HandOver => hand_over::start(self, ask, &command, lent),
            Command::DeclineHandover => decline_handover::start(ask, &command, lent),
            Command::RegisterChat => register_chat::start(ask, &command, lent),
            Command::Feedback => feedback::start(ask, &command, lent),
        }
    }

    /// The database result a command waited for.
    pub fn answered(
        &mut self,
        waiting: Waiting,
        result: Result<QueryResult, String>,
        lent: &mut Lent,
    ) {
        let Waiting { ask, step } = waiting;
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(command = ask.command.node(), error = %e, "a command's database work failed");
                match step {
                    // Asking for help does not wait for the topic: the supervisors are alerted.
                    Step::Help { room, text } => {
                        return ask_for_help::asked(self, ask, room, text, None, lent)
                    }
                    // A watch whose earlier lines cannot be read has not begun.
                    Step::Watch { room } => {
                        self.watches.stop(&ask.to, &room);
                    }
                    _ => {}
                }
                let text = ask.t("error-internal");
                return ask.error(lent.out, DefinedCondition::InternalServerError, &text);
            }
        };
        match (step, result) {
            (Step::RequestChat { retry }, QueryResult::Enqueued(queued, position)) => {
                request_chat::answered(self, ask, queued, position, retry, lent)
            }
            (Step::LeaveQueue, QueryResult::Left(left)) => leave_queue::answered(ask, left, lent),
            (Step::ResumeChat, QueryResult::Room(room)) => {
                resume_chat::answered(self, ask, room, lent)
            }
            (Step::TakeChat, QueryResult::Room(room)) => take_chat::answered(self, ask, room, lent),
            (Step::WaitingList { pick, unpicked }, QueryResult::WaitingList(list)) => {
                waiting_visitors::listed(ask, pick, unpicked, &list, lent)
            }
            (Step::Pick, QueryResult::Assigned(assigned)) => {
                waiting_visitors::picked(self, ask, assigned, lent)
            }
            (Step::HandOver { room, to, note }, QueryResult::Topic(topic)) => {
                hand_over::answered(self, ask, room, to, note, topic, lent)
            }
            (Step::Block { room, until }, QueryResult::Blocked(label)) => {
                block_visitor::answered(self, ask, room, until, label, lent)
            }
            (Step::LiveChats, QueryResult::LiveChats(chats)) => {
                live_chats::listed(ask, &chats, lent)
            }
            (Step::Watch { room }, QueryResult::Transcript(lines)) => {
                watch_chat::read(self, ask, room, &lines, lent)
            }
            (Step::Help { room, text }, QueryResult::LiveChats(chats)) => {
                ask_for_help::asked(self, ask, room, text, Some(chats), lent)
            }
            (Step::RegisterList { command }, QueryResult::EndedChats(chats)) => {
                register_chat::listed(ask, command, &chats, lent)
            }
            (Step::Register { unregistered }, QueryResult::Stored(stored)) => {
                register_chat::registered(ask, stored, unregistered, lent)
            }
            (Step::Feedback, QueryResult::Stored(stored)) => feedback::stored(ask, stored, lent),
            (step, other) => {
                tracing::error!(
                    ?step,
                    result = crate::core::variant(&other),
                    "a command got the wrong database result"
                );
                let text = ask.t("error-wrong");
                ask.error(lent.out, DefinedCondition::InternalServerError, &text);
            }
        }
    }

    /// A waiting visitor got a room: the room learns the new client claim, and a visitor over
    /// XMPP is invited, in the language of their last request.
    pub fn hand_over(&mut self, a: &Assigned, lent: &mut Lent) {
        self.shift_taken(a.queue_id);
        let catalogs = &lent.settings.catalogs;
        let lang = self
            .pushed
            .remove(&a.queue_id)
            .map_or(catalogs.default_lang(), |p| p.lang);
        let words = Words::new(catalogs, lang);
        let Ok(room) = BareJid::new(&a.room) else {
            return;
        };
        let Some(entry) = lent.rooms.get(&room) else {
            return;
        };
        let claims = Claims {
            staff_at: entry.room.claims().staff_at,
            client_at: Some(a.client_claimed_at),
        };
        lent.feed.push((room.clone(), Event::Claims(claims)));
        // The room is named for whose chat it is, in the staff member's client too: its subject
        // (each room holds one chat, and is destroyed after it).
        let name = chat_name(&a.nick, a.topic.as_deref());
        lent.out.send(stanza::room_subject(&room, &name));
        // The staff member learns who is coming and why at once, whether or not a push ever
        // listed the visitor: their sessions on duty, else their bare JID.
        if let Some(staff) = entry.room.staff_jid().map(str::to_string) {
            let sessions = self.sessions_of(&staff);
            let to: Vec<Jid> = if sessions.is_empty() {
                BareJid::new(&staff).map(Jid::from).into_iter().collect()
            } else {
                sessions.into_iter().map(Jid::from).collect()
            };
            let default = request_chat::default_words(lent.settings);
            let answers: Vec<(String, String, String)> = a
                .answers
                .iter()
                .filter_map(|(q, answer)| {
                    let (label, said) =
                        request_chat::answer_words(&lent.settings.questions, q, answer, &default)?;
                    Some((q.clone(), label, said))
                })
                .collect();
            for jid in to {
                lent.out
                    .send(staff_push::visitor_coming(jid, room.as_str(), a, &answers));
            }
        }
        if let Some(jid) = a.visitor_jid.as_deref().and_then(|j| FullJid::new(j).ok()) {
            if lent.invite(&jid, &room, &words.get("invite-ready")) {
                self.room_speaks(&room, words.lang(), lent);
            }
        }
    }
}

/// Posts `text` in the staff room (`staff.room`) as a groupchat message, when there is one and
/// the bot is inside; otherwise nothing (the staff room is an extra, never the only way staff
/// hear of something).
pub(super) fn announce_to_staff(lent: &mut Lent, text: &str) {
    let Some(room) = lent.settings.staff.room.as_ref() else {
        return;
    };
    if !lent.staff_room {
        tracing::debug!(room = %room, "the bot is not inside the staff room: not posted");
        return;
    }
    lent.out.send(staff_room::post(room, text));
}

/// The visitor label of a visitor key: its SHA-256, so that the key itself is never stored.
pub fn visitor_label(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Staffed rooms a waiting visitor is about to be given (auto mode): the first this many in
/// line hear that a counsellor is about to join them.
fn free_rooms(lent: &Lent) -> usize {
    if lent.settings.queue_auto {
        lent.tally.free_rooms()
    } else {
        0
    }
}

/// Pings `jid`, to learn whether that session is still there ([`Pending::PresenceProbe`]).
fn probe(out: &mut Outbox, jid: FullJid) {
    out.request(
        Request::iq(stanza::ping(jid.clone().into())),
        Pending::PresenceProbe(jid),
    );
}
