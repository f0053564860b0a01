//! High availability: two instances of the binary on one PostgreSQL database. One holds
//! the advisory lock and runs the rooms; the other stands by and takes over when the first dies.

mod support;

use std::time::{Duration, Instant};

use helpim_bot::active::LOCK_KEY;
use helpim_bot::core::types::Status;
use support::*;

/// The PostgreSQL backends that hold the active lock on this test's database: (pid, the
/// `application_name` of the instance, set in its database URL).
async fn lock_holders(url: &str) -> Vec<(i32, String)> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let holders = sqlx::query_as(
        "SELECT l.pid, COALESCE(a.application_name, '') FROM pg_locks l \
         LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
         AND l.classid::bigint = $1 AND l.objid::bigint = $2 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(LOCK_KEY >> 32)
    .bind(LOCK_KEY & 0xffff_ffff)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    holders
}

/// The one instance holding the active lock, by name; fails unless exactly one holds it.
async fn the_lock_holder(url: &str) -> (i32, String) {
    let holders = lock_holders(url).await;
    assert_eq!(
        holders.len(),
        1,
        "exactly one holder of the active lock: {holders:?}"
    );
    holders.into_iter().next().unwrap()
}

/// A config file named `name` in `dir`: the patient test config whose database URL names the
/// instance (`application_name`, seen by PostgreSQL in every connection, the lock's included)
/// and, with `via`, reaches PostgreSQL through that address instead.
fn instance_config(
    dir: &std::path::Path,
    xmpp: &XmppServer,
    db: &TestDb,
    name: &str,
    via: Option<std::net::SocketAddr>,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(patient_config(dir, xmpp, db)).unwrap();
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let mut url = format!("{}{sep}application_name={name}", db.url);
    if let Some(via) = via {
        url = url.replace(&pg_addr(&db.url), &via.to_string());
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text.replace(&db.url, &url)).unwrap();
    path
}

/// `host:port` of a PostgreSQL URL.
fn pg_addr(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let host = rest.split('/').next().unwrap();
    let host = host.rsplit('@').next().unwrap();
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    }
}

/// Records every write to `rooms` and `messages` with the writer's `application_name` and the
/// database's clock, so that a test can tell which instance wrote what, and when.
async fn audit_writes(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for statement in [
        "CREATE TABLE audit (at timestamptz NOT NULL DEFAULT clock_timestamp(), app text, tbl text)",
        "CREATE FUNCTION audit_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO audit (app, tbl) VALUES (current_setting('application_name'), TG_TABLE_NAME); \
         RETURN NULL; END $$",
        "CREATE TRIGGER audit_rooms AFTER INSERT OR UPDATE OR DELETE ON rooms \
         FOR EACH ROW EXECUTE FUNCTION audit_write()",
        "CREATE TRIGGER audit_messages AFTER INSERT OR UPDATE OR DELETE ON messages \
         FOR EACH ROW EXECUTE FUNCTION audit_write()",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

/// The database's clock now.
async fn db_now(url: &str) -> chrono::DateTime<chrono::Utc> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let now = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    now
}

/// How many rows instance `app` wrote since `since`.
async fn writes_by(url: &str, app: &str, since: chrono::DateTime<chrono::Utc>) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let n = sqlx::query_scalar("SELECT count(*) FROM audit WHERE app = $1 AND at > $2")
        .bind(app)
        .bind(since)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// The stored lines of `room`, in order.
async fn transcript_of(store: &helpim_bot::store::Store, room: &str) -> Vec<String> {
    let id = store.room_id(room).await.unwrap().unwrap();
    store
        .transcript(id, 0)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.body)
        .collect()
}

/// Waits until the transcript of `room` is `lines`, each once, in order.
async fn wait_transcript(store: &helpim_bot::store::Store, room: &str, lines: &[String]) {
    let last = std::sync::Mutex::new(Vec::new());
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let got = transcript_of(store, room).await;
            if got == lines {
                return;
            }
            *last.lock().unwrap() = got;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "the transcript is not {lines:?}: {:?}",
        last.lock().unwrap()
    );
}

