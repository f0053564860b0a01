//! `waiting-visitors` (staff): the waiting visitors, first in line first (visitors with
//! priority ahead of those without, each with why). In pick mode
//! (`queue.assign = "pick"`) the list is a form: the visitor chosen is given the staff member's
//! open room, and disappears from everyone else's list.

use xmpp_parsers::stanza_error::DefinedCondition;

use xmpp_parsers::jid::BareJid;

use super::hand_over::{self, PICK_PREFIX};
use super::{chat_name, how_long, submitted, Ask, Lent, Protocol, Step};
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

/// The list: a table in line order (place 1 is next), and in pick mode a choice of whom to
/// take. The waits are relative and local ("4 min, since 14:02"); `id` is what a pick sends.
pub fn listed(ask: Ask, pick: bool, unpicked: bool, list: &[Waiter], lent: &mut Lent) {
    let handovers = hand_over::waiting(lent);
    let form_type = if pick && !(list.is_empty() && handovers.is_empty()) {
        "form"
    } else {
        "result"
    };
    let (settings, now) = (lent.settings, lent.now);
    let mut form = Form::new(form_type, ask.command.name());
    form.reported = [
        ("place", "Place in line"),
        ("nick", "Name"),
        ("topic", "Topic"),
        ("waiting", "Waiting"),
        ("priority", "Priority"),
        ("why", "Why"),
        ("id", "To pick"),
    ]
    .into_iter()
    .map(|(v, l)| (v.to_string(), l.to_string()))
    .collect();
    // Chats handed back to the queue first: a visitor already talking waits for a colleague.
    let rows = handovers
        .iter()
        .map(|h| {
            (
                format!("{PICK_PREFIX}{}", h.room),
                format!("Handover from {}", h.from),
                h.note.clone().unwrap_or_default(),
                h.since,
                0,
                String::new(),
            )
        })
        .chain(list.iter().map(|w| {
            (
                w.id.to_string(),
                w.nick.clone(),
                w.topic.clone().unwrap_or_default(),
                w.since,
                w.priority,
                w.why.clone().unwrap_or_default(),
            )
        }));
    let mut options = Vec::new();
    for (place, (id, nick, topic, since, priority, why)) in rows.enumerate() {
        let place = place + 1;
        let about = if topic.is_empty() {
            String::new()
        } else {
            format!(": {topic}")
        };
        let waited = how_long(now, since);
        let first = if priority > 0 && !why.is_empty() {
            format!(", priority: {why}")
        } else if priority > 0 {
            ", priority".to_string()
        } else {
            String::new()
        };
        options.push((
            format!("{place}. {nick}{about} (waiting {waited}{first})"),
            id.clone(),
        ));
        form.items.push(vec![
            ("place".to_string(), place.to_string()),
            ("nick".to_string(), nick),
            ("topic".to_string(), topic),
            ("waiting".to_string(), super::since(settings, now, since)),
            ("priority".to_string(), priority.to_string()),
            ("why".to_string(), why),
            ("id".to_string(), id),
        ]);
    }
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
    form.fields.push(
        FormField::new("visitor", "list-single", "Take this visitor", "")
            .options(options)
            .required(),
    );
    if unpicked {
        return ask.retry(
            lent.out,
            form,
            &format!("Please choose a visitor. {text}"),
            None,
        );
    }
    ask.reply(
        lent.out,
        CommandStatus::Executing,
        Some((NoteType::Info, text)),
        Some(form),
    )
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
    let name = chat_name(&a.nick, a.topic.as_deref());
    let form = ask.chat_result("assigned", &a.room, Some(&name));
    let text = format!("{name} is invited to your room.");
    ask.done(lent.out, NoteType::Info, &text, form)
}
