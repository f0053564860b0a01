//! Privacy (SPEC §12, README "Privacy"): a whole chat over XMPP — a visitor with a distinctive
//! nick, topic and key who first misses their room (its password changes), then chats with a
//! staff member, and a second visitor who gives up waiting — with the bot (its binary) logging
//! at trace level. Afterwards:
//!
//! - the log carries no visitor's nick, topic or JID at info level or above, and no key, room
//!   password or message body at any level;
//! - no table holds the visitors' nicks, topics or JIDs (every column of every table read as
//!   text), on SQLite and PostgreSQL — unless `privacy.keep_visitor_names`, which keeps them;
//! - on SQLite neither the database file nor its write-ahead log holds the nicks or topics.
//!
//! Runs on Prosody, and on ejabberd with `HELPIM_TEST_XMPP=ejabberd`.

mod support;

use std::time::Duration;

use helpim_bot::core::types::Status;
use helpim_bot::store::Store;
use sqlx::Row;
use support::*;

const NICK: &str = "Zebulon-Quokka-7731";
const TOPIC: &str = "Topic-Marmalade-Volcano-4420";
const KEY: &str = "Key-Xylophone-Harbour-Quince-88213";
const BODY: &str = "Body-Pomegranate-Lighthouse-9931";
const ANSWER: &str = "Answer-Juniper-Cobblestone-5127";
const LEAVER_NICK: &str = "Quentin-Narwhal-6602";
const LEAVER_TOPIC: &str = "Topic-Saffron-Glacier-3318";
const LEAVER_KEY: &str = "Key-Tamarind-Windmill-Oboe-40917";

/// What a chat left behind: what the visitors were called and what was secret.
struct Traces {
    /// Nicks, topics and the visitors' bare JIDs.
    names: Vec<String>,
    /// Keys, every room password, message bodies.
    secrets: Vec<String>,
}

/// Every row of every table as text, one line per row.
async fn every_table(store: &Store) -> String {
    let mut all = String::new();
    match store {
        Store::Sqlite(pool) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                let row = columns
                    .iter()
                    .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), '')"))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                // As bytes: a checksum of the migrations is no UTF-8.
                let rows: Vec<Vec<u8>> =
                    sqlx::query_scalar(&format!("SELECT CAST({row} AS BLOB) FROM \"{table}\""))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                for r in rows {
                    all.push_str(&format!("{table}: {}\n", String::from_utf8_lossy(&r)));
                }
            }
        }
        Store::Postgres(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                let rows = sqlx::query(&format!("SELECT t::text AS row FROM \"{table}\" t"))
                    .fetch_all(pool)
                    .await
                    .unwrap();
                for r in rows {
                    let text: String = r.get("row");
                    all.push_str(&format!("{table}: {text}\n"));
                }
            }
        }
    }
    all
}

/// A staff member on duty with a room taken and joined as `nick`.
async fn staff_with_room(server: &XmppServer, store: &Store, nick: &str) -> (Person, String) {
    let mut staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    wait_for_answer(Duration::from_secs(15), "a ready room to take", || {
        let staff = &staff;
        async move {
            let a = staff.command("take-chat", &[]).await.expect("take a chat");
            (field(&a, "status").as_deref() == Some("taken")).then_some(a)
        }
    })
    .await;
    let (room, password) = staff.invited().await;
    staff
        .join(&room, nick, &password)
        .await
        .expect("staff joins");
    wait_status(store, &room, Status::Staffed).await;
    (staff, room)
}

