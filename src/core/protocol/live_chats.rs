//! `live-chats` (supervisors): every chat going on (`busy` and `closing` rooms) with the names
//! its staff member and visitor have in the room, the visitor's topic, and when it began. The
//! bot's own rooms say which chats go on and who is in them; the database adds what only it
//! knows (the topic, from the visitor's queue row, and the start). The start reads relative and
//! local ("12 min, since 14:02").

use std::collections::HashMap;

use super::supervision::is_chat;
use super::{Ask, Lent, Step};
use crate::core::effects::{LiveChat, Query};
use crate::xmpp::adhoc::{CommandStatus, Form, NoteType};

/// Reads the topics and starts of the chats.
pub fn start(ask: Ask, lent: &mut Lent) {
    ask.query(lent.out, Query::LiveChats { room: None }, Step::LiveChats)
}

/// The list: a table, the chats that began first first.
pub fn listed(ask: Ask, chats: &[LiveChat], lent: &mut Lent) {
    let known: HashMap<&str, &LiveChat> = chats.iter().map(|c| (c.room.as_str(), c)).collect();
    let mut rows: Vec<_> = lent
        .rooms
        .iter()
        .filter(|(_, e)| is_chat(e))
        .map(|(jid, e)| {
            let db = known.get(jid.to_string().as_str());
            let since = db.and_then(|c| c.since);
            (since, jid.to_string(), e)
        })
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let (settings, now) = (lent.settings, lent.now);
    let mut form = Form::new("result", ask.command.name());
    form.reported = [
        ("room", "Room"),
        ("staff", "Staff"),
        ("visitor", "Visitor"),
        ("topic", "Topic"),
        ("priority", "Priority"),
        ("since", "Since"),
    ]
    .into_iter()
    .map(|(v, l)| (v.to_string(), l.to_string()))
    .collect();
    form.items = rows
        .iter()
        .map(|(since, room, e)| {
            let topic = known
                .get(room.as_str())
                .and_then(|c| c.topic.clone())
                .unwrap_or_default();
            [
                ("room", room.clone()),
                ("staff", e.room.staff_nick().unwrap_or_default().to_string()),
                (
                    "visitor",
                    e.room.client_nick().unwrap_or_default().to_string(),
                ),
                ("topic", topic),
                (
                    "priority",
                    known
                        .get(room.as_str())
                        .map_or(0, |c| c.priority)
                        .to_string(),
                ),
                (
                    "since",
                    since.map_or(String::new(), |t| super::since(settings, now, t)),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        })
        .collect();
    let text = match rows.len() {
        0 => "No chat is going on.".to_string(),
        1 => "1 chat is going on.".to_string(),
        n => format!("{n} chats are going on."),
    };
    ask.reply(
        lent.out,
        CommandStatus::Completed,
        Some((NoteType::Info, text)),
        Some(form),
    )
}
