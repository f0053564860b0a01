//! `status` (staff): rooms by status, the queue, the longest wait, staff on duty. The values a
//! console reads (`open`, `reason`, `next-opening`, `oldest-wait`) are hidden fields; people read
//! the same in words (`line`, `longest-wait`: local, relative times).

use super::line_status::form_time;
use super::{clock, since, Ask, Lent, Protocol};
use crate::core::types::Closed;
use crate::xmpp::adhoc::{FormField, NoteType};

/// Answers at once, from what the core counts.
pub fn start(p: &Protocol, ask: Ask, lent: &mut Lent) {
    let c = lent.tally.counts;
    let (waiting, oldest) = (lent.queue.waiting(), lent.queue.oldest());
    let on_duty = p.staff_on_duty(lent.tally);
    let line = p.line_status(lent.settings, lent.tally, lent.now);
    let (settings, now) = (lent.settings, lent.now);
    let oldest_wait = oldest.map_or(String::new(), |t| {
        (now - t).num_seconds().max(0).to_string()
    });
    let line_words = match (line.closed, line.next_opening) {
        (None, _) => "Open".to_string(),
        (Some(Closed::NoStaff), _) => "Closed: nobody is on duty".to_string(),
        (Some(Closed::OutsideHours), Some(t)) => {
            format!(
                "Closed outside the opening hours, until {}",
                clock(settings, now, t)
            )
        }
        (Some(Closed::OutsideHours), None) => "Closed outside the opening hours".to_string(),
    };
    let hidden = |var: &str, value: &str| FormField::new(var, "hidden", "", value);
    let form = ask
        .result_form()
        .value("line", "Help line", line_words)
        .field(hidden("open", &line.open().to_string()))
        .field(hidden("reason", line.closed.map_or("", |c| c.as_str())))
        .field(hidden("next-opening", &form_time(line.next_opening)))
        .value("staff-on-duty", "Staff on duty", on_duty)
        .value("available", "Rooms ready", c.ready)
        .value("staffed", "Staffed rooms", c.by_status[1])
        .value("busy", "Chats", c.by_status[2])
        .value("closing", "Closing", c.by_status[3])
        .value("queue-length", "Waiting visitors", waiting)
        .value(
            "longest-wait",
            "Longest wait",
            oldest.map_or("nobody waits".to_string(), |t| since(settings, now, t)),
        )
        .field(hidden("oldest-wait", &oldest_wait));
    let text = format!(
        "{} staff on duty; {} chats, {} staffed rooms waiting for a visitor; {waiting} visitors waiting.",
        on_duty, c.by_status[2], c.by_status[1]
    );
    ask.done(lent.out, NoteType::Info, &text, form)
}
