//! `block-visitor` (staff, for a room they are in): the visitor key of the room's visitor is
//! blocked for a time with a reason, and the visitor is removed. A submitted form without a
//! reason is shown again with what was filled in; a duration that does not read as one is a
//! `bad-request`.

use xmpp_parsers::jid::BareJid;
use xmpp_parsers::stanza_error::DefinedCondition;

use super::{refill, submitted, Ask, Lent, Protocol, Step};
use crate::core::chrono_of;
use crate::core::effects::Query;
use crate::core::types::Status;
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};

/// The rooms `bare` is the staff member of, with their client's nick.
fn rooms_of(bare: &str, lent: &Lent) -> Vec<(BareJid, Option<String>)> {
    let statuses = [Status::Staffed, Status::Busy, Status::Closing];
    let mut rooms: Vec<_> = lent
        .rooms
        .iter()
        .filter(|(_, e)| statuses.contains(&e.room.status()) && e.room.staff_jid() == Some(bare))
        .map(|(jid, e)| (jid.clone(), e.room.client_nick().map(str::to_string)))
        .collect();
    rooms.sort_by(|a, b| a.0.cmp(&b.0));
    rooms
}

/// The form: which chat, why, for how long; with the values of `submitted`.
fn form(name: &str, rooms: &[(BareJid, Option<String>)], submitted: &CommandRequest) -> Form {
    let options = rooms
        .iter()
        .map(|(jid, nick)| {
            let label = format!("{} ({jid})", nick.as_deref().unwrap_or("no visitor yet"));
            (label, jid.to_string())
        })
        .collect();
    Form::new("form", name)
        .field(refill(
            FormField::new("room", "list-single", "Chat", "")
                .options(options)
                .required(),
            submitted,
        ))
        .field(refill(
            FormField::new("reason", "text-single", "Reason", "").required(),
            submitted,
        ))
        .field(refill(
            FormField::new(
                "duration",
                "text-single",
                "For how long (e.g. 1h, 7d; \"forever\")",
                "1d",
            ),
            submitted,
        ))
}

/// Checks the form and the staff member's right to block, and blocks.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let bare = ask.to.to_bare().to_string();
    let rooms = rooms_of(&bare, lent);
    let chosen = command
        .field("room")
        .map(str::to_string)
        .or_else(|| (rooms.len() == 1).then(|| rooms[0].0.to_string()));
    let (Some(room), Some(reason)) = (chosen, command.field("reason")) else {
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
    let until = match command.field("duration").unwrap_or("1d") {
        "forever" => None,
        text => match humantime::parse_duration(text) {
            Ok(d) => Some(lent.now + chrono_of(d)),
            Err(_) => {
                let text = "The duration (duration) should read like 1h, 7d or forever.";
                return ask.error(lent.out, DefinedCondition::BadRequest, text);
            }
        },
    };
    let query = Query::BlockVisitor {
        room: room.to_string(),
        until,
        reason: reason.to_string(),
        by: bare,
    };
    ask.query(lent.out, query, Step::Block { room });
}

/// The visitor is blocked (or the room had none): they are removed from the chat.
pub fn answered(p: &Protocol, ask: Ask, room: BareJid, label: Option<String>, lent: &mut Lent) {
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
    let text = "The visitor is blocked and removed from the chat.";
    ask.outcome(lent.out, NoteType::Info, text, "blocked")
}
