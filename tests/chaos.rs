//! Chaos: many staff/client chats through a real Prosody and a PostgreSQL cluster of the test's
//! own, while the bot is killed with SIGKILL three times, Prosody is killed and restarted once and
//! PostgreSQL is stopped and started once. Then the invariants the README promises:
//!
//! - every chat either completed or its room is closed with a reason;
//! - no room on the server without a row that is not closed, and no such row without its room;
//! - `room_events` agrees with `rooms`: each room's history starts with its creation, each change
//!   starts where the last one ended, and ends in the room's status (and close reason).
//!
//! Size: `CHAOS_CHATS` (default 200) chats, `CHAOS_WORKERS` (default 10, at most 16) at once.
//! `cargo test --test chaos -- --nocapture` prints the figures.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helpim_bot::room::Status;
use helpim_bot::store::{ClaimKind, ClaimedRoom, Store};
use support::*;
use tokio::sync::Mutex;

/// How one chat ended, from the people's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Claimed, both joined, both heard each other, both left.
    Completed,
    /// No room could be claimed or the staff member could not get in.
    NotStarted,
    /// Started, then a step failed (the bot, the server or the database was away).
    Interrupted,
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A claim, retried while the database is away; `None` after `limit`.
async fn claim_within(
    store: &Store,
    kind: ClaimKind,
    label: &str,
    limit: Duration,
) -> Option<ClaimedRoom> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(room)) = store.claim(kind, label).await {
            return Some(room);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Waits for a room's row to reach `status`; false after `limit` (the database may be away).
async fn status_within(store: &Store, jid: &str, status: Status, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(row)) = store.room(jid).await {
            if row.status == status {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// One chat from claim to goodbye. The staff claim, the join and the client claim are done under
/// `pairing`, so that the client claim (the longest-waiting staffed room) is this chat's room.
async fn chat(
    i: usize,
    store: &Store,
    staff: &mut Person,
    client: &mut Person,
    pairing: &Mutex<()>,
) -> Outcome {
    let limit = Duration::from_secs(20);
    let (staff_nick, client_nick) = (format!("S{i}"), format!("C{i}"));
    let (room, client_room) = {
        let _turn = pairing.lock().await;
        let Some(room) = claim_within(store, ClaimKind::Staff, &staff_nick, limit).await else {
            return Outcome::NotStarted;
        };
        if staff
            .join(&room.jid, &staff_nick, &room.password)
            .await
            .is_err()
        {
            return Outcome::NotStarted;
        }
        if !status_within(store, &room.jid, Status::Staffed, limit).await {
            staff.leave(&room.jid, &staff_nick, "Clean Exit");
            return Outcome::Interrupted;
        }
        let client_room = claim_within(store, ClaimKind::Client, &client_nick, limit).await;
        (room, client_room)
    };
    let jid = room.jid.as_str();
    let goodbye = |staff: &Person, client: &Person| {
        client.leave(jid, &client_nick, "Clean Exit");
        staff.leave(jid, &staff_nick, "Clean Exit");
    };
    // A room whose client claim expired earlier can be the longest-waiting one: then this chat
    // gives up and that room times out.
    let Some(client_room) = client_room.filter(|c| c.jid == room.jid) else {
        goodbye(staff, client);
        return Outcome::Interrupted;
    };
    if client
        .join(jid, &client_nick, &client_room.password)
        .await
        .is_err()
    {
        goodbye(staff, client);
        return Outcome::Interrupted;
    }
    staff.say(jid, &format!("hello {i}"));
    let heard = client.hears_within(jid, &format!("hello {i}"), limit).await;
    client.say(jid, &format!("thanks {i}"));
    let answered = heard && staff.hears_within(jid, &format!("thanks {i}"), limit).await;
    goodbye(staff, client);
    if answered {
        Outcome::Completed
    } else {
        Outcome::Interrupted
    }
}

/// The disruptions, each started once this many chats have begun (in eighths of the total).
#[derive(Debug, Clone, Copy)]
enum Disruption {
    KillBot,
    RestartProsody,
    RestartPostgres,
}

const SCHEDULE: [(usize, Disruption); 5] = [
    (1, Disruption::KillBot),
    (2, Disruption::RestartProsody),
    (3, Disruption::KillBot),
    (4, Disruption::RestartPostgres),
    (6, Disruption::KillBot),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_survive_killed_bots_and_restarted_servers() {
    let total = env_usize("CHAOS_CHATS", 200);
    let workers = env_usize("CHAOS_WORKERS", 10).clamp(1, 16);
    let started_at = Instant::now();

    let mut prosody = Prosody::start();
    let pg = PgCluster::start();
    let db = TestDb::at(pg.url());
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let text = bot_config_text(&prosody, &db)
        .replace("size = 2", "size = 10")
        .replace("max_rooms = 20", "max_rooms = 80")
        .replace("claim = \"3s\"", "claim = \"15s\"")
        .replace("rejoin_grace = \"3s\"", "rejoin_grace = \"5s\"")
        .replace("closing = \"3s\"", "closing = \"5s\"")
        .replace("idle = \"4s\"", "idle = \"30s\"");
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("bot.log");
    let mut bot = BotProcess::start(&config, log.clone(), &[]);
    wait_ready_rooms(&store, 10).await;

    let next = Arc::new(AtomicUsize::new(0));
    let pairing = Arc::new(Mutex::new(()));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let mut staff = Person::connect(&prosody, &format!("cs{w}")).await;
        let mut client = Person::connect(&prosody, &format!("cc{w}")).await;
        let (store, next, pairing) = (store.clone(), next.clone(), pairing.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                outcomes.push(chat(i, &store, &mut staff, &mut client, &pairing).await);
            }
            outcomes
        }));
    }

    // The disruptions, as the chats go on.
    let mut done = Vec::new();
    for (eighth, disruption) in SCHEDULE {
        while next.load(Ordering::SeqCst) < total * eighth / 8 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        match disruption {
            Disruption::KillBot => {
                bot.kill9();
                tokio::time::sleep(Duration::from_millis(500)).await;
                bot = BotProcess::start(&config, log.clone(), &[]);
            }
            Disruption::RestartProsody => prosody.restart(),
            Disruption::RestartPostgres => {
                pg.stop_server();
                tokio::time::sleep(Duration::from_secs(5)).await;
                pg.start_server();
            }
        }
        done.push(format!(
            "{disruption:?} after {} chats",
            next.load(Ordering::SeqCst)
        ));
    }
    let mut outcomes: BTreeMap<Outcome, usize> = BTreeMap::new();
    for task in tasks {
        for outcome in task.await.expect("a chat worker panicked") {
            *outcomes.entry(outcome).or_default() += 1;
        }
    }
    let chats_took = started_at.elapsed();

    // Every claimed room ends closed: only the unclaimed pool stays open.
    let settle = Instant::now();
    let rows = wait_for(
        Duration::from_secs(120),
        "every claimed room to close",
        || {
            let store = store.clone();
            async move {
                let rows = store.rooms(true).await.ok()?;
                rows.iter()
                    .all(|r| {
                        r.status == Status::Closed
                            || r.status == Status::Available && r.staff_claim.is_none()
                    })
                    .then_some(rows)
            }
        },
    )
    .await;
    let settled_in = settle.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rows = store.rooms(true).await.unwrap_or(rows);

    // The server and the table agree.
    let on_server: HashSet<String> = prosody.rooms().into_iter().collect();
    let open: HashSet<String> = rows
        .iter()
        .filter(|r| r.status != Status::Closed)
        .map(|r| r.jid.clone())
        .collect();
    let orphans: Vec<_> = on_server.difference(&open).collect();
    let vanished: Vec<_> = open.difference(&on_server).collect();

    // The history agrees with the rows.
    let mut events_total = 0;
    let mut inconsistent = Vec::new();
    for row in &rows {
        let events = store.events(&row.jid).await.unwrap();
        events_total += events.len();
        let mut last: Option<String> = None;
        let mut ok = events.first().is_some_and(|e| e.from_status.is_none());
        for e in &events {
            ok &= e.from_status == last;
            last = Some(e.to_status.clone());
        }
        ok &= last.as_deref() == Some(row.status.as_str());
        if row.status == Status::Closed {
            ok &= row.close_reason.as_deref() == events.last().map(|e| e.reason.as_str());
            ok &= row.closed_at.is_some();
        }
        if !ok {
            inconsistent.push((row.jid.clone(), row.status, events));
        }
    }
    let claimed: Vec<_> = rows.iter().filter(|r| r.staff_claim.is_some()).collect();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in &claimed {
        *reasons
            .entry(
                r.close_reason
                    .clone()
                    .unwrap_or_else(|| r.status.to_string()),
            )
            .or_default() += 1;
    }

    println!("chaos: {total} chats, {workers} at once, in {chats_took:.1?} (+{settled_in:.1?} until every claimed room closed)");
    println!("disruptions: {}", done.join("; "));
    println!("chat outcomes: {outcomes:?}");
    println!(
        "rooms: {} rows ({} claimed by staff; closed by reason: {reasons:?}), {} open, {} on the server",
        rows.len(),
        claimed.len(),
        open.len(),
        on_server.len()
    );
    println!(
        "invariants: {} rooms on the server without an open row, {} open rows without a room, \
         {} rooms whose room_events disagree ({events_total} events)",
        orphans.len(),
        vanished.len(),
        inconsistent.len()
    );

    assert_eq!(done.len(), SCHEDULE.len());
    assert_eq!(outcomes.values().sum::<usize>(), total);
    assert!(
        outcomes.get(&Outcome::Completed).copied().unwrap_or(0) >= total / 2,
        "most chats complete despite the disruptions: {outcomes:?}"
    );
    assert!(
        orphans.is_empty(),
        "rooms on the server without an open row: {orphans:?}"
    );
    assert!(
        vanished.is_empty(),
        "open rows without a room on the server: {vanished:?}"
    );
    assert!(
        inconsistent.is_empty(),
        "room_events disagree: {inconsistent:#?}"
    );
    // Every chat that got a room ended in a closed row with a reason.
    for r in &claimed {
        assert!(
            r.status == Status::Closed && r.close_reason.is_some(),
            "{r:?}"
        );
    }
    assert!(claimed.len() >= outcomes.get(&Outcome::Completed).copied().unwrap_or(0));
    assert!(
        !bot.log().contains("panicked"),
        "the bot panicked:\n{}",
        bot.log()
    );
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}
