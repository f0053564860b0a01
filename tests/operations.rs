//! Operations: `/livez`, `/readyz` and `/metrics` over real HTTP, the systemd notify protocol
//! (READY, STATUS, WATCHDOG, STOPPING) on a socket of the test's own, and JSON logs.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use support::*;

/// How long the main loop may go without turning before `/livez` fails (the README's 10 s).
const LIVENESS_LIMIT: Duration = helpim_bot::metrics::LIVENESS_LIMIT;
/// How often a healthy main loop turns (its report to `/livez`).
const TURNS_EVERY: Duration = Duration::from_millis(250);
/// The README's slack after [`LIVENESS_LIMIT`]: `/livez` fails within a second after it.
const LIVEZ_SLACK: Duration = Duration::from_secs(1);

/// Waits until `GET path` answers `code`; returns the body.
async fn wait_http(port: u16, path: &str, code: u16, limit: Duration) -> String {
    let mut last = None;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        last = http_get(port, path);
        if let Some((c, body)) = &last {
            if *c == code {
                return body.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("GET {path} did not answer {code} within {limit:?}; last: {last:?}");
}

/// The value of the Prometheus sample `name` (with its labels, as written), if present.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// A notify socket like systemd's: collects what the bot sends. Like systemd, it reads all the
/// time (a thread of its own): a socket nobody reads holds only `net.unix.max_dgram_qlen`
/// datagrams (10 by default), and then the bot's next notification would block its main loop.
struct NotifySocket {
    /// What the reader thread has received so far.
    shared: Arc<Mutex<Vec<(Instant, String)>>>,
    /// Tells the reader thread to stop.
    stop: Arc<AtomicBool>,
    received: Vec<(Instant, String)>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> (NotifySocket, String) {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let shared = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (into, stopped) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let mut into = into.lock().unwrap();
                    for line in text.lines() {
                        into.push((Instant::now(), line.to_string()));
                    }
                }
            }
        });
        (
            NotifySocket {
                shared,
                stop,
                received: Vec::new(),
            },
            path.display().to_string(),
        )
    }

    /// Brings `received` up to date.
    fn read(&mut self) {
        self.received = self.shared.lock().unwrap().clone();
    }

    async fn wait_for(&mut self, line: &str, limit: Duration) -> Instant {
        let deadline = Instant::now() + limit;
        loop {
            self.read();
            if let Some((at, _)) = self.received.iter().find(|(_, l)| l == line) {
                return *at;
            }
            assert!(
                Instant::now() < deadline,
                "no {line:?} on the notify socket within {limit:?}; got {:?}",
                self.received
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `line` has come `n` times since `since`; fails once `limit` after `since` has
    /// passed without.
    async fn wait_count(&mut self, line: &str, n: usize, since: Instant, limit: Duration) {
        loop {
            let got = self.count_since(line, since);
            if got >= n {
                return;
            }
            assert!(
                since.elapsed() < limit,
                "{got} {line:?} within {limit:?}, expected at least {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn count_since(&mut self, line: &str, since: Instant) -> usize {
        self.read();
        self.received
            .iter()
            .filter(|(at, l)| *at >= since && l == line)
            .count()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn config_with_http(
    dir: &Path,
    prosody: &XmppServer,
    db: &TestDb,
    port: u16,
) -> std::path::PathBuf {
    let config = patient_config(dir, prosody, db);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("listen = \"\"", &format!("listen = \"127.0.0.1:{port}\""));
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_systemd_notifications() {
    let mut prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config_with_http(dir.path(), &prosody, &db, port);
    let (mut notify, socket) = NotifySocket::bind(dir.path());
    let bot = BotProcess::start(
        &config,
        dir.path().join("bot.log"),
        &[
            ("NOTIFY_SOCKET", socket.as_str()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );

    // READY=1 once the pool is filled; then /readyz agrees.
    notify.wait_for("READY=1", Duration::from_secs(20)).await;
    assert!(
        notify
            .received
            .iter()
            .any(|(_, l)| l.starts_with("STATUS=") && l.contains("2 rooms ready")),
        "{:?}",
        notify.received
    );
    wait_ready_rooms(&store, 2).await;
    assert_eq!(
        wait_http(port, "/livez", 200, Duration::from_secs(5)).await,
        "ok\n"
    );
    wait_http(port, "/readyz", 200, Duration::from_secs(10)).await;

    // The watchdog is petted from the main loop: at least every half second with a 2 s limit.
    let since = Instant::now();
    notify
        .wait_count("WATCHDOG=1", 4, since, Duration::from_secs(3))
        .await;

    // A chat and an intruder show in the metrics.
    let mut staff = Person::connect(&prosody, "staff").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    let mut eve = Person::connect(&prosody, "eve").await;
    eve.join(&room.jid, "eve", &room.password).await.unwrap();
    eve.removed_from(&room.jid).await;
    wait_ready_rooms(&store, 2).await;
    let wanted = [
        (r#"helpim_rooms{status="available"}"#, 2.0),
        (r#"helpim_rooms{status="staffed"}"#, 1.0),
        ("helpim_rooms_created_total", 3.0),
        (
            r#"helpim_transitions_total{to="staffed",reason="staff_joined"}"#,
            1.0,
        ),
        (r#"helpim_kicks_total{reason="no_claim"}"#, 1.0),
        ("helpim_event_commit_seconds_count", 4.0),
    ];
    // The metrics are reported a moment after the change: wait for all of them (5 s at most).
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let (code, metrics) = http_get(port, "/metrics").unwrap();
        assert_eq!(code, 200);
        let short: Vec<_> = wanted
            .iter()
            .filter(|(name, at_least)| sample(&metrics, name).is_none_or(|v| v < *at_least))
            .collect();
        // The last of those changes may still be on its way to the database (a loaded machine):
        // the write queue empties before the counts of what went wrong are read.
        if short.is_empty() && sample(&metrics, "helpim_write_queue_length") == Some(0.0) {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "{short:?} not reached in\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for name in [
        "helpim_write_queue_length",
        "helpim_iq_timeouts_total",
        "helpim_db_errors_total",
        "helpim_room_create_failures_total",
        "helpim_xmpp_reconnects_total",
    ] {
        assert_eq!(
            sample(&metrics, name),
            Some(0.0),
            "{name}\n{metrics}\nthe bot's log:\n{}",
            bot.log()
        );
    }

    // Without XMPP the bot is alive but not ready, and says why; then it is back. The watch
    // starts before the restart: a server that starts slowly under load may see the bot back
    // before the restart call returns.
    let watch = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = http_get(port, "/readyz");
            if let Some((503, why)) = &answer {
                if why.contains("XMPP is not connected") {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(answer);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    tokio::task::block_in_place(|| prosody.restart());
    if let Err(answer) = watch.await.unwrap() {
        panic!("/readyz never said that XMPP is not connected; last: {answer:?}");
    }
    assert_eq!(http_get(port, "/livez").unwrap().0, 200);
    wait_http(port, "/readyz", 200, Duration::from_secs(30)).await;
    // The rooms Prosody lost with its restart are closed as `lost`.
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (_, metrics) = http_get(port, "/metrics").unwrap();
        let lost = sample(
            &metrics,
            r#"helpim_transitions_total{to="closed",reason="lost"}"#,
        );
        if lost >= Some(2.0) || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        sample(
            &metrics,
            r#"helpim_transitions_total{to="closed",reason="lost"}"#
        ) >= Some(2.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "helpim_xmpp_reconnects_total") >= Some(1.0),
        "{metrics}"
    );

    // SIGTERM: STOPPING=1, then exit 0.
    let stop_sent = Instant::now();
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
    let stopping = notify.wait_for("STOPPING=1", Duration::from_secs(1)).await;
    assert!(stopping >= stop_sent);
    let _ = room;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_main_loop_fails_livez_and_stops_petting_the_watchdog() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config_with_http(dir.path(), &prosody, &db, port);
    let (mut notify, socket) = NotifySocket::bind(dir.path());
    let bot = BotProcess::start(
        &config,
        dir.path().join("bot.log"),
        &[
            ("NOTIFY_SOCKET", socket.as_str()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );
    notify.wait_for("READY=1", Duration::from_secs(20)).await;
    wait_ready_rooms(&store, 2).await;
    wait_http(port, "/livez", 200, Duration::from_secs(5)).await;
    // Petted while healthy.
    notify
        .wait_count("WATCHDOG=1", 1, Instant::now(), Duration::from_secs(1))
        .await;

    // Debug builds stall the main loop for 15 s on SIGUSR2, as a deadlock would. The stall
    // starts after the signal; the loop last turned at most `TURNS_EVERY` before it.
    let signalled = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-USR2", &bot.pid().to_string()])
        .status()
        .unwrap()
        .success());
    // Stuck from the moment it says so at the latest (the log line comes right before the stall).
    bot.logs_within("SIGUSR2: stalling the main loop", Duration::from_secs(5))
        .await;
    let stalled = Instant::now();
    // The README's bound: 200 until the loop has not turned for 10 s, 503 within a second after.
    let why = loop {
        let answer = http_get(port, "/livez");
        let at = Instant::now();
        match answer {
            Some((503, why)) => {
                assert!(
                    at - signalled >= LIVENESS_LIMIT - TURNS_EVERY,
                    "503 only {:?} after the stall began: {why}",
                    at - signalled
                );
                break why;
            }
            Some((200, _)) => assert!(
                at - stalled <= LIVENESS_LIMIT + LIVEZ_SLACK,
                "/livez still 200 {:?} into the stall",
                at - stalled
            ),
            other => panic!("GET /livez: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(why.contains("main loop has not turned"), "{why}");
    assert_eq!(
        notify.count_since("WATCHDOG=1", stalled),
        0,
        "the watchdog was petted while the loop was stuck: systemd would not restart it"
    );
    // Once it turns again, it is alive again and pets the watchdog.
    wait_http(port, "/livez", 200, Duration::from_secs(15)).await;
    // Petted again.
    notify
        .wait_count("WATCHDOG=1", 1, Instant::now(), Duration::from_secs(1))
        .await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_one_object_a_line_with_room_and_status_and_no_password() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let config = patient_config(dir.path(), &prosody, &db);
    let log = dir.path().join("bot.log");
    let bot = BotProcess::start(
        &config,
        log.clone(),
        &[("HELPIM_LOG_FORMAT", "json"), ("HELPIM_LOG_LEVEL", "trace")],
    );
    // A whole chat, at the most verbose level.
    let mut staff = Person::connect(&prosody, "staff").await;
    let mut client = Person::connect(&prosody, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    client_in(&store, &mut client, &room, "C").await;
    client.say(&room.jid, "hello");
    staff.heard(&room.jid, "hello").await;
    client.leave(&room.jid, "C", "Clean Exit");
    staff.leave(&room.jid, "S", "Clean Exit");
    wait_status(&store, &room.jid, Status::Closed).await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
    // Every password the bot generated: the chat's room, the pool's and their replacements.
    let mut passwords: Vec<String> = store
        .rooms(true)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.password)
        .collect();

    let text = std::fs::read_to_string(&log).unwrap();
    let mut status_lines = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line}"));
        assert!(v.is_object(), "{line}");
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
        if v["message"] == "status changed" {
            status_lines += 1;
            assert!(
                v["room"]
                    .as_str()
                    .is_some_and(|r| r.contains("@conference.localhost")),
                "{line}"
            );
            assert!(v["status"].is_string() && v["reason"].is_string(), "{line}");
        }
    }
    assert!(
        status_lines >= 4,
        "{status_lines} status changes in\n{text}"
    );
    assert!(text.lines().count() > 30, "a trace-level log:\n{text}");
    passwords.sort();
    passwords.dedup();
    assert!(passwords.len() >= 2);
    for p in &passwords {
        assert!(!text.contains(p.as_str()), "a room password is in the log");
    }
}
