//! `waiting-visitors` (staff): the waiting visitors, first in line first. In pick mode
//! (`queue.assign = "pick"`) the list is a form: the visitor chosen is given the staff member's
//! open room, and disappears from everyone else's list.

use xmpp_parsers::stanza_error::DefinedCondition;

use xmpp_parsers::jid::BareJid;

use super::hand_over::{self, PICK_PREFIX};
use super::{submitted, Ask, Lent, Protocol, Step};
use crate::core::effects::{Assigned, Query, Waiter};
use crate::core::types::Status;
use crate::xmpp::adhoc::{CommandRequest, CommandStatus, Form, FormField, NoteType};

/// Reads the list, or gives the visitor picked the staff member's room.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let pick = !lent.settings.queue_auto;
    if let Some(room) = command
        .field("visitor")
        .and_then(|v| v.strip_prefix(PICK_PREFIX))
    {
        // A chat handed back to the queue, in either mode.
        return match BareJid::new(room) {
            Ok(room) => hand_over::take(ask, Some(&room), lent),
            Err(_) => {
                let text = "No such chat (visitor): choose one from the list.";
                ask.error(lent.out, DefinedCondition::BadRequest, text)
            }
        };
    }
    match command.field("visitor") {
        Some(id) if pick => {
            let id = id.to_string();
            self::pick(ask, &id, lent)
        }
        _ => {
            // A pick form sent back without a choice is shown again, saying so.
            let unpicked = pick && submitted(command);
            let step = Step::WaitingList { pick, unpicked };
            ask.query(lent.out, Query::WaitingList, step)
        }
    }
}

fn pick(ask: Ask, id: &str, lent: &mut Lent) {
    let Ok(queue_id) = id.parse::<i64>() else {
        let text = "No such visitor (visitor): choose one from the list.";
        return ask.error(lent.out, DefinedCondition::BadRequest, text);
    };
    let bare = ask.to.to_bare().to_string();
    let room = lent
        .rooms
        .iter()
        .filter(|(_, e)| {
            e.inside
                && e.room.status() == Status::Staffed
                && e.room.staff_jid() == Some(bare.as_str())
                && e.room.claims().client_at.is_none()
        })
        .map(|(jid, _)| jid.clone())
        .min();
    let Some(room) = room else {
        let text = "Take a chat first: the visitor you pick joins your open room.";
        return ask.outcome(lent.out, NoteType::Warn, text, "no-room");
    };
    let query = Query::Pick {
        room: room.to_string(),
        queue_id,
    };
    ask.query(lent.out, query, Step::Pick);
}

/// The list: a table, and in pick mode a choice of whom to take.
pub fn listed(ask: Ask, pick: bool, unpicked: bool, list: &[Waiter], lent: &mut Lent) {
    let handovers = hand_over::waiting(lent);
    let form_type = if pick && !(list.is_empty() && handovers.is_empty()) {
        "form"
    } else {
        "result"
    };
    let mut form = Form::new(form_type, ask.command.name());
    form.reported = [
        ("id", "Number"),
        ("nick", "Name"),
        ("topic", "Topic"),
        ("waiting", "Waiting since"),
    ]
    .into_iter()
    .map(|(v, l)| (v.to_string(), l.to_string()))
    .collect();
    // Chats handed back to the queue first: a visitor already talking waits for a colleague.
    form.items = handovers
        .iter()
        .map(|h| {
            vec![
                ("id".to_string(), format!("{PICK_PREFIX}{}", h.room)),
                ("nick".to_string(), format!("Handover from {}", h.from)),
                ("topic".to_string(), h.note.clone().unwrap_or_default()),
                ("waiting".to_string(), crate::xmpp::stanza::stamp(h.since)),
            ]
        })
        .collect();
    form.items.extend(list.iter().map(|w| {
        vec![
            ("id".to_string(), w.id.to_string()),
            ("nick".to_string(), w.nick.clone()),
            ("topic".to_string(), w.topic.clone().unwrap_or_default()),
            ("waiting".to_string(), crate::xmpp::stanza::stamp(w.since)),
        ]
    }));
    let mut text = match list.len() {
        0 => "Nobody is waiting.".to_string(),
        1 => "1 visitor is waiting.".to_string(),
        n => format!("{n} visitors are waiting."),
    };
    match handovers.len() {
        0 => {}
        1 => text.push_str(" 1 chat is handed back to the queue."),
        n => text.push_str(&format!(" {n} chats are handed back to the queue.")),
    }
    if !pick || (list.is_empty() && handovers.is_empty()) {
        return ask.reply(
            lent.out,
            CommandStatus::Completed,
            Some((NoteType::Info, text)),
            Some(form),
        );
    }
    let mut options: Vec<(String, String)> = handovers
        .iter()
        .map(|h| {
            let minutes = (lent.now - h.since).num_minutes().max(0);
            let note = h
                .note
                .as_deref()
                .map_or(String::new(), |n| format!(": {n}"));
            (
                format!("Handover from {}{note} ({minutes} min)", h.from),
                format!("{PICK_PREFIX}{}", h.room),
            )
        })
        .collect();
    options.extend(list.iter().map(|w| {
        let minutes = (lent.now - w.since).num_minutes().max(0);
        let topic = w
            .topic
            .as_deref()
            .map_or(String::new(), |t| format!(": {t}"));
        (
            format!("{}{topic} ({minutes} min)", w.nick),
            w.id.to_string(),
        )
    }));
    form.fields.push(
        FormField::new("visitor", "list-single", "Take this visitor", "")
            .options(options)
            .required(),
    );
    let note = if unpicked {
        (NoteType::Warn, format!("Please choose a visitor. {text}"))
    } else {
        (NoteType::Info, text)
    };
    ask.reply(lent.out, CommandStatus::Executing, Some(note), Some(form))
}

/// The visitor picked was given the room, or someone was quicker.
pub fn picked(p: &mut Protocol, ask: Ask, assigned: Option<Assigned>, lent: &mut Lent) {
    let Some(a) = assigned else {
        let text = "Someone else took this visitor, or your room has one already.";
        return ask.outcome(lent.out, NoteType::Warn, text, "taken");
    };
    tracing::info!(queue_id = a.queue_id, room = %a.room, "a staff member picked a waiting visitor");
    lent.queue.picked();
    p.hand_over(&a, lent);
    let form = ask.result("assigned").value("room", "Room", &a.room);
    ask.done(
        lent.out,
        NoteType::Info,
        "The visitor is invited to your room.",
        form,
    )
}
