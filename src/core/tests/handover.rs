//! Handover (docs/protocol.md, "Handover"): a staff member hands a busy chat to a colleague on
//! duty or back to the queue; the colleague's join takes the staff seat, the first staff member
//! is told and is no longer seated; nobody in time, or a decline, leaves the chat with the first.

use super::harness::*;
use super::*;
use crate::core::effects::Write;
use crate::core::room::Handover;
use crate::core::types::Reason;
use crate::core::{Input, Query};
use crate::xmpp::stanza::PresenceKind;

const KIM: &str = "staff@localhost/console";
const ALEX: &str = "alex@localhost/console";
const BOB: &str = "bob@localhost/console";

fn team() -> Settings {
    Settings {
        staff: settings::Staff {
            jids: vec![
                "staff@localhost".into(),
                "alex@localhost".into(),
                "bob@localhost".into(),
            ],
            max_chats: 2,
            ..Default::default()
        },
        ..settings()
    }
}

fn person(nick: &str, full: &str) -> Occupant {
    Occupant {
        nick: nick.into(),
        jid: full.into(),
        affiliation: "none".into(),
    }
}

/// Room-1 busy at 4 s: `staff` (staff@localhost) and `client`; Alex and Bob on duty.
fn busy() -> World {
    let mut w = staffed_pool_with(team());
    w.store
        .claims
        .get_mut(&room_jid(1).to_string())
        .unwrap()
        .client_at = Some(secs(3));
    let id = w.store.wait(None, "client", secs(2));
    let row = w.store.queue.iter_mut().find(|r| r.id == id).unwrap();
    row.room = Some(room_jid(1).to_string());
    row.topic = Some("money worries".into());
    w.now = secs(4);
    w.enter(&room_jid(1), "client");
    assert_eq!(w.store.status[&room_jid(1).to_string()], Status::Busy);
    w.direct(ALEX, PresenceKind::Available);
    w.direct(BOB, PresenceKind::Available);
    w
}

fn answer_status(events: &[harness::Event]) -> String {
    let out = sent(events);
    let answer = out
        .iter()
        .find(|s| s.starts_with("<iq"))
        .unwrap_or_else(|| panic!("no answer: {events:?}"));
    let at = answer.find("var='status'").expect("a status field");
    let rest = &answer[at..];
    let start = rest.find("<value>").unwrap() + 7;
    rest[start..start + rest[start..].find("</value>").unwrap()].to_string()
}

fn ended(events: &[harness::Event]) -> Vec<&'static str> {
    writes(events)
        .into_iter()
        .filter_map(|w| match w {
            Write::HandoverEnded { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect()
}

#[test]
fn a_chat_handed_to_a_colleague_goes_on_with_them_and_the_first_is_told() {
    let mut w = busy();
    w.now = secs(10);
    let e = w.command(
        KIM,
        "hand-over",
        &[("to", "alex@localhost"), ("note", "needs a Dutch speaker")],
    );
    assert_eq!(answer_status(&e), "offered");
    let invitation = sent(&e)
        .into_iter()
        .find(|s| s.contains(&format!("to='{ALEX}'")))
        .expect("Alex is invited");
    assert!(invitation.contains("jabber:x:conference") && invitation.contains("password='pw-1'"));
    assert!(invitation.contains(
        "reason='staff hands you a chat with client — money worries: needs a Dutch speaker'"
    ));
    assert!(
        invitation.contains("<handover xmlns='urn:helpim:staff:0'"),
        "{invitation}"
    );
    assert!(invitation.contains("topic='money worries'"), "{invitation}");
    assert!(writes(&e).iter().any(|w| matches!(w,
        Write::HandoverOffered { to_jid: Some(to), note: Some(_), .. } if to == "alex@localhost")));
    // A second offer for the same chat is refused while this one runs.
    let e = w.command(KIM, "hand-over", &[("to", "queue")]);
    assert_eq!(answer_status(&e), "busy");
    // Alex joins: the seat is theirs, the first is told, nothing is kicked.
    w.now = secs(20);
    let e = w.enter_as(&room_jid(1), person("alex", ALEX));
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Busy, Reason::Handover)]
    );
    assert!(writes(&e).iter().any(|w| matches!(w,
        Write::Transition { transition, .. } if transition.jid.as_deref() == Some("alex@localhost")
            && transition.nick.as_deref() == Some("alex"))));
    assert_eq!(ended(&e), ["done"]);
    assert!(iqs(&e).is_empty(), "nobody kicked: {e:?}");
    let told = w.muc.received("staff@localhost");
    assert!(
        told.last().is_some_and(|m| m.contains("type='headline'")
            && m.contains("<handed-over xmlns='urn:helpim:staff:0' room='room-1@conference.localhost' to='alex'/>")),
        "{told:?}"
    );
    // The transcript goes on in the same chat, Alex's lines as the staff's.
    let e = w.say(&room_jid(1), "alex", "Hallo, ik ben Alex");
    assert!(writes(&e).iter().any(|w| matches!(w,
        Write::Message { nick, role: crate::core::types::Role::Staff, jid, .. }
            if nick == "alex" && *jid == room_jid(1).to_string())));
    let e = w.say(&room_jid(1), "staff", "bye");
    assert!(writes(&e).is_empty(), "the first is no longer seated");
    // The first leaving changes nothing; the room is still busy.
    w.now = secs(21);
    let e = w.exit(&room_jid(1), "staff", Some("Clean Exit"));
    assert!(transitions(&e).is_empty(), "{e:?}");
    assert_eq!(w.store.status[&room_jid(1).to_string()], Status::Busy);
    // Alex counts as on duty in a room; the first holds none.
    let e = w.command(KIM, "hand-over", &[("to", "bob@localhost")]);
    assert_eq!(answer_status(&e), "no-chat");
}

