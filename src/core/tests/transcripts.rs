//! What is kept of a chat: its lines, once each and in order (history replayed after a rejoin
//! included), and for how long.

use super::harness::*;
use super::*;
use crate::core::{Input, Write};
use crate::xmpp::stanza::{PresenceKind, RoomMessage};

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

/// A room of an earlier run rejoined at 200 s (its last stored line at 100 s), inside again.
fn rejoined_busy_room() -> (World, BareJid) {
    let mut w = rejoining(vec![restored(1, Status::Busy, Some(secs(100)))], secs(200));
    w.input(Input::Online { fresh: true });
    let room = room_jid(1);
    assert!(w.muc.rooms[&room].bot_inside);
    (w, room)
}

/// The messages among `events`' writes: (seq, time, nick, body).
fn stored_lines(events: &[Event]) -> Vec<(i64, Time, String, String)> {
    writes(events)
        .into_iter()
        .filter_map(|w| match w {
            Write::Message {
                seq,
                at,
                nick,
                body,
                ..
            } => Some((*seq, *at, nick.clone(), body.clone())),
            _ => None,
        })
        .collect()
}

/// The room replays `history` (the server's stamps) after the bot's own presence, as it does
/// after every join; what the bot stored of it.
fn replay(w: &mut World, room: &BareJid, history: &[(Time, &str, &str)]) -> Vec<Event> {
    let own = own_presence(room, PresenceKind::Available, &[110], "owner");
    let mut events = w.input(Input::Presence(own));
    for (at, nick, body) in history {
        events.extend(w.input(Input::Message(RoomMessage {
            room: room.clone(),
            nick: (*nick).into(),
            body: (*body).into(),
            delayed: Some(*at),
        })));
    }
    events
}

/// The bot's time `ms` milliseconds after `s` seconds: live lines are stored at the bot's time,
/// with its fraction of a second, while Prosody stamps the replayed ones in whole seconds.
fn at_ms(s: i64, ms: i64) -> Time {
    secs(s) + chrono::Duration::milliseconds(ms)
}

#[test]
fn a_second_join_in_the_same_session_replays_the_history_again_and_nothing_is_stored_twice() {
    let (mut w, room) = rejoined_busy_room();
    w.now = at_ms(201, 700);
    let mut stored = stored_lines(&w.say(&room, "staff", "one"));
    w.now = at_ms(202, 400);
    stored.extend(stored_lines(&w.say(&room, "client", "two")));
    assert_eq!(stored.len(), 2);
    // A second join of the room in this session (an earlier session's join flushed into this
    // one): the room answers with the bot's own presence and the same history, twice.
    let history = [
        (secs(100), "client", "last line"),
        (secs(201), "staff", "one"),
        (secs(202), "client", "two"),
    ];
    for _ in 0..2 {
        assert_eq!(stored_lines(&replay(&mut w, &room, &history)), []);
    }
    w.now = secs(203);
    assert_eq!(
        stored_lines(&w.say(&room, "staff", "three")),
        [(7, secs(203), "staff".into(), "three".into())]
    );
}

#[test]
fn a_session_replaced_in_the_middle_of_a_replay_stores_each_line_once_in_order() {
    let mut w = rejoining(vec![restored(1, Status::Busy, Some(secs(100)))], secs(200));
    let room = room_jid(1);
    // Said while the bot was away; the room replays them after the join.
    let history = [
        (secs(100), "client", "last line"),
        (secs(150), "staff", "a"),
        (secs(150), "staff", "a"),
        (secs(151), "client", "b"),
        (secs(152), "staff", "c"),
    ];
    w.input(Input::Online { fresh: true });
    w.now = secs(201);
    // The session is replaced after the first three lines of the replay…
    let mut stored = stored_lines(&replay(&mut w, &room, &history[..3]));
    // …and a new session rejoins: the room replays everything since a second before the last
    // stored line (150 s), and a bit more.
    w.input(Input::Online { fresh: true });
    stored.extend(stored_lines(&replay(&mut w, &room, &history[1..])));
    assert_eq!(
        stored,
        [
            (5, secs(150), "staff".into(), "a".into()),
            (6, secs(150), "staff".into(), "a".into()),
            (7, secs(151), "client".into(), "b".into()),
            (8, secs(152), "staff".into(), "c".into()),
        ]
    );
}

