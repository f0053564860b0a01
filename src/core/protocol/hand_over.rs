//! `hand-over` (staff, in a busy room they hold): hands the chat to a colleague on duty (their
//! bare JID) or back to the front of the queue (`queue`), with an optional note. The room runs
//! the handover ([`crate::core::room::Handover`]): the first staff member stays until the
//! colleague is inside, so the visitor is never alone. This file also owns taking a handover
//! from the queue (`take-chat`, and `h:<room>` picked in `waiting-visitors`), and the list of
//! handovers waiting in the queue that staff see first.

use xmpp_parsers::jid::{BareJid, FullJid};

use super::{announce_to_staff, refill, submitted, Ask, Lent, Protocol, Step};
use crate::core::effects::Query;
use crate::core::room::Event;
use crate::core::types::{Status, Time};
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};
use crate::xmpp::handover::{self, Offer};

/// The value of `to` that hands the chat back to the queue.
pub const QUEUE: &str = "queue";

/// The prefix of a waiting handover's id in `waiting-visitors` (`h:` and the room's JID).
pub const PICK_PREFIX: &str = "h:";

/// A chat handed back to the queue, waiting for a colleague: what staff see of it, first in
/// their lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingHandover {
    /// The room.
    pub room: BareJid,
    /// Who hands it over (their nick in the room).
    pub from: String,
    /// Their bare JID: they cannot take their own chat.
    pub from_jid: Option<String>,
    /// Their note.
    pub note: Option<String>,
    /// The visitor's topic, when known.
    pub topic: Option<String>,
    /// Since when it waits.
    pub since: Time,
}

impl Protocol {
    /// The handovers to the queue nobody has taken yet, oldest first (read-only; for the
    /// staff push and the waiting lists).
    pub fn waiting_handovers(&self, lent: &Lent) -> Vec<WaitingHandover> {
        waiting(lent)
    }

    /// The sessions of `bare` that told the bot they are on duty.
    pub fn sessions_of(&self, bare: &str) -> Vec<FullJid> {
        let mut sessions: Vec<FullJid> = self
            .staff_present
            .iter()
            .filter(|j| j.to_bare().as_str() == bare)
            .cloned()
            .collect();
        sessions.sort();
        sessions
    }

    /// True when `bare` is on duty: a session of theirs told the bot so, or they hold a room.
    fn on_duty(&self, bare: &str, lent: &Lent) -> bool {
        !self.sessions_of(bare).is_empty() || lent.tally.staff_rooms.contains_key(bare)
    }
}

/// The waiting handovers of the live rooms, oldest first.
pub(super) fn waiting(lent: &Lent) -> Vec<WaitingHandover> {
    let mut list: Vec<WaitingHandover> = lent
        .rooms
        .iter()
        .filter_map(|(jid, e)| {
            let h = e.room.handover().filter(|h| h.waiting())?;
            Some(WaitingHandover {
                room: jid.clone(),
                from: h.from.nick.clone(),
                from_jid: h.from.jid.clone(),
                note: h.note.clone(),
                topic: h.topic.clone(),
                since: h.offered_at,
            })
        })
        .collect();
    list.sort_by(|a, b| (a.since, &a.room).cmp(&(b.since, &b.room)));
    list
}

/// The waiting handovers `bare` may take: not their own.
pub(super) fn waiting_for(bare: &str, lent: &Lent) -> Vec<WaitingHandover> {
    let mut list = waiting(lent);
    list.retain(|w| w.from_jid.as_deref() != Some(bare));
    list
}

/// The busy rooms `bare` holds, by JID.
fn rooms_of(bare: &str, lent: &Lent) -> Vec<BareJid> {
    let mut rooms: Vec<BareJid> = lent
        .rooms
        .iter()
        .filter(|(_, e)| e.room.status() == Status::Busy && e.room.staff_jid() == Some(bare))
        .map(|(jid, _)| jid.clone())
        .collect();
    rooms.sort();
    rooms
}

/// The colleagues `bare` may hand a chat to: the others on `staff.jids` on duty, by bare JID,
/// with the chats each holds.
fn colleagues(p: &Protocol, bare: &str, lent: &Lent) -> Vec<(String, usize)> {
    let mut on_duty: Vec<String> = p
        .staff_present
        .iter()
        .map(|j| j.to_bare().to_string())
        .chain(lent.tally.staff_rooms.keys().cloned())
        .filter(|j| j != bare && lent.settings.staff.allows(j))
        .collect();
    on_duty.sort();
    on_duty.dedup();
    on_duty
        .into_iter()
        .map(|j| {
            let chats = lent.tally.staff_rooms.get(&j).copied().unwrap_or(0);
            (j, chats)
        })
        .collect()
}

