//! Bad input: strangers and odd stanzas sent over a real connection, with a raw client
//! (tests/tools/raw_xmpp.py) that can send what the typed XMPP libraries refuse to build.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use helpim_bot::core::types::Status;
use helpim_bot::store::ClaimKind;
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
#sleep 1
"
    );
    // ejabberd writes attributes in double quotes, Prosody in single ones.
    let answers = raw_client(&prosody, "eve", &stanzas).replace('"', "'");
    let log = bot.log();
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
    // The stranger who knew the password and chose an exotic nick is kicked: no client claim.
    assert!(
        log.contains("kicking a third person")
            || log.contains("kicking someone who joined without a claim"),
        "{log}"
    );
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
