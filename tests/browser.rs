//! The visitor page and the staff console (`web/`) in a real browser: Debian's Chromium driven by
//! Playwright (`tests/browser/`, `node --test`), against a real Prosody serving the pages and
//! XMPP over WebSocket, and the real bot with SQLite. This file starts the server and the bot,
//! runs one scenario file in Node, and then checks the rows the scenario left. Screenshots go to
//! `tests/browser/artifacts/` (or `$HELPIM_ARTIFACTS`).
//!
//! Always against Prosody (the pages use its mod_websocket, SPEC §9); scripts/test.sh leaves these
//! tests out of its ejabberd pass.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use helpim_bot::config::{Assign, Config};
use support::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails with what to install when Node, the pages' package or the tests' packages are missing.
fn check_tools() {
    assert!(
        which("node").is_some(),
        "node is not installed: run `apt-get install nodejs npm` (scripts/test.sh does it for you)"
    );
    for (folder, file) in [
        ("web", "node_modules/strophe.js/dist/strophe.umd.min.js"),
        ("tests/browser", "node_modules/playwright-core/package.json"),
        (
            "tests/browser",
            "node_modules/converse.js/dist/converse.min.js",
        ),
    ] {
        assert!(
            root().join(folder).join(file).exists(),
            "{folder}'s npm packages are missing: run `npm ci` in {folder} (scripts/test.sh does it for you)"
        );
    }
}

/// A help line for the browser: Prosody serving web/, SQLite and the bot, with time limits long
/// enough for a page refresh and a person's pace.
struct BrowserLine {
    server: XmppServer,
    store: helpim_bot::store::Store,
    _db: TestDb,
    _bot: RunningBot,
}

/// The bots' log (every bot of this test binary, debug level): a failed scenario shows its end.
fn bot_log() -> &'static std::path::Path {
    static LOG: std::sync::OnceLock<tempfile::TempPath> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let file = tempfile::NamedTempFile::new().unwrap();
        let writer = std::sync::Mutex::new(file.reopen().unwrap());
        tracing_subscriber::fmt()
            .with_env_filter("helpim_bot=debug")
            .with_ansi(false)
            .with_writer(writer)
            .init();
        file.into_temp_path()
    })
}

async fn browser_line(tweak: impl FnOnce(&mut Config)) -> BrowserLine {
    check_tools();
    bot_log();
    let server = XmppServer::start_web(&root().join("web"));
    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    config.timeouts.claim = Duration::from_secs(20);
    config.timeouts.rejoin_grace = Duration::from_secs(30);
    config.timeouts.closing = Duration::from_secs(30);
    config.timeouts.idle = Duration::from_secs(120);
    // A page reload takes a moment: the grace of a real help line.
    config.queue.return_grace = Duration::from_secs(60);
    tweak(&mut config);
    let bot = RunningBot::start(config, store.clone());
    wait_ready_rooms(&store, 2).await;
    BrowserLine {
        server,
        store,
        _db: db,
        _bot: bot,
    }
}

