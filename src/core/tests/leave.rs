//! Leaves without the clean status (docs/protocol.md, "Leaving a chat"): the leaver's session
//! is pinged first; one that answers left on purpose (a standard client leaves a room without a
//! status text), one that is gone or silent for [`LEAVE_CHECK`] dropped out, as before.

use super::harness::*;
use super::*;
use crate::core::types::Reason;
use crate::core::{Input, Write, LEAVE_CHECK};
use crate::xmpp::stanza::PresenceKind;

/// Room-1 busy at 4 s: `staff` (staff@localhost/web) and `client` (client@localhost/web).
fn busy() -> World {
    let mut w = staffed_pool();
    w.store
        .claims
        .get_mut(&room_jid(1).to_string())
        .unwrap()
        .client_at = Some(secs(3));
    w.now = secs(4);
    w.enter(&room_jid(1), "client");
    assert_eq!(w.store.status[&room_jid(1).to_string()], Status::Busy);
    w
}

/// To whom pings went.
fn pings(events: &[harness::Event]) -> Vec<String> {
    iqs(events)
        .iter()
        .filter(|x| x.contains("urn:xmpp:ping"))
        .map(|x| {
            let to = &x[x.find("to='").expect("addressed") + 4..];
            to[..to.find('\'').unwrap()].to_string()
        })
        .collect()
}

/// The bot's lines in the rooms saying someone left on purpose.
fn left_lines(events: &[harness::Event]) -> Vec<String> {
    sent(events)
        .into_iter()
        .filter(|x| x.contains("urn:helpim:left:0"))
        .collect()
}

/// The nicks kicked.
fn kicks(events: &[harness::Event]) -> Vec<String> {
    iqs(events)
        .iter()
        .filter(|x| x.contains("muc#admin") && x.contains("role='none'"))
        .map(|x| {
            let nick = &x[x.find("nick='").expect("a nick") + 6..];
            nick[..nick.find('\'').unwrap()].to_string()
        })
        .collect()
}

fn closing(reason: Reason) -> Vec<(String, Status, Reason)> {
    vec![(room_jid(1).to_string(), Status::Closing, reason)]
}

#[test]
fn a_leave_without_the_clean_status_whose_session_answers_is_clean() {
    let mut w = busy();
    w.now = secs(10);
    let e = w.exit(&room_jid(1), "staff", None);
    assert_eq!(pings(&e), ["staff@localhost/web"], "the real full JID");
    assert_eq!(transitions(&e), closing(Reason::LeftClean));
    // The visitor's client saw no clean status: the bot says it in the room, marked for pages.
    let lines = left_lines(&e);
    assert_eq!(lines.len(), 1, "{e:?}");
    assert!(
        lines[0].contains("type='groupchat'")
            && lines[0].contains("to='room-1@conference.localhost'")
            && lines[0].contains("nick='staff'")
            && lines[0].contains("<body>staff has left the chat.</body>"),
        "{}",
        lines[0]
    );
    let docs = super::protocol::doc_examples();
    assert_eq!(
        super::protocol::canonical(&lines[0]),
        super::protocol::canonical(&docs["left-clean"])
    );
    // A clean leave has no rejoin grace: back under the nick is a third person.
    w.now = secs(12);
    let e = w.enter(&room_jid(1), "staff");
    assert_eq!(kicks(&e), ["staff"]);
    assert!(transitions(&e).is_empty(), "{e:?}");
}

#[test]
fn the_visitor_leaving_without_the_status_is_checked_the_same_way() {
    let mut w = busy();
    w.now = secs(10);
    let e = w.exit(&room_jid(1), "client", None);
    assert_eq!(pings(&e), ["client@localhost/web"]);
    assert_eq!(transitions(&e), closing(Reason::LeftClean));
    let lines = left_lines(&e);
    assert!(
        lines.len() == 1 && lines[0].contains("<body>client has left the chat.</body>"),
        "{lines:?}"
    );
}

#[test]
fn a_session_that_is_gone_dropped_out_and_may_come_back() {
    let mut w = busy();
    w.now = secs(10);
    let e = w.drop_out(&room_jid(1), "staff");
    assert_eq!(pings(&e), ["staff@localhost/web"]);
    assert_eq!(transitions(&e), closing(Reason::LeftUnclean));
    assert!(
        left_lines(&e).is_empty(),
        "no line for a dropped connection"
    );
    // Within the rejoin grace (30 s), the same person is back in the chat.
    w.now = secs(20);
    let e = w.enter(&room_jid(1), "staff");
    assert!(kicks(&e).is_empty(), "{e:?}");
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Busy, Reason::Rejoined)]
    );
}

