//! The waiting queue: sweeps, assignments, places pushed, visitors who went away.

use super::harness::*;
use super::*;
use crate::core::types::Reason;
use crate::core::{Input, Query, Write};
use crate::xmpp::stanza::PresenceKind;

/// How many times `query` is among `events`.
fn asked(events: &[Event], is: impl Fn(&Query) -> bool) -> usize {
    queries(events).iter().filter(|q| is(q)).count()
}

#[test]
fn a_waiting_visitor_gets_the_free_staffed_room_and_joins_it_without_a_second_check() {
    let mut w = staffed_pool();
    w.store.wait(None, "a", secs(2));
    w.store.wait(None, "b", secs(2));
    let e = w.until(secs(4));
    // One visitor still waits, but no room is free: nothing more to assign.
    assert_eq!(asked(&e, |q| *q == Query::Assign), 1, "{e:?}");
    assert_eq!(w.core.counts().open_staffed, 0);
    assert_eq!(w.core.queue().0, 1);
    // The visitor's join is decided at once: the room knows the claim.
    w.now = secs(5);
    let e = w.enter(&room_jid(1), "visitor");
    assert_eq!(
        asked(&e, |q| matches!(q, Query::Claims(_))),
        0,
        "no claims check: {e:?}"
    );
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Busy, Reason::ClientJoined)]
    );
}

#[test]
fn nobody_is_assigned_without_a_free_staffed_room_or_in_pick_mode() {
    let mut w = full_pool();
    for _ in 0..3 {
        w.store.wait(None, "a", secs(0));
    }
    let e = w.until(secs(4));
    assert_eq!(asked(&e, |q| *q == Query::Assign), 0, "{e:?}");
    let mut picking = staffed_pool_with(Settings {
        queue_auto: false,
        ..settings()
    });
    for _ in 0..3 {
        picking.store.wait(None, "a", secs(2));
    }
    let e = picking.until(secs(6));
    assert_eq!(picking.core.queue().0, 3);
    assert_eq!(asked(&e, |q| *q == Query::Assign), 0, "{e:?}");
}

#[test]
fn the_queue_is_swept_every_poll_interval() {
    let mut w = full_pool(); // swept at 0
    let sweeps = |e: &[Event]| asked(e, |q| matches!(q, Query::SweepQueue { .. }));
    assert_eq!(sweeps(&w.until(t(1999))), 0);
    let e = w.until(secs(2));
    assert!(
        queries(&e).iter().any(|q| matches!(
            q,
            Query::SweepQueue { max_wait, visitor_timeout, .. }
                if *max_wait == Duration::from_secs(3600) && *visitor_timeout == Duration::from_secs(60)
        )),
        "{e:?}"
    );
    assert_eq!(sweeps(&w.until(t(3999))), 0);
    assert_eq!(sweeps(&w.until(secs(4))), 1);
}

#[test]
fn an_assigned_visitor_over_xmpp_is_invited_with_the_rooms_password() {
    let mut w = staffed_pool();
    w.store.wait(Some(VISITOR), "Sam", secs(2));
    w.until(secs(4));
    let invitations: Vec<&String> = w
        .muc
        .received(VISITOR)
        .iter()
        .filter(|x| x.contains("jabber:x:conference"))
        .collect();
    assert_eq!(invitations.len(), 1, "{invitations:?}");
    assert!(
        invitations[0].contains(&format!("to='{VISITOR}'"))
            && invitations[0].contains(
                "<x xmlns='jabber:x:conference' jid='room-1@conference.localhost' password='pw-1'"
            ),
        "{}",
        invitations[0]
    );
}

#[test]
fn waiting_visitors_hear_their_place_when_it_changes_at_most_every_five_seconds() {
    let a = "a@anon.localhost/1";
    let b = "b@anon.localhost/2";
    let mut w = full_pool(); // the places were read at 0
                             // Someone over the web first, then a and b; 30 visitors given a room in the last half
                             // hour: a minute each.
    w.store.wait(None, "first", secs(1));
    w.store.wait(Some(a), "a", secs(1));
    w.store.wait(Some(b), "b", secs(1));
    w.store.pace = 30;
    // The places are read again at 6 s.
    let e = w.until(secs(6));
    let out = sent(&e);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out[0].contains("estimate='120' position='2'")
            && out[0].contains("estimated wait: a few minutes"),
        "{}",
        out[0]
    );
    // After a new session the next sweep reads the places (to ping the visitors): nothing
    // changed, nothing is sent.
    w.now = secs(7);
    let mut e = w.input(Input::Online { fresh: true });
    e.extend(w.until(secs(8)));
    let read = |e: &[Event]| {
        asked(e, |q| {
            matches!(
                q,
                Query::SweepQueue {
                    places: Some(_),
                    ..
                }
            )
        })
    };
    assert_eq!(read(&e), 1, "{e:?}");
    assert!(sent(&e).is_empty(), "{:?}", sent(&e));
    // They move up, but heard of their place under five seconds ago.
    w.store.queue[0].open = false;
    w.store.pace = 0;
    w.now = secs(9);
    let mut e = w.input(Input::Online { fresh: true });
    e.extend(w.until(secs(10)));
    assert_eq!(read(&e), 1, "{e:?}");
    assert!(sent(&e).is_empty(), "{:?}", sent(&e));
    // At the next read, five seconds later or more: told, with no estimate without a pace.
    let e = w.until(secs(16));
    let out = sent(&e);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out[0].contains("<queue xmlns='urn:helpim:queue:0' position='1'/>")
            && out[0].contains("You are next"),
        "no estimate without a pace: {}",
        out[0]
    );
}

