//! Benchmarks of helpim-bot against a real local Prosody, on SQLite and PostgreSQL.
//!
//!   cargo bench --bench helpim                  # all of them (about 20 minutes: scale fills 100,000 rooms)
//!   cargo bench --bench helpim -- fill latency  # some: fill, latency, chats, scale, invite, queue, stats
//!   cargo bench --profile dev --bench helpim -- stats  # a year of 100,000 chats; a dev build is quicker to make
//!   HELPIM_SCALE_ROOMS=10000 cargo bench --bench helpim -- scale   # a smaller scale run
//!
//! Each part prints a Markdown table; bench/RESULTS.md keeps the last results.
//! PostgreSQL comes from $DATABASE_URL (else 127.0.0.1:5432), as for the tests.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use helpim_bot::store::{ClaimKind, Store};
use helpim_bot::xmpp::stanza::{self, RoomSettings};
use helpim_bot::xmpp::Session;
use support::*;
use xmpp_parsers::jid::BareJid;

fn main() {
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |name: &str| names.is_empty() || names.iter().any(|n| n == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "helpim-bot benchmarks, {} cores, Prosody 0.12 on loopback, release build\n",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        if want("fill") {
            fill().await;
        }
        if want("latency") {
            latency().await;
        }
        if want("chats") {
            chats().await;
        }
        if want("scale") {
            scale().await;
        }
        if want("invite") {
            invite().await;
        }
        if want("queue") {
            queue().await;
        }
        if want("stats") {
            stats().await;
        }
    });
}

/// The databases to run on.
async fn databases() -> Vec<(&'static str, TestDb)> {
    vec![
        ("SQLite", TestDb::sqlite()),
        ("PostgreSQL", TestDb::postgres().await),
    ]
}

