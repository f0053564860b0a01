//! The XMPP server of a test: Debian's Prosody, or Debian's ejabberd with
//! `HELPIM_TEST_XMPP=ejabberd`; started on a free loopback port, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ejabberd_wanted, free_port, which, ACCOUNTS, PASSWORD};

/// The XMPP server of a test, stopped when dropped: Debian's Prosody, or Debian's ejabberd with
/// `HELPIM_TEST_XMPP=ejabberd`. Either way on a free loopback port with its config and data in a
/// temp folder, with the accounts of [`ACCOUNTS`] and a MUC service `conference.localhost` where
/// only `bot` and `inspector` may create rooms.
pub struct XmppServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    tls: bool,
    /// How long the server's two logs were when it was last started: what came after is its
    /// latest start's.
    log_marks: (usize, usize),
    /// Which server this is.
    pub kind: ServerKind,
    /// With [`XmppServer::start_web`]: the folder served over HTTP and its port.
    web: Option<(PathBuf, u16)>,
}

/// The two XMPP servers the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Debian's Prosody 0.12, the reference.
    Prosody,
    /// Debian's ejabberd 23 (`HELPIM_TEST_XMPP=ejabberd`).
    Ejabberd,
}

impl XmppServer {
    /// Starts the server with plain TCP allowed.
    pub fn start() -> XmppServer {
        XmppServer::start_with(false)
    }

    /// Starts the server; with `tls`, a self-signed certificate for `localhost` is made and TLS
    /// is required.
    pub fn start_with(tls: bool) -> XmppServer {
        if ejabberd_wanted() {
            return XmppServer::start_ejabberd(tls);
        }
        XmppServer::start_prosody(tls, None)
    }

    /// Starts Prosody (whatever `HELPIM_TEST_XMPP` says: the pages are built for Prosody's
    /// mod_websocket, SPEC §9) serving folder `web` over HTTP with mod_http_files, and XMPP over
    /// WebSocket at `/xmpp-websocket`, as scripts/demo.sh does.
    pub fn start_web(web: &Path) -> XmppServer {
        XmppServer::start_prosody(false, Some(web))
    }

    fn start_prosody(tls: bool, web: Option<&Path>) -> XmppServer {
        let prosody = which("prosody").unwrap_or_else(|| {
            panic!("Prosody is not installed: run `apt-get install prosody` (scripts/test.sh does it for you)")
        });
        let dir = tempfile::Builder::new()
            .prefix("helpim-prosody-")
            .tempdir()
            .unwrap();
        let accounts = dir.path().join("data").join("localhost").join("accounts");
        std::fs::create_dir_all(&accounts).unwrap();
        std::fs::create_dir_all(dir.path().join("certs")).unwrap();
        for user in ACCOUNTS {
            write_account(&accounts, user, PASSWORD);
        }
        if tls {
            make_certificate(&dir.path().join("certs"));
        }
        let mut p = XmppServer {
            port: 0,
            dir,
            child: None,
            tls,
            kind: ServerKind::Prosody,
            log_marks: (0, 0),
            web: web.map(|w| (w.to_path_buf(), 0)),
        };
        p.launch(&prosody);
        p
    }

    /// The address of the served pages, `http://127.0.0.1:<port>/` (with [`XmppServer::start_web`]).
    pub fn web_url(&self) -> String {
        let (_, port) = self.web.as_ref().expect("a server started with start_web");
        format!("http://127.0.0.1:{port}/")
    }

