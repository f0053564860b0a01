//! `whisper` (supervisors): a line to the staff member of a chat, never to the room. It goes to
//! their bare JID as a headline (every session of theirs gets it; servers do not archive
//! headlines), is never in `messages` nor in the room's history, and is kept in `notes`.

use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::minidom::Element;

use super::supervision::{live_chat, record, NS_SUPERVISE};
use super::watch_chat::chat_options;
use super::{refill, submitted, Ask, Lent};
use crate::core::types::Supervision;
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};
use crate::xmpp::stanza::{headline, with_attr};

/// The form: which chat, what to whisper; with the values of `submitted`.
fn form(name: &str, lent: &Lent, submitted: &CommandRequest) -> Form {
    Form::new("form", name)
        .field(refill(
            FormField::new("room", "list-single", "Chat", "")
                .options(chat_options(lent))
                .choice()
                .required(),
            submitted,
        ))
        .field(refill(
            FormField::new("text", "text-single", "Whisper", "").required(),
            submitted,
        ))
        .field(refill(
            FormField::new("name", "text-single", "Your name", ""),
            submitted,
        ))
}

/// The most characters of a supervisor's `name` the whisper carries.
pub const NAME_MAX: usize = 64;

/// Who the whisper says it is from: the `name` the supervisor gave (trimmed, at most
/// [`NAME_MAX`] characters), else the local part of their JID (the whole bare JID without one).
fn signed(name: Option<&str>, from: &FullJid) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n
            .chars()
            .take(NAME_MAX)
            .collect::<String>()
            .trim_end()
            .to_string(),
        None => from
            .node()
            .map_or_else(|| from.to_bare().to_string(), |n| n.to_string()),
    }
}

/// Whispers to the staff member of the chat.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let (Some(room), Some(text)) = (command.field("room"), command.field("text")) else {
        let note = submitted(command).then_some("Please choose the chat and say what to whisper.");
        let form = form(ask.command.name(), lent, command);
        return ask.form(lent.out, form, note);
    };
    let staff = live_chat(lent, room).and_then(|room| {
        let jid = lent.rooms[&room].room.staff_jid()?;
        Some((room.clone(), BareJid::new(jid).ok()?))
    });
    let Some((room, staff)) = staff else {
        let text = "There is no chat going on in this room.";
        return ask.outcome(lent.out, NoteType::Warn, text, "no-chat");
    };
    let from = signed(command.field("name"), &ask.to);
    let payload = with_attr(
        with_attr(
            Element::builder("whisper", NS_SUPERVISE),
            "room",
            room.to_string(),
        ),
        "from",
        from.clone(),
    )
    .append(text.to_string())
    .build();
    let body = format!("Supervisor {from} whispers: {text}");
    lent.out.send(headline(Jid::from(staff), body, payload));
    record(
        lent,
        &room,
        Supervision::Whisper,
        &ask.to,
        Some(text.into()),
    );
    let note = "Your whisper was sent to the staff member of the chat.";
    ask.outcome(lent.out, NoteType::Info, note, "sent")
}
