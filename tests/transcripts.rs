//! Web application integration (docs/database.md: following a room, reading a transcript, retention): transcripts, reading from a
//! position, LISTEN/NOTIFY on PostgreSQL, and pruning old bodies.

mod support;

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use helpim_bot::core::types::{Role, Status};
use helpim_bot::store::{ClaimKind, MessageRow, Store};
use support::*;

/// A chat in progress: (staff, client, room jid).
async fn busy_chat(prosody: &XmppServer, store: &Store) -> (Person, Person, String) {
    let mut staff = Person::connect(prosody, "staff").await;
    let mut client = Person::connect(prosody, "client").await;
    let (room, _) = staff_in(store, &mut staff, "Counsellor").await;
    client_in(store, &mut client, &room, "Visitor").await;
    (staff, client, room.jid)
}

async fn wait_transcript(store: &Store, jid: &str, n: usize) -> Vec<MessageRow> {
    let id = store.room_id(jid).await.unwrap().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = store.transcript(id, 0).await.unwrap();
        if rows.len() >= n {
            return rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not {n} messages in {jid} after 15 s: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn chat_is_transcribed(db: TestDb) {
    let prosody = XmppServer::start();
    let store = db.store().await;
    let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
    let mut staff = Person::connect(&prosody, "staff").await;
    let mut client = Person::connect(&prosody, "client").await;
    let room = claim(&store, ClaimKind::Staff, "staff-1").await;
    staff
        .join(&room.jid, "Counsellor", &room.password)
        .await
        .unwrap();
    wait_status(&store, &room.jid, Status::Staffed).await;
    // Not chatting yet: not part of the transcript.
    staff.say(&room.jid, "testing, anyone here?");
    staff.heard(&room.jid, "testing, anyone here?").await;
    let c = claim(&store, ClaimKind::Client, "visitor-1").await;
    client.join(&c.jid, "Visitor", &c.password).await.unwrap();
    wait_status(&store, &room.jid, Status::Busy).await;

    let long: String = "Ünïcødé ✓ שלום مرحبا 😀 — ".repeat(2500);
    let said = [
        (
            "Counsellor",
            Role::Staff,
            "Hello, how can I help you?".to_string(),
        ),
        (
            "Visitor",
            Role::Client,
            "I need someone to talk to 😔 (ça va?)".to_string(),
        ),
        ("Visitor", Role::Client, long.clone()),
        (
            "Counsellor",
            Role::Staff,
            "  spaces  and\nnew lines\tand <xml> & \"quotes\"  ".to_string(),
        ),
    ];
    for (i, (nick, _, body)) in said.iter().enumerate() {
        let person = if *nick == "Counsellor" {
            &staff
        } else {
            &client
        };
        person.say(&room.jid, body);
        // Two senders on two connections: wait for each message, so that the order is known.
        wait_transcript(&store, &room.jid, i + 1).await;
    }
    client.leave(&room.jid, "Visitor", "Clean Exit");
    wait_status(&store, &room.jid, Status::Closing).await;
    staff.say(&room.jid, "Take care.");
    let rows = wait_transcript(&store, &room.jid, 5).await;
    staff.leave(&room.jid, "Counsellor", "Clean Exit");
    wait_status(&store, &room.jid, Status::Closed).await;

    let summary: Vec<(i64, &str, usize)> = rows
        .iter()
        .map(|r| {
            (
                r.seq,
                r.nick.as_str(),
                r.body.as_ref().map_or(0, |b| b.len()),
            )
        })
        .collect();
    assert_eq!(rows.len(), 5, "{summary:?}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, i as i64 + 1);
    }
    for (row, (nick, role, body)) in rows.iter().zip(&said) {
        // The visitor by role (privacy.keep_visitor_names is false), staff by nick.
        let named = if *role == Role::Client {
            "client"
        } else {
            nick
        };
        assert_eq!(row.nick, named, "{summary:?}");
        assert_eq!(row.role, role.as_str());
        assert_eq!(
            row.body.as_deref(),
            Some(body.as_str()),
            "bodies are stored exactly"
        );
    }
    assert_eq!(rows[4].body.as_deref(), Some("Take care."));
    assert!(rows[2].body.as_ref().unwrap().len() > 100_000);
    bot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_is_transcribed_exactly_on_sqlite() {
    chat_is_transcribed(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_is_transcribed_exactly_on_postgres() {
    chat_is_transcribed(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcript_numbers_go_on_across_a_restart() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let config = bot_config(&prosody, &db);
    let bot = RunningBot::start(config.clone(), store.clone());
    let (mut staff, client, jid) = busy_chat(&prosody, &store).await;
    for i in 1..=3 {
        client.say(&jid, &format!("before {i}"));
    }
    wait_transcript(&store, &jid, 3).await;
    bot.stop().await.unwrap();

    staff.drain();
    let bot = RunningBot::start(config, store.clone());
    // Once the bot is back inside, the chat goes on.
    staff.sees_enter(&jid, "helpim-bot").await;
    for i in 1..=3 {
        staff.say(&jid, &format!("after {i}"));
    }
    let rows = wait_transcript(&store, &jid, 6).await;
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6], "no gaps, no duplicates");
    let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_deref().unwrap()).collect();
    assert_eq!(
        bodies,
        ["before 1", "before 2", "before 3", "after 1", "after 2", "after 3"]
    );
    drop(client);
    bot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_transcripts_store_nothing() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut config = bot_config(&prosody, &db);
    config.transcripts.enabled = false;
    let bot = RunningBot::start(config, store.clone());
    let (staff, _client, jid) = busy_chat(&prosody, &store).await;
    staff.say(&jid, "not for the record");
    // The message is seen (it keeps the chat from idling) but not stored.
    wait_for(Duration::from_secs(10), "last_message_at", || {
        let (store, jid) = (store.clone(), jid.clone());
        async move {
            store
                .room(&jid)
                .await
                .unwrap()
                .and_then(|r| r.last_message_at)
        }
    })
    .await;
    let id = store.room_id(&jid).await.unwrap().unwrap();
    assert!(store.transcript(id, 0).await.unwrap().is_empty());
    bot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcript_is_read_from_a_position_by_api_and_cli() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let store = db.store().await;
        let jid = "test-t@conference.localhost";
        let now = Utc::now();
        store.insert_room(jid, "pw", now).await.unwrap();
        for (seq, body) in [(1, "one"), (2, "two \"quoted\""), (3, "three ✓")] {
            store
                .record_message(
                    jid,
                    seq,
                    now + Span::seconds(seq),
                    "Visitor",
                    Role::Client,
                    body,
                )
                .await
                .unwrap();
        }
        // A retried write of the same message adds nothing.
        store
            .record_message(jid, 3, now, "Visitor", Role::Client, "three ✓")
            .await
            .unwrap();
        let id = store.room_id(jid).await.unwrap().unwrap();
        let after_one: Vec<i64> = store
            .transcript(id, 1)
            .await
            .unwrap()
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(after_one, [2, 3]);
        assert!(store.transcript(id, 3).await.unwrap().is_empty());

        let (code, out, err) = run_cli(
            &[
                "transcript",
                jid,
                "--after",
                "1",
                "--json",
                "--database-url",
                &db.url,
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["seq"], 2);
        assert_eq!(lines[0]["body"], "two \"quoted\"");
        assert_eq!(lines[1]["role"], "client");
        let (code, out, _) = run_cli(
            &["transcript", &id.to_string(), "--database-url", &db.url],
            &[],
        );
        assert_eq!(code, 0);
        assert_eq!(out.lines().count(), 3);
        assert!(out.contains("Visitor: three ✓"), "{out}");
        let (code, _, err) = run_cli(
            &[
                "transcript",
                "nope@conference.localhost",
                "--database-url",
                &db.url,
            ],
            &[],
        );
        assert_eq!(code, 1);
        assert!(err.contains("no room"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notifies_every_status_change_in_order() {
    let prosody = XmppServer::start();
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener.listen("helpim_rooms").await.unwrap();
    let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
    let (staff, client, jid) = busy_chat(&prosody, &store).await;
    client.leave(&jid, "Visitor", "Clean Exit");
    wait_status(&store, &jid, Status::Closing).await;
    staff.leave(&jid, "Counsellor", "Clean Exit");
    wait_status(&store, &jid, Status::Closed).await;

    let mut seen = Vec::new();
    while seen.last().map(|(s, _): &(String, String)| s.as_str()) != Some("closed") {
        let n = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("a notification")
            .unwrap();
        let payload: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
        if payload["jid"] == jid.as_str() {
            assert!(payload["room_id"].is_i64(), "{payload}");
            assert!(payload["at"].is_string(), "{payload}");
            seen.push((
                payload["status"].as_str().unwrap().to_string(),
                payload["reason"].as_str().unwrap().to_string(),
            ));
        }
    }
    let expected = [
        ("available", "created"),
        ("staffed", "staff_joined"),
        ("busy", "client_joined"),
        ("closing", "left_clean"),
        ("closed", "all_left"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(seen, expected);
    bot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_bodies_are_erased_by_prune_and_by_the_running_bot() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let store = db.store().await;
        let jid = "test-p@conference.localhost";
        let now = Utc::now();
        store
            .insert_room(jid, "pw", now - Span::days(200))
            .await
            .unwrap();
        store
            .record_message(
                jid,
                1,
                now - Span::days(100),
                "Visitor",
                Role::Client,
                "old",
            )
            .await
            .unwrap();
        store
            .record_message(
                jid,
                2,
                now - Span::days(40),
                "Visitor",
                Role::Client,
                "middle",
            )
            .await
            .unwrap();
        store
            .record_message(
                jid,
                3,
                now - Span::hours(1),
                "Counsellor",
                Role::Staff,
                "recent",
            )
            .await
            .unwrap();
        let (code, out, err) = run_cli(
            &["prune", "--keep-days", "90", "--database-url", &db.url],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("erased 1 message bodies"), "{out}");
        let id = store.room_id(jid).await.unwrap().unwrap();
        let rows = store.transcript(id, 0).await.unwrap();
        let bodies: Vec<Option<&str>> = rows.iter().map(|r| r.body.as_deref()).collect();
        assert_eq!(bodies, [None, Some("middle"), Some("recent")]);
        assert_eq!(rows[0].seq, 1, "rows, seq and times stay");
        assert_eq!(rows[0].nick, "Visitor");

        // The running bot prunes on start (and hourly) with transcripts.keep_days.
        let prosody = XmppServer::start();
        let mut config = bot_config(&prosody, &db);
        config.transcripts.keep_days = 30;
        let bot = RunningBot::start(config, store.clone());
        wait_for(Duration::from_secs(15), "the bot's prune", || {
            let store = store.clone();
            async move {
                let rows = store.transcript(id, 0).await.unwrap();
                (rows[1].body.is_none()).then_some(())
            }
        })
        .await;
        let rows = store.transcript(id, 0).await.unwrap();
        assert_eq!(rows[2].body.as_deref(), Some("recent"));
        bot.stop().await.unwrap();
    }
}

/// What staff member and client say while the bot is down reaches the transcript once, in
/// order, with the server's time: the bot asks the room for its history since the last line it
/// stored when it rejoins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_said_while_the_bot_is_killed_are_stored_once_after_the_restart() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let store = &setup.store;
    let bot = setup.start_bot(&[]);
    let (mut staff, client, jid) = busy_chat(&setup.server, store).await;
    client.say(&jid, "before");
    wait_transcript(store, &jid, 1).await;

    bot.kill9();
    let away = [
        ("staff", "said while the bot was away"),
        ("client", "me too ✓"),
        ("staff", "same words twice"),
        ("staff", "same words twice"),
    ];
    // One line at a time, each handled by the server before the next is said (so that the
    // order is known) and all of them before the bot comes back.
    for (who, line) in away {
        match who {
            "staff" => staff.say(&jid, line),
            _ => client.say(&jid, line),
        }
        staff.heard(&jid, line).await;
    }
    let restarted_at = chrono::Utc::now();
    let bot = setup.start_bot(&[]);
    staff.sees_enter(&jid, "helpim-bot").await;
    client.say(&jid, "after");
    let rows = wait_transcript(store, &jid, 6).await;
    let lines: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| (r.seq, r.nick.as_str(), r.body.as_deref().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [
            // The visitor by role: a line stored as `client` is still recognised when the
            // room's history replays it under the visitor's nick.
            (1, "client", "before"),
            (2, "Counsellor", "said while the bot was away"),
            (3, "client", "me too ✓"),
            (4, "Counsellor", "same words twice"),
            (5, "Counsellor", "same words twice"),
            (6, "client", "after"),
        ],
        "every line once, in order; {}",
        bot.log()
    );
    // The replayed lines keep the server's time, which is before the restart.
    for r in &rows[1..5] {
        assert!(r.at <= restarted_at, "{r:?} after {restarted_at}");
    }
    client.say(&jid, "and the last");
    let rows = wait_transcript(store, &jid, 7).await;
    assert_eq!(rows.len(), 7, "no line stored twice: {rows:?}");
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

/// A visitor who comes into a staffed room, talks and leaves while the bot is killed: the room's
/// history tells the bot when it comes back. The chat is stored whole (the visitor by role), the
/// room goes busy and closing as if the bot had seen it, and it is never offered to another
/// visitor, whom its history would show the first one's words (README, "When things go wrong",
/// Transcripts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_had_while_the_bot_was_killed_is_stored_and_its_room_not_offered_again() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let store = &setup.store;
    let bot = setup.start_bot(&[]);
    let mut staff = Person::connect(&setup.server, "staff").await;
    let mut client = Person::connect(&setup.server, "client").await;
    let (room, _) = staff_in(store, &mut staff, "Counsellor").await;
    let jid = room.jid;

    bot.kill9();
    let c = claim(store, ClaimKind::Client, "claim-Visitor").await;
    assert_eq!(c.jid, jid, "the only staffed room");
    client
        .join(&jid, "Visitor", &c.password)
        .await
        .expect("the visitor joins while the bot is away");
    let said = [
        ("staff", "hello, I am here"),
        ("client", "I need to talk"),
        ("staff", "I am listening"),
        ("client", "thank you"),
    ];
    // Each line handled by the server before the next is said, so the order is known.
    for (who, line) in said {
        match who {
            "staff" => staff.say(&jid, line),
            _ => client.say(&jid, line),
        }
        staff.heard(&jid, line).await;
    }
    client.leave(&jid, "Visitor", "Clean Exit");
    staff.sees_leave(&jid, "Visitor").await;

    let bot = setup.start_bot(&[]);
    let rows = wait_transcript(store, &jid, 4).await;
    let lines: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| (r.seq, r.nick.as_str(), r.body.as_deref().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [
            (1, "Counsellor", "hello, I am here"),
            (2, "client", "I need to talk"),
            (3, "Counsellor", "I am listening"),
            (4, "client", "thank you"),
        ],
        "every line once, in order; {}",
        bot.log()
    );
    wait_status(store, &jid, Status::Closing).await;
    let changes: Vec<String> = store
        .events(&jid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.to_status, e.reason))
        .collect();
    assert_eq!(
        changes[changes.len() - 2..],
        ["busy:client_joined", "closing:left_unclean"]
    );
    // Not offered to the next visitor: no staffed room to claim.
    assert!(store
        .claim(ClaimKind::Client, "claim-Next")
        .await
        .unwrap()
        .is_none());
    // The staff member leaves: the room closes as any chat does.
    staff.leave(&jid, "Counsellor", "Clean Exit");
    let row = wait_status(store, &jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("all_left"));
    let rows = store
        .transcript(store.room_id(&jid).await.unwrap().unwrap(), 0)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "no line stored twice: {rows:?}");
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}
