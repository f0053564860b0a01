//! The help line's questions (SPEC §14): those a visitor answers before the chat
//! (`request-chat`), those a staff member answers after it (`register-chat`) and the visitor's
//! feedback (`feedback`). Each is configured in `bot.toml` (`[[questions.before]]`,
//! `[[questions.registration]]`, `[[questions.feedback]]`); this module holds their shape, the
//! form field each becomes in a language, and the check of an answer. Question fields are named
//! `q-<var>` in every form, apart from a command's own fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::i18n::Words;
use crate::xmpp::adhoc::FormField;

/// The prefix of a question's field in a form.
pub const FIELD_PREFIX: &str = "q-";
/// The longest free-text answer accepted.
pub const MAX_TEXT: usize = 300;
/// At most this many questions in each list.
pub const MAX_QUESTIONS: usize = 10;

/// What kind of answer a question takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One of the configured `options`.
    Choice,
    /// `yes` or `no` (a list of two, never a check box: an unticked box cannot say "not
    /// answered").
    YesNo,
    /// Short free text (at most [`MAX_TEXT`] characters), never kept past the chat.
    Text,
}

/// Words for people: the same in every language (a plain string) or by language tag
/// (`{ en = "…", nl = "…" }`; a language without its own falls back to the help line's default).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Label {
    /// The same words in every language.
    Same(String),
    /// Words by language tag.
    ByLanguage(BTreeMap<String, String>),
}

impl Default for Label {
    fn default() -> Self {
        Label::Same(String::new())
    }
}

impl Label {
    /// The words in `lang`, else in `default`, else any.
    pub fn get(&self, lang: &str, default: &str) -> &str {
        match self {
            Label::Same(s) => s,
            Label::ByLanguage(map) => map
                .get(lang)
                .or_else(|| map.get(default))
                .or_else(|| map.values().next())
                .map_or("", String::as_str),
        }
    }

    /// True when there are words for `lang` (or the same words for all).
    pub fn has(&self, lang: &str) -> bool {
        match self {
            Label::Same(s) => !s.is_empty(),
            Label::ByLanguage(map) => map.get(lang).is_some_and(|s| !s.is_empty()),
        }
    }
}

/// One option of a [`Kind::Choice`] question.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The value stored and counted (`[a-z0-9-]`).
    pub value: String,
    /// Its words for people.
    pub label: Label,
}

/// One configured question.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Its name (`[a-z][a-z0-9-]*`, unique in its list); the form field is `q-<var>`.
    pub var: String,
    /// What kind of answer it takes.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The question, for people.
    pub label: Label,
    /// Whether it must be answered.
    #[serde(default)]
    pub required: bool,
    /// The options of a choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    /// Questions before the chat: the answer (an option's value, or `yes`/`no`) that gives the
    /// visitor priority in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Choice and yes/no answers kept for the reports after the queue row (or, for a
    /// registration, the transcript) is erased; free text never is.
    #[serde(default)]
    pub statistics: bool,
}

/// An answer that cannot be taken, for the person to correct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required question was not answered.
    Missing,
    /// The answer is not one of the options.
    NotAnOption,
    /// The text is longer than [`MAX_TEXT`].
    TooLong,
}

impl Question {
    /// Its form field's `var`.
    pub fn field_var(&self) -> String {
        format!("{FIELD_PREFIX}{}", self.var)
    }

    /// The options as (value, label) in `lang`: a choice's, or yes and no from the catalogs.
    pub fn options_in(&self, words: &Words, default: &str) -> Vec<(String, String)> {
        match self.kind {
            Kind::Choice => self
                .options
                .iter()
                .map(|o| (o.value.clone(), o.label.get(words.tag(), default).into()))
                .collect(),
            Kind::YesNo => vec![
                ("yes".into(), words.get("answer-yes")),
                ("no".into(), words.get("answer-no")),
            ],
            Kind::Text => Vec::new(),
        }
    }

    /// Its form field in the language of `words` (`default`: the help line's default tag).
    pub fn field(&self, words: &Words, default: &str) -> FormField {
        let label = self.label.get(words.tag(), default);
        let field = match self.kind {
            Kind::Text => FormField::new(&self.field_var(), "text-single", label, ""),
            Kind::Choice | Kind::YesNo => {
                // FormField::options takes (label, value).
                let options = self
                    .options_in(words, default)
                    .into_iter()
                    .map(|(value, label)| (label, value))
                    .collect();
                FormField::new(&self.field_var(), "list-single", label, "").options(options)
            }
        };
        if self.required {
            field.required()
        } else {
            field
        }
    }

    /// Checks `answer` (trimmed; `None` or empty: not answered): the value to store, `None` when
    /// unanswered and optional, or what is wrong.
    pub fn check(&self, answer: Option<&str>) -> Result<Option<String>, Problem> {
        let answer = answer.map(str::trim).filter(|a| !a.is_empty());
        let Some(answer) = answer else {
            return if self.required {
                Err(Problem::Missing)
            } else {
                Ok(None)
            };
        };
        match self.kind {
            Kind::Text if answer.chars().count() > MAX_TEXT => Err(Problem::TooLong),
            Kind::Text => Ok(Some(answer.to_string())),
            Kind::YesNo if answer == "yes" || answer == "no" => Ok(Some(answer.to_string())),
            Kind::Choice if self.options.iter().any(|o| o.value == answer) => {
                Ok(Some(answer.to_string()))
            }
            Kind::YesNo | Kind::Choice => Err(Problem::NotAnOption),
        }
    }