    fn start_ejabberd(tls: bool) -> XmppServer {
        let ejabberdctl = Path::new(EJABBERDCTL);
        assert!(
            ejabberdctl.exists(),
            "ejabberd is not installed: run `apt-get install ejabberd` (scripts/test.sh does it for you)"
        );
        let dir = tempfile::Builder::new()
            .prefix("helpim-ejabberd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in ["logs", "spool", "certs"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // Every account exists, with the test password (ejabberd's external authentication).
        let extauth = d.join("extauth.py");
        std::fs::write(&extauth, EXTAUTH).unwrap();
        std::fs::write(d.join("ejabberdctl.cfg"), "").unwrap();
        if tls {
            make_certificate(&d.join("certs"));
            let pem = std::fs::read_to_string(d.join("certs/localhost.crt")).unwrap()
                + &std::fs::read_to_string(d.join("certs/localhost.key")).unwrap();
            std::fs::write(d.join("certs/localhost.pem"), pem).unwrap();
        }
        // ejabberdctl runs the server as the `ejabberd` user.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&extauth, std::fs::Permissions::from_mode(0o755)).unwrap();
        let owned = Command::new("chown")
            .args(["-R", "ejabberd:ejabberd"])
            .arg(d)
            .status()
            .is_ok_and(|s| s.success());
        assert!(owned, "cannot hand {} to the ejabberd user", d.display());
        let mut p = XmppServer {
            port: 0,
            dir,
            child: None,
            tls,
            kind: ServerKind::Ejabberd,
            log_marks: (0, 0),
            web: None,
        };
        p.launch(ejabberdctl);
        p
    }

    fn ejabberd_node(&self) -> String {
        format!("helpim{}@localhost", self.port)
    }

    fn ejabberd_config_text(&self) -> String {
        let d = self.dir.path().display();
        let tls = if self.tls {
            format!("certfiles:\n  - \"{d}/certs/localhost.pem\"\n")
        } else {
            "certfiles: []\n".into()
        };
        format!(
            r#"# Written by the helpim-bot test harness.
hosts:
  - localhost
  - anon.localhost
host_config:
  anon.localhost:
    auth_method: [anonymous]
    anonymous_protocol: sasl_anon
    allow_multiple_connections: true
loglevel: info
log_rotate_count: 0
{tls}listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: {required}
    max_stanza_size: 1048576
    shaper: c2s_shaper
    access: all
auth_method: external
extauth_program: "{d}/extauth.py"
auth_use_cache: false
acl:
  admin:
    user:
      - "bot@localhost"
      - "inspector@localhost"
access_rules:
  muc_create:
    allow: admin
  muc_admin:
    allow: admin
shaper:
  normal:
    rate: 50000
    burst_size: 250000
shaper_rules:
  c2s_shaper:
    none: admin
    normal: all
modules:
  mod_disco: {{}}
  mod_roster: {{}}
  mod_ping: {{}}
  mod_stream_mgmt: {{}}
append_host_config:
  localhost:
    modules:
      mod_muc_admin: {{}}
      mod_muc:
        host: "conference.localhost"
        access: all
        access_create: muc_create
        access_persistent: muc_create
        access_admin: muc_admin
        history_size: 20
        max_users: 1000
        max_rooms_discoitems: 0
        default_room_options:
          persistent: false
          public: false
"#,
            port = self.port,
            required = self.tls,
        )
    }

    fn ejabberdctl(&self, args: &[&str]) -> std::process::Output {
        let d = self.dir.path();
        Command::new(EJABBERDCTL)
            .arg("--ctl-config")
            .arg(d.join("ejabberdctl.cfg"))
            .args(["--node", &self.ejabberd_node()])
            .args(args)
            .output()
            .expect("ejabberdctl")
    }

    fn config_text(&self) -> String {
        let d = self.dir.path().display();
        let tls = if self.tls {
            format!(
                "c2s_require_encryption = true\nssl = {{ certificate = \"{d}/certs/localhost.crt\"; key = \"{d}/certs/localhost.key\" }}\n"
            )
        } else {
            // Without mod_tls the server offers no STARTTLS at all.
            "c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n".to_string()
        };
        let (http, http_modules) = match &self.web {
            // consider_websocket_secure: loopback without TLS, as in scripts/demo.sh.
            Some((folder, port)) => (
                format!(
                    "http_ports = {{ {port} }}\nhttp_interfaces = {{ \"127.0.0.1\" }}\nhttp_default_host = \"localhost\"\n\
                     http_paths = {{ files = \"/\"; websocket = \"/xmpp-websocket\" }}\n\
                     http_files_dir = \"{}\"\nconsider_websocket_secure = true\n",
                    folder.display()
                ),
                "\"websocket\"; \"http_files\"; ",
            ),
            None => ("http_ports = { }\n".to_string(), ""),
        };
        format!(
            r#"-- Written by the helpim-bot test harness.
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
s2s_ports = {{ }}
{http}https_ports = {{ }}
c2s_direct_tls_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; {tls_module}{http_modules}"disco"; "ping"; "smacks"; "admin_shell"; "limits" }}
limits = {{ c2s = {{ rate = "50kb/s"; burst = "5s" }} }}
unlimited_jids = {{ "bot@localhost", "inspector@localhost" }}
admin_socket = "{d}/data/prosody.sock"
modules_disabled = {{ "s2s" }}
authentication = "internal_plain"
storage = "internal"
{tls}log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
admins = {{ "bot@localhost", "inspector@localhost" }}
VirtualHost "localhost"
VirtualHost "anon.localhost"
    authentication = "anonymous"
Component "conference.localhost" "muc"
    restrict_room_creation = true
    muc_room_default_persistent = false
    muc_room_default_public = false
    muc_tombstones = false
    muc_room_cache_size = 120000
"#,
            port = self.port,
            tls_module = if self.tls { "\"tls\"; " } else { "" },
        )
    }

    /// Stops XmppServer (SIGKILL) and starts it again on the same port: every room is gone.
    pub fn restart(&mut self) {
        self.kill();
        self.respawn();
        assert!(
            self.wait_listening(),
            "Prosody did not come back:\n{}",
            self.log()
        );
    }

    /// Stops XmppServer as its init script does (SIGTERM, a clean shutdown that saves persistent
    /// rooms) and starts it again on the same port.
    pub fn restart_gracefully(&mut self) {
        if let Some(mut c) = self.child.take() {
            match self.kind {
                ServerKind::Ejabberd => drop(self.ejabberdctl(&["stop"])),
                ServerKind::Prosody => signal(c.id(), "-TERM"),
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.respawn();
        assert!(
            self.wait_listening(),
            "Prosody did not come back:\n{}",
            self.log()
        );
    }

    /// Every room on the MUC service, as Prosody's admin shell lists them (hidden ones too).
    pub fn rooms(&self) -> Vec<String> {
        let text = match self.kind {
            ServerKind::Ejabberd => {
                let out = self.ejabberdctl(&["muc_online_rooms", "global"]);
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(
                    out.status.success(),
                    "ejabberdctl muc_online_rooms failed: {text}"
                );
                text
            }
            ServerKind::Prosody => {
                let config = self.dir.path().join("prosody.cfg.lua");
                let out = Command::new("prosodyctl")
                    .arg("--config")
                    .arg(&config)
                    .args(["shell", "muc:list('conference.localhost')"])
                    .output()
                    .expect("prosodyctl");
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(
                    out.status.success() && text.contains("OK:"),
                    "prosodyctl shell muc:list failed: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                text
            }
        };
        text.lines()
            .map(str::trim)
            .filter(|l| l.ends_with("@conference.localhost"))
            .map(str::to_string)
            .collect()
    }

    /// Prosody's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Freezes XmppServer (SIGSTOP): its sockets stay open and nothing answers, like a hung server
    /// or a dead network path.
    pub fn freeze(&self) {
        self.signal_all("-STOP");
    }

    fn signal_all(&self, sig: &str) {
        match self.kind {
            ServerKind::Ejabberd => self.signal_ejabberd(sig),
            ServerKind::Prosody => signal(self.child.as_ref().expect("running").id(), sig),
        }
    }

    /// Signals every process of this ejabberd: `su` starts the Erlang VM in a session of its
    /// own, so the VM is found by its node name.
    fn signal_ejabberd(&self, sig: &str) {
        let pattern = format!("-sname {}", self.ejabberd_node());
        let ok = Command::new("pkill")
            .arg(sig)
            .args(["-f", "--", &pattern])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pkill {sig} -f {pattern:?} found no process");
    }

    /// Lets a frozen XmppServer go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal_all("-CONT");
    }

    fn spawn(&mut self, program: &Path) {
        let (a, b) = self.logs();
        self.log_marks = (a.len(), b.len());
        match self.kind {
            ServerKind::Ejabberd => self.spawn_ejabberd(),
            ServerKind::Prosody => self.spawn_prosody(program),
        }
    }

    fn spawn_prosody(&mut self, prosody: &Path) {
        let config = self.dir.path().join("prosody.cfg.lua");
        std::fs::write(&config, self.config_text()).unwrap();
        let _ = std::fs::remove_file(self.dir.path().join("prosody.pid"));
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stdout.log"))
            .unwrap();
        let child = Command::new(prosody)
            .arg("--config")
            .arg(&config)
            .arg("-F")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start prosody");
        self.child = Some(child);
    }

    fn respawn(&mut self) {
        let program = match self.kind {
            ServerKind::Ejabberd => PathBuf::from(EJABBERDCTL),
            ServerKind::Prosody => which("prosody").expect("prosody"),
        };
        self.spawn(&program);
    }

    fn spawn_ejabberd(&mut self) {
        use std::os::unix::process::CommandExt;
        let d = self.dir.path().to_path_buf();
        let config = d.join("ejabberd.yml");
        std::fs::write(&config, self.ejabberd_config_text()).unwrap();
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(d.join("stdout.log"))
            .unwrap();
        // Its own process group: ejabberdctl, su and the Erlang VM go down together.
        let child = Command::new(EJABBERDCTL)
            .arg("--config")
            .arg(&config)
            .arg("--ctl-config")
            .arg(d.join("ejabberdctl.cfg"))
            .arg("--logs")
            .arg(d.join("logs"))
            .arg("--spool")
            .arg(d.join("spool"))
            .args(["--node", &self.ejabberd_node(), "foreground"])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start ejabberd");
        self.child = Some(child);
    }

    /// True once the server accepts connections on its port — its own: another process may
    /// have taken the port between `free_port` and the server's start (then the server logs
    /// that it could not bind, and something else answers a connect).
    fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let log = self.log_since_start();
            if log.contains("eaddrinuse") || log.contains("Failed to open server port") {
                return false;
            }
            let connectable = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.web.as_ref().is_none_or(|(_, port)| {
                    std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok()
                });
            let bound = match self.kind {
                // ejabberd binds its listener after it is up; it says so.
                ServerKind::Ejabberd => log.contains("Start accepting"),
                // Prosody binds its ports while it starts, before it accepts anything.
                ServerKind::Prosody => true,
            };
            if connectable && bound {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false; // exited: most likely the port was taken meanwhile
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn launch(&mut self, prosody: &Path) {
        for attempt in 0..5 {
            self.port = free_port();
            if let Some((_, port)) = self.web.as_mut() {
                *port = free_port();
            }
            self.spawn(prosody);
            if self.wait_listening() {
                return;
            }
            self.kill();
            eprintln!(
                "prosody did not start on port {} (attempt {attempt}); log:\n{}",
                self.port,
                self.log()
            );
        }
        panic!("Prosody would not start; see its log above");
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Prosody's own log.
    pub fn log(&self) -> String {
        let (a, b) = self.logs();
        format!("{a}{b}")
    }

    /// What the server logged since it was last started.
    fn log_since_start(&self) -> String {
        let (a, b) = self.logs();
        let (ma, mb) = self.log_marks;
        format!("{}{}", a.get(ma..).unwrap_or(&a), b.get(mb..).unwrap_or(&b))
    }

    /// The server's own log and what it wrote to stdout and stderr.
    fn logs(&self) -> (String, String) {
        let name = match self.kind {
            ServerKind::Ejabberd => "logs/ejabberd.log",
            ServerKind::Prosody => "prosody.log",
        };
        let a = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let b = std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default();
        (a, b)
    }

    /// The CA file a client must trust for the TLS server (the self-signed certificate).
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("certs").join("localhost.crt")
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.kind == ServerKind::Ejabberd {
                // The Erlang VM runs in a session of its own: found by its node name.
                let pattern = format!("-sname {}", self.ejabberd_node());
                let _ = Command::new("pkill")
                    .args(["-KILL", "-f", "--", &pattern])
                    .status();
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const EJABBERDCTL: &str = "/usr/sbin/ejabberdctl";

/// ejabberd's external authentication for the tests: every account exists, with [`PASSWORD`].
const EXTAUTH: &str = r#"#!/usr/bin/python3
import struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(2)
    if len(head) < 2:
        break
    parts = inp.read(struct.unpack(">H", head)[0]).decode().split(":")
    if parts[0] == "auth":
        ok = ":".join(parts[3:]) == "test-password"
    else:
        ok = parts[0] == "isuser"
    out.write(struct.pack(">HH", 2, 1 if ok else 0))
    out.flush()
"#;

impl Drop for XmppServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid} failed");
}

fn write_account(dir: &Path, user: &str, password: &str) {
    // Prosody's internal storage: one Lua file per account.
    std::fs::write(
        dir.join(format!("{user}.dat")),
        format!("return {{\n\t[\"password\"] = \"{password}\";\n}};\n"),
    )
    .unwrap();
}

fn make_certificate(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(dir.join("localhost.key"))
        .arg("-out")
        .arg(dir.join("localhost.crt"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed for the TLS test: apt-get install openssl");
    assert!(status.success(), "openssl could not make a certificate");
}
