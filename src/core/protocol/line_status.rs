//! `line-status` (visitors): is the help line open, and if not, why and when it opens — asked by
//! a visitor's page on arrival, before anyone types a thing. Counts nothing and names nobody.
//! The same answer decides `request-chat` and the staff's `status`, and `/status` over HTTP.

use super::{Ask, Lent, Protocol};
use crate::core::settings::Settings;
use crate::core::tally::Tally;
use crate::core::types::{Closed, LineStatus, Time};
use crate::i18n::Words;
use crate::xmpp::adhoc::NoteType;

impl Protocol {
    /// Whether the help line takes new visitors at `now`: inside its hours (if it has any) and
    /// with someone on duty.
    pub fn line_status(&self, settings: &Settings, tally: &Tally, now: Time) -> LineStatus {
        let hours = settings.hours.as_ref();
        if hours.is_some_and(|h| !h.is_open(now)) {
            return LineStatus {
                closed: Some(Closed::OutsideHours),
                next_opening: hours.and_then(|h| h.next_opening(now)),
                closes_at: None,
            };
        }
        LineStatus {
            closed: (self.staff_on_duty(tally) == 0).then_some(Closed::NoStaff),
            next_opening: None,
            closes_at: hours.and_then(|h| h.closes_at(now)),
        }
    }
}

/// The words of a closed help line, for people, with the next opening (UTC) when known.
pub fn closed_text(words: &Words, status: &LineStatus) -> String {
    use chrono::Datelike;
    match (status.closed, status.next_opening) {
        (Some(Closed::OutsideHours), Some(t)) => {
            let weekday = words.with(
                "weekday",
                &[("day", i64::from(t.weekday().number_from_monday()).into())],
            );
            let month = words.with("month", &[("month", i64::from(t.month()).into())]);
            words.with(
                "closed-until",
                &[
                    ("weekday", weekday.into()),
                    ("day", i64::from(t.day()).into()),
                    ("month", month.into()),
                    ("time", t.format("%H:%M").to_string().into()),
                ],
            )
        }
        (Some(Closed::OutsideHours), None) => words.get("closed-outside-hours"),
        _ => words.get("closed-no-staff"),
    }
}

/// A time for a result form: RFC 3339 to the second, UTC; empty for none.
pub fn form_time(t: Option<Time>) -> String {
    t.map_or(String::new(), crate::xmpp::stanza::stamp)
}

/// Answers at once.
pub fn start(p: &Protocol, ask: Ask, lent: &mut Lent) {
    let status = p.line_status(lent.settings, lent.tally, lent.now);
    let form = ask
        .result(if status.open() { "open" } else { "closed" })
        .value("open", &ask.t("label-open"), status.open())
        .value(
            "reason",
            &ask.t("label-reason"),
            status.closed.map_or("", Closed::as_str),
        )
        .value(
            "next-opening",
            &ask.t("label-next-opening"),
            form_time(status.next_opening),
        );
    let text = if status.open() {
        ask.t("open")
    } else {
        closed_text(&ask.words, &status)
    };
    ask.done(lent.out, NoteType::Info, &text, form)
}