/// The form: which chat (by its visitor), to whom (a colleague on duty by name, or the queue),
/// a note; with the values of `submitted`.
fn form(
    p: &Protocol,
    ask: &Ask,
    rooms: &[BareJid],
    submitted: &CommandRequest,
    lent: &Lent,
) -> Form {
    let bare = ask.to.to_bare().to_string();
    let rooms = rooms
        .iter()
        .map(|jid| {
            let nick = lent.rooms.get(jid).and_then(|e| e.room.client_nick());
            (nick.unwrap_or("a visitor").to_string(), jid.to_string())
        })
        .collect();
    let max = lent.settings.staff.max_chats as usize;
    let mut to: Vec<(String, String)> = colleagues(p, &bare, lent)
        .into_iter()
        .map(|(jid, chats)| {
            let name = jid.split('@').next().unwrap_or(&jid).to_string();
            let load = match chats {
                _ if chats >= max => " (holds as many chats as one may)".to_string(),
                0 => String::new(),
                1 => " (1 chat)".to_string(),
                n => format!(" ({n} chats)"),
            };
            (format!("{name}{load}"), jid)
        })
        .collect();
    to.push((
        "The queue: the first colleague free takes it".to_string(),
        QUEUE.to_string(),
    ));
    Form::new("form", ask.command.name())
        .field(refill(
            FormField::new("room", "list-single", "Chat", "")
                .options(rooms)
                .choice(),
            submitted,
        ))
        .field(refill(
            FormField::new("to", "list-single", "Hand over to", "")
                .options(to)
                .choice()
                .required(),
            submitted,
        ))
        .field(refill(
            FormField::new("note", "text-single", "Note for your colleague", ""),
            submitted,
        ))
}

/// Checks the chat and the colleague, then reads the visitor's topic for the colleague. A
/// colleague who cannot take it (not on duty, at their limit) is something the staff member can
/// correct: the form comes back saying so.
pub fn start(p: &mut Protocol, ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let bare = ask.to.to_bare().to_string();
    let rooms = rooms_of(&bare, lent);
    let chosen = command
        .field("room")
        .map(str::to_string)
        .or_else(|| (rooms.len() == 1).then(|| rooms[0].to_string()));
    let Some(to) = command.field("to").map(str::trim).filter(|t| !t.is_empty()) else {
        if rooms.is_empty() {
            return ask.outcome(lent.out, NoteType::Warn, "You hold no chat.", "no-chat");
        }
        let note = submitted(command).then_some("Please choose to whom to hand the chat.");
        let form = form(p, &ask, &rooms, command, lent);
        return ask.form(lent.out, form, note);
    };
    let Some(room) = chosen.and_then(|c| rooms.iter().find(|r| r.as_str() == c).cloned()) else {
        if rooms.len() > 1 && command.field("room").is_none() {
            let form = form(p, &ask, &rooms, command, lent);
            return ask.retry(lent.out, form, "Please choose the chat.", None);
        }
        let text = "You hold no such chat (room).";
        return ask.outcome(lent.out, NoteType::Warn, text, "no-chat");
    };
    let to = if to == QUEUE {
        None
    } else {
        match BareJid::new(to) {
            Ok(j) if j.as_str() != bare && lent.settings.staff.allows(j.as_str()) => Some(j),
            _ => {
                let problem = "That is not a colleague on duty: please choose one from the list, or the queue.";
                let form = form(p, &ask, &rooms, command, lent);
                return ask.retry(lent.out, form, problem, Some("not-on-duty"));
            }
        }
    };
    if let Some((status, problem)) = to.as_ref().and_then(|to| unable(p, to, lent)) {
        let problem = format!("{problem} Please choose someone else, or the queue.");
        let form = form(p, &ask, &rooms, command, lent);
        return ask.retry(lent.out, form, &problem, Some(status));
    }
    if !checked(p, &ask, &room, to.as_ref(), lent) {
        return;
    }
    let note = command
        .field("note")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let query = Query::VisitorTopic(room.to_string());
    ask.query(lent.out, query, Step::HandOver { room, to, note });
}

/// Why colleague `to` cannot be handed a chat now (its `status` and the words), if they cannot.
fn unable(p: &Protocol, to: &BareJid, lent: &Lent) -> Option<(&'static str, String)> {
    if !p.on_duty(to.as_str(), lent) {
        return Some(("not-on-duty", "That colleague is not on duty.".to_string()));
    }
    // A colleague who holds as many chats as one may (staff.max_chats) is not handed another.
    let max = lent.settings.staff.max_chats as usize;
    let holds = lent
        .tally
        .staff_rooms
        .get(to.as_str())
        .copied()
        .unwrap_or(0);
    (holds >= max).then(|| {
        let text = format!(
            "That colleague holds {max} chats already, the most one staff member may hold (staff.max_chats)."
        );
        ("limit", text)
    })
}

