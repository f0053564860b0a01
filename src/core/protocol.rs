//! The bot's own XMPP protocol, as the core runs it (docs/protocol.md): the ad-hoc commands of
//! visitors (request a chat, leave the queue, resume my chat) and staff (take a chat, waiting
//! visitors, block visitor, help line status), the invitations that hand rooms over, the places
//! in line pushed to waiting visitors, and who is there: staff members on duty, and visitors
//! whose session ends (directed presence) leaving the queue at once.
//!
//! Who may do what is decided here, from `staff.jids` and `visitors.domains`; anyone else is
//! refused with `forbidden` and logged on the security target. The database work of a command
//! is an [`Effect::Read`] like any other, and the command is answered when its result comes.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sha2::{Digest, Sha256};
use xmpp_parsers::jid::{BareJid, FullJid};
use xmpp_parsers::stanza_error::DefinedCondition;

use super::effects::Write;
use super::queue::PACE_WINDOW_SECS;
use super::room::Event;
use super::types::{Status, Time};
use super::{chrono_of, Assigned, Core, Pending, Query, QueryResult, Waiter};
use crate::xmpp::adhoc::{
    self, CommandReply, CommandRequest, CommandStatus, Form, FormField, Incoming, IncomingKind,
    NoteType,
};
use crate::xmpp::stanza::{self, PresenceKind, RoomPresence};
use crate::xmpp::Request;

/// A waiting visitor hears of a new place at most this often.
pub const PUSH_EVERY: Duration = Duration::from_secs(5);
/// Beyond this place, a visitor hears of a move only when it is a tenth of their place or more
/// (or after [`PUSH_QUIET`]): a queue of thousands costs little per assignment.
pub const PUSH_NEAR: i64 = 20;
/// A waiting visitor far back in line hears of their place at least this often when it changes.
pub const PUSH_QUIET: Duration = Duration::from_secs(60);
/// The shortest visitor key accepted: 22 characters of base64 hold 128 bits.
pub const MIN_KEY_LEN: usize = 22;
/// The longest nick and topic accepted.
const MAX_NICK: usize = 64;
const MAX_TOPIC: usize = 300;
/// What "take a chat" answers when no room can be handed out just now.
const NO_ROOM_READY: &str = "No room is ready just now; please try again in a moment.";

/// The commands of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Visitors: queue for a chat.
    RequestChat,
    /// Visitors: leave the queue.
    LeaveQueue,
    /// Visitors: a new session takes up its chat with the visitor key.
    ResumeChat,
    /// Staff: claim a ready room and be invited.
    TakeChat,
    /// Staff: the waiting visitors (in pick mode: take one).
    WaitingVisitors,
    /// Staff: block the visitor of one's room.
    BlockVisitor,
    /// Staff: rooms by status, the queue, staff on duty.
    Status,
}

impl Command {
    /// Every command, visitors' first.
    pub const ALL: [Command; 7] = [
        Command::RequestChat,
        Command::LeaveQueue,
        Command::ResumeChat,
        Command::TakeChat,
        Command::WaitingVisitors,
        Command::BlockVisitor,
        Command::Status,
    ];

    /// Its node.
    pub fn node(self) -> &'static str {
        match self {
            Command::RequestChat => "request-chat",
            Command::LeaveQueue => "leave-queue",
            Command::ResumeChat => "resume-chat",
            Command::TakeChat => "take-chat",
            Command::WaitingVisitors => "waiting-visitors",
            Command::BlockVisitor => "block-visitor",
            Command::Status => "status",
        }
    }

    /// Its name for people.
    pub fn name(self) -> &'static str {
        match self {
            Command::RequestChat => "Request a chat",
            Command::LeaveQueue => "Leave the queue",
            Command::ResumeChat => "Resume my chat",
            Command::TakeChat => "Take a chat",
            Command::WaitingVisitors => "Waiting visitors",
            Command::BlockVisitor => "Block visitor",
            Command::Status => "Help line status",
        }
    }

    /// True for the visitors' commands, false for the staff's.
    pub fn for_visitors(self) -> bool {
        matches!(
            self,
            Command::RequestChat | Command::LeaveQueue | Command::ResumeChat
        )
    }

    fn parse(node: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.node() == node)
    }
}

