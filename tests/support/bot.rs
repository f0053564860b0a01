//! The bot under test: its configuration, the binary as a process of its own (to kill it for
//! real), the bot in-process, and the command line.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use helpim_bot::config::Config;
use helpim_bot::store::Store;
use tokio::sync::oneshot;

use super::{TestDb, XmppServer, PASSWORD};

/// The bot's configuration for a test: short timeouts so that every limit can be reached.
pub fn bot_config(prosody: &XmppServer, db: &TestDb) -> Config {
    Config::from_parts("test.toml", &bot_config_text(prosody, db), &[]).expect("test config")
}

/// The text of [`bot_config`], for the binary.
pub fn bot_config_text(prosody: &XmppServer, db: &TestDb) -> String {
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

[queue]
return_grace = "2s"

[staff]
jids = ["staff@localhost", "staff2@localhost", "staff3@localhost", "staff4@localhost"]
max_chats = 2

[visitors]
domains = ["anon.localhost"]

[http]
listen = ""
"#,
        addr = prosody.addr(),
        url = db.url
    )
}

/// A config file for the binary, in `dir`, with time limits long enough not to interfere with a
/// test of restarts.
pub fn patient_config(dir: &Path, prosody: &XmppServer, db: &TestDb) -> PathBuf {
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

    /// Waits until the log holds `text`; fails after `limit`, showing the log.
    pub async fn logs_within(&self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the bot's log within {limit:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

/// `GET path` from the bot's HTTP endpoint on `port` (HTTP/1.1); the status code and the body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let code = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((code, body))
}
