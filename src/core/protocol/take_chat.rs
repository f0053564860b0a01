//! `take-chat` (staff): claims an `available` room for the staff member (at most
//! `staff.max_chats` open rooms each) and invites them with its password. A chat handed back to
//! the queue comes first: the staff member is invited to it (status `handover`).

use xmpp_parsers::jid::BareJid;

use super::{Ask, Lent, Protocol, Step};
use crate::core::effects::Query;
use crate::core::types::Status;
use crate::xmpp::adhoc::NoteType;

/// What "take a chat" answers when no room can be handed out just now.
const NO_ROOM_READY: &str = "No room is ready just now; please try again in a moment.";

/// The claim label of a staff member who took a chat over XMPP.
fn staff_label(bare: &str) -> String {
    format!("xmpp:{bare}")
}

/// Checks the staff member's limit and claims a room.
pub fn start(p: &mut Protocol, ask: Ask, lent: &mut Lent) {
    let bare = ask.to.to_bare().to_string();
    let open =
        lent.tally.staff_rooms.get(&bare).copied().unwrap_or(0) + p.staff_claims_of(&bare, lent);
    if open >= lent.settings.staff.max_chats as usize {
        let text = format!(
            "You have {open} open chats, the most one staff member may hold (staff.max_chats)."
        );
        return ask.outcome(lent.out, NoteType::Warn, &text, "limit");
    }
    if !super::hand_over::waiting_for(&bare, lent).is_empty() {
        // A chat handed back to the queue comes before a new room, in both modes.
        return super::hand_over::take(ask, None, lent);
    }
    if lent.tally.counts.ready_rejoining > 0 {
        // The statement claims the database's oldest available room, which may be one the bot
        // is not back inside yet — gone, if the server restarted. Rejoins take seconds.
        return ask.outcome(lent.out, NoteType::Warn, NO_ROOM_READY, "none");
    }
    ask.query(
        lent.out,
        Query::TakeChat(staff_label(&bare)),
        Step::TakeChat,
    );
}

/// The room claimed, if any: the staff member is invited.
pub fn answered(p: &mut Protocol, ask: Ask, room: Option<String>, lent: &mut Lent) {
    let Some(room) = room.and_then(|r| BareJid::new(&r).ok()) else {
        return ask.outcome(lent.out, NoteType::Warn, NO_ROOM_READY, "none");
    };
    let bare = ask.to.to_bare().to_string();
    p.staff_claims.insert(room.clone(), bare);
    lent.check_claims(&room);
    if lent.invite(&ask.to, &room, "A chat room for you.") {
        tracing::info!(room = %room, staff = %ask.to, "a staff member took a chat");
        // No visitor yet: the room is named for them (its subject) once one is given it.
        let form = ask.chat_result("taken", &room, None);
        ask.done(
            lent.out,
            NoteType::Info,
            "Your room is ready: you are invited.",
            form,
        )
    } else {
        ask.outcome(
            lent.out,
            NoteType::Warn,
            "The room is not followed by this bot.",
            "none",
        )
    }
}

impl Protocol {
    /// Rooms claimed by `bare` with "take a chat" that are still waiting for them.
    fn staff_claims_of(&mut self, bare: &str, lent: &Lent) -> usize {
        let rooms = lent.rooms;
        self.staff_claims.retain(|room, _| {
            rooms
                .get(room)
                .is_some_and(|e| e.room.status() == Status::Available)
        });
        self.staff_claims.values().filter(|b| *b == bare).count()
    }
}
