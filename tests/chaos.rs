//! Chaos: many staff/client chats through a real Prosody and a PostgreSQL cluster of the test's
//! own, while the bot is killed with SIGKILL three times, Prosody is killed and restarted once and
//! PostgreSQL is stopped and started once. Then the invariants the README promises:
//!
//! - every chat either completed or its room is closed with a reason;
//! - no room on the server without a row that is not closed, and no such row without its room;
//! - `room_events` agrees with `rooms`: each room's history starts with its creation, each change
//!   starts where the last one ended, and ends in the room's status (and close reason);
//! - the transcript rule of the README: every line of a completed chat whose room survived (not
//!   closed as `lost`) is stored once, in order, whenever it was said (a chat whose visitor came
//!   and left while the bot was away included: the room's history brings it); only a room the
//!   XMPP server lost (with its history) while the bot was not inside, or a staffed room both
//!   had left before the bot was back (closed `staff_left` at the rejoin), may miss lines, and
//!   even then what is stored is in order, each line once;
//! - each disruption interrupts at most the chats in flight: at least `total - disruptions ×
//!   workers` chats complete.
//!
//! Size: `CHAOS_CHATS` (default 200) chats, `CHAOS_WORKERS` (default 10, at most 16) at once.
//! `cargo test --test chaos -- --nocapture` prints the figures.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
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
/// Returns the outcome, and the room of a chat that completed.
async fn chat(
    i: usize,
    store: &Store,
    staff: &mut Person,
    client: &mut Person,
    pairing: &Mutex<()>,
) -> (Outcome, Option<String>) {
    let limit = Duration::from_secs(20);
    let (staff_nick, client_nick) = (format!("S{i}"), format!("C{i}"));
    let (room, client_room) = {
        let _turn = pairing.lock().await;
        let Some(room) = claim_within(store, ClaimKind::Staff, &staff_nick, limit).await else {
            return (Outcome::NotStarted, None);
        };
        if staff
            .join(&room.jid, &staff_nick, &room.password)
            .await
            .is_err()
        {
            return (Outcome::NotStarted, None);
        }
        if !status_within(store, &room.jid, Status::Staffed, limit).await {
            staff.leave(&room.jid, &staff_nick, "Clean Exit");
            return (Outcome::Interrupted, None);
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
        return (Outcome::Interrupted, None);
    };
    if client
        .join(jid, &client_nick, &client_room.password)
        .await
        .is_err()
    {
        goodbye(staff, client);
        return (Outcome::Interrupted, None);
    }
    staff.say(jid, &format!("hello {i}"));
    let heard = client.hears_within(jid, &format!("hello {i}"), limit).await;
    client.say(jid, &format!("thanks {i}"));
    let answered = heard && staff.hears_within(jid, &format!("thanks {i}"), limit).await;
    goodbye(staff, client);
    if answered {
        (Outcome::Completed, Some(room.jid))
    } else {
        (Outcome::Interrupted, None)
    }
}

/// Waits until the bot's log shows a session more than `before`; returns when the bot is surely
/// back inside its rooms: then plus a second for the rejoins.
async fn back_inside(
    bot: &BotProcess,
    before: usize,
    sessions: &impl Fn(&BotProcess) -> usize,
) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(60);
    while sessions(bot) <= before {
        assert!(
            Instant::now() < deadline,
            "the bot never came back:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Instant::now() + Duration::from_secs(1)
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

    let mut prosody = XmppServer::start();
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
                let began = Instant::now();
                let (outcome, room) = chat(i, &store, &mut staff, &mut client, &pairing).await;
                outcomes.push((outcome, room.map(|r| (i, r, began, Instant::now()))));
            }
            outcomes
        }));
    }

    // The disruptions, as the chats go on.
    let mut done = Vec::new();
    // When the bot could not follow the rooms: from the kill (or the server's restart) until
    // it has a new XMPP session, plus a second for its rejoins (twenty rooms take ~0.1 s); and
    // while the database was away.
    let mut away: Vec<(Instant, Instant)> = Vec::new();
    const SESSION: &str = "XMPP session established";
    let sessions = |bot: &BotProcess| bot.log().matches(SESSION).count();
    // Chats also run undisturbed between disruptions: the next one waits 3 s after the bot is
    // back from the last.
    let calm = Duration::from_secs(3);
    for (eighth, disruption) in SCHEDULE {
        while next.load(Ordering::SeqCst) < total * eighth / 8
            || away.last().is_some_and(|(_, back)| back.elapsed() < calm)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        match disruption {
            Disruption::KillBot => {
                let (from, before) = (Instant::now(), sessions(&bot));
                bot.kill9();
                // The bot stays away half a second: time passing, not a wait for it.
                tokio::time::sleep(Duration::from_millis(500)).await;
                bot = BotProcess::start(&config, log.clone(), &[]);
                away.push((from, back_inside(&bot, before, &sessions).await));
            }
            Disruption::RestartProsody => {
                let (from, before) = (Instant::now(), sessions(&bot));
                prosody.restart();
                away.push((from, back_inside(&bot, before, &sessions).await));
            }
            Disruption::RestartPostgres => {
                let from = Instant::now();
                pg.stop_server();
                // PostgreSQL stays away 5 s: time passing, not a wait for it.
                tokio::time::sleep(Duration::from_secs(5)).await;
                pg.start_server();
                // Without the database the bot cannot read a client's claim, so it cannot seat
                // them (it keeps them waiting, unverified); it asks again every second.
                away.push((from, Instant::now() + Duration::from_secs(2)));
            }
        }
        done.push(format!(
            "{disruption:?} after {} chats",
            next.load(Ordering::SeqCst)
        ));
    }
    let mut outcomes: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut completed: Vec<(usize, String, Instant, Instant)> = Vec::new();
    for task in tasks {
        for (outcome, room) in task.await.expect("a chat worker panicked") {
            *outcomes.entry(outcome).or_default() += 1;
            completed.extend(room);
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

    // The server and the table agree (a room whose row was just closed is destroyed a moment
    // later: agreement is waited for, 10 s at most).
    let deadline = Instant::now() + Duration::from_secs(10);
    let (rows, on_server, open, orphans, vanished) = loop {
        let rows = store.rooms(true).await.unwrap_or_else(|_| rows.clone());
        let on_server: HashSet<String> = prosody.rooms().into_iter().collect();
        let open: HashSet<String> = rows
            .iter()
            .filter(|r| r.status != Status::Closed)
            .map(|r| r.jid.clone())
            .collect();
        let orphans: Vec<String> = on_server.difference(&open).cloned().collect();
        let vanished: Vec<String> = open.difference(&on_server).cloned().collect();
        if (orphans.is_empty() && vanished.is_empty()) || Instant::now() > deadline {
            break (rows, on_server, open, orphans, vanished);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // The transcript rule, for every completed chat (both lines were heard, so both were said
    // in the room): a room that survived stores both lines, once each, in order, whenever they
    // were said (while the bot was killed, Prosody restarting, the database away; a visitor who
    // came and left while the bot was away included); a room the server lost may miss lines, but
    // what it stored is in order, each line once. A chat that ran
    // while the bot followed its room also went through busy and ended with both leaving.
    let mut full_chats = 0;
    let mut lost_chats = Vec::new();
    let mut lines_lost = 0;
    let mut emptied_chats = 0;
    let mut broken_chats = Vec::new();
    let mut while_away = 0;
    let mut survived_while_away = 0;
    for (i, jid, began, ended) in &completed {
        // A change the bot had decided but not committed when it was killed dies with it: a
        // chat that ended just before a kill counts as overlapping it (0.5 s).
        let before = Duration::from_millis(500);
        let overlapped = away
            .iter()
            .any(|(from, to)| began < to && from.checked_sub(before).unwrap_or(*from) < *ended);
        let row = rows
            .iter()
            .find(|r| &r.jid == jid)
            .expect("a completed chat has a row");
        let reasons: Vec<String> = store
            .events(jid)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{}:{}", e.to_status, e.reason))
            .collect();
        let id = store.room_id(jid).await.unwrap().unwrap();
        let lines: Vec<(String, String)> = store
            .transcript(id, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.nick, m.body.unwrap_or_default()))
            .collect();
        let want = vec![
            (format!("S{i}"), format!("hello {i}")),
            // The visitor by role (privacy.keep_visitor_names is false).
            ("client".to_string(), format!("thanks {i}")),
        ];
        let lost = row.close_reason.as_deref() == Some("lost");
        // Both had left a staffed room before the bot came back (ejabberd keeps such a room
        // while the killed bot's old session is still counted inside): it closes as
        // `staff_left` at the rejoin, before the history comes, like a lost room.
        let emptied = overlapped
            && row.close_reason.as_deref() == Some("staff_left")
            && !reasons.iter().any(|r| r.starts_with("busy:"));
        if lost || emptied {
            // Only what the bot heard before the server lost the room: some of the lines, in
            // order, each once.
            let mut rest = want.iter();
            let in_order_once = lines.iter().all(|l| rest.any(|w| w == l));
            if !in_order_once {
                broken_chats.push((jid.clone(), reasons, lines));
                continue;
            }
            lines_lost += want.len() - lines.len();
            if lost {
                lost_chats.push(jid.clone());
            } else {
                emptied_chats += 1;
            }
            if overlapped {
                while_away += 1;
            } else {
                // A room lost while the bot followed it would be a room the server lost with
                // the bot inside: not a case the rule allows.
                broken_chats.push((jid.clone(), reasons, lines));
            }
            continue;
        }
        if lines != want {
            broken_chats.push((jid.clone(), reasons, lines));
            continue;
        }
        if overlapped {
            while_away += 1;
            survived_while_away += 1;
            continue;
        }
        let busy = reasons.iter().any(|r| r == "busy:client_joined");
        match row.close_reason.as_deref() {
            Some("all_left") if busy => full_chats += 1,
            other => broken_chats.push((
                jid.clone(),
                reasons,
                vec![
                    ("close_reason".into(), format!("{other:?}")),
                    (
                        "ran (s after the start)".into(),
                        format!(
                            "{:.2} to {:.2}",
                            began.duration_since(started_at).as_secs_f64(),
                            ended.duration_since(started_at).as_secs_f64()
                        ),
                    ),
                ],
            )),
        }
    }

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
        "completed chats: {} went through busy and hold both lines, {} overlapped a time the bot was away \
         ({} of them survived with both lines; {} lost and {} left empty before the bot was back, \
         {} lines missing), {} broke the rule",
        full_chats,
        while_away,
        survived_while_away,
        lost_chats.len(),
        emptied_chats,
        lines_lost,
        broken_chats.len()
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
    // Each disruption interrupts at most the chats in flight, one per worker.
    assert!(
        outcomes.get(&Outcome::Completed).copied().unwrap_or(0) >= total - SCHEDULE.len() * workers,
        "every chat completes but those in flight at a disruption: {outcomes:?}"
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
    assert_eq!(
        completed.len(),
        outcomes.get(&Outcome::Completed).copied().unwrap_or(0)
    );
    let bot_log = bot.log();
    let about = |jid: &str| -> String {
        bot_log
            .lines()
            .filter(|l| l.contains(jid) || l.contains("session") || l.contains("starting"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        broken_chats.is_empty(),
        "completed chats against the transcript rule, or without busy, or closed otherwise: {broken_chats:#?}\n\
         times the bot was away (s after the start): {:?}\nthe bot's log about them:\n{}",
        away.iter()
            .map(|(a, b)| (a.duration_since(started_at).as_secs_f64(), b.duration_since(started_at).as_secs_f64()))
            .collect::<Vec<_>>(),
        broken_chats.iter().map(|(jid, _, _)| about(jid)).collect::<Vec<_>>().join("\n---\n")
    );
    // Every completed chat was checked: the only exemption left is a lost room's missing lines.
    assert_eq!(full_chats + while_away, completed.len());
    assert!(
        !bot.log().contains("panicked"),
        "the bot panicked:\n{}",
        bot.log()
    );
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

/// Waits until queue row `id` is `status` (reason `reason`, when given).
async fn row_becomes(store: &Store, id: i64, status: &str, reason: Option<&str>) {
    wait_for(
        Duration::from_secs(30),
        &format!("queue row {id} to be {status} ({reason:?})"),
        || {
            let store = store.clone();
            async move {
                let rows = store.queue_rows().await.ok()?;
                rows.iter()
                    .any(|r| {
                        r.id == id
                            && r.status == status
                            && (reason.is_none() || r.reason.as_deref() == reason)
                    })
                    .then_some(())
            }
        },
    )
    .await
}

/// Visitors over XMPP and over SQL while the bot is killed, PostgreSQL stopped and Prosody
/// restarted: everyone still there keeps their place and is served in order, once; whoever went
/// away (their session ended, they left, they were no longer kept alive) never reaches a staff
/// member; no room gets two visitors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_keep_their_places_through_killed_bots_and_restarted_servers() {
    let mut prosody = XmppServer::start();
    let pg = PgCluster::start();
    let db = TestDb::at(pg.url());
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let config = patient_config(dir.path(), &prosody, &db);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[queue]", "[queue]\nvisitor_timeout = \"20s\"");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("bot.log");
    let mut bot = BotProcess::start(&config, log.clone(), &[]);
    wait_ready_rooms(&store, 2).await;
    let staff = Person::connect(&prosody, "staff").await;
    staff.present_to_bot();

    // Four visitors over XMPP, three queued by the web application; two of those are kept alive.
    let mut xmpp = Vec::new();
    for i in 1..=4 {
        let v = Person::visitor(&prosody, &format!("V{i}")).await;
        v.present_to_bot();
        let key = format!("visitor-{i}-key-of-128-bits-or-more");
        let answer = v.queue_up(&[("nick", "V"), ("key", &key)]).await;
        let id: i64 = field(&answer, "queue-id").unwrap().parse().unwrap();
        xmpp.push((v, id));
    }
    let mut sql = Vec::new();
    for i in 1..=3 {
        match store
            .enqueue(&format!("web-{i}"), None, "W", None, 100)
            .await
            .unwrap()
        {
            helpim_bot::store::Enqueued::Queued(id) => sql.push(id),
            other => panic!("{other:?}"),
        }
    }
    let kept = [sql[0], sql[1]];
    let keeper = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                for id in kept {
                    // The database may be away: the web application tries again next second.
                    let _ = store.keep_alive(id).await;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    // The bot is killed; meanwhile V3 closes the browser (the bot never sees it go).
    bot.kill9();
    let (v4, v4_id) = xmpp.pop().unwrap();
    let (v3, v3_id) = xmpp.pop().unwrap();
    let (v2, v2_id) = xmpp.pop().unwrap();
    let (_v1, v1_id) = xmpp.pop().unwrap();
    v3.quit().await;
    bot = BotProcess::start(&config, log.clone(), &[]);
    // The new session pings the waiting visitors: V3's bounces.
    row_becomes(&store, v3_id, "left", Some("offline")).await;
    let answer = wait_for_answer(Duration::from_secs(20), "the bot to answer again", || {
        let v2 = &v2;
        async move { v2.command("leave-queue", &[]).await.ok() }
    })
    .await;
    assert_eq!(field(&answer, "status").as_deref(), Some("left"));

    // PostgreSQL away for 8 s (shorter than visitor_timeout: the kept-alive visitors stay).
    pg.stop_server();
    tokio::time::sleep(Duration::from_secs(8)).await;
    pg.start_server();
    // The visitor nobody keeps alive has left; the others wait on.
    row_becomes(&store, sql[2], "left", Some("timeout")).await;

    // Prosody restarts: every XMPP session ends, so V1 and V4 (still waiting) are let go. (The
    // staff member logs in again afterwards; the old client must not come back with the same
    // resource.)
    drop(v4);
    staff.quit().await;
    prosody.restart();
    row_becomes(&store, v1_id, "left", Some("offline")).await;
    row_becomes(&store, v4_id, "left", Some("offline")).await;
    wait_ready_rooms(&store, 2).await;

    // Two staffed rooms: the two kept-alive visitors get them, in order, one each.
    let mut staff = Person::connect(&prosody, "staff").await;
    staff.present_to_bot();
    let mut rooms = Vec::new();
    for nick in ["S1", "S2"] {
        let a = wait_for_answer(Duration::from_secs(15), "a room to take", || {
            let staff = &staff;
            async move {
                let a = staff.command("take-chat", &[]).await.ok()?;
                (field(&a, "status").as_deref() == Some("taken")).then_some(a)
            }
        })
        .await;
        let (room, password) = staff.invited().await;
        assert_eq!(field(&a, "room").as_deref(), Some(room.as_str()));
        staff.join(&room, nick, &password).await.unwrap();
        row_becomes(
            &store,
            if nick == "S1" { sql[0] } else { sql[1] },
            "assigned",
            None,
        )
        .await;
        rooms.push(room);
    }
    keeper.abort();
    let rows = store.queue_rows().await.unwrap();
    let assigned: Vec<_> = rows
        .iter()
        .filter(|r| r.status == "assigned" || r.status == "served")
        .collect();
    assert_eq!(assigned.len(), 2, "{rows:?}");
    let room_ids: HashSet<_> = assigned.iter().map(|r| r.room_id).collect();
    assert_eq!(room_ids.len(), 2, "one visitor per room: {rows:?}");
    for id in [v1_id, v2_id, v3_id, v4_id, sql[2]] {
        let row = rows.iter().find(|r| r.id == id).unwrap();
        assert_eq!(row.status, "left", "{row:?}");
        assert_eq!(row.room_id, None, "never given a room: {row:?}");
    }
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}