#[test]
fn a_session_silent_for_the_leave_check_dropped_out() {
    let mut w = busy();
    w.muc.fault(Ask::Ping, Reply::Silence, 1);
    w.now = secs(10);
    let e = w.exit(&room_jid(1), "staff", None);
    assert_eq!(pings(&e), ["staff@localhost/web"]);
    assert!(transitions(&e).is_empty(), "held while checked: {e:?}");
    // Meanwhile the chat goes on: the visitor's lines are recorded.
    w.now = secs(11);
    let e = w.say(&room_jid(1), "client", "are you there?");
    assert!(
        writes(&e)
            .iter()
            .any(|w| matches!(w, Write::Message { body, .. } if body == "are you there?")),
        "{e:?}"
    );
    let limit = secs(10) + chrono::Duration::from_std(LEAVE_CHECK).unwrap();
    assert!(transitions(&w.until(limit - chrono::Duration::milliseconds(1))).is_empty());
    let e = w.until(limit);
    assert_eq!(transitions(&e), closing(Reason::LeftUnclean));
    assert!(left_lines(&e).is_empty());
}

#[test]
fn a_leave_with_the_clean_status_is_clean_at_once_without_a_ping() {
    let mut w = busy();
    w.now = secs(10);
    let e = w.exit(&room_jid(1), "staff", Some("Clean Exit"));
    assert!(pings(&e).is_empty(), "{e:?}");
    assert_eq!(transitions(&e), closing(Reason::LeftClean));
    // The visitor's client read the status itself.
    assert!(left_lines(&e).is_empty());
}

#[test]
fn back_under_the_nick_before_the_answer_drops_the_leave() {
    let mut w = busy();
    w.muc.hold = true;
    w.now = secs(10);
    let e = w.exit(&room_jid(1), "staff", None);
    assert_eq!(pings(&e), ["staff@localhost/web"]);
    w.now = secs(11);
    let e = w.enter(&room_jid(1), "staff");
    assert!(transitions(&e).is_empty() && kicks(&e).is_empty(), "{e:?}");
    // The answer, when it comes, changes nothing: the staff member is simply still there.
    let e = w.serve_all();
    assert!(
        transitions(&e).is_empty() && left_lines(&e).is_empty(),
        "{e:?}"
    );
    w.muc.hold = false;
    let e = w.until(secs(30));
    assert!(transitions(&e).is_empty(), "{e:?}");
    assert_eq!(w.store.status[&room_jid(1).to_string()], Status::Busy);
    let e = w.say(&room_jid(1), "staff", "sorry, I am back");
    assert!(
        writes(&e)
            .iter()
            .any(|w| matches!(w, Write::Message { nick, .. } if nick == "staff")),
        "still seated: {e:?}"
    );
}

#[test]
fn someone_else_under_the_nick_before_the_answer_lets_the_leave_stand_unclean() {
    let mut w = busy();
    w.muc.hold = true;
    w.now = secs(10);
    w.exit(&room_jid(1), "staff", None);
    w.now = secs(11);
    let eve = Occupant {
        nick: "staff".into(),
        jid: "eve@localhost/x".into(),
        affiliation: "none".into(),
    };
    let e = w.enter_as(&room_jid(1), eve);
    assert_eq!(transitions(&e), closing(Reason::LeftUnclean));
    // The ping's late answer is for a check that is over.
    let e = w.serve_all();
    assert!(
        !transitions(&e)
            .iter()
            .any(|(_, _, r)| *r == Reason::LeftClean)
            && left_lines(&e).is_empty(),
        "{e:?}"
    );
}

#[test]
fn leaves_that_need_no_check_are_decided_at_once() {
    // The room does not show the real JID: nobody to ping, unclean as before.
    let mut w = busy();
    w.now = secs(10);
    let mut p = occupant_presence(
        &room_jid(1),
        &occupant("staff"),
        PresenceKind::Unavailable,
        &[],
    );
    p.real_jid = None;
    let e = w.input(Input::Presence(p));
    assert!(pings(&e).is_empty());
    assert_eq!(transitions(&e), closing(Reason::LeftUnclean));

    // A ghost the server removed (333) has no session left.
    let mut w = busy();
    w.now = secs(10);
    let p = occupant_presence(
        &room_jid(1),
        &occupant("staff"),
        PresenceKind::Unavailable,
        &[333],
    );
    let e = w.input(Input::Presence(p));
    assert!(pings(&e).is_empty());
    assert_eq!(transitions(&e), closing(Reason::LeftUnclean));

    // In a staffed room, the staff member's leave closes it whether clean or not.
    let mut w = staffed_pool();
    let e = w.exit(&room_jid(1), "staff", None);
    assert!(pings(&e).is_empty());
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Closed, Reason::StaffLeft)]
    );
}
