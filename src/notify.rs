//! Telling systemd how the service is (`Type=notify`): READY once the pool is filled, STATUS lines,
//! the watchdog petted from the main loop, STOPPING on shutdown. Without `$NOTIFY_SOCKET` (not
//! run by systemd) every call does nothing.

use std::fmt::Write as _;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// How long one notification may wait for room in systemd's socket: the main loop sends them, and
/// a socket nobody reads (a stalled manager, a test's fake one) must not stall the loop.
const SEND_LIMIT: Duration = Duration::from_millis(100);

/// The systemd notifier of the running bot.
pub struct Notifier {
    /// `$NOTIFY_SOCKET`, connected; `None` when not run by systemd.
    socket: Option<UnixDatagram>,
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
            socket: connect_notify_socket(),
            ready: false,
            watchdog,
            last_pet: None,
            last_status: String::new(),
        }
    }

    fn send(&self, state: &[NotifyState]) {
        let Some(socket) = &self.socket else {
            return;
        };
        let mut message = String::new();
        for s in state {
            let _ = writeln!(message, "{s}");
        }
        if let Err(e) = socket.send(message.as_bytes()) {
            tracing::debug!(error = %e, "cannot notify systemd; this notification is dropped");
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

/// The datagram socket to systemd named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace), with a send time limit of [`SEND_LIMIT`].
fn connect_notify_socket() -> Option<UnixDatagram> {
    let path = std::env::var_os("NOTIFY_SOCKET")?;
    let connect = || -> std::io::Result<UnixDatagram> {
        let socket = UnixDatagram::unbound()?;
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        match bytes.strip_prefix(b"@") {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.connect_addr(&addr)?;
            }
            None => socket.connect(&path)?,
        }
        socket.set_write_timeout(Some(SEND_LIMIT))?;
        Ok(socket)
    };
    match connect() {
        Ok(socket) => Some(socket),
        Err(e) => {
            tracing::warn!(error = %e, "cannot reach systemd's notify socket; not notifying");
            None
        }
    }
}
