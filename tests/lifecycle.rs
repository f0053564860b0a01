//! The room life cycle of docs/room-states.md end to end: the bot, a real Prosody, real XMPP clients for the
//! staff member, the client and strangers, and a real database.

mod support;

use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use helpim_bot::store::{ClaimKind, ClaimedRoom, Store};
use helpim_bot::xmpp::stanza::STATUS_KICKED;
use helpim_bot::xmpp::IqError;
use support::*;

/// Prosody, a database, the bot, and the people of a chat.
struct Chat {
    prosody: XmppServer,
    db: TestDb,
    store: Store,
    bot: RunningBot,
    staff: Person,
    client: Person,
    inspector: Person,
}

impl Chat {
    async fn start(db: TestDb) -> Chat {
        let prosody = XmppServer::start();
        let store = db.store().await;
        let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
        let staff = Person::connect(&prosody, "staff").await;
        let client = Person::connect(&prosody, "client").await;
        let inspector = Person::connect(&prosody, "inspector").await;
        Chat {
            prosody,
            db,
            store,
            bot,
            staff,
            client,
            inspector,
        }
    }

    /// Claims a room for staff and lets the staff member in: `staffed`.
    async fn staffed(&mut self) -> ClaimedRoom {
        let (room, row) = staff_in(&self.store, &mut self.staff, "Counsellor").await;
        assert_eq!(row.staff_nick.as_deref(), Some("Counsellor"));
        assert_eq!(row.staff_claim.as_deref(), Some("claim-Counsellor"));
        room
    }

    /// A chat in progress: `busy`.
    async fn busy(&mut self) -> ClaimedRoom {
        let room = self.staffed().await;
        let row = client_in(&self.store, &mut self.client, &room, "Visitor").await;
        assert_eq!(row.client_nick.as_deref(), Some("Visitor"));
        assert_eq!(row.client_claim.as_deref(), Some("claim-Visitor"));
        room
    }

    /// The bot's `timeouts.idle` in this test.
    fn bot_idle(&self) -> Duration {
        bot_config(&self.prosody, &self.db).timeouts.idle
    }