/// The whole chat of the module's description, with the bot's binary logging at trace level
/// (JSON lines) into `log`; the visitors' traces once the chat has closed.
async fn whole_chat(
    server: &XmppServer,
    db: &TestDb,
    store: &Store,
    keep: bool,
    dir: &std::path::Path,
) -> (BotProcess, Traces) {
    let mut text = bot_config_text(server, db);
    text.push_str(&format!(
        "\n[log]\nlevel = \"trace\"\nformat = \"json\"\n\n[privacy]\nkeep_visitor_names = {keep}\n"
    ));
    let config = dir.join("bot.toml");
    std::fs::write(&config, text).unwrap();
    let bot = BotProcess::start(&config, dir.join("bot.log"), &[]);
    wait_ready_rooms(store, 2).await;
    let (mut staff, room) = staff_with_room(server, store, "Counsellor").await;

    // The visitor asks, is invited, and does not come in time: the row is missed and the room
    // gets a new password.
    let mut visitor = Person::visitor(server, "visitor").await;
    visitor.present_to_bot();
    let fields = [("nick", NICK), ("topic", TOPIC), ("key", KEY)];
    visitor.queue_up(&fields).await;
    let (to, missed_password) = visitor.invited().await;
    assert_eq!(to, room);
    wait_for(Duration::from_secs(15), "a new password", || async {
        let row = store.room(&room).await.unwrap()?;
        (row.password != missed_password).then_some(())
    })
    .await;
    // They ask again, are invited with the new password, and come in.
    visitor.queue_up(&fields).await;
    let (to, password) = visitor.invited().await;
    assert_eq!(to, room);
    visitor.join(&room, NICK, &password).await.expect("joins");
    wait_status(store, &room, Status::Busy).await;

    // Another visitor waits meanwhile (the only staff member is busy), and gives up.
    let leaver = Person::visitor(server, "leaver").await;
    leaver.present_to_bot();
    leaver
        .queue_up(&[
            ("nick", LEAVER_NICK),
            ("topic", LEAVER_TOPIC),
            ("key", LEAVER_KEY),
        ])
        .await;
    let left = leaver.command("leave-queue", &[]).await.expect("leaves");
    assert_eq!(field(&left, "status").as_deref(), Some("left"), "{left:?}");

    visitor.say(&room, BODY);
    staff.heard(&room, BODY).await;
    staff.say(&room, ANSWER);
    visitor.heard(&room, ANSWER).await;
    visitor.leave(&room, NICK, "Clean Exit");
    wait_status(store, &room, Status::Closing).await;
    staff.leave(&room, "Counsellor", "Clean Exit");
    wait_status(store, &room, Status::Closed).await;

    let bare = |p: &Person| p.jid.to_string().split('/').next().unwrap().to_string();
    let mut secrets = vec![
        KEY.to_string(),
        LEAVER_KEY.to_string(),
        BODY.to_string(),
        ANSWER.to_string(),
        missed_password,
    ];
    for r in store.rooms(true).await.unwrap() {
        secrets.push(r.password);
    }
    let traces = Traces {
        names: vec![
            NICK.into(),
            TOPIC.into(),
            LEAVER_NICK.into(),
            LEAVER_TOPIC.into(),
            bare(&visitor),
            bare(&leaver),
        ],
        secrets,
    };
    (bot, traces)
}

/// The log rules: names not at info and above, secrets at no level.
fn check_log(log: &str, traces: &Traces) {
    let mut levels = std::collections::BTreeMap::<String, usize>::new();
    for line in log.lines() {
        let level = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["level"].as_str().map(str::to_string))
            .unwrap_or_else(|| "not JSON".into());
        *levels.entry(level.clone()).or_default() += 1;
        for secret in &traces.secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a secret ({secret}) in the log: {line}"
            );
        }
        if level != "TRACE" && level != "DEBUG" {
            for name in &traces.names {
                assert!(
                    !line.contains(name.as_str()),
                    "a visitor's name ({name}) at {level}: {line}"
                );
            }
        }
    }
    // The search saw a real log: every level up to trace, and the names where they may be.
    assert!(
        levels.contains_key("TRACE") && levels.contains_key("DEBUG"),
        "{levels:?}"
    );
    assert!(
        log.contains(NICK),
        "the nick is logged at debug, so the search above looked in the right log"
    );
}

