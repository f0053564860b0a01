//! Logging in, TLS, the pool's limits and the rooms' configuration on the server, and the
//! `run` and `check-config` commands of the binary.

mod support;

use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use helpim_bot::store::ClaimKind;
use helpim_bot::xmpp::stanza;
use support::*;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;

/// A config file for the binary.
fn write_config(
    dir: &std::path::Path,
    prosody_addr: &str,
    db_url: &str,
    extra_xmpp: &str,
) -> String {
    let path = dir.join("bot.toml");
    std::fs::write(
        &path,
        format!(
            r#"[xmpp]
jid = "bot@localhost"
password = "{PASSWORD}"
server = "{prosody_addr}"
{extra_xmpp}

[muc]
service = "conference.localhost"

[pool]
size = 1

[database]
url = "{db_url}"

[http]
listen = ""
"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn run_fails_fast_on_a_wrong_password() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &prosody.addr(), &db.url, "tls = \"plain\"");
    let started = Instant::now();
    let (code, _, err) = run_cli(
        &["-c", &config, "run"],
        &[("HELPIM_XMPP_PASSWORD", "wrong")],
    );
    assert_ne!(code, 0);
    assert!(err.contains("login as bot@localhost refused"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn run_fails_after_connect_timeout_when_the_server_is_unreachable() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &addr,
        &db.url,
        "tls = \"plain\"\nconnect_timeout = \"2s\"",
    );
    let started = Instant::now();
    let (code, _, err) = run_cli(&["-c", &config, "run"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains(&format!("cannot reach {addr}")), "{err}");
    assert!(err.contains("xmpp.connect_timeout"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn starttls_is_required_by_default() {
    // This server offers no TLS: the bot refuses to log in in the clear.
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &prosody.addr(),
        &db.url,
        "connect_timeout = \"3s\"",
    );
    let (code, _, err) = run_cli(&["-c", &config, "run"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn runs_over_starttls_and_stops_on_sigterm() {
    let prosody = XmppServer::start_with(true);
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    // The server's name must match the certificate, so connect by name.
    let addr = format!("localhost:{}", prosody.port);
    let config = write_config(dir.path(), &addr, &db.url, "tls = \"starttls\"");
    let mut bot = Command::new(env!("CARGO_BIN_EXE_helpim-bot"))
        .args(["-c", &config, "run"])
        .env("SSL_CERT_FILE", prosody.certificate())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ready = rt.block_on(async {
        let store = db.store().await;
        tokio::time::timeout(Duration::from_secs(20), wait_ready_rooms(&store, 1)).await
    });
    let _ = Command::new("kill")
        .args(["-TERM", &bot.id().to_string()])
        .status();
    let status = bot.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(bot.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        ready.is_ok(),
        "no room over STARTTLS; bot log:\n{err}\nProsody log:\n{}",
        prosody.log()
    );
    assert_eq!(status.code(), Some(0), "{err}");
    // The bot's side, on both servers: the stream it logged in on was encrypted.
    assert!(err.contains("TLS established (STARTTLS)"), "{err}");
    // Prosody's side (ejabberd logs no TLS sessions: README, "Or ejabberd").
    if !ejabberd_wanted() {
        assert!(
            prosody.log().contains("Stream encrypted"),
            "Prosody saw no TLS session:\n{}",
            prosody.log()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_keeps_size_ready_rooms_within_max_rooms() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut config = bot_config(&prosody, &db);
    config.pool.size = 3;
    config.pool.max_rooms = 4;
    config.timeouts.claim = Duration::from_secs(120);
    let bot = RunningBot::start(config, store.clone());
    let ready = wait_ready_rooms(&store, 3).await;
    assert_eq!(ready.len(), 3);
    for r in &ready {
        assert!(
            r.jid.starts_with("test-") && r.jid.ends_with("@conference.localhost"),
            "{}",
            r.jid
        );
        assert!(r.password.len() >= 26, "at least 128 bits");
    }
    // Three claims: the pool wants three ready rooms again, but only one more fits in max_rooms.
    let mut claimed = Vec::new();
    for i in 0..3 {
        claimed.push(claim(&store, ClaimKind::Staff, &format!("s{i}")).await);
    }
    // The pool makes the one room that fits.
    let live = wait_for(Duration::from_secs(10), "a fourth room", || {
        let store = store.clone();
        async move {
            let live = store.rooms(false).await.unwrap();
            (live.len() >= 4).then_some(live)
        }
    })
    .await;
    // A later change proves the bot had decided about the claims long before: a staff member
    // joins a claimed room (the claims poll runs every 200 ms, creations take milliseconds).
    let mut staff = Person::connect(&prosody, "staff").await;
    staff
        .join(&claimed[0].jid, "S", &claimed[0].password)
        .await
        .unwrap();
    wait_status(&store, &claimed[0].jid, Status::Staffed).await;
    let after = store.rooms(false).await.unwrap();
    assert_eq!(after.len(), 4, "never more than pool.max_rooms: {after:?}");
    assert_eq!(
        after.iter().map(|r| &r.jid).collect::<Vec<_>>(),
        live.iter().map(|r| &r.jid).collect::<Vec<_>>()
    );
    assert_eq!(after.iter().filter(|r| r.staff_claim.is_none()).count(), 1);
    bot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_hidden_temporary_password_protected_and_owned_by_the_bot() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
    // Both rooms of the pool: the first configured from the form the server offered for it,
    // the second from the same form without asking again.
    let rooms = wait_ready_rooms(&store, 2).await;
    let inspector = Person::connect(&prosody, "inspector").await;
    for room in &rooms {
        let info = inspector
            .session
            .iq(Iq::Get {
                from: None,
                to: Some(Jid::from_str(&room.jid).unwrap()),
                id: String::new(),
                payload: Element::builder("query", "http://jabber.org/protocol/disco#info").build(),
            })
            .await
            .unwrap()
            .unwrap();
        let features: Vec<String> = info
            .children()
            .filter(|c| c.name() == "feature")
            .filter_map(|c| c.attr("var").map(str::to_string))
            .collect();
        for wanted in [
            "muc_passwordprotected",
            "muc_hidden",
            "muc_temporary",
            "muc_open",
        ] {
            assert!(
                features.iter().any(|f| f == wanted),
                "{}: {wanted} missing from {features:?}",
                room.jid
            );
        }
    }
    // The bot is the room's owner: a staff member who joins sees it so.
    let mut staff = Person::connect(&prosody, "staff").await;
    let claimed = claim(&store, ClaimKind::Staff, "s").await;
    let joined = staff
        .join(&claimed.jid, "Counsellor", &claimed.password)
        .await
        .unwrap();
    let bot_presence = joined
        .occupants
        .iter()
        .find(|o| o.nick == "helpim-bot")
        .expect("the bot is inside");
    assert_eq!(bot_presence.affiliation.as_deref(), Some("owner"));
    wait_status(&store, &claimed.jid, Status::Staffed).await;
    bot.stop().await.unwrap();
}

#[test]
fn check_config_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(
        dir.path(),
        "127.0.0.1:5222",
        "sqlite://x.db",
        "tls = \"plain\"",
    );
    let (code, out, _) = run_cli(&["check-config", &good], &[]);
    assert_eq!(code, 0);
    assert!(out.ends_with(": OK\n"), "{out}");

    let text = std::fs::read_to_string(&good)
        .unwrap()
        .replace("size = 1", "size = \"one\"");
    std::fs::write(&good, text).unwrap();
    let (code, _, err) = run_cli(&["check-config", &good], &[]);
    assert_eq!(code, 78);
    assert!(
        err.contains("line 11: pool.size: invalid type: string \"one\", expected u32"),
        "{err}"
    );

    // `run` refuses the same file before it connects anywhere.
    let (code, _, err) = run_cli(&["-c", &good, "run"], &[]);
    assert_eq!(code, 78);
    assert!(err.contains("pool.size"), "{err}");
}

#[test]
fn example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/bot.toml.example");
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    // The example reads its password from a file; point it at one that exists.
    let (code, out, err) = run_cli(
        &["check-config", example],
        &[("HELPIM_XMPP_PASSWORD_FILE", pw.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn sigterm_while_waiting_for_the_server_stops_at_once() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &addr,
        &db.url,
        "tls = \"plain\"\nconnect_timeout = \"60s\"",
    );
    let log = dir.path().join("bot.log");
    let mut bot = Command::new(env!("CARGO_BIN_EXE_helpim-bot"))
        .args(["-c", &config, "run"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // It is waiting for the server once it has failed to reach it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("XMPP connection failed")
    {
        assert!(Instant::now() < deadline, "the bot never tried to connect");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &bot.id().to_string()])
        .status();
    let status = bot.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?}",
        sent.elapsed()
    );
}

/// The bot tells a room it created from one that existed by status 201 on its own presence
/// (what it then does is the core's `a_room_name_that_already_existed_is_left_and_another_is_tried`).
/// This shows the server fact it relies on: joining a room that exists gives no 201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_room_that_already_exists_gives_no_status_201() {
    let prosody = XmppServer::start();
    // Someone else (an admin) made this room first.
    let mut inspector = Person::connect(&prosody, "inspector").await;
    let jid = "test-taken@conference.localhost";
    let joined = inspector.join(jid, "inspector", "").await.unwrap();
    assert!(joined.own.has(stanza::STATUS_CREATED));
    inspector
        .session
        .iq(helpim_bot::xmpp::stanza::config_submit(
            &BareJid::from_str(jid).unwrap(),
            &[],
            &stanza::RoomSettings {
                password: "",
                history: 0,
                owner: &BareJid::from_str("inspector@localhost").unwrap(),
            },
        ))
        .await
        .unwrap();
    let mut bot = Person::connect(&prosody, "bot").await;
    let joined = bot.join(jid, "helpim-bot", "").await.unwrap();
    assert!(joined.own.is_self());
    assert!(
        !joined.own.has(stanza::STATUS_CREATED),
        "a join of an existing room must not look like a creation: {:?}",
        joined.own.codes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_destroyed_by_someone_else_is_closed_as_lost() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
    let mut staff = Person::connect(&prosody, "staff").await;
    let room = claim(&store, ClaimKind::Staff, "s").await;
    staff
        .join(&room.jid, "Counsellor", &room.password)
        .await
        .unwrap();
    wait_status(&store, &room.jid, Status::Staffed).await;
    // A server admin destroys the room under the bot.
    let inspector = Person::connect(&prosody, "inspector").await;
    inspector
        .session
        .iq(stanza::destroy(
            &BareJid::from_str(&room.jid).unwrap(),
            "admin",
        ))
        .await
        .unwrap();
    let row = wait_status(&store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("lost"));
    // The pool makes up for it.
    wait_ready_rooms(&store, 2).await;
    bot.stop().await.unwrap();
}
