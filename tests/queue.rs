//! The waiting queue over SQL (docs/database.md, "The waiting queue"): visitors queued by a web
//! application get staffed rooms first come, first served; an assigned visitor who does not come
//! has missed it; visitors not kept alive leave, visitors who wait too long expire; blocked
//! labels are refused; two bots and the web application's own claims never give one room or one
//! visitor twice.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use helpim_bot::core::types::{Reason, Status, Transition};
use helpim_bot::store::{ClaimKind, Enqueued, Store};
use support::*;

/// 20 rooms recorded `staffed` (`test-<prefix><i>`), the first staff member waiting longest.
async fn staffed_rooms(store: &Store, prefix: &str) -> Vec<String> {
    let base = Utc::now() - Span::seconds(100);
    let mut rooms = Vec::new();
    for i in 0..20 {
        let jid = format!("test-{prefix}{i}@conference.localhost");
        store.insert_room(&jid, "pw", base).await.unwrap();
        let t = Transition {
            from: Some(Status::Available),
            to: Status::Staffed,
            reason: Reason::StaffJoined,
            nick: Some(format!("staff{i}")),
            jid: None,
            at: base + Span::seconds(i),
        };
        store.record_transition(&jid, &t).await.unwrap();
        rooms.push(jid);
    }
    rooms
}

async fn queued(store: &Store, visitor: &str, nick: &str) -> i64 {
    match store
        .enqueue(visitor, None, nick, Some("talk"), 100)
        .await
        .unwrap()
    {
        Enqueued::Queued(id) => id,
        other => panic!("{visitor} not queued: {other:?}"),
    }
}

