//! Creating rooms: the pool filled, the room form, backoff, names that exist, limits.

use super::harness::*;
use super::*;
use crate::core::types::Reason;
use crate::core::{Input, Write};

#[test]
fn startup_fills_the_pool_with_as_many_creations_at_once_as_allowed() {
    let mut w = world_with(settings());
    w.muc.hold = true;
    let e = w.input(Input::Online { fresh: true });
    let j = joins(&e);
    assert_eq!(j.len(), 2, "parallel_creations = 2");
    assert!(
        j[0].1.contains("maxstanzas='0'"),
        "a new room wants no history: {}",
        j[0].1
    );
    assert!(j[0].1.contains("pw-1"), "{}", j[0].1);
    // The first room is made: its row is written and the third creation starts.
    w.now = t(10);
    let e = w.serve(&room_jid(1));
    assert!(
        matches!(writes(&e)[..], [Write::InsertRoom { jid, password, .. }] if jid == "room-1@conference.localhost" && password == "pw-1"),
        "{e:?}"
    );
    assert_eq!(joins(&e).len(), 1, "{:?}", joins(&e));
    assert_eq!(w.core.counts().ready, 1);
}

#[test]
fn the_pool_never_has_more_live_rooms_than_max_rooms() {
    let mut w = world_with(Settings {
        pool_size: 5,
        max_rooms: 2,
        parallel_creations: 5,
        ..settings()
    });
    w.muc.hold = true;
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(joins(&e).len(), 2);
    // Answered, they stay two.
    let e = w.serve_all();
    assert_eq!(joins(&e).len(), 0);
    assert_eq!(w.core.counts().ready, 2);
}

/// The IQs among `events` that go to `room`.
fn iqs_to(events: &[Event], room: &BareJid) -> Vec<String> {
    iqs(events)
        .into_iter()
        .filter(|x| x.contains(&format!("to='{room}'")))
        .collect()
}

#[test]
fn rooms_after_the_first_are_configured_with_the_form_it_offered_until_the_server_refuses_it() {
    let mut w = world_with(settings());
    w.muc.hold = true;
    w.input(Input::Online { fresh: true });
    // The first room asks for the form.
    w.now = t(1);
    let e = w.serve(&room_jid(1));
    let x = iqs_to(&e, &room_jid(1));
    assert_eq!(x.len(), 2, "{x:?}");
    assert!(is_form_request(&x[0]), "{}", x[0]);
    // The second submits at once, with the same fields (and its own password); the server
    // refuses it (reconfigured meanwhile): the room's own form is asked for, and the creation
    // goes on instead of failing.
    w.now = t(2);
    w.muc.fault(Ask::Submit, Reply::Error("not-acceptable"), 1);
    let e = w.serve(&room_jid(2));
    let x = iqs_to(&e, &room_jid(2));
    assert_eq!(x.len(), 3, "{x:?}");
    assert!(
        !is_form_request(&x[0])
            && x[0].contains("pw-2")
            && x[0].contains("muc#roomconfig_persistentroom"),
        "{}",
        x[0]
    );
    assert!(is_form_request(&x[1]), "the room's own form: {}", x[1]);
    assert_eq!(w.core.counts().ready, 2);
    assert!(
        matches!(writes(&e)[..], [Write::InsertRoom { jid, .. }] if *jid == room_jid(2).to_string()),
        "{e:?}"
    );
    // A new session (perhaps a reconfigured server) forgets the form: the next room created
    // asks for it again.
    w.muc.hold = false;
    w.now = t(4);
    w.input(Input::Offline);
    w.now = t(5);
    let mut e = w.input(Input::Online { fresh: true });
    e.extend(w.until(secs(2)));
    let created: Vec<BareJid> = writes(&e)
        .iter()
        .filter_map(|w| match w {
            Write::InsertRoom { jid: j, .. } => Some(jid(j)),
            _ => None,
        })
        .collect();
    assert!(!created.is_empty(), "a room is created: {e:?}");
    assert!(
        is_form_request(&iqs_to(&e, &created[0])[0]),
        "the form asked for again: {e:?}"
    );
}

#[test]
fn a_room_name_that_already_existed_is_left_and_another_is_tried() {
    let mut w = world_with(Settings {
        parallel_creations: 1,
        ..settings()
    });
    w.muc.add_room(&room_jid(1), "", &[]);
    w.muc.hold = true;
    w.input(Input::Online { fresh: true });
    w.now = t(1);
    let e = w.serve(&room_jid(1));
    assert!(
        matches!(&e[0], Event::Sent { to, xml } if to.starts_with("room-1@") && xml.contains("type='unavailable'")),
        "the bot leaves a room it did not create: {e:?}"
    );
    let next = joins(&e);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].0, room_jid(2));
    assert!(writes(&e).is_empty());
}

