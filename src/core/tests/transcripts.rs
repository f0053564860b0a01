//! What is kept of a chat: its lines, once each and in order (history replayed after a rejoin
//! included), and for how long.

use super::harness::*;
use super::*;
use crate::core::{Input, Write};
use crate::xmpp::stanza::RoomMessage;

#[test]
fn retention_runs_at_start_and_then_every_hour() {
    let prunes = |e: &[Event]| {
        e.iter()
            .filter_map(|e| match e {
                Event::Prune(before) => Some(*before),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let mut w = world_with(settings());
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(prunes(&e), [secs(0) - chrono::Duration::days(30)]);
    assert!(prunes(&w.until(secs(3599))).is_empty());
    assert_eq!(
        prunes(&w.until(secs(3600))),
        [secs(3600) - chrono::Duration::days(30)]
    );
}

#[test]
fn a_chat_from_the_request_to_a_clean_exit_is_stored_line_by_line() {
    use crate::core::types::{Reason, Role};
    let room = room_jid(1);
    // A staff member waits in room-1; a visitor asks, and is invited at once.
    let mut w = staffed_pool();
    let e = request_chat(&mut w);
    assert!(
        sent(&e)[0].contains("<value>queued</value>"),
        "{:?}",
        sent(&e)
    );
    let invitation = w.muc.received(VISITOR).last().cloned().unwrap_or_default();
    assert!(
        invitation.contains("jabber:x:conference") && invitation.contains("password='pw-1'"),
        "{invitation}"
    );
    // The visitor joins; they talk; the visitor leaves with the clean exit.
    w.now = secs(3);
    let e = w.enter_as(
        &room,
        Occupant {
            nick: "Sam".into(),
            jid: VISITOR.into(),
            affiliation: "none".into(),
        },
    );
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Busy, Reason::ClientJoined)]
    );
    w.now = secs(4);
    w.say(&room, "Sam", "hello");
    w.now = secs(5);
    w.say(&room, "staff", "hi Sam");
    w.now = secs(6);
    let e = w.exit(&room, "Sam", Some("Clean Exit"));
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Closing, Reason::LeftClean)]
    );
    let lines: Vec<_> = w
        .store
        .writes
        .iter()
        .filter_map(|(_, w)| match w {
            Write::Message {
                seq, nick, role, ..
            } => Some((*seq, nick.clone(), *role)),
            _ => None,
        })
        .collect();
    assert_eq!(
        lines,
        [
            // The visitor by role (privacy.keep_visitor_names is false).
            (1, "client".to_string(), Role::Client),
            (2, "staff".to_string(), Role::Staff)
        ]
    );
}

#[test]
fn history_replayed_on_a_rejoin_is_stored_once_in_order_with_the_servers_time() {
    let mut w = rejoining(vec![restored(1, Status::Busy, Some(secs(100)))], secs(200));
    w.input(Input::Online { fresh: true });
    let room = room_jid(1);
    let line = |nick: &str, body: &str, at: Option<Time>| {
        Input::Message(RoomMessage {
            room: room.clone(),
            nick: nick.into(),
            body: body.into(),
            delayed: at,
        })
    };
    w.now = secs(201);
    let mut stored = Vec::new();
    for input in [
        line("client", "last line", Some(secs(100))), // stored before the bot went away
        line("staff", "said while the bot was away", Some(secs(150))),
        line("client", "me too", Some(secs(151))),
        line("staff", "me too", Some(secs(151))),
        line("staff", "me too", Some(secs(151))),
        line("staff", "live again", None),
    ] {
        for w in writes(&w.input(input)) {
            if let Write::Message {
                seq,
                at,
                nick,
                body,
                ..
            } = w
            {
                stored.push((*seq, *at, nick.clone(), body.clone()));
            }
        }
    }
    assert_eq!(
        stored,
        [
            (
                5,
                secs(150),
                "staff".into(),
                "said while the bot was away".into()
            ),
            (6, secs(151), "client".into(), "me too".into()),
            (7, secs(151), "staff".into(), "me too".into()),
            (8, secs(151), "staff".into(), "me too".into()),
            (9, secs(201), "staff".into(), "live again".into()),
        ]
    );
}
