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

/// The form: which chat, to whom, a note; with the values of `submitted`.
fn form(name: &str, rooms: &[BareJid], submitted: &CommandRequest) -> Form {
    let options = rooms
        .iter()
        .map(|jid| (jid.to_string(), jid.to_string()))
        .collect();
    Form::new("form", name)
        .field(refill(
            FormField::new("room", "list-single", "Chat", "").options(options),
            submitted,
        ))
        .field(refill(
            FormField::new(
                "to",
                "text-single",
                "To (a colleague's address, or \"queue\")",
                "",
            )
            .required(),
            submitted,
        ))
        .field(refill(
            FormField::new("note", "text-single", "Note for your colleague", ""),
            submitted,
        ))
}

/// Checks the chat and the colleague, then reads the visitor's topic for the colleague.
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
        let note = submitted(command).then_some("Please say to whom (to).");
        let form = form(ask.command.name(), &rooms, command);
        return ask.form(lent.out, form, note);
    };
    let Some(room) = chosen.and_then(|c| rooms.iter().find(|r| r.as_str() == c).cloned()) else {
        let text = "You hold no such chat (room).";
        return ask.outcome(lent.out, NoteType::Warn, text, "no-chat");
    };
    let to = if to == QUEUE {
        None
    } else {
        match BareJid::new(to) {
            Ok(j) if j.as_str() != bare && lent.settings.staff.allows(j.as_str()) => Some(j),
            _ => {
                let text = "That is not a colleague on duty (to).";
                return ask.outcome(lent.out, NoteType::Warn, text, "not-on-duty");
            }
        }
    };
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
    if to.is_some_and(|to| !p.on_duty(to.as_str(), lent)) {
        let text = "That colleague is not on duty.";
        ask.outcome(lent.out, NoteType::Warn, text, "not-on-duty");
        return false;
    }
    // A colleague who holds as many chats as one may (staff.max_chats) is not handed another.
    let max = lent.settings.staff.max_chats as usize;
    if to.is_some_and(|to| {
        lent.tally
            .staff_rooms
            .get(to.as_str())
            .copied()
            .unwrap_or(0)
            >= max
    }) {
        let text = format!(
            "That colleague holds {max} chats already, the most one staff member may hold (staff.max_chats)."
        );
        ask.outcome(lent.out, NoteType::Warn, &text, "limit");
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
    let offer = Offer {
        room: &w.room,
        from: &w.from,
        note: w.note.as_deref(),
        topic: w.topic.as_deref(),
    };
    let password = lent.rooms[&w.room].password.clone();
    lent.out
        .send(handover::invitation(ask.to.clone(), &offer, &password));
    tracing::info!(room = %w.room, "a staff member took a handover from the queue");
    let form = ask.result("handover").value("room", "Room", &w.room);
    ask.done(
        lent.out,
        NoteType::Info,
        "A colleague hands you this chat: you are invited.",
        form,
    )
}
