//! `ask-for-help` (staff, in a chat they hold): every supervisor session on duty is alerted with
//! the chat (a headline), the staff room (if any) is told, and the request is recorded, even
//! when no supervisor is on duty.

use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;

use super::supervision::{is_chat, record, NS_SUPERVISE};
use super::{announce_to_staff, refill, submitted, Ask, Lent, Protocol, Step};
use crate::core::effects::{LiveChat, Query};
use crate::core::types::Supervision;
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};
use crate::xmpp::stanza::headline;
use crate::xmpp::stanza::with_attr;

/// The chats `bare` is the staff member of, with their visitor's nick.
fn chats_of(bare: &str, lent: &Lent) -> Vec<(BareJid, String)> {
    let mut chats: Vec<_> = lent
        .rooms
        .iter()
        .filter(|(_, e)| is_chat(e) && e.room.staff_jid() == Some(bare))
        .map(|(jid, e)| (jid.clone(), e.room.client_nick().unwrap_or("?").to_string()))
        .collect();
    chats.sort();
    chats
}

/// Checks which chat, and reads its topic.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let bare = ask.to.to_bare().to_string();
    let chats = chats_of(&bare, lent);
    let chosen = command
        .field("room")
        .map(str::to_string)
        .or_else(|| (chats.len() == 1).then(|| chats[0].0.to_string()));
    let Some(room) = chosen else {
        if chats.is_empty() {
            return ask.outcome(lent.out, NoteType::Warn, "You are in no chat.", "no-chat");
        }
        let options = chats
            .iter()
            .map(|(jid, nick)| (nick.clone(), jid.to_string()))
            .collect();
        let form = Form::new("form", ask.command.name())
            .field(refill(
                FormField::new("room", "list-single", "Chat", "")
                    .options(options)
                    .choice()
                    .required(),
                command,
            ))
            .field(refill(
                FormField::new("text", "text-single", "What is it about?", ""),
                command,
            ));
        let note = submitted(command).then_some("Please choose the chat.");
        return ask.form(lent.out, form, note);
    };
    let Some(room) = chats
        .into_iter()
        .map(|c| c.0)
        .find(|j| j.to_string() == room)
    else {
        let text = "This is not a chat of yours going on.";
        return ask.outcome(lent.out, NoteType::Warn, text, "no-chat");
    };
    let text = command.field("text").map(str::to_string);
    let query = Query::LiveChats {
        room: Some(room.to_string()),
    };
    ask.query(lent.out, query, Step::Help { room, text })
}

/// The topic is read (`None`: the database could not say; the supervisors are alerted all the
/// same): the supervisors on duty are alerted, the staff room told, the request recorded.
pub fn asked(
    p: &mut Protocol,
    ask: Ask,
    room: BareJid,
    text: Option<String>,
    chats: Option<Vec<LiveChat>>,
    lent: &mut Lent,
) {
    let Some(entry) = lent.rooms.get(&room) else {
        let note = "The chat has ended.";
        return ask.outcome(lent.out, NoteType::Warn, note, "no-chat");
    };
    let staff = entry.room.staff_nick().map_or_else(
        || ask.to.node().map_or(String::new(), |n| n.to_string()),
        str::to_string,
    );
    let topic = chats
        .into_iter()
        .flatten()
        .find(|c| c.room == room.to_string())
        .and_then(|c| c.topic);
    record(lent, &room, Supervision::Help, &ask.to, None);
    let supervisors = p.supervisors_on_duty(lent);
    for session in &supervisors {
        let mut payload = with_attr(
            with_attr(
                Element::builder("help", NS_SUPERVISE),
                "room",
                room.to_string(),
            ),
            "staff",
            staff.clone(),
        );
        if let Some(topic) = &topic {
            payload = with_attr(payload, "topic", topic.clone());
        }
        let payload = payload.append(text.clone().unwrap_or_default()).build();
        let body = format!("{staff} asks for help with a chat");
        lent.out
            .send(headline(Jid::from(session.clone()), body, payload));
    }
    if lent.settings.staff.room.is_some() {
        let about = topic.map_or(String::new(), |t| format!(" ({t})"));
        let said = text.map_or(String::new(), |t| format!(": {t}"));
        announce_to_staff(
            lent,
            &format!("{staff} asks for help with a chat{about}{said}"),
        );
    }
    if supervisors.is_empty() {
        let note = "No supervisor is on duty just now; your request is recorded.";
        ask.outcome(lent.out, NoteType::Warn, note, "no-supervisor")
    } else {
        let note = "The supervisors on duty are alerted.";
        ask.outcome(lent.out, NoteType::Info, note, "asked")
    }
}
