//! Restarts: the bot killed with SIGKILL and restarted, Prosody restarted under the bot, and a
//! clean SIGTERM. The bot runs as its own process here, so that killing it is real.

mod support;

use std::time::Duration;

use helpim_bot::core::types::Status;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_a_restarted_bot_reconciles_every_room_and_chats_go_on() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        server: prosody,
        store,
        dir,
        config,
        ..
    } = setup;
    let log = dir.path().join("bot.log");
    let bot = BotProcess::start(&config, log.clone(), &[]);

    let (mut s1, mut s2, mut s3, mut s4) = (
        Person::connect(&prosody, "staff").await,
        Person::connect(&prosody, "staff2").await,
        Person::connect(&prosody, "staff3").await,
        Person::connect(&prosody, "staff4").await,
    );
    let (mut c2, mut c3, mut c4) = (
        Person::connect(&prosody, "client2").await,
        Person::connect(&prosody, "client3").await,
        Person::connect(&prosody, "client4").await,
    );
    // staffed: S; busy and going on: B; busy, client drops while the bot is away: L; closing: C.
    let (going_on, _) = staff_in(&store, &mut s2, "S2").await;
    client_in(&store, &mut c2, &going_on, "C2").await;
    let (dropping, _) = staff_in(&store, &mut s3, "S3").await;
    client_in(&store, &mut c3, &dropping, "C3").await;
    let (closing, _) = staff_in(&store, &mut s4, "S4").await;
    client_in(&store, &mut c4, &closing, "C4").await;
    c4.leave(&closing.jid, "C4", "Clean Exit");
    wait_status(&store, &closing.jid, Status::Closing).await;
    // Last, so that no client claim above takes it.
    let (staffed, _) = staff_in(&store, &mut s1, "S1").await;
    wait_ready_rooms(&store, 2).await;

    s2.drain();
    s3.drain();
    bot.kill9();
    c3.leave(&dropping.jid, "C3", "Disconnected");
    // The server has handled the leave before the bot comes back.
    s3.sees_leave(&dropping.jid, "C3").await;

    let bot = BotProcess::start(&config, log.clone(), &[]);
    // Who is really inside decides: the busy room that lost its client is closing now.
    let row = wait_status(&store, &dropping.jid, Status::Closing).await;
    let events = store.events(&dropping.jid).await.unwrap();
    assert_eq!(
        events.last().map(|e| e.reason.as_str()),
        Some("left_unclean"),
        "{row:?}"
    );
    // The client who dropped out may still come back.
    c3.join(&dropping.jid, "C3", &dropping.password)
        .await
        .unwrap_or_else(|e| panic!("{e}; {}", bot.log()));
    wait_status(&store, &dropping.jid, Status::Busy).await;

    // The chat in progress goes on in the same room and is seen to its end.
    s2.sees_enter(&going_on.jid, "helpim-bot").await;
    s2.say(&going_on.jid, "Are you still there?");
    c2.say(&going_on.jid, "Yes");
    let id = store.room_id(&going_on.jid).await.unwrap().unwrap();
    wait_for(
        Duration::from_secs(15),
        "messages after the restart",
        || {
            let store = store.clone();
            async move { (store.transcript(id, 0).await.unwrap().len() == 2).then_some(()) }
        },
    )
    .await;
    c2.leave(&going_on.jid, "C2", "Clean Exit");
    wait_status(&store, &going_on.jid, Status::Closing).await;
    s2.leave(&going_on.jid, "S2", "Clean Exit");
    assert_eq!(
        wait_status(&store, &going_on.jid, Status::Closed)
            .await
            .close_reason
            .as_deref(),
        Some("all_left")
    );

    // The staffed room still gets its client; the closing one still closes.
    client_in(&store, &mut c4, &staffed, "C1").await;
    s4.leave(&closing.jid, "S4", "Clean Exit");
    wait_status(&store, &closing.jid, Status::Closed).await;

    wait_ready_rooms(&store, 2).await;
    let inspector = Person::connect(&prosody, "inspector").await;
    assert_rows_match_server(&store, &inspector).await;
    let (code, took) = bot.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_prosody_restart_no_row_points_at_a_vanished_room() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        server: mut prosody,
        store,
        dir,
        config,
        ..
    } = setup;
    let bot = BotProcess::start(&config, dir.path().join("bot.log"), &[]);
    let mut staff = Person::connect(&prosody, "staff").await;
    let mut client = Person::connect(&prosody, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    client_in(&store, &mut client, &room, "C").await;
    let before = wait_ready_rooms(&store, 2).await;

    // Rooms are not persistent: a restart of Prosody ends them all.
    prosody.restart();
    let row = tokio::time::timeout(
        Duration::from_secs(20),
        wait_status(&store, &room.jid, Status::Closed),
    )
    .await
    .unwrap_or_else(|_| panic!("bot log:\n{}", bot.log()));
    assert_eq!(row.close_reason.as_deref(), Some("lost"));
    for r in &before {
        let row = wait_status(&store, &r.jid, Status::Closed).await;
        assert_eq!(row.close_reason.as_deref(), Some("lost"));
    }
    // The bot is back and the pool is refilled with new rooms.
    let after = wait_ready_rooms(&store, 2).await;
    assert!(after.iter().all(|r| before.iter().all(|b| b.jid != r.jid)));
    let inspector = Person::connect(&prosody, "inspector").await;
    assert_rows_match_server(&store, &inspector).await;
    assert!(bot.log().contains("XMPP connection lost"), "{}", bot.log());
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_keeps_chats_destroys_unclaimed_rooms_and_leaves_no_session() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        server: prosody,
        store,
        dir,
        config,
        ..
    } = setup;
    // Even at the most verbose level, no room password may reach the log.
    let bot = BotProcess::start(
        &config,
        dir.path().join("bot.log"),
        &[("HELPIM_LOG_LEVEL", "trace")],
    );
    let mut staff = Person::connect(&prosody, "staff").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    let spare = wait_ready_rooms(&store, 2).await;
    let (code, took) = bot.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "{took:?}");
    let inspector = Person::connect(&prosody, "inspector").await;
    for r in &spare {
        let row = store.room(&r.jid).await.unwrap().unwrap();
        assert_eq!(row.close_reason.as_deref(), Some("shutdown"));
        assert!(!room_exists(&inspector, &r.jid).await);
    }
    assert_eq!(
        store.room(&room.jid).await.unwrap().unwrap().status,
        Status::Staffed
    );
    assert!(room_exists(&inspector, &room.jid).await);
    let log = std::fs::read_to_string(dir.path().join("bot.log")).unwrap();
    assert!(log.lines().count() > 20, "a trace-level log: {log}");
    for row in store.rooms(true).await.unwrap() {
        assert!(
            !log.contains(&row.password),
            "the password of {} is in the log",
            row.jid
        );
    }
    // The stream was closed, not dropped: the server keeps no hibernating session of the bot
    // (one would hold stanzas for it). A ping to its full JID bounces at once.
    let ping = helpim_bot::xmpp::stanza::ping(
        xmpp_parsers::jid::Jid::new("bot@localhost/helpim-bot").unwrap(),
    );
    match inspector.session.iq(ping).await {
        Err(helpim_bot::xmpp::IqError::Error(condition)) => {
            assert_eq!(condition, "service-unavailable", "{condition}")
        }
        other => panic!("the bot's session is still there after shutdown: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bot_on_the_same_sqlite_file_refuses_to_start() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        store, dir, config, ..
    } = setup;
    let mut first = BotProcess::start(&config, dir.path().join("first.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let (code, _, err) = run_cli(&["-c", config.to_str().unwrap(), "run"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("another helpim-bot is already running on"),
        "{err}"
    );
    assert!(first.running(), "the first bot goes on");
    let (code, _) = first.terminate();
    assert_eq!(code, Some(0));
    // Once the first is gone, the lock is free again.
    let second = BotProcess::start(&config, dir.path().join("second.log"), &[]);
    wait_ready_rooms(&store, 2).await;
    let (code, _) = second.terminate();
    assert_eq!(code, Some(0));
}

/// An administrator makes `room` persistent, so that Prosody keeps it, with its occupants, across
/// a clean restart.
async fn make_persistent(admin: &Person, room: &str) {
    let form: xmpp_parsers::minidom::Element =
        "<query xmlns='http://jabber.org/protocol/muc#owner'>\
        <x xmlns='jabber:x:data' type='submit'>\
        <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
        <field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query>"
            .parse()
            .unwrap();
    let iq = xmpp_parsers::iq::Iq::Set {
        from: None,
        to: Some(room.parse().unwrap()),
        id: String::new(),
        payload: form,
    };
    admin.session.iq(iq).await.expect("configure the room");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_server_restart_closes_the_chat_and_leaves_no_room_behind() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        server: mut prosody,
        store,
        dir,
        config,
        ..
    } = setup;
    let bot = BotProcess::start(&config, dir.path().join("bot.log"), &[]);
    let mut staff = Person::connect(&prosody, "staff").await;
    let mut client = Person::connect(&prosody, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    client_in(&store, &mut client, &room, "C").await;
    // Made persistent by an administrator, the room outlives the restart: only the bot can
    // remove it then.
    let inspector = Person::connect(&prosody, "inspector").await;
    make_persistent(&inspector, &room.jid).await;
    drop(inspector);

    // On a clean shutdown Prosody disconnects everyone and the bot closes the row, but the server
    // is gone before the destroy is answered. The bot tries again once it is back.
    prosody.restart_gracefully();
    // Whoever Prosody disconnects first decides the reason: both people (`all_left`) or the bot
    // (`lost`).
    let row = wait_status(&store, &room.jid, Status::Closed).await;
    assert!(
        matches!(row.close_reason.as_deref(), Some("all_left" | "lost")),
        "{row:?}"
    );
    let inspector = Person::connect(&prosody, "inspector").await;
    wait_for(Duration::from_secs(20), "the room to be destroyed", || {
        let (inspector, jid) = (&inspector, room.jid.clone());
        async move { (!room_exists(inspector, &jid).await).then_some(()) }
    })
    .await;
    wait_ready_rooms(&store, 2).await;
    assert_rows_match_server(&store, &inspector).await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_is_noticed_within_35_s_and_the_bot_comes_back() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        server: prosody,
        store,
        dir,
        config,
        ..
    } = setup;
    let bot = BotProcess::start(&config, dir.path().join("bot.log"), &[]);
    let mut staff = Person::connect(&prosody, "staff").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    wait_ready_rooms(&store, 2).await;

    // SIGSTOP: the TCP connection stays up and nothing answers, as when a network path dies
    // without a reset. Only the bot's keepalive can tell: after 20 s of silence the stream asks
    // the server for an answer (and the bot sends XEP-0199 pings every 20 s), and 10 s without
    // one ends the connection.
    prosody.freeze();
    let frozen = std::time::Instant::now();
    bot.logs_within("XMPP connection lost", Duration::from_secs(65))
        .await;
    let noticed = frozen.elapsed();
    println!("dead link noticed {noticed:?} after the server froze");
    // The bound the README states.
    assert!(noticed < Duration::from_secs(35), "{noticed:?}");
    // The staff member's client has the same keepalive: let it notice too, so that it surely
    // reconnects once the server is back (a new session or a resumed one).
    staff.goes_offline().await;
    prosody.thaw();

    // Back: the chat's room is still the staff member's, and every row matches the server.
    wait_for(
        Duration::from_secs(60),
        "the bot to be online again",
        || {
            let log = bot.log();
            let after = log.split("XMPP connection lost").last().unwrap_or_default();
            let back =
                after.contains("XMPP session established") || after.contains("XMPP stream resumed");
            async move { back.then_some(()) }
        },
    )
    .await;
    // The staff member's own connection went through the same freeze. If it came back as a
    // new session, their room presence is gone and the room must close (staff_left); if the
    // stream was resumed, they are still inside and the room must still be staffed.
    let fresh = staff.back_online().await;
    let row = if fresh {
        let row = wait_status(&store, &room.jid, Status::Closed).await;
        assert_eq!(row.close_reason.as_deref(), Some("staff_left"), "{row:?}");
        row
    } else {
        staff.say(&room.jid, "still here");
        staff.heard(&room.jid, "still here").await;
        store.room(&room.jid).await.unwrap().unwrap()
    };
    println!(
        "staff member back with a new session: {fresh}; room {}",
        row.status
    );
    if !fresh {
        assert_eq!(row.status, Status::Staffed, "{row:?}");
    }
    wait_ready_rooms(&store, 2).await;
    let inspector = Person::connect(&prosody, "inspector").await;
    assert_rows_match_server(&store, &inspector).await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

/// A staff member on duty takes a chat (take-chat) and sits in its room as `nick`; returns the
/// room and the password the invitation carried.
async fn take_chat(
    store: &helpim_bot::store::Store,
    staff: &mut Person,
    nick: &str,
) -> (String, String) {
    staff.present_to_bot();
    wait_for_answer(Duration::from_secs(15), "a ready room to take", || {
        let staff = &*staff;
        async move {
            let a = staff.command("take-chat", &[]).await.expect("take a chat");
            (field(&a, "status").as_deref() == Some("taken")).then_some(())
        }
    })
    .await;
    let (room, password) = staff.invited().await;
    staff
        .join(&room, nick, &password)
        .await
        .expect("staff joins");
    wait_status(store, &room, Status::Staffed).await;
    (room, password)
}

/// The README: "A resumed stream (XEP-0198) loses nothing". The bot reaches the server through
/// a proxy of the test's, which cuts its connection: the server sees it dropped and keeps the
/// session for resumption, and the bot comes back through the proxy and resumes it (its log
/// says so, and it never starts a second session). Everything said in a busy room and asked of
/// the bot while it was away is handled after the resume: every line stored once, in order, and
/// a visitor's request answered and served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_stream_loses_nothing_said_or_asked_while_the_bot_was_away() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let Setup {
        server,
        store,
        dir,
        config,
        ..
    } = setup;
    let proxy = Proxy::start(server.addr()).await;
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("server = \"{}\"", server.addr()),
        &format!("server = \"{}\"", proxy.addr()),
    );
    std::fs::write(&config, text).unwrap();
    let bot = BotProcess::start(&config, dir.path().join("bot.log"), &[]);

    // A busy chat, and a staff member on duty in a room of their own, free for the next visitor.
    let mut staff = Person::connect(&server, "staff").await;
    let mut client = Person::connect(&server, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "S").await;
    client_in(&store, &mut client, &room, "C").await;
    let mut staff2 = Person::connect(&server, "staff2").await;
    let (free_room, _) = take_chat(&store, &mut staff2, "S2").await;
    let mut visitor = Person::visitor(&server, "visitor").await;
    visitor.present_to_bot();
    wait_for_answer(Duration::from_secs(10), "the help line to open", || async {
        let s = visitor.command("line-status", &[]).await.unwrap();
        (field(&s, "status").as_deref() == Some("open")).then_some(())
    })
    .await;
    let id = store.room_id(&room.jid).await.unwrap().unwrap();
    let mut said: Vec<(&str, String)> = Vec::new();
    for (who, line) in [("S", "before 1"), ("C", "before 2")] {
        let (speaker, listener) = if who == "S" {
            (&staff, &mut client)
        } else {
            (&client, &mut staff)
        };
        speaker.say(&room.jid, line);
        listener.heard(&room.jid, line).await;
        said.push((who, line.to_string()));
    }
    wait_for(
        Duration::from_secs(10),
        "the lines before the gap stored",
        || {
            let store = store.clone();
            async move { (store.transcript(id, 0).await.unwrap().len() == 2).then_some(()) }
        },
    )
    .await;
    let established = |log: &str| log.matches("XMPP session established").count();
    assert_eq!(established(&bot.log()), 1, "{}", bot.log());

    // The gap: the bot's connection is cut, and the server goes on without it.
    proxy.cut();
    bot.logs_within("XMPP connection lost", Duration::from_secs(10))
        .await;
    for i in 1..=10 {
        let (who, speaker, listener) = if i % 2 == 1 {
            ("S", &staff, &mut client)
        } else {
            ("C", &client, &mut staff)
        };
        // The visitor says the same word twice, in the same second: two lines all the same.
        let line = if i == 4 || i == 6 {
            "yes".to_string()
        } else {
            format!("during the gap {i}")
        };
        speaker.say(&room.jid, &line);
        // The server has delivered it: to the room, and so to the bot's waiting session.
        listener.heard(&room.jid, &line).await;
        said.push((who, line));
    }
    // A visitor asks for a chat while the bot is away; the answer can only come after it is back.
    let request = visitor.command(
        "request-chat",
        &[
            ("nick", "V"),
            ("topic", "gap"),
            ("key", "gap-key-Aubergine-Lantern-3141"),
        ],
    );
    let reopen = async {
        // The server has the request (held for the bot's session) once it has answered a later
        // ping of the visitor's: it handles a session's stanzas in order.
        let ping =
            helpim_bot::xmpp::stanza::ping(xmpp_parsers::jid::Jid::new("anon.localhost").unwrap());
        visitor.session.iq(ping).await.expect("the server answers");
        // The bot has tried to come back, and failed, while the link is down.
        wait_for(
            Duration::from_secs(10),
            "the bot's attempts to reconnect",
            || async { (proxy.refused() >= 2).then_some(()) },
        )
        .await;
        proxy.reopen();
    };
    let (answer, ()) = tokio::join!(request, reopen);
    let answer = answer.expect("the request is answered after the resume");
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("queued"),
        "{}",
        note(&answer)
    );

    // Resumed, not a new session: the bot says so, and started no second session.
    bot.logs_within("XMPP stream resumed without loss", Duration::from_secs(20))
        .await;
    let log = bot.log();
    assert_eq!(
        established(&log),
        1,
        "a new session, not a resumption:\n{log}"
    );
    assert_eq!(
        proxy.forwarded(),
        2,
        "one connection before the gap, one after"
    );

    // The visitor's request is served: invited to the free staff member's room, in they come.
    let (to, password) = visitor.invited().await;
    assert_eq!(to, free_room);
    visitor
        .join(&to, "V", &password)
        .await
        .expect("visitor joins");
    wait_status(&store, &free_room, Status::Busy).await;

    // A line after the resume; stored after every line before it (a room's lines are written in
    // order), so the transcript is complete once it is there.
    staff.say(&room.jid, "after the gap");
    client.heard(&room.jid, "after the gap").await;
    said.push(("S", "after the gap".into()));
    let lines = wait_for(
        Duration::from_secs(15),
        "the line after the gap stored",
        || {
            let store = store.clone();
            async move {
                let lines = store.transcript(id, 0).await.unwrap();
                lines
                    .iter()
                    .any(|l| l.body.as_deref() == Some("after the gap"))
                    .then_some(lines)
            }
        },
    )
    .await;
    let stored: Vec<(String, String)> = lines
        .iter()
        .map(|l| (l.nick.clone(), l.body.clone().unwrap_or_default()))
        .collect();
    let want: Vec<(String, String)> = said
        .iter()
        .map(|(who, line)| {
            let nick = if *who == "S" { "S" } else { "client" };
            (nick.to_string(), line.clone())
        })
        .collect();
    assert_eq!(stored, want, "every line once, in order");
    // The chat never noticed: no rejoin, no status change.
    let reasons: Vec<String> = store
        .events(&room.jid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.reason)
        .collect();
    assert_eq!(reasons, ["created", "staff_joined", "client_joined"]);
    let queue = store.queue_rows().await.unwrap();
    assert_eq!(queue.len(), 1, "one request, one row: {queue:?}");
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}
