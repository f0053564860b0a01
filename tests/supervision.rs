//! Supervision end to end (SPEC §13, docs/protocol.md "Supervision") with real clients on the
//! real server (Prosody, or ejabberd with `HELPIM_TEST_XMPP=ejabberd`) and the bot: a supervisor
//! lists the live chats, watches one (the earlier lines first, then each line; nothing changes in
//! the room), whispers to its staff member (who alone receives it: not the visitor, not the
//! transcript, not the room's history; kept in `notes`), a staff member asks for help, the watch
//! ends with the chat, and every watch, whisper and request for help is a row.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use helpim_bot::store::Store;
use helpim_bot::xmpp::stanza::{self, NS_DATA};
use helpim_bot::xmpp::SessionEvent;
use support::*;
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;

/// The supervision payloads' namespace.
const NS: &str = "urn:helpim:supervise:0";
/// The visitor's key.
const KEY: &str = "c2VjcmV0LWtleS1vZi1zYW0x";

/// The rows of a command's result table: `var` → value, each.
fn items(answer: &Element) -> Vec<HashMap<String, String>> {
    let Some(x) = answer.get_child("x", NS_DATA) else {
        return Vec::new();
    };
    x.children()
        .filter(|c| c.is("item", NS_DATA))
        .map(|item| {
            item.children()
                .map(|f| {
                    let value = f.get_child("value", NS_DATA).map(Element::text);
                    (
                        f.attr("var").unwrap().to_string(),
                        value.unwrap_or_default(),
                    )
                })
                .collect()
        })
        .collect()
}

/// Waits for a headline from the bot carrying a `name` payload of the supervision namespace;
/// returns its body and payload.
async fn headline(p: &mut Person, name: &str) -> (String, Element) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline.into(), p.events.recv()).await {
            Ok(Some(SessionEvent::OtherMessage(m))) => {
                if let Some(x) = m.payloads.iter().find(|x| x.is(name, NS)) {
                    assert_eq!(m.type_, xmpp_parsers::message::MessageType::Headline);
                    let body = m.bodies.values().next().cloned().unwrap_or_default();
                    return (body, x.clone());
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("{} never got a <{name}/> from the bot", p.user),
        }
    }
}

/// Everything `p` receives until the groupchat line `body` of `room` (included), as text.
async fn until_line(p: &mut Person, room: &str, body: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline.into(), p.events.recv()).await {
            Ok(Some(SessionEvent::Message(m))) => {
                let done = m.room.as_str() == room && m.body == body;
                got.push(format!("message from {}/{}: {}", m.room, m.nick, m.body));
                if done {
                    return got;
                }
            }
            Ok(Some(SessionEvent::RoomPresence(pr))) => {
                got.push(format!("presence {:?} of {}/{}", pr.kind, pr.room, pr.nick))
            }
            Ok(Some(SessionEvent::OtherMessage(m))) => got.push(format!("other message {m:?}")),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("{} never heard {body:?}: {got:#?}", p.user),
        }
    }
}

/// Logs `user` in, available (so that messages to their bare JID reach this session) and
/// present to the bot (on duty).
async fn on_duty(server: &XmppServer, user: &str) -> Person {
    let p = Person::connect(server, user).await;
    p.session.send(Presence::available());
    p.present_to_bot();
    p
}

/// Runs `node` for `p` and returns the answer's `status` and the answer.
async fn run(p: &Person, node: &str, fields: &[(&str, &str)]) -> (String, Element) {
    let answer = p
        .command(node, fields)
        .await
        .unwrap_or_else(|e| panic!("{node}: {e}"));
    (field(&answer, "status").unwrap_or_default(), answer)
}

/// The stored lines of `room`: (nick, body).
async fn stored_lines(store: &Store, room: &str) -> Vec<(String, String)> {
    let id = store.room_id(room).await.unwrap().unwrap();
    store
        .transcript(id, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.nick, m.body.unwrap_or_default()))
        .collect()
}

