//! Telling systemd how the service is (`Type=notify`): READY once the pool is filled, STATUS lines,
//! the watchdog petted from the main loop, STOPPING on shutdown. Without `$NOTIFY_SOCKET` (not
//! run by systemd) every call does nothing.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// The systemd notifier of the running bot.
pub struct Notifier {
    ready: bool,
    watchdog: Option<Duration>,
    last_pet: Option<Instant>,
    last_status: String,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET` and `$WATCHDOG_USEC` as systemd set them.
    pub fn from_env() -> Notifier {
        let mut usec = 0;
        let watchdog =
            sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec));
        Notifier {
            ready: false,
            watchdog,
            last_pet: None,
            last_status: String::new(),
        }
    }

    fn send(&self, state: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(false, state) {
            tracing::debug!(error = %e, "cannot notify systemd");
        }
    }

    /// READY=1, once.
    pub fn ready(&mut self, status: &str) {
        if !self.ready {
            self.ready = true;
            self.last_status = status.to_owned();
            self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
        }
    }

    /// STATUS=…, when it changed.
    pub fn status(&mut self, status: &str) {
        if self.last_status != status {
            self.last_status = status.to_owned();
            self.send(&[NotifyState::Status(status)]);
        }
    }

    /// WATCHDOG=1, at most four times per watchdog period. Called from the main loop only, so
    /// that a loop that is stuck stops petting and systemd restarts the service.
    pub fn pet(&mut self) {
        let Some(period) = self.watchdog else {
            return;
        };
        if self.last_pet.is_some_and(|t| t.elapsed() < period / 4) {
            return;
        }
        self.last_pet = Some(Instant::now());
        self.send(&[NotifyState::Watchdog]);
    }

    /// STOPPING=1.
    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}
