//! `request-chat` (visitors): queue for a chat. Its form asks a nick (required), a topic and the
//! visitor key (hidden); the answer says the place in line, or why not: the help line is closed,
//! the queue is full, the key is blocked. A submitted form without a nick, or with a nick or
//! topic too long, is shown again with what was filled in and the problem; a key too short (the
//! page's mistake, not the person's) is a `bad-request`.
//!
//! The help line's questions before the chat (`[[questions.before]]`, SPEC §14) follow as
//! fields `q-<var>` in the asker's language; an answer that cannot be taken shows the form again
//! the same way. An answer equal to a question's `priority` value puts the visitor ahead of
//! those without, and staff see why (the question and answer in the help line's default
//! language).

use xmpp_parsers::stanza_error::DefinedCondition;

use super::line_status::{closed_text, form_time};
use super::{refill, submitted, visitor_label, Ask, Lent, Protocol, Pushed, Step, MIN_KEY_LEN};
use crate::core::effects::Query;
use crate::core::questions::{Problem, Questions};
use crate::core::queue::Enqueued;
use crate::core::settings::Settings;
use crate::i18n::Words;
use crate::xmpp::adhoc::{self, CommandRequest, Form, FormField, NoteType};

/// The longest nick accepted.
const MAX_NICK: usize = 64;
/// The longest topic accepted.
const MAX_TOPIC: usize = 300;

/// The form, blank or with the values of `submitted`, in the asker's language.
fn form(ask: &Ask, submitted: &CommandRequest, settings: &Settings) -> Form {
    let mut form = Form::new("form", &ask.title())
        .field(refill(
            FormField::new("nick", "text-single", &ask.t("form-nick"), "").required(),
            submitted,
        ))
        .field(refill(
            FormField::new("topic", "text-single", &ask.t("form-topic"), ""),
            submitted,
        ))
        .field(refill(FormField::new("key", "hidden", "", ""), submitted));
    let default = default_words(settings);
    for q in &settings.questions.before {
        form = form.field(refill(q.field(&ask.words, default.tag()), submitted));
    }
    form.instructions = Some(ask.t("form-instructions"));
    form
}

/// The words of the help line's default language: staff see the answers in them.
pub fn default_words(settings: &Settings) -> Words {
    Words::new(&settings.catalogs, settings.catalogs.default_lang())
}

/// The answers to the questions before the chat, checked, and the priority they give.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answered {
    /// Question, answer, kept for the reports.
    pub answers: Vec<(String, String, bool)>,
    /// Why the visitor has priority (none: they have not): "question: answer" in the default
    /// language, joined by "; ".
    pub reason: Option<String>,
}

/// The words of answer `answer` to question `var` in `words`' language (an option's label, yes
/// or no; free text as given), with the question's label: for staff.
pub fn answer_words(
    questions: &Questions,
    var: &str,
    answer: &str,
    words: &Words,
) -> Option<(String, String)> {
    let q = questions.before.iter().find(|q| q.var == var)?;
    let default = words.tag();
    let label = q.label.get(default, default).to_string();
    let said = q
        .options_in(words, default)
        .into_iter()
        .find(|(value, _)| value == answer)
        .map_or_else(|| answer.to_string(), |(_, label)| label);
    Some((label, said))
}

/// Checks every question before the chat against `command`: the answers and the priority, or
/// the problem to show (in the asker's words) with the status for pages.
fn answers(
    questions: &Questions,
    command: &CommandRequest,
    words: &Words,
    default: &Words,
) -> Result<Answered, (String, Option<&'static str>)> {
    let mut answered = Answered::default();
    let mut reasons = Vec::new();
    for q in &questions.before {
        let label = q.label.get(words.tag(), default.tag()).to_string();
        let answer = match q.check(command.field(&q.field_var())) {
            Ok(Some(answer)) => answer,
            Ok(None) => continue,
            Err(Problem::Missing) => {
                let text = words.with("form-need-answer", &[("question", label.into())]);
                return Err((text, None));
            }
            Err(Problem::NotAnOption) => {
                let text = words.with("form-not-an-option", &[("question", label.into())]);
                return Err((text, None));
            }
            Err(Problem::TooLong) => {
                let args = [
                    ("question", label.into()),
                    ("max", crate::core::questions::MAX_TEXT.into()),
                ];
                return Err((words.with("too-long-answer", &args), Some("too-long")));
            }
        };
        if q.priority.as_deref() == Some(answer.as_str()) {
            if let Some((question, said)) = answer_words(questions, &q.var, &answer, default) {
                reasons.push(format!("{question}: {said}"));
            }
        }
        answered.answers.push((q.var.clone(), answer, q.kept()));
    }
    answered.reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    Ok(answered)
}

