//! The SQL contract with the web application (docs/database.md): the claims under concurrency on real
//! PostgreSQL and SQLite, the CLI commands, and the documentation of the exact statements.

mod support;

use std::collections::HashSet;

use chrono::{Duration as Span, Utc};
use helpim_bot::core::types::{Reason, Status, Transition};
use helpim_bot::store::{self, ClaimKind, ClaimedRoom, Store};
use support::*;

/// Inserts `n` available rooms, a second apart, oldest first.
async fn insert_rooms(store: &Store, n: usize) -> Vec<String> {
    let start = Utc::now() - Span::seconds(1000);
    let mut jids = Vec::new();
    for i in 0..n {
        let jid = format!("test-{i:02}@conference.localhost");
        store
            .insert_room(&jid, &format!("pw{i}"), start + Span::seconds(i as i64))
            .await
            .unwrap();
        jids.push(jid);
    }
    jids
}

/// 50 claims of `kind` at once, alternating between two stores (two "web servers").
async fn claim_at_once(web1: &Store, web2: &Store, kind: ClaimKind) -> Vec<Option<ClaimedRoom>> {
    let claims = (0..50).map(|i| {
        let store = if i % 2 == 0 {
            web1.clone()
        } else {
            web2.clone()
        };
        tokio::spawn(async move { store.claim(kind, &format!("{kind:?}-{i}")).await.unwrap() })
    });
    futures_util::future::join_all(claims)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

/// 50 claims at once from two "web servers" against 10 rooms: each room is handed out once.
async fn concurrent_claims(db: TestDb) {
    let web1 = db.store().await;
    let web2 = Store::connect(&db.url).await.unwrap();
    let jids = insert_rooms(&web1, 10).await;

    let got = claim_at_once(&web1, &web2, ClaimKind::Staff).await;
    let won: Vec<_> = got.iter().flatten().collect();
    assert_eq!(won.len(), 10, "10 rooms, 10 successful claims");
    assert_eq!(
        won.iter().map(|r| r.id).collect::<HashSet<_>>().len(),
        10,
        "no room given out twice"
    );
    assert_eq!(got.iter().filter(|r| r.is_none()).count(), 40);
    // Each row carries the label of the one claim that won it.
    let rows = web1.rooms(false).await.unwrap();
    let labels: HashSet<_> = rows.iter().filter_map(|r| r.staff_claim.clone()).collect();
    assert_eq!(labels.len(), 10);

    // Staff members join in order; the longest-waiting one gets the first client.
    let base = Utc::now() - Span::seconds(100);
    for (i, jid) in jids.iter().enumerate() {
        let t = Transition {
            from: Some(Status::Available),
            to: Status::Staffed,
            reason: Reason::StaffJoined,
            nick: Some(format!("staff{i}")),
            jid: None,
            at: base + Span::seconds(10 - i as i64),
        };
        web1.record_transition(jid, &t).await.unwrap();
    }
    let first = web1
        .claim(ClaimKind::Client, "client-first")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.jid, jids[9],
        "the staff member who waited longest is served first"
    );
    let got = claim_at_once(&web1, &web2, ClaimKind::Client).await;
    let won: HashSet<_> = got.iter().flatten().map(|r| r.id).collect();
    assert_eq!(got.iter().flatten().count(), 9);
    assert_eq!(won.len(), 9, "no room given to two clients");
    assert!(!won.contains(&first.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_on_postgres_never_share_a_room() {
    concurrent_claims(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_on_sqlite_never_share_a_room() {
    concurrent_claims(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_one_row_per_status_change_and_retries_do_not_duplicate() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let store = db.store().await;
        let jid = "test-h@conference.localhost";
        let at = Utc::now();
        store.insert_room(jid, "pw", at).await.unwrap();
        store.insert_room(jid, "pw", at).await.unwrap();
        let t = Transition {
            from: Some(Status::Available),
            to: Status::Closed,
            reason: Reason::ClaimTimeout,
            nick: None,
            jid: None,
            at: at + Span::seconds(1),
        };
        store.record_transition(jid, &t).await.unwrap();
        store.record_transition(jid, &t).await.unwrap();
        let events = store.events(jid).await.unwrap();
        assert_eq!(events.len(), 2, "{}: {events:?}", store.kind());
        assert_eq!(events[1].from_status.as_deref(), Some("available"));
        assert_eq!(events[1].reason, "claim_timeout");
        let row = store.room(jid).await.unwrap().unwrap();
        assert_eq!(row.close_reason.as_deref(), Some("claim_timeout"));
        assert_eq!(
            row.closed_at.map(|t| t.timestamp_millis()),
            Some((at + Span::seconds(1)).timestamp_millis())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_claims_and_lists_rooms() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let (code, out, err) = run_cli(&["migrate", "--database-url", &db.url], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("up to date"), "{out}");
        let store = db.store().await;
        insert_rooms(&store, 1).await;

        let (code, _, err) = run_cli(
            &["claim", "client", "--claim", "v", "--database-url", &db.url],
            &[],
        );
        assert_eq!(code, 1, "no staffed room yet");
        assert!(err.contains("no staffed room"), "{err}");

        let (code, out, err) = run_cli(
            &[
                "claim",
                "staff",
                "--claim",
                "web-7",
                "--database-url",
                &db.url,
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, "jid: test-00@conference.localhost\npassword: pw0\n");
        let (code, _, _) = run_cli(
            &[
                "claim",
                "staff",
                "--claim",
                "web-8",
                "--database-url",
                &db.url,
            ],
            &[],
        );
        assert_eq!(code, 1, "the only room is taken");

        let (code, out, _) = run_cli(&["rooms", "--database-url", &db.url], &[]);
        assert_eq!(code, 0);
        let line = out
            .lines()
            .find(|l| l.contains("test-00@conference.localhost"))
            .expect(&out);
        assert!(line.contains("available"), "{line}");
        assert!(out.lines().next().unwrap().contains("STATUS"), "{out}");
        assert!(out.contains("1 room(s)"), "{out}");
    }
}

#[test]
fn database_doc_shows_the_exact_claim_statements() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/database.md")).unwrap();
    for (name, sql) in [
        ("CLAIM_STAFF_POSTGRES", store::CLAIM_STAFF_POSTGRES),
        ("CLAIM_CLIENT_POSTGRES", store::CLAIM_CLIENT_POSTGRES),
        ("CLAIM_STAFF_SQLITE", store::CLAIM_STAFF_SQLITE),
        ("CLAIM_CLIENT_SQLITE", store::CLAIM_CLIENT_SQLITE),
        ("ROOM_STATUS", store::ROOM_STATUS),
        ("TRANSCRIPT_AFTER", store::TRANSCRIPT_AFTER),
        ("RECLAIM_CLIENT_POSTGRES", store::RECLAIM_CLIENT_POSTGRES),
        ("RECLAIM_CLIENT_SQLITE", store::RECLAIM_CLIENT_SQLITE),
        ("ASSIGN_NEXT_POSTGRES", store::sql::ASSIGN_NEXT_POSTGRES),
        ("ASSIGN_ROOM_SQLITE", store::sql::ASSIGN_ROOM_SQLITE),
        ("ASSIGN_VISITOR_SQLITE", store::sql::ASSIGN_VISITOR_SQLITE),
        ("PICK_ROOM (PostgreSQL)", store::sql::PICK_ROOM.postgres),
        ("PICK_ROOM (SQLite)", store::sql::PICK_ROOM.sqlite),
        (
            "PICK_VISITOR (PostgreSQL)",
            store::sql::PICK_VISITOR.postgres,
        ),
        ("PICK_VISITOR (SQLite)", store::sql::PICK_VISITOR.sqlite),
        ("ENQUEUE (PostgreSQL)", store::sql::ENQUEUE.postgres),
        ("ENQUEUE (SQLite)", store::sql::ENQUEUE.sqlite),
        ("QUEUE_POSITION", store::sql::QUEUE_POSITION.sqlite),
        ("KEEP_ALIVE (PostgreSQL)", store::sql::KEEP_ALIVE.postgres),
        ("KEEP_ALIVE (SQLite)", store::sql::KEEP_ALIVE.sqlite),
        ("LEAVE_QUEUE (PostgreSQL)", store::sql::LEAVE_QUEUE.postgres),
        ("LEAVE_QUEUE (SQLite)", store::sql::LEAVE_QUEUE.sqlite),
        ("WAITING", store::sql::WAITING.sqlite),
        ("PACE (PostgreSQL)", store::sql::PACE.postgres),
        ("PACE (SQLite)", store::sql::PACE.sqlite),
        ("PRUNE", store::sql::PRUNE.sqlite),
        ("PRUNE_NOTES", store::sql::PRUNE_NOTES.sqlite),
        ("FORGET_VISITOR[0]", store::sql::FORGET_VISITOR[0].sqlite),
        ("FORGET_VISITOR[1]", store::sql::FORGET_VISITOR[1].sqlite),
        ("FORGET_VISITOR[2]", store::sql::FORGET_VISITOR[2].sqlite),
        ("FORGET_VISITOR[3]", store::sql::FORGET_VISITOR[3].sqlite),
        (
            "FORGET_VISITOR[4] (PostgreSQL)",
            store::sql::FORGET_VISITOR[4].postgres,
        ),
        (
            "FORGET_VISITOR[4] (SQLite)",
            store::sql::FORGET_VISITOR[4].sqlite,
        ),
        (
            "FORGET_ENDED_ANSWERS (PostgreSQL)",
            store::sql::FORGET_ENDED_ANSWERS.postgres,
        ),
        (
            "FORGET_ENDED_ANSWERS (SQLite)",
            store::sql::FORGET_ENDED_ANSWERS.sqlite,
        ),
        ("QUEUE_PRIORITY", store::sql::QUEUE_PRIORITY.sqlite),
        (
            "INSERT_QUEUE_ANSWER",
            store::sql::INSERT_QUEUE_ANSWER.sqlite,
        ),
        ("QUEUE_ANSWERS", store::sql::QUEUE_ANSWERS.sqlite),
        (
            "FORGET_ENDED_QUEUE (PostgreSQL)",
            store::sql::FORGET_ENDED_QUEUE.postgres,
        ),
        (
            "FORGET_ENDED_QUEUE (SQLite)",
            store::sql::FORGET_ENDED_QUEUE.sqlite,
        ),
    ]
    .into_iter()
    .chain(
        [
            ("STATS_CHATS", store::sql::STATS_CHATS),
            ("STATS_QUEUE_ENDS", store::sql::STATS_QUEUE_ENDS),
            ("STATS_WAITS", store::sql::STATS_WAITS),
            ("STATS_DURATIONS", store::sql::STATS_DURATIONS),
            ("STATS_CLOSED", store::sql::STATS_CLOSED),
            ("STATS_BLOCKS", store::sql::STATS_BLOCKS),
            ("STATS_SUPERVISION", store::sql::STATS_SUPERVISION),
            ("STATS_HANDOVERS", store::sql::STATS_HANDOVERS),
            ("STATS_PRIORITY", store::sql::STATS_PRIORITY),
            ("STATS_BEFORE", store::sql::STATS_BEFORE),
            ("STATS_REGISTERED", store::sql::STATS_REGISTERED),
            (
                "STATS_REGISTRATIONS_MISSING",
                store::sql::STATS_REGISTRATIONS_MISSING,
            ),
            ("STATS_FEEDBACK", store::sql::STATS_FEEDBACK),
            ("STATS_BY_STAFF", store::sql::STATS_BY_STAFF),
        ]
        .into_iter()
        .flat_map(|(name, sql)| [(name, sql.postgres), (name, sql.sqlite)]),
    ) {
        assert!(
            doc.contains(sql),
            "docs/database.md must show {name} exactly as the code runs it:\n{sql}"
        );
    }
    for column in [
        "id",
        "jid",
        "password",
        "status",
        "created_at",
        "status_changed_at",
        "staff_claimed_at",
        "staff_claim",
        "client_claimed_at",
        "client_claim",
        "staff_nick",
        "client_nick",
        "staff_jid",
        "client_jid",
        "staffed_at",
        "visitor",
        "enqueued_at",
        "last_seen_at",
        "topic",
        "until",
        "by",
        "busy_at",
        "closed_at",
        "close_reason",
        "last_message_at",
        "room_id",
        "from_status",
        "to_status",
        "reason",
        "nick",
        "seq",
        "role",
        "body",
    ] {
        assert!(
            doc.contains(&format!("`{column}`")),
            "docs/database.md must describe column `{column}`"
        );
    }
}

#[test]
fn reference_webapp_uses_the_contract_statements() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webapp.py"))
            .unwrap();
    for sql in [
        store::CLAIM_STAFF_POSTGRES,
        store::CLAIM_CLIENT_POSTGRES,
        store::TRANSCRIPT_AFTER,
    ] {
        // psycopg2 writes parameters as %s.
        let python = sql.replace("$1", "%s").replace("$2", "%s");
        assert!(
            example.contains(&python),
            "examples/webapp.py must use:\n{python}"
        );
    }
    assert!(example.contains(&format!("LISTEN {}", store::NOTIFY_CHANNEL)));
}

#[test]
fn migrations_name_every_contract_column() {
    for db in ["sqlite", "postgres"] {
        let sql = std::fs::read_to_string(format!(
            "{}/migrations/{db}/0001_rooms.sql",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        for table in [
            "CREATE TABLE rooms",
            "CREATE TABLE room_events",
            "CREATE TABLE messages",
        ] {
            assert!(sql.contains(table), "{db}: {table}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_and_migrating_from_several_processes_at_once_is_safe() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let url = db.url.clone();
        // A fresh database opened by several processes at once: the first open of a new SQLite
        // file (switching it to WAL) and the migrations both race.
        let runs: Vec<_> = (0..8)
            .map(|i| {
                let url = url.clone();
                let command = if i % 2 == 0 { "migrate" } else { "rooms" };
                std::thread::spawn(move || run_cli(&[command, "--database-url", &url], &[]))
            })
            .collect();
        for run in runs {
            let (code, _, err) = run.join().unwrap();
            assert_eq!(code, 0, "{}: {err}", db.url);
        }
    }
}
