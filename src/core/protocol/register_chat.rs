//! `register-chat` (staff): the registration of a chat after it ended (SPEC §14). Its form asks
//! which chat (`room`: the asker's chats that ended within [`REGISTER_DAYS`] days and are not
//! registered yet, newest first) and the help line's registration questions
//! (`[[questions.registration]]`, fields `q-<var>`, English); a hidden `unregistered` says how
//! many such chats there are, for the console's reminder. With none: `completed`, status `none`.
//! A submitted form stores a `registrations` row and its answers: status `registered`, or
//! `already` for a chat registered before. A missing or wrong answer, no chat chosen, or a chat
//! that is not one of the asker's to register shows the form again with the problem.
//!
//! Which chats are the asker's is the database's to say (`rooms.staff_jid`: the staff seat when
//! the chat ended, so a handover makes it the colleague's), as the rooms are gone from the bot
//! once closed.

use super::{clock, how_long, question_answers, refill, submitted, Ask, Lent, Step};
use crate::core::effects::{EndedChat, Query, Stored};
use crate::i18n::Words;
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};

/// Chats that ended at most this many days ago (by their start) may be registered.
pub const REGISTER_DAYS: i64 = 7;

/// The earliest start of a chat that may be registered now.
fn since(lent: &Lent) -> crate::core::types::Time {
    lent.now - chrono::Duration::days(REGISTER_DAYS)
}

/// Asks the database for the asker's ended chats; the form or the registration follows.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let query = Query::EndedChats {
        staff: ask.to.to_bare().to_string(),
        since: since(lent),
    };
    let step = Step::RegisterList {
        command: command.clone(),
    };
    ask.query(lent.out, query, step);
}

/// The words staff read: English where the catalogs have it (yes and no of a yes-no question).
fn staff_words(lent: &Lent) -> Words {
    Words::choose(&lent.settings.catalogs, Some("en"))
}

/// How the chat is named in the list: "Sam — exams, ended 14:02" while the visitor's names are
/// known, else "Chat that ended 14:02 (12 min)".
fn chat_label(chat: &EndedChat, lent: &Lent) -> String {
    let ended = clock(lent.settings, lent.now, chat.ended);
    match chat.nick.as_deref() {
        Some(nick) => format!(
            "{}, ended {ended}",
            super::chat_name(nick, chat.topic.as_deref())
        ),
        None => format!(
            "Chat that ended {ended} ({})",
            how_long(chat.ended, chat.began)
        ),
    }
}

/// The form: the chats to register, the questions, how many are unregistered; with the values
/// of `submitted`.
fn form(ask: &Ask, chats: &[&EndedChat], submitted: &CommandRequest, lent: &Lent) -> Form {
    let options = chats
        .iter()
        .map(|c| (chat_label(c, lent), c.room.clone()))
        .collect();
    let only = match chats {
        [one] => one.room.as_str(),
        _ => "",
    };
    let mut form = Form::new("form", ask.command.name())
        .field(refill(
            FormField::new("room", "list-single", "Chat", only)
                .options(options)
                .required(),
            submitted,
        ))
        .field(FormField::new(
            "unregistered",
            "hidden",
            "",
            &chats.len().to_string(),
        ));
    let words = staff_words(lent);
    for q in &lent.settings.questions.registration {
        form = form.field(refill(q.field(&words, "en"), submitted));
    }
    form.instructions = Some(match chats.len() {
        1 => "1 chat of yours is not registered yet.".to_string(),
        n => format!("{n} chats of yours are not registered yet."),
    });
    form
}

/// The asker's ended chats are read: the form, or the registration of the chat chosen.
pub fn listed(ask: Ask, command: CommandRequest, chats: &[EndedChat], lent: &mut Lent) {
    let open: Vec<&EndedChat> = chats.iter().filter(|c| !c.registered).collect();
    if !submitted(&command) {
        if open.is_empty() {
            let form = ask
                .result("none")
                .field(FormField::new("unregistered", "hidden", "", "0"));
            let text = "Every chat of yours is registered.";
            return ask.done(lent.out, NoteType::Info, text, form);
        }
        let form = form(&ask, &open, &command, lent);
        return ask.form(lent.out, form, None);
    }
    let Some(room) = command.field("room") else {
        let form = form(&ask, &open, &command, lent);
        return ask.retry(lent.out, form, "Please choose the chat.", Some("no-room"));
    };
    match chats.iter().find(|c| c.room == room) {
        Some(chat) if chat.registered => {
            return ask.outcome(
                lent.out,
                NoteType::Info,
                "This chat is registered already.",
                "already",
            )
        }
        Some(_) => {}
        None => {
            tracing::info!(from = %ask.to, room, "a registration of a chat that is not the staff member's to register");
            let problem = format!(
                "That chat is not one of yours to register: choose one of your chats that \
                 ended in the last {REGISTER_DAYS} days."
            );
            let form = form(&ask, &open, &command, lent);
            return ask.retry(lent.out, form, &problem, Some("no-chat"));
        }
    }
    let words = staff_words(lent);
    let questions = &lent.settings.questions.registration;
    let answers = match question_answers(questions, &command, &words, "en") {
        Ok(answers) => answers,
        Err((problem, status)) => {
            let form = form(&ask, &open, &command, lent);
            return ask.retry(lent.out, form, &problem, status);
        }
    };
    let query = Query::Register {
        room: room.to_string(),
        staff: ask.to.to_bare().to_string(),
        since: since(lent),
        at: lent.now,
        answers,
    };
    let unregistered = open.len().saturating_sub(1);
    ask.query(lent.out, query, Step::Register { unregistered });
}

/// The registration is stored (or was already, or the chat is no longer to register).
pub fn registered(ask: Ask, stored: Stored, unregistered: usize, lent: &mut Lent) {
    let (note, text, status) = match stored {
        Stored::Done => (NoteType::Info, "The chat is registered.", "registered"),
        Stored::Already => (
            NoteType::Info,
            "This chat is registered already.",
            "already",
        ),
        Stored::NoChat => (
            NoteType::Warn,
            "That chat is no longer one of yours to register.",
            "no-chat",
        ),
    };
    let left = if stored == Stored::Done {
        unregistered
    } else {
        unregistered + 1
    };
    let form = ask.result(status).field(FormField::new(
        "unregistered",
        "hidden",
        "",
        &left.to_string(),
    ));
    ask.done(lent.out, note, text, form);
}
