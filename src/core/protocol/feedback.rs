//! `feedback` (visitors): the visitor's answers to the help line's questions after the chat
//! (`[[questions.feedback]]`, SPEC §14). Its form carries the visitor key and the room of the
//! chat (both hidden: the page fills them in) and one field `q-<var>` per question in the
//! asker's language. A submitted form is stored by room only, never with the visitor's identity
//! (the key is only compared with the chat's queue row), if the chat was theirs and began within
//! [`FEEDBACK_HOURS`] hours: status `thanks`; `already` a second time; `no-chat` otherwise. A
//! missing or wrong answer shows the form again with the problem. With no questions configured:
//! `completed`, status `none`.

use super::{question_answers, refill, submitted, visitor_label, Ask, Lent, Step};
use crate::core::effects::{Query, Stored};
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};

/// Feedback is taken for a chat that began at most this many hours ago.
pub const FEEDBACK_HOURS: i64 = 24;

/// The form in the asker's language, with the values of `submitted`.
fn form(ask: &Ask, submitted: &CommandRequest, lent: &Lent) -> Form {
    let default = lent.settings.catalogs.default_lang();
    let default = crate::i18n::Words::new(&lent.settings.catalogs, default);
    let mut form = Form::new("form", &ask.title())
        .field(refill(FormField::new("key", "hidden", "", ""), submitted))
        .field(refill(FormField::new("room", "hidden", "", ""), submitted));
    for q in &lent.settings.questions.feedback {
        form = form.field(refill(q.field(&ask.words, default.tag()), submitted));
    }
    form.instructions = Some(ask.t("feedback-instructions"));
    form
}

/// The form, or the answers checked and stored.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let questions = &lent.settings.questions.feedback;
    if questions.is_empty() {
        let text = ask.t("feedback-none");
        return ask.outcome(lent.out, NoteType::Info, &text, "none");
    }
    if !submitted(command) {
        let form = form(&ask, command, lent);
        return ask.form(lent.out, form, None);
    }
    let default = lent.settings.catalogs.default_lang();
    let default = crate::i18n::Words::new(&lent.settings.catalogs, default);
    let answers = match question_answers(questions, command, &ask.words, default.tag()) {
        Ok(answers) => answers,
        Err((problem, status)) => {
            let form = form(&ask, command, lent);
            return ask.retry(lent.out, form, &problem, status);
        }
    };
    let Some(room) = command.field("room") else {
        return stored(ask, Stored::NoChat, lent);
    };
    // The visitor is known as request-chat knew them: their key, else their session.
    let label = visitor_label(command.field("key").unwrap_or(&ask.to.to_string()));
    let query = Query::Feedback {
        room: room.to_string(),
        label,
        since: lent.now - chrono::Duration::hours(FEEDBACK_HOURS),
        at: lent.now,
        answers,
    };
    ask.query(lent.out, query, Step::Feedback);
}

/// The feedback is stored, or was already, or there is no such chat of the visitor's.
pub fn stored(ask: Ask, stored: Stored, lent: &mut Lent) {
    let (note, key, status) = match stored {
        Stored::Done => (NoteType::Info, "feedback-thanks", "thanks"),
        Stored::Already => (NoteType::Info, "feedback-already", "already"),
        Stored::NoChat => (NoteType::Warn, "feedback-no-chat", "no-chat"),
    };
    let text = ask.t(key);
    ask.outcome(lent.out, note, &text, status);
}
