//! Pushes to staff on duty (core/protocol/staff_push.rs, docs/protocol.md "Pushes to staff"):
//! the state at once for a new session, then on change only, at most every two seconds, the
//! last state winning.

use super::harness::*;
use super::*;
use crate::core::protocol::SHIFT_EVERY;
use crate::xmpp::stanza::PresenceKind;

const CONSOLE: &str = "staff@localhost/console";

/// The shifts `to` received, with the time each arrived.
fn shifts(w: &World, to: &str) -> Vec<(Time, String)> {
    w.log
        .iter()
        .filter_map(|(at, e)| match e {
            Event::Sent { to: t, xml } if t == to && xml.contains("<shift ") => {
                Some((*at, xml.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Sweeps twice a second, so that the rate limit is the pushes' own and not the sweep's.
fn quick() -> Settings {
    Settings {
        poll_interval: Duration::from_millis(500),
        ..settings()
    }
}

#[test]
fn a_staff_session_gets_the_state_at_once_when_it_signs_in() {
    let mut w = world_with(quick());
    w.input(crate::core::Input::Online { fresh: true });
    w.store.wait(None, "Sam", secs(0));
    w.until(secs(1));
    assert!(shifts(&w, CONSOLE).is_empty(), "nobody on duty yet");
    w.direct(CONSOLE, PresenceKind::Available);
    let got = shifts(&w, CONSOLE);
    assert_eq!(got.len(), 1, "{got:?}");
    let (at, xml) = &got[0];
    assert_eq!(*at, secs(1), "at once, with no wait for the rate limit");
    assert!(xml.contains("type='headline'"), "{xml}");
    assert!(
        xml.contains("nick='Sam'") && xml.contains("waiting-since="),
        "{xml}"
    );
    assert!(
        xml.contains("open='true'") && xml.contains("staff-on-duty='1'"),
        "{xml}"
    );
    assert!(
        xml.contains("mode='auto'") && xml.contains("available='3'"),
        "{xml}"
    );
    assert!(
        xml.contains("<body>1 visitor waiting; 0 chats; 1 staff on duty.</body>"),
        "{xml}"
    );
    // A second session of the same person (the phone) gets it at once too, the console nothing.
    w.direct("staff@localhost/phone", PresenceKind::Available);
    assert_eq!(shifts(&w, "staff@localhost/phone").len(), 1);
    assert_eq!(
        shifts(&w, CONSOLE).len(),
        1,
        "one person on duty either way: nothing changed for the console"
    );
}

#[test]
fn nothing_is_pushed_while_nothing_changes_however_long_the_visitor_waits() {
    let mut w = world_with(quick());
    w.input(crate::core::Input::Online { fresh: true });
    w.store.wait(None, "Sam", secs(0));
    w.now = secs(1);
    w.direct(CONSOLE, PresenceKind::Available);
    w.until(secs(10));
    let before = shifts(&w, CONSOLE).len();
    // Ten minutes of sweeps: the wait grows, nothing else changes.
    w.until(secs(600));
    let after = shifts(&w, CONSOLE);
    assert_eq!(after.len(), before, "{after:?}");
    assert!(
        super::harness::queries(&w.since(0))
            .iter()
            .filter(|q| matches!(q, crate::core::Query::WaitingList))
            .count()
            <= 2,
        "the list is read only when the queue changed"
    );
}

#[test]
fn a_burst_of_visitors_is_coalesced_into_a_push_every_two_seconds_and_the_last_state_wins() {
    let mut w = world_with(quick());
    w.input(crate::core::Input::Online { fresh: true });
    w.now = secs(1);
    w.direct(CONSOLE, PresenceKind::Available);
    // Twenty visitors within four seconds, one every 200 ms.
    for i in 0..20 {
        let at = t(2_000 + 200 * i);
        w.until(at);
        w.store.wait(None, &format!("v{i}"), at);
    }
    w.until(secs(20));
    let got = shifts(&w, CONSOLE);
    for pair in got.windows(2) {
        let gap = (pair[1].0 - pair[0].0).to_std().unwrap();
        assert!(gap >= SHIFT_EVERY, "two pushes {gap:?} apart: {got:?}");
    }
    // The first at sign-in, then at most one per two seconds of the burst, then the last.
    assert!(got.len() <= 5, "{}", got.len());
    let last = &got.last().unwrap().1;
    assert_eq!(last.matches("<visitor ").count(), 20, "{last}");
    assert!(last.contains("queue-length='20'"), "{last}");
}

#[test]
fn a_change_in_the_figures_is_pushed_and_a_visitor_who_leaves_too() {
    // Pick mode: nobody is given the staffed room by the bot, Sam stays in line.
    let mut w = staffed_pool_with(Settings {
        queue_auto: false,
        ..quick()
    });
    w.now = secs(3);
    w.direct(CONSOLE, PresenceKind::Available);
    let id = w.store.wait(None, "Sam", secs(3));
    // The list was read at sign-in (3 s), so not again before 5 s; the figures that changed
    // with the sweep at 3.5 s went out at 5 s, so the list with Sam at 7 s.
    w.until(secs(7));
    let got = shifts(&w, CONSOLE);
    assert!(got.last().unwrap().1.contains("nick='Sam'"), "{got:?}");
    // Sam leaves: the next push has nobody.
    w.store.queue.iter_mut().find(|r| r.id == id).unwrap().open = false;
    w.until(secs(11));
    let got = shifts(&w, CONSOLE);
    let last = &got.last().unwrap().1;
    assert!(
        !last.contains("<visitor ") && last.contains("queue-length='0'"),
        "{last}"
    );
    // The staff member's room goes away with them: the figures change.
    let n = got.len();
    w.exit(&room_jid(1), "staff", None);
    w.until(secs(14));
    let got = shifts(&w, CONSOLE);
    assert!(got.len() > n, "{got:?}");
    // Off duty: no more pushes.
    w.direct(CONSOLE, PresenceKind::Unavailable);
    let n = shifts(&w, CONSOLE).len();
    w.store.wait(None, "Kim", secs(14));
    w.until(secs(20));
    assert_eq!(shifts(&w, CONSOLE).len(), n);
}

#[test]
fn the_example_of_the_protocol_documentation_is_what_a_staff_member_is_pushed() {
    let docs = super::protocol::doc_examples();
    let canonical = super::protocol::canonical;
    // Pick mode; Sam waits since 0 s, Kim since 60 s; the staff member signs in at 130 s, when
    // Sam has waited longer than `queue.reoffer_after` (two minutes).
    let mut w = world_with(Settings {
        queue_auto: false,
        ..settings()
    });
    w.input(crate::core::Input::Online { fresh: true });
    w.store.next_id = 12;
    w.store.wait(None, "Sam", secs(0));
    w.store.queue.last_mut().unwrap().topic = Some("money worries".into());
    w.store.wait(None, "Kim", secs(60));
    w.until(secs(130));
    w.direct(CONSOLE, PresenceKind::Available);
    let got = shifts(&w, CONSOLE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(canonical(&got[0].1), canonical(&docs["shift"]));
}

#[test]
fn a_push_never_lists_more_visitors_than_it_counts_and_one_given_a_room_is_gone_at_once() {
    // Auto mode: Sam waits while nobody is in a room, then a staff member enters one and the bot
    // gives it to Sam.
    let mut w = world_with(quick());
    w.input(crate::core::Input::Online { fresh: true });
    w.now = secs(1);
    w.direct(CONSOLE, PresenceKind::Available);
    w.store.wait(None, "Sam", secs(1));
    w.until(secs(5));
    assert!(shifts(&w, CONSOLE).last().unwrap().1.contains("nick='Sam'"));
    // Kim comes, and the list is read with her; Sam is given a room right after, so that the
    // sweep which finds him gone comes before the list may be read again.
    w.store.wait(None, "Kim", secs(5));
    w.until(t(5_600));
    w.store.claims.insert(
        room_jid(1).to_string(),
        Claims {
            staff_at: Some(t(5_600)),
            client_at: None,
        },
    );
    w.enter(&room_jid(1), "staff");
    w.until(secs(16));
    assert!(
        w.store.queue.iter().any(|r| r.room.is_some()),
        "Sam was given the room"
    );
    let got = shifts(&w, CONSOLE);
    for (at, xml) in &got {
        let counted: usize = xml
            .split("queue-length='")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no queue-length at {at}: {xml}"));
        assert!(
            xml.matches("<visitor ").count() <= counted,
            "at {at}: {xml}"
        );
    }
    let last = &got.last().unwrap().1;
    assert!(
        !last.contains("nick='Sam'")
            && last.contains("nick='Kim'")
            && last.contains("queue-length='1'"),
        "{last}"
    );
}

/// What `to` was sent that tells of a visitor coming to their chat.
fn coming(w: &World, to: &str) -> Vec<String> {
    w.log
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Sent { to: t, xml } if t == to && xml.contains("is coming to your chat") => {
                Some(xml.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_staff_member_is_told_who_is_coming_and_their_topic_when_the_bot_gives_their_room() {
    // Auto mode: the staff member (staff@localhost) sits in room-1, on duty in the console; Sam
    // queues with a topic and is given the room by the next sweep, before any push lists him.
    let mut w = staffed_pool_with(quick());
    w.now = secs(2);
    w.direct(CONSOLE, PresenceKind::Available);
    let id = w.store.wait(None, "Sam", secs(0));
    w.store.queue.last_mut().unwrap().topic = Some("money worries".into());
    let mut told = vec![];
    for ms in (2_000..10_000).step_by(100) {
        w.until(t(ms));
        told = coming(&w, CONSOLE);
        if !told.is_empty() {
            break;
        }
    }
    assert_eq!(told.len(), 1, "{told:?}");
    let r = w.store.queue.iter().find(|r| r.id == id).unwrap();
    assert_eq!(
        r.room.as_deref(),
        Some(room_jid(1).as_str()),
        "given the room"
    );
    let docs = super::protocol::doc_examples();
    let canonical = super::protocol::canonical;
    assert_eq!(canonical(&told[0]), canonical(&docs["visitor-coming"]));
    // Told once: another second of sweeps sends nothing more.
    w.until(w.now + chrono::Duration::seconds(1));
    assert_eq!(coming(&w, CONSOLE).len(), 1);
}

#[test]
fn a_staff_member_with_no_session_on_duty_is_told_at_their_bare_jid_and_without_a_topic() {
    // Pick mode: the staff member sits in room-1 but told the bot nothing (no directed presence);
    // they pick Kim, who gave no topic, from their phone.
    let mut w = staffed_pool_with(Settings {
        queue_auto: false,
        ..quick()
    });
    let id = w.store.wait(None, "Kim", secs(2));
    w.until(secs(3));
    let e = w.command(
        "staff@localhost/phone",
        "waiting-visitors",
        &[("visitor", &id.to_string())],
    );
    assert!(
        super::harness::sent(&e)
            .iter()
            .any(|x| x.contains("assigned")),
        "{e:?}"
    );
    let mut told = vec![];
    for ms in (3_000..6_000).step_by(100) {
        w.until(t(ms));
        told = coming(&w, "staff@localhost");
        if !told.is_empty() {
            break;
        }
    }
    assert_eq!(told.len(), 1, "{:?}", w.since(0));
    let xml = &told[0];
    assert!(
        xml.contains("<body>Kim is coming to your chat.</body>")
            && xml.contains("nick='Kim'")
            && !xml.contains("topic=")
            && xml.contains("waiting-since='2027-01-15T08:00:02Z'"),
        "{xml}"
    );
}