async fn erased_after_the_chat(db: TestDb, keep: bool) {
    let server = XmppServer::start();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let (bot, traces) = whole_chat(&server, &db, &store, keep, dir.path()).await;
    let names = &traces.names;
    let log = bot.log.clone();
    if keep {
        // Kept: stopped, the bot has written everything it decided (its shutdown flushes the
        // write queue), so what the tables hold now is what it leaves behind.
        let (code, _) = bot.terminate();
        assert_eq!(code, Some(0));
        let tables = every_table(&store).await;
        for name in names {
            assert!(tables.contains(name.as_str()), "{name} kept:\n{tables}");
        }
    } else {
        let tables = wait_for(Duration::from_secs(10), "the names erased", || async {
            let tables = every_table(&store).await;
            (!names.iter().any(|n| tables.contains(n.as_str()))).then_some(tables)
        })
        .await;
        // The chat's record stays: the lines (the visitor named by role), the statuses.
        let room = store.rooms(true).await.unwrap();
        let closed = room
            .iter()
            .find(|r| r.status == Status::Closed && r.client_nick.is_some())
            .unwrap_or_else(|| panic!("the chat's room:\n{tables}"));
        assert_eq!(closed.client_nick.as_deref(), Some("client"));
        assert_eq!(closed.client_jid, None);
        let lines = store.transcript(closed.id, 0).await.unwrap();
        let said: Vec<(&str, &str, Option<&str>)> = lines
            .iter()
            .map(|l| (l.nick.as_str(), l.role.as_str(), l.body.as_deref()))
            .collect();
        assert_eq!(
            said,
            [
                ("client", "client", Some(BODY)),
                ("Counsellor", "staff", Some(ANSWER))
            ]
        );
        let events = store.events(&closed.jid).await.unwrap();
        assert!(
            events.iter().any(|e| e.nick.as_deref() == Some("client")),
            "{events:?}"
        );
        if let Some(file) = db.url.strip_prefix("sqlite://") {
            // Gone from the files too, while the bot runs (the write-ahead log included).
            for path in [file.to_string(), format!("{file}-wal")] {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                for name in [NICK, TOPIC, LEAVER_NICK, LEAVER_TOPIC] {
                    assert!(
                        !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
                        "{name} still in {path} ({} bytes)",
                        bytes.len()
                    );
                }
            }
        }
        let (code, _) = bot.terminate();
        assert_eq!(code, Some(0));
    }
    check_log(&std::fs::read_to_string(&log).unwrap(), &traces);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_chat_leaves_no_visitor_name_in_any_table_nor_in_the_files_nor_in_the_log_on_sqlite(
) {
    erased_after_the_chat(TestDb::sqlite(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_chat_leaves_no_visitor_name_in_any_table_nor_in_the_log_on_postgres() {
    erased_after_the_chat(TestDb::postgres().await, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_help_line_that_keeps_visitor_names_keeps_them_on_sqlite() {
    erased_after_the_chat(TestDb::sqlite(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_help_line_that_keeps_visitor_names_keeps_them_on_postgres() {
    erased_after_the_chat(TestDb::postgres().await, true).await;
}

/// Every room password the bot has used so far: each row's, read over and over while the test
/// runs (a rotation replaces a row's password), and each one an invitation carried.
#[derive(Clone, Default)]
struct Passwords(std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>);

impl Passwords {
    fn add(&self, password: &str) {
        assert!(!password.is_empty(), "an invitation without a password");
        self.0.lock().unwrap().insert(password.to_string());
    }

    /// Reads every row's password every 50 ms until the returned task is aborted.
    fn watch(&self, store: &Store) -> tokio::task::JoinHandle<()> {
        let (seen, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                seen.read_rows(&store).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }

    async fn read_rows(&self, store: &Store) {
        if let Ok(rows) = store.rooms(true).await {
            for row in rows {
                self.add(&row.password);
            }
        }
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().cloned().collect()
    }
}

/// Waits until the bot has given `room` a password other than `old` (a client claim expired);
/// returns it.
async fn rotated(store: &Store, room: &str, old: &str) -> String {
    wait_for(Duration::from_secs(15), "a new password", || async {
        let row = store.room(room).await.unwrap()?;
        (row.password != old).then_some(row.password)
    })
    .await
}

/// README "Logs": no line at any level carries a room password. Every password of a room's
/// whole life: the pool's, the one a staff member is invited with (take-chat), the one a visitor
/// is invited with, its replacement when the visitor does not come (rotation), the one a
/// refreshed page resumes with (resume-chat), the ones the bot rejoins with after a kill -9 and
/// a restart, and the replacements of a second rotation after the restart. The bot logs at
/// `trace`, the most verbose level (so every line of `debug` and `info` is searched too).
async fn no_password_of_a_rooms_life_in_the_log(db: TestDb) {
    let server = XmppServer::start();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    // Claims expire fast (the rotation); a chat outlives the restart.
    let text = bot_config_text(&server, &db)
        .replace("rejoin_grace = \"3s\"", "rejoin_grace = \"60s\"")
        .replace("closing = \"3s\"", "closing = \"60s\"")
        .replace("idle = \"4s\"", "idle = \"120s\"")
        + "\n[log]\nlevel = \"trace\"\n";
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("bot.log");
    let passwords = Passwords::default();
    let watch = passwords.watch(&store);
    let bot = BotProcess::start(&config, log.clone(), &[]);
    wait_ready_rooms(&store, 2).await;

    // take-chat: the staff member's invitation.
    let mut staff = Person::connect(&server, "staff").await;
    staff.present_to_bot();
    wait_for_answer(Duration::from_secs(15), "a ready room to take", || {
        let staff = &staff;
        async move {
            let a = staff.command("take-chat", &[]).await.expect("take a chat");
            (field(&a, "status").as_deref() == Some("taken")).then_some(())
        }
    })
    .await;
    let (room, first) = staff.invited().await;
    passwords.add(&first);
    staff.join(&room, "Counsellor", &first).await.unwrap();
    wait_status(&store, &room, Status::Staffed).await;

    // A visitor is invited and does not come: the room gets a new password.
    let mut visitor = Person::visitor(&server, "visitor").await;
    visitor.present_to_bot();
    let fields = [("nick", NICK), ("topic", TOPIC), ("key", KEY)];
    visitor.queue_up(&fields).await;
    let (to, missed) = visitor.invited().await;
    assert_eq!(to, room);
    passwords.add(&missed);
    let second = rotated(&store, &room, &missed).await;
    // Asked again: invited with the new one, and in.
    visitor.queue_up(&fields).await;
    let (_, invited) = visitor.invited().await;
    assert_eq!(invited, second, "invited with the room's new password");
    passwords.add(&invited);
    visitor.join(&room, NICK, &invited).await.unwrap();
    wait_status(&store, &room, Status::Busy).await;

    // The page is refreshed: a new session resumes the chat with the key and is invited.
    visitor.quit().await;
    staff.sees_leave(&room, NICK).await;
    let mut again = Person::visitor(&server, "visitor again").await;
    let answer = again.command("resume-chat", &[("key", KEY)]).await.unwrap();
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("resumed"),
        "{}",
        note(&answer)
    );
    let (to, resumed) = again.invited().await;
    assert_eq!(to, room);
    passwords.add(&resumed);
    again.join(&room, NICK, &resumed).await.unwrap();
    wait_status(&store, &room, Status::Busy).await;
    again.say(&room, BODY);
    staff.heard(&room, BODY).await;

    // A second staff member's room, waiting for a visitor when the bot dies.
    let mut staff2 = Person::connect(&server, "staff2").await;
    staff2.present_to_bot();
    wait_for_answer(Duration::from_secs(15), "another ready room", || {
        let staff2 = &staff2;
        async move {
            let a = staff2.command("take-chat", &[]).await.expect("take a chat");
            (field(&a, "status").as_deref() == Some("taken")).then_some(())
        }
    })
    .await;
    let (room2, password2) = staff2.invited().await;
    passwords.add(&password2);
    staff2.join(&room2, "Colleague", &password2).await.unwrap();
    wait_status(&store, &room2, Status::Staffed).await;
    wait_ready_rooms(&store, 2).await;

    // kill -9 with the rooms live; the restarted bot rejoins each with its stored password.
    bot.kill9();
    let bot = BotProcess::start(&config, log.clone(), &[]);
    staff.sees_enter(&room, "helpim-bot").await;
    staff2.sees_enter(&room2, "helpim-bot").await;
    // After the restart, a visitor misses the second room: one more rotation.
    let mut late = Person::visitor(&server, "late").await;
    late.present_to_bot();
    late.queue_up(&[("nick", LEAVER_NICK), ("key", LEAVER_KEY)])
        .await;
    let (to, missed2) = late.invited().await;
    assert_eq!(to, room2);
    passwords.add(&missed2);
    let third = rotated(&store, &room2, &missed2).await;
    passwords.add(&third);
    // The chat goes on after the restart and ends.
    staff.say(&room, ANSWER);
    again.heard(&room, ANSWER).await;
    again.leave(&room, NICK, "Clean Exit");
    staff.leave(&room, "Counsellor", "Clean Exit");
    wait_status(&store, &room, Status::Closed).await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
    watch.abort();
    passwords.read_rows(&store).await;

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(" TRACE ") && text.contains(" DEBUG "),
        "a trace-level log:\n{text}"
    );
    assert_eq!(
        text.matches("helpim_bot: starting database=").count(),
        2,
        "one log of both runs of the bot"
    );
    let all = passwords.all();
    // The pool's (2 + refills), the chat's three, the second room's two: many more than 5.
    assert!(all.len() >= 7, "{} passwords: {all:?}", all.len());
    for p in &all {
        if let Some(line) = text.lines().find(|l| l.contains(p.as_str())) {
            panic!("a room password is in the log: {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_room_password_of_a_rooms_whole_life_is_logged_on_sqlite() {
    no_password_of_a_rooms_life_in_the_log(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_room_password_of_a_rooms_whole_life_is_logged_on_postgres() {
    no_password_of_a_rooms_life_in_the_log(TestDb::postgres().await).await;
}
