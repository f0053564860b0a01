//! The bot's own XMPP protocol (docs/protocol.md) with real clients: visitors log in anonymously
//! on `anon.localhost`, staff with their accounts, and everything goes through ad-hoc commands,
//! invitations and directed presence, against the real server (Prosody, or ejabberd with
//! `HELPIM_TEST_XMPP=ejabberd`) and the bot.

mod support;

use std::time::Duration;

use helpim_bot::core::types::Status;
use helpim_bot::store::Store;
use helpim_bot::xmpp::IqError;
use support::*;

/// A visitor key as a page keeps one: 128 random bits, base64.
const KEY: &str = "c2VjcmV0LWtleS1vZi1hbmE";
const OTHER_KEY: &str = "YW5vdGhlci1rZXktb2YtYmVu";

/// Waits until queue row `id` (as a command answered it) has `status`.
async fn wait_row(store: &Store, id: &str, status: &str) {
    wait_queue(store, id.parse().unwrap(), status).await;
}

/// Waits for the headline that tells staff member `person` who is coming to their chat
/// (docs/protocol.md, "Who is coming"); returns its body and its `<visitor/>`.
async fn told_who_is_coming(person: &mut Person) -> (String, xmpp_parsers::minidom::Element) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline.into(), person.events.recv()).await {
            Ok(Some(helpim_bot::xmpp::SessionEvent::OtherMessage(m))) => {
                if let Some(v) = m
                    .payloads
                    .iter()
                    .find(|p| p.is("visitor", "urn:helpim:staff:0"))
                {
                    let body = m.bodies.values().next().cloned().unwrap_or_default();
                    return (body, v.clone());
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("{} was never told who is coming", person.user),
        }
    }
}

/// A help line: a server, a database and the bot (in-process), with its pool ready.
struct HelpLine {
    server: XmppServer,
    store: Store,
    _db: TestDb,
    _bot: RunningBot,
}

/// Starts a [`HelpLine`] on `db` with the test config, changed by `tweak`.
async fn help_line(db: TestDb, tweak: impl FnOnce(&mut helpim_bot::config::Config)) -> HelpLine {
    let server = XmppServer::start();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    tweak(&mut config);
    let bot = RunningBot::start(config, store.clone());
    wait_ready_rooms(&store, 2).await;
    HelpLine {
        server,
        store,
        _db: db,
        _bot: bot,
    }
}

/// A visitor who asks for a chat with `key`, is invited to `room` (the only staffed one) and
/// joins it as `nick`: the room is then busy.
async fn visitor_chatting(
    server: &XmppServer,
    store: &Store,
    room: &str,
    nick: &str,
    key: &str,
) -> Person {
    let mut v = Person::visitor(server, nick).await;
    v.present_to_bot();
    v.queue_up(&[("nick", nick), ("key", key)]).await;
    let (to, password) = v.invited().await;
    assert_eq!(to, room);
    v.join(room, nick, &password)
        .await
        .expect("the visitor joins");
    wait_status(store, room, Status::Busy).await;
    v
}

/// Ana, Ben and Cem ask for a chat in that order (places 1, 2, 3); each with their queue number.
async fn ana_ben_cem_queued(server: &XmppServer) -> [(Person, String); 3] {
    let mut visitors = Vec::new();
    for (i, name) in ["Ana", "Ben", "Cem"].into_iter().enumerate() {
        let v = Person::visitor(server, name).await;
        v.present_to_bot();
        let key = format!("{name}-key-of-128-bits-at-least");
        let answer = v.queue_up(&[("nick", name), ("key", &key)]).await;
        assert_eq!(field(&answer, "position"), Some((i + 1).to_string()));
        visitors.push((v, field(&answer, "queue-id").unwrap()));
    }
    visitors.try_into().ok().expect("three visitors")
}

/// A staff member on duty: logged in, present to the bot, with a room taken and joined as `nick`.
async fn staff_with_room(
    server: &XmppServer,
    store: &Store,
    user: &str,
    nick: &str,
) -> (Person, String) {
    let mut staff = Person::connect(server, user).await;
    staff.present_to_bot();
    // A room may not be ready yet (after a restart the pool is being refilled): ask again.
    let answer = wait_for_answer(Duration::from_secs(15), "a ready room to take", || {
        let staff = &staff;
        async move {
            let a = staff.command("take-chat", &[]).await.expect("take a chat");
            (field(&a, "status").as_deref() == Some("taken")).then_some(a)
        }
    })
    .await;
    let (room, password) = staff.invited().await;
    assert_eq!(field(&answer, "room").as_deref(), Some(room.as_str()));
    staff
        .join(&room, nick, &password)
        .await
        .expect("staff joins with the invitation's password");
    wait_status(store, &room, Status::Staffed).await;
    (staff, room)
}

