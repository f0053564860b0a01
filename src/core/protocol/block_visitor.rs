//! `block-visitor` (staff, for a room they are in): the visitor key of the room's visitor is
//! blocked for a time with a reason, and the visitor is removed. Only a visitor who is seated
//! can be blocked, in a `busy` or `closing` room: a `staffed` room's client claim may belong to a
//! visitor who was invited and never joined, so it is not offered, and naming it blocks nobody.
//! The duration is a choice of
//! [`DURATIONS`] (any duration such as `2w` is still taken, as the console and older clients send
//! it). A submitted form without a reason, or with a duration that does not read as one, is shown
//! again with what was filled in and the problem: the person can correct it.

use xmpp_parsers::jid::BareJid;
use xmpp_parsers::stanza_error::DefinedCondition;

use super::{clock, refill, submitted, Ask, Lent, Protocol, Step};
use crate::core::chrono_of;
use crate::core::effects::Query;
use crate::core::types::{Status, Time};
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};

/// The rooms in one of `statuses` that `bare` is the staff member of, with their client's nick.
fn rooms_of(bare: &str, statuses: &[Status], lent: &Lent) -> Vec<(BareJid, Option<String>)> {
    let mut rooms: Vec<_> = lent
        .rooms
        .iter()
        .filter(|(_, e)| statuses.contains(&e.room.status()) && e.room.staff_jid() == Some(bare))
        .map(|(jid, e)| (jid.clone(), e.room.client_nick().map(str::to_string)))
        .collect();
    rooms.sort_by(|a, b| a.0.cmp(&b.0));
    rooms
}

/// The durations offered: (value, words). The values are those the staff console sends.
pub const DURATIONS: [(&str, &str); 5] = [
    ("1h", "1 hour"),
    ("1d", "1 day"),
    ("7d", "1 week"),
    ("30d", "30 days"),
    ("forever", "Permanently"),
];

/// The duration of a block when none is chosen.
const DEFAULT_DURATION: &str = "1d";

/// The form: which chat, why, for how long; with the values of `submitted`.
fn form(name: &str, rooms: &[(BareJid, Option<String>)], submitted: &CommandRequest) -> Form {
    let options = rooms
        .iter()
        .map(|(jid, nick)| {
            let label = nick.as_deref().unwrap_or("the visitor").to_string();
            (label, jid.to_string())
        })
        .collect();
    let durations = DURATIONS
        .iter()
        .map(|(value, words)| (words.to_string(), value.to_string()))
        .collect();
    Form::new("form", name)
        .field(refill(
            FormField::new("room", "list-single", "Chat", "")
                .options(options)
                .choice()
                .required(),
            submitted,
        ))
        .field(refill(
            FormField::new("reason", "text-single", "Reason", "").required(),
            submitted,
        ))
        .field(refill(
            FormField::new("duration", "list-single", "For how long", DEFAULT_DURATION)
                .options(durations),
            submitted,
        ))
}

/// Until when a block of `text` holds: `Ok(None)` for ever; `Err` when it reads as no duration.
fn until(text: &str, now: Time) -> Result<Option<Time>, ()> {
    match text {
        "forever" | "permanent" | "permanently" => Ok(None),
        text => humantime::parse_duration(text)
            .map(|d| Some(now + chrono_of(d)))
            .map_err(|_| ()),
    }
}

/// Checks the form and the staff member's right to block, and blocks.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let bare = ask.to.to_bare().to_string();
    // The chats with a seated visitor: those a block may apply to.
    let rooms = rooms_of(&bare, &[Status::Busy, Status::Closing], lent);
    // A chat of this staff member that nobody has joined yet: its client claim names, at most,
    // a visitor who was invited, who must not be blocked for what someone else did.
    let unseated = rooms_of(&bare, &[Status::Staffed], lent);
    if let Some(named) = command.field("room") {
        if unseated.iter().any(|(jid, _)| jid.to_string() == named) {
            return ask.outcome(
                lent.out,
                NoteType::Warn,
                "No visitor has joined this chat: there is nobody to block.",
                "none",
            );
        }
    }
    let chosen = command
        .field("room")
        .map(str::to_string)
        .or_else(|| (rooms.len() == 1).then(|| rooms[0].0.to_string()));
    let (Some(room), Some(reason)) = (chosen, command.field("reason")) else {
        if rooms.is_empty() && !unseated.is_empty() {
            return ask.outcome(
                lent.out,
                NoteType::Warn,
                "No visitor has joined your chat: there is nobody to block.",
                "none",
            );
        }
        if rooms.is_empty() {
            return ask.outcome(lent.out, NoteType::Warn, "You are in no chat.", "no-room");
        }
        let note = match (command.field("room"), command.field("reason")) {
            _ if !submitted(command) => None,
            (None, None) if rooms.len() > 1 => {
                Some("Please choose the chat and give a reason for the block.")
            }
            (None, Some(_)) if rooms.len() > 1 => Some("Please choose the chat."),
            _ => Some("Please give a reason for the block."),
        };
        let form = form(ask.command.name(), &rooms, command);
        return ask.form(lent.out, form, note);
    };
    let Some(room) = rooms
        .iter()
        .map(|(jid, _)| jid.clone())
        .find(|jid| jid.to_string() == room)
    else {
        tracing::warn!(target: "helpim_bot::security", from = %ask.to, room = %room, "refusing to block the visitor of a room the staff member is not in");
        return ask.error(
            lent.out,
            DefinedCondition::Forbidden,
            "You can only block the visitor of a chat you are in.",
        );
    };
    let Ok(until) = until(
        command.field("duration").unwrap_or(DEFAULT_DURATION),
        lent.now,
    ) else {
        let problem = "Please choose for how long: the duration given does not read as one \
                       (choose from the list, or write it like 2h, 3d or 2w).";
        let form = form(ask.command.name(), &rooms, command);
        return ask.retry(lent.out, form, problem, Some("bad-duration"));
    };
    let query = Query::BlockVisitor {
        room: room.to_string(),
        until,
        reason: reason.to_string(),
        by: bare,
    };
    ask.query(lent.out, query, Step::Block { room, until });
}

/// The visitor is blocked (or the room had none): they are removed from the chat.
pub fn answered(
    p: &Protocol,
    ask: Ask,
    room: BareJid,
    until: Option<Time>,
    label: Option<String>,
    lent: &mut Lent,
) {
    if label.is_none() {
        return ask.outcome(
            lent.out,
            NoteType::Warn,
            "This chat has no visitor.",
            "none",
        );
    }
    tracing::warn!(target: "helpim_bot::security", room = %room, by = %ask.to, "a staff member blocked the visitor of a room");
    if let Some(entry) = lent.rooms.get(&room) {
        if let Some(nick) = entry.room.client_nick().map(str::to_string) {
            if entry.room.present().any(|p| p == nick) {
                let ended = p.visitor_words(&room, lent.settings).get("kick-ended");
                crate::core::kick(lent.out, &room, nick, &ended);
            }
        }
    }
    let name = lent
        .rooms
        .get(&room)
        .and_then(|e| e.room.client_nick())
        .unwrap_or("The visitor");
    let text = match until {
        Some(t) => format!(
            "{name} is blocked until {} and removed from the chat.",
            clock(lent.settings, lent.now, t)
        ),
        None => format!("{name} is blocked for good and removed from the chat."),
    };
    ask.outcome(lent.out, NoteType::Info, &text, "blocked")
}