    /// True when its answer is kept for the reports (a choice or yes/no marked `statistics`).
    pub fn kept(&self) -> bool {
        self.statistics && self.kind != Kind::Text
    }

    /// Checks the question itself (`check-config`): its name, options, priority rule and words
    /// (in `langs` when given: the help line's languages, for the visitors' questions).
    pub fn validate(&self, langs: &[&str]) -> Result<(), String> {
        let name_ok = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && s.len() <= 32
        };
        if !name_ok(&self.var) {
            return Err(format!(
                "{:?} is not a question name such as \"safe\" (a-z, 0-9 and -, at most 32)",
                self.var
            ));
        }
        match self.kind {
            Kind::Choice if self.options.len() < 2 => {
                return Err(format!("{}: a choice needs at least two options", self.var))
            }
            Kind::YesNo | Kind::Text if !self.options.is_empty() => {
                return Err(format!("{}: only a choice has options", self.var))
            }
            _ => {}
        }
        let mut seen = std::collections::BTreeSet::new();
        for o in &self.options {
            if o.value.is_empty()
                || !o
                    .value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!(
                    "{}: {:?} is not an option value such as \"school\" (a-z, 0-9 and -)",
                    self.var, o.value
                ));
            }
            if !seen.insert(&o.value) {
                return Err(format!("{}: option {:?} twice", self.var, o.value));
            }
        }
        if let Some(p) = &self.priority {
            if self.check(Some(p)).is_err() || self.kind == Kind::Text {
                return Err(format!(
                    "{}: priority {p:?} is not one of its answers (an option's value, or yes or no)",
                    self.var
                ));
            }
        }
        if self.statistics && self.kind == Kind::Text {
            return Err(format!(
                "{}: free text is never kept, so it cannot be marked statistics",
                self.var
            ));
        }
        let labels = std::iter::once(&self.label).chain(self.options.iter().map(|o| &o.label));
        for label in labels {
            if langs.is_empty() {
                if !label.has("") && matches!(label, Label::Same(_)) {
                    return Err(format!("{}: a label is empty", self.var));
                }
            } else if let Some(missing) = langs.iter().find(|l| !label.has(l)) {
                return Err(format!(
                    "{}: a label has no words in {missing:?} (give every language of the catalogs, or one string for all)",
                    self.var
                ));
            }
        }
        Ok(())
    }
}

/// The help line's questions (`[questions]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Questions {
    /// Asked of the visitor with `request-chat`.
    pub before: Vec<Question>,
    /// Asked of the staff member after the chat (`register-chat`); staff words are English.
    pub registration: Vec<Question>,
    /// Asked of the visitor after the chat (`feedback`).
    pub feedback: Vec<Question>,
}

impl Questions {
    /// Checks every list: each question, unique names, at most [`MAX_QUESTIONS`]. Errors name
    /// the list and the question.
    pub fn validate(&self, visitor_langs: &[&str]) -> Result<(), (String, String)> {
        for (key, list, langs) in [
            ("before", &self.before, visitor_langs),
            ("registration", &self.registration, &[][..]),
            ("feedback", &self.feedback, visitor_langs),
        ] {
            if list.len() > MAX_QUESTIONS {
                return Err((key.into(), format!("at most {MAX_QUESTIONS} questions")));
            }
            let mut names = std::collections::BTreeSet::new();
            for q in list {
                q.validate(langs).map_err(|e| (key.to_string(), e))?;
                if !names.insert(&q.var) {
                    return Err((key.into(), format!("question {:?} twice", q.var)));
                }
                if key != "before" && q.priority.is_some() {
                    return Err((
                        key.into(),
                        format!("{}: only a question before the chat gives priority", q.var),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe() -> Question {
        Question {
            var: "safe".into(),
            kind: Kind::YesNo,
            label: Label::ByLanguage(
                [("en".to_string(), "Are you safe right now?".to_string())].into(),
            ),
            required: true,
            options: Vec::new(),
            priority: Some("no".into()),
            statistics: true,
        }
    }

    #[test]
    fn answers_are_checked_against_the_question() {
        let q = safe();
        assert_eq!(q.check(Some(" no ")), Ok(Some("no".into())));
        assert_eq!(q.check(Some("")), Err(Problem::Missing));
        assert_eq!(q.check(Some("maybe")), Err(Problem::NotAnOption));
        let text = Question {
            kind: Kind::Text,
            required: false,
            priority: None,
            statistics: false,
            ..safe()
        };
        assert_eq!(text.check(None), Ok(None));
        assert_eq!(
            text.check(Some(&"x".repeat(MAX_TEXT + 1))),
            Err(Problem::TooLong)
        );
    }

    #[test]
    fn a_question_that_cannot_work_is_refused_with_its_name() {
        assert!(safe().validate(&["en"]).is_ok());
        let e = safe().validate(&["en", "nl"]).unwrap_err();
        assert!(e.contains("safe") && e.contains("\"nl\""), "{e}");
        let e = Question {
            priority: Some("perhaps".into()),
            ..safe()
        }
        .validate(&["en"])
        .unwrap_err();
        assert!(e.contains("priority"), "{e}");
        let e = Question {
            kind: Kind::Text,
            priority: None,
            ..safe()
        }
        .validate(&["en"])
        .unwrap_err();
        assert!(e.contains("never kept"), "{e}");
    }
}