/// Runs `tests/browser/<scenario>` with `node --test` against `line` and fails with its output
/// when any of its checks fails.
async fn run_scenario(line: &BrowserLine, scenario: &str) {
    let artifacts = std::env::var_os("HELPIM_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/browser/artifacts"));
    let dir = root().join("tests/browser");
    let web = line.server.web_url();
    let scenario = scenario.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "--test-reporter=spec", &scenario])
            .current_dir(&dir)
            .env("HELPIM_WEB", web)
            .env("HELPIM_STAFF_JID", "staff@localhost")
            .env("HELPIM_STAFF_PASSWORD", PASSWORD)
            .env("HELPIM_STAFF2_JID", "staff2@localhost")
            .env("HELPIM_ARTIFACTS", &artifacts)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let text = output_text(&out);
    println!("{text}");
    assert!(
        out.status.success(),
        "the browser scenario failed:\n{text}\nProsody's log:\n{}\nThe bots' log:\n{}",
        tail(&line.server.log(), 60),
        tail(&std::fs::read_to_string(bot_log()).unwrap_or_default(), 250)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_auto_mode_queue_chat_refresh_block_and_end() {
    let line = browser_line(|_| {}).await;
    run_scenario(&line, "helpline.test.mjs").await;
    // Ana, Ben and Cem were each served once, in rooms of their own, on one row each: Ana's
    // refresh while waiting kept her row and place (the return grace); her second try (blocked)
    // left no row, and her refresh in the chat resumed it instead of queueing her again.
    let rows = line.store.queue_rows().await.unwrap();
    let statuses: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.status.as_str(), r.reason.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        [("served", None), ("served", None), ("served", None)],
        "{rows:?}"
    );
    let served: Vec<_> = rows.iter().filter(|r| r.status == "served").collect();
    let mut rooms: Vec<_> = served.iter().map(|r| r.room_id).collect();
    rooms.sort();
    rooms.dedup();
    assert_eq!(rooms.len(), 3, "one room each: {rows:?}");
    assert!(
        rows.iter().all(|r| r.visitor.starts_with("sha256:")),
        "only a hash of the key is stored: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_pick_mode_staff_choose_a_visitor() {
    let line = browser_line(|c| {
        c.queue.assign = Assign::Pick;
        c.queue.max_length = 2;
        // Soon enough to see the re-offer in the console, late enough to list both first.
        c.queue.reoffer_after = Duration::from_secs(4);
    })
    .await;
    run_scenario(&line, "pick.test.mjs").await;
    let rows = line.store.queue_rows().await.unwrap();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    // Ana waited first but Kim chose Ben; Ana then left the queue. Neither Ana's try while the
    // line was closed nor Cem's at a full queue left a row.
    assert_eq!(statuses, ["left", "served"], "{rows:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_visitor_safe_honest_and_in_their_language() {
    let line = browser_line(|c| c.queue.max_length = 2).await;
    run_scenario(&line, "visitor.test.mjs").await;
}

/// The console's states in the bot's place (pushes handed to the page, commands answered by the
/// test): the waiting list and figures, alerts, the banners, supervision. Screenshots at 1280×800
/// and 1920×1080.
#[tokio::test(flavor = "multi_thread")]
async fn browser_console_for_a_shift() {
    let line = browser_line(|_| {}).await;
    run_scenario(&line, "console.test.mjs").await;
}

/// A shift with the real bot: a chat with the visitor's topic and time, lines apart by side, End
/// chat and Block confirmed; a supervisor's console (staff3) watching it and whispering, the
/// whisper shown marked and never on the visitor's page; a request for help; a handover from one
/// console to another with the visitor reading "Alex has joined the chat." and "Kim has left."
/// while the chat goes on; the staff room as "Team".
#[tokio::test(flavor = "multi_thread")]
async fn browser_shift_handover_and_whisper() {
    let line = browser_line(|c| {
        c.staff.room = "team@conference.localhost".into();
        c.staff.supervisors = vec!["staff3@localhost".into()];
    })
    .await;
    run_scenario(&line, "shift.test.mjs").await;
}

/// Converse.js 14 as the staff console (README, "Standard clients as the staff console"): on duty
/// through the roster, the commands at the bot's full JID, a chat taken and joined on the
/// invitation, a leave without status text that counts as clean, a block whose form comes back
/// when it lacks a reason.
#[tokio::test(flavor = "multi_thread")]
async fn browser_converse_as_the_staff_console() {
    let line = browser_line(|_| {}).await;
    run_scenario(&line, "converse.test.mjs").await;
    // Ana and Ben (in that order) were each served, in a room of their own.
    let rows = line.store.queue_rows().await.unwrap();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["served", "served"], "{rows:?}");
    let rooms = line.store.rooms(true).await.unwrap();
    let ana_room = rooms
        .iter()
        .find(|r| Some(r.id) == rows[0].room_id)
        .unwrap_or_else(|| panic!("Ana's room: {rows:?} {rooms:?}"));
    // Kim left Ana's room without a status text, and the bot counted it as a clean leave (her
    // session answered its ping), never as a dropped connection.
    let history: Vec<(String, String)> = line
        .store
        .events(&ana_room.jid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.to_status, e.reason))
        .collect();
    assert!(
        history.contains(&("closing".into(), "left_clean".into())),
        "Kim's leave counted as clean: {history:?}"
    );
    assert!(
        !history.iter().any(|(_, reason)| reason == "left_unclean"),
        "never as a dropped connection: {history:?}"
    );
    // Ben was blocked (a block in force on his key), and only Ben: lifting Ana's finds none.
    assert!(
        line.store.unblock(&rows[1].visitor).await.unwrap(),
        "Ben is blocked"
    );
    assert!(
        !line.store.unblock(&rows[0].visitor).await.unwrap(),
        "Ana is not"
    );
}

/// The help line's questions, as scripts/demo.sh configures them: three before the chat (one
/// with a priority rule), a registration form and a feedback question.
fn demo_questions() -> helpim_bot::core::questions::Questions {
    let demo = std::fs::read_to_string(root().join("scripts/demo.sh")).unwrap();
    let start = demo
        .find("[[questions.before]]")
        .expect("the demo's questions");
    let end = start + demo[start..].find("\nTOML").unwrap();
    #[derive(serde::Deserialize)]
    struct File {
        questions: helpim_bot::core::questions::Questions,
    }
    toml::from_str::<File>(&demo[start..end]).unwrap().questions
}

