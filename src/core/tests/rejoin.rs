//! Rooms of an earlier run or an earlier session: rejoined with their history, probed,
//! corrected, closed as lost, or waited for.

use super::harness::*;
use super::*;
use crate::core::types::Reason;
use crate::core::{Input, Query, Write};

#[test]
fn rooms_of_an_earlier_run_are_rejoined_with_their_history_since_the_last_stored_line() {
    let mut w = rejoining(vec![restored(1, Status::Busy, Some(t(100_750)))], secs(200));
    let e = w.input(Input::Online { fresh: true });
    let j = joins(&e);
    assert_eq!(j.len(), 1);
    assert!(
        j[0].1.contains("old-1"),
        "with the stored password: {}",
        j[0].1
    );
    assert!(
        j[0].1.contains("since='2027-01-15T08:01:39Z'"),
        "a second before the last line, whole seconds: {}",
        j[0].1
    );
}

#[test]
fn rejoins_run_at_most_four_times_parallel_creations_at_once() {
    let mut w = rejoining(
        (1..=20)
            .map(|n| restored(n, Status::Staffed, None))
            .collect(),
        secs(1),
    );
    assert_eq!(settings().parallel_creations, 2);
    w.muc.hold = true;
    let e = w.input(Input::Online { fresh: true });
    let first = joins(&e);
    assert_eq!(first.len(), 8);
    // Each answer lets the next one go.
    w.now = secs(2);
    let e = w.serve(&first[0].0);
    assert_eq!(joins(&e).len(), 1);
}

#[test]
fn a_rejoin_that_times_out_is_tried_again_a_second_later() {
    let mut w = rejoining(vec![restored(1, Status::Staffed, None)], secs(1));
    w.muc.fault(Ask::Join, Reply::Silence, 1);
    assert_eq!(joins(&w.input(Input::Online { fresh: true })).len(), 1);
    // No answer: the join times out after request_timeout (10 s), at 11 s.
    assert!(joins(&w.until(secs(11))).is_empty());
    assert!(joins(&w.until(t(11_999))).is_empty());
    assert_eq!(joins(&w.until(secs(12))).len(), 1);
}

#[test]
fn a_room_that_vanished_refused_the_bot_or_changed_owner_is_closed_as_lost() {
    for case in ["vanished", "refused", "not owner"] {
        let mut w = rejoining(vec![restored(1, Status::Busy, None)], secs(1));
        match case {
            "vanished" => {
                w.muc.rooms.remove(&room_jid(1));
            }
            "refused" => w.muc.rooms.get_mut(&room_jid(1)).unwrap().password = "other".into(),
            _ => {
                w.muc.rooms.get_mut(&room_jid(1)).unwrap().bot_affiliation = "member".into();
            }
        }
        let e = w.input(Input::Online { fresh: true });
        assert_eq!(
            transitions(&e),
            [(room_jid(1).to_string(), Status::Closed, Reason::Lost)],
            "{case}"
        );
        assert!(
            iqs(&e).iter().any(|x| x.contains("<destroy")),
            "{case}: destroyed too"
        );
        assert_eq!(w.core.rooms(), 0, "{case}");
    }
}

#[test]
fn rejoining_probes_every_occupant_and_corrects_the_status() {
    let mut w = rejoining(vec![restored(1, Status::Busy, None)], secs(1));
    // The client left while the bot was away: an unclean leave, so they may still come back.
    w.muc
        .rooms
        .get_mut(&room_jid(1))
        .unwrap()
        .occupants
        .retain(|o| o.nick == "staff");
    let e = w.input(Input::Online { fresh: true });
    let pings: Vec<_> = iqs(&e)
        .into_iter()
        .filter(|x| x.contains("urn:xmpp:ping"))
        .collect();
    assert_eq!(pings.len(), 1);
    assert!(
        pings[0].contains("room-1@conference.localhost/staff"),
        "{}",
        pings[0]
    );
    assert_eq!(
        transitions(&e),
        [(
            room_jid(1).to_string(),
            Status::Closing,
            Reason::LeftUnclean
        )]
    );
}

#[test]
fn a_fresh_session_rejoins_every_room_and_a_resumed_one_does_not() {
    let mut w = full_pool();
    w.now = secs(1);
    assert!(joins(&w.input(Input::Online { fresh: false })).is_empty());
    assert_eq!(w.core.counts().ready, 3);
    w.muc.hold = true;
    w.now = secs(2);
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(joins(&e).len(), 3);
    assert_eq!(w.core.counts().ready, 0, "not inside until rejoined");
    assert_eq!(w.core.counts().ready_rejoining, 3);
}