    /// The (to_status, reason) history of a room.
    async fn history(&self, jid: &str) -> Vec<(String, String)> {
        self.store
            .events(jid)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.to_status, e.reason))
            .collect()
    }

    async fn finish(self) {
        self.bot.stop().await.expect("bot stops cleanly");
        drop(self.prosody);
        drop(self.db);
    }
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn full_chat(db: TestDb) {
    let mut chat = Chat::start(db).await;
    let room = chat.busy().await;
    chat.staff.say(&room.jid, "Hello, how can I help?");
    chat.client.say(&room.jid, "Hi");
    wait_for(Duration::from_secs(10), "last_message_at", || {
        let store = chat.store.clone();
        let jid = room.jid.clone();
        async move {
            store
                .room(&jid)
                .await
                .unwrap()
                .and_then(|r| r.last_message_at)
        }
    })
    .await;
    chat.client.leave(&room.jid, "Visitor", "Clean Exit");
    wait_status(&chat.store, &room.jid, Status::Closing).await;
    chat.staff.leave(&room.jid, "Counsellor", "Clean Exit");
    let row = wait_status(&chat.store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("all_left"));
    assert!(row.closed_at.is_some());
    assert_eq!(
        chat.history(&room.jid).await,
        h(&[
            ("available", "created"),
            ("staffed", "staff_joined"),
            ("busy", "client_joined"),
            ("closing", "left_clean"),
            ("closed", "all_left"),
        ])
    );
    // The room is destroyed on the server: a fresh join creates a new one.
    assert_room_gone(&mut chat.inspector, &room.jid).await;
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_chat_on_sqlite() {
    full_chat(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_chat_on_postgres() {
    full_chat(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_without_claim_is_kicked_and_room_stays_available() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    // The oldest ready room: the next staff claim takes it.
    let rooms = wait_ready_rooms(&chat.store, 2).await;
    let room = rooms.iter().min_by_key(|r| (r.created_at, r.id)).unwrap();
    // Eve somehow has the password but no claim was made.
    let mut eve = Person::connect(&chat.prosody, "eve").await;
    eve.join(&room.jid, "eve", &room.password)
        .await
        .expect("password is right");
    let kicked = eve.removed_from(&room.jid).await;
    assert!(kicked.has(STATUS_KICKED), "{:?}", kicked.codes);
    // The room still works for a real claim.
    let claimed = claim(&chat.store, ClaimKind::Staff, "s").await;
    assert_eq!(claimed.jid, room.jid);
    chat.staff
        .join(&claimed.jid, "Counsellor", &claimed.password)
        .await
        .unwrap();
    wait_status(&chat.store, &claimed.jid, Status::Staffed).await;
    // A room's changes are written in order: Eve's join, handled before the staff member's,
    // changed nothing.
    assert_eq!(
        chat.history(&room.jid).await,
        h(&[("available", "created"), ("staffed", "staff_joined")])
    );
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_password_is_refused_by_the_server() {
    let chat = Chat::start(TestDb::sqlite()).await;
    let rooms = wait_ready_rooms(&chat.store, 1).await;
    let mut eve = Person::connect(&chat.prosody, "eve").await;
    assert_eq!(
        eve.join(&rooms[0].jid, "eve", "guess").await.err(),
        Some(IqError::Error("not-authorized".into()))
    );
    assert_eq!(
        eve.join(&rooms[0].jid, "eve2", "").await.err(),
        Some(IqError::Error("not-authorized".into()))
    );
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staffed_join_without_client_claim_is_kicked() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let room = chat.staffed().await;
    let mut eve = Person::connect(&chat.prosody, "eve").await;
    eve.join(&room.jid, "eve", &room.password).await.unwrap();
    assert!(eve.removed_from(&room.jid).await.has(STATUS_KICKED));
    // A later change of the same room shows that Eve's join, handled before it, changed nothing.
    chat.staff.leave(&room.jid, "Counsellor", "Clean Exit");
    wait_status(&chat.store, &room.jid, Status::Closed).await;
    assert_eq!(
        chat.history(&room.jid).await,
        h(&[
            ("available", "created"),
            ("staffed", "staff_joined"),
            ("closed", "staff_left"),
        ])
    );
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_person_is_kicked_from_a_chat() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let room = chat.busy().await;
    let mut eve = Person::connect(&chat.prosody, "eve").await;
    eve.join(&room.jid, "eve", &room.password).await.unwrap();
    assert!(eve.removed_from(&room.jid).await.has(STATUS_KICKED));
    // A later change of the same room shows that Eve's join, handled before it, changed nothing.
    chat.client.leave(&room.jid, "Visitor", "Clean Exit");
    wait_status(&chat.store, &room.jid, Status::Closing).await;
    assert_eq!(
        chat.history(&room.jid).await,
        h(&[
            ("available", "created"),
            ("staffed", "staff_joined"),
            ("busy", "client_joined"),
            ("closing", "left_clean"),
        ])
    );
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_leaving_a_staffed_room_closes_it() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let room = chat.staffed().await;
    chat.staff.leave(&room.jid, "Counsellor", "Clean Exit");
    let row = wait_status(&chat.store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("staff_left"));
    assert_room_gone(&mut chat.inspector, &room.jid).await;
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclean_leave_then_rejoin_within_grace_resumes_the_chat() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let room = chat.busy().await;
    let client_password = chat.store.room(&room.jid).await.unwrap().unwrap().password;
    // The client's connection ends (its stream closes; another session of the account is up):
    // the bot's ping to the old session bounces, so the leave is unclean.
    let again = Person::connect_as(&chat.prosody, "client", "again").await;
    std::mem::replace(&mut chat.client, again).quit().await;
    wait_status(&chat.store, &room.jid, Status::Closing).await;
    chat.client
        .join(&room.jid, "Visitor", &client_password)
        .await
        .expect("rejoin");
    wait_status(&chat.store, &room.jid, Status::Busy).await;
    assert_eq!(
        chat.history(&room.jid).await[3..],
        h(&[("closing", "left_unclean"), ("busy", "rejoined")])
    );
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_leave_cannot_come_back_and_closing_times_out() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let room = chat.busy().await;
    chat.client.leave(&room.jid, "Visitor", "Clean Exit");
    wait_status(&chat.store, &room.jid, Status::Closing).await;
    // Coming back after a clean exit counts as a third person.
    chat.client
        .join(&room.jid, "Visitor", &room.password)
        .await
        .unwrap();
    assert!(chat.client.removed_from(&room.jid).await.has(STATUS_KICKED));
    // The staff member stays: after timeouts.closing they are removed and the room closes.
    // (Kicked, or the room destroyed under them: ejabberd may deliver the destroy first.)
    let removed = chat.staff.removed_from(&room.jid).await;
    assert!(
        removed.has(STATUS_KICKED) || removed.destroyed,
        "{removed:?}"
    );
    let row = wait_status(&chat.store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("closing_timeout"));
    assert_room_gone(&mut chat.inspector, &room.jid).await;
    chat.finish().await;
}

/// The README's slack on `timeouts.idle`: a silent chat is closed within a second after it.
const IDLE_SLACK: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_chat_closes_at_idle_timeout() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let idle = chat.bot_idle();
    let room = chat.staffed().await;
    // The limit runs from the client's join, the last thing that happens in a silent chat: the
    // bot saw it after `joining` and before `seen_busy`.
    let joining = Instant::now();
    let busy = client_in(&chat.store, &mut chat.client, &room, "Visitor").await;
    let seen_busy = Instant::now();
    chat.client.removed_from(&room.jid).await;
    let removed = Instant::now();
    chat.staff.removed_from(&room.jid).await;
    let row = wait_status(&chat.store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("idle_timeout"));
    // As the people in the room see it: not before the limit, and within the slack after it.
    assert!(
        removed - joining >= idle,
        "removed {:?} after the join, before timeouts.idle ({idle:?})",
        removed - joining
    );
    assert!(
        removed - seen_busy <= idle + IDLE_SLACK,
        "removed {:?} after the chat began, more than {:?} after it",
        removed - seen_busy,
        IDLE_SLACK
    );
    // As the bot's own clock wrote it: from `busy` to `closed`.
    let took = (row.closed_at.unwrap() - busy.status_changed_at)
        .to_std()
        .unwrap();
    assert!(
        took >= idle && took <= idle + IDLE_SLACK,
        "busy to closed in {took:?}, for timeouts.idle = {idle:?}"
    );
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_keep_a_chat_from_idling() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let idle = chat.bot_idle();
    let room = chat.busy().await;
    // idle is 4 s: talk for 6 s, a message every second, each one recorded before the next.
    let id = chat.store.room_id(&room.jid).await.unwrap().unwrap();
    let (mut said, mut recorded) = (Instant::now(), Instant::now());
    for i in 1..=6 {
        tokio::time::sleep(Duration::from_secs(1)).await; // time passing, not a wait for the bot
        said = Instant::now();
        chat.client.say(&room.jid, &format!("message {i}"));
        wait_for(Duration::from_secs(10), "the message recorded", || {
            let store = chat.store.clone();
            async move { (store.transcript(id, 0).await.unwrap().len() == i).then_some(()) }
        })
        .await;
        recorded = Instant::now();
    }
    // The sixth message was recorded in a busy room, 6 s after the chat began: no idle limit ran.
    assert_eq!(
        chat.history(&room.jid).await,
        h(&[
            ("available", "created"),
            ("staffed", "staff_joined"),
            ("busy", "client_joined"),
        ])
    );
    // Then silence: the limit runs from the last message, which the bot saw after `said` and
    // before `recorded`.
    chat.client.removed_from(&room.jid).await;
    let removed = Instant::now();
    assert!(
        removed - said >= idle && removed - recorded <= idle + IDLE_SLACK,
        "removed {:?} after the last message, for timeouts.idle = {idle:?}",
        removed - said
    );
    let row = wait_status(&chat.store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("idle_timeout"));
    let last = chat.store.transcript(id, 0).await.unwrap().pop().unwrap();
    let took = (row.closed_at.unwrap() - last.at).to_std().unwrap();
    assert!(
        took >= idle && took <= idle + IDLE_SLACK,
        "last message to closed in {took:?}, for timeouts.idle = {idle:?}"
    );
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_staff_claim_times_out_and_room_is_not_reused() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let room = claim(&chat.store, ClaimKind::Staff, "s").await;
    let row = wait_status(&chat.store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("claim_timeout"));
    assert_room_gone(&mut chat.inspector, &room.jid).await;
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_client_claim_changes_the_password() {
    let mut chat = Chat::start(TestDb::sqlite()).await;
    let room = chat.staffed().await;
    let first = claim(&chat.store, ClaimKind::Client, "visitor-who-never-came").await;
    assert_eq!(first.jid, room.jid);
    // After timeouts.claim the bot sets a new password and clears the claim.
    let row = wait_for(Duration::from_secs(15), "password rotation", || {
        let store = chat.store.clone();
        let jid = room.jid.clone();
        async move {
            store
                .room(&jid)
                .await
                .unwrap()
                .filter(|r| r.client_claim.is_none())
        }
    })
    .await;
    assert_ne!(row.password, first.password);
    assert_eq!(row.status, Status::Staffed);
    // The old password no longer opens the room; a new claim gets the new one.
    assert_eq!(
        chat.client
            .join(&room.jid, "Visitor", &first.password)
            .await
            .err(),
        Some(IqError::Error("not-authorized".into()))
    );
    let second = claim(&chat.store, ClaimKind::Client, "visitor-2").await;
    assert_eq!(
        (second.jid.as_str(), second.password.as_str()),
        (room.jid.as_str(), row.password.as_str())
    );
    chat.client
        .join(&room.jid, "Visitor", &second.password)
        .await
        .unwrap();
    wait_status(&chat.store, &room.jid, Status::Busy).await;
    chat.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_destroys_unclaimed_rooms_and_restart_picks_up_the_rest() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut config = bot_config(&prosody, &db);
    config.timeouts.idle = Duration::from_secs(60);
    let bot = RunningBot::start(config.clone(), store.clone());
    let mut staff = Person::connect(&prosody, "staff").await;
    let mut client = Person::connect(&prosody, "client").await;
    let mut inspector = Person::connect(&prosody, "inspector").await;
    let room = claim(&store, ClaimKind::Staff, "s").await;
    staff
        .join(&room.jid, "Counsellor", &room.password)
        .await
        .unwrap();
    wait_status(&store, &room.jid, Status::Staffed).await;
    let c = claim(&store, ClaimKind::Client, "c").await;
    client.join(&c.jid, "Visitor", &c.password).await.unwrap();
    wait_status(&store, &room.jid, Status::Busy).await;
    let spare = wait_ready_rooms(&store, 2).await;

    bot.stop().await.unwrap();
    for r in &spare {
        let row = store.room(&r.jid).await.unwrap().unwrap();
        assert_eq!(
            (row.status, row.close_reason.as_deref()),
            (Status::Closed, Some("shutdown"))
        );
        assert_room_gone(&mut inspector, &r.jid).await;
    }
    assert_eq!(
        store.room(&room.jid).await.unwrap().unwrap().status,
        Status::Busy
    );

    // A new run picks the chat up: it goes on, and its end is seen.
    let bot = RunningBot::start(config, store.clone());
    wait_ready_rooms(&store, 2).await;
    staff.say(&room.jid, "still here");
    client.leave(&room.jid, "Visitor", "Clean Exit");
    wait_status(&store, &room.jid, Status::Closing).await;
    staff.leave(&room.jid, "Counsellor", "Clean Exit");
    let row = wait_status(&store, &room.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("all_left"));
    bot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_bot_does_not_leave_its_rooms_on_the_server() {
    let prosody = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let bot = RunningBot::start(bot_config(&prosody, &db), store.clone());
    let rooms = wait_ready_rooms(&store, 2).await;
    bot.stop().await.unwrap();
    let mut inspector = Person::connect(&prosody, "inspector").await;
    for r in rooms {
        assert_room_gone(&mut inspector, &r.jid).await;
    }
}

/// A chat in progress with time limits long enough for a rejoin to be decided by who rejoins,
/// not by the clock (grace and closing 30 s, idle 60 s).
struct GraceChat {
    prosody: XmppServer,
    db: TestDb,
    store: Store,
    bot: RunningBot,
    staff: Person,
    client: Person,
    room: ClaimedRoom,
    /// The `busy` row.
    row: helpim_bot::store::RoomRow,
}

impl GraceChat {
    async fn start(db: TestDb) -> GraceChat {
        let prosody = XmppServer::start();
        let store = db.store().await;
        let mut config = bot_config(&prosody, &db);
        config.timeouts.rejoin_grace = Duration::from_secs(30);
        config.timeouts.closing = Duration::from_secs(30);
        config.timeouts.idle = Duration::from_secs(60);
        let bot = RunningBot::start(config, store.clone());
        let mut staff = Person::connect(&prosody, "staff").await;
        let mut client = Person::connect(&prosody, "client").await;
        let (room, _) = staff_in(&store, &mut staff, "Counsellor").await;
        let row = client_in(&store, &mut client, &room, "Visitor").await;
        GraceChat {
            prosody,
            db,
            store,
            bot,
            staff,
            client,
            room,
            row,
        }
    }
}

/// A role belongs to the person who took it: after the counsellor's connection drops, another
/// account that knows the password and takes the counsellor's nick is kicked, not seated; the
/// counsellor still comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_from_another_account_with_the_staff_nick_is_kicked_not_seated() {
    // Every field bound: what is not named would be dropped at once (the database, the client).
    let GraceChat {
        prosody,
        db: _db,
        store,
        bot,
        staff,
        client: _client,
        room,
        row,
    } = GraceChat::start(TestDb::sqlite()).await;
    assert_eq!(row.staff_jid.as_deref(), Some("staff@localhost"));
    assert_eq!(row.client_jid.as_deref(), Some("client@localhost"));

    // The counsellor's connection ends: the bot's ping finds no session, an unclean leave.
    staff.quit().await;
    wait_status(&store, &room.jid, Status::Closing).await;
    let mut eve = Person::connect(&prosody, "eve").await;
    eve.join(&room.jid, "Counsellor", &row.password)
        .await
        .expect("the server lets her in: the password is right");
    // The kick shows the bot has decided about her join.
    assert!(eve.removed_from(&room.jid).await.has(STATUS_KICKED));
    let reasons = |events: Vec<helpim_bot::store::EventRow>| -> Vec<String> {
        events.into_iter().map(|e| e.reason).collect()
    };
    assert_eq!(
        reasons(store.events(&room.jid).await.unwrap())
            .last()
            .map(String::as_str),
        Some("left_unclean"),
        "the impostor was not taken for the counsellor"
    );
    assert_eq!(
        store.room(&room.jid).await.unwrap().unwrap().status,
        Status::Closing
    );

    let mut staff = Person::connect(&prosody, "staff").await;
    staff
        .join(&room.jid, "Counsellor", &row.password)
        .await
        .expect("the counsellor comes back");
    wait_status(&store, &room.jid, Status::Busy).await;
    assert_eq!(
        reasons(store.events(&room.jid).await.unwrap())[3..],
        ["left_unclean", "rejoined"]
    );
    bot.stop().await.unwrap();
}

/// A visitor whose page was refreshed comes back with a new JID: without a fresh claim that is
/// someone else; with the web application's re-claim for the same label, it is the client again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reclaim_lets_the_client_back_in_with_a_new_jid() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let GraceChat {
            prosody,
            db: _db,
            store,
            bot,
            staff: _staff,
            client,
            room,
            row,
        } = GraceChat::start(db).await;
        // The page is refreshed: the old session ends (the bot's ping to it bounces).
        client.quit().await;
        wait_status(&store, &room.jid, Status::Closing).await;

        // The refreshed page logs in anew: another JID (here another account).
        let mut refreshed = Person::connect(&prosody, "client2").await;
        let label = row.client_claim.clone().unwrap();
        assert!(
            store
                .reclaim_client(&room.jid, "someone else")
                .await
                .unwrap()
                .is_none(),
            "a re-claim needs the label of the first claim"
        );
        let again = store
            .reclaim_client(&room.jid, &label)
            .await
            .unwrap()
            .expect("the chat's own label re-claims it");
        refreshed
            .join(&room.jid, "Visitor", &again.password)
            .await
            .unwrap();
        let row = wait_status(&store, &room.jid, Status::Busy).await;
        assert_eq!(
            row.client_jid.as_deref(),
            Some("client2@localhost"),
            "{}",
            store.kind()
        );
        assert_eq!(
            store
                .events(&room.jid)
                .await
                .unwrap()
                .last()
                .map(|e| e.reason.clone()),
            Some("rejoined".to_string())
        );
        bot.stop().await.unwrap();
    }
}