#[test]
fn far_back_in_a_long_queue_a_small_move_waits_for_a_quiet_minute() {
    let v = "far@anon.localhost/1";
    let mut w = world_with(settings());
    for _ in 0..499 {
        w.store.wait(None, "someone", secs(0));
    }
    w.store.wait(Some(v), "far", secs(0));
    // The places are read at 0 s and every 6 s after (sweeps every 2 s, places at most every 5).
    let e = w.input(Input::Online { fresh: true });
    assert!(sent(&e)[0].contains("position='500'"), "{:?}", sent(&e));
    let leave = |w: &mut World, n: usize| {
        for r in w.store.queue.iter_mut().filter(|r| r.open).take(n) {
            r.open = false;
        }
    };
    leave(&mut w, 1);
    assert!(
        sent(&w.until(secs(6))).is_empty(),
        "one place of 500 is not news"
    );
    leave(&mut w, 59);
    assert_eq!(sent(&w.until(secs(12))).len(), 1, "a tenth of the way is");
    leave(&mut w, 1);
    assert!(sent(&w.until(secs(30))).is_empty());
    leave(&mut w, 1);
    assert!(sent(&w.until(secs(71))).is_empty());
    assert_eq!(
        sent(&w.until(secs(72))).len(),
        1,
        "after a quiet minute any change is"
    );
}

#[test]
fn after_a_new_session_each_waiting_visitor_is_pinged_once_and_a_bounce_lets_them_go() {
    let still = "v2@anon.localhost/web";
    let mut w = full_pool();
    w.store.wait(Some(VISITOR), "Sam", secs(0));
    w.store.wait(Some(still), "Kim", secs(0));
    // VISITOR's session ended while the bot had none.
    w.muc.gone.insert(VISITOR.into());
    w.now = secs(1);
    let mut e = w.input(Input::Online { fresh: true });
    e.extend(w.until(secs(2)));
    let pings: Vec<String> = iqs(&e)
        .into_iter()
        .filter(|x| x.contains("urn:xmpp:ping") && x.contains("@anon.localhost"))
        .collect();
    assert_eq!(pings.len(), 2, "{e:?}");
    assert!(pings.iter().any(|x| x.contains(&format!("to='{VISITOR}'"))));
    assert!(
        matches!(&writes(&e)[..], [Write::VisitorGone { visitor }] if visitor == VISITOR),
        "{e:?}"
    );
    let e = w.until(secs(20));
    assert!(
        iqs(&e).iter().all(|x| !x.contains("urn:xmpp:ping")),
        "once: {e:?}"
    );
}

#[test]
fn the_places_in_line_are_read_at_most_every_five_seconds() {
    let mut w = full_pool();
    let mark = w.log.len();
    w.until(secs(24));
    let with_places: Vec<i64> = w.log[mark..]
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Query(Query::SweepQueue {
                    places: Some(_),
                    ..
                })
            )
        })
        .map(|(at, _)| (*at - secs(0)).num_seconds())
        .collect();
    assert!(
        with_places.windows(2).all(|w| w[1] - w[0] >= 5),
        "{with_places:?}"
    );
    assert!(with_places.len() >= 3, "{with_places:?}");
}

#[test]
fn a_visitor_whose_session_ends_leaves_the_queue_at_once() {
    let mut w = full_pool();
    w.now = secs(1);
    let e = w.direct(VISITOR, PresenceKind::Unavailable);
    assert!(
        matches!(&writes(&e)[..], [Write::VisitorGone { visitor }] if visitor == VISITOR),
        "{e:?}"
    );
    // Someone off the visitors' domains is nobody's business.
    let e = w.direct("someone@elsewhere.example/x", PresenceKind::Unavailable);
    assert!(writes(&e).is_empty());
}

#[test]
fn no_room_is_handed_out_or_assigned_until_the_bot_is_back_inside_after_a_new_session() {
    // staff@localhost is in room-1; rooms 2 to 4 are available.
    let mut w = staffed_pool();
    w.muc.hold = true;
    w.now = secs(3);
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(joins(&e).len(), 4);
    // The database's oldest available room may be gone with a restarted server: take-chat is
    // answered without a claim until the bot is back inside.
    let e = w.command("staff@localhost/console", "take-chat", &[]);
    assert_eq!(
        asked(&e, |q| matches!(q, Query::TakeChat(_))),
        0,
        "no claim: {e:?}"
    );
    assert!(
        sent(&e).iter().any(|s| s.contains("<value>none</value>")),
        "{e:?}"
    );
    // The same for a waiting visitor and the staffed room-1.
    w.store.wait(None, "a", secs(3));
    let e = w.until(secs(4));
    assert_eq!(asked(&e, |q| *q == Query::Assign), 0, "{e:?}");
    let e = w.serve_all();
    assert_eq!(
        asked(&e, |q| *q == Query::Assign),
        1,
        "the visitor's assignment goes ahead once every room is rejoined: {e:?}"
    );
    w.now = secs(5);
    let e = w.command("staff@localhost/console", "take-chat", &[]);
    assert_eq!(asked(&e, |q| matches!(q, Query::TakeChat(_))), 1, "{e:?}");
}
