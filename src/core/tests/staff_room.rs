//! The staff room (core/protocol/staff_room.rs, docs/protocol.md "The staff room"): created and
//! configured by the bot, members the explicit staff JIDs, its staff occupants on duty, the
//! bot's posts; the re-offer of pick mode.

use super::harness::*;
use super::*;
use crate::core::Input;

fn staff_room() -> BareJid {
    jid("staff@conference.localhost")
}

fn with_staff_room(s: Settings) -> Settings {
    let mut s = s;
    s.staff.room = Some(staff_room());
    s.staff.jids = vec![
        "staff@localhost".into(),
        "kim@localhost".into(),
        "*@volunteers.localhost".into(),
    ];
    s.staff.supervisors = vec!["boss@localhost".into()];
    s.staff.jids.push("boss@localhost".into());
    s
}

fn posts(w: &World) -> Vec<String> {
    w.muc
        .received(&staff_room().to_string())
        .iter()
        .filter(|x| x.contains("type='groupchat'"))
        .map(|x| {
            let body = x.split("<body>").nth(1).unwrap_or_default();
            body.split("</body>").next().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn the_bot_creates_the_staff_room_members_only_for_the_explicit_staff_jids() {
    let mut w = world_with(with_staff_room(settings()));
    w.input(Input::Online { fresh: true });
    let room = w.muc.rooms.get(&staff_room()).expect("created");
    assert!(room.bot_inside && room.bot_affiliation == "owner");
    assert_eq!(room.configured, 1);
    assert_eq!(
        room.config
            .get("muc#roomconfig_persistentroom")
            .map(String::as_str),
        Some("1")
    );
    // The harness's form offers only these two fields: the rest is left out, as on a server
    // that does not offer them; the password is empty.
    assert_eq!(
        room.config
            .get("muc#roomconfig_roomsecret")
            .map(String::as_str),
        Some("")
    );
    let members: Vec<&str> = room.members.iter().map(String::as_str).collect();
    assert_eq!(
        members,
        ["boss@localhost", "kim@localhost", "staff@localhost"]
    );
    // No pool room: no row, no status.
    assert!(!writes(&w.since(0)).iter().any(|wr| matches!(wr, crate::core::Write::InsertRoom { jid, .. } if *jid == staff_room().to_string())));
    // A member taken out of the configuration is taken off the list with the next session.
    w.muc
        .rooms
        .get_mut(&staff_room())
        .unwrap()
        .members
        .insert("gone@localhost".into());
    w.input(Input::Offline);
    w.input(Input::Online { fresh: true });
    let room = &w.muc.rooms[&staff_room()];
    assert_eq!(room.configured, 2, "configured again on every new session");
    assert!(!room.members.contains("gone@localhost"));
    assert_eq!(room.members.len(), 3);
}

#[test]
fn staff_in_the_staff_room_are_on_duty_and_others_are_not() {
    let mut w = world_with(with_staff_room(settings()));
    w.input(Input::Online { fresh: true });
    assert_eq!(w.core.staff_on_duty(), 0);
    assert!(!w.core.line_status(w.now).open());
    w.enter(&staff_room(), "kim");
    assert_eq!(w.core.staff_on_duty(), 1);
    assert!(
        w.core.line_status(w.now).open(),
        "being inside opens the line"
    );
    // Someone who is not staff (the server would refuse them; if it let them in) counts not.
    w.enter(&staff_room(), "mallory");
    assert_eq!(w.core.staff_on_duty(), 1);
    w.exit(&staff_room(), "kim", None);
    assert_eq!(w.core.staff_on_duty(), 0);
}

#[test]
fn each_waiting_visitor_is_announced_in_the_staff_room_once() {
    let mut w = world_with(with_staff_room(settings()));
    // Waiting before the bot started: announced too (the staff room learns they wait).
    w.store.wait(None, "Early", secs(0));
    w.input(Input::Online { fresh: true });
    w.until(secs(3));
    w.store.wait(None, "Sam", secs(3));
    w.store.queue.last_mut().unwrap().topic = Some("money worries".into());
    w.until(secs(8));
    w.store.wait(None, "Kim", secs(8));
    w.until(secs(20));
    assert_eq!(
        posts(&w),
        [
            "Early is waiting.",
            "Sam is waiting: money worries",
            "Kim is waiting."
        ]
    );
}

#[test]
fn in_pick_mode_a_visitor_nobody_took_is_re_offered_once_after_reoffer_after() {
    let mut w = world_with(with_staff_room(Settings {
        queue_auto: false,
        ..settings()
    }));
    w.input(Input::Online { fresh: true });
    w.direct(
        "staff@localhost/console",
        crate::xmpp::stanza::PresenceKind::Available,
    );
    w.until(secs(2));
    w.store.wait(None, "Sam", secs(2));
    w.store.wait(None, "Kim", secs(60));
    // reoffer_after is two minutes: Sam at 122 s (within a sweep), Kim at 180 s.
    w.until(secs(121));
    assert_eq!(posts(&w), ["Sam is waiting.", "Kim is waiting."]);
    w.until(secs(125));
    assert_eq!(
        posts(&w)[2..],
        ["Sam has waited 2 minutes and nobody has taken them yet"]
    );
    let pushed = w
        .muc
        .received("staff@localhost/console")
        .last()
        .unwrap()
        .clone();
    assert!(
        pushed.contains("nick='Sam'") && pushed.contains("reoffer='true'"),
        "{pushed}"
    );
    assert_eq!(pushed.matches("reoffer=").count(), 1, "{pushed}");
    // Kim is taken before their two minutes: never re-offered.
    w.store
        .queue
        .iter_mut()
        .find(|r| r.nick == "Kim")
        .unwrap()
        .open = false;
    w.until(secs(600));
    assert_eq!(posts(&w).len(), 3, "{:?}", posts(&w));
}

#[test]
fn in_auto_mode_nobody_is_re_offered() {
    let mut w = world_with(with_staff_room(settings()));
    w.input(Input::Online { fresh: true });
    w.store.wait(None, "Sam", secs(0));
    w.until(secs(600));
    assert!(posts(&w).iter().all(|p| !p.contains("nobody has taken")));
}

#[test]
fn the_examples_of_the_protocol_documentation_are_what_the_bot_posts() {
    let docs = super::protocol::doc_examples();
    let canonical = super::protocol::canonical;
    let mut w = world_with(with_staff_room(Settings {
        queue_auto: false,
        ..settings()
    }));
    w.input(Input::Online { fresh: true });
    w.store.wait(None, "Sam", secs(1));
    w.store.queue.last_mut().unwrap().topic = Some("money worries".into());
    w.until(secs(200));
    let sent: Vec<String> = w
        .muc
        .received(&staff_room().to_string())
        .iter()
        .filter(|x| x.contains("type='groupchat'"))
        .cloned()
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(canonical(&sent[0]), canonical(&docs["staff-room-waiting"]));
    assert_eq!(canonical(&sent[1]), canonical(&docs["staff-room-reoffer"]));
}