async fn visitors_get_staffed_rooms_in_order(db: TestDb) {
    let prosody = XmppServer::start();
    let store = db.store().await;
    let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
    wait_ready_rooms(&store, 2).await;

    let ana = queued(&store, "visitor-1", "Ana").await;
    let ben = queued(&store, "visitor-2", "Ben").await;
    let cem = queued(&store, "visitor-3", "Cem").await;
    assert_eq!(
        store
            .enqueue("visitor-1", None, "Ana", None, 100)
            .await
            .unwrap(),
        Enqueued::AlreadyQueued(ana),
        "one open row per visitor"
    );
    for (id, place) in [(ana, 1), (ben, 2), (cem, 3)] {
        let state = store.queue_state(id).await.unwrap().unwrap();
        assert_eq!((state.status.as_str(), state.position), ("waiting", place));
    }
    let url = db.url.clone();
    let (code, out, err) = run_cli(&["queue", "--database-url", &url], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("3 visitor(s)") && out.contains("Ana") && out.contains("talk"),
        "{out}"
    );

    // A staff member comes: the first waiting visitor gets the room.
    let mut staff = Person::connect(&prosody, "staff").await;
    let (room, _) = staff_in(&store, &mut staff, "Counsellor").await;
    let state = wait_queue(&store, ana, "assigned").await;
    assert_eq!(state.room_jid.as_deref(), Some(room.jid.as_str()));
    assert_eq!(state.room_password.as_deref(), Some(room.password.as_str()));
    assert_eq!(store.queue_state(ben).await.unwrap().unwrap().position, 1);
    assert_eq!(store.queue_state(cem).await.unwrap().unwrap().position, 2);
    // The visitor's page reads the room from its row and joins it.
    let mut client = Person::connect(&prosody, "client").await;
    client.join(&room.jid, "Ana", &room.password).await.unwrap();
    let row = wait_status(&store, &room.jid, Status::Busy).await;
    assert_eq!(row.client_claim.as_deref(), Some("visitor-1"));
    wait_queue(&store, ana, "served").await;

    // The second staff member gets the second visitor, who never comes: missed, and the room
    // gets a new password. Cem gave up meanwhile.
    let mut staff2 = Person::connect(&prosody, "staff2").await;
    let (room2, _) = staff_in(&store, &mut staff2, "Second").await;
    let state = wait_queue(&store, ben, "assigned").await;
    assert_eq!(state.room_jid.as_deref(), Some(room2.jid.as_str()));
    assert!(store.leave_queue(cem).await.unwrap());
    assert_eq!(
        store.queue_state(cem).await.unwrap().unwrap().status,
        "left"
    );
    wait_queue(&store, ben, "missed").await;
    let row2 = store.room(&room2.jid).await.unwrap().unwrap();
    assert_ne!(
        row2.password, room2.password,
        "the password that went out is void"
    );
    assert_eq!(row2.client_claim, None);
    assert_eq!(
        row2.status,
        Status::Staffed,
        "the staff member waits for the next one"
    );

    // Blocked labels are refused, by the API and by the CLI; a full queue refuses too.
    store
        .block("visitor-9", None, "abuse", "test")
        .await
        .unwrap();
    assert_eq!(
        store
            .enqueue("visitor-9", None, "Mallory", None, 100)
            .await
            .unwrap(),
        Enqueued::Blocked
    );
    let (code, out, err) = run_cli(
        &[
            "block",
            "visitor-8",
            "--reason",
            "spam",
            "--for",
            "1h",
            "--database-url",
            &url,
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("blocked until"), "{out}");
    assert_eq!(
        store
            .enqueue("visitor-8", None, "Spam", None, 100)
            .await
            .unwrap(),
        Enqueued::Blocked
    );
    let (code, out, _) = run_cli(&["unblock", "visitor-8", "--database-url", &url], &[]);
    assert_eq!((code, out.trim()), (0, "unblocked"));
    let dan = queued(&store, "visitor-8", "Dan").await;
    // Dan takes the free staffed room of the second staff member.
    let state = wait_queue(&store, dan, "assigned").await;
    assert_eq!(state.room_jid.as_deref(), Some(room2.jid.as_str()));
    // No staffed room is free now: Eve waits, and with her the queue of length 1 is full. (Asked
    // while Dan still waited, the answer would race with his assignment.)
    assert!(matches!(
        store
            .enqueue("visitor-10", None, "Eve", None, 1)
            .await
            .unwrap(),
        Enqueued::Queued(_)
    ));
    assert_eq!(
        store
            .enqueue("visitor-11", None, "Fay", None, 1)
            .await
            .unwrap(),
        Enqueued::Full
    );
    bot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_get_staffed_rooms_in_order_on_sqlite() {
    visitors_get_staffed_rooms_in_order(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_get_staffed_rooms_in_order_on_postgres() {
    visitors_get_staffed_rooms_in_order(TestDb::postgres().await).await;
}

/// A visitor the web application stops keeping alive has left; one who waits longer than
/// `queue.max_wait` expires; one kept alive waits on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_visitors_leave_and_long_waits_expire() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut config = bot_config(&prosody, &db);
    config.queue.visitor_timeout = Duration::from_secs(1);
    config.queue.max_wait = Duration::from_secs(4);
    let bot = RunningBot::start(config, store.clone());
    let kept = queued(&store, "kept", "Kept").await;
    let quiet = queued(&store, "quiet", "Quiet").await;
    // Keep one alive; the other goes quiet.
    let keeper = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                store.keep_alive(kept).await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    wait_queue(&store, quiet, "left").await;
    assert_eq!(
        store.queue_state(kept).await.unwrap().unwrap().status,
        "waiting"
    );
    wait_queue(&store, kept, "expired").await;
    // Not before `max_wait`, by the row's own times: the database's clock, at the millisecond
    // resolution the sweep compares (a clock read by the test after the insert can be a little
    // late and make a correct expiry look early).
    let Store::Sqlite(pool) = &store else {
        unreachable!("this test runs on SQLite")
    };
    let waited: f64 = sqlx::query_scalar(
        "SELECT (julianday(status_changed_at) - julianday(enqueued_at)) * 86400.0 FROM queue WHERE id = $1",
    )
    .bind(kept)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(waited > 4.0, "expired after {waited} s of the 4 s max_wait");
    keeper.abort();
    assert!(
        !store.keep_alive(kept).await.unwrap(),
        "an expired row is not kept alive"
    );
    bot.stop().await.unwrap();
}

/// 50 visitors and 20 staffed rooms; two bots assign at once while a web application claims
/// rooms for clients of its own: no room gets two visitors, no visitor two rooms, and the
/// visitors assigned are the first in line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_and_web_claims_never_give_one_room_or_one_visitor_twice() {
    let db = TestDb::postgres().await;
    let (bot1, bot2, web) = (db.store().await, db.store().await, db.store().await);
    staffed_rooms(&bot1, "q").await;
    let mut visitors = Vec::new();
    for i in 0..50 {
        visitors.push(queued(&web, &format!("v{i:02}"), &format!("V{i}")).await);
    }
    let assign = |store: Store| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(a) = store.assign_next().await.unwrap() {
                got.push((a.queue_id, a.room_jid));
            }
            got
        })
    };
    let claims = {
        let web = web.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..5 {
                if let Some(c) = web
                    .claim(ClaimKind::Client, &format!("web-{i}"))
                    .await
                    .unwrap()
                {
                    got.push(c.jid);
                }
            }
            got
        })
    };
    let (a, b, c) = (assign(bot1.clone()), assign(bot2.clone()), claims);
    let (a, b, web_rooms) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
    let assigned: Vec<_> = a.iter().chain(&b).cloned().collect();
    let by_visitor: HashSet<i64> = assigned.iter().map(|(v, _)| *v).collect();
    let by_room: HashSet<&String> = assigned.iter().map(|(_, r)| r).collect();
    assert_eq!(
        by_visitor.len(),
        assigned.len(),
        "a visitor in two rooms: {assigned:?}"
    );
    assert_eq!(
        by_room.len(),
        assigned.len(),
        "a room with two visitors: {assigned:?}"
    );
    assert!(
        web_rooms.iter().all(|r| !by_room.contains(r)),
        "a web claim's room given away"
    );
    assert_eq!(
        assigned.len() + web_rooms.len(),
        20,
        "every staffed room went to someone"
    );
    // First come, first served: the visitors assigned are the first in line.
    let mut ids: Vec<i64> = by_visitor.into_iter().collect();
    ids.sort();
    assert_eq!(ids, visitors[..assigned.len()].to_vec());
    for id in &visitors[assigned.len()..] {
        assert_eq!(
            web.queue_state(*id).await.unwrap().unwrap().status,
            "waiting"
        );
    }
}

