//! Leaves without the clean status end to end (docs/protocol.md, "Leaving a chat"), on Prosody
//! or ejabberd (`HELPIM_TEST_XMPP`): a client that leaves a busy room without a status text while
//! its session stays left on purpose (the bot's ping reaches it); a client whose session ended
//! dropped out (the ping bounces) and may come back within the rejoin grace.

mod support;

use std::time::Duration;

use helpim_bot::core::types::Status;
use helpim_bot::store::{ClaimedRoom, Store};
use helpim_bot::xmpp::stanza::STATUS_KICKED;
use helpim_bot::xmpp::SessionEvent;
use support::*;

/// The bot's line for the visitor when the counsellor left on purpose (i18n/bot/en.ftl).
const LEFT_LINE: &str = "Counsellor has left the chat.";

/// A chat in progress with a rejoin grace long enough to be decided by who rejoins, not by the
/// clock.
struct Busy {
    server: XmppServer,
    _db: TestDb,
    store: Store,
    bot: RunningBot,
    staff: Person,
    client: Person,
    room: ClaimedRoom,
}

async fn busy(db: TestDb) -> Busy {
    let server = XmppServer::start();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    config.timeouts.rejoin_grace = Duration::from_secs(30);
    config.timeouts.closing = Duration::from_secs(30);
    config.timeouts.idle = Duration::from_secs(60);
    let bot = RunningBot::start(config, store.clone());
    let mut staff = Person::connect(&server, "staff").await;
    let mut client = Person::connect(&server, "client").await;
    let (room, _) = staff_in(&store, &mut staff, "Counsellor").await;
    client_in(&store, &mut client, &room, "Visitor").await;
    Busy {
        server,
        _db: db,
        store,
        bot,
        staff,
        client,
        room,
    }
}

/// The reasons of the room's transitions, in order.
async fn reasons(store: &Store, jid: &str) -> Vec<String> {
    let events = store.events(jid).await.unwrap();
    events.into_iter().map(|e| e.reason).collect()
}

/// The bodies `person` hears in `room` until the room echoes their own `marker` back (everything
/// the room sent before it reached them first).
async fn heard_until_echo(person: &mut Person, room: &str, marker: &str) -> Vec<String> {
    person.say(room, marker);
    let mut bodies = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, person.events.recv()).await {
            Ok(Some(SessionEvent::Message(m))) if m.room.as_str() == room => {
                if m.body == marker {
                    return bodies;
                }
                bodies.push(m.body);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("{} never heard its own {marker:?}", person.user),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_without_status_while_its_session_stays_leaves_cleanly() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let Busy {
            server,
            _db,
            store,
            bot,
            mut staff,
            mut client,
            room,
        } = busy(db).await;
        let kind = store.kind();
        staff.leave_without_status(&room.jid, "Counsellor");
        // The visitor's client saw no clean status; the bot's line says the counsellor left.
        client.heard(&room.jid, LEFT_LINE).await;
        let row = wait_status(&store, &room.jid, Status::Closing).await;
        assert_eq!(
            reasons(&store, &room.jid).await.last().map(String::as_str),
            Some("left_clean"),
            "{kind}: {row:?}"
        );
        // A clean leave has no rejoin grace: back under the nick, the counsellor is kicked.
        staff
            .join(&room.jid, "Counsellor", &row.password)
            .await
            .expect("the server lets them in: the password is right");
        assert!(
            staff.removed_from(&room.jid).await.has(STATUS_KICKED),
            "{kind}"
        );
        // The visitor ends too: the room closes at once, not after timeouts.closing.
        client.leave(&room.jid, "Visitor", "Clean Exit");
        let row = wait_status(&store, &room.jid, Status::Closed).await;
        assert_eq!(row.close_reason.as_deref(), Some("all_left"), "{kind}");
        bot.stop().await.unwrap();
        drop(server);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_session_ended_dropped_out_and_may_come_back() {
    let Busy {
        server,
        _db,
        store,
        bot,
        staff,
        mut client,
        room,
    } = busy(TestDb::sqlite()).await;
    let password = store.room(&room.jid).await.unwrap().unwrap().password;
    // The stream closes: the server ends the session and the room says the counsellor left,
    // without the clean status. The bot's ping finds no session.
    staff.quit().await;
    wait_status(&store, &room.jid, Status::Closing).await;
    assert_eq!(
        reasons(&store, &room.jid).await.last().map(String::as_str),
        Some("left_unclean")
    );
    // The bot wrote the transition after the answer to its ping, in the same turn it would have
    // said the line: nothing of it reached the visitor before their own next message.
    let heard = heard_until_echo(&mut client, &room.jid, "hello?").await;
    assert!(!heard.iter().any(|b| b == LEFT_LINE), "{heard:?}");
    // The counsellor logs in again and is back in the chat.
    let mut staff = Person::connect(&server, "staff").await;
    staff
        .join(&room.jid, "Counsellor", &password)
        .await
        .expect("rejoin");
    wait_status(&store, &room.jid, Status::Busy).await;
    assert_eq!(
        reasons(&store, &room.jid).await[3..],
        ["left_unclean", "rejoined"]
    );
    bot.stop().await.unwrap();
}
