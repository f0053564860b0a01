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
    let (status, text) = if left {
        ("left", "You left the queue.")
    } else {
        ("not-queued", "You were not in the queue.")
    };
    ask.outcome(lent.out, NoteType::Info, text, status)
}