async fn a_supervisor_watches_whispers_and_is_asked_for_help(db: TestDb) {
    let server = XmppServer::start();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    config.staff.supervisors = vec!["staff3@localhost".into()];
    // Long enough that the chat neither idles out nor ends while the visitor rejoins.
    config.timeouts.idle = Duration::from_secs(120);
    config.timeouts.rejoin_grace = Duration::from_secs(60);
    let _bot = RunningBot::start(config, store.clone());
    wait_ready_rooms(&store, 2).await;

    let mut sup = on_duty(&server, "staff3").await;
    let mut kim = on_duty(&server, "staff").await;
    // Kim takes a chat and joins; Sam asks, is invited and joins.
    let answer = wait_for(Duration::from_secs(15), "a ready room to take", || {
        let kim = &kim;
        async move {
            let (status, a) = run(kim, "take-chat", &[]).await;
            (status == "taken").then_some(a)
        }
    })
    .await;
    let (room, password) = kim.invited().await;
    assert_eq!(field(&answer, "room").as_deref(), Some(room.as_str()));
    kim.join(&room, "Kim", &password).await.expect("Kim joins");
    wait_status(&store, &room, Status::Staffed).await;
    let mut sam = Person::visitor(&server, "Sam").await;
    sam.present_to_bot();
    sam.queue_up(&[("nick", "Sam"), ("topic", "money worries"), ("key", KEY)])
        .await;
    let (to, sam_password) = sam.invited().await;
    assert_eq!(to, room);
    sam.join(&room, "Sam", &sam_password)
        .await
        .expect("Sam joins");
    wait_status(&store, &room, Status::Busy).await;
    kim.say(&room, "Hello Sam, I am Kim.");
    sam.heard(&room, "Hello Sam, I am Kim.").await;
    sam.say(&room, "hi");
    kim.heard(&room, "hi").await;
    wait_for(Duration::from_secs(10), "two lines stored", || {
        let (store, room) = (&store, &room);
        async move { (stored_lines(store, room).await.len() == 2).then_some(()) }
    })
    .await;

    // Live chats: the room, both names as shown, the topic, when it began.
    let (_, answer) = run(&sup, "live-chats", &[]).await;
    let chats = items(&answer);
    assert_eq!(chats.len(), 1, "{answer:?}");
    let chat = &chats[0];
    assert_eq!(chat["room"], room);
    assert_eq!(
        (chat["staff"].as_str(), chat["visitor"].as_str()),
        ("Kim", "Sam")
    );
    assert_eq!(chat["topic"], "money worries");
    // When it began, for people: relative, and local (UTC said so, with no [hours] zone).
    assert!(
        chat["since"].contains(", since ") && chat["since"].ends_with(" UTC"),
        "{chat:?}"
    );
    // Staff may not list them.
    let refused = kim.command("live-chats", &[]).await;
    assert!(
        matches!(&refused, Err(e) if e.to_string().contains("forbidden")),
        "{refused:?}"
    );

    // The supervisor watches: answered, then the earlier lines, oldest first, as stored.
    kim.drain();
    sam.drain();
    let (status, _) = run(&sup, "watch-chat", &[("room", &room)]).await;
    assert_eq!(status, "watching");
    let (body, line) = headline(&mut sup, "line").await;
    assert_eq!(body, "[Kim] Hello Sam, I am Kim.");
    assert_eq!(
        (line.attr("role"), line.attr("earlier"), line.attr("room")),
        (Some("staff"), Some("true"), Some(room.as_str()))
    );
    let (body, line) = headline(&mut sup, "line").await;
    assert_eq!(
        body, "[client] hi",
        "the transcript names the visitor by role"
    );
    assert_eq!(line.attr("role"), Some("client"));
    // Nothing changed in the room: the next line is all either of them gets, and the
    // supervisor gets it too, live.
    kim.say(&room, "How are you today?");
    let seen = until_line(&mut sam, &room, "How are you today?").await;
    assert_eq!(
        seen.len(),
        1,
        "the visitor saw more than the line: {seen:#?}"
    );
    let seen = until_line(&mut kim, &room, "How are you today?").await;
    assert_eq!(
        seen.len(),
        1,
        "the staff member saw more than the line: {seen:#?}"
    );
    let (body, line) = headline(&mut sup, "line").await;
    assert_eq!(body, "[Kim] How are you today?");
    assert_eq!(line.attr("earlier"), None);

    // A whisper reaches Kim, marked as the supervisor's, and nobody else.
    let whisper = "Ask how they have been sleeping.";
    // Signed with the name the supervisor gave (trimmed), not their JID.
    let (status, _) = run(
        &sup,
        "whisper",
        &[("room", &room), ("text", whisper), ("name", " Pat ")],
    )
    .await;
    assert_eq!(status, "sent");
    let (body, w) = headline(&mut kim, "whisper").await;
    assert_eq!(body, format!("Supervisor Pat whispers: {whisper}"));
    assert_eq!(
        (w.attr("room"), w.attr("from"), w.text().as_str()),
        (Some(room.as_str()), Some("Pat"), whisper)
    );
    // The visitor: a later line arrives, and the whisper was not among what came before it.
    kim.say(&room, "How have you been sleeping?");
    let seen = until_line(&mut sam, &room, "How have you been sleeping?").await;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert!(!seen.iter().any(|s| s.contains(whisper)), "{seen:#?}");
    // Not in the transcript; in the notes.
    let lines = wait_for(Duration::from_secs(10), "four lines stored", || {
        let (store, room) = (&store, &room);
        async move {
            let lines = stored_lines(store, room).await;
            (lines.len() >= 4).then_some(lines)
        }
    })
    .await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(!lines.iter().any(|(_, b)| b == whisper), "{lines:?}");
    let notes = store.notes(&room).await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        (notes[0].jid.as_str(), notes[0].kind.as_str()),
        ("staff3@localhost", "whisper")
    );
    assert_eq!(notes[0].text.as_deref(), Some(whisper));
    // Not in the room's history: the visitor joins again as a page would after a drop, asking
    // for the history, and gets every line but the whisper.
    // The page is reloaded: the old session ends (a leave without the clean status whose
    // session no longer answers the bot's ping: a dropped connection), and the new one resumes
    // the chat with the visitor key.
    sam.quit().await;
    wait_status(&store, &room, Status::Closing).await;
    let mut sam = Person::visitor(&server, "Sam after a reload").await;
    let answer = sam.command("resume-chat", &[("key", KEY)]).await.unwrap();
    assert_eq!(field(&answer, "status").as_deref(), Some("resumed"));
    let (_, sam_password) = sam.invited().await;
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let rejoin = stanza::join(
        &BareJid::new(&room).unwrap(),
        "Sam",
        &sam_password,
        Some(hour_ago),
    )
    .unwrap();
    sam.session
        .join(BareJid::new(&room).unwrap(), rejoin)
        .await
        .expect("Sam joins again");
    let history = until_line(&mut sam, &room, "How have you been sleeping?").await;
    let lines: Vec<&String> = history
        .iter()
        .filter(|h| h.starts_with("message"))
        .collect();
    assert_eq!(lines.len(), 4, "the whole chat, replayed: {history:#?}");
    assert!(!history.iter().any(|h| h.contains(whisper)), "{history:#?}");
    wait_status(&store, &room, Status::Busy).await;

    // Kim asks for help: the supervisor on duty is alerted with the chat.
    let (status, _) = run(&kim, "ask-for-help", &[("text", "Talk of ending it all")]).await;
    assert_eq!(status, "asked");
    let (body, help) = headline(&mut sup, "help").await;
    assert_eq!(body, "Kim asks for help with a chat");
    assert_eq!(
        (
            help.attr("room"),
            help.attr("staff"),
            help.attr("topic"),
            help.text().as_str()
        ),
        (
            Some(room.as_str()),
            Some("Kim"),
            Some("money worries"),
            "Talk of ending it all"
        )
    );

    // The chat ends: the watcher hears it.
    sam.leave(&room, "Sam", "Clean Exit");
    kim.leave(&room, "Kim", "Clean Exit");
    let (_, ended) = headline(&mut sup, "ended").await;
    assert_eq!(ended.attr("room"), Some(room.as_str()));
    wait_status(&store, &room, Status::Closed).await;

    // Every watch, whisper and request for help is a row.
    let rows = store.supervision(&room).await.unwrap();
    let rows: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.jid.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("watch", "staff3@localhost"),
            ("whisper", "staff3@localhost"),
            ("help", "staff@localhost")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_watches_whispers_and_is_asked_for_help_on_sqlite() {
    a_supervisor_watches_whispers_and_is_asked_for_help(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_watches_whispers_and_is_asked_for_help_on_postgres() {
    a_supervisor_watches_whispers_and_is_asked_for_help(TestDb::postgres().await).await;
}

async fn a_whispers_note_is_erased_with_the_transcripts_bodies(db: TestDb) {
    let store = db.store().await;
    db.run_script(
        "INSERT INTO rooms (id, jid, password, status, created_at, status_changed_at) VALUES
           (1, 'r1@c', 'p', 'closed', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
         INSERT INTO messages (room_id, seq, at, nick, role, body) VALUES
           (1, 1, '2026-01-01T00:00:00.000Z', 'Kim', 'staff', 'hello');
         INSERT INTO notes (room_id, jid, kind, text, at) VALUES
           (1, 'sup@x', 'whisper', 'old whisper', '2026-01-01T00:00:01.000Z'),
           (1, 'sup@x', 'whisper', 'new whisper', '2099-01-01T00:00:00.000Z');",
    )
    .await;
    let cutoff = "2026-06-01T00:00:00Z".parse().unwrap();
    assert_eq!(store.prune(cutoff).await.unwrap(), 2, "a body and a note");
    let notes = store.notes("r1@c").await.unwrap();
    let texts: Vec<Option<&str>> = notes.iter().map(|n| n.text.as_deref()).collect();
    assert_eq!(texts, [None, Some("new whisper")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whispers_note_is_erased_with_the_transcripts_bodies_on_sqlite() {
    a_whispers_note_is_erased_with_the_transcripts_bodies(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whispers_note_is_erased_with_the_transcripts_bodies_on_postgres() {
    a_whispers_note_is_erased_with_the_transcripts_bodies(TestDb::postgres().await).await;
}
