//! Database loss: with PostgreSQL stopped for 30 s while chats start and end, the bot keeps
//! serving XMPP and writes every change, in order, once the database is back.

mod support;

use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use helpim_bot::store::ClaimKind;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_delays_writes_and_loses_none() {
    let prosody = XmppServer::start();
    let pg = PgCluster::start();
    let db = TestDb::at(pg.url());
    let store = db.store().await;
    let mut config = bot_config(&prosody, &db);
    config.timeouts.claim = Duration::from_secs(120);
    config.timeouts.idle = Duration::from_secs(120);
    let bot = RunningBot::start(config, store.clone());
    let mut staff = Person::connect(&prosody, "staff").await;
    let mut staff2 = Person::connect(&prosody, "staff2").await;
    let mut client2 = Person::connect(&prosody, "client2").await;

    // A chat in progress, and a claim made just before the outage.
    let (busy, _) = staff_in(&store, &mut staff2, "S2").await;
    client_in(&store, &mut client2, &busy, "C2").await;
    // The pool is full (2 ready of 3 rooms) before the claim...
    let rooms_before = wait_for(Duration::from_secs(10), "a full pool", || {
        let store = store.clone();
        async move {
            let rows = store.rooms(true).await.unwrap();
            let ready = rows
                .iter()
                .filter(|r| r.status == Status::Available && r.staff_claim.is_none())
                .count();
            (ready == 2 && rows.len() == 3).then_some(rows.len())
        }
    })
    .await;
    let claimed = claim(&store, ClaimKind::Staff, "S1").await;
    // ...and the bot has read the claim when it makes a room to replace the claimed one.
    wait_for(
        Duration::from_secs(10),
        "a room for the claimed one",
        || {
            let store = store.clone();
            async move { (store.rooms(true).await.unwrap().len() > rooms_before).then_some(()) }
        },
    )
    .await;

    pg.stop_server();
    let down = Instant::now();
    // While the database is away, chats start and end on XMPP as usual.
    staff
        .join(&claimed.jid, "S1", &claimed.password)
        .await
        .unwrap();
    client2.say(&busy.jid, "are you there?");
    staff2.heard(&busy.jid, "are you there?").await;
    client2.leave(&busy.jid, "C2", "Clean Exit");
    // The server (and so the bot) has the client's leave before the staff member's.
    staff2.sees_leave(&busy.jid, "C2").await;
    staff2.leave(&busy.jid, "S2", "Clean Exit");
    staff.leave(&claimed.jid, "S1", "Clean Exit");
    let inspector = Person::connect(&prosody, "inspector").await;
    // The rooms were destroyed on the server although nothing could be written.
    wait_for(
        Duration::from_secs(10),
        "rooms destroyed during the outage",
        || {
            let (inspector, a, b) = (&inspector, claimed.jid.clone(), busy.jid.clone());
            async move {
                (!room_exists(inspector, &a).await && !room_exists(inspector, &b).await)
                    .then_some(())
            }
        },
    )
    .await;
    // The outage lasts 30 s: time passing, not a wait for the bot.
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;
    pg.start_server();

    // Every change lands, in order.
    let row = wait_status(&store, &claimed.jid, Status::Closed).await;
    assert_eq!(row.close_reason.as_deref(), Some("staff_left"));
    let reasons = |events: Vec<helpim_bot::store::EventRow>| -> Vec<String> {
        events
            .into_iter()
            .map(|e| format!("{}:{}", e.to_status, e.reason))
            .collect()
    };
    assert_eq!(
        reasons(store.events(&claimed.jid).await.unwrap()),
        [
            "available:created",
            "staffed:staff_joined",
            "closed:staff_left"
        ]
    );
    wait_status(&store, &busy.jid, Status::Closed).await;
    assert_eq!(
        reasons(store.events(&busy.jid).await.unwrap()),
        [
            "available:created",
            "staffed:staff_joined",
            "busy:client_joined",
            "closing:left_clean",
            "closed:all_left"
        ]
    );
    let id = store.room_id(&busy.jid).await.unwrap().unwrap();
    let transcript = store.transcript(id, 0).await.unwrap();
    assert_eq!(transcript.len(), 1);
    assert_eq!(transcript[0].body.as_deref(), Some("are you there?"));
    // The pool was refilled meanwhile and its rooms are recorded too.
    wait_ready_rooms(&store, 2).await;
    assert_rows_match_server(&store, &inspector).await;
    bot.stop().await.unwrap();
}