#[test]
fn ten_rejoins_in_a_row_each_replaying_the_history_store_each_line_once_in_order() {
    let (mut w, room) = rejoined_busy_room();
    let mut history: Vec<(Time, String, String)> =
        vec![(secs(100), "client".into(), "last line".into())];
    let mut stored = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10i64 {
        // A line heard live, at the bot's time…
        let s = 210 + i;
        w.now = at_ms(s, 900);
        let (nick, body) = (
            if i % 2 == 0 { "staff" } else { "client" },
            format!("live {i}"),
        );
        stored.extend(stored_lines(&w.say(&room, nick, &body)));
        expected.push((s, nick.to_string(), body.clone()));
        history.push((secs(s), nick.into(), body));
        // …and one said while the bot is out, which only the replay brings.
        let away = format!("away {i}");
        history.push((secs(s), nick.into(), away.clone()));
        expected.push((s, nick.to_string(), away));
        // The bot leaves the room (a new session every other time, else its place in the room
        // ended) and joins again; the room replays its whole history, more than was asked.
        w.now = at_ms(s, 950);
        if i % 2 == 0 {
            w.input(Input::Online { fresh: true });
        } else {
            w.bot_out(&room, &[]);
        }
        let lines: Vec<(Time, &str, &str)> = history
            .iter()
            .map(|(t, n, b)| (*t, n.as_str(), b.as_str()))
            .collect();
        stored.extend(stored_lines(&replay(&mut w, &room, &lines)));
    }
    let got: Vec<(i64, String, String)> = stored
        .iter()
        .map(|(_, at, n, b)| (at.timestamp() - secs(0).timestamp(), n.clone(), b.clone()))
        .collect();
    assert_eq!(got, expected);
    let seqs: Vec<i64> = stored.iter().map(|(seq, ..)| *seq).collect();
    assert_eq!(seqs, (5..25).collect::<Vec<_>>());
}

/// Room 1 of an earlier run, `staffed` (nothing stored), its client claim made at 110 s: the
/// staff member is inside and the visitor who claimed it is not (when the bot comes back).
fn rejoined_staffed_room(settings: Settings) -> (World, BareJid) {
    rejoined_staffed_room_with(settings, &["staff"])
}

/// [`rejoined_staffed_room`] with `inside` in the room when the bot comes back.
fn rejoined_staffed_room_with(settings: Settings, inside: &[&str]) -> (World, BareJid) {
    use crate::core::types::{Claims, Seat};
    let mut r = restored(1, Status::Staffed, None);
    r.room = Room::restore(
        Status::Staffed,
        secs(0),
        Claims {
            staff_at: Some(secs(0)),
            client_at: Some(secs(110)),
        },
        Some(Seat {
            nick: "staff".into(),
            jid: Some("staff@localhost".into()),
            claim: Some(secs(0)),
        }),
        None,
        secs(0),
    );
    r.last_seq = 0;
    r.history_since = secs(100);
    r.recent.clear();
    let mut w = rejoining_with(
        Settings {
            pool_size: 0,
            ..settings
        },
        vec![r],
        secs(200),
    );
    let room = room_jid(1);
    w.muc.add_room(&room, "old-1", inside);
    w.input(Input::Online { fresh: true });
    assert!(w.muc.rooms[&room].bot_inside);
    (w, room)
}

/// What the visitor and the staff member said in room 1 while the bot was away.
const UNSEEN: [(i64, &str, &str); 4] = [
    (150, "staff", "hello, I am here"),
    (151, "Sam", "I need to talk"),
    (152, "staff", "I am listening"),
    (153, "Sam", "thank you"),
];

fn unseen_history() -> Vec<(Time, &'static str, &'static str)> {
    UNSEEN.iter().map(|(s, n, b)| (secs(*s), *n, *b)).collect()
}