/// `/status` tells a web site's "chat now" button whether the help line is open and how many
/// wait, counts only: closed while no staff member is on duty, open once one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_whether_the_help_line_is_open_and_how_many_wait() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let port = free_port();
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("listen = \"\"", &format!("listen = \"127.0.0.1:{port}\""));
    std::fs::write(&setup.config, text).unwrap();
    let bot = setup.start_bot(&[]);
    let store = &setup.store;
    wait_ready_rooms(store, 2).await;
    let status = |want: serde_json::Value| async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = http_get(port, "/status")
                .and_then(|(code, body)| (code == 200).then_some(body))
                .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok());
            if let Some(got) = &got {
                let mut shown = got.clone();
                shown["oldest_wait_seconds"] = serde_json::Value::Null;
                if shown == want {
                    return got.clone();
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "/status never said {want}; last: {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    status(serde_json::json!({
        "open": false, "reason": "no-staff", "next_opening": null, "staff_on_duty": 0,
        "queue_length": 0, "oldest_wait_seconds": null
    }))
    .await;
    queued(store, "visitor-1", "Ana").await;
    queued(store, "visitor-2", "Ben").await;
    let got = status(serde_json::json!({
        "open": false, "reason": "no-staff", "next_opening": null, "staff_on_duty": 0,
        "queue_length": 2, "oldest_wait_seconds": null
    }))
    .await;
    assert!(got["oldest_wait_seconds"].as_i64().is_some(), "{got}");
    let mut staff = Person::connect(&setup.server, "staff").await;
    staff_in(store, &mut staff, "Counsellor").await;
    status(serde_json::json!({
        "open": true, "reason": null, "next_opening": null, "staff_on_duty": 1,
        "queue_length": 1, "oldest_wait_seconds": null
    }))
    .await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_of_a_queue_row_is_announced_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let mut listener = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    listener.listen("helpim_queue").await.unwrap();
    let id = queued(&store, "visitor-1", "Ana").await;
    assert!(store.leave_queue(id).await.unwrap());
    for status in ["waiting", "left"] {
        let n = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .expect("a notification within 5 s")
            .unwrap();
        let payload: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
        assert_eq!(payload["id"], id);
        assert_eq!(payload["status"], status, "{payload}");
    }
    // Keeping a visitor alive changes no status: nothing is announced for it.
    let other = queued(&store, "visitor-2", "Ben").await;
    assert!(store.keep_alive(other).await.unwrap());
    assert!(store.leave_queue(other).await.unwrap());
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let n = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .unwrap()
            .unwrap();
        let payload: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
        statuses.push(payload["status"].as_str().unwrap().to_string());
    }
    assert_eq!(
        statuses,
        ["waiting", "left"],
        "the keep-alive between them announced nothing"
    );
}

/// Pick mode: 20 staff members, each with a staffed room, pick from 50 waiting visitors at once,
/// several reaching for the same ones: no visitor in two rooms, no room
/// with two visitors, and a visitor taken by one is gone from everyone else's list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_staff_picking_at_once_never_take_one_visitor_or_room_twice() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let rooms = staffed_rooms(&store, "p").await;
    for i in 0..50 {
        queued(&store, &format!("p{i:02}"), &format!("P{i}")).await;
    }
    let mut staff = Vec::new();
    for (i, room) in rooms.into_iter().enumerate() {
        let store = db.store().await;
        staff.push(tokio::spawn(async move {
            // Each tries the visitors at the top of their list, the way a person clicks the
            // first name, until one pick goes through.
            loop {
                let list = store.waiting().await.unwrap();
                let v = list.get(i % 3)?;
                if let Some(a) = store.pick(&room, v.id).await.unwrap() {
                    assert_eq!(a.room_jid, room);
                    return Some(a.queue_id);
                }
            }
        }));
    }
    let mut picked = Vec::new();
    for s in staff {
        picked.extend(s.await.unwrap());
    }
    let unique: HashSet<i64> = picked.iter().copied().collect();
    assert_eq!(
        picked.len(),
        20,
        "every staff member got someone: {picked:?}"
    );
    assert_eq!(unique.len(), 20, "a visitor picked twice: {picked:?}");
    let rows = store.queue_rows().await.unwrap();
    let mut by_room: Vec<i64> = rows.iter().filter_map(|r| r.room_id).collect();
    by_room.sort();
    by_room.dedup();
    assert_eq!(by_room.len(), 20, "one visitor per room");
    let waiting = store.waiting().await.unwrap();
    assert_eq!(waiting.len(), 30);
    assert!(
        waiting.iter().all(|w| !unique.contains(&w.id)),
        "a taken visitor still listed"
    );
}

