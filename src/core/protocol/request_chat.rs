//! `request-chat` (visitors): queue for a chat. Its form asks a nick (required), a topic and the
//! visitor key (hidden); the answer says the place in line, or why not: the help line is closed,
//! the queue is full, the key is blocked. A submitted form without a nick is shown again with
//! what was filled in; a value that cannot be taken (too long, a key too short) is a
//! `bad-request` naming the field.

use xmpp_parsers::stanza_error::DefinedCondition;

use super::line_status::{closed_text, form_time};
use super::{refill, submitted, visitor_label, Ask, Lent, Protocol, Pushed, Step, MIN_KEY_LEN};
use crate::core::effects::Query;
use crate::core::queue::Enqueued;
use crate::xmpp::adhoc::{self, CommandRequest, Form, FormField, NoteType};

/// The longest nick accepted.
const MAX_NICK: usize = 64;
/// The longest topic accepted.
const MAX_TOPIC: usize = 300;

/// The form, blank or with the values of `submitted`.
fn form(submitted: &CommandRequest) -> Form {
    let mut form = Form::new("form", "Request a chat")
        .field(refill(
            FormField::new("nick", "text-single", "Your name (any name)", "").required(),
            submitted,
        ))
        .field(refill(
            FormField::new(
                "topic",
                "text-single",
                "What would you like to talk about?",
                "",
            ),
            submitted,
        ))
        .field(refill(FormField::new("key", "hidden", "", ""), submitted));
    form.instructions = Some("A staff member will chat with you as soon as one is free.".into());
    form
}

/// Checks the form and queues the visitor.
pub fn start(p: &Protocol, ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let Some(nick) = command.field("nick") else {
        let note = submitted(command).then_some("Please give a name: any name will do.");
        return ask.form(lent.out, form(command), note);
    };
    let key = command.field("key");
    let topic = command.field("topic");
    let invalid = if nick.chars().count() > MAX_NICK {
        Some("The name (nick) is too long: at most 64 characters.")
    } else if topic.is_some_and(|t| t.chars().count() > MAX_TOPIC) {
        Some("The topic (topic) is too long: at most 300 characters.")
    } else if key.is_some_and(|k| k.len() < MIN_KEY_LEN) {
        Some("The visitor key (key) is too short: at least 22 characters (128 bits).")
    } else {
        None
    };
    if let Some(text) = invalid {
        return ask.error(lent.out, DefinedCondition::BadRequest, text);
    }
    let status = p.line_status(lent.settings, lent.tally, lent.now);
    if let Some(closed) = status.closed {
        let form = ask
            .result("closed")
            .value("reason", "Why closed", closed.as_str())
            .value(
                "next-opening",
                "Opens again",
                form_time(status.next_opening),
            );
        return ask.done(lent.out, NoteType::Warn, &closed_text(&status), form);
    }
    // Without a key the visitor cannot resume or be told apart later; their session is the
    // label then (still hashed: a JID is about a person too).
    let label = visitor_label(key.unwrap_or(&ask.to.to_string()));
    let query = Query::Enqueue {
        label,
        jid: ask.to.to_string(),
        nick: nick.to_string(),
        topic: topic.map(str::to_string),
        max_length: lent.settings.max_length,
    };
    ask.query(lent.out, query, Step::RequestChat);
}

/// The visitor is queued (or not): their place, or why not.
pub fn answered(p: &mut Protocol, ask: Ask, queued: Enqueued, position: i64, lent: &mut Lent) {
    if let Enqueued::Queued(_) = queued {
        lent.queue.joined();
    }
    match queued {
        Enqueued::Queued(id) | Enqueued::AlreadyQueued(id) => {
            let place = p.place(position, super::free_rooms(lent), lent.now);
            p.pushed.insert(
                id,
                Pushed {
                    position,
                    at: lent.now,
                },
            );
            tracing::info!(queue_id = id, position, "a visitor over XMPP is queued");
            let mut form = ask
                .result("queued")
                .value("queue-id", "Queue number", id)
                .value("position", "Place in line", position);
            if let Some(e) = place.estimate {
                form = form.value("estimate", "Estimated wait (seconds)", e);
            }
            if place.soon {
                form = form.value("soon", "A counsellor is about to join you", true);
            }
            ask.done(lent.out, NoteType::Info, &adhoc::place_text(&place), form)
        }
        Enqueued::Full => {
            let text =
                "All our staff are busy and the queue is full. Please try again a little later.";
            ask.outcome(lent.out, NoteType::Warn, text, "busy")
        }
        Enqueued::Blocked => {
            tracing::warn!(target: "helpim_bot::security", domain = %ask.to.domain(), "refusing a chat to a blocked visitor key");
            ask.outcome(
                lent.out,
                NoteType::Error,
                "We cannot start a chat with you.",
                "blocked",
            )
        }
    }
}