/// The visitor label of a visitor key: its SHA-256, so that the key itself is never stored.
pub fn visitor_label(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The claim label of a staff member who took a chat over XMPP.
fn staff_label(bare: &str) -> String {
    format!("xmpp:{bare}")
}

/// A command waiting for its database read, and whom to answer.
#[derive(Debug)]
pub struct Question {
    to: FullJid,
    iq: String,
    session: String,
    step: Step,
}

/// What a command waits for.
#[derive(Debug)]
enum Step {
    Enqueue,
    Leave,
    Resume,
    Take,
    Waiting { pick: bool },
    Pick,
    Block { room: BareJid },
}

impl Step {
    fn command(&self) -> Command {
        match self {
            Step::Enqueue => Command::RequestChat,
            Step::Leave => Command::LeaveQueue,
            Step::Resume => Command::ResumeChat,
            Step::Take => Command::TakeChat,
            Step::Waiting { .. } | Step::Pick => Command::WaitingVisitors,
            Step::Block { .. } => Command::BlockVisitor,
        }
    }
}

/// The last place pushed to a waiting visitor.
#[derive(Debug, Clone, Copy)]
struct Pushed {
    position: i64,
    at: Time,
}

/// Who the bot knows over XMPP.
#[derive(Debug, Default)]
pub struct People {
    /// Sessions of staff members who told the bot they are there (directed presence).
    staff_present: HashSet<FullJid>,
    /// Rooms claimed with "take a chat" whose staff member has not joined yet: room → bare JID.
    staff_claims: HashMap<BareJid, String>,
    /// Waiting visitors over XMPP (`queue.id`) → the place they last heard.
    pushed: HashMap<i64, Pushed>,
    /// Visitors given a room in the last half hour, as of the last sweep.
    pace: i64,
    /// After a new session: ping the waiting visitors once.
    probe: bool,
    /// When the places were last read.
    places_read: Option<Time>,
    /// Command sessions started.
    sessions: u64,
}

impl People {
    /// The next sweep's waiting visitors over XMPP are pinged (their end may have gone unseen).
    pub fn probe_after_next_sweep(&mut self) {
        self.probe = true;
    }

    /// True when the next sweep should read the places (and it is then counted as read): at
    /// most every [`PUSH_EVERY`], and at once when the visitors are to be probed.
    pub fn places_due(&mut self, now: Time) -> bool {
        let due = self.probe
            || self
                .places_read
                .is_none_or(|t| (now - t).to_std().unwrap_or_default() >= PUSH_EVERY);
        if due {
            self.places_read = Some(now);
        }
        due
    }

    /// The estimated wait, in seconds, of place `position`; none without a recent pace.
    fn estimate(&self, position: i64) -> Option<i64> {
        (self.pace > 0).then(|| position * PACE_WINDOW_SECS / self.pace)
    }
}

/// A reply in one step.
fn done(command: Command, session: String, note: NoteType, text: &str, form: Form) -> CommandReply {
    CommandReply {
        node: command.node().into(),
        session,
        status: CommandStatus::Completed,
        note: Some((note, text.into())),
        form: Some(form),
    }
}

/// A result form whose `status` field says how the command went.
fn outcome(command: Command, status: &str) -> Form {
    Form::new("result", command.name()).value("status", "Status", status)
}

impl Core {
    /// Staff members on duty: those who told the bot they are there, and those in a staffed or
    /// busy room.
    pub fn staff_on_duty(&self) -> usize {
        let mut on_duty: HashSet<String> = self
            .people
            .staff_present
            .iter()
            .map(|j| j.to_bare().to_string())
            .collect();
        on_duty.extend(self.tally.staff_rooms.keys().cloned());
        on_duty.len()
    }

    /// A presence someone sent to the bot itself: staff come on and off duty; a visitor whose
    /// session ended leaves the queue at once.
    pub(super) fn on_direct_presence(&mut self, p: RoomPresence) {
        let Ok(full) = p.room.with_resource_str(&p.nick) else {
            return;
        };
        let bare = p.room.to_string();
        match p.kind {
            PresenceKind::Available => {
                if self.settings.staff.allows(&bare) && self.people.staff_present.insert(full) {
                    tracing::info!(staff = %bare, "a staff member is on duty");
                }
            }
            PresenceKind::Unavailable => {
                if self.people.staff_present.remove(&full) {
                    tracing::info!(staff = %bare, "a staff member's session went off duty");
                }
                if self.settings.visitors.allows(&bare) {
                    self.out.write(Write::VisitorGone {
                        visitor: full.to_string(),
                    });
                }
            }
            PresenceKind::Error(_) => {}
        }
    }

    /// After a new session: each staff session present before is pinged; one that bounces is gone.
    pub(super) fn probe_staff(&mut self) {
        let present: Vec<FullJid> = self.people.staff_present.iter().cloned().collect();
        for jid in present {
            self.out.request(
                Request::iq(stanza::ping(jid.clone().into())),
                Pending::PresenceProbe(jid),
            );
        }
    }

    /// A probed session bounced: a staff member is off duty, a waiting visitor has left.
    pub(super) fn session_gone(&mut self, jid: &FullJid, condition: &str) {
        if self.people.staff_present.remove(jid) {
            tracing::info!(staff = %jid, %condition, "a staff member's session is gone");
        } else {
            tracing::info!(visitor = %jid, %condition, "a waiting visitor's session is gone");
            self.out.write(Write::VisitorGone {
                visitor: jid.to_string(),
            });
        }
    }

    /// A command, or the list of commands, asked of the bot.
    pub(super) fn on_request(&mut self, request: Incoming, now: Time) {
        let bare = request.from.to_bare().to_string();
        let staff = self.settings.staff.allows(&bare);
        let visitor = self.settings.visitors.allows(&bare);
        let command = match request.kind {
            IncomingKind::ListCommands => {
                let list: Vec<(&str, &str)> = Command::ALL
                    .into_iter()
                    .filter(|c| if c.for_visitors() { visitor } else { staff })
                    .map(|c| (c.node(), c.name()))
                    .collect();
                let iq =
                    adhoc::command_list(&request.from, &request.id, &self.settings.owner, &list);
                return self.send(iq);
            }
            IncomingKind::Command(command) => command,
        };
        let Some(which) = Command::parse(&command.node) else {
            let iq = adhoc::error(
                &request.from,
                &request.id,
                DefinedCondition::ItemNotFound,
                "No such command.",
            );
            return self.send(iq);
        };
        if !(if which.for_visitors() { visitor } else { staff }) {
            tracing::warn!(target: "helpim_bot::security", from = %request.from, command = which.node(), "refusing a command to someone who may not use it");
            let iq = adhoc::error(
                &request.from,
                &request.id,
                DefinedCondition::Forbidden,
                "You may not use this command.",
            );
            return self.send(iq);
        }
        let session = command.session.clone().unwrap_or_else(|| {
            self.people.sessions += 1;
            format!("hc{}", self.people.sessions)
        });
        let question = Question {
            to: request.from,
            iq: request.id,
            session,
            step: Step::Leave,
        };
        if command.action == "cancel" {
            let reply = CommandReply {
                node: which.node().into(),
                session: question.session.clone(),
                status: CommandStatus::Canceled,
                note: None,
                form: None,
            };
            return self.reply(&question, &reply);
        }
        match which {
            Command::RequestChat => self.request_chat(question, &command),
            Command::LeaveQueue => {
                let jid = question.to.to_string();
                self.ask(question, Step::Leave, Query::LeaveQueue(jid));
            }
            Command::ResumeChat => match command.field("key") {
                Some(key) => {
                    let read = Query::Resume {
                        label: visitor_label(key),
                        jid: question.to.to_string(),
                    };
                    self.ask(question, Step::Resume, read);
                }
                None => {
                    let form = Form::new("form", which.name())
                        .field(FormField::new("key", "text-private", "Visitor key", "").required());
                    self.executing(&question, which, form);
                }
            },
            Command::TakeChat => self.take_chat(question, &bare),
            Command::WaitingVisitors => match command.field("visitor") {
                Some(id) if !self.settings.queue_auto => self.pick(question, &bare, id),
                _ => {
                    let pick = !self.settings.queue_auto;
                    self.ask(question, Step::Waiting { pick }, Query::WaitingList);
                }
            },
            Command::BlockVisitor => self.block_visitor(question, &bare, &command, now),
            Command::Status => {
                let reply = self.status_reply(question.session.clone(), now);
                self.reply(&question, &reply);
            }
        }
    }

    fn request_chat(&mut self, question: Question, command: &CommandRequest) {
        let which = Command::RequestChat;
        let Some(nick) = command.field("nick") else {
            let mut form = Form::new("form", which.name())
                .field(FormField::new("nick", "text-single", "Your name (any name)", "").required())
                .field(FormField::new(
                    "topic",
                    "text-single",
                    "What would you like to talk about?",
                    "",
                ))
                .field(FormField::new("key", "hidden", "", ""));
            form.instructions =
                Some("A staff member will chat with you as soon as one is free.".into());
            return self.executing(&question, which, form);
        };
        let key = command.field("key");
        let topic = command.field("topic");
        let invalid = if nick.chars().count() > MAX_NICK {
            Some("The name is too long.")
        } else if topic.is_some_and(|t| t.chars().count() > MAX_TOPIC) {
            Some("The topic is too long.")
        } else if key.is_some_and(|k| k.len() < MIN_KEY_LEN) {
            Some("The visitor key is too short (at least 128 bits).")
        } else {
            None
        };
        if let Some(text) = invalid {
            let iq = adhoc::error(
                &question.to,
                &question.iq,
                DefinedCondition::BadRequest,
                text,
            );
            return self.send(iq);
        }
        if self.staff_on_duty() == 0 {
            let reply = done(
                which,
                question.session.clone(),
                NoteType::Warn,
                "The help line is closed: nobody is on duty right now. Please try again later.",
                outcome(which, "closed"),
            );
            return self.reply(&question, &reply);
        }
        // Without a key the visitor cannot resume or be told apart later; their session is the
        // label then (still hashed: a JID is about a person too).
        let label = visitor_label(key.unwrap_or(&question.to.to_string()));
        let read = Query::Enqueue {
            label,
            jid: question.to.to_string(),
            nick: nick.to_string(),
            topic: topic.map(str::to_string),
            max_length: self.settings.max_length,
        };
        self.ask(question, Step::Enqueue, read);
    }

    fn take_chat(&mut self, question: Question, bare: &str) {
        let which = Command::TakeChat;
        let open =
            self.tally.staff_rooms.get(bare).copied().unwrap_or(0) + self.staff_claims_of(bare);
        if open >= self.settings.staff.max_chats as usize {
            let text = format!(
                "You have {open} open chats, the most one staff member may hold (staff.max_chats)."
            );
            let reply = done(
                which,
                question.session.clone(),
                NoteType::Warn,
                &text,
                outcome(which, "limit"),
            );
            return self.reply(&question, &reply);
        }
        if self.tally.counts.ready_rejoining > 0 {
            // The statement claims the database's oldest available room, which may be one the
            // bot is not back inside yet — gone, if the server restarted. Rejoins take seconds.
            let reply = done(
                which,
                question.session.clone(),
                NoteType::Warn,
                NO_ROOM_READY,
                outcome(which, "none"),
            );
            return self.reply(&question, &reply);
        }
        self.ask(question, Step::Take, Query::TakeChat(staff_label(bare)));
    }

    /// Rooms claimed by `bare` with "take a chat" that are still waiting for them.
    fn staff_claims_of(&mut self, bare: &str) -> usize {
        let rooms = &self.rooms;
        self.people.staff_claims.retain(|room, _| {
            rooms
                .get(room)
                .is_some_and(|e| e.room.status() == Status::Available)
        });
        self.people
            .staff_claims
            .values()
            .filter(|b| *b == bare)
            .count()
    }

    /// The rooms `bare` is the staff member of, with their client's nick.
    fn rooms_of(&self, bare: &str, statuses: &[Status]) -> Vec<(BareJid, Option<String>)> {
        let mut rooms: Vec<_> = self
            .rooms
            .iter()
            .filter(|(_, e)| {
                statuses.contains(&e.room.status()) && e.room.staff_jid() == Some(bare)
            })
            .map(|(jid, e)| (jid.clone(), e.room.client_nick().map(str::to_string)))
            .collect();
        rooms.sort_by(|a, b| a.0.cmp(&b.0));
        rooms
    }

    fn pick(&mut self, question: Question, bare: &str, id: &str) {
        let which = Command::WaitingVisitors;
        let Ok(queue_id) = id.parse::<i64>() else {
            let iq = adhoc::error(
                &question.to,
                &question.iq,
                DefinedCondition::BadRequest,
                "No such visitor.",
            );
            return self.send(iq);
        };
        let room = self
            .rooms
            .iter()
            .filter(|(_, e)| {
                e.inside
                    && e.room.status() == Status::Staffed
                    && e.room.staff_jid() == Some(bare)
                    && e.room.claims().client_at.is_none()
            })
            .map(|(jid, _)| jid.clone())
            .min();
        let Some(room) = room else {
            let reply = done(
                which,
                question.session.clone(),
                NoteType::Warn,
                "Take a chat first: the visitor you pick joins your open room.",
                outcome(which, "no-room"),
            );
            return self.reply(&question, &reply);
        };
        let read = Query::Pick {
            room: room.to_string(),
            queue_id,
        };
        self.ask(question, Step::Pick, read);
    }

    fn block_visitor(
        &mut self,
        question: Question,
        bare: &str,
        command: &CommandRequest,
        now: Time,
    ) {
        let which = Command::BlockVisitor;
        let rooms = self.rooms_of(bare, &[Status::Staffed, Status::Busy, Status::Closing]);
        let chosen = command
            .field("room")
            .map(str::to_string)
            .or_else(|| (rooms.len() == 1).then(|| rooms[0].0.to_string()));
        let (Some(room), Some(reason)) = (chosen, command.field("reason")) else {
            if rooms.is_empty() {
                let reply = done(
                    which,
                    question.session.clone(),
                    NoteType::Warn,
                    "You are in no chat.",
                    outcome(which, "no-room"),
                );
                return self.reply(&question, &reply);
            }
            let options = rooms
                .iter()
                .map(|(jid, nick)| {
                    let label = format!("{} ({jid})", nick.as_deref().unwrap_or("no visitor yet"));
                    (label, jid.to_string())
                })
                .collect();
            let form = Form::new("form", which.name())
                .field(
                    FormField::new("room", "list-single", "Chat", "")
                        .options(options)
                        .required(),
                )
                .field(FormField::new("reason", "text-single", "Reason", "").required())
                .field(FormField::new(
                    "duration",
                    "text-single",
                    "For how long (e.g. 1h, 7d; \"forever\")",
                    "1d",
                ));
            return self.executing(&question, which, form);
        };
        let Some(room) = rooms
            .iter()
            .map(|(jid, _)| jid.clone())
            .find(|jid| jid.to_string() == room)
        else {
            tracing::warn!(target: "helpim_bot::security", from = %question.to, room = %room, "refusing to block the visitor of a room the staff member is not in");
            let iq = adhoc::error(
                &question.to,
                &question.iq,
                DefinedCondition::Forbidden,
                "You can only block the visitor of a chat you are in.",
            );
            return self.send(iq);
        };
        let until = match command.field("duration").unwrap_or("1d") {
            "forever" => None,
            text => match humantime::parse_duration(text) {
                Ok(d) => Some(now + chrono_of(d)),
                Err(_) => {
                    let iq = adhoc::error(
                        &question.to,
                        &question.iq,
                        DefinedCondition::BadRequest,
                        "The duration should read like 1h, 7d or forever.",
                    );
                    return self.send(iq);
                }
            },
        };
        let read = Query::BlockVisitor {
            room: room.to_string(),
            until,
            reason: reason.to_string(),
            by: bare.to_string(),
        };
        self.ask(question, Step::Block { room }, read);
    }

    fn status_reply(&self, session: String, now: Time) -> CommandReply {
        let c = self.counts();
        let (waiting, oldest) = self.queue();
        let on_duty = self.staff_on_duty();
        let oldest = oldest.map_or(String::new(), |t| {
            (now - t).num_seconds().max(0).to_string()
        });
        let form = Form::new("result", Command::Status.name())
            .value("open", "Open", on_duty > 0)
            .value("staff-on-duty", "Staff on duty", on_duty)
            .value("available", "Rooms ready", c.ready)
            .value("staffed", "Staffed rooms", c.by_status[1])
            .value("busy", "Chats", c.by_status[2])
            .value("closing", "Closing", c.by_status[3])
            .value("queue-length", "Waiting visitors", waiting)
            .value("oldest-wait", "Longest wait (seconds)", oldest);
        let text = format!(
            "{} staff on duty; {} chats, {} staffed rooms waiting for a visitor; {waiting} visitors waiting.",
            on_duty, c.by_status[2], c.by_status[1]
        );
        CommandReply {
            node: Command::Status.node().into(),
            session,
            status: CommandStatus::Completed,
            note: Some((NoteType::Info, text)),
            form: Some(form),
        }
    }

    /// The database result a command waited for.
    pub(super) fn read_for(
        &mut self,
        question: Question,
        result: Result<QueryResult, String>,
        now: Time,
    ) {
        let which = question.step.command();
        let session = question.session.clone();
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(command = which.node(), error = %e, "a command's database work failed");
                let iq = adhoc::error(
                    &question.to,
                    &question.iq,
                    DefinedCondition::InternalServerError,
                    "The help line cannot do this right now; please try again in a moment.",
                );
                return self.send(iq);
            }
        };
        let reply = match (&question.step, result) {
            (Step::Enqueue, QueryResult::Enqueued(queued, position)) => {
                use super::queue::Enqueued;
                if let Enqueued::Queued(_) = queued {
                    self.queue.joined();
                }
                match queued {
                    Enqueued::Queued(id) | Enqueued::AlreadyQueued(id) => {
                        let estimate = self.people.estimate(position);
                        self.people.pushed.insert(id, Pushed { position, at: now });
                        tracing::info!(queue_id = id, position, "a visitor over XMPP is queued");
                        let mut form = outcome(which, "queued")
                            .value("queue-id", "Queue number", id)
                            .value("position", "Place in line", position);
                        if let Some(e) = estimate {
                            form = form.value("estimate", "Estimated wait (seconds)", e);
                        }
                        done(which, session, NoteType::Info, &adhoc::place_text(position, estimate), form)
                    }
                    Enqueued::Full => done(
                        which,
                        session,
                        NoteType::Warn,
                        "All our staff are busy and the queue is full. Please try again a little later.",
                        outcome(which, "busy"),
                    ),
                    Enqueued::Blocked => {
                        tracing::warn!(target: "helpim_bot::security", from = %question.to, "refusing a chat to a blocked visitor key");
                        done(
                            which,
                            session,
                            NoteType::Error,
                            "We cannot start a chat with you.",
                            outcome(which, "blocked"),
                        )
                    }
                }
            }
            (Step::Leave, QueryResult::Left(left)) => {
                let (status, text) = if left {
                    ("left", "You left the queue.")
                } else {
                    ("not-queued", "You were not in the queue.")
                };
                done(which, session, NoteType::Info, text, outcome(which, status))
            }
            (Step::Resume, QueryResult::Room(room)) => {
                let invited = room
                    .and_then(|r| BareJid::new(&r).ok())
                    .filter(|r| self.invite(&question.to, r, "Your chat continues here."));
                match invited {
                    Some(room) => {
                        tracing::info!(room = %room, visitor = %question.to, "a visitor's new session resumes its chat");
                        // The fresh claim lets the room seat the new session.
                        self.check_claims(&room);
                        let form = outcome(which, "resumed").value("room", "Room", &room);
                        done(which, session, NoteType::Info, "Your chat continues.", form)
                    }
                    None => done(
                        which,
                        session,
                        NoteType::Warn,
                        "There is no chat to resume.",
                        outcome(which, "none"),
                    ),
                }
            }
            (Step::Take, QueryResult::Room(room)) => {
                match room.and_then(|r| BareJid::new(&r).ok()) {
                    Some(room) => {
                        let bare = question.to.to_bare().to_string();
                        self.people.staff_claims.insert(room.clone(), bare);
                        self.check_claims(&room);
                        let form = outcome(which, "taken").value("room", "Room", &room);
                        if self.invite(&question.to, &room, "A chat room for you.") {
                            tracing::info!(room = %room, staff = %question.to, "a staff member took a chat");
                            done(
                                which,
                                session,
                                NoteType::Info,
                                "Your room is ready: you are invited.",
                                form,
                            )
                        } else {
                            done(
                                which,
                                session,
                                NoteType::Warn,
                                "The room is not followed by this bot.",
                                outcome(which, "none"),
                            )
                        }
                    }
                    None => done(
                        which,
                        session,
                        NoteType::Warn,
                        NO_ROOM_READY,
                        outcome(which, "none"),
                    ),
                }
            }
            (Step::Waiting { pick }, QueryResult::WaitingList(list)) => {
                self.waiting_reply(session, *pick, &list, now)
            }
            (Step::Pick, QueryResult::Assigned(assigned)) => match assigned {
                Some(a) => {
                    tracing::info!(queue_id = a.queue_id, room = %a.room, "a staff member picked a waiting visitor");
                    self.queue.picked();
                    self.hand_over(&a, now);
                    let form = outcome(which, "assigned").value("room", "Room", &a.room);
                    done(
                        which,
                        session,
                        NoteType::Info,
                        "The visitor is invited to your room.",
                        form,
                    )
                }
                None => done(
                    which,
                    session,
                    NoteType::Warn,
                    "Someone else took this visitor, or your room has one already.",
                    outcome(which, "taken"),
                ),
            },
            (Step::Block { room }, QueryResult::Blocked(label)) => match label {
                Some(_) => {
                    tracing::warn!(target: "helpim_bot::security", room = %room, by = %question.to, "a staff member blocked the visitor of a room");
                    let room = room.clone();
                    self.remove_client(&room);
                    done(
                        which,
                        session,
                        NoteType::Info,
                        "The visitor is blocked and removed from the chat.",
                        outcome(which, "blocked"),
                    )
                }
                None => done(
                    which,
                    session,
                    NoteType::Warn,
                    "This chat has no visitor.",
                    outcome(which, "none"),
                ),
            },
            (step, other) => {
                tracing::error!(?step, result = ?other, "a command got the wrong database result");
                let iq = adhoc::error(
                    &question.to,
                    &question.iq,
                    DefinedCondition::InternalServerError,
                    "Something went wrong.",
                );
                return self.send(iq);
            }
        };
        self.reply(&question, &reply);
    }

    fn waiting_reply(
        &self,
        session: String,
        pick: bool,
        list: &[Waiter],
        now: Time,
    ) -> CommandReply {
        let which = Command::WaitingVisitors;
        let mut form = Form::new(
            if pick && !list.is_empty() {
                "form"
            } else {
                "result"
            },
            which.name(),
        );
        form.reported = [
            ("id", "Number"),
            ("nick", "Name"),
            ("topic", "Topic"),
            ("waiting", "Waiting since"),
        ]
        .into_iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect();
        form.items = list
            .iter()
            .map(|w| {
                vec![
                    ("id".to_string(), w.id.to_string()),
                    ("nick".to_string(), w.nick.clone()),
                    ("topic".to_string(), w.topic.clone().unwrap_or_default()),
                    (
                        "waiting".to_string(),
                        w.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    ),
                ]
            })
            .collect();
        let text = match list.len() {
            0 => "Nobody is waiting.".to_string(),
            1 => "1 visitor is waiting.".to_string(),
            n => format!("{n} visitors are waiting."),
        };
        if !pick || list.is_empty() {
            return CommandReply {
                node: which.node().into(),
                session,
                status: CommandStatus::Completed,
                note: Some((NoteType::Info, text)),
                form: Some(form),
            };
        }
        let options = list
            .iter()
            .map(|w| {
                let minutes = (now - w.since).num_minutes().max(0);
                let topic = w
                    .topic
                    .as_deref()
                    .map_or(String::new(), |t| format!(": {t}"));
                (
                    format!("{}{topic} ({minutes} min)", w.nick),
                    w.id.to_string(),
                )
            })
            .collect();
        form.fields.push(
            FormField::new("visitor", "list-single", "Take this visitor", "")
                .options(options)
                .required(),
        );
        CommandReply {
            node: which.node().into(),
            session,
            status: CommandStatus::Executing,
            note: Some((NoteType::Info, text)),
            form: Some(form),
        }
    }

    /// A waiting visitor got a room: the room learns the new client claim, and a visitor over
    /// XMPP is invited.
    pub(super) fn hand_over(&mut self, a: &Assigned, now: Time) {
        self.people.pushed.remove(&a.queue_id);
        let Ok(room) = BareJid::new(&a.room) else {
            return;
        };
        let Some(entry) = self.rooms.get(&room) else {
            return;
        };
        let claims = super::types::Claims {
            staff_at: entry.room.claims().staff_at,
            client_at: Some(a.client_claimed_at),
        };
        self.feed(&room, Event::Claims(claims), now);
        if let Some(jid) = a.visitor_jid.as_deref().and_then(|j| FullJid::new(j).ok()) {
            self.invite(&jid, &room, "A staff member is ready to chat with you.");
        }
    }

    /// Sends `to` an invitation to `room` with its password; false when the bot does not follow
    /// the room.
    fn invite(&mut self, to: &FullJid, room: &BareJid, reason: &str) -> bool {
        let Some(entry) = self.rooms.get(room) else {
            return false;
        };
        let message = adhoc::invitation(to, room, &entry.password, reason);
        self.send(message);
        true
    }

    /// The room reads its claims from the database (a claim was just made for it).
    fn check_claims(&mut self, room: &BareJid) {
        if self.rooms.contains_key(room) {
            self.act(room, super::room::Action::CheckClaims, None);
        }
    }

    /// Kicks the client of `room` (its visitor was blocked).
    fn remove_client(&mut self, room: &BareJid) {
        let Some(entry) = self.rooms.get(room) else {
            return;
        };
        let Some(nick) = entry.room.client_nick().map(str::to_string) else {
            return;
        };
        if entry.room.present().any(|p| p == nick) {
            self.kick(room, nick, "This chat has ended.");
        }
    }

    /// After a sweep: waiting visitors over XMPP hear of their new place (rate-limited), and after
    /// a new session each is pinged once to see whether they are still there.
    pub(super) fn queue_swept(&mut self, swept: super::Swept, now: Time) {
        let Some((over_xmpp, pace)) = swept.places else {
            return;
        };
        self.people.pace = pace;
        let probe = std::mem::take(&mut self.people.probe);
        let mut still: HashSet<i64> = HashSet::with_capacity(over_xmpp.len());
        for (id, jid, position) in over_xmpp {
            still.insert(id);
            let Ok(jid) = FullJid::new(&jid) else {
                continue;
            };
            if probe {
                self.out.request(
                    Request::iq(stanza::ping(jid.clone().into())),
                    Pending::PresenceProbe(jid.clone()),
                );
            }
            let last = self.people.pushed.get(&id).copied();
            let due = match last {
                None => true,
                Some(l) if l.position == position => false,
                Some(l) => {
                    let since = (now - l.at).to_std().unwrap_or_default();
                    since >= PUSH_EVERY
                        && (position <= PUSH_NEAR
                            || (l.position - position).abs() * 10 >= l.position
                            || since >= PUSH_QUIET)
                }
            };
            if due {
                let message = adhoc::queue_update(&jid, position, self.people.estimate(position));
                self.send(message);
                self.people.pushed.insert(id, Pushed { position, at: now });
            }
        }
        self.people.pushed.retain(|id, _| still.contains(id));
    }

    fn ask(&mut self, mut question: Question, step: Step, read: Query) {
        question.step = step;
        self.out.query(read, Pending::Command(question));
    }

    fn executing(&mut self, question: &Question, which: Command, form: Form) {
        let reply = CommandReply {
            node: which.node().into(),
            session: question.session.clone(),
            status: CommandStatus::Executing,
            note: None,
            form: Some(form),
        };
        self.reply(question, &reply);
    }

    fn reply(&mut self, question: &Question, reply: &CommandReply) {
        let iq = adhoc::command_result(&question.to, &question.iq, reply);
        self.send(iq);
    }

    fn send(&mut self, stanza: impl Into<tokio_xmpp::Stanza>) {
        self.out.send(stanza.into());
    }
}
