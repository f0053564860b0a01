//! Supervision (SPEC §13, core/protocol/supervision.rs): live chats, watches, whispers, requests
//! for help, who may run them, and what is recorded.

use super::harness::*;
use super::protocol::Examples;
use super::*;
use crate::core::types::{Role, Supervision};
use crate::core::{Input, Query, Write};
use crate::xmpp::stanza::PresenceKind;

const SUPERVISOR: &str = "sup@localhost/console";
const STAFF: &str = "staff@localhost/console";

/// The test settings with `sup@localhost` a supervisor (and so a staff member).
fn supervised() -> Settings {
    let mut s = settings();
    s.staff.jids.push("sup@localhost".into());
    s.staff.supervisors = vec!["sup@localhost".into()];
    s
}

/// room-1 busy: `staff` (staff@localhost/web) with Sam ([`VISITOR`], about exams), at 3 s; the
/// supervisor's console present to the bot.
fn chatting() -> World {
    let mut w = staffed_pool_with(supervised());
    let e = request_chat(&mut w);
    assert!(sent(&e)[0].contains("<value>queued</value>"), "{e:?}");
    w.now = secs(3);
    w.enter_as(
        &room_jid(1),
        Occupant {
            nick: "Sam".into(),
            jid: VISITOR.into(),
            affiliation: "none".into(),
        },
    );
    assert_eq!(w.core.counts().by_status[2], 1, "busy");
    w.direct(SUPERVISOR, PresenceKind::Available);
    w
}

/// The stanzas `to` received since `mark` (a length of its inbox).
fn received_since(w: &World, to: &str, mark: usize) -> Vec<String> {
    // The pushes of the help line's figures to staff on duty come on their own.
    w.muc.received(to)[mark..]
        .iter()
        .filter(|s| !s.contains("urn:helpim:staff:0"))
        .cloned()
        .collect()
}

/// The queries of the supervision commands among `events` (the claims poll and the queue's
/// sweep come on their own).
fn asked(events: &[Event]) -> Vec<Query> {
    queries(events)
        .into_iter()
        .filter(|q| matches!(q, Query::LiveChats { .. } | Query::Transcript { .. }))
        .collect()
}

/// The stanzas sent to the room itself (groupchat, presence) among `events`.
fn to_room(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Sent { to, xml } if to.starts_with("room-1@") => Some(xml.clone()),
            _ => None,
        })
        .collect()
}

