//! `status` (staff): rooms by status, the queue, the longest wait, staff on duty.

use super::line_status::form_time;
use super::{Ask, Lent, Protocol};
use crate::xmpp::adhoc::NoteType;

/// Answers at once, from what the core counts.
pub fn start(p: &Protocol, ask: Ask, lent: &mut Lent) {
    let c = lent.tally.counts;
    let (waiting, oldest) = (lent.queue.waiting(), lent.queue.oldest());
    let on_duty = p.staff_on_duty(lent.tally);
    let line = p.line_status(lent.settings, lent.tally, lent.now);
    let oldest = oldest.map_or(String::new(), |t| {
        (lent.now - t).num_seconds().max(0).to_string()
    });
    let form = ask
        .result_form()
        .value("open", "Open", line.open())
        .value(
            "reason",
            "Why closed",
            line.closed.map_or("", |c| c.as_str()),
        )
        .value("next-opening", "Opens again", form_time(line.next_opening))
        .value("staff-on-duty", "Staff on duty", on_duty)
        .value("available", "Rooms ready", c.ready)
        .value("staffed", "Staffed rooms", c.by_status[1])
        .value("busy", "Chats", c.by_status[2])
        .value("closing", "Closing", c.by_status[3])
        .value("queue-length", "Waiting visitors", waiting)
        .value("oldest-wait", "Longest wait (seconds)", oldest);
    let text = format!(
        "{} staff on duty; {} chats, {} staffed rooms waiting for a visitor; {waiting} visitors waiting.",
        on_duty, c.by_status[2], c.by_status[1]
    );
    ask.done(lent.out, NoteType::Info, &text, form)
}