/// Checks the form and queues the visitor.
pub fn start(p: &Protocol, ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let Some(nick) = command.field("nick") else {
        let note = submitted(command).then(|| ask.t("form-need-nick"));
        return ask.form(
            lent.out,
            form(&ask, command, lent.settings),
            note.as_deref(),
        );
    };
    let key = command.field("key");
    let topic = command.field("topic");
    let w = &ask.words;
    // A name or topic too long the person can shorten: the form again, saying so. A key too
    // short is the page's mistake, never the person's: refused.
    let too_long = if nick.chars().count() > MAX_NICK {
        Some(w.with("too-long-nick", &[("max", MAX_NICK.into())]))
    } else if topic.is_some_and(|t| t.chars().count() > MAX_TOPIC) {
        Some(w.with("too-long-topic", &[("max", MAX_TOPIC.into())]))
    } else {
        None
    };
    if let Some(problem) = too_long {
        return ask.retry(
            lent.out,
            form(&ask, command, lent.settings),
            &problem,
            Some("too-long"),
        );
    }
    if key.is_some_and(|k| k.len() < MIN_KEY_LEN) {
        let text = w.with("too-short-key", &[("min", MIN_KEY_LEN.into())]);
        return ask.error(lent.out, DefinedCondition::BadRequest, &text);
    }
    let default = default_words(lent.settings);
    // Answers that cannot be taken: the form again, unless the visitor is in line already (a
    // page refreshed while waiting keeps the name, topic and key, never the answers, SPEC §12):
    // then their row and place, without being asked again.
    let (answered, retry) = match answers(&lent.settings.questions, command, &ask.words, &default) {
        Ok(answered) => (answered, None),
        Err((problem, status)) if key.is_some() => (
            Answered::default(),
            Some(Box::new((command.clone(), problem, status))),
        ),
        Err((problem, status)) => {
            return ask.retry(
                lent.out,
                form(&ask, command, lent.settings),
                &problem,
                status,
            );
        }
    };
    let status = p.line_status(lent.settings, lent.tally, lent.now);
    if let Some(closed) = status.closed {
        let form = ask
            .result("closed")
            .value("reason", &ask.t("label-reason"), closed.as_str())
            .value(
                "next-opening",
                &ask.t("label-next-opening"),
                form_time(status.next_opening),
            );
        let text = closed_text(&ask.words, &status);
        return ask.done(lent.out, NoteType::Warn, &text, form);
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
        priority: i64::from(answered.reason.is_some()),
        priority_reason: answered.reason,
        answers: answered.answers,
        unanswered: retry.is_some(),
    };
    ask.query(lent.out, query, Step::RequestChat { retry });
}

/// The visitor is queued (or not): their place, or why not.
pub fn answered(
    p: &mut Protocol,
    ask: Ask,
    queued: Enqueued,
    position: i64,
    retry: Option<Box<(CommandRequest, String, Option<&'static str>)>>,
    lent: &mut Lent,
) {
    if let Enqueued::Queued(_) = queued {
        lent.queue.joined();
    }
    match queued {
        Enqueued::Queued(id) | Enqueued::AlreadyQueued(id) => {
            let place = p.place(position, super::free_rooms(lent), lent.now);
            // Pushes and the invitation go in the language of this, the last request.
            p.pushed.insert(
                id,
                Pushed {
                    position,
                    at: lent.now,
                    lang: ask.words.lang(),
                },
            );
            tracing::info!(queue_id = id, position, "a visitor over XMPP is queued");
            let mut form = ask
                .result("queued")
                .value("queue-id", &ask.t("label-queue-id"), id)
                .value("position", &ask.t("label-position"), position);
            if let Some(e) = place.estimate {
                form = form.value("estimate", &ask.t("label-estimate"), e);
            }
            if place.soon {
                form = form.value("soon", &ask.t("label-soon"), true);
            }
            let text = adhoc::place_text(&ask.words, &place);
            ask.done(lent.out, NoteType::Info, &text, form)
        }
        Enqueued::Unanswered => {
            let (command, problem, status) = *retry.expect("asked only with the problem");
            let form = form(&ask, &command, lent.settings);
            ask.retry(lent.out, form, &problem, status)
        }
        Enqueued::Full => {
            let text = ask.t("busy");
            ask.outcome(lent.out, NoteType::Warn, &text, "busy")
        }
        Enqueued::Blocked => {
            tracing::warn!(target: "helpim_bot::security", domain = %ask.to.domain(), "refusing a chat to a blocked visitor key");
            let text = ask.t("blocked");
            ask.outcome(lent.out, NoteType::Error, &text, "blocked")
        }
    }
}