/// The supervision rows asked for: kind, who, text.
fn supervised_writes(events: &[Event]) -> Vec<(Supervision, String, Option<String>)> {
    writes(events)
        .into_iter()
        .filter_map(|w| match w {
            Write::Supervised { kind, by, text, .. } => Some((*kind, by.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn supervisors_see_and_run_their_commands_and_staff_and_visitors_are_refused_them() {
    let mut w = chatting();
    let list = |from: &str, w: &mut World| {
        let xml = format!("<iq xmlns='jabber:client' type='get' id='l' from='{from}'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>");
        let iq =
            xmpp_parsers::iq::Iq::try_from(xml.parse::<xmpp_parsers::minidom::Element>().unwrap())
                .unwrap();
        let e = w.input(Input::Request(
            crate::xmpp::adhoc::read_request(&iq).unwrap(),
        ));
        sent(&e)[0].clone()
    };
    let sup = list(SUPERVISOR, &mut w);
    for node in [
        "live-chats",
        "watch-chat",
        "whisper",
        "ask-for-help",
        "take-chat",
    ] {
        assert!(sup.contains(&format!("node='{node}'")), "{node}: {sup}");
    }
    let staff = list(STAFF, &mut w);
    assert!(staff.contains("node='ask-for-help'"), "{staff}");
    for node in ["live-chats", "watch-chat", "whisper"] {
        assert!(!staff.contains(&format!("node='{node}'")), "{staff}");
        for from in [STAFF, VISITOR] {
            let e = w.command(from, node, &[("room", "room-1@conference.localhost")]);
            assert!(queries(&e).is_empty() && writes(&e).is_empty(), "{e:?}");
            assert!(sent(&e)[0].contains("<forbidden"), "{from} {node}: {e:?}");
        }
    }
    // A supervisor may run the staff commands too.
    let e = w.command(SUPERVISOR, "status", &[]);
    assert!(sent(&e)[0].contains("status='completed'"), "{e:?}");
}

#[test]
fn live_chats_lists_each_chat_with_its_names_topic_and_start() {
    let mut w = chatting();
    w.now = secs(4);
    let e = w.command(SUPERVISOR, "live-chats", &[]);
    assert_eq!(asked(&e), [Query::LiveChats { room: None }]);
    let answer = &sent(&e)[0];
    assert!(answer.contains("1 chat is going on."), "{answer}");
    for cell in [
        "<value>room-1@conference.localhost</value>",
        "<value>staff</value>",
        "<value>Sam</value>",
        "<value>exams</value>",
        "<value>0</value>",
        // When it began, relative and local (no [hours] zone: UTC, said so).
        "<value>less than a minute, since 08:00 UTC</value>",
    ] {
        assert!(answer.contains(cell), "{cell}: {answer}");
    }
    // A staffed room waiting for its visitor is no chat.
    assert!(!answer.contains("room-2@"), "{answer}");
}

#[test]
fn a_watch_gets_the_earlier_lines_first_then_each_line_as_recorded_until_the_chat_ends() {
    let room = room_jid(1);
    let mut w = chatting();
    w.now = secs(4);
    w.say(&room, "Sam", "hello");
    w.now = secs(5);
    w.say(&room, "staff", "hi Sam");
    // The supervisor asks to watch; the earlier lines are read after the writes before them.
    w.store.hold = true;
    w.now = secs(6);
    let mark = w.muc.received(SUPERVISOR).len();
    let mut e = w.command(
        SUPERVISOR,
        "watch-chat",
        &[("room", "room-1@conference.localhost")],
    );
    assert_eq!(
        asked(&e),
        [Query::Transcript {
            room: room.to_string(),
            upto: 2
        }]
    );
    assert!(Query::Transcript {
        room: room.to_string(),
        upto: 2
    }
    .waits_for_writes());
    assert_eq!(
        supervised_writes(&e),
        [(Supervision::Watch, "sup@localhost".to_string(), None)]
    );
    // A line said while they are read waits for them.
    w.now = secs(7);
    e.extend(w.say(&room, "Sam", "are you there?"));
    assert!(received_since(&w, SUPERVISOR, mark).is_empty());
    e.extend(w.release());
    let got = received_since(&w, SUPERVISOR, mark);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got[0].contains("<value>watching</value>"), "{}", got[0]);
    // The stored lines name the client by role, as the transcript does.
    assert!(
        got[1].contains("type='headline'")
            && got[1].contains("<body>[client] hello</body>")
            && got[1].contains("role='client'")
            && got[1].contains("earlier='true'"),
        "{}",
        got[1]
    );
    assert!(
        got[2].contains("<body>[staff] hi Sam</body>") && got[2].contains("role='staff'"),
        "{}",
        got[2]
    );
    assert!(
        got[3].contains("<body>[client] are you there?</body>") && !got[3].contains("earlier"),
        "{}",
        got[3]
    );
    // Then each line as it is recorded.
    w.now = secs(8);
    e.extend(w.say(&room, "staff", "yes"));
    let got = received_since(&w, SUPERVISOR, mark);
    assert!(got[4].contains("<body>[staff] yes</body>"), "{got:#?}");
    // Watching changed nothing in the room: nothing was sent to it, nobody else heard a thing.
    assert!(to_room(&e).is_empty(), "{:?}", to_room(&e));
    assert!(w.muc.received("staff@localhost/web").is_empty());
    assert!(
        !w.muc
            .received(VISITOR)
            .iter()
            .any(|x| x.contains("supervise")),
        "{:?}",
        w.muc.received(VISITOR)
    );
    // The chat ends: the watcher hears it, and nothing more.
    w.now = secs(9);
    w.exit(&room, "Sam", Some("Clean Exit"));
    w.exit(&room, "staff", Some("Clean Exit"));
    assert_eq!(w.store.status[&room.to_string()], Status::Closed);
    let got = received_since(&w, SUPERVISOR, mark);
    assert!(
        got.last()
            .unwrap()
            .contains("<ended xmlns='urn:helpim:supervise:0' room='room-1@conference.localhost'/>"),
        "{got:#?}"
    );
}

#[test]
fn a_chat_ending_while_its_earlier_lines_are_read_ends_the_watch_after_them() {
    let room = room_jid(1);
    let mut w = chatting();
    w.now = secs(4);
    w.say(&room, "Sam", "hello");
    w.store.hold = true;
    let mark = w.muc.received(SUPERVISOR).len();
    w.command(SUPERVISOR, "watch-chat", &[("room", &room.to_string())]);
    w.now = secs(5);
    w.exit(&room, "Sam", Some("Clean Exit"));
    w.exit(&room, "staff", Some("Clean Exit"));
    w.release();
    let got = received_since(&w, SUPERVISOR, mark);
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].contains("<value>watching</value>"));
    assert!(got[1].contains("[client] hello"));
    assert!(got[2].contains("<ended "), "{}", got[2]);
    // A room whose chat has ended cannot be watched.
    let e = w.command(SUPERVISOR, "watch-chat", &[("room", &room.to_string())]);
    assert!(sent(&e)[0].contains("<value>no-chat</value>"), "{e:?}");
    assert!(supervised_writes(&e).is_empty());
}

#[test]
fn a_watch_ends_when_stopped_and_when_the_supervisors_session_goes() {
    let room = room_jid(1);
    let mut w = chatting();
    let watch = |w: &mut World| {
        let e = w.command(SUPERVISOR, "watch-chat", &[("room", &room.to_string())]);
        assert!(sent(&e)[0].contains("<value>watching</value>"), "{e:?}");
    };
    watch(&mut w);
    w.now = secs(4);
    let e = w.command(
        SUPERVISOR,
        "watch-chat",
        &[("room", &room.to_string()), ("action", "stop")],
    );
    assert!(sent(&e)[0].contains("<value>stopped</value>"), "{e:?}");
    let mark = w.muc.received(SUPERVISOR).len();
    w.say(&room, "staff", "after the stop");
    assert!(received_since(&w, SUPERVISOR, mark).is_empty());
    // Watching again; the console goes away (its session ends).
    watch(&mut w);
    w.now = secs(5);
    w.direct(SUPERVISOR, PresenceKind::Unavailable);
    let mark = w.muc.received(SUPERVISOR).len();
    w.say(&room, "staff", "after the session");
    assert!(received_since(&w, SUPERVISOR, mark).is_empty());
    // After a new session of the bot, a watcher whose session bounces the ping is gone too.
    w.direct(SUPERVISOR, PresenceKind::Available);
    watch(&mut w);
    w.muc.gone.insert(SUPERVISOR.into());
    w.now = secs(6);
    w.input(Input::Online { fresh: true });
    let mark = w.muc.received(SUPERVISOR).len();
    w.say(&room, "staff", "after the bounce");
    assert!(received_since(&w, SUPERVISOR, mark).is_empty());
}

#[test]
fn a_whisper_is_signed_with_the_name_the_supervisor_gave_trimmed_and_at_most_64_characters() {
    let room = room_jid(1);
    let mut w = chatting();
    w.now = secs(4);
    let whisper = |w: &mut World, name: &str| -> String {
        let e = w.command(
            SUPERVISOR,
            "whisper",
            &[("room", &room.to_string()), ("text", "hi"), ("name", name)],
        );
        sent(&e)[0].clone()
    };
    let out = whisper(&mut w, "  Pat Jansen ");
    assert!(
        out.contains("<body>Supervisor Pat Jansen whispers: hi</body>")
            && out.contains("from='Pat Jansen'"),
        "{out}"
    );
    let long = "P".repeat(70);
    let out = whisper(&mut w, &long);
    assert!(out.contains(&format!("from='{}'", "P".repeat(64))), "{out}");
    // Only blanks: the local part of the JID, as without a name.
    let out = whisper(&mut w, "   ");
    assert!(out.contains("from='sup'"), "{out}");
    // The supervision row still names the JID, whatever name was shown.
    let e = w.command(
        SUPERVISOR,
        "whisper",
        &[("room", &room.to_string()), ("text", "hi"), ("name", "Pat")],
    );
    assert_eq!(supervised_writes(&e)[0].1, "sup@localhost");
}

#[test]
fn a_whisper_goes_to_the_staff_member_alone_and_is_kept_as_a_note_not_in_the_transcript() {
    let room = room_jid(1);
    let mut w = chatting();
    w.now = secs(4);
    let e = w.command(
        SUPERVISOR,
        "whisper",
        &[("room", &room.to_string()), ("text", "ask about sleep")],
    );
    assert!(asked(&e).is_empty());
    let out = sent(&e);
    assert_eq!(out.len(), 2, "{out:#?}");
    // To the staff member's bare JID (every session of theirs), as a headline.
    assert!(
        out[0].starts_with("<message")
            && out[0].contains("to='staff@localhost'")
            && out[0].contains("type='headline'")
            && out[0].contains("<body>Supervisor sup whispers: ask about sleep</body>")
            && out[0].contains("<whisper xmlns='urn:helpim:supervise:0' from='sup' room='room-1@conference.localhost'>ask about sleep</whisper>"),
        "{}",
        out[0]
    );
    assert!(out[1].contains("<value>sent</value>"), "{}", out[1]);
    assert!(to_room(&e).is_empty());
    assert!(w.muc.received(VISITOR).iter().all(|x| !x.contains("sleep")));
    assert_eq!(
        supervised_writes(&e),
        [(
            Supervision::Whisper,
            "sup@localhost".to_string(),
            Some("ask about sleep".to_string())
        )]
    );
    assert!(
        !writes(&e)
            .iter()
            .any(|w| matches!(w, Write::Message { .. } | Write::MessageAt { .. })),
        "a whisper is no line of the chat"
    );
    // No chat in room-2 (staffed, no visitor), none in a room the bot does not follow.
    for other in [
        "room-2@conference.localhost",
        "nowhere@conference.localhost",
    ] {
        let e = w.command(SUPERVISOR, "whisper", &[("room", other), ("text", "hi")]);
        assert!(sent(&e)[0].contains("<value>no-chat</value>"), "{e:?}");
        assert!(supervised_writes(&e).is_empty());
    }
    // Without a text: the form again, the room kept.
    let e = w.command(SUPERVISOR, "whisper", &[("room", &room.to_string())]);
    let answer = &sent(&e)[0];
    assert!(
        answer.contains("status='executing'") && answer.contains("<note type='warn'>"),
        "{answer}"
    );
}

#[test]
fn asking_for_help_alerts_the_supervisors_on_duty_and_is_recorded_even_when_none_is() {
    let room = room_jid(1);
    let mut w = chatting();
    // The staff member in the room (their console's session) asks.
    let staff = "staff@localhost/web";
    w.now = secs(4);
    let e = w.command(staff, "ask-for-help", &[("text", "suicidal thoughts")]);
    assert_eq!(
        asked(&e),
        [Query::LiveChats {
            room: Some(room.to_string())
        }]
    );
    // The topic was written when the visitor queued: no backlog of writes delays the alert.
    assert!(!asked(&e)[0].waits_for_writes());
    let alert = w.muc.received(SUPERVISOR).last().unwrap().clone();
    assert!(
        alert.contains("type='headline'")
            && alert.contains("<body>staff asks for help with a chat</body>")
            && alert.contains("<help xmlns='urn:helpim:supervise:0' room='room-1@conference.localhost' staff='staff' topic='exams'>suicidal thoughts</help>"),
        "{alert}"
    );
    assert!(
        sent(&e).last().unwrap().contains("<value>asked</value>"),
        "{e:?}"
    );
    assert_eq!(
        supervised_writes(&e),
        [(Supervision::Help, "staff@localhost".to_string(), None)]
    );
    assert!(to_room(&e).is_empty());
    // The database cannot say the topic: the supervisors are alerted all the same.
    w.store.down = true;
    w.now = secs(5);
    let e = w.command(staff, "ask-for-help", &[]);
    assert!(
        sent(&e).last().unwrap().contains("<value>asked</value>"),
        "{e:?}"
    );
    let alert = w.muc.received(SUPERVISOR).last().unwrap().clone();
    assert!(
        alert.contains("<help ") && !alert.contains("topic="),
        "{alert}"
    );
    w.store.down = false;
    // No supervisor on duty: recorded, and said.
    w.direct(SUPERVISOR, PresenceKind::Unavailable);
    w.now = secs(6);
    let e = w.command(staff, "ask-for-help", &[]);
    assert!(
        sent(&e)
            .last()
            .unwrap()
            .contains("<value>no-supervisor</value>"),
        "{e:?}"
    );
    assert_eq!(supervised_writes(&e).len(), 1);
    // Someone in no chat has nothing to ask about.
    let e = w.command(
        STAFF.replace("staff@", "sup@").as_str(),
        "ask-for-help",
        &[],
    );
    assert!(sent(&e)[0].contains("<value>no-chat</value>"), "{e:?}");
}

#[test]
fn transcripts_off_a_watch_has_no_earlier_lines_and_still_gets_the_live_ones() {
    let room = room_jid(1);
    let mut w = {
        let mut s = supervised();
        s.transcripts = false;
        let mut w = staffed_pool_with(s);
        request_chat(&mut w);
        w.now = secs(3);
        w.enter_as(
            &room,
            Occupant {
                nick: "Sam".into(),
                jid: VISITOR.into(),
                affiliation: "none".into(),
            },
        );
        w.direct(SUPERVISOR, PresenceKind::Available);
        w
    };
    w.say(&room, "Sam", "before");
    let mark = w.muc.received(SUPERVISOR).len();
    w.command(SUPERVISOR, "watch-chat", &[("room", &room.to_string())]);
    w.say(&room, "Sam", "after");
    let got = received_since(&w, SUPERVISOR, mark);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[1].contains("[client] after"), "{}", got[1]);
    let _ = Role::Client;
}

#[test]
fn the_supervision_examples_of_the_protocol_documentation_are_what_the_bot_accepts_and_sends() {
    let docs = Examples::read();
    let request = |name: &str| docs.request(name);
    let same = |name: &str, sent: &str| docs.same(name, sent);
    let room = room_jid(1);
    let mut w = chatting();
    w.now = secs(4);
    w.say(&room, "staff", "Hello, how can I help?");
    w.now = secs(5);
    let e = w.input(request("live-chats-request"));
    same("live-chats", &sent(&e)[0]);
    let e = w.input(request("watch-chat-request"));
    let out = sent(&e);
    same("watch-chat-watching", &out[0]);
    same("watch-line", &out[1]);
    let e = w.input(request("whisper-request"));
    let out = sent(&e);
    same("whisper", &out[0]);
    same("whisper-sent", &out[1]);
    let e = w.input(request("ask-for-help-request"));
    let alert = w.muc.received(SUPERVISOR).last().unwrap().clone();
    same("help", &alert);
    same("ask-for-help-asked", sent(&e).last().unwrap());
    w.exit(&room, "Sam", Some("Clean Exit"));
    w.exit(&room, "staff", Some("Clean Exit"));
    same("watch-ended", w.muc.received(SUPERVISOR).last().unwrap());
}