/// ejabberd, after a restart: the new session's join is answered, then the old session's place
/// under the same full JID ends and the room says the bot is out, without a kick. The chat goes
/// on: the bot joins again instead of closing the room as lost.
#[test]
fn a_bot_put_out_of_a_room_without_a_kick_joins_again_and_the_chat_goes_on() {
    let mut w = rejoining(vec![restored(1, Status::Busy, Some(secs(100)))], secs(200));
    let room = room_jid(1);
    w.now = secs(201);
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(joins(&e).len(), 1);
    assert_eq!(transitions(&e), []);
    // Put out without a cause: joined again at once, and back inside with both (the room
    // answers the join): still busy, nothing written.
    w.now = secs(202);
    let e = w.bot_out(&room, &[]);
    assert_eq!(transitions(&e), [], "not lost");
    assert!(iqs(&e).iter().all(|x| !x.contains("<destroy")));
    let again = joins(&e);
    assert_eq!(again.len(), 1, "joined again at once");
    assert!(
        again[0].1.contains("old-1") && again[0].1.contains("since="),
        "with the password and the history since the last stored line: {}",
        again[0].1
    );
    assert_eq!(w.core.counts().by_status, [0, 0, 1, 0]);
    // Put out for a cause (a kick) is lost, as before.
    w.now = secs(204);
    let e = w.bot_out(&room, &[307]);
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Closed, Reason::Lost)]
    );
}

#[test]
fn an_expired_client_claim_gets_a_new_password_that_the_next_rejoin_uses() {
    let mut r = restored(1, Status::Staffed, None);
    r.room = Room::restore(
        Status::Staffed,
        secs(0),
        Claims {
            staff_at: Some(secs(0)),
            client_at: Some(secs(10)),
        },
        Some(Seat {
            nick: "staff".into(),
            jid: Some("staff@localhost".into()),
            claim: Some(secs(0)),
        }),
        None,
        secs(0),
    );
    let mut w = rejoining(vec![r], secs(1));
    // Rejoined; the staff member answers the probe of a rejoin.
    w.input(Input::Online { fresh: true });
    // The client claim (10 s) expires after the claim limit (60 s).
    let e = w.until(secs(70));
    assert!(!writes(&e)
        .iter()
        .any(|w| matches!(w, Write::RotatePassword { .. })));
    let e = w.until(secs(70) + chrono::Duration::milliseconds(1));
    let x = iqs(&e);
    assert!(is_form_request(&x[0]), "{x:?}");
    assert!(x[1].contains("pw-1"), "{}", x[1]);
    assert!(
        matches!(writes(&e)[..], [Write::RotatePassword { password, .. }] if password == "pw-1"),
        "{e:?}"
    );
    w.now = secs(100);
    let e = w.input(Input::Online { fresh: true });
    assert!(joins(&e)[0].1.contains("pw-1"));
    assert_eq!(w.core.counts().by_status[1], 1, "and the room let it in");
}

#[test]
fn a_late_answer_to_a_rejoin_of_an_old_session_is_ignored() {
    let mut w = rejoining(vec![restored(1, Status::Staffed, None)], secs(1));
    w.muc.hold = true;
    assert_eq!(joins(&w.input(Input::Online { fresh: true })).len(), 1);
    // A new session before the answer: the old join fails, the room is queued again and
    // joined anew, once.
    w.now = secs(2);
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(joins(&e).len(), 1, "not queued a second time");
    // The room answers both joins, the old one late: nothing changes.
    w.now = secs(3);
    let e = w.serve_all();
    assert!(transitions(&e).is_empty(), "{e:?}");
    assert_eq!(w.core.counts().by_status[1], 1);
}

#[test]
fn nothing_runs_while_nothing_is_due_even_with_many_rooms() {
    let mut w = rejoining_with(
        Settings {
            pool_size: 0,
            parallel_creations: 250,
            ..settings()
        },
        (1..=1000)
            .map(|n| restored(n, Status::Busy, None))
            .collect(),
        secs(1),
    );
    w.input(Input::Online { fresh: true });
    assert_eq!(w.core.counts().by_status[2], 1000);
    // Until the first idle limit the bot does nothing but read the claims and sweep the queue.
    for s in [5, 60, 300, 599] {
        let e = w.until(secs(s));
        assert!(
            e.iter().all(|e| matches!(
                e,
                Event::Query(Query::OpenClaims | Query::SweepQueue { .. })
                    | Event::Write(Write::ForgetEnded { .. })
            )),
            "until {s} s: {e:?}"
        );
    }
    // Each room holds its idle limit (from the last activity restored, t = 0).
    let e = w.until(secs(600) + chrono::Duration::milliseconds(1));
    assert_eq!(
        transitions(&e)
            .iter()
            .filter(|(_, _, r)| *r == Reason::IdleTimeout)
            .count(),
        1000
    );
}

#[test]
fn an_idle_chat_closes_at_its_deadline_and_not_a_moment_before() {
    let mut w = rejoining(vec![restored(1, Status::Busy, None)], secs(0));
    let e = w.input(Input::Online { fresh: true });
    assert!(transitions(&e).is_empty());
    // The idle limit runs from the last activity restored from the row (t = 0).
    assert!(transitions(&w.until(secs(600))).is_empty());
    let e = w.until(secs(600) + chrono::Duration::milliseconds(1));
    assert_eq!(
        transitions(&e),
        [(room_jid(1).to_string(), Status::Closed, Reason::IdleTimeout)]
    );
    assert_eq!(
        iqs(&e).iter().filter(|x| x.contains("muc#admin")).count(),
        2,
        "both kicked"
    );
}