#[test]
fn failed_creations_back_off_doubling_and_a_success_resets_the_wait() {
    use crate::core::timers::{Timer, Wake};
    let refill = |at| {
        Some(Wake {
            at,
            timer: Timer::Refill,
        })
    };
    let mut w = world_with(Settings {
        parallel_creations: 1,
        ..settings()
    });
    w.muc.fault(Ask::Join, Reply::Error("not-allowed"), 1);
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(joins(&e).len(), 1, "no new creation during the pause");
    assert_eq!(w.core.next_wake(), refill(t(500)));
    assert!(joins(&w.until(t(499))).is_empty());
    // The next join gets no answer: it times out after request_timeout (10 s).
    w.muc.fault(Ask::Join, Reply::Silence, 1);
    assert_eq!(joins(&w.until(t(500))).len(), 1);
    assert!(joins(&w.until(t(10_500))).is_empty());
    assert_eq!(w.core.next_wake(), refill(t(11_500)), "the wait doubled");
    // A success; the creation after it times out too.
    w.muc.hold = true;
    let e = w.until(t(11_500));
    let (room, _) = joins(&e)[0].clone();
    w.now = t(11_600);
    let e = w.serve(&room);
    assert_eq!(joins(&e).len(), 1, "the next creation, never answered");
    w.until(t(21_600));
    assert!(joins(&w.until(t(22_099))).is_empty());
    assert_eq!(
        joins(&w.until(t(22_100))).len(),
        1,
        "a success reset the wait to 500 ms"
    );
}

#[test]
fn a_room_made_but_not_configured_is_destroyed_again() {
    let mut w = world_with(Settings {
        parallel_creations: 1,
        ..settings()
    });
    // The form asked for gets no answer.
    w.muc.fault(Ask::Form, Reply::Silence, 1);
    w.input(Input::Online { fresh: true });
    let e = w.until(secs(10));
    let destroys: Vec<_> = iqs_to(&e, &room_jid(1))
        .into_iter()
        .filter(|x| x.contains("<destroy"))
        .collect();
    assert_eq!(destroys.len(), 1, "{e:?}");
    assert!(
        !writes(&e)
            .iter()
            .any(|w| matches!(w, Write::InsertRoom { jid, .. } if *jid == room_jid(1).to_string())),
        "no row for a room that never was ready"
    );
}

#[test]
fn a_destroy_that_meets_a_lost_connection_is_retried_with_growing_waits_and_an_error_is_final() {
    let mut w = full_pool();
    let room = room_jid(1);
    // The destroys get no answer three times (each runs out of time), then an error.
    w.muc.fault(Ask::Destroy, Reply::Silence, 3);
    w.muc.fault(Ask::Destroy, Reply::Error("forbidden"), 1);
    // The bot is kicked out of its room.
    w.now = secs(1);
    let e = w.bot_out(&room, &[307]);
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Closed, Reason::Lost)]
    );
    let mark = w.log.len();
    w.until(secs(600));
    let sent: Vec<i64> = w.log[mark..]
        .iter()
        .filter(|(_, e)| matches!(e, Event::Sent { to, xml } if *to == room.to_string() && xml.contains("<destroy")))
        .map(|(at, _)| (*at - secs(0)).num_seconds())
        .collect();
    // Sent at 1 s; each time limit (10 s) is followed by a wait of 1, 2, 4 s; the error is final.
    assert_eq!(sent, [1 + 10 + 1, 12 + 10 + 2, 24 + 10 + 4]);
    assert_eq!(w.core.destroys_pending(), 0);
}

#[test]
fn shutdown_destroys_unclaimed_rooms_keeps_the_rest_and_starts_nothing_new() {
    // Someone is inside room-1; the pool made room-4 in its place.
    let mut w = staffed_pool();
    w.muc.hold = true;
    w.now = secs(3);
    let e = w.shutdown();
    let mut closed: Vec<_> = transitions(&e)
        .into_iter()
        .map(|(j, _, r)| (j, r))
        .collect();
    closed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        closed,
        [2, 3, 4].map(|n| (room_jid(n).to_string(), Reason::Shutdown)),
        "room-1 has someone inside"
    );
    assert_eq!(w.core.destroys_pending(), 3);
    assert_eq!(w.core.rooms(), 1);
    // Nothing new starts: no refill although the pool is short, no poll.
    let e = w.until(secs(10));
    assert!(joins(&e).is_empty() && queries(&e).is_empty(), "{e:?}");
}