async fn a_visitor_is_queued_invited_and_chats(db: TestDb) {
    let line = help_line(db, |_| {}).await;
    let (server, store) = (&line.server, &line.store);

    let mut ana = Person::visitor(server, "Ana").await;
    ana.present_to_bot();
    // Nobody on duty: the help line is closed.
    let answer = ana
        .command("request-chat", &[("nick", "Ana"), ("key", KEY)])
        .await
        .unwrap();
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("closed"),
        "{}",
        note(&answer)
    );

    let mut staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let answer = ana
        .queue_up(&[("nick", "Ana"), ("topic", "exams 😟"), ("key", KEY)])
        .await;
    assert_eq!(field(&answer, "position").as_deref(), Some("1"));
    assert_eq!(note(&answer), "You are next in the queue.");
    let answer_queued = answer;
    // The key is never stored: the row holds its hash.
    let rows = store.open_queue().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].visitor.starts_with("sha256:") && !rows[0].visitor.contains(KEY));
    assert_eq!(rows[0].topic.as_deref(), Some("exams 😟"));

    // The staff member takes a chat; once inside, the waiting visitor is invited.
    let answer = staff.command("take-chat", &[]).await.unwrap();
    let (room, password) = staff.invited().await;
    assert_eq!(field(&answer, "room").as_deref(), Some(room.as_str()));
    staff.join(&room, "Counsellor", &password).await.unwrap();
    // The staff member is told at once who is coming, and why.
    let (body, v) = told_who_is_coming(&mut staff).await;
    assert_eq!(body, "Ana is coming to your chat: exams 😟");
    assert_eq!(v.attr("room"), Some(room.as_str()));
    assert_eq!(v.attr("nick"), Some("Ana"));
    assert_eq!(v.attr("topic"), Some("exams 😟"));
    assert!(v.attr("waiting-since").is_some_and(|t| t.ends_with('Z')));
    let (invited_to, visitor_password) = ana.invited().await;
    assert_eq!(invited_to, room);
    ana.join(&room, "Ana", &visitor_password)
        .await
        .expect("the visitor joins");
    let row = wait_status(store, &room, Status::Busy).await;
    assert_eq!(row.client_nick.as_deref(), Some("Ana"));
    wait_row(store, &field(&answer_queued, "queue-id").unwrap(), "served").await;
    ana.say(&room, "hello ✨");
    staff.heard(&room, "hello ✨").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_is_queued_invited_and_chats_on_sqlite() {
    a_visitor_is_queued_invited_and_chats(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_is_queued_invited_and_chats_on_postgres() {
    a_visitor_is_queued_invited_and_chats(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_move_up_as_others_leave_or_go_offline() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();

    let [(ana, _), (ben, _), (mut cem, _)] = ana_ben_cem_queued(server).await;
    // Ben leaves the queue: Cem hears he is second now.
    let answer = ben.command("leave-queue", &[]).await.unwrap();
    assert_eq!(field(&answer, "status").as_deref(), Some("left"));
    assert_eq!(cem.place_update().await.0, 2);
    // Ana closes her browser (the session ends): the server tells the bot, and Cem is next.
    ana.quit().await;
    assert_eq!(cem.place_update().await.0, 1);
    let rows = store.open_queue().await.unwrap();
    assert_eq!(rows.len(), 1, "only Cem still waits: {rows:?}");
    let answer = ben.command("leave-queue", &[]).await.unwrap();
    assert_eq!(field(&answer, "status").as_deref(), Some("not-queued"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_visitors_new_session_keeps_their_place_when_the_old_one_ends() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let [(ana, ana_id), (ben, ben_id), _cem] = ana_ben_cem_queued(server).await;
    // Ben's connection dropped without the server noticing yet; his page logs in again and asks
    // with his key: the same row and place, now on the new session.
    let mut ben_again = Person::visitor(server, "Ben").await;
    ben_again.present_to_bot();
    let answer = ben_again
        .queue_up(&[("nick", "Ben"), ("key", "Ben-key-of-128-bits-at-least")])
        .await;
    assert_eq!(field(&answer, "queue-id"), Some(ben_id.clone()));
    assert_eq!(field(&answer, "position").as_deref(), Some("2"));
    // The old session ends, then Ana's: once Ana's row is left, Ben's old session's end was
    // handled before it, and Ben still waits; the new session hears he is next.
    ben.quit().await;
    ana.quit().await;
    wait_row(store, &ana_id, "left").await;
    assert_eq!(ben_again.place_update().await.0, 1);
    wait_row(store, &ben_id, "waiting").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused_and_the_refusals_logged() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let bot = setup.start_bot(&[]);
    wait_ready_rooms(&setup.store, 2).await;
    let eve = Person::connect(&setup.server, "eve").await;
    for node in ["request-chat", "take-chat", "status", "no-such-command"] {
        let refused = eve.command(node, &[]).await;
        let want = if node == "no-such-command" {
            "item-not-found"
        } else {
            "forbidden"
        };
        assert_eq!(refused, Err(IqError::Error(want.into())), "{node}");
    }
    let visitor = Person::visitor(&setup.server, "Vic").await;
    assert_eq!(
        visitor.command("take-chat", &[]).await,
        Err(IqError::Error("forbidden".into())),
        "a visitor is not staff"
    );
    assert_eq!(
        visitor
            .command("request-chat", &[("nick", "Vic"), ("key", "too-short")])
            .await,
        Err(IqError::Error("bad-request".into()))
    );
    bot.logs_within(
        "refusing a command to someone who may not use it",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        bot.log().contains("helpim_bot::security"),
        "on the security target"
    );
    assert!(setup.store.open_queue().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_blocks_a_visitor_who_is_removed_and_refused_later() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let (staff, room) = staff_with_room(server, store, "staff", "Counsellor").await;
    let mut vic = visitor_chatting(server, store, &room, "Vic", KEY).await;

    // Another staff member cannot block the visitor of a chat they are not in.
    let other = Person::connect(server, "staff2").await;
    let refused = other
        .command("block-visitor", &[("room", &room), ("reason", "abuse")])
        .await;
    assert_eq!(refused, Err(IqError::Error("forbidden".into())));
    let answer = staff
        .command(
            "block-visitor",
            &[("room", &room), ("reason", "abuse"), ("duration", "7d")],
        )
        .await
        .unwrap();
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("blocked"),
        "{}",
        note(&answer)
    );
    let removed = vic.removed_from(&room).await;
    assert!(
        removed.has(helpim_bot::xmpp::stanza::STATUS_KICKED),
        "{removed:?}"
    );
    // The same key from a new session is refused, neutrally.
    let again = Person::visitor(server, "Vic again").await;
    again.present_to_bot();
    let answer = again
        .command("request-chat", &[("nick", "V"), ("key", KEY)])
        .await
        .unwrap();
    assert_eq!(field(&answer, "status").as_deref(), Some("blocked"));
    assert_eq!(note(&answer), "We cannot start a chat with you.");
}

/// A visitor invited to a `staffed` room who has not joined is nobody to block (SPEC §15): the
/// room is not offered, naming it is refused with a note, and the invited visitor's key is not
/// blocked: they join, and only then can a block apply to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_in_a_staffed_room_blocks_nobody_until_the_visitor_is_seated() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let (staff, room) = staff_with_room(server, store, "staff", "Counsellor").await;
    let mut vic = Person::visitor(server, "Vic").await;
    vic.present_to_bot();
    vic.queue_up(&[("nick", "Vic"), ("key", KEY)]).await;
    let (to, password) = vic.invited().await;
    assert_eq!(to, room);
    // Vic is invited (the room's client claim is Vic's) but has not joined: still `staffed`.
    assert_eq!(
        store.room(&room).await.unwrap().unwrap().status,
        Status::Staffed
    );
    let blank = staff.command("block-visitor", &[]).await.unwrap();
    assert_eq!(
        field(&blank, "status").as_deref(),
        Some("none"),
        "{}",
        note(&blank)
    );
    let answer = staff
        .command(
            "block-visitor",
            &[("room", &room), ("reason", "abuse"), ("duration", "7d")],
        )
        .await
        .unwrap();
    assert_eq!(field(&answer, "status").as_deref(), Some("none"));
    assert_eq!(
        note(&answer),
        "No visitor has joined this chat: there is nobody to block."
    );
    // Vic's key is not blocked: Vic joins the chat the invitation named.
    vic.join(&room, "Vic", &password)
        .await
        .expect("the invited visitor joins");
    wait_status(store, &room, Status::Busy).await;
    // Seated, Vic can be blocked.
    let answer = staff
        .command("block-visitor", &[("room", &room), ("reason", "abuse")])
        .await
        .unwrap();
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("blocked"),
        "{}",
        note(&answer)
    );
    let removed = vic.removed_from(&room).await;
    assert!(
        removed.has(helpim_bot::xmpp::stanza::STATUS_KICKED),
        "{removed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_with_the_visitor_key_resumes_the_chat_and_a_wrong_key_does_not() {
    let line = help_line(TestDb::sqlite(), |c| {
        c.timeouts.rejoin_grace = Duration::from_secs(30);
    })
    .await;
    let (server, store) = (&line.server, &line.store);
    let (mut staff, room) = staff_with_room(server, store, "staff", "Counsellor").await;
    let ana = visitor_chatting(server, store, &room, "Ana", KEY).await;

    // The page is refreshed: the old session is gone without a clean exit.
    ana.quit().await;
    staff.sees_leave(&room, "Ana").await;
    let mut again = Person::visitor(server, "Ana after a refresh").await;
    let wrong = again
        .command("resume-chat", &[("key", OTHER_KEY)])
        .await
        .unwrap();
    assert_eq!(field(&wrong, "status").as_deref(), Some("none"));
    let answer = again.command("resume-chat", &[("key", KEY)]).await.unwrap();
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("resumed"),
        "{}",
        note(&answer)
    );
    let (to, password) = again.invited().await;
    assert_eq!(to, room);
    again
        .join(&room, "Ana", &password)
        .await
        .expect("the new session is let in");
    staff.sees_enter(&room, "Ana").await;
    again.say(&room, "I'm back");
    staff.heard(&room, "I'm back").await;
    let row = wait_status(store, &room, Status::Busy).await;
    assert_eq!(row.status, Status::Busy, "the chat went on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_pick_mode_staff_choose_a_visitor_and_max_chats_holds() {
    let line = help_line(TestDb::postgres().await, |c| {
        c.queue.assign = helpim_bot::config::Assign::Pick;
    })
    .await;
    let (server, store) = (&line.server, &line.store);
    let (mut staff, room) = staff_with_room(server, store, "staff", "Counsellor").await;
    let mut queued = Vec::new();
    for (name, key) in [("Ana", KEY), ("Ben", OTHER_KEY)] {
        let v = Person::visitor(server, name).await;
        v.present_to_bot();
        let a = v
            .command("request-chat", &[("nick", name), ("key", key)])
            .await
            .unwrap();
        assert_eq!(field(&a, "status").as_deref(), Some("queued"));
        queued.push((v, field(&a, "queue-id").unwrap()));
    }
    // The list, with a choice to make.
    let list = staff.command("waiting-visitors", &[]).await.unwrap();
    assert_eq!(list.attr("status"), Some("executing"));
    assert_eq!(note(&list), "2 visitors are waiting.");
    let xml = String::from(&list);
    assert!(xml.contains("Ana") && xml.contains("Ben"), "{xml}");
    // Ben is picked, not Ana who came first.
    let (mut ben, ben_id) = queued.pop().unwrap();
    let answer = staff
        .command("waiting-visitors", &[("visitor", &ben_id)])
        .await
        .unwrap();
    assert_eq!(
        field(&answer, "status").as_deref(),
        Some("assigned"),
        "{}",
        note(&answer)
    );
    // The staff member's session is told who is coming: Ben, who gave no topic.
    let (body, v) = told_who_is_coming(&mut staff).await;
    assert_eq!(body, "Ben is coming to your chat.");
    assert_eq!((v.attr("nick"), v.attr("topic")), (Some("Ben"), None));
    let (to, password) = ben.invited().await;
    assert_eq!(to, room);
    ben.join(&room, "Ben", &password).await.unwrap();
    wait_status(store, &room, Status::Busy).await;
    // Taken: Ben is off everyone's list; Ana still waits.
    let list = staff.command("waiting-visitors", &[]).await.unwrap();
    assert_eq!(note(&list), "1 visitor is waiting.");
    // max_chats = 2: a second room is fine, a third is not.
    wait_for_answer(Duration::from_secs(15), "a second room to take", || {
        let staff = &staff;
        async move {
            let a = staff.command("take-chat", &[]).await.unwrap();
            (field(&a, "status").as_deref() == Some("taken")).then_some(())
        }
    })
    .await;
    let third = staff.command("take-chat", &[]).await.unwrap();
    assert_eq!(
        field(&third, "status").as_deref(),
        Some("limit"),
        "{}",
        note(&third)
    );
    // The status is as of the bot's last sweep of the queue (every `database.poll_interval`).
    let status = wait_for_answer(
        Duration::from_secs(5),
        "the status to show Ana waiting",
        || {
            let staff = &staff;
            async move {
                let s = staff.command("status", &[]).await.unwrap();
                (field(&s, "queue-length").as_deref() == Some("1")).then_some(s)
            }
        },
    )
    .await;
    assert_eq!(field(&status, "open").as_deref(), Some("true"));
    assert_eq!(field(&status, "busy").as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_busy() {
    let line = help_line(TestDb::sqlite(), |c| {
        c.queue.max_length = 1;
    })
    .await;
    let server = &line.server;
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let ana = Person::visitor(server, "Ana").await;
    let ben = Person::visitor(server, "Ben").await;
    ana.queue_up(&[("nick", "Ana"), ("key", KEY)]).await;
    let b = ben
        .command("request-chat", &[("nick", "Ben"), ("key", OTHER_KEY)])
        .await
        .unwrap();
    assert_eq!(field(&b, "status").as_deref(), Some("busy"), "{}", note(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_every_visitor_keeps_their_place_and_nobody_is_served_twice() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let (server, store) = (&setup.server, &setup.store);
    let bot = setup.start_bot(&[]);
    wait_ready_rooms(store, 2).await;
    let (mut staff, room) = staff_with_room(server, store, "staff", "Counsellor").await;
    // Ana chats; Ben and Cem wait, in that order.
    let mut ana = visitor_chatting(server, store, &room, "Ana", KEY).await;
    let mut waiting = Vec::new();
    for (name, key) in [("Ben", OTHER_KEY), ("Cem", "Q2VtLWtleS1vZi0xMjgtYml0cw")] {
        let v = Person::visitor(server, name).await;
        v.present_to_bot();
        let a = v
            .command("request-chat", &[("nick", name), ("key", key)])
            .await
            .unwrap();
        assert_eq!(
            field(&a, "status").as_deref(),
            Some("queued"),
            "{}",
            note(&a)
        );
        waiting.push((v, field(&a, "queue-id").unwrap()));
    }
    bot.kill9();
    ana.say(&room, "are you still there?");
    staff.heard(&room, "are you still there?").await;
    let bot = setup.start_bot(&[]);
    wait_for_answer(
        Duration::from_secs(20),
        "the restarted bot to answer",
        || {
            let staff = &staff;
            async move { staff.command("status", &[]).await.ok() }
        },
    )
    .await;
    // The chat goes on, and both still wait in order (the new session pinged them: still there).
    staff.say(&room, "yes");
    ana.heard(&room, "yes").await;
    let rows = store.open_queue().await.unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        ids,
        [waiting[0].1.clone(), waiting[1].1.clone()],
        "{rows:?}"
    );
    // The next staff member's room goes to Ben, who came first, and to nobody else.
    let (_staff2, room2) = staff_with_room(server, store, "staff2", "Second").await;
    let (ben, ben_id) = &mut waiting[0];
    let (to, password) = ben.invited().await;
    assert_eq!(to, room2);
    ben.join(&room2, "Ben", &password).await.unwrap();
    wait_row(store, ben_id, "served").await;
    wait_status(store, &room2, Status::Busy).await;
    let rows = store.open_queue().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id.to_string(), waiting[1].1, "Cem still waits");
    assert_eq!(rows[0].status, "waiting");
    // Cem's presence went to the bot's full JID, which the restarted bot holds again: when his
    // session ends, the new bot hears of it.
    let (cem, cem_id) = waiting.pop().unwrap();
    cem.quit().await;
    wait_row(store, &cem_id, "left").await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_delays_queue_writes_and_loses_none() {
    let pg = PgCluster::start();
    let line = help_line(TestDb::at(pg.url()), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let mut staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let [(ana, ana_id), (ben, ben_id), (cem, cem_id)] = ana_ben_cem_queued(server).await;

    pg.stop_server();
    // Ana closes her browser: the write that lets her go waits for the database.
    ana.quit().await;
    // A command that needs the database says so, and does nothing by halves.
    assert_eq!(
        ben.command("leave-queue", &[]).await,
        Err(IqError::Error("internal-server-error".into()))
    );
    pg.start_server();

    wait_row(store, &ana_id, "left").await;
    // Ben asks again once the database is back.
    let answer = wait_for_answer(Duration::from_secs(15), "Ben's leave to be taken", || {
        let ben = &ben;
        async move { ben.command("leave-queue", &[]).await.ok() }
    })
    .await;
    assert_eq!(field(&answer, "status").as_deref(), Some("left"));
    wait_row(store, &ben_id, "left").await;
    // Cem kept his place and is the one invited.
    let mut cem = cem;
    let answer = staff.command("take-chat", &[]).await.unwrap();
    assert_eq!(field(&answer, "status").as_deref(), Some("taken"));
    let (room, password) = staff.invited().await;
    staff.join(&room, "Counsellor", &password).await.unwrap();
    let (to, _) = cem.invited().await;
    assert_eq!(to, room);
    wait_row(store, &cem_id, "assigned").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_gone_before_joining_is_not_put_back_in_line() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let (staff, room) = staff_with_room(server, store, "staff", "Counsellor").await;
    let mut ana = Person::visitor(server, "Ana").await;
    ana.present_to_bot();
    let a = ana
        .command("request-chat", &[("nick", "Ana"), ("key", KEY)])
        .await
        .unwrap();
    let id = field(&a, "queue-id").unwrap();
    let (to, _) = ana.invited().await;
    assert_eq!(to, room);
    // Ana closes the browser before joining; then the staff member leaves the room meant for her.
    ana.quit().await;
    wait_row(store, &id, "left").await;
    staff.leave(&room, "Counsellor", "Clean Exit");
    wait_status(store, &room, Status::Closed).await;
    // The room's close would put an assigned visitor back in line; Ana has left for good.
    let rows = store.queue_rows().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].status.as_str(), rows[0].reason.as_deref()),
        ("left", Some("offline"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_learns_on_arrival_whether_the_help_line_is_open_and_why_not() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let server = &line.server;
    let ana = Person::visitor(server, "Ana").await;
    // Nobody on duty: closed, and why; no opening hours, so no next opening.
    let s = ana.command("line-status", &[]).await.unwrap();
    assert_eq!(
        field(&s, "status").as_deref(),
        Some("closed"),
        "{}",
        note(&s)
    );
    assert_eq!(field(&s, "open").as_deref(), Some("false"));
    assert_eq!(field(&s, "reason").as_deref(), Some("no-staff"));
    assert_eq!(field(&s, "next-opening"), None);
    // A staff member comes on duty: open.
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    wait_for_answer(Duration::from_secs(10), "the help line to open", || async {
        let s = ana.command("line-status", &[]).await.unwrap();
        (field(&s, "status").as_deref() == Some("open")).then_some(())
    })
    .await;
    // The staff's status says the same.
    let st = staff.command("status", &[]).await.unwrap();
    assert_eq!(field(&st, "open").as_deref(), Some("true"));
    assert_eq!(field(&st, "reason"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_asking_in_dutch_or_arabic_is_answered_in_that_language() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let server = &line.server;
    let ana = Person::visitor(server, "Ana").await;
    // The command's xml:lang reaches the bot through the server: nobody on duty, in Dutch.
    let s = ana
        .command_in(Some("nl-BE"), "line-status", &[])
        .await
        .unwrap();
    assert_eq!(field(&s, "status").as_deref(), Some("closed"));
    assert_eq!(
        note(&s),
        "De hulplijn is gesloten: er is nu niemand aan het werk. Probeer het later nog eens."
    );
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    wait_for_answer(Duration::from_secs(10), "the help line to open", || async {
        let s = ana
            .command_in(Some("ar"), "line-status", &[])
            .await
            .unwrap();
        (note(&s) == "خط المساعدة مفتوح.").then_some(())
    })
    .await;
    // A language the bot lacks: the default, English.
    let s = ana
        .command_in(Some("de"), "line-status", &[])
        .await
        .unwrap();
    assert_eq!(note(&s), "The help line is open.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_opening_hours_newcomers_hear_when_it_opens_even_with_staff_on_duty() {
    use chrono::Timelike;
    // One period a day, starting two hours from now (UTC) and lasting an hour: closed now.
    let start = chrono::Utc::now() + chrono::Duration::hours(2);
    let end = start + chrono::Duration::hours(1);
    let period = format!(
        "mon-sun {:02}:{:02}-{:02}:{:02}",
        start.hour(),
        start.minute(),
        end.hour(),
        end.minute()
    );
    let line = help_line(TestDb::sqlite(), |c| {
        c.hours.time_zone = "UTC".into();
        c.hours.open = vec![period];
    })
    .await;
    let server = &line.server;
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let ana = Person::visitor(server, "Ana").await;
    let expected = start
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let s = ana.command("line-status", &[]).await.unwrap();
    assert_eq!(
        field(&s, "status").as_deref(),
        Some("closed"),
        "{}",
        note(&s)
    );
    assert_eq!(field(&s, "reason").as_deref(), Some("outside-hours"));
    assert_eq!(field(&s, "next-opening"), Some(expected.clone()));
    // Asking for a chat is refused the same way, whoever is on duty.
    let r = ana
        .command("request-chat", &[("nick", "Ana"), ("key", KEY)])
        .await
        .unwrap();
    assert_eq!(
        field(&r, "status").as_deref(),
        Some("closed"),
        "{}",
        note(&r)
    );
    assert_eq!(field(&r, "reason").as_deref(), Some("outside-hours"));
    assert_eq!(field(&r, "next-opening"), Some(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_back_within_the_return_grace_keeps_their_place_and_one_who_is_not_leaves() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let [(ana, ana_id), (ben, ben_id), (cem, _)] = ana_ben_cem_queued(server).await;
    // Ana, next in line, refreshes her page: her session ends, a new one asks with her key.
    ana.quit().await;
    let ana_again = Person::visitor(server, "Ana").await;
    ana_again.present_to_bot();
    let answer = ana_again
        .queue_up(&[("nick", "Ana"), ("key", "Ana-key-of-128-bits-at-least")])
        .await;
    // Still next, on the same row (so the same waiting-since).
    assert_eq!(field(&answer, "queue-id"), Some(ana_id.clone()));
    assert_eq!(field(&answer, "position").as_deref(), Some("1"));
    // Ben closes his tab for good: after queue.return_grace (2 s here) he has left, not before.
    let closed = std::time::Instant::now();
    ben.quit().await;
    wait_row(store, &ben_id, "left").await;
    assert!(
        closed.elapsed() >= Duration::from_secs(2),
        "left after {:?}, before the return grace",
        closed.elapsed()
    );
    let rows = store.queue_rows().await.unwrap();
    let ben_row = rows.iter().find(|r| r.id.to_string() == ben_id).unwrap();
    assert_eq!(ben_row.reason.as_deref(), Some("offline"));
    // Ana's row is still waiting, first in line.
    wait_row(store, &ana_id, "waiting").await;
    drop(cem);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_holds_one_place_whatever_keys_it_tries() {
    let line = help_line(TestDb::sqlite(), |_| {}).await;
    let (server, store) = (&line.server, &line.store);
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let hostile = Person::visitor(server, "Mallory").await;
    let first = hostile
        .queue_up(&[("nick", "M0"), ("key", "key-number-0-of-128-bits-at-least")])
        .await;
    let id = field(&first, "queue-id").unwrap();
    let mut refused = 0;
    for n in 1..50 {
        let key = format!("key-number-{n}-of-128-bits-at-least");
        match hostile
            .command("request-chat", &[("nick", &format!("M{n}")), ("key", &key)])
            .await
        {
            Ok(answer) => assert_eq!(field(&answer, "queue-id"), Some(id.clone()), "key {n}"),
            Err(IqError::Error(condition)) => {
                assert_eq!(condition, "resource-constraint");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    // Past twenty commands in ten seconds the session is told to wait.
    assert!(refused >= 29, "{refused} refused");
    let open = store.open_queue().await.unwrap();
    assert_eq!(open.len(), 1, "one place: {open:?}");
}

async fn max_length_holds_under_concurrent_requests(db: TestDb) {
    let line = help_line(db, |c| c.queue.max_length = 10).await;
    let (server, store) = (&line.server, &line.store);
    let staff = Person::connect(server, "staff").await;
    staff.present_to_bot();
    let mut visitors = Vec::new();
    for n in 0..50 {
        visitors.push(Person::visitor(server, &format!("V{n}")).await);
    }
    // Everyone is on duty-checked once, then all ask at the same moment.
    visitors[0]
        .queue_up(&[("nick", "V0"), ("key", "key-of-v0-of-128-bits-at-least")])
        .await;
    let answers = futures_util::future::join_all(visitors.iter().enumerate().skip(1).map(
        |(n, v)| async move {
            let key = format!("key-of-v{n}-of-128-bits-at-least");
            let answer = v
                .command("request-chat", &[("nick", "V"), ("key", &key)])
                .await
                .unwrap();
            field(&answer, "status").unwrap()
        },
    ))
    .await;
    let queued = answers.iter().filter(|s| *s == "queued").count();
    let busy = answers.iter().filter(|s| *s == "busy").count();
    assert_eq!((queued + 1, busy), (10, 40), "{answers:?}");
    assert_eq!(store.open_queue().await.unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_length_holds_under_fifty_concurrent_requests_on_postgres() {
    max_length_holds_under_concurrent_requests(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_length_holds_under_fifty_concurrent_requests_on_sqlite() {
    max_length_holds_under_concurrent_requests(TestDb::sqlite()).await;
}

/// The roster dance of a standard client adding the bot (the client has read its roster and is
/// available): asks for the bot's presence, waits for the bot's own request and approves it.
async fn add_the_bot_to_the_roster(person: &mut Person) {
    use std::str::FromStr;
    use xmpp_parsers::presence::{Presence, Type};
    let bot = xmpp_parsers::jid::Jid::from_str("bot@localhost").unwrap();
    let mut ask = Presence::new(Type::Subscribe);
    ask.to = Some(bot.clone());
    person.session.send(ask);
    bot_asks_for_presence(person).await;
    let mut approve = Presence::new(Type::Subscribed);
    approve.to = Some(bot);
    person.session.send(approve);
}

/// Waits until the bot asks `person` for their presence (a subscription request).
async fn bot_asks_for_presence(person: &mut Person) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline.into(), person.events.recv()).await {
            Ok(Some(helpim_bot::xmpp::SessionEvent::RoomPresence(p)))
                if p.kind == helpim_bot::xmpp::stanza::PresenceKind::Subscribe =>
            {
                assert_eq!(p.room.as_str(), "bot@localhost");
                return;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the bot never asked {} for their presence", person.user),
        }
    }
}

/// A standard client signing in: it reads its roster and says it is available.
async fn client_signs_in(server: &XmppServer, user: &str) -> Person {
    let person = Person::connect_as(server, user, "gajim").await;
    let roster = xmpp_parsers::iq::Iq::Get {
        from: None,
        to: None,
        id: String::new(),
        payload: xmpp_parsers::minidom::Element::builder("query", "jabber:iq:roster").build(),
    };
    person.session.iq(roster).await.unwrap();
    person
        .session
        .send(xmpp_parsers::presence::Presence::available());
    person
}

/// Staff on duty, from `status` run by `staff` at `at` (the JID its list item names).
async fn on_duty(staff: &Person, at: &str) -> String {
    let answer = staff.command_to(at, None, "status", &[]).await.unwrap();
    field(&answer, "staff-on-duty").unwrap()
}

/// A staff member with a standard client (README, "Standard clients as the staff console"):
/// the list of commands names the bot's full JID and a command sent to an item's JID is run;
/// adding the bot to the roster is approved and answered with the bot's own request, and once
/// approved the client's ordinary presence, sent to nobody in particular, puts them on duty and
/// takes them off. A restarted bot learns from the server who is on duty, and is handed a
/// request made while it was away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_client_runs_the_listed_commands_and_goes_on_duty_through_the_roster() {
    use xmpp_parsers::presence::{Presence, Type};

    let server = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let config = bot_config(&server, &db);
    let bot = RunningBot::start(config.clone(), store.clone());
    wait_ready_rooms(&store, 2).await;
    let mut staff = client_signs_in(&server, "staff").await;
    // The list names the bot's full JID in every item.
    let items = staff.commands_listed().await;
    assert!(items.iter().any(|(_, node)| node == "status"), "{items:?}");
    assert!(items.iter().all(|(jid, _)| jid == BOT), "{items:?}");
    // Staff on duty, from `status` sent where its item says. Signed in, the client's presence
    // went to its contacts: not yet the bot.
    let status_at = items
        .iter()
        .find(|(_, node)| node == "status")
        .unwrap()
        .0
        .clone();
    assert_eq!(on_duty(&staff, &status_at).await, "0");
    // Adding the bot to the roster: approved, the client's ordinary presence (no `to`) reaches
    // the bot: on duty.
    add_the_bot_to_the_roster(&mut staff).await;
    staff.session.send(Presence::available());
    wait_for_answer(
        Duration::from_secs(10),
        "the staff member on duty",
        || async { (on_duty(&staff, &status_at).await == "1").then_some(()) },
    )
    .await;
    // The bot restarts; meanwhile a colleague adds it. Back, it knows from the server who is on
    // duty, is handed the colleague's request, and asks back.
    bot.stop().await.unwrap();
    let mut colleague = client_signs_in(&server, "staff2").await;
    let mut ask = Presence::new(Type::Subscribe);
    ask.to = Some("bot@localhost".parse().unwrap());
    colleague.session.send(ask);
    let bot = RunningBot::start(config, store.clone());
    bot_asks_for_presence(&mut colleague).await;
    wait_for_answer(
        Duration::from_secs(10),
        "the staff member on duty after the restart",
        || async { (on_duty(&staff, &status_at).await == "1").then_some(()) },
    )
    .await;
    // Signing out (an ordinary unavailable presence): off duty.
    staff.session.send(Presence::new(Type::Unavailable));
    wait_for_answer(
        Duration::from_secs(10),
        "the staff member off duty",
        || async { (on_duty(&staff, &status_at).await == "0").then_some(()) },
    )
    .await;
    bot.stop().await.unwrap();
}
