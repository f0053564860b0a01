//! What the bot counts and how healthy it is: the Prometheus metrics (one registry for the
//! process, bumped where things happen) and the [`Health`] that `/livez` and `/readyz` read.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels: a room status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// `available`, `staffed`, …
    pub status: &'static str,
}

/// Labels: a transition's target status and reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// The status entered.
    pub to: &'static str,
    /// Why (`staff_joined`, `all_left`, …).
    pub reason: &'static str,
}

/// Labels: why someone was kicked.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KickLabel {
    /// `no_claim`, `third_person`, `impostor` or `timeout`.
    pub reason: &'static str,
}

/// Every metric the bot exports.
pub struct Metrics {
    registry: Registry,
    /// Rooms not closed, by status.
    pub rooms: Family<StatusLabel, Gauge>,
    /// Status changes, by target status and reason.
    pub transitions: Family<TransitionLabels, Counter>,
    /// Rooms created and configured.
    pub rooms_created: Counter,
    /// Room creations that failed.
    pub room_create_failures: Counter,
    /// People kicked, by reason.
    pub kicks: Family<KickLabel, Counter>,
    /// XMPP connections lost and made again.
    pub xmpp_reconnects: Counter,
    /// Requests the server did not answer in time.
    pub iq_timeouts: Counter,
    /// Database statements that failed (each retry counts).
    pub db_errors: Counter,
    /// Writes queued and not yet committed.
    pub write_queue: Gauge,
    /// From the event that caused a write to its commit.
    pub commit_latency: Histogram,
    /// The core's handling of one input (a stanza, an answer, a read, a timer).
    pub core_seconds: Histogram,
    /// How long a write waited in the queue before the database was asked.
    pub write_wait_seconds: Histogram,
    /// The database applying one write (or a batch of room creations) and committing it.
    pub write_apply_seconds: Histogram,
    /// A status change: from the state machine's decision to its commit.
    pub status_commit_seconds: Histogram,
}

/// Buckets for the stages of the bot's work: 10 µs … 5 s.
fn stage_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.00001, 2.0, 20))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("helpim");
        let m = Metrics {
            rooms: Family::default(),
            transitions: Family::default(),
            rooms_created: Counter::default(),
            room_create_failures: Counter::default(),
            kicks: Family::default(),
            xmpp_reconnects: Counter::default(),
            iq_timeouts: Counter::default(),
            db_errors: Counter::default(),
            write_queue: Gauge::default(),
            // 100 µs … 13 s.
            commit_latency: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            core_seconds: stage_buckets(),
            write_wait_seconds: stage_buckets(),
            write_apply_seconds: stage_buckets(),
            status_commit_seconds: stage_buckets(),
            registry: Registry::default(),
        };
        registry.register("rooms", "Rooms not closed, by status", m.rooms.clone());
        registry.register(
            "transitions",
            "Room status changes, by new status and reason",
            m.transitions.clone(),
        );
        registry.register(
            "rooms_created",
            "Rooms created and configured",
            m.rooms_created.clone(),
        );
        registry.register(
            "room_create_failures",
            "Room creations that failed",
            m.room_create_failures.clone(),
        );
        registry.register("kicks", "People kicked, by reason", m.kicks.clone());
        registry.register(
            "xmpp_reconnects",
            "XMPP connections lost and made again",
            m.xmpp_reconnects.clone(),
        );
        registry.register(
            "iq_timeouts",
            "XMPP requests not answered within xmpp.iq_timeout",
            m.iq_timeouts.clone(),
        );
        registry.register(
            "db_errors",
            "Database statements that failed (each retry counts)",
            m.db_errors.clone(),
        );
        registry.register(
            "write_queue_length",
            "Writes queued and not yet committed",
            m.write_queue.clone(),
        );
        registry.register(
            "event_commit_seconds",
            "Time from the event that caused a database write to its commit",
            m.commit_latency.clone(),
        );
        registry.register(
            "core_seconds",
            "The core's handling of one input",
            m.core_seconds.clone(),
        );
        registry.register(
            "write_wait_seconds",
            "How long a database write waited in the queue before the database was asked",
            m.write_wait_seconds.clone(),
        );
        registry.register(
            "write_apply_seconds",
            "The database applying and committing one write (or a batch of room creations)",
            m.write_apply_seconds.clone(),
        );
        registry.register(
            "status_commit_seconds",
            "A room status change: from the state machine's decision to its commit",
            m.status_commit_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// How healthy the running bot is, written by its main loop and read by `/livez` and `/readyz`.
pub struct Health {
    started: Instant,
    /// Milliseconds since `started` at the main loop's last turn (0: not turning yet).
    loop_turned: AtomicU64,
    /// Milliseconds since `started` at the last answered ping (0: none yet).
    pong: AtomicU64,
    standby: AtomicBool,
    online: AtomicBool,
    database: AtomicBool,
    ready_rooms: AtomicUsize,
    pool_size: usize,
    ping_interval: Duration,
    /// What `/status` tells a web site: counts only, never a name.
    help_line: std::sync::Mutex<HelpLine>,
}

/// The help line as a web site's "chat now" button sees it (`/status`): counts only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HelpLine {
    /// True while new visitors are taken: within the opening hours (if any) and someone on duty.
    pub open: bool,
    /// Why it is closed: `outside-hours` or `no-staff`; `null` while open.
    pub reason: Option<&'static str>,
    /// The next opening by the hours, while closed outside them (RFC 3339, UTC).
    pub next_opening: Option<chrono::DateTime<chrono::Utc>>,
    /// Staff members on duty: rooms with a staff member inside (one in two chats counts twice).
    pub staff_on_duty: usize,
    /// Visitors waiting.
    pub queue_length: i64,
    /// How long the first in line has waited, in seconds; `None` when nobody waits.
    pub oldest_wait_seconds: Option<i64>,
}

