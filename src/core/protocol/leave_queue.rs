//! `leave-queue` (visitors): the visitor's waiting or assigned row becomes `left`.

use super::{Ask, Lent, Step};
use crate::core::effects::Query;
use crate::xmpp::adhoc::NoteType;

/// Asks the store to let the visitor go.
pub fn start(ask: Ask, lent: &mut Lent) {
    let jid = ask.to.to_string();
    ask.query(lent.out, Query::LeaveQueue(jid), Step::LeaveQueue);
}

/// Whether the visitor was in the queue.
pub fn answered(ask: Ask, left: bool, lent: &mut Lent) {
    let status = if left { "left" } else { "not-queued" };
    let text = ask.t(status);
    ask.outcome(lent.out, NoteType::Info, &text, status)
}
