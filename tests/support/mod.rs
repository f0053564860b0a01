//! Test harness: a real Prosody per test (free loopback port, config and data in a temp folder),
//! a real SQLite file or a fresh PostgreSQL database per test, real XMPP clients, and the bot
//! running in-process or as its binary.
//!
//! Nothing here skips: a missing Prosody or PostgreSQL fails the test with what to install.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use helpim_bot::config::Config;
use helpim_bot::room::Status;
use helpim_bot::store::{ClaimKind, ClaimedRoom, RoomRow, Store};
use helpim_bot::xmpp::stanza::{self, RoomPresence, STATUS_SELF};
use helpim_bot::xmpp::{ConnectSettings, IqError, Joined, Session, SessionEvent};
use tokio::sync::{mpsc, oneshot};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

/// The password of every test account.
pub const PASSWORD: &str = "test-password";
/// Accounts every test Prosody has; `bot` and `inspector` are admins (may create rooms).
pub const ACCOUNTS: &[&str] = &[
    "bot",
    "inspector",
    "staff",
    "client",
    "eve",
    "staff2",
    "client2",
    "staff3",
    "client3",
    "staff4",
    "client4",
    // For tests/chaos.rs: staff and clients of up to 16 chats at once.
    "cs0",
    "cs1",
    "cs2",
    "cs3",
    "cs4",
    "cs5",
    "cs6",
    "cs7",
    "cs8",
    "cs9",
    "cs10",
    "cs11",
    "cs12",
    "cs13",
    "cs14",
    "cs15",
    "cc0",
    "cc1",
    "cc2",
    "cc3",
    "cc4",
    "cc5",
    "cc6",
    "cc7",
    "cc8",
    "cc9",
    "cc10",
    "cc11",
    "cc12",
    "cc13",
    "cc14",
    "cc15",
];

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// True when the tests run against ejabberd (`HELPIM_TEST_XMPP=ejabberd`) instead of Prosody.
pub fn ejabberd_wanted() -> bool {
    std::env::var("HELPIM_TEST_XMPP").is_ok_and(|v| v == "ejabberd")
}

/// The XMPP server of a test, stopped when dropped: Debian's Prosody, or Debian's ejabberd with
/// `HELPIM_TEST_XMPP=ejabberd`. Either way on a free loopback port with its config and data in a
/// temp folder, with the accounts of [`ACCOUNTS`] and a MUC service `conference.localhost` where
/// only `bot` and `inspector` may create rooms.
pub struct Prosody {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    tls: bool,
    ejabberd: bool,
}

impl Prosody {
    /// Starts the server with plain TCP allowed.
    pub fn start() -> Prosody {
        Prosody::start_with(false)
    }

