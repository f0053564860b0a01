//! `examples/webapp.py`, the reference web-app client, run against the real bot on PostgreSQL:
//! the contract documented is the contract that works.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use helpim_bot::core::types::Status;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_webapp_claims_follows_and_reads_the_transcript() {
    let prosody = XmppServer::start();
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
    wait_ready_rooms(&store, 1).await;

    // Debian's interpreter, where python3-psycopg2 installs.
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let has_psycopg2 = Command::new(python)
        .args(["-c", "import psycopg2"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_psycopg2,
        "{python} cannot import psycopg2: apt-get install python3-psycopg2 (scripts/test.sh does it)"
    );
    let mut app = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webapp.py"))
        .arg(&db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed: apt-get install python3 python3-psycopg2");
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = app.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| {
        lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("examples/webapp.py printed no {what}"))
    };

    let mut output = Vec::new();
    let staff_room = next("staff room");
    output.push(staff_room.clone());
    let parts: Vec<&str> = staff_room.split_whitespace().collect();
    assert_eq!(parts[0], "STAFF_ROOM", "{staff_room}");
    let (jid, password) = (parts[1].to_string(), parts[2].to_string());
    let mut staff = Person::connect(&prosody, "staff").await;
    staff.join(&jid, "Counsellor", &password).await.unwrap();

    let mut client = Person::connect(&prosody, "client").await;
    loop {
        let line = next("client room");
        output.push(line.clone());
        if let Some(rest) = line.strip_prefix("CLIENT_ROOM ") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!(
                parts[0], jid,
                "the client is sent to the staff member's room"
            );
            client.join(parts[0], "Visitor", parts[1]).await.unwrap();
            break;
        }
    }
    wait_status(&store, &jid, Status::Busy).await;
    staff.say(&jid, "Hello, I am listening.");
    // The client answers what it heard: the two lines are in this order in the room.
    client.heard(&jid, "Hello, I am listening.").await;
    client.say(&jid, "Thank you 🙏");
    wait_for(Duration::from_secs(10), "two messages", || {
        let store = store.clone();
        let jid = jid.clone();
        async move {
            let id = store.room_id(&jid).await.unwrap()?;
            (store.transcript(id, 0).await.unwrap().len() == 2).then_some(())
        }
    })
    .await;
    client.leave(&jid, "Visitor", "Clean Exit");
    wait_status(&store, &jid, Status::Closing).await;
    staff.leave(&jid, "Counsellor", "Clean Exit");

    let status = tokio::task::spawn_blocking(move || app.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    output.extend(lines.try_iter());
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        status.status.success(),
        "examples/webapp.py failed:\n{}\n{stderr}",
        output.join("\n")
    );
    let statuses: Vec<&str> = output
        .iter()
        .filter(|l| l.starts_with("STATUS "))
        .map(String::as_str)
        .collect();
    assert_eq!(
        statuses,
        [
            "STATUS staffed staff_joined",
            "STATUS busy client_joined",
            "STATUS closing left_clean",
            "STATUS closed all_left"
        ]
    );
    let messages: Vec<&str> = output
        .iter()
        .filter(|l| l.starts_with("MESSAGE "))
        .map(String::as_str)
        .collect();
    assert_eq!(
        messages,
        [
            "MESSAGE 1 staff Counsellor: Hello, I am listening.",
            "MESSAGE 2 client client: Thank you 🙏"
        ]
    );
    bot.stop().await.unwrap();
}