/// An assignment, by the bot or by a pick, returns who is coming: the visitor's nick, topic and
/// since when they waited, read in the same statements (docs/database.md, "The waiting visitors,
/// for staff"; the bot tells the staff member with them).
async fn an_assignment_returns_the_visitors_nick_topic_and_wait(db: TestDb) {
    let store = db.store().await;
    let rooms = staffed_rooms(&store, "w").await;
    let ana = queued(&store, "w-ana", "Ana").await;
    let ben = match store
        .enqueue("w-ben", None, "Ben", None, 100)
        .await
        .unwrap()
    {
        Enqueued::Queued(id) => id,
        other => panic!("Ben not queued: {other:?}"),
    };
    let waiting = store.waiting().await.unwrap();
    let since = |id: i64| waiting.iter().find(|w| w.id == id).unwrap().enqueued_at;
    let a = store
        .assign_next()
        .await
        .unwrap()
        .expect("Ana is given a room");
    assert_eq!(a.queue_id, ana);
    assert_eq!(
        (a.nick.as_str(), a.topic.as_deref(), a.waiting_since),
        ("Ana", Some("talk"), since(ana))
    );
    let b = store
        .pick(&rooms[5], ben)
        .await
        .unwrap()
        .expect("Ben is picked");
    assert_eq!(
        (b.nick.as_str(), b.topic.as_deref(), b.waiting_since),
        ("Ben", None, since(ben))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_returns_the_visitors_nick_topic_and_wait_on_sqlite() {
    an_assignment_returns_the_visitors_nick_topic_and_wait(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_returns_the_visitors_nick_topic_and_wait_on_postgres() {
    an_assignment_returns_the_visitors_nick_topic_and_wait(TestDb::postgres().await).await;
}

/// `queue.max_length` holds however many requests arrive at once, each from a connection of its
/// own (docs/database.md, statement 1): 8 stores of up to 8 connections each (the bot and
/// web servers) enqueue 64 visitors at the same moment with a bound of 5. On PostgreSQL under
/// READ COMMITTED a count then an insert would let every one of them count the same 4 rows and
/// insert; the advisory lock around the statement makes them count one after another. Three
/// rounds, so that later rounds run on pools that have opened all their connections.
async fn max_length_holds_under_concurrent_enqueues(db: TestDb) {
    const MAX: u32 = 5;
    const AT_ONCE: usize = 64;
    let mut stores = vec![db.store().await];
    for _ in 1..8 {
        stores.push(Store::connect(&db.url).await.unwrap());
    }
    for round in 0..3 {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(AT_ONCE));
        let requests = (0..AT_ONCE).map(|n| {
            let store = stores[n % stores.len()].clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                store
                    .enqueue(&format!("r{round}-v{n}"), None, "V", None, MAX)
                    .await
                    .unwrap()
            })
        });
        let answers: Vec<Enqueued> = futures_util::future::join_all(requests)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let queued = answers
            .iter()
            .filter(|a| matches!(a, Enqueued::Queued(_)))
            .count();
        let full = answers.iter().filter(|a| **a == Enqueued::Full).count();
        assert_eq!(
            (queued, full),
            (MAX as usize, AT_ONCE - MAX as usize),
            "round {round}: {answers:?}"
        );
        let waiting = stores[0].waiting().await.unwrap();
        assert_eq!(waiting.len(), MAX as usize, "round {round}: {waiting:?}");
        // Empty the queue for the next round (as if they had all left).
        db.run_script("UPDATE queue SET status = 'left' WHERE status = 'waiting'")
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_length_holds_under_concurrent_enqueues_on_postgres() {
    max_length_holds_under_concurrent_enqueues(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_length_holds_under_concurrent_enqueues_on_sqlite() {
    max_length_holds_under_concurrent_enqueues(TestDb::sqlite()).await;
}