/// Before and after the chat (SPEC §14): the visitor's questions under name and topic, a form
/// asked again, the feedback after the chat (phone size); the console's priority and why, the
/// answers with the chat, the registration when a chat ends and its reminder. The bot has the
/// demo's questions; where it has no command yet, the test answers in its place.
#[tokio::test(flavor = "multi_thread")]
async fn browser_questions_before_and_after_the_chat() {
    let line = browser_line(|c| c.questions = demo_questions()).await;
    run_scenario(&line, "questions.test.mjs").await;
    // Noor's answers marked for statistics stay after her row ended; the chat is registered by
    // Kim (the note kept until the transcript goes) and has her feedback, by room only.
    let rows = line.store.queue_rows().await.unwrap();
    let served: Vec<_> = rows.iter().filter(|r| r.status == "served").collect();
    assert_eq!(served.len(), 1, "{rows:?}");
    let mut answers: Vec<(String, String, bool)> = line
        .store
        .all_queue_answers()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.0 == served[0].id)
        .map(|(_, q, a, kept)| (q, a, kept))
        .collect();
    answers.sort();
    assert_eq!(
        answers,
        [
            ("age".into(), "under-18".into(), true),
            ("safe".into(), "no".into(), true)
        ]
    );
    let rooms = line.store.rooms(true).await.unwrap();
    let room = rooms
        .iter()
        .find(|r| Some(r.id) == served[0].room_id)
        .expect("Noor's room");
    let registration = line.store.registration(&room.jid).await.unwrap();
    let registered: Vec<_> = registration
        .iter()
        .map(|r| (r.staff.as_str(), r.question.as_str(), r.answer.as_deref()))
        .collect();
    assert_eq!(
        registered,
        [
            ("staff@localhost", "category", Some("mental-health")),
            ("staff@localhost", "risk", Some("high")),
            (
                "staff@localhost",
                "note",
                Some("Talked about home; call back tomorrow.")
            )
        ]
    );
    let feedback = line.store.feedback_rows(&room.jid).await.unwrap();
    let said: Vec<_> = feedback
        .iter()
        .map(|f| (f.question.as_str(), f.answer.as_str()))
        .collect();
    assert_eq!(said, [("helped", "yes")]);
}

/// The pages in a hostile web (README, "Safe by default" and the reverse proxy): the policy is
/// the README's and refuses every other origin while the page's own WebSocket works; with the
/// proxy's headers no site can frame the pages; the tab's storage in each state; a stranger's
/// forged invitations not followed; markup shown as text on both pages; axe-core on the states
/// no other scenario reaches.
#[tokio::test(flavor = "multi_thread")]
async fn browser_pages_in_a_hostile_web() {
    let line = browser_line(|_| {}).await;
    run_scenario(&line, "hostile.test.mjs").await;
}

/// The console at rest for 10 minutes on the page's clock sends only its presence to the bot
/// (the README's bound; bench/RESULTS.md has the figures before and after the pushes).
#[tokio::test(flavor = "multi_thread")]
async fn browser_console_idle_ten_minutes() {
    let line = browser_line(|_| {}).await;
    run_scenario(&line, "idle.test.mjs").await;
}

/// Every key of every catalog of the visitor page is in every other (`node --test`, no browser).
#[test]
fn browser_catalogs_have_every_key() {
    check_tools();
    let out = Command::new("node")
        .args(["--test", "--test-reporter=spec", "catalogs.test.mjs"])
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("run node");
    let text = output_text(&out);
    println!("{text}");
    assert!(out.status.success(), "a catalog lacks words:\n{text}");
}

/// The compressed weight the README states for each page (HTML, scripts and style, `gzip -9`):
/// the visitor page, perhaps on a phone on a slow line, and the console, loaded once a shift on
/// staff's own machine (a console for a whole shift: alerts, supervision, handover, the team).
const PAGE_WEIGHT_BOUNDS: [(&str, usize); 2] = [("index.html", 47_000), ("staff.html", 58_000)];

/// The files `page` (in web/) loads: itself, every local `src` and `href` it names, and the
/// modules its scripts import.
fn page_files(page: &str) -> Vec<PathBuf> {
    let web = root().join("web");
    let html = std::fs::read_to_string(web.join(page)).unwrap();
    let mut files = vec![web.join(page)];
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let target = &part[..part.find('"').unwrap()];
            if !target.contains(':') {
                files.push(web.join(target));
            }
        }
    }
    // Our own scripts (not strophe.js) import the shared module.
    let scripts: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "js") && f.parent() == Some(web.as_path()))
        .cloned()
        .collect();
    for script in scripts {
        let text = std::fs::read_to_string(&script).unwrap();
        for part in text.split("from \"./").skip(1) {
            files.push(web.join(&part[..part.find('"').unwrap()]));
        }
    }
    // The console fetches its own catalog (English only).
    if page == "staff.html" {
        files.push(web.join("i18n/staff/en.json"));
        return files;
    }
    // The visitor page fetches its language's catalog and the default's (config.js: English):
    // counted at their heaviest, English and the largest other catalog.
    if files.iter().any(|f| f.ends_with("i18n.js")) {
        let mut others: Vec<PathBuf> = std::fs::read_dir(web.join("i18n"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("en.json"))
            .collect();
        others.sort_by_key(|p| gzipped_size(p));
        files.push(web.join("i18n/en.json"));
        files.extend(others.pop());
    }
    files
}