#[test]
fn a_chat_the_bot_did_not_see_is_stored_and_its_room_closes_rather_than_waiting_for_another_visitor(
) {
    use crate::core::types::Reason;
    let (mut w, room) = rejoined_staffed_room(settings());
    w.now = secs(201);
    let e = replay(&mut w, &room, &unseen_history());
    // As if the bot had seen it: busy at its first line, then the visitor gone, as a dropped
    // connection.
    assert_eq!(
        transitions(&e),
        [
            (room.to_string(), Status::Busy, Reason::ClientJoined),
            (room.to_string(), Status::Closing, Reason::LeftUnclean),
        ]
    );
    let busy_at = writes(&e).into_iter().find_map(|w| match w {
        Write::Transition { transition, .. } if transition.to == Status::Busy => {
            Some(transition.at)
        }
        _ => None,
    });
    assert_eq!(busy_at, Some(secs(150)));
    // Every line, once, in order, with the server's time; the visitor by role.
    let want: Vec<_> = UNSEEN
        .iter()
        .zip(1..)
        .map(|((s, n, b), seq)| {
            let nick = if *n == "Sam" { "client" } else { "staff" };
            (seq, secs(*s), nick.to_string(), b.to_string())
        })
        .collect();
    assert_eq!(stored_lines(&e), want);
    // The room replays its history again (a second join): nothing is stored twice.
    w.now = secs(202);
    let e = replay(&mut w, &room, &unseen_history());
    assert_eq!(stored_lines(&e), []);
    assert!(transitions(&e).is_empty(), "{e:?}");
    // The client claim expires (110 s + 60 s, long past): the room gets no new password and
    // waits for nobody; it closes at its closing limit (120 s after the replay, at 201 s).
    let e = w.until(secs(321));
    assert!(
        !writes(&e)
            .iter()
            .any(|w| matches!(w, Write::RotatePassword { .. })),
        "{e:?}"
    );
    assert!(transitions(&e).is_empty(), "{e:?}");
    let e = w.until(secs(321) + chrono::Duration::milliseconds(1));
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Closed, Reason::ClosingTimeout)]
    );
    assert!(iqs(&e).iter().any(|x| x.contains("<destroy")));
}

#[test]
fn the_staff_member_leaving_after_an_unseen_chat_closes_the_room_at_once() {
    use crate::core::types::Reason;
    let (mut w, room) = rejoined_staffed_room(settings());
    w.now = secs(201);
    replay(&mut w, &room, &unseen_history());
    w.now = secs(202);
    let e = w.exit(&room, "staff", Some("Clean Exit"));
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Closed, Reason::AllLeft)]
    );
}

#[test]
fn an_unseen_chat_keeps_the_visitors_name_where_the_help_line_keeps_names() {
    let (mut w, room) = rejoined_staffed_room(Settings {
        keep_visitor_names: true,
        ..settings()
    });
    w.now = secs(201);
    let e = replay(&mut w, &room, &unseen_history());
    let nicks: Vec<_> = stored_lines(&e).into_iter().map(|l| l.2).collect();
    assert_eq!(nicks, ["staff", "Sam", "staff", "Sam"]);
}

#[test]
fn a_staffed_room_replaying_only_its_staff_members_lines_changes_nothing() {
    use crate::core::types::Reason;
    let (mut w, room) = rejoined_staffed_room(settings());
    w.now = secs(201);
    let e = replay(
        &mut w,
        &room,
        &[
            (secs(150), "staff", "anyone?"),
            (secs(160), "staff", "still here"),
        ],
    );
    assert!(writes(&e).is_empty(), "{e:?}");
    assert_eq!(w.core.counts().by_status[1], 1, "still staffed");
    // The visitor who claimed it comes in now, with a fresh claim: the chat starts as usual, and
    // what the staff member said to nobody is not part of it.
    w.store.claims.get_mut(&room.to_string()).unwrap().client_at = Some(secs(199));
    w.now = secs(205);
    let e = w.enter(&room, "Sam");
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Busy, Reason::ClientJoined)]
    );
    w.now = secs(206);
    let e = w.say(&room, "Sam", "hi");
    assert_eq!(
        stored_lines(&e),
        [(1, secs(206), "client".to_string(), "hi".to_string())]
    );
}

#[test]
fn a_visitor_still_inside_when_the_bot_comes_back_keeps_the_chat_though_the_claim_ran_out() {
    use crate::core::types::Reason;
    // Sam came in with the password of the client claim (110 s) and is still talking at 200 s,
    // past the claim limit (60 s): only the bot, had it been there, would have changed the
    // password on the claim's expiry, so whoever is inside came with that claim.
    let (mut w, room) = rejoined_staffed_room_with(settings(), &["staff", "Sam"]);
    assert!(
        !iqs(&w.since(0)).iter().any(|x| x.contains("role='none'")),
        "nobody kicked: {:?}",
        w.since(0)
    );
    assert_eq!(w.core.counts().by_status[2], 1, "busy");
    w.now = secs(201);
    let e = replay(&mut w, &room, &unseen_history());
    assert_eq!(stored_lines(&e).len(), 4, "{e:?}");
    assert!(transitions(&e).is_empty());
    w.now = secs(202);
    let e = w.exit(&room, "Sam", Some("Clean Exit"));
    assert_eq!(
        transitions(&e),
        [(room.to_string(), Status::Closing, Reason::LeftClean)]
    );
}