/// A config for the in-process bot: long time limits, `pool` rooms ready, `parallel` creations.
fn config(
    prosody: &XmppServer,
    db: &TestDb,
    pool: usize,
    parallel: usize,
) -> helpim_bot::config::Config {
    let text = bot_config_text(prosody, db)
        .replace(
            "size = 2",
            &format!("size = {pool}\nparallel_creations = {parallel}"),
        )
        .replace("max_rooms = 20", &format!("max_rooms = {}", pool * 4))
        .replace("claim = \"3s\"", "claim = \"600s\"")
        .replace("rejoin_grace = \"3s\"", "rejoin_grace = \"60s\"")
        .replace("closing = \"3s\"", "closing = \"60s\"")
        .replace("idle = \"4s\"", "idle = \"600s\"");
    helpim_bot::config::Config::from_parts("bench.toml", &text, &[]).expect("bench config")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------
// Pool fill

const FILL_ROOMS: usize = 400;

/// Rooms per second for a client that only runs the creation procedure (join, 201, owner form,
/// submit): the server's own limit, with no event loop and no database. With `learned`, it asks
/// for the owner form once, before the clock starts, and submits it for every room without
/// asking again, as the bot does (two round trips a room instead of three).
async fn raw_fill(in_flight: usize, learned: bool) -> f64 {
    let prosody = XmppServer::start();
    let client = Person::connect_as(&prosody, "bot", "raw").await;
    let form = if learned {
        Some(Arc::new(learn_form(&client.session).await))
    } else {
        None
    };
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(std::sync::Mutex::new(Vec::with_capacity(FILL_ROOMS)));
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let (session, next, done, form) = (
            client.session.clone(),
            next.clone(),
            done.clone(),
            form.clone(),
        );
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < FILL_ROOMS {
                raw_create(&session, form.as_deref()).await;
                done.lock().unwrap().push(Instant::now());
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let mut done = done.lock().unwrap().clone();
    done.sort();
    (FILL_ROOMS - 1) as f64 / (done[FILL_ROOMS - 1] - done[0]).as_secs_f64()
}

/// The fields of the owner form, from a room made for the purpose.
async fn learn_form(session: &Session) -> Vec<stanza::OfferedField> {
    let room = raw_room(session, "pw").await;
    room_form(session, &room).await
}

/// A new room with `password`, joined as its creator (insisting on status 201).
async fn raw_room(session: &Session, password: &str) -> BareJid {
    let room = BareJid::new(&format!(
        "{}@conference.localhost",
        helpim_bot::secrets::new_room_name("raw")
    ))
    .unwrap();
    let join = stanza::join(&room, "raw", password, None).unwrap();
    let joined = session.join(room.clone(), join).await.expect("raw join");
    assert!(joined.own.has(stanza::STATUS_CREATED));
    room
}

/// The fields of `room`'s owner form.
async fn room_form(session: &Session, room: &BareJid) -> Vec<stanza::OfferedField> {
    let form = session
        .iq(stanza::config_request(room))
        .await
        .expect("raw form");
    form.as_ref()
        .map(stanza::offered_fields)
        .unwrap_or_default()
}

/// The creation procedure alone, as a minimal client does it: join (insisting on 201), fetch the
/// owner form (unless `learned` is given), submit the settings.
async fn raw_create(session: &Session, learned: Option<&Vec<stanza::OfferedField>>) {
    let password = helpim_bot::secrets::new_password();
    let room = raw_room(session, &password).await;
    let offered = match learned {
        Some(offered) => offered.clone(),
        None => room_form(session, &room).await,
    };
    let owner = BareJid::new("bot@localhost").unwrap();
    let settings = RoomSettings {
        password: &password,
        history: 0,
        owner: &owner,
    };
    session
        .iq(stanza::config_submit(&room, &offered, &settings))
        .await
        .expect("raw submit");
}

/// Rooms per second for the bot: created, configured and committed to the database, from the
/// first room's creation to the moment all of them are in the table.
async fn bot_fill(db: &TestDb, parallel: usize) -> f64 {
    let prosody = XmppServer::start();
    let store = db.store().await;
    clear(&store).await;
    let bot = RunningBot::start(config(&prosody, db, FILL_ROOMS, parallel), store.clone());
    // A cheap count, so that watching costs the bot's process little.
    let finished = loop {
        if count_rooms(&store).await >= FILL_ROOMS as i64 {
            break chrono::Utc::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let rows = store.rooms(false).await.unwrap();
    let first = rows.iter().map(|r| r.created_at).min().unwrap();
    bot.stop().await.unwrap();
    (FILL_ROOMS - 1) as f64 / (finished - first).to_std().unwrap().as_secs_f64()
}

/// Rows in `rooms`.
async fn count_rooms(store: &Store) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM rooms";
    match store {
        Store::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
        Store::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
    }
}

/// Empties the tables, so that each run starts alike.
async fn clear(store: &Store) {
    for table in ["messages", "room_events", "rooms"] {
        let sql = format!("DELETE FROM {table}");
        match store {
            Store::Sqlite(pool) => {
                sqlx::query(&sql).execute(pool).await.unwrap();
            }
            Store::Postgres(pool) => {
                sqlx::query(&sql).execute(pool).await.unwrap();
            }
        }
    }
}

/// How many runs the fill part pairs up (`HELPIM_BENCH_RUNS`, default 5): each run measures the
/// raw client and then the bot, and the ratio of the pair is the figure.
fn bench_runs() -> usize {
    std::env::var("HELPIM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// The median, least and greatest of `values`.
fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

async fn fill() {
    let runs = bench_runs();
    let server = if ejabberd_wanted() {
        "ejabberd"
    } else {
        "Prosody"
    };
    println!("## Pool fill on {server}: {FILL_ROOMS} rooms created, configured (and, by the bot, recorded)\n");
    println!("Each run times the raw client both ways (asking for every room's form: three round trips a room; submitting the form learned from a first room: two, as the bot does), then the bot on SQLite and on PostgreSQL; a ratio is bot / raw client within one run: against the raw client asking every time (the procedure the bot followed until it learned the form), and against the raw client with the learned form (the bot's own overhead). Medians of {runs} runs (least–greatest).\n");
    println!("| rooms in flight | raw, form each time (rooms/s) | raw, learned form (rooms/s) | bot on SQLite (rooms/s) | ratio to each raw | bot on PostgreSQL (rooms/s) | ratio to each raw |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let dbs = databases().await;
    for parallel in [1, 20] {
        let (mut asking, mut raw, mut sqlite, mut pg) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut sqlite_ratio, mut pg_ratio, mut sqlite_asking, mut pg_asking) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let a = raw_fill(parallel, false).await;
            let r = raw_fill(parallel, true).await;
            let s = bot_fill(&dbs[0].1, parallel).await;
            let p = bot_fill(&dbs[1].1, parallel).await;
            asking.push(a);
            raw.push(r);
            sqlite.push(s);
            pg.push(p);
            sqlite_asking.push(s / a);
            pg_asking.push(p / a);
            sqlite_ratio.push(s / r);
            pg_ratio.push(p / r);
        }
        let rate = |v: &mut Vec<f64>| {
            let (m, lo, hi) = spread(v);
            format!("{m:.0} ({lo:.0}–{hi:.0})")
        };
        let ratio = |v: &mut Vec<f64>| {
            let (m, lo, hi) = spread(v);
            format!("**{m:.2}** ({lo:.2}–{hi:.2})")
        };
        println!(
            "| {parallel} | {} | {} | {} | {} / {} | {} | {} / {} |",
            rate(&mut asking),
            rate(&mut raw),
            rate(&mut sqlite),
            ratio(&mut sqlite_asking),
            ratio(&mut sqlite_ratio),
            rate(&mut pg),
            ratio(&mut pg_asking),
            ratio(&mut pg_ratio)
        );
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// Presence to commit

const LATENCY_TRIALS: usize = 300;

/// Polls the room's row in a thread of its own every 100 µs (tokio's timers tick in
/// milliseconds) until it is `staffed`; returns when that was seen.
/// Watches the commits of status changes from outside the bot: on PostgreSQL the announcement
/// each one sends on commit (`LISTEN helpim_rooms`, nothing polled); on SQLite, which announces
/// nothing, a connection of its own reading the row every 0.1 ms (not one of the bot's).
enum Observer {
    Listen(sqlx::postgres::PgListener),
    Poll(Store),
}

impl Observer {
    async fn start(db: &TestDb) -> Observer {
        match db.store().await {
            Store::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
                    .await
                    .unwrap();
                listener
                    .listen(helpim_bot::store::NOTIFY_CHANNEL)
                    .await
                    .unwrap();
                Observer::Listen(listener)
            }
            store => Observer::Poll(store),
        }
    }

    /// When room `jid`'s row was first seen `staffed`.
    async fn staffed(&mut self, jid: &str) -> Instant {
        match self {
            Observer::Listen(listener) => loop {
                let n = listener.recv().await.unwrap();
                let v: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
                if v["jid"] == jid && v["status"] == "staffed" {
                    return Instant::now();
                }
            },
            Observer::Poll(store) => {
                let (store, jid) = (store.clone(), jid.to_string());
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || loop {
                    let row = handle.block_on(store.room(&jid)).unwrap();
                    if row.is_some_and(|r| r.status == Status::Staffed) {
                        return Instant::now();
                    }
                    std::thread::sleep(Duration::from_micros(100));
                })
                .await
                .unwrap()
            }
        }
    }
}

async fn latency() {
    println!("## Presence to commit: a staff member joins; when is the row `staffed`?\n");
    println!("{LATENCY_TRIALS} joins, one at a time. *Server round trip*: join sent → own presence back (what the server takes). *Join to commit*: join sent → row `staffed` committed (seen on PostgreSQL by `LISTEN helpim_rooms`, on SQLite by a connection of its own reading the row every 0.1 ms). *Bot adds*: own presence back → row `staffed`: reading the presence, the state machine, the write queue and the commit. *A bare commit*: one `UPDATE` and its commit on the same database, timed alone afterwards. *The status change alone*: the bot's own write of a status change (the update, the history row and, on PostgreSQL, the announcement, in one transaction), timed alone afterwards through the same store: the database's share of *bot adds*.\n");
    println!("| database | server round trip p50 / p99 (ms) | join to commit p50 / p99 (ms) | bot adds p50 / p99 (ms) | a bare commit alone p50 / p99 (ms) | the status change alone p50 / p99 (ms) |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut stages = Vec::new();
    for (name, db) in databases().await {
        let prosody = XmppServer::start();
        let store = db.store().await;
        let bot = RunningBot::start(config(&prosody, &db, 5, 4), store.clone());
        wait_ready_rooms(&store, 5).await;
        let mut staff = Person::connect(&prosody, "staff").await;
        let (mut server, mut total, mut added) = (Vec::new(), Vec::new(), Vec::new());
        let mut observer = Observer::start(&db).await;
        let before = STAGES.map(buckets);
        for i in 0..LATENCY_TRIALS {
            let room = claim(&store, ClaimKind::Staff, &format!("l{i}")).await;
            let nick = format!("S{i}");
            let sent = Instant::now();
            let committed = {
                let watch = observer.staffed(&room.jid);
                let join = staff.join(&room.jid, &nick, &room.password);
                let (committed, joined) = tokio::join!(watch, async {
                    join.await.expect("join");
                    Instant::now()
                });
                server.push(joined - sent);
                added.push(committed.saturating_duration_since(joined));
                committed
            };
            total.push(committed - sent);
            staff.leave(&room.jid, &nick, "Clean Exit");
        }
        let after = STAGES.map(buckets);
        stages.push((name, before, after));
        bot.stop().await.unwrap();
        // The database's own share: one status-like update and its commit, alone.
        let mut commit = Vec::new();
        for i in 0..LATENCY_TRIALS {
            let start = Instant::now();
            match &store {
                Store::Sqlite(pool) => {
                    let mut tx = pool.begin().await.unwrap();
                    sqlx::query("UPDATE rooms SET staff_nick = $1 WHERE id = 1")
                        .bind(format!("x{i}"))
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
                Store::Postgres(pool) => {
                    let mut tx = pool.begin().await.unwrap();
                    sqlx::query("UPDATE rooms SET staff_nick = $1 WHERE id = 1")
                        .bind(format!("x{i}"))
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            }
            commit.push(start.elapsed());
        }
        // The database's share of what the bot does: the same status change (update, history
        // row, announcement), written alone through the same store, fresh rooms each time.
        let mut alone = Vec::new();
        let base = chrono::Utc::now();
        for i in 0..LATENCY_TRIALS {
            let jid = format!("alone-{i}@conference.localhost");
            store.insert_room(&jid, "pw", base).await.unwrap();
            let t = helpim_bot::core::types::Transition {
                from: Some(Status::Available),
                to: Status::Staffed,
                reason: helpim_bot::core::types::Reason::StaffJoined,
                nick: Some(format!("S{i}")),
                jid: Some("staff@localhost".into()),
                at: base + chrono::Duration::milliseconds(i as i64 + 1),
            };
            let start = Instant::now();
            store.record_transition(&jid, &t).await.unwrap();
            alone.push(start.elapsed());
        }
        for v in [&mut server, &mut total, &mut added, &mut commit, &mut alone] {
            v.sort();
        }
        println!(
            "| {name} | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} |",
            ms(percentile(&server, 0.5)),
            ms(percentile(&server, 0.99)),
            ms(percentile(&total, 0.5)),
            ms(percentile(&total, 0.99)),
            ms(percentile(&added, 0.5)),
            ms(percentile(&added, 0.99)),
            ms(percentile(&commit, 0.5)),
            ms(percentile(&commit, 0.99)),
            ms(percentile(&alone, 0.5)),
            ms(percentile(&alone, 0.99)),
        );
    }
    println!("\nInside the bot over the same joins (its own histograms, `/metrics`; bucket bounds, so \"≤\"): *core*: the state machine's handling of one input; *queue wait*: any write queued → handed to the database; *apply*: the database applying and committing any write; *status change*: a status change (the joins' and the previous chats' closes) from the state machine's decision to its commit. What is left of *bot adds* is reading the presence off the socket and handing it to the main loop.\n");
    println!(
        "| database | core p50 / p99 (ms) | queue wait p50 / p99 (ms) | apply p50 / p99 (ms) | status change p50 / p99 (ms) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, before, after) in stages {
        let cells: Vec<String> = (0..STAGES.len())
            .map(|i| {
                let (p50, p99) = stage_quantiles(&before[i], &after[i]);
                format!("≤ {p50:.2} / ≤ {p99:.2}")
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!();
}

/// The bot's stage histograms the latency part reads.
const STAGES: [&str; 4] = [
    "helpim_core_seconds",
    "helpim_write_wait_seconds",
    "helpim_write_apply_seconds",
    "helpim_status_commit_seconds",
];

/// The cumulative bucket counts of histogram `name` in the bot's metrics: (upper bound, count).
fn buckets(name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    helpim_bot::metrics::metrics()
        .encode()
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            Some((
                le.parse().unwrap_or(f64::INFINITY),
                count.trim().parse().ok()?,
            ))
        })
        .collect()
}

/// The p50 and p99 (upper bounds of their buckets, in ms) of what was observed between two
/// readings of a histogram's buckets.
fn stage_quantiles(before: &[(f64, u64)], after: &[(f64, u64)]) -> (f64, f64) {
    let counts: Vec<(f64, u64)> = after
        .iter()
        .zip(before)
        .map(|((le, a), (_, b))| (*le, a - b))
        .collect();
    let total = counts.last().map_or(0, |c| c.1);
    let quantile = |q: f64| {
        counts
            .iter()
            .find(|(_, n)| *n as f64 >= q * total as f64)
            .map_or(f64::NAN, |(le, _)| le * 1000.0)
    };
    (quantile(0.5), quantile(0.99))
}

// ---------------------------------------------------------------------------------------------
// Full chats

/// A claim, retried every 10 ms until the pool or a staffed room has one (as a web application
/// would poll).
async fn claim_now(store: &Store, kind: ClaimKind, label: &str) -> helpim_bot::store::ClaimedRoom {
    loop {
        if let Some(room) = store.claim(kind, label).await.unwrap() {
            return room;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `chats` full chats with `concurrency` staff members and as many clients; chats per second,
/// from the first claim to the last row `closed`.
async fn run_chats(db: &TestDb, concurrency: usize, chats: usize) -> f64 {
    let prosody = XmppServer::start();
    let store = db.store().await;
    clear(&store).await;
    let pool = concurrency.max(5) + 5;
    let bot = RunningBot::start(config(&prosody, db, pool, 20), store.clone());
    wait_ready_rooms(&store, pool).await;
    let (staff_next, client_next) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut workers = Vec::new();
    let started = Instant::now();
    for w in 0..concurrency {
        let mut staff = Person::connect_as(&prosody, "staff", &format!("w{w}")).await;
        let mut client = Person::connect_as(&prosody, "client", &format!("w{w}")).await;
        let (store_s, next) = (store.clone(), staff_next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= chats {
                    break;
                }
                let room = claim_now(&store_s, ClaimKind::Staff, &format!("s{i}")).await;
                let nick = format!("S{i}");
                staff
                    .join(&room.jid, &nick, &room.password)
                    .await
                    .expect("staff joins");
                assert!(
                    staff
                        .hears_within(&room.jid, "hello", Duration::from_secs(20))
                        .await,
                    "staff heard no hello"
                );
                // As in a real chat, the bot has taken the client in (checked the claim) before
                // the staff member says goodbye.
                while store_s.room(&room.jid).await.unwrap().unwrap().status != Status::Busy {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                staff.say(&room.jid, "goodbye");
                staff.leave(&room.jid, &nick, "Clean Exit");
            }
        }));
        let (store_c, next) = (store.clone(), client_next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= chats {
                    break;
                }
                let room = claim_now(&store_c, ClaimKind::Client, &format!("c{i}")).await;
                let nick = format!("C{i}");
                client
                    .join(&room.jid, &nick, &room.password)
                    .await
                    .expect("client joins");
                client.say(&room.jid, "hello");
                assert!(
                    client
                        .hears_within(&room.jid, "goodbye", Duration::from_secs(20))
                        .await,
                    "client heard no goodbye"
                );
                client.leave(&room.jid, &nick, "Clean Exit");
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let finished = loop {
        let closed = store
            .rooms(true)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.status == Status::Closed && r.close_reason.as_deref() == Some("all_left"))
            .count();
        if closed >= chats {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {closed} of {chats} chats closed as all_left"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    bot.stop().await.unwrap();
    chats as f64 / finished.as_secs_f64()
}

async fn chats() {
    println!("## Full chats: claim, staff joins, client claims and joins, two messages, both leave, room destroyed, row `closed`\n");
    println!("| chats at once | chats | SQLite (chats/s) | PostgreSQL (chats/s) |");
    println!("|---:|---:|---:|---:|");
    let dbs = databases().await;
    for (concurrency, chats) in [(1, 100), (10, 300), (100, 600)] {
        let sqlite = run_chats(&dbs[0].1, concurrency, chats).await;
        let pg = run_chats(&dbs[1].1, concurrency, chats).await;
        println!("| {concurrency} | {chats} | {sqlite:.1} | {pg:.1} |");
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// Scale

/// Live rooms for the scale part: `HELPIM_SCALE_ROOMS`, default 100,000.
fn scale_rooms() -> usize {
    std::env::var("HELPIM_SCALE_ROOMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// How long the scale part watches the bot with every room alive and nothing happening.
const IDLE: Duration = Duration::from_secs(60);

/// Resident memory (KiB) and CPU time (user + system) of a process.
fn usage(pid: u32) -> (u64, Duration) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    (rss, Duration::from_millis(ticks * 10))
}

async fn scale() {
    let rooms = scale_rooms();
    println!("## Scale: {rooms} rooms alive at once (the bot's binary, SQLite)\n");
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let text = bot_config_text(&prosody, &db)
        .replace(
            "size = 2",
            &format!("size = {rooms}\nparallel_creations = 20"),
        )
        .replace("max_rooms = 20", &format!("max_rooms = {rooms}"));
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, text).unwrap();
    let (prosody_rss0, prosody_cpu0) = usage(prosody.pid());
    let started = Instant::now();
    let bot = BotProcess::start(
        &path,
        dir.path().join("bot.log"),
        &[("HELPIM_LOG_LEVEL", "warn")],
    );
    loop {
        // A cheap count, once a second: the watcher costs the bot's database little.
        let n = count_rooms(&store).await as usize;
        if n >= rooms {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "only {n} rooms after an hour"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let filled = started.elapsed();
    let (bot_rss_filled, bot_cpu_filled) = usage(bot.pid());
    let (prosody_rss_filled, prosody_cpu_filled) = usage(prosody.pid());
    // Every room alive and nothing happening: no time limit runs (no claims), so the bot
    // should do next to nothing; Prosody keeps its rooms.
    tokio::time::sleep(IDLE).await;
    let (bot_rss, bot_cpu) = usage(bot.pid());
    let (prosody_rss, prosody_cpu) = usage(prosody.pid());
    let fill_prosody = prosody_cpu_filled - prosody_cpu0;
    let idle_bot = bot_cpu - bot_cpu_filled;
    let idle_prosody = prosody_cpu - prosody_cpu_filled;
    println!(
        "Filled in {:.1} s ({:.0} rooms/s), then {} s with all of them alive and nothing happening.\n",
        filled.as_secs_f64(),
        rooms as f64 / filled.as_secs_f64(),
        IDLE.as_secs()
    );
    println!("| | helpim-bot | Prosody | bot / Prosody |");
    println!("|---|---:|---:|---:|");
    println!(
        "| resident memory when filled (MB) | {:.1} | {:.1} (was {:.1} empty) | |",
        bot_rss_filled as f64 / 1024.0,
        prosody_rss_filled as f64 / 1024.0,
        prosody_rss0 as f64 / 1024.0
    );
    println!(
        "| resident memory after the idle minute (MB) | {:.1} | {:.1} | |",
        bot_rss as f64 / 1024.0,
        prosody_rss as f64 / 1024.0
    );
    println!(
        "| CPU time over the fill (s) | {:.2} | {:.2} | {:.3} |",
        bot_cpu_filled.as_secs_f64(),
        fill_prosody.as_secs_f64(),
        bot_cpu_filled.as_secs_f64() / fill_prosody.as_secs_f64()
    );
    println!(
        "| CPU time over the idle {} s (s) | {:.3} | {:.3} | |",
        IDLE.as_secs(),
        idle_bot.as_secs_f64(),
        idle_prosody.as_secs_f64()
    );
    println!();
    let _ = bot.terminate();
}

// ---------------------------------------------------------------------------------------------
// The protocol: a staff member's join to the waiting visitor's invitation

const INVITE_TRIALS: usize = 100;

async fn invite() {
    println!("## Staff joins → the waiting visitor is invited (XMPP protocol, auto mode)\n");
    println!("{INVITE_TRIALS} trials, one at a time. A visitor (anonymous login) is queued with `request-chat`; the staff member runs `take-chat`, gets the invitation and joins. *Server round trip*: the staff member's join sent → own presence back. *Join to invitation*: join sent → the visitor holds the invitation with the password (the server relays the join to the bot, the bot seats the staff member, assigns the visitor in the database and sends the invitation, the server relays it).\n");
    println!("| database | server round trip p50 / p99 (ms) | join to invitation p50 / p99 (ms) | ratio of the medians |");
    println!("|---|---:|---:|---:|");
    for (name, db) in databases().await {
        let prosody = XmppServer::start();
        let store = db.store().await;
        let bot = RunningBot::start(config(&prosody, &db, 5, 4), store.clone());
        wait_ready_rooms(&store, 5).await;
        let mut staff = Person::connect(&prosody, "staff").await;
        staff.present_to_bot();
        let (mut server, mut invited) = (Vec::new(), Vec::new());
        for i in 0..INVITE_TRIALS {
            let mut visitor = Person::visitor(&prosody, "visitor").await;
            visitor.present_to_bot();
            let key = format!("bench-visitor-key-number-{i:08}");
            loop {
                let a = visitor
                    .command("request-chat", &[("nick", "V"), ("key", &key)])
                    .await
                    .unwrap();
                match field(&a, "status").as_deref() {
                    Some("queued") => break,
                    Some("closed") => tokio::time::sleep(Duration::from_millis(10)).await,
                    other => panic!("request-chat: {other:?} {}", note(&a)),
                }
            }
            let a = loop {
                let a = staff.command("take-chat", &[]).await.unwrap();
                if field(&a, "status").as_deref() == Some("taken") {
                    break a;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            let (room, password) = staff.invited().await;
            assert_eq!(field(&a, "room").as_deref(), Some(room.as_str()));
            let nick = format!("S{i}");
            let sent = Instant::now();
            let join = staff.join(&room, &nick, &password);
            let (joined, got) = tokio::join!(
                async {
                    join.await.expect("join");
                    Instant::now()
                },
                async {
                    let (to, _) = visitor.invited().await;
                    assert_eq!(to, room);
                    Instant::now()
                }
            );
            server.push(joined - sent);
            invited.push(got - sent);
            staff.leave(&room, &nick, "Clean Exit");
            visitor.quit().await;
        }
        bot.stop().await.unwrap();
        server.sort();
        invited.sort();
        println!(
            "| {name} | {} / {} | {} / {} | {:.2} |",
            ms(percentile(&server, 0.5)),
            ms(percentile(&server, 0.99)),
            ms(percentile(&invited, 0.5)),
            ms(percentile(&invited, 0.99)),
            percentile(&invited, 0.5).as_secs_f64() / percentile(&server, 0.5).as_secs_f64()
        );
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// A long queue: 10,000 visitors over XMPP waiting

fn queue_visitors() -> usize {
    std::env::var("HELPIM_QUEUE_VISITORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

async fn queue() {
    let n = queue_visitors();
    println!("## {n} visitors waiting over XMPP (the bot's binary, SQLite, `poll_interval` 1 s)\n");
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let text = bot_config_text(&prosody, &db)
        .replace("poll_interval = \"200ms\"", "poll_interval = \"1s\"")
        .replace("claim = \"3s\"", "claim = \"600s\"")
        .replace("idle = \"4s\"", "idle = \"600s\"");
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, text).unwrap();
    let bot = BotProcess::start(
        &path,
        dir.path().join("bot.log"),
        &[("HELPIM_LOG_LEVEL", "warn")],
    );
    wait_ready_rooms(&store, 2).await;
    let (rss_empty, _) = usage(bot.pid());
    // The visitors, as rows of visitors who asked over XMPP (their sessions are made up: the
    // server bounces the pushes, which the bot ignores).
    let Store::Sqlite(pool) = &store else {
        unreachable!()
    };
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO queue (visitor, jid, nick, topic, enqueued_at, last_seen_at, status, status_changed_at)
         SELECT 'bench-' || i, 'w' || i || '@anon.localhost/web', 'V' || i, NULL,
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || i || ' seconds'),
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'waiting', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         FROM n",
    )
    .bind(n as i64)
    .execute(pool)
    .await
    .unwrap();
    // The first sweep tells every one their place; then a quiet half minute.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (rss_queue, cpu0) = usage(bot.pid());
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (_, cpu1) = usage(bot.pid());
    let idle = cpu1 - cpu0;
    // One assignment: a staff member takes a chat and joins; the first visitor gets the room and
    // everyone moves up (the first 20 hear of it at once; the rest later, at most once a minute).
    let mut staff = Person::connect(&prosody, "staff").await;
    staff.present_to_bot();
    let (_, cpu2) = usage(bot.pid());
    let (room, _) = staff_in(&store, &mut staff, "Counsellor").await;
    let store2 = store.clone();
    wait_for(
        Duration::from_secs(30),
        "the first visitor to be assigned",
        || {
            let store = store2.clone();
            let jid = room.jid.clone();
            async move {
                store
                    .room(&jid)
                    .await
                    .unwrap()
                    .and_then(|r| r.client_claimed_at)
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, cpu3) = usage(bot.pid());
    let assignment = cpu3 - cpu2;
    println!("| | figure |");
    println!("|---|---:|");
    println!(
        "| bot resident memory, empty queue (MB) | {:.1} |",
        rss_empty as f64 / 1024.0
    );
    println!(
        "| bot resident memory, {n} waiting (MB) | {:.1} |",
        rss_queue as f64 / 1024.0
    );
    println!(
        "| bot CPU over 30 quiet s with {n} waiting (s) | {:.3} |",
        idle.as_secs_f64()
    );
    println!(
        "| bot CPU for one assignment and the 2 s after it (s) | {:.3} |",
        assignment.as_secs_f64()
    );
    println!(
        "| ratio: those 2 s / 2 quiet s | {:.1} |",
        assignment.as_secs_f64() / (idle.as_secs_f64() / 15.0).max(0.001)
    );
    println!();
    let _ = bot.terminate();
}

// ---------------------------------------------------------------------------------------------
// The statistics report over a year of rows

/// Chats in the generated year.
const STATS_CHATS: i64 = 100_000;

/// A year of a busy help line, generated in the database itself (SPEC §14's reports): 100,000
/// chats from 2025-11-01, one every 315 s (274 a day), each a room closed after 5 to 35 minutes
/// (one in ten by the idle timeout) by one of 25 staff members; a served queue row for each (one
/// in ten with priority) with two answers kept for statistics (`safe`, `age`); a registration for
/// nine in ten (category of 5, risk of 3, and a note already erased); feedback on one in three;
/// 20,000 visitors who left the queue, and 500 blocks.
async fn fill_year(db: &TestDb) {
    let last = STATS_CHATS - 1;
    let script = if db.url.starts_with("sqlite:") {
        let n = format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})"
        );
        let t = "strftime('%Y-%m-%dT%H:%M:%fZ', '2025-11-01', '+' || (i * 315) || ' seconds')";
        format!(
            "{n}
INSERT INTO rooms (id, jid, password, status, created_at, status_changed_at, busy_at, closed_at, close_reason, staff_jid)
SELECT i + 1, 'r' || i || '@c', 'p', 'closed', t, t, t,
       strftime('%Y-%m-%dT%H:%M:%fZ', t, '+' || (300 + i % 1800) || ' seconds'),
       CASE i % 10 WHEN 0 THEN 'idle_timeout' ELSE 'all_left' END, 'staff' || (i % 25) || '@l'
FROM (SELECT i, {t} AS t FROM n);
{n}
INSERT INTO queue (id, visitor, nick, enqueued_at, last_seen_at, status, status_changed_at, room_id, reason, priority)
SELECT i + 1, 'v' || i, 'n', strftime('%Y-%m-%dT%H:%M:%fZ', t, '-' || (i % 900) || ' seconds'), t,
       'served', t, i + 1, NULL, CASE WHEN i % 10 = 3 THEN 1 ELSE 0 END
FROM (SELECT i, {t} AS t FROM n);
{n}
INSERT INTO queue_answers (queue_id, question, answer, kept)
SELECT i + 1, 'safe', CASE WHEN i % 10 = 3 THEN 'no' ELSE 'yes' END, 1 FROM n
UNION ALL
SELECT i + 1, 'age', CASE i % 3 WHEN 0 THEN 'under-18' WHEN 1 THEN '18-30' ELSE 'over-30' END, 1 FROM n;
{n}
INSERT INTO registrations (id, room_id, staff, created_at)
SELECT i + 1, i + 1, 'staff' || (i % 25) || '@l', strftime('%Y-%m-%dT%H:%M:%fZ', t, '+2400 seconds')
FROM (SELECT i, {t} AS t FROM n) WHERE i % 10 <> 9;
{n}
INSERT INTO registration_answers (registration_id, question, answer, kept)
SELECT i + 1, 'category', CASE i % 5 WHEN 0 THEN 'school' WHEN 1 THEN 'home' WHEN 2 THEN 'health' WHEN 3 THEN 'friends' ELSE 'other' END, 1 FROM n WHERE i % 10 <> 9
UNION ALL
SELECT i + 1, 'risk', CASE WHEN i % 7 = 0 THEN 'high' WHEN i % 7 < 3 THEN 'medium' ELSE 'low' END, 1 FROM n WHERE i % 10 <> 9
UNION ALL
SELECT i + 1, 'note', NULL, 0 FROM n WHERE i % 10 <> 9;
{n}
INSERT INTO feedback (room_id, question, answer, created_at)
SELECT i + 1, 'helped', CASE WHEN i % 4 = 0 THEN 'no' ELSE 'yes' END, strftime('%Y-%m-%dT%H:%M:%fZ', t, '+2400 seconds')
FROM (SELECT i, {t} AS t FROM n) WHERE i % 3 = 0;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)
INSERT INTO queue (id, visitor, nick, enqueued_at, last_seen_at, status, status_changed_at, room_id, reason)
SELECT {STATS_CHATS} + i + 1, 'w' || i, 'n', t, t, 'left', strftime('%Y-%m-%dT%H:%M:%fZ', t, '+60 seconds'), NULL, 'left'
FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', '2025-11-01', '+' || (i * 1576) || ' seconds') AS t FROM n);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 499)
INSERT INTO blocked (visitor, at, reason, by)
SELECT 'b' || i, strftime('%Y-%m-%dT%H:%M:%fZ', '2025-11-01', '+' || (i * 63000) || ' seconds'), 'r', 'bench' FROM n;"
        )
    } else {
        let g = format!(
            "(SELECT i, timestamptz '2025-11-01T00:00:00Z' + i * 315 * interval '1 second' AS t
      FROM generate_series(0, {last}) AS i) g"
        );
        format!(
            "INSERT INTO rooms (id, jid, password, status, created_at, status_changed_at, busy_at, closed_at, close_reason, staff_jid)
SELECT i + 1, 'r' || i || '@c', 'p', 'closed', t, t, t, t + (300 + i % 1800) * interval '1 second',
       CASE i % 10 WHEN 0 THEN 'idle_timeout' ELSE 'all_left' END, 'staff' || (i % 25) || '@l'
FROM {g};
INSERT INTO queue (id, visitor, nick, enqueued_at, last_seen_at, status, status_changed_at, room_id, reason, priority)
SELECT i + 1, 'v' || i, 'n', t - (i % 900) * interval '1 second', t,
       'served', t, i + 1, NULL, CASE WHEN i % 10 = 3 THEN 1 ELSE 0 END
FROM {g};
INSERT INTO queue_answers (queue_id, question, answer, kept)
SELECT i + 1, 'safe', CASE WHEN i % 10 = 3 THEN 'no' ELSE 'yes' END, TRUE FROM {g}
UNION ALL
SELECT i + 1, 'age', CASE i % 3 WHEN 0 THEN 'under-18' WHEN 1 THEN '18-30' ELSE 'over-30' END, TRUE FROM {g};
INSERT INTO registrations (id, room_id, staff, created_at)
SELECT i + 1, i + 1, 'staff' || (i % 25) || '@l', t + interval '2400 seconds' FROM {g} WHERE i % 10 <> 9;
INSERT INTO registration_answers (registration_id, question, answer, kept)
SELECT i + 1, 'category', CASE i % 5 WHEN 0 THEN 'school' WHEN 1 THEN 'home' WHEN 2 THEN 'health' WHEN 3 THEN 'friends' ELSE 'other' END, TRUE FROM {g} WHERE i % 10 <> 9
UNION ALL
SELECT i + 1, 'risk', CASE WHEN i % 7 = 0 THEN 'high' WHEN i % 7 < 3 THEN 'medium' ELSE 'low' END, TRUE FROM {g} WHERE i % 10 <> 9
UNION ALL
SELECT i + 1, 'note', NULL, FALSE FROM {g} WHERE i % 10 <> 9;
INSERT INTO feedback (room_id, question, answer, created_at)
SELECT i + 1, 'helped', CASE WHEN i % 4 = 0 THEN 'no' ELSE 'yes' END, t + interval '2400 seconds' FROM {g} WHERE i % 3 = 0;
INSERT INTO queue (id, visitor, nick, enqueued_at, last_seen_at, status, status_changed_at, room_id, reason)
SELECT {STATS_CHATS} + i + 1, 'w' || i, 'n', t, t, 'left', t + interval '60 seconds', NULL, 'left'
FROM (SELECT i, timestamptz '2025-11-01T00:00:00Z' + i * 1576 * interval '1 second' AS t
      FROM generate_series(0, 19999) AS i) g;
SELECT setval(pg_get_serial_sequence('rooms', 'id'), (SELECT MAX(id) FROM rooms));
SELECT setval(pg_get_serial_sequence('queue', 'id'), (SELECT MAX(id) FROM queue));
SELECT setval(pg_get_serial_sequence('registrations', 'id'), (SELECT MAX(id) FROM registrations));
INSERT INTO blocked (visitor, at, reason, by)
SELECT 'b' || i, timestamptz '2025-11-01T00:00:00Z' + i * 63000 * interval '1 second', 'r', 'bench'
FROM generate_series(0, 499) AS i;
ANALYZE;"
        )
    };
    db.run_script(&script).await;
}

/// Runs `helpim-bot stats` over the generated year with `extra` arguments, as an operator would
/// (a process of its own: connecting, checking the migrations, the statements, the output);
/// its wall time and what it printed.
fn stats_run(db: &TestDb, extra: &[&str]) -> (Duration, String) {
    let mut args = vec![
        "stats",
        "--since",
        "2025-11-01",
        "--until",
        "2026-11-01",
        "--database-url",
        &db.url,
    ];
    args.extend_from_slice(extra);
    let t = Instant::now();
    let (code, out, err) = run_cli(&args, &[]);
    let took = t.elapsed();
    assert_eq!(code, 0, "stats failed: {err}");
    (took, out)
}

/// Where a report's time goes: each statement of the per-day report, run alone over the year
/// (median of three), printed as a line each.
async fn statement_times(db: &TestDb) {
    use helpim_bot::store::{sql, DbTime};
    let store = db.store().await;
    let since = DbTime("2025-11-01T00:00:00Z".parse().unwrap());
    let until = DbTime("2026-11-01T00:00:00Z".parse().unwrap());
    let statements = [
        ("STATS_CHATS", sql::STATS_CHATS),
        ("STATS_QUEUE_ENDS", sql::STATS_QUEUE_ENDS),
        ("STATS_WAITS", sql::STATS_WAITS),
        ("STATS_DURATIONS", sql::STATS_DURATIONS),
        ("STATS_CLOSED", sql::STATS_CLOSED),
        ("STATS_BLOCKS", sql::STATS_BLOCKS),
        ("STATS_SUPERVISION", sql::STATS_SUPERVISION),
        ("STATS_HANDOVERS", sql::STATS_HANDOVERS),
        ("STATS_PRIORITY", sql::STATS_PRIORITY),
        ("STATS_BEFORE", sql::STATS_BEFORE),
        ("STATS_REGISTERED", sql::STATS_REGISTERED),
        (
            "STATS_REGISTRATIONS_MISSING",
            sql::STATS_REGISTRATIONS_MISSING,
        ),
        ("STATS_FEEDBACK", sql::STATS_FEEDBACK),
    ];
    let mut line = Vec::new();
    for (name, statement) in statements {
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            match &store {
                Store::Sqlite(pool) => sqlx::query(statement.sqlite)
                    .bind(since)
                    .bind(until)
                    .bind(sql::STATS_PER_DAY.sqlite)
                    .fetch_all(pool)
                    .await
                    .map(drop),
                Store::Postgres(pool) => sqlx::query(statement.postgres)
                    .bind(since)
                    .bind(until)
                    .bind(sql::STATS_PER_DAY.postgres)
                    .fetch_all(pool)
                    .await
                    .map(drop),
            }
            .unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        line.push(format!("{name} {} ms", ms(times[1])));
    }
    eprintln!("per statement, per day: {}", line.join(", "));
    store.close().await;
}

async fn stats() {
    let runs: usize = std::env::var("HELPIM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    println!("## The statistics report over a year ({STATS_CHATS} chats)\n");
    println!("| database | fill (s) | `stats` per day, 365 rows (ms) | `--per hour`, 8,760 rows (ms) | `--by staff`, 25 lines (ms) |");
    println!("|---|---:|---:|---:|---:|");
    for (name, db) in databases().await {
        let t = Instant::now();
        fill_year(&db).await;
        let fill = t.elapsed();
        // What the year holds, checked once (this run is also the warm-up).
        let (_, out) = stats_run(&db, &["--json"]);
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        let total = &report["total"];
        assert_eq!(total["chats"], STATS_CHATS);
        assert_eq!(total["priority"], STATS_CHATS / 10);
        assert_eq!(total["registrations_missing"], STATS_CHATS / 10);
        assert_eq!(total["left"], 20_000);
        assert_eq!(total["before"]["safe"]["no"], STATS_CHATS / 10);
        assert_eq!(total["registered"]["risk"]["high"], 12_858);
        assert_eq!(
            total["feedback"]["helped"]["no"].as_i64().unwrap()
                + total["feedback"]["helped"]["yes"].as_i64().unwrap(),
            (STATS_CHATS + 2) / 3
        );
        assert_eq!(report["rows"].as_array().unwrap().len(), 365);
        let (_, out) = stats_run(&db, &["--by", "staff", "--json"]);
        let staff: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(staff["staff"].as_array().unwrap().len(), 25);
        assert_eq!(staff["total"]["chats"], STATS_CHATS);
        statement_times(&db).await;
        let mut medians = Vec::new();
        for extra in [&[][..], &["--per", "hour"][..], &["--by", "staff"][..]] {
            let mut times: Vec<Duration> = (0..runs).map(|_| stats_run(&db, extra).0).collect();
            times.sort();
            medians.push(times[runs / 2]);
        }
        println!(
            "| {name} | {:.1} | {} | {} | {} |",
            fill.as_secs_f64(),
            ms(medians[0]),
            ms(medians[1]),
            ms(medians[2])
        );
    }
    println!(
        "\nMedians of {runs} runs of the `helpim-bot stats` process each (after one checked run); a report is 26 statements (13 figures, by period and in total), `--by staff` one.\n"
    );
}