    /// Starts the server; with `tls`, a self-signed certificate for `localhost` is made and TLS
    /// is required.
    pub fn start_with(tls: bool) -> Prosody {
        if ejabberd_wanted() {
            return Prosody::start_ejabberd(tls);
        }
        let prosody = which("prosody").unwrap_or_else(|| {
            panic!("Prosody is not installed: run `apt-get install prosody` (scripts/test.sh does it for you)")
        });
        let dir = tempfile::Builder::new()
            .prefix("helpim-prosody-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let accounts = data.join("localhost").join("accounts");
        std::fs::create_dir_all(&accounts).unwrap();
        std::fs::create_dir_all(dir.path().join("certs")).unwrap();
        for user in ACCOUNTS {
            write_account(&accounts, user, PASSWORD);
        }
        if tls {
            make_certificate(&dir.path().join("certs"));
        }
        let mut p = Prosody {
            port: 0,
            dir,
            child: None,
            tls,
            ejabberd: false,
        };
        p.launch(&prosody);
        p
    }

    fn start_ejabberd(tls: bool) -> Prosody {
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
        let mut p = Prosody {
            port: 0,
            dir,
            child: None,
            tls,
            ejabberd: true,
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
loglevel: info
log_rotate_count: 0
{tls}listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: {required}
    max_stanza_size: 1048576
    shaper: none
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
shaper_rules: {{}}
modules:
  mod_disco: {{}}
  mod_roster: {{}}
  mod_ping: {{}}
  mod_stream_mgmt: {{}}
  mod_muc_admin: {{}}
  mod_muc:
    host: "conference.localhost"
    access: all
    access_create: muc_create
    access_persistent: muc_create
    access_admin: muc_admin
    history_size: 0
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
        format!(
            r#"-- Written by the helpim-bot test harness.
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_direct_tls_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; {tls_module}"disco"; "ping"; "smacks"; "admin_shell" }}
admin_socket = "{d}/data/prosody.sock"
modules_disabled = {{ "s2s" }}
authentication = "internal_plain"
storage = "internal"
{tls}log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
admins = {{ "bot@localhost", "inspector@localhost" }}
VirtualHost "localhost"
Component "conference.localhost" "muc"
    restrict_room_creation = true
    muc_room_default_persistent = false
    muc_room_default_public = false
    muc_tombstones = false
    muc_room_cache_size = 20000
"#,
            port = self.port,
            tls_module = if self.tls { "\"tls\"; " } else { "" },
        )
    }

    /// Stops Prosody (SIGKILL) and starts it again on the same port: every room is gone.
    pub fn restart(&mut self) {
        self.kill();
        self.respawn();
        assert!(
            self.wait_listening(),
            "Prosody did not come back:\n{}",
            self.log()
        );
    }

