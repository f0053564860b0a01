//! `decline-handover` (staff): the colleague a chat was handed to declines it (or the first
//! staff member withdraws their offer); the handover ends at once and the chat stays with the
//! first, who is told as when it expires.

use xmpp_parsers::jid::BareJid;

use super::{Ask, Lent};
use crate::core::room::Event;
use crate::xmpp::adhoc::{CommandRequest, NoteType};

/// The rooms whose running handover `bare` may decline: offered (or taken) to them, or theirs.
fn rooms_of(bare: &str, lent: &Lent) -> Vec<BareJid> {
    let mut rooms: Vec<BareJid> = lent
        .rooms
        .iter()
        .filter(|(_, e)| {
            e.room.handover().is_some_and(|h| {
                h.to.as_deref() == Some(bare) || h.from.jid.as_deref() == Some(bare)
            })
        })
        .map(|(jid, _)| jid.clone())
        .collect();
    rooms.sort();
    rooms
}

/// Ends the handover of `room` (optional when there is one).
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let bare = ask.to.to_bare().to_string();
    let rooms = rooms_of(&bare, lent);
    let room = match command.field("room") {
        Some(r) => rooms.iter().find(|j| j.as_str() == r).cloned(),
        None if rooms.len() == 1 => rooms.first().cloned(),
        None => None,
    };
    let Some(room) = room else {
        let text = "No handover of that chat is offered to you (room).";
        return ask.outcome(lent.out, NoteType::Warn, text, "no-handover");
    };
    lent.feed.push((room, Event::HandoverDeclined));
    let text = "Declined: the chat stays with your colleague, who is told.";
    ask.outcome(lent.out, NoteType::Info, text, "declined")
}