#[test]
fn the_first_still_inside_after_the_closing_time_is_removed() {
    let mut w = busy();
    w.now = secs(10);
    w.command(KIM, "hand-over", &[("to", "alex@localhost")]);
    w.now = secs(20);
    w.enter_as(&room_jid(1), person("alex", ALEX));
    // timeouts.closing is 120 s.
    let e = w.until(secs(140));
    assert!(iqs(&e).iter().all(|x| !x.contains("role='none'")), "{e:?}");
    let e = w.until(secs(141));
    assert!(
        iqs(&e)
            .iter()
            .any(|x| x.contains("nick='staff'") && x.contains("role='none'")),
        "{e:?}"
    );
    assert!(transitions(&e).is_empty());
    assert_eq!(w.store.status[&room_jid(1).to_string()], Status::Busy);
    let people: Vec<_> = w.muc.rooms[&room_jid(1)]
        .occupants
        .iter()
        .map(|o| o.nick.clone())
        .collect();
    assert_eq!(people, ["client", "alex"]);
}

#[test]
fn a_chat_handed_to_the_queue_comes_first_and_take_chat_gives_it() {
    let mut w = busy();
    w.now = secs(10);
    let e = w.command(
        KIM,
        "hand-over",
        &[("to", "queue"), ("note", "ending my shift")],
    );
    assert_eq!(answer_status(&e), "offered");
    assert!(writes(&e)
        .iter()
        .any(|w| matches!(w, Write::HandoverOffered { to_jid: None, .. })));
    // Kim cannot take her own chat: her take-chat claims a room as usual.
    let e = w.command(KIM, "take-chat", &[]);
    assert!(
        matches!(&queries(&e)[..], [Query::TakeChat(_), ..]),
        "{e:?}"
    );
    // A visitor waits too: the handover is listed first.
    w.store.wait(None, "Sam", secs(5));
    let e = w.command(BOB, "waiting-visitors", &[]);
    let list = sent(&e).into_iter().find(|s| s.starts_with("<iq")).unwrap();
    let h = list
        .find("h:room-1@conference.localhost")
        .expect("the handover is listed");
    let sam = list.find("Sam").expect("the visitor is listed");
    assert!(h < sam, "{list}");
    assert!(list.contains("Handover from staff"), "{list}");
    // Bob takes a chat: the handover, not a new room.
    let e = w.command(BOB, "take-chat", &[]);
    assert!(queries(&e).is_empty(), "no room claimed: {e:?}");
    assert_eq!(answer_status(&e), "handover");
    let out = sent(&e);
    assert!(
        out.iter().any(|s| s.contains(&format!("to='{BOB}'"))
            && s.contains("password='pw-1'")
            && s.contains("<handover xmlns='urn:helpim:staff:0'")),
        "{out:?}"
    );
    assert!(writes(&e)
        .iter()
        .any(|w| matches!(w, Write::HandoverTaken { by, .. } if by == "bob@localhost")));
    // Taken: no longer listed; Alex's take-chat claims a room as usual.
    let e = w.command(ALEX, "waiting-visitors", &[]);
    assert!(!sent(&e)[0].contains("h:room-1"), "{:?}", sent(&e));
    let e = w.command(ALEX, "take-chat", &[]);
    assert!(
        matches!(&queries(&e)[..], [Query::TakeChat(_), ..]),
        "{e:?}"
    );
    // Alex (not the one who took it) joining is a third person; Bob completes it.
    w.now = secs(12);
    let e = w.enter_as(&room_jid(1), person("alex", ALEX));
    assert!(
        iqs(&e).iter().any(|x| x.contains("nick='alex'")),
        "kicked: {e:?}"
    );
    let e = w.enter_as(&room_jid(1), person("bob", BOB));
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Busy, Reason::Handover)]
    );
    assert_eq!(ended(&e), ["done"]);
}

