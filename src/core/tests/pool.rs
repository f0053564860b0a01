//! Creating rooms: the pool filled, the room form, backoff, names that exist, limits.

use super::harness::*;
use super::*;
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