/// True when the asker still holds `room` busy with no handover running, and `to` is on duty;
/// else answers why not.
fn checked(p: &Protocol, ask: &Ask, room: &BareJid, to: Option<&BareJid>, lent: &mut Lent) -> bool {
    let bare = ask.to.to_bare().to_string();
    let Some(entry) = lent
        .rooms
        .get(room)
        .filter(|e| e.room.status() == Status::Busy && e.room.staff_jid() == Some(bare.as_str()))
    else {
        let text = "You hold no such chat (room).";
        ask.outcome(lent.out, NoteType::Warn, text, "no-chat");
        return false;
    };
    if entry.room.handover().is_some() {
        let text = "A handover of this chat is running already.";
        ask.outcome(lent.out, NoteType::Warn, text, "busy");
        return false;
    }
    // Things may have moved while the topic was read: said as the answer, not a form.
    if let Some((status, text)) = to.and_then(|to| unable(p, to, lent)) {
        ask.outcome(lent.out, NoteType::Warn, &text, status);
        return false;
    }
    true
}

/// The visitor's topic is read: checked again (things may have moved meanwhile), the handover
/// starts, the colleague is invited or the staff room told.
pub fn answered(
    p: &mut Protocol,
    ask: Ask,
    room: BareJid,
    to: Option<BareJid>,
    note: Option<String>,
    topic: Option<String>,
    lent: &mut Lent,
) {
    if !checked(p, &ask, &room, to.as_ref(), lent) {
        return;
    }
    let entry = &lent.rooms[&room];
    let bare = ask.to.to_bare().to_string();
    let from = entry.room.staff_nick().unwrap_or(bare.as_str()).to_string();
    let password = entry.password.clone();
    lent.feed.push((
        room.clone(),
        Event::HandOver {
            to: to.as_ref().map(BareJid::to_string),
            note: note.clone(),
            topic: topic.clone(),
        },
    ));
    let name = entry
        .room
        .client_nick()
        .map(|nick| super::chat_name(nick, topic.as_deref()));
    let Some(colleague) = to else {
        let line = match &note {
            Some(n) => format!("{from} hands a chat back to the queue: {n}"),
            None => format!("{from} hands a chat back to the queue."),
        };
        announce_to_staff(lent, &line);
        let text =
            "The chat waits first in line for a colleague; stay with the visitor until one joins.";
        return ask.outcome(lent.out, NoteType::Info, text, "offered");
    };
    let offer = Offer {
        room: &room,
        from: &from,
        note: note.as_deref(),
        topic: topic.as_deref(),
        name: name.as_deref(),
    };
    let sessions = p.sessions_of(colleague.as_str());
    if sessions.is_empty() {
        // On duty in a room but never said so to the bot: the server picks their session.
        lent.out
            .send(handover::invitation(colleague.clone(), &offer, &password));
    }
    for session in sessions {
        lent.out
            .send(handover::invitation(session, &offer, &password));
    }
    tracing::info!(room = %room, "a staff member offered a chat to a colleague");
    let text = "Your colleague is invited; stay with the visitor until they join.";
    ask.outcome(lent.out, NoteType::Info, text, "offered")
}

/// Gives the asker the waiting handover of `room` (or the first waiting one): they are invited,
/// and their join completes it. Answers `handover` with the room, or `none`.
pub(super) fn take(ask: Ask, room: Option<&BareJid>, lent: &mut Lent) {
    let bare = ask.to.to_bare().to_string();
    let list = waiting_for(&bare, lent);
    let Some(w) = list.iter().find(|w| room.is_none_or(|r| *r == w.room)) else {
        let text = "Someone else took this chat.";
        return ask.outcome(lent.out, NoteType::Warn, text, "taken");
    };
    lent.feed
        .push((w.room.clone(), Event::HandoverTaken { by: bare.clone() }));
    let entry = &lent.rooms[&w.room];
    let name = entry
        .room
        .client_nick()
        .map(|nick| super::chat_name(nick, w.topic.as_deref()));
    let offer = Offer {
        room: &w.room,
        from: &w.from,
        note: w.note.as_deref(),
        topic: w.topic.as_deref(),
        name: name.as_deref(),
    };
    let password = entry.password.clone();
    lent.out
        .send(handover::invitation(ask.to.clone(), &offer, &password));
    tracing::info!(room = %w.room, "a staff member took a handover from the queue");
    let form = ask.chat_result("handover", &w.room, name.as_deref());
    let text = match &name {
        Some(name) => format!(
            "{} hands you the chat with {name}: you are invited.",
            w.from
        ),
        None => format!("{} hands you a chat: you are invited.", w.from),
    };
    ask.done(lent.out, NoteType::Info, &text, form)
}