/// How long the main loop may go without turning before `/livez` fails.
pub const LIVENESS_LIMIT: Duration = Duration::from_secs(10);

impl Health {
    /// A bot that keeps `pool_size` rooms ready and pings every `ping_interval`.
    pub fn new(pool_size: usize, ping_interval: Duration) -> Health {
        Health {
            started: Instant::now(),
            loop_turned: AtomicU64::new(0),
            pong: AtomicU64::new(0),
            standby: AtomicBool::new(false),
            online: AtomicBool::new(false),
            database: AtomicBool::new(true),
            ready_rooms: AtomicUsize::new(0),
            pool_size,
            ping_interval,
            help_line: std::sync::Mutex::new(HelpLine::default()),
        }
    }

    /// The help line's state for `/status`.
    pub fn set_help_line(&self, help_line: HelpLine) {
        *self.help_line.lock().unwrap_or_else(|e| e.into_inner()) = help_line;
    }

    /// What `/status` says.
    pub fn help_line(&self) -> HelpLine {
        *self.help_line.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// The main loop turned (or, for a standby, its wait did).
    pub fn loop_turned(&self) {
        self.loop_turned.store(self.now_ms(), Ordering::Relaxed);
    }

    /// This instance waits for another to stop (high availability).
    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::Relaxed);
    }

    /// The XMPP session is up (true) or down.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Relaxed);
    }

    /// The server answered a ping.
    pub fn pong(&self) {
        self.pong.store(self.now_ms(), Ordering::Relaxed);
    }

    /// The last database request worked (true) or failed.
    pub fn set_database(&self, ok: bool) {
        self.database.store(ok, Ordering::Relaxed);
    }

    /// Rooms ready for a staff member now.
    pub fn set_ready_rooms(&self, n: usize) {
        self.ready_rooms.store(n, Ordering::Relaxed);
    }

    /// `Ok` while the main loop turns; else why not.
    pub fn live(&self) -> Result<(), String> {
        let turned = self.loop_turned.load(Ordering::Relaxed);
        if turned == 0 {
            return Ok(()); // starting: connecting, or reading the database
        }
        let since = Duration::from_millis(self.now_ms().saturating_sub(turned));
        if since > LIVENESS_LIMIT {
            return Err(format!("the main loop has not turned for {since:?}"));
        }
        Ok(())
    }

    /// `Ok` when the bot can serve a new chat now; else every reason why not.
    pub fn ready(&self) -> Result<(), Vec<String>> {
        let mut not = Vec::new();
        if let Err(e) = self.live() {
            not.push(e);
        }
        if self.standby.load(Ordering::Relaxed) {
            not.push("standby: another instance is active".into());
            return Err(not);
        }
        if !self.online.load(Ordering::Relaxed) {
            not.push("XMPP is not connected".into());
        } else {
            let pong = self.pong.load(Ordering::Relaxed);
            let limit = self.ping_interval * 2 + Duration::from_secs(10);
            if pong == 0 {
                not.push("no ping answered yet".into());
            } else if Duration::from_millis(self.now_ms() - pong) > limit {
                not.push(format!("no ping answered for over {limit:?}"));
            }
        }
        if !self.database.load(Ordering::Relaxed) {
            not.push("the database does not answer".into());
        }
        let ready = self.ready_rooms.load(Ordering::Relaxed);
        if ready < self.pool_size {
            not.push(format!("{ready} of {} pool rooms ready", self.pool_size));
        }
        if not.is_empty() {
            Ok(())
        } else {
            Err(not)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_everything() {
        let h = Health::new(2, Duration::from_secs(20));
        assert!(h.live().is_ok(), "alive while starting");
        let why = h.ready().unwrap_err();
        assert!(why.iter().any(|w| w.contains("XMPP")), "{why:?}");
        h.loop_turned();
        h.set_online(true);
        h.pong();
        h.set_ready_rooms(1);
        assert_eq!(h.ready().unwrap_err(), ["1 of 2 pool rooms ready"]);
        h.set_ready_rooms(2);
        assert!(h.ready().is_ok());
        h.set_database(false);
        assert_eq!(h.ready().unwrap_err(), ["the database does not answer"]);
        h.set_database(true);
        h.set_standby(true);
        assert!(h.ready().is_err());
    }

    #[test]
    fn metrics_are_in_prometheus_text_format() {
        metrics()
            .transitions
            .get_or_create(&TransitionLabels {
                to: "staffed",
                reason: "staff_joined",
            })
            .inc();
        metrics().commit_latency.observe(0.001);
        let text = metrics().encode();
        assert!(
            text.contains(r#"helpim_transitions_total{to="staffed",reason="staff_joined"} "#),
            "{text}"
        );
        assert!(
            text.contains("helpim_event_commit_seconds_bucket"),
            "{text}"
        );
        for stage in ["core", "write_wait", "write_apply"] {
            assert!(
                text.contains(&format!("helpim_{stage}_seconds_bucket{{le=\"0.00001\"}}")),
                "{stage}: {text}"
            );
        }
        assert!(text.contains("# EOF"), "{text}");
    }
}