fn gzipped_size(file: &std::path::Path) -> usize {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(file)
        .output()
        .expect("gzip");
    assert!(out.status.success(), "gzip {}", file.display());
    out.stdout.len()
}

#[test]
fn browser_pages_weigh_less_than_the_readme_says() {
    check_tools();
    for (page, bound) in PAGE_WEIGHT_BOUNDS {
        let files = page_files(page);
        assert!(
            files.len() >= 6,
            "{page} loads its style, config, strophe.js, its script and helpline.js: {files:?}"
        );
        let weight: usize = files.iter().map(|f| gzipped_size(f)).sum();
        let raw: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
        println!(
            "{page}: {weight} bytes compressed, {raw} uncompressed ({} files)",
            files.len()
        );
        assert!(
            weight < bound,
            "{page} weighs {weight} bytes compressed, more than the README's {bound}"
        );
    }
}

/// The Content-Security-Policy of `page` (in web/), from its `<meta http-equiv>`.
fn meta_policy(page: &str) -> String {
    let html = std::fs::read_to_string(root().join("web").join(page)).unwrap();
    let tag = "<meta http-equiv=\"Content-Security-Policy\" content=\"";
    let start = html
        .find(tag)
        .unwrap_or_else(|| panic!("{page} has no policy"))
        + tag.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

/// The `add_header` lines of the README's nginx example for the pages: `(name, value, always)`.
fn readme_proxy_headers() -> Vec<(String, String, bool)> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme
        .find("### The web pages: Prosody behind a TLS reverse proxy")
        .expect("the README's proxy section")..];
    let block = &section[section.find("```nginx\n").expect("its nginx example")..];
    let block = &block[..block[3..].find("```").unwrap()];
    block
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("add_header "))
        .map(|rest| {
            let (name, rest) = rest.split_once(' ').unwrap();
            let value = rest.trim_start().strip_prefix('"').expect("a quoted value");
            let end = value.find('"').unwrap();
            let tail = value[end + 1..].trim();
            let always = tail.trim_end_matches(';').trim() == "always";
            assert!(tail.ends_with(';'), "add_header {name} ends with ;");
            (name.to_string(), value[..end].to_string(), always)
        })
        .collect()
}

/// README, "The web pages: Prosody behind a TLS reverse proxy" and "Safe by default": the pages'
/// policy allows scripts, styles and connections to their own server only (no `ws:`/`wss:`
/// anywhere), and the proxy example sends that same policy as a header with
/// `frame-ancestors 'none'`, `Cache-Control: no-store` and `Referrer-Policy: no-referrer`, on
/// every response (`always`).
#[test]
fn browser_readme_proxy_sends_the_pages_policy() {
    let policy = meta_policy("index.html");
    assert_eq!(
        meta_policy("staff.html"),
        policy,
        "both pages carry one policy"
    );
    let directives: Vec<(&str, Vec<&str>)> = policy
        .split(';')
        .map(|d| {
            let mut words = d.split_whitespace();
            (words.next().unwrap(), words.collect())
        })
        .collect();
    let sources = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("{name} in {policy}"))
    };
    for own_only in ["default-src", "connect-src", "script-src", "style-src"] {
        assert_eq!(sources(own_only), ["'self'"], "{own_only} in {policy}");
    }
    assert_eq!(sources("img-src"), ["'self'", "data:"], "{policy}");
    assert_eq!(sources("base-uri"), ["'none'"], "{policy}");
    assert_eq!(sources("form-action"), ["'none'"], "{policy}");
    assert_eq!(directives.len(), 7, "nothing else in {policy}");

    for page in ["index.html", "staff.html", "away.html"] {
        let html = std::fs::read_to_string(root().join("web").join(page)).unwrap();
        assert!(
            html.contains("<meta name=\"referrer\" content=\"no-referrer\">"),
            "{page} sends no address on to the links it has, even without the proxy's header"
        );
    }
    let headers = readme_proxy_headers();
    let expected = [
        (
            "Content-Security-Policy".to_string(),
            format!("{policy}; frame-ancestors 'none'"),
            true,
        ),
        ("Cache-Control".to_string(), "no-store".to_string(), true),
        (
            "Referrer-Policy".to_string(),
            "no-referrer".to_string(),
            true,
        ),
    ];
    assert_eq!(headers, expected, "the README's proxy block");
}
