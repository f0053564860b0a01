//! Who may be in a room: claims checked against the database, the claims poll, kicks.

use super::harness::*;
use super::*;
use crate::core::types::Reason;
use crate::core::{Query, Write};

#[test]
fn a_join_without_a_claim_is_checked_against_the_database_then_kicked() {
    let mut w = full_pool();
    let room = room_jid(1);
    w.now = secs(1);
    let e = w.enter(&room, "mallory");
    assert_eq!(queries(&e), [Query::Claims(room.to_string())]);
    let kicks: Vec<_> = iqs(&e)
        .into_iter()
        .filter(|x| x.contains("muc#admin"))
        .collect();
    assert_eq!(kicks.len(), 1);
    assert!(kicks[0].contains("nick='mallory'"), "{}", kicks[0]);
    assert!(w.muc.rooms[&room].occupants.is_empty(), "out");
}

#[test]
fn a_failed_claims_read_is_asked_again_a_second_later() {
    let mut w = full_pool();
    w.store.down = true;
    w.now = secs(1);
    let e = w.enter(&room_jid(1), "staff");
    assert_eq!(queries(&e), [Query::Claims(room_jid(1).to_string())]);
    assert!(
        !iqs(&e).iter().any(|x| x.contains("muc#admin")),
        "nobody is kicked on a guess"
    );
    let claims_reads = |e: &[Event]| {
        queries(e)
            .iter()
            .filter(|q| matches!(q, Query::Claims(_)))
            .count()
    };
    assert_eq!(claims_reads(&w.until(t(1999))), 0);
    assert_eq!(claims_reads(&w.until(secs(2))), 1);
}

#[test]
fn the_claims_poll_runs_every_interval_and_a_staff_claim_found_makes_the_join_count() {
    let mut w = full_pool();
    let polls = |e: &[Event]| {
        queries(e)
            .iter()
            .filter(|q| **q == Query::OpenClaims)
            .count()
    };
    // The poll of 2 s is on its way (the database is slow): one poll at a time.
    w.store.hold = true;
    assert_eq!(polls(&w.until(secs(2))), 1);
    assert_eq!(polls(&w.until(secs(3))), 0, "one poll at a time");
    // Its answer brings a staff claim for room-1.
    w.store.claims.insert(
        room_jid(1).to_string(),
        Claims {
            staff_at: Some(secs(1)),
            client_at: None,
        },
    );
    // A claimed room is no longer ready: the pool makes another.
    let e = w.release();
    assert!(
        matches!(writes(&e)[..], [Write::InsertRoom { jid, .. }] if *jid == room_jid(4).to_string()),
        "{e:?}"
    );
    assert_eq!(w.core.counts().ready, 3);
    // The staff member joins: the join counts without a check.
    w.now = secs(4);
    let e = w.enter(&room_jid(1), "staff");
    assert_eq!(
        transitions(&e),
        [(
            room_jid(1).to_string(),
            Status::Staffed,
            Reason::StaffJoined
        )]
    );
    assert!(
        matches!(writes(&e)[0], Write::Transition { transition, .. } if transition.jid.as_deref() == Some("staff@localhost"))
    );
    // The next poll, poll_interval after the answer.
    assert_eq!(polls(&w.until(t(4999))), 0);
    assert_eq!(polls(&w.until(secs(5))), 1);
}
