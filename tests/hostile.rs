//! Bad input: strangers and odd stanzas sent over a real connection, with a raw client
//! (tests/tools/raw_xmpp.py) that can send what the typed XMPP libraries refuse to build.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use helpim_bot::room::Status;
use support::*;

/// Logs in as `user` with a raw client, sends `stanzas` (one per line; `#sleep S` waits) and
/// returns what the server sent back.
fn raw_client(prosody: &Prosody, user: &str, stanzas: &str) -> String {
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let (host, port) = prosody
        .addr()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_odd_stanzas_are_ignored_and_the_chat_goes_on() {
    let prosody = Prosody::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let config = patient_config(dir.path(), &prosody, &db);
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
<iq to='{bot_jid}' type='result' id='forged-answer'/>
<iq to='{bot_jid}' type='error' id='forged-error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
<presence to='bot@localhost' type='subscribe'/>
<presence to='{jid}/helpim-bot' id='j2'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>
<presence to='{jid}/Zoë ☃ Ωμέγα' id='j3'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>
#sleep 2
<message to='{jid}' type='groupchat'><body>still here?</body></message>
<presence to='{jid}/🌷 intruder' id='j1'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>
#sleep 1
<iq type='get' id='bogus><'/>
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
