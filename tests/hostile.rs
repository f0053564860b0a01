//! Bad input: strangers and odd stanzas sent over a real connection, with a raw client
//! (tests/tools/raw_xmpp.py) that can send what the typed XMPP libraries refuse to build.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use helpim_bot::core::types::Status;
use helpim_bot::store::{ClaimKind, Store};
use support::*;

/// Logs in as `user` with a raw client, sends `stanzas` (one per line; `#sleep S` waits) and
/// returns what the server sent back.
fn raw_client(prosody: &XmppServer, user: &str, stanzas: &str) -> String {
    raw_client_at(&prosody.addr(), user, stanzas)
}

/// [`raw_client`] for the server at `addr` (`host:port`).
fn raw_client_at(addr: &str, user: &str, stanzas: &str) -> String {
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let (host, port) = addr
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .unwrap();
    let mut child = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tools/raw_xmpp.py"
        ))
        .args([&host, &port, user, PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed: apt-get install python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stanzas.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "raw client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The opening tags of the stanzas in `xml` sent from `jid` (the bot's own, not the server's).
fn sent_by(xml: &str, jid: &str) -> Vec<String> {
    xml.split('<')
        .filter(|t| t.starts_with("message ") || t.starts_with("presence ") || t.starts_with("iq "))
        .map(|t| format!("<{}", t.split('>').next().unwrap_or_default()))
        .filter(|t| t.contains(&format!("from='{jid}'")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_odd_stanzas_are_ignored_and_the_chat_goes_on() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        server: prosody,
        store,
        dir,
        config,
        ..
    } = setup;
    let mut bot = BotProcess::start(&config, dir.path().join("bot.log"), &[]);
    let mut staff = Person::connect(&prosody, "staff").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    let (jid, password) = (&room.jid, &room.password);

    let bot_jid = "bot@localhost/helpim-bot";
    let stanzas = format!(
        "<message to='{bot_jid}' type='chat' id='m1'><body>hello bot</body></message>
<message to='bot@localhost' type='groupchat'><body>not from a room</body></message>
<iq to='{bot_jid}' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>
<iq to='{bot_jid}' type='set' id='s1'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>
<iq to='{bot_jid}' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>
<iq to='{bot_jid}' type='get' id='two'><ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:version'/></iq>
<iq to='{bot_jid}' type='result' id='odd-result'><query xmlns='urn:example:unknown'><deep><deeper a='&#x1F337;'/></deep></query></iq>
<message to='{bot_jid}' type='groupchat'><body>one</body><body xml:lang='de'>zwei</body><delay xmlns='urn:xmpp:delay' stamp='yesterday'/></message>
<presence to='{bot_jid}'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' jid='not a jid'/><status code='-1'/><status code='abc'/><destroy/></x></presence>
<presence to='bot@localhost' type='subscribe'/>
<presence to='{jid}/helpim-bot' id='j2'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>
<presence to='{jid}/Zoë ☃ Ωμέγα' id='j3'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>
#sleep 2
<message to='{jid}' type='groupchat'><body>still here?</body></message>
<iq to='{bot_jid}' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>
#await id='p2'
<presence to='{jid}/🌷 intruder' id='j1'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>
#await code='307'
"
    );
    // ejabberd writes attributes in double quotes, Prosody in single ones.
    // The raw client ends once the server has told it of a removal (status 307, the kick), or
    // fails after 20 s without one.
    let answers = raw_client(&prosody, "eve", &stanzas).replace('"', "'");
    // The bot logs the kick on its security target before it sends it; the file may lag.
    let log = wait_for(Duration::from_secs(10), "the kick in the bot's log", || {
        let log = bot.log();
        async move {
            (log.contains("kicking a third person")
                || log.contains("kicking someone who joined without a claim"))
            .then_some(log)
        }
    })
    .await;
    assert!(bot.running(), "{log}");
    let answer = |id: &str| {
        answers
            .split("<iq ")
            .find(|a| a.contains(&format!("id='{id}'")))
            .unwrap_or_else(|| panic!("no answer to {id}: {answers}"))
            .to_string()
    };
    // Requests get answers: a pong, and errors for what the bot does not do.
    assert!(answer("p1").contains("type='result'"), "{answers}");
    // The last ping was answered after everything before it was handled (one stream, in
    // order): what the bot was going to send back to the private message, the groupchat
    // message to its own JID or the subscription request, it would have sent by then. It sent
    // nothing: no message, no subscription answer.
    assert!(answer("p2").contains("type='result'"), "{answers}");
    let before_p2 = &answers[..answers.find("id='p2'").unwrap()];
    let from_bot = sent_by(before_p2, bot_jid);
    assert!(
        !from_bot.iter().any(|s| s.starts_with("<message")),
        "the bot answered a message: {from_bot:?}"
    );
    assert!(
        !from_bot.iter().any(|s| s.starts_with("<presence")),
        "the bot answered a subscription request or a presence: {from_bot:?}"
    );
    for id in ["v1", "s1"] {
        let a = answer(id);
        assert!(
            a.contains("type='error'") && a.contains("service-unavailable"),
            "{a}"
        );
    }
    // The server refuses the bot's own nick to anyone else; Prosody also refuses a nick outside
    // its stringprep tables (ejabberd ends the stream of whoever sends such a JID).
    assert!(answers.contains("<conflict"), "{answers}");
    if !ejabberd_wanted() {
        assert!(
            answers.contains("Nickname must pass strict validation"),
            "{answers}"
        );
    }
    // The stranger who knew the password and chose an exotic nick is kicked (no client claim):
    // the server told the intruder, and the bot logged it (both awaited above).
    assert!(answers.contains("code='307'"), "{answers}");
    assert!(!log.contains("panicked"), "{log}");

    // None of it disturbed the room: the chat starts and is transcribed as usual.
    let row = store.room(jid).await.unwrap().unwrap();
    assert_eq!(row.status, Status::Staffed);
    let mut client = Person::connect(&prosody, "client").await;
    client_in(&store, &mut client, &room, "C").await;
    client.say(jid, "hello");
    staff.heard(jid, "hello").await;
    let id = store.room_id(jid).await.unwrap().unwrap();
    wait_for(Duration::from_secs(10), "the transcript", || {
        let store = store.clone();
        async move {
            let t = store.transcript(id, 0).await.unwrap();
            (t.len() == 1 && t[0].body.as_deref() == Some("hello")).then_some(())
        }
    })
    .await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

/// An answer must come from whom the request went to. A raw client holds the staff seat of a
/// room and never answers the bot's probe (the ping the bot sends every occupant when it
/// rejoins); while that probe waits, the raw client sends the bot results and errors for the
/// ids the bot uses (`hb1`, `hb2`, …): the one that matches the probe comes from the wrong
/// sender and is ignored, and the probe still runs out of time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_answers_to_a_pending_request_are_ignored() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let (prosody, store) = (&setup.server, &setup.store);
    let bot = setup.start_bot(&[]);
    let room = claim(store, ClaimKind::Staff, "raw-staff").await;
    let bot_jid = "bot@localhost/helpim-bot";
    let forged: String = (1..=60)
        .map(|n| {
            format!(
                "<iq to='{bot_jid}' type='result' id='c{n}'/>\n<iq to='{bot_jid}' type='error' id='c{n}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>\n"
            )
        })
        .collect();
    let stanzas = format!(
        "<presence to='{jid}/S'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>
#await urn:xmpp:ping
{forged}#sleep 8
",
        jid = room.jid,
        password = room.password
    );
    // The raw client runs in a thread of its own until it has sent its forgeries; the bot is
    // restarted meanwhile.
    let addr = prosody.addr();
    let raw = std::thread::spawn(move || raw_client_at(&addr, "staff2", &stanzas));
    wait_status(store, &room.jid, Status::Staffed).await;
    // A clean restart: the room stays, and the new bot rejoins it and probes the seat.
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
    let bot = setup.start_bot(&[]);
    // The raw client stays in the room (it sleeps 8 s after its forgeries) until the probe has
    // run out of time (iq_timeout, 5 s).
    bot.logs_within("occupant did not answer a probe", Duration::from_secs(15))
        .await;
    let log = bot.log();
    assert!(
        log.contains("ignoring an answer from the wrong sender"),
        "no forged answer met the pending probe; bot log:\n{log}"
    );
    assert!(!log.contains("occupant answered a probe"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(
        store.room(&room.jid).await.unwrap().unwrap().status,
        Status::Staffed,
        "the raw client still holds the seat"
    );
    let answers = tokio::task::spawn_blocking(move || raw.join().expect("raw client"))
        .await
        .unwrap();
    assert!(answers.contains("urn:xmpp:ping"), "{answers}");
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

/// SPEC §12's bounds on what a visitor gives (README, "Visitors and staff over XMPP";
/// docs/protocol.md, `request-chat`): a nick of at most 64 characters, a topic of at most 300.
const MAX_NICK: usize = 64;
const MAX_TOPIC: usize = 300;
/// The README's rate limit: a session runs at most 20 commands per 10 s.
const RATE_LIMIT: usize = 20;
const RATE_WINDOW_SECS: u64 = 10;

/// A visitor key of the length the page makes (22+ characters), different for each `n`.
fn key(n: usize) -> String {
    format!("flood-key-{n:06}-of-128-bits-at-least")
}

/// The longest nick and topic (in characters) stored in the queue table, and its rows: what the
/// bot wrote, whatever it answered.
async fn longest_stored(store: &Store) -> (i64, i64, i64) {
    let Store::Sqlite(pool) = store else {
        panic!("these tests run on SQLite")
    };
    // SQLite's length() of a text counts characters, as the bounds do.
    sqlx::query_as(
        "SELECT COALESCE(MAX(length(nick)), 0), COALESCE(MAX(length(topic)), 0), COUNT(*) FROM queue",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The status the bot answered and its note, or the IQ error's condition.
fn outcome(answer: &Result<xmpp_parsers::minidom::Element, helpim_bot::xmpp::IqError>) -> String {
    match answer {
        Ok(a) => field(a, "status").unwrap_or_else(|| format!("no status: {}", note(a))),
        Err(helpim_bot::xmpp::IqError::Error(condition)) => condition.clone(),
        Err(e) => format!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nick_or_topic_over_its_bound_is_refused_and_one_at_the_bound_is_stored_whole() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let (server, store) = (&setup.server, &setup.store);
    let bot = setup.start_bot(&[]);
    wait_ready_rooms(store, 2).await;
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let visitor = Person::visitor(server, "Long").await;
    // Characters, not bytes: each of these is two or three bytes in UTF-8.
    let nick_at = "ü".repeat(MAX_NICK);
    let topic_at = "☃".repeat(MAX_TOPIC);
    let nick_over = "ü".repeat(MAX_NICK + 1);
    let topic_over = "☃".repeat(MAX_TOPIC + 1);
    let k = key(0);
    for (fields, max) in [
        (
            vec![("nick", nick_over.as_str()), ("key", k.as_str())],
            MAX_NICK,
        ),
        (
            vec![
                ("nick", "Sam"),
                ("topic", topic_over.as_str()),
                ("key", k.as_str()),
            ],
            MAX_TOPIC,
        ),
    ] {
        // Over the bound: the form again, to shorten, the values kept and the bound named.
        let answer = visitor.command("request-chat", &fields).await.unwrap();
        assert_eq!(answer.attr("status"), Some("executing"), "{answer:?}");
        assert_eq!(field(&answer, "status").as_deref(), Some("too-long"));
        assert!(
            note(&answer).contains(&format!("at most {max} characters")),
            "{}",
            note(&answer)
        );
    }
    // Nothing was stored for them (the answers above came after the bot decided).
    assert_eq!(longest_stored(store).await, (0, 0, 0));
    // At the bound: queued, and stored whole.
    let answer = visitor
        .queue_up(&[("nick", &nick_at), ("topic", &topic_at), ("key", &k)])
        .await;
    assert_eq!(field(&answer, "position").as_deref(), Some("1"));
    let open = store.open_queue().await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].nick, nick_at);
    assert_eq!(open[0].topic.as_deref(), Some(topic_at.as_str()));
    assert_eq!(
        longest_stored(store).await,
        (MAX_NICK as i64, MAX_TOPIC as i64, 1)
    );
    drop(bot);
}

/// A value of the packaged unit (systemd/helpim-bot.service), e.g. `TasksMax`.
fn unit_setting(name: &str) -> String {
    let unit = include_str!("../systemd/helpim-bot.service");
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in the unit"))
        .trim()
        .to_string()
}

/// A `/proc/<pid>/status` figure (`Threads`, or a size in kB such as `VmHWM`) of process `pid`.
fn proc_status(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

/// Eight visitor sessions each send 40 `request-chat`s at once, a quarter with a nick over the
/// bound, a quarter with a topic over it, the rest at the bound with a new key each time. The
/// later event that proves the bot handled them all: every one was answered. Then: each session
/// ran at most 20 commands per 10 s (the rest `resource-constraint`), every over-long one was
/// refused (`too-long`), each session holds one place, nothing longer than the bounds is stored,
/// and a visitor who asks afterwards is queued within a second. The bot (the binary, with the
/// unit's TOKIO_WORKER_THREADS) stays within the unit's TasksMax= and MemoryMax= all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_stays_within_the_bounds_and_a_later_visitor_is_answered() {
    const SESSIONS: usize = 8;
    const EACH: usize = 40;
    let setup = Setup::patient(TestDb::sqlite()).await;
    let (server, store) = (&setup.server, &setup.store);
    let workers = unit_setting("Environment")
        .strip_prefix("TOKIO_WORKER_THREADS=")
        .expect("the unit fixes the runtime's worker threads")
        .to_string();
    let bot = setup.start_bot(&[("TOKIO_WORKER_THREADS", &workers)]);
    let pid = bot.pid();
    wait_ready_rooms(store, 2).await;
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let mut visitors = Vec::new();
    for n in 0..SESSIONS {
        visitors.push(Person::visitor(server, &format!("F{n}")).await);
    }
    // The bot's threads, sampled while the flood is on.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(proc_status(pid, "Threads"));
                std::thread::sleep(Duration::from_millis(5));
            }
            most
        })
    };
    let (nick_at, topic_at) = ("N".repeat(MAX_NICK), "T".repeat(MAX_TOPIC));
    let (nick_over, topic_over) = ("N".repeat(MAX_NICK + 1), "T".repeat(MAX_TOPIC + 1));
    let started = std::time::Instant::now();
    let floods = visitors.iter().enumerate().map(|(s, v)| {
        let (nick_at, topic_at, nick_over, topic_over) =
            (&nick_at, &topic_at, &nick_over, &topic_over);
        async move {
            let asks = (0..EACH).map(|n| {
                let k = key(s * EACH + n);
                let (nick, topic, over) = match n % 4 {
                    0 => (nick_over, topic_at, true),
                    1 => (nick_at, topic_over, true),
                    _ => (nick_at, topic_at, false),
                };
                async move {
                    let answer = v
                        .command(
                            "request-chat",
                            &[("nick", nick), ("topic", topic), ("key", &k)],
                        )
                        .await;
                    (over, answer)
                }
            });
            futures_util::future::join_all(asks).await
        }
    });
    let answers = futures_util::future::join_all(floods).await;
    let elapsed = started.elapsed();
    // Every command answered: the bot has handled the whole flood.
    let bound = RATE_LIMIT * (1 + (elapsed.as_secs() / RATE_WINDOW_SECS) as usize);
    let mut places = std::collections::BTreeSet::new();
    let mut refused_too_long = 0;
    for (s, session) in answers.iter().enumerate() {
        let mut taken = 0;
        let mut ids = std::collections::BTreeSet::new();
        for (over, answer) in session {
            let outcome = outcome(answer);
            match outcome.as_str() {
                "resource-constraint" => continue,
                "too-long" => {
                    assert!(over, "session {s}: refused at the bound");
                    refused_too_long += 1;
                }
                "queued" => {
                    assert!(!over, "session {s}: queued over the bound");
                    ids.insert(field(answer.as_ref().unwrap(), "queue-id").unwrap());
                }
                other => panic!("session {s}: {other}"),
            }
            taken += 1;
        }
        assert!(
            taken <= bound,
            "session {s}: {taken} commands run in {elapsed:?}, more than {bound}"
        );
        assert!(ids.len() <= 1, "session {s} holds {ids:?}");
        places.extend(ids);
    }
    // The flood reached the bot's checks, not only its rate limit.
    assert!(
        refused_too_long > 0 && !places.is_empty(),
        "{refused_too_long} refused as too long, places {places:?}"
    );
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let threads = sampler.join().unwrap();
    // What is stored is within the bounds: one place per session, nothing longer.
    let (nick, topic, rows) = longest_stored(store).await;
    assert!(
        nick <= MAX_NICK as i64 && topic <= MAX_TOPIC as i64,
        "stored a nick of {nick}, a topic of {topic} characters"
    );
    assert_eq!(
        rows as usize,
        places.len(),
        "rows {rows}, places {places:?}"
    );
    assert!(places.len() <= SESSIONS);
    // A visitor asking after the flood is queued, behind those who got a place, within a second.
    let later = Person::visitor(server, "Later").await;
    let asked = std::time::Instant::now();
    let answer = later
        .command(
            "request-chat",
            &[
                ("nick", "Later"),
                ("topic", "exams"),
                ("key", &key(999_999)),
            ],
        )
        .await
        .unwrap();
    let took = asked.elapsed();
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("queued"),
        "{}",
        note(&answer)
    );
    assert_eq!(
        field(&answer, "position"),
        Some((places.len() + 1).to_string())
    );
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    // The bot stayed within the unit's limits: its threads, and its peak resident memory.
    let peak_kb = proc_status(pid, "VmHWM");
    let tasks_max: u64 = unit_setting("TasksMax").parse().unwrap();
    let memory_max = unit_setting("MemoryMax");
    let memory_max_kb: u64 = memory_max
        .strip_suffix('M')
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024;
    println!(
        "flood of {} requests from {SESSIONS} sessions in {elapsed:?}: at most {threads} threads \
         (TasksMax={tasks_max}), peak resident {} MB (MemoryMax={memory_max}), the later visitor \
         answered in {took:?}",
        SESSIONS * EACH,
        peak_kb / 1024
    );
    assert!(threads <= tasks_max, "{threads} threads");
    assert!(peak_kb <= memory_max_kb, "peak resident {peak_kb} kB");
    let log = bot.log();
    assert!(!log.contains("panicked"), "{log}");
    drop(later);
    drop(bot);
}