#[test]
fn picking_a_handover_in_waiting_visitors_gives_it_and_only_once() {
    let mut w = busy();
    w.now = secs(10);
    w.command(KIM, "hand-over", &[("to", "queue")]);
    let e = w.command(
        BOB,
        "waiting-visitors",
        &[("visitor", "h:room-1@conference.localhost")],
    );
    assert_eq!(answer_status(&e), "handover");
    let e = w.command(
        ALEX,
        "waiting-visitors",
        &[("visitor", "h:room-1@conference.localhost")],
    );
    assert_eq!(answer_status(&e), "taken");
}

#[test]
fn nobody_in_time_leaves_the_chat_with_the_first_who_is_told() {
    let mut w = busy();
    w.now = secs(10);
    w.command(KIM, "hand-over", &[("to", "alex@localhost")]);
    // timeouts.claim is 60 s.
    let e = w.until(secs(70));
    assert!(ended(&e).is_empty());
    let e = w.until(secs(71));
    assert_eq!(ended(&e), ["expired"]);
    assert!(transitions(&e).is_empty());
    let told = w.muc.received("staff@localhost");
    assert!(
        told.last().is_some_and(
            |m| m.contains("<handover-expired xmlns='urn:helpim:staff:0'")
                && m.contains("room='room-1@conference.localhost'")
                && m.contains("reason='expired'")
        ),
        "{told:?}"
    );
    // Too late: Alex is a third person; the chat is the first's and may be offered again.
    let e = w.enter_as(&room_jid(1), person("alex", ALEX));
    assert!(iqs(&e).iter().any(|x| x.contains("nick='alex'")), "{e:?}");
    let e = w.command(KIM, "hand-over", &[("to", "queue")]);
    assert_eq!(answer_status(&e), "offered");
}

#[test]
fn a_colleague_declines_and_the_first_is_told_at_once() {
    let mut w = busy();
    w.now = secs(10);
    w.command(KIM, "hand-over", &[("to", "alex@localhost")]);
    let e = w.command(BOB, "decline-handover", &[]);
    assert_eq!(answer_status(&e), "no-handover", "not offered to Bob");
    w.now = secs(11);
    let e = w.command(
        ALEX,
        "decline-handover",
        &[("room", "room-1@conference.localhost")],
    );
    assert_eq!(answer_status(&e), "declined");
    assert_eq!(ended(&e), ["declined"]);
    assert!(w
        .muc
        .received("staff@localhost")
        .last()
        .is_some_and(|m| m.contains("reason='declined'")));
}

#[test]
fn only_a_colleague_on_duty_and_only_ones_own_chat() {
    let mut w = busy();
    let e = w.command(KIM, "hand-over", &[("to", "carol@localhost")]);
    assert_eq!(answer_status(&e), "not-on-duty", "not staff");
    w.direct(BOB, PresenceKind::Unavailable);
    let e = w.command(KIM, "hand-over", &[("to", "bob@localhost")]);
    assert_eq!(answer_status(&e), "not-on-duty", "gone off duty");
    let e = w.command(KIM, "hand-over", &[("to", "staff@localhost")]);
    assert_eq!(answer_status(&e), "not-on-duty", "not to oneself");
    let e = w.command(ALEX, "hand-over", &[("to", "queue")]);
    assert_eq!(answer_status(&e), "no-chat", "Alex holds no chat");
    let e = w.command(
        KIM,
        "hand-over",
        &[("room", "room-2@conference.localhost"), ("to", "queue")],
    );
    assert_eq!(answer_status(&e), "no-chat");
    // No `to`: the form.
    let e = w.command(KIM, "hand-over", &[]);
    assert!(sent(&e)[0].contains("status='executing'"), "{:?}", sent(&e));
}