    /// Stops Prosody as its init script does (SIGTERM, a clean shutdown that saves persistent
    /// rooms) and starts it again on the same port.
    pub fn restart_gracefully(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.ejabberd {
                let _ = self.ejabberdctl(&["stop"]);
            } else {
                signal(c.id(), "-TERM");
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
        if self.ejabberd {
            let out = self.ejabberdctl(&["muc_online_rooms", "global"]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "ejabberdctl muc_online_rooms failed: {text}"
            );
            return text
                .lines()
                .map(str::trim)
                .filter(|l| l.ends_with("@conference.localhost"))
                .map(str::to_string)
                .collect();
        }
        let config = self.dir.path().join("prosody.cfg.lua");
        let out = Command::new("prosodyctl")
            .arg("--config")
            .arg(&config)
            .args(["shell", "muc:list('conference.localhost')"])
            .output()
            .expect("prosodyctl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("OK:"),
            "prosodyctl shell muc:list failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
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

    /// Freezes Prosody (SIGSTOP): its sockets stay open and nothing answers, like a hung server
    /// or a dead network path.
    pub fn freeze(&self) {
        self.signal_all("-STOP");
    }

    fn signal_all(&self, sig: &str) {
        if self.ejabberd {
            self.signal_ejabberd(sig);
        } else {
            signal(self.child.as_ref().expect("running").id(), sig);
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

    /// Lets a frozen Prosody go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal_all("-CONT");
    }

    fn spawn(&mut self, prosody: &Path) {
        if self.ejabberd {
            return self.spawn_ejabberd();
        }
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
        let program = if self.ejabberd {
            PathBuf::from(EJABBERDCTL)
        } else {
            which("prosody").expect("prosody")
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

    fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
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
        let name = if self.ejabberd {
            "logs/ejabberd.log"
        } else {
            "prosody.log"
        };
        let a = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let b = std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default();
        format!("{a}{b}")
    }

    /// The CA file a client must trust for the TLS server (the self-signed certificate).
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("certs").join("localhost.crt")
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.ejabberd {
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

impl Drop for Prosody {
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

/// The path of a program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// A database for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A new SQLite file in a temp folder.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bot.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A new, empty PostgreSQL database on the server of `$DATABASE_URL` (else 127.0.0.1:5432).
    pub async fn postgres() -> TestDb {
        let admin = pg_admin_url();
        let name = format!("helpim_test_{}", helpim_bot::secrets::new_password());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin}: {e}.\n\
                 Set DATABASE_URL to a server where this user may CREATE DATABASE, or run \
                 scripts/test.sh, which starts one (apt-get install postgresql)."
            )
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database on {admin}: {e}"));
        pool.close().await;
        TestDb {
            url: replace_db_name(&admin, &name),
            _dir: None,
            pg_name: Some(name),
        }
    }

    /// A database at `url` that the test owns some other way (e.g. a [`PgCluster`]).
    pub fn at(url: String) -> TestDb {
        TestDb {
            url,
            _dir: None,
            pg_name: None,
        }
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Best effort, without a runtime: psql may not be installed where only the server runs.
            let _ = Command::new("psql")
                .arg(pg_admin_url())
                .args([
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The PostgreSQL server the tests use.
pub fn pg_admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    match base[scheme_end..].find('/') {
        Some(i) => format!("{}/{name}{query}", &base[..scheme_end + i]),
        None => format!("{base}/{name}{query}"),
    }
}

/// The bot's configuration for a test: short timeouts so that every limit can be reached.
pub fn bot_config(prosody: &Prosody, db: &TestDb) -> Config {
    Config::from_parts("test.toml", &bot_config_text(prosody, db), &[]).expect("test config")
}

/// The text of [`bot_config`], for the binary.
pub fn bot_config_text(prosody: &Prosody, db: &TestDb) -> String {
    format!(
        r#"
[xmpp]
jid = "bot@localhost"
password = "{PASSWORD}"
server = "{addr}"
tls = "plain"
connect_timeout = "10s"
iq_timeout = "5s"

[muc]
service = "conference.localhost"
nick = "helpim-bot"
room_prefix = "test"

[pool]
size = 2
max_rooms = 20

[timeouts]
claim = "3s"
rejoin_grace = "3s"
closing = "3s"
idle = "4s"

[database]
url = "{url}"
poll_interval = "200ms"

[http]
listen = ""
"#,
        addr = prosody.addr(),
        url = db.url
    )
}

/// A config file for the binary, in `dir`, with time limits long enough not to interfere with a
/// test of restarts.
pub fn patient_config(dir: &Path, prosody: &Prosody, db: &TestDb) -> PathBuf {
    let text = bot_config_text(prosody, db)
        .replace("claim = \"3s\"", "claim = \"60s\"")
        .replace("rejoin_grace = \"3s\"", "rejoin_grace = \"60s\"")
        .replace("closing = \"3s\"", "closing = \"60s\"")
        .replace("idle = \"4s\"", "idle = \"120s\"");
    let path = dir.join("bot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The bot binary running as its own process, killed when dropped.
pub struct BotProcess {
    child: Child,
    pub log: PathBuf,
}

impl BotProcess {
    /// Starts `helpim-bot run` with the config file `config`; its log goes to `log`.
    pub fn start(config: &Path, log: PathBuf, env: &[(&str, &str)]) -> BotProcess {
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let bin = env!("CARGO_BIN_EXE_helpim-bot");
        // With a watchdog, systemd names the process it expects pets from (WATCHDOG_PID): the
        // shell learns its own pid and becomes the bot with exec.
        let mut command = if env.iter().any(|(k, _)| *k == "WATCHDOG_USEC") {
            let mut c = Command::new("sh");
            c.args(["-c", "WATCHDOG_PID=$$ exec \"$0\" \"$@\"", bin]);
            c
        } else {
            Command::new(bin)
        };
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("HELPIM_")) {
            command.env_remove(key);
        }
        let child = command
            .arg("--config")
            .arg(config)
            .arg("run")
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start helpim-bot");
        BotProcess { child, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown procedure at all.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; returns the exit code and how long it took.
    pub fn terminate(mut self) -> (Option<i32>, Duration) {
        let sent = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status.code(), sent.elapsed());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return (None, sent.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when `room` exists on the server (disco#info answers), false on `item-not-found`.
pub async fn room_exists(inspector: &Person, room: &str) -> bool {
    let iq = xmpp_parsers::iq::Iq::Get {
        from: None,
        to: Some(Jid::from_str(room).unwrap()),
        id: String::new(),
        payload: xmpp_parsers::minidom::Element::builder(
            "query",
            "http://jabber.org/protocol/disco#info",
        )
        .build(),
    };
    match inspector.session.iq(iq).await {
        Ok(_) => true,
        Err(IqError::Error(condition)) if condition == "item-not-found" => false,
        Err(e) => panic!("disco#info on {room} failed: {e}"),
    }
}

/// The invariants between the database and the server: every room that is not closed exists,
/// and no closed room is left on the server.
pub async fn assert_rows_match_server(store: &Store, inspector: &Person) {
    for row in store.rooms(true).await.unwrap() {
        let exists = room_exists(inspector, &row.jid).await;
        if row.status == Status::Closed {
            assert!(
                !exists,
                "{} is closed ({:?}) but still on the server",
                row.jid, row.close_reason
            );
        } else {
            assert!(
                exists,
                "{} is {} in the database but not on the server",
                row.jid, row.status
            );
        }
    }
}

/// The bot running in-process.
pub struct RunningBot {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningBot {
    /// Starts the bot with `config` on `store`.
    pub fn start(config: Config, store: Store) -> RunningBot {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            helpim_bot::driver::run(config, store, async {
                let _ = stopped.await;
            })
            .await
        });
        RunningBot {
            stop: Some(stop),
            task,
        }
    }

    /// Shuts the bot down as SIGTERM does and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), &mut self.task)
            .await
            .expect("the bot did not stop within 15 s")
            .expect("the bot task panicked")
    }

    /// Stops the bot without the shutdown procedure (like a crash).
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Waits until `check` returns `Some`, polling every 50 ms, or fails after `limit` with `what`.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the room `jid` has status `status`, returning its row.
pub async fn wait_status(store: &Store, jid: &str, status: Status) -> RoomRow {
    wait_for(
        Duration::from_secs(15),
        &format!("{jid} to be {status}"),
        || {
            let store = store.clone();
            let jid = jid.to_string();
            async move {
                let row = store.room(&jid).await.unwrap();
                row.filter(|r| r.status == status)
            }
        },
    )
    .await
}

/// Waits until at least `n` rooms are `available` and unclaimed; returns them.
pub async fn wait_ready_rooms(store: &Store, n: usize) -> Vec<RoomRow> {
    wait_for(Duration::from_secs(20), &format!("{n} ready rooms"), || {
        let store = store.clone();
        async move {
            let rows: Vec<RoomRow> = store
                .rooms(false)
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.status == Status::Available && r.staff_claim.is_none())
                .collect();
            (rows.len() >= n).then_some(rows)
        }
    })
    .await
}

/// Claims a room as the web application does, waiting for the pool to have one.
pub async fn claim(store: &Store, kind: ClaimKind, label: &str) -> ClaimedRoom {
    wait_for(
        Duration::from_secs(20),
        &format!("a {kind:?} claim"),
        || {
            let store = store.clone();
            let label = label.to_string();
            async move { store.claim(kind, &label).await.unwrap() }
        },
    )
    .await
}

/// A person with an XMPP client: staff member, client, or stranger.
pub struct Person {
    pub session: Session,
    pub events: mpsc::UnboundedReceiver<SessionEvent>,
    pub user: String,
}

impl Person {
    /// Logs `user` in on `prosody`.
    pub async fn connect(prosody: &Prosody, user: &str) -> Person {
        Person::connect_as(prosody, user, "test").await
    }

    /// Logs `user` in on `prosody` with `resource` (one account, several connections).
    pub async fn connect_as(prosody: &Prosody, user: &str, resource: &str) -> Person {
        let settings = ConnectSettings {
            jid: FullJid::new(&format!("{user}@localhost/{resource}")).unwrap(),
            password: PASSWORD.into(),
            server: Some(("127.0.0.1".into(), prosody.port)),
            tls: helpim_bot::config::TlsMode::Plain,
            iq_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(30),
        };
        let (session, mut events) = Session::start(settings);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline.into(), events.recv()).await {
                Ok(Some(SessionEvent::Online { .. })) => break,
                Ok(Some(SessionEvent::ConnectFailed { error, fatal: true })) => {
                    panic!("{user} cannot log in: {error}")
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    panic!("{user} did not get online; Prosody log:\n{}", prosody.log())
                }
            }
        }
        Person {
            session,
            events,
            user: user.into(),
        }
    }

    /// Joins `room` as `nick` with `password`; events from before the join are dropped.
    pub async fn join(
        &mut self,
        room: &str,
        nick: &str,
        password: &str,
    ) -> Result<Joined, IqError> {
        while self.events.try_recv().is_ok() {}
        let room = BareJid::from_str(room).unwrap();
        let presence = stanza::join(&room, nick, password, None).unwrap();
        self.session.join(room, presence).await
    }

    /// Sends a groupchat message.
    pub fn say(&self, room: &str, text: &str) {
        let m = Message::groupchat(Jid::from_str(room).unwrap())
            .with_body(xmpp_parsers::message::Lang::default(), text.into());
        self.session.send(m);
    }

    /// Waits until the room echoes `body` back: the server has then handled the message, and
    /// everyone in the room got it before anything the server handles later.
    pub async fn heard(&mut self, room: &str, body: &str) {
        let room = BareJid::from_str(room).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::Message(msg))) => {
                    if msg.room == room && msg.body == body {
                        return;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} never heard {body:?} in {room}", self.user),
            }
        }
    }

    /// Waits for `body` from anyone in `room`; false after `limit` (for tests that count what
    /// failed rather than stop at it).
    pub async fn hears_within(&mut self, room: &str, body: &str, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(SessionEvent::Message(msg))) => {
                    if msg.room.as_str() == room && msg.body == body {
                        return true;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Forgets every event received so far.
    pub fn drain(&mut self) {
        while self.events.try_recv().is_ok() {}
    }

    /// Waits until `nick` is seen (re)entering `room`.
    pub async fn sees_enter(&mut self, room: &str, nick: &str) {
        let room = BareJid::from_str(room).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::RoomPresence(p)))
                    if p.room == room
                        && p.nick == nick
                        && p.kind == stanza::PresenceKind::Available =>
                {
                    return
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} never saw {nick} enter {room}", self.user),
            }
        }
    }

    /// Leaves `room` with the presence status text `status`.
    pub fn leave(&self, room: &str, nick: &str, status: &str) {
        let mut p = Presence::new(PresenceType::Unavailable);
        p.to = Some(Jid::from(
            BareJid::from_str(room)
                .unwrap()
                .with_resource_str(nick)
                .unwrap(),
        ));
        p.statuses
            .insert(xmpp_parsers::message::Lang::default(), status.into());
        self.session.send(p);
    }

    /// Waits for the room to remove this person (kick or destroy); returns that presence.
    pub async fn removed_from(&mut self, room: &str) -> RoomPresence {
        let room = BareJid::from_str(room).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                // ejabberd's presence for a destroyed room carries no 110.
                Ok(Some(SessionEvent::RoomPresence(p)))
                    if p.room == room
                        && (p.has(STATUS_SELF) || p.destroyed)
                        && p.kind == stanza::PresenceKind::Unavailable =>
                {
                    return p
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} was not removed from {room}", self.user),
            }
        }
    }

    /// Ends the session.
    pub async fn quit(self) {
        self.session.close().await;
    }
}

/// Claims a room for `staff` as the web app does (label `claim-<nick>`) and lets them in as
/// `nick`; returns the room and its `staffed` row.
pub async fn staff_in(store: &Store, staff: &mut Person, nick: &str) -> (ClaimedRoom, RoomRow) {
    let room = claim(store, ClaimKind::Staff, &format!("claim-{nick}")).await;
    staff
        .join(&room.jid, nick, &room.password)
        .await
        .expect("staff joins");
    let row = wait_status(store, &room.jid, Status::Staffed).await;
    (room, row)
}

/// Claims the longest-waiting staffed room for `client` (label `claim-<nick>`), checks it is
/// `room`, lets them in as `nick`; returns the `busy` row.
pub async fn client_in(
    store: &Store,
    client: &mut Person,
    room: &ClaimedRoom,
    nick: &str,
) -> RoomRow {
    let c = claim(store, ClaimKind::Client, &format!("claim-{nick}")).await;
    assert_eq!(
        c.jid, room.jid,
        "the client gets the longest-waiting staffed room"
    );
    client
        .join(&c.jid, nick, &c.password)
        .await
        .expect("client joins");
    wait_status(store, &room.jid, Status::Busy).await
}

/// Checks with a fresh join by an admin that `room` no longer exists: the join creates it anew
/// (status 201). The new room is removed again.
pub async fn assert_room_gone(inspector: &mut Person, room: &str) {
    let joined = inspector
        .join(room, "inspector", "")
        .await
        .unwrap_or_else(|e| panic!("the inspector's join of {room} failed: {e}"));
    assert!(
        joined.own.has(stanza::STATUS_CREATED),
        "{room} still existed on the server (join answered without 201: {:?})",
        joined.own.codes
    );
    let room = BareJid::from_str(room).unwrap();
    inspector
        .session
        .send(stanza::leave(&room, "inspector").unwrap());
}

/// Runs the built `helpim-bot` binary with `args`, returning (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_helpim-bot"));
    // Only the variables a test names reach the bot.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("HELPIM_")) {
        command.env_remove(key);
    }
    let out = command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run helpim-bot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A PostgreSQL cluster of the test's own (initdb in a temp folder), so that it can be stopped
/// and started under the bot. As root, the server runs as the `postgres` user.
pub struct PgCluster {
    dir: tempfile::TempDir,
    pub port: u16,
    user: Option<String>,
}

impl PgCluster {
    /// Makes and starts a cluster on a free port, with trust authentication on 127.0.0.1.
    pub fn start() -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("helpim-pg-")
            .tempdir()
            .unwrap();
        let root = running_as_root();
        let user = root.then(|| "postgres".to_string());
        if let Some(user) = &user {
            let status = Command::new("chown")
                .args([user.as_str(), dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster folder to {user} (is PostgreSQL installed? apt-get install postgresql)");
        }
        let cluster = PgCluster {
            dir,
            port: free_port(),
            user,
        };
        let data = cluster.data();
        cluster.pg(&["initdb", "-D", &data, "-U", "postgres", "--auth=trust"]);
        cluster.start_server();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg(&self, args: &[&str]) {
        let tool = pg_tool(args[0]).unwrap_or_else(|| {
            panic!(
                "{} not found: apt-get install postgresql (scripts/test.sh does it)",
                args[0]
            )
        });
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&tool);
                c
            }
            None => Command::new(&tool),
        };
        let out = command
            .args(&args[1..])
            .output()
            .expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{} failed: {}{}",
            args[0],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-l",
            &log,
            "-w",
            "-o",
            &options,
            "start",
        ]);
    }

    /// Stops the server at once (connections are cut).
    pub fn stop_server(&self) {
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let tool = pg_tool("pg_ctl");
        if let Some(tool) = tool {
            let mut command = match &self.user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(&tool);
                    c
                }
                None => Command::new(&tool),
            };
            let _ = command
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output();
        }
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// A PostgreSQL program from PATH or Debian's versioned folder.
fn pg_tool(name: &str) -> Option<PathBuf> {
    which(name).or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}
