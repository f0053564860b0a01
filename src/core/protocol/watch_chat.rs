//! `watch-chat` (supervisors): the supervisor's session gets each line of a chat as the bot
//! records it, the stored ones first (oldest first), until they stop, the chat ends or their
//! session goes (docs/protocol.md "Supervision"). Nothing is sent to the room: the bot is inside
//! already, and the occupants never see a watcher. Each watch begun is recorded.

use xmpp_parsers::jid::BareJid;

use super::supervision::{self, line_headline, live_chat, record};
use super::{refill, submitted, Ask, Lent, Protocol, Step};
use crate::core::effects::{Line, Query};
use crate::core::types::Supervision;
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};

/// The chats to choose from: label and room JID.
pub(super) fn chat_options(lent: &Lent) -> Vec<(String, String)> {
    let mut options: Vec<_> = lent
        .rooms
        .iter()
        .filter(|(_, e)| supervision::is_chat(e))
        .map(|(jid, e)| {
            let staff = e.room.staff_nick().unwrap_or("?");
            let visitor = e.room.client_nick().unwrap_or("?");
            (format!("{staff} with {visitor}"), jid.to_string())
        })
        .collect();
    options.sort_by(|a, b| a.1.cmp(&b.1));
    options
}

/// The form: which chat, start or stop; with the values of `submitted`.
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
            FormField::new("action", "list-single", "Watch", "start").options(vec![
                ("Start watching".into(), "start".into()),
                ("Stop watching".into(), "stop".into()),
            ]),
            submitted,
        ))
}

/// Starts or stops a watch.
pub fn start(p: &mut Protocol, ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let Some(room) = command.field("room") else {
        let note = submitted(command).then_some("Please choose the chat.");
        let form = form(ask.command.name(), lent, command);
        return ask.form(lent.out, form, note);
    };
    match command.field("action").unwrap_or("start") {
        "stop" => {
            if let Ok(room) = BareJid::new(room) {
                p.watches.stop(&ask.to, &room);
            }
            let text = "You no longer watch this chat.";
            ask.outcome(lent.out, NoteType::Info, text, "stopped")
        }
        "start" => {
            let Some(room) = live_chat(lent, room) else {
                let text = "There is no chat going on in this room.";
                return ask.outcome(lent.out, NoteType::Warn, text, "no-chat");
            };
            // The lines recorded so far are read from the database (after their writes); those
            // recorded from now on are held back until then.
            let upto = lent.rooms[&room].next_seq - 1;
            p.watches.start(&ask.to, &room, upto);
            record(lent, &room, Supervision::Watch, &ask.to, None);
            let query = Query::Transcript {
                room: room.to_string(),
                upto,
            };
            ask.query(lent.out, query, Step::Watch { room })
        }
        _ => {
            let problem = "Please choose to start or to stop watching.";
            let form = form(ask.command.name(), lent, command);
            ask.retry(lent.out, form, problem, Some("bad-action"))
        }
    }
}

/// The earlier lines are read: the supervisor is answered, then gets them, then what came
/// meanwhile.
pub fn read(p: &mut Protocol, ask: Ask, room: BareJid, lines: &[Line], lent: &mut Lent) {
    let Some(reading) = p.watches.read(&ask.to, &room) else {
        // Stopped, or the session went, before the lines were read.
        let text = "You no longer watch this chat.";
        return ask.outcome(lent.out, NoteType::Info, text, "stopped");
    };
    let text = "You are watching this chat: its lines follow, the earlier ones first.";
    ask.outcome(lent.out, NoteType::Info, text, "watching");
    for line in lines.iter().filter(|l| l.seq <= reading.upto) {
        lent.out.send(line_headline(&ask.to, &room, line, true));
    }
    for held in reading.held {
        lent.out.send(held);
    }
}