/// A TCP proxy run by the test in front of PostgreSQL: killing it closes every connection that
/// went through it, and refuses new ones.
struct PgProxy {
    addr: std::net::SocketAddr,
    accept: tokio::task::JoinHandle<()>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl PgProxy {
    async fn start(target: String) -> PgProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = links.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                kept.lock().unwrap().push(link.abort_handle());
            }
        });
        PgProxy {
            addr,
            accept,
            links,
        }
    }

    /// Stops listening and closes every proxied connection.
    fn kill(&self) {
        self.accept.abort();
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

/// How many times `text` occurs in `log` after its first `from` bytes.
fn count_after(log: &str, from: usize, text: &str) -> usize {
    log.get(from..).unwrap_or_default().matches(text).count()
}

/// Where `text` first occurs in `log` (its length if nowhere).
fn offset_of(log: &str, text: &str) -> usize {
    log.find(text).unwrap_or(log.len())
}

const LOGIN: &str = "logging into XMPP";
const SESSION: &str = "XMPP session established";
const LINK_LOST: &str = "XMPP connection lost";
const CONFLICT: &str = "Conflict";
const LEFT_XMPP: &str = "leaving XMPP until it does";

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
    let first_config = instance_config(dir.path(), &prosody, &db, "first", None);
    let second_config = instance_config(dir.path(), &prosody, &db, "second", None);
    let first = BotProcess::start(&first_config, dir.path().join("first.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let mut second = BotProcess::start(&second_config, dir.path().join("second.log"), &[]);
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
    assert_eq!(the_lock_holder(&db.url).await.1, "first");

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
    assert_eq!(the_lock_holder(&db.url).await.1, "second");
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
    audit_writes(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let first_config = instance_config(dir.path(), &prosody, &db, "first", None);
    let second_config = instance_config(dir.path(), &prosody, &db, "second", None);
    let mut first = BotProcess::start(&first_config, dir.path().join("first.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let second = BotProcess::start(&second_config, dir.path().join("second.log"), &[]);
    wait_log(&second, STANDBY, Duration::from_secs(10)).await;

    // An administrator terminates the backend that holds the lock: the lock is free for a moment
    // and both instances ask for it.
    let (holder, name) = the_lock_holder(&db.url).await;
    assert_eq!(name, "first");
    assert!(writes_by(&db.url, "first", chrono::DateTime::UNIX_EPOCH).await > 0);
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(holder)
        .execute(&pool)
        .await
        .unwrap();
    wait_log(
        &first,
        "lost the database connection that holds the active lock",
        Duration::from_secs(10),
    )
    .await;
    // Seen in the log, so the first instance knew by then (a bound later than the fact).
    let first_knew = db_now(&db.url).await;
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
    let (new_holder, new_name) = the_lock_holder(&db.url).await;
    assert_ne!(new_holder, holder, "the lock is held by a new connection");
    let (first_log, second_log) = (first.log(), second.log());
    if first_log.contains(BACK) {
        // The first one got it back; the standby still stands by.
        println!("the active instance took its lock back");
        assert!(first.running());
        assert_eq!(new_name, "first");
        assert!(!second_log.contains(ACTIVE), "{second_log}");
        assert!(!first_log.contains(DEPOSED), "{first_log}");
    } else {
        // The standby was quicker: the first one stops without touching the rooms.
        println!("the standby took over; the first instance stopped");
        assert!(!first_log.contains(BACK), "{first_log}");
        assert_eq!(new_name, "second");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while first.running() {
            assert!(
                std::time::Instant::now() < deadline,
                "the deposed instance still runs"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Once it knew it had lost the lock, the deposed instance wrote nothing, and never
        // logged into XMPP again.
        assert_eq!(writes_by(&db.url, "first", first_knew).await, 0);
        let knew = offset_of(&first_log, "lost the database connection");
        assert_eq!(count_after(&first.log(), knew, LOGIN), 0, "{}", first.log());
    }
    // Either way the rooms are run: the pool is there and matches the server.
    wait_ready_rooms(&store, 2).await;
    let inspector = Person::connect(&prosody, "inspector").await;
    assert_rows_match_server(&store, &inspector).await;
    pool.close().await;
}

/// How long the chat goes on after a takeover while the tests watch for a stale instance.
const WINDOW: Duration = Duration::from_secs(15);

/// The staff member and the visitor take turns for [`WINDOW`], a line a second, each heard by
/// the other; the lines said, appended to `said`.
async fn chat_for_the_window(
    staff: &mut Person,
    client: &mut Person,
    room: &str,
    said: &mut Vec<String>,
) {
    let end = Instant::now() + WINDOW;
    let mut i = 0;
    while Instant::now() < end {
        let line = format!("line {i}");
        if i % 2 == 0 {
            staff.say(room, &line);
            client.heard(room, &line).await;
        } else {
            client.say(room, &line);
            staff.heard(room, &line).await;
        }
        said.push(line);
        i += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_from_postgresql_the_active_instance_leaves_xmpp_and_never_replaces_the_standbys_session(
) {
    let xmpp = XmppServer::start();
    let db = TestDb::postgres().await;
    let store = db.store().await;
    audit_writes(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    // The first instance reaches PostgreSQL only through the proxy, the lock's connection
    // included; the standby directly.
    let proxy = PgProxy::start(pg_addr(&db.url)).await;
    let first_config = instance_config(dir.path(), &xmpp, &db, "first", Some(proxy.addr));
    let second_config = instance_config(dir.path(), &xmpp, &db, "second", None);
    let mut first = BotProcess::start(&first_config, dir.path().join("first.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let second = BotProcess::start(&second_config, dir.path().join("second.log"), &[]);
    wait_log(&second, STANDBY, Duration::from_secs(10)).await;
    assert_eq!(the_lock_holder(&db.url).await.1, "first");

    let mut staff = Person::connect(&xmpp, "staff").await;
    let mut client = Person::connect(&xmpp, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    client_in(&store, &mut client, &room, "C").await;
    let mut said = vec!["before".to_string()];
    staff.say(&room.jid, "before");
    client.heard(&room.jid, "before").await;

    // Cut: the first instance is still connected to XMPP, but not to PostgreSQL.
    let cut = first.log().len();
    proxy.kill();
    // Said while the bot may be out of the room: the room's history brings it back.
    client.say(&room.jid, "during the cut");
    staff.heard(&room.jid, "during the cut").await;
    said.push("during the cut".into());
    wait_log(&first, LEFT_XMPP, Duration::from_secs(10)).await;
    wait_log(&second, ACTIVE, Duration::from_secs(15)).await;
    staff.sees_enter(&room.jid, "helpim-bot").await;
    assert_eq!(the_lock_holder(&db.url).await.1, "second");

    // The chat goes on while the cut-off instance has every chance to log in again.
    chat_for_the_window(&mut staff, &mut client, &room.jid, &mut said).await;
    wait_transcript(&store, &room.jid, &said).await;

    let (first_log, second_log) = (first.log(), second.log());
    let active = offset_of(&second_log, ACTIVE);
    let logins_after_cut = count_after(&first_log, cut, LOGIN);
    let sessions_after_cut = count_after(&first_log, cut, SESSION);
    let standby_logins = count_after(&second_log, active, LOGIN);
    let standby_sessions = count_after(&second_log, active, SESSION);
    // tokio-xmpp logs the server's stream error ("Replaced by new connection", a conflict).
    let standby_replaced =
        count_after(&second_log, active, LINK_LOST) + count_after(&second_log, active, CONFLICT);
    println!(
        "after the cut: cut-off instance logins {logins_after_cut}, sessions {sessions_after_cut}; standby logins \
         {standby_logins}, sessions {standby_sessions}, replaced or lost {standby_replaced}"
    );
    // The cut-off instance left XMPP and stayed out; the standby logged in once and its session
    // was never replaced.
    assert_eq!(
        (logins_after_cut, sessions_after_cut),
        (0, 0),
        "{first_log}"
    );
    assert!(first.running(), "it waits for the lock, out of XMPP");
    assert_eq!(
        (standby_logins, standby_sessions, standby_replaced),
        (1, 1, 0),
        "{second_log}"
    );
    assert!(writes_by(&db.url, "first", chrono::DateTime::UNIX_EPOCH).await > 0);
    assert_eq!(the_lock_holder(&db.url).await.1, "second");
    // Every line once, in order: the check above is still true after the window.
    assert_eq!(transcript_of(&store, &room.jid).await, said);
    let (code, _) = second.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_and_thawed_after_a_takeover_the_old_instance_touches_neither_xmpp_nor_the_tables() {
    let xmpp = XmppServer::start();
    let db = TestDb::postgres().await;
    let store = db.store().await;
    audit_writes(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let first_config = instance_config(dir.path(), &xmpp, &db, "first", None);
    let second_config = instance_config(dir.path(), &xmpp, &db, "second", None);
    let mut first = BotProcess::start(&first_config, dir.path().join("first.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let second = BotProcess::start(&second_config, dir.path().join("second.log"), &[]);
    wait_log(&second, STANDBY, Duration::from_secs(10)).await;

    let mut staff = Person::connect(&xmpp, "staff").await;
    let mut client = Person::connect(&xmpp, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    client_in(&store, &mut client, &room, "C").await;
    let mut said = vec!["before".to_string()];
    staff.say(&room.jid, "before");
    client.heard(&room.jid, "before").await;
    let (holder, name) = the_lock_holder(&db.url).await;
    assert_eq!(name, "first");
    assert!(writes_by(&db.url, "first", chrono::DateTime::UNIX_EPOCH).await > 0);

    // Freeze the active instance and take its lock away: the standby takes over.
    let signal = |sig: &str, pid: u32| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    };
    signal("-STOP", first.pid());
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(holder)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    wait_log(&second, ACTIVE, Duration::from_secs(15)).await;
    staff.sees_enter(&room.jid, "helpim-bot").await;
    client.say(&room.jid, "while frozen");
    staff.heard(&room.jid, "while frozen").await;
    said.push("while frozen".into());
    wait_transcript(&store, &room.jid, &said).await;

    // Thaw it: its timers fire at once, its XMPP stream finds itself replaced.
    let thawed_at = db_now(&db.url).await;
    let thaw = first.log().len();
    signal("-CONT", first.pid());
    wait_log(
        &first,
        "another instance took over",
        Duration::from_secs(10),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while first.running() {
        assert!(Instant::now() < deadline, "the deposed instance still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    chat_for_the_window(&mut staff, &mut client, &room.jid, &mut said).await;
    wait_transcript(&store, &room.jid, &said).await;

    let (first_log, second_log) = (first.log(), second.log());
    let after_thaw = first_log.get(thaw..).unwrap_or_default().to_string();
    let active = offset_of(&second_log, ACTIVE);
    println!(
        "after the thaw: old instance logins {}, sessions {}, rooms rejoined {}, rows written {}; \
         standby sessions {}, connections lost {}",
        count_after(&first_log, thaw, LOGIN),
        count_after(&first_log, thaw, SESSION),
        count_after(&first_log, thaw, "rejoined room"),
        writes_by(&db.url, "first", thawed_at).await,
        count_after(&second_log, active, SESSION),
        count_after(&second_log, active, LINK_LOST) + count_after(&second_log, active, CONFLICT),
    );
    for never in [
        LOGIN,
        SESSION,
        "rejoined room",
        "closing it",
        "room destroyed",
    ] {
        assert!(
            !after_thaw.contains(never),
            "{never:?} after the thaw:\n{after_thaw}"
        );
    }
    assert_eq!(writes_by(&db.url, "first", thawed_at).await, 0);
    assert_eq!(count_after(&second_log, active, SESSION), 1, "{second_log}");
    assert_eq!(
        count_after(&second_log, active, LINK_LOST) + count_after(&second_log, active, CONFLICT),
        0,
        "{second_log}"
    );
    assert_eq!(the_lock_holder(&db.url).await.1, "second");
    assert_eq!(transcript_of(&store, &room.jid).await, said);
    let (code, _) = second.terminate();
    assert_eq!(code, Some(0));
}
