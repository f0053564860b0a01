//! High availability: two instances of the binary on one PostgreSQL database. One holds
//! the advisory lock and runs the rooms; the other stands by and takes over when the first dies.

mod support;

use std::time::{Duration, Instant};

use helpim_bot::active::LOCK_KEY;
use helpim_bot::core::types::Status;
use support::*;

/// The PostgreSQL backend that holds the active lock on this test's database, if any.
async fn lock_holder(url: &str) -> Vec<i32> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let pids = sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND classid::bigint = $1 AND objid::bigint = $2 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(LOCK_KEY >> 32)
    .bind(LOCK_KEY & 0xffff_ffff)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    pids
}

/// Waits until `bot`'s log contains `text`.
async fn wait_log(bot: &BotProcess, text: &str, limit: Duration) {
    wait_for(limit, &format!("{text:?} in {}", bot.log.display()), || {
        let found = bot.log().contains(text);
        async move { found.then_some(()) }
    })
    .await;
}

const ACTIVE: &str = "this instance is active";
const STANDBY: &str = "standby: another instance is active";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_within_3_s_after_kill_9_and_the_chat_goes_on() {
    let prosody = XmppServer::start();
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let config = patient_config(dir.path(), &prosody, &db);
    let first = BotProcess::start(&config, dir.path().join("first.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let mut second = BotProcess::start(&config, dir.path().join("second.log"), &[]);
    wait_log(&second, STANDBY, Duration::from_secs(10)).await;

    let mut staff = Person::connect(&prosody, "staff").await;
    let mut client = Person::connect(&prosody, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    client_in(&store, &mut client, &room, "C").await;
    staff.say(&room.jid, "before");
    client.heard(&room.jid, "before").await;
    let rooms_before = store.rooms(true).await.unwrap().len();

    // While the first one runs, the standby does nothing at all.
    assert!(!second.log().contains(ACTIVE), "{}", second.log());
    assert!(second.running());
    assert_eq!(lock_holder(&db.url).await.len(), 1);

    staff.drain();
    let killed = Instant::now();
    first.kill9();
    wait_log(&second, ACTIVE, Duration::from_secs(15)).await;
    // Taken over means reconciled: the new active instance is back in the chat's room.
    staff.sees_enter(&room.jid, "helpim-bot").await;
    let took = killed.elapsed();
    println!("standby took over and rejoined the chat {took:?} after kill -9");
    // The bound the README states.
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        store.room(&room.jid).await.unwrap().unwrap().status,
        Status::Busy
    );

    // The chat goes on in the same room, transcribed by the new active instance.
    client.say(&room.jid, "after");
    staff.heard(&room.jid, "after").await;
    let id = store.room_id(&room.jid).await.unwrap().unwrap();
    wait_for(Duration::from_secs(10), "the transcript", || {
        let store = store.clone();
        async move {
            let bodies: Vec<String> = store
                .transcript(id, 0)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|m| m.body)
                .collect();
            (bodies == ["before", "after"]).then_some(())
        }
    })
    .await;
    client.leave(&room.jid, "C", "Clean Exit");
    staff.leave(&room.jid, "S", "Clean Exit");
    assert_eq!(
        wait_status(&store, &room.jid, Status::Closed)
            .await
            .close_reason
            .as_deref(),
        Some("all_left")
    );
    wait_ready_rooms(&store, 2).await;
    let inspector = Person::connect(&prosody, "inspector").await;
    assert_rows_match_server(&store, &inspector).await;
    assert!(store.rooms(true).await.unwrap().len() >= rooms_before);
    let (code, _) = second.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_lock_connection_is_cut_exactly_one_instance_stays_active() {
    let prosody = XmppServer::start();
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let config = patient_config(dir.path(), &prosody, &db);
    let mut first = BotProcess::start(&config, dir.path().join("first.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let second = BotProcess::start(&config, dir.path().join("second.log"), &[]);
    wait_log(&second, STANDBY, Duration::from_secs(10)).await;

    // An administrator terminates the backend that holds the lock: the lock is free for a moment
    // and both instances ask for it.
    let holder = lock_holder(&db.url).await;
    assert_eq!(holder.len(), 1);
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(holder[0])
        .execute(&pool)
        .await
        .unwrap();
    wait_log(
        &first,
        "lost the database connection that holds the active lock",
        Duration::from_secs(10),
    )
    .await;
    // One of the two wins the lock: the first one takes it back, or the standby takes over and
    // the first one, deposed, exits.
    const BACK: &str = "the active lock is held again";
    const DEPOSED: &str = "another instance took over";
    let (first_won, second_won) = (first.log.clone(), second.log.clone());
    wait_for(
        Duration::from_secs(15),
        "one instance to win the lock",
        || {
            let (a, b) = (
                std::fs::read_to_string(&first_won).unwrap_or_default(),
                std::fs::read_to_string(&second_won).unwrap_or_default(),
            );
            async move {
                (a.contains(BACK) || (a.contains(DEPOSED) && b.contains(ACTIVE))).then_some(())
            }
        },
    )
    .await;
    let holders = lock_holder(&db.url).await;
    assert_ne!(holders, holder, "the lock is held by a new connection");
    let (first_log, second_log) = (first.log(), second.log());
    if first_log.contains(BACK) {
        // The first one got it back; the standby still stands by.
        println!("the active instance took its lock back");
        assert!(first.running());
        assert!(!second_log.contains(ACTIVE), "{second_log}");
        assert!(!first_log.contains(DEPOSED), "{first_log}");
    } else {
        // The standby was quicker: the first one stops without touching the rooms.
        println!("the standby took over; the first instance stopped");
        assert!(!first_log.contains(BACK), "{first_log}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while first.running() {
            assert!(
                std::time::Instant::now() < deadline,
                "the deposed instance still runs"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Either way the rooms are run: the pool is there and matches the server.
    wait_ready_rooms(&store, 2).await;
    let inspector = Person::connect(&prosody, "inspector").await;
    assert_rows_match_server(&store, &inspector).await;
    pool.close().await;
}