#[test]
fn the_first_dropping_during_a_handover_is_closing_and_the_colleague_still_takes_over() {
    let mut w = busy();
    w.now = secs(10);
    w.command(KIM, "hand-over", &[("to", "alex@localhost")]);
    w.now = secs(15);
    let e = w.drop_out(&room_jid(1), "staff");
    assert_eq!(
        transitions(&e),
        [(
            room_jid(1).to_string(),
            Status::Closing,
            Reason::LeftUnclean
        )]
    );
    w.now = secs(40);
    let e = w.enter_as(&room_jid(1), person("alex", ALEX));
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Busy, Reason::Handover)]
    );
    assert_eq!(ended(&e), ["done"]);
}

/// The handover of room-1's `staff` (staff@localhost), offered at 0 s to `to` (or the queue), as
/// read back from the database after a restart.
fn offered_at_0(to: Option<&str>) -> Handover {
    Handover {
        from: Seat {
            nick: "staff".into(),
            jid: Some("staff@localhost".into()),
            claim: None,
        },
        to: to.map(str::to_string),
        queue: to.is_none(),
        note: None,
        topic: None,
        offered_at: secs(0),
    }
}

#[test]
fn after_a_restart_an_open_handover_completes() {
    let mut r = restored(1, Status::Busy, None);
    r.room
        .restore_handover(offered_at_0(Some("alex@localhost")));
    let mut w = rejoining_with(
        Settings {
            pool_size: 0,
            ..team()
        },
        vec![r],
        secs(5),
    );
    w.input(Input::Online { fresh: true });
    assert_eq!(w.core.rooms(), 1);
    let e = w.enter_as(&room_jid(1), person("alex", ALEX));
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Busy, Reason::Handover)]
    );
    assert_eq!(ended(&e), ["done"]);
}

#[test]
fn after_a_restart_an_open_handover_still_expires() {
    let mut r = restored(1, Status::Busy, None);
    r.room.restore_handover(offered_at_0(None));
    let mut w = rejoining(vec![r], secs(5));
    w.input(Input::Online { fresh: true });
    let e = w.until(secs(61));
    assert_eq!(ended(&e), ["expired"]);
    assert_eq!(w.store.status[&room_jid(1).to_string()], Status::Busy);
}

#[test]
fn the_handover_examples_of_the_protocol_documentation_are_what_the_bot_accepts_and_sends() {
    use super::protocol::Examples;
    let docs = Examples::read();
    let request = |name: &str| docs.request(name);
    let same = |name: &str, sent: &str| docs.same(name, sent);
    let mut w = busy();
    w.direct(KIM, PresenceKind::Available);
    w.now = secs(10);
    let e = w.input(request("hand-over"));
    let out = sent(&e);
    same("handover-invitation", &out[0]);
    same("hand-over-offered", &out[1]);
    w.now = secs(20);
    let e = w.enter_as(&room_jid(1), person("alex", ALEX));
    same("handed-over", &sent(&e)[0]);
    // Offered again, and declined.
    let e = w.command(ALEX, "hand-over", &[("to", "staff@localhost")]);
    assert_eq!(answer_status(&e), "offered");
    let e = w.input(request("decline-handover"));
    let out = sent(&e);
    same("decline-handover-declined", &out[0]);
    same("handover-expired", &out[1]);
}

#[test]
fn a_colleague_who_holds_as_many_chats_as_one_may_is_not_handed_another() {
    let mut w = busy();
    // Alex takes the two other rooms (staff.max_chats is 2 here).
    for n in [2, 3] {
        w.store.claims.insert(
            room_jid(n).to_string(),
            Claims {
                staff_at: Some(secs(4)),
                client_at: None,
            },
        );
        w.enter_as(&room_jid(n), person("alex", ALEX));
        assert_eq!(w.store.status[&room_jid(n).to_string()], Status::Staffed);
    }
    let e = w.command(KIM, "hand-over", &[("to", "alex@localhost")]);
    assert_eq!(answer_status(&e), "limit");
    assert!(
        !sent(&e).iter().any(|s| s.contains(&format!("to='{ALEX}'"))),
        "Alex is not invited"
    );
    let e = w.command(KIM, "hand-over", &[("to", "bob@localhost")]);
    assert_eq!(answer_status(&e), "offered", "Bob holds none");
}
