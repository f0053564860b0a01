//! `line-status` (visitors): is the help line open, and if not, why and when it opens — asked by
//! a visitor's page on arrival, before anyone types a thing. Counts nothing and names nobody.
//! The same answer decides `request-chat` and the staff's `status`, and `/status` over HTTP.

use super::{Ask, Lent, Protocol};
use crate::core::settings::Settings;
use crate::core::tally::Tally;
use crate::core::types::{Closed, LineStatus, Time};
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

/// The words of a closed help line, for people.
pub fn closed_text(status: &LineStatus) -> String {
    let next = status.next_opening.map_or(String::new(), |t| {
        format!(" It opens again at {} (UTC).", t.format("%A %-d %B, %H:%M"))
    });
    match status.closed {
        Some(Closed::OutsideHours) => format!("The help line is closed now.{next}"),
        _ => "The help line is closed: nobody is on duty right now. Please try again later."
            .to_string(),
    }
}

/// A time for a result form: RFC 3339 to the second, UTC; empty for none.
pub fn form_time(t: Option<Time>) -> String {
    t.map_or(String::new(), |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

/// Answers at once.
pub fn start(p: &Protocol, ask: Ask, lent: &mut Lent) {
    let status = p.line_status(lent.settings, lent.tally, lent.now);
    let form = ask
        .result(if status.open() { "open" } else { "closed" })
        .value("open", "Open", status.open())
        .value(
            "reason",
            "Why closed",
            status.closed.map_or("", Closed::as_str),
        )
        .value(
            "next-opening",
            "Opens again",
            form_time(status.next_opening),
        );
    let text = if status.open() {
        "The help line is open.".to_string()
    } else {
        closed_text(&status)
    };
    ask.done(lent.out, NoteType::Info, &text, form)
}
