//! Handover (docs/protocol.md, "Handover") with real clients on the real server (Prosody, or
//! ejabberd with `HELPIM_TEST_XMPP=ejabberd`): a staff member hands a busy chat to a named
//! colleague or back to the queue; the visitor's own presence stream shows the colleague
//! entering before the first staff member leaves, and never a room without staff; the lines
//! before and after are one chat's. Nobody in time, or a decline, leaves the chat with the first,
//! who is told; a kill -9 of the bot mid-handover loses neither the visitor nor the chat.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use helpim_bot::store::Store;
use helpim_bot::xmpp::adhoc::NS_CONFERENCE;
use helpim_bot::xmpp::handover::NS_STAFF;
use helpim_bot::xmpp::stanza::PresenceKind;
use helpim_bot::xmpp::{Joined, SessionEvent};
use support::*;
use xmpp_parsers::minidom::Element;

const KEY: &str = "aGFuZG92ZXIta2V5LW9mLWFuYQ";

/// A help line: a server, a database and the bot (in-process), with its pool ready; claims
/// (and so handovers) last `claim`, chats are not idle-closed during a test.
struct HelpLine {
    server: XmppServer,
    store: Store,
    _db: TestDb,
    _bot: RunningBot,
}

async fn help_line(db: TestDb, claim: Duration) -> HelpLine {
    let server = XmppServer::start();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    config.timeouts.claim = claim;
    config.timeouts.idle = Duration::from_secs(300);
    let bot = RunningBot::start(config, store.clone());
    wait_ready_rooms(&store, 2).await;
    HelpLine {
        server,
        store,
        _db: db,
        _bot: bot,
    }
}

/// What the visitor sees of the room, in order: who is inside at each step.
struct Visitor {
    person: Person,
    room: String,
    inside: BTreeSet<String>,
    /// Every presence seen after the join: (nick, entered).
    seen: Vec<(String, bool)>,
    heard: Vec<String>,
}

impl Visitor {
    /// Reads what came in until `done` holds (15 s at most), checking after every presence that
    /// someone besides the bot is with the visitor.
    async fn until(&mut self, what: &str, done: impl Fn(&Visitor) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(self) {
            match tokio::time::timeout_at(deadline.into(), self.person.events.recv()).await {
                Ok(Some(SessionEvent::RoomPresence(p))) if p.room.as_str() == self.room => {
                    let entered = p.kind == PresenceKind::Available;
                    if entered {
                        self.inside.insert(p.nick.clone());
                    } else {
                        self.inside.remove(&p.nick);
                    }
                    self.seen.push((p.nick.clone(), entered));
                    assert!(
                        self.inside.iter().any(|n| n != "helpim-bot" && n != "Ana"),
                        "the visitor was left alone: {:?}",
                        self.seen
                    );
                }
                Ok(Some(SessionEvent::Message(m))) if m.room.as_str() == self.room => {
                    self.heard.push(m.body.clone())
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!(
                    "the visitor never saw {what}: {:?}, heard {:?}",
                    self.seen, self.heard
                ),
            }
        }
    }

    fn entered_before_left(&self, enters: &str, leaves: &str) -> bool {
        let entered = self.seen.iter().position(|(n, e)| n == enters && *e);
        let left = self.seen.iter().position(|(n, e)| n == leaves && !*e);
        matches!((entered, left), (Some(a), Some(b)) if a < b)
    }
}

/// Kim (staff@localhost) takes a chat and Ana (a visitor) joins it: the room is busy.
async fn chat(server: &XmppServer, store: &Store) -> (Person, Visitor) {
    let mut kim = Person::connect(server, "staff").await;
    kim.present_to_bot();
    let mut ana = Person::visitor(server, "Ana").await;
    ana.present_to_bot();
    ana.queue_up(&[("nick", "Ana"), ("topic", "money worries"), ("key", KEY)])
        .await;
    kim.command("take-chat", &[]).await.unwrap();
    let (room, password) = kim.invited().await;
    kim.join(&room, "Kim", &password).await.unwrap();
    let (to, password) = ana.invited().await;
    assert_eq!(to, room);
    let Joined { occupants, .. } = ana.join(&room, "Ana", &password).await.unwrap();
    wait_status(store, &room, Status::Busy).await;
    let inside = occupants.into_iter().map(|p| p.nick).collect();
    let visitor = Visitor {
        person: ana,
        room,
        inside,
        seen: Vec::new(),
        heard: Vec::new(),
    };
    (kim, visitor)
}

/// Waits for a message whose payload is `<name xmlns='urn:helpim:staff:0'/>`; returns the
/// message's payloads.
async fn staff_message(p: &mut Person, name: &str) -> Vec<Element> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline.into(), p.events.recv()).await {
            Ok(Some(SessionEvent::OtherMessage(m))) => {
                if m.payloads.iter().any(|x| x.is(name, NS_STAFF)) {
                    return m.payloads.clone();
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("{} never got <{name}/>", p.user),
        }
    }
}

/// The invitation with a `<handover/>` payload: room, password, the payload.
async fn handover_invitation(p: &mut Person) -> (String, String, Element) {
    let payloads = staff_message(p, "handover").await;
    let x = payloads
        .iter()
        .find(|x| x.is("x", NS_CONFERENCE))
        .expect("an XEP-0249 invitation in the same message");
    let h = payloads
        .iter()
        .find(|x| x.is("handover", NS_STAFF))
        .unwrap();
    (
        x.attr("jid").unwrap().to_string(),
        x.attr("password").unwrap().to_string(),
        h.clone(),
    )
}

/// `hand-over` with `fields`, asked again while the colleague's presence (sent from another
/// connection) has not reached the bot yet.
async fn offer(kim: &Person, fields: &[(&str, &str)]) -> Element {
    wait_for_answer(Duration::from_secs(10), "the colleague on duty", || async {
        let answer = kim.command("hand-over", fields).await.unwrap();
        (field(&answer, "status").as_deref() != Some("not-on-duty")).then_some(answer)
    })
    .await
}

fn status(answer: &Element) -> String {
    field(answer, "status").unwrap_or_else(|| panic!("no status: {}", note(answer)))
}

/// The transcript of `room`: (nick, role, body).
async fn transcript(store: &Store, room: &str) -> Vec<(String, String, String)> {
    let id = store.room_id(room).await.unwrap().unwrap();
    store
        .transcript(id, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.nick, m.role, m.body.unwrap_or_default()))
        .collect()
}

async fn wait_transcript(store: &Store, room: &str, lines: usize) -> Vec<(String, String, String)> {
    wait_for(Duration::from_secs(15), "the lines stored", || async {
        let t = transcript(store, room).await;
        (t.len() >= lines).then_some(t)
    })
    .await
}

async fn wait_outcome(store: &Store, room: &str, outcome: &str) -> helpim_bot::store::HandoverRow {
    wait_for(
        Duration::from_secs(20),
        "the handover's outcome",
        || async {
            let rows = store.handovers(room).await.unwrap();
            rows.last()
                .filter(|h| h.outcome.as_deref() == Some(outcome))
                .cloned()
        },
    )
    .await
}

async fn a_chat_handed_to_a_colleague_goes_on_with_them(db: TestDb) {
    let line = help_line(db, Duration::from_secs(30)).await;
    let (server, store) = (&line.server, &line.store);
    let (mut kim, mut ana) = chat(server, store).await;
    let room = ana.room.clone();
    let mut alex = Person::connect(server, "staff2").await;
    alex.present_to_bot();
    kim.say(&room, "before the handover");
    ana.until("the line before", |v| {
        v.heard.iter().any(|h| h == "before the handover")
    })
    .await;

    let answer = offer(
        &kim,
        &[
            ("to", "staff2@localhost"),
            ("note", "needs a Dutch speaker"),
        ],
    )
    .await;
    assert_eq!(status(&answer), "offered", "{}", note(&answer));
    let (to, password, offer) = handover_invitation(&mut alex).await;
    assert_eq!(to, room);
    assert_eq!(offer.attr("from"), Some("Kim"));
    assert_eq!(offer.attr("note"), Some("needs a Dutch speaker"));
    assert_eq!(offer.attr("topic"), Some("money worries"));
    alex.join(&room, "Alex", &password).await.unwrap();
    // The room is Alex's: busy → busy, reason handover, Kim is told and leaves cleanly.
    let payloads = staff_message(&mut kim, "handed-over").await;
    let told = payloads
        .iter()
        .find(|x| x.is("handed-over", NS_STAFF))
        .unwrap();
    assert_eq!(
        (told.attr("room"), told.attr("to")),
        (Some(room.as_str()), Some("Alex"))
    );
    let row = wait_for(Duration::from_secs(10), "the seat stored", || async {
        let row = store.room(&room).await.unwrap().unwrap();
        (row.staff_nick.as_deref() == Some("Alex")).then_some(row)
    })
    .await;
    assert_eq!(row.status, Status::Busy);
    assert_eq!(row.staff_jid.as_deref(), Some("staff2@localhost"));
    let events = store.events(&room).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (
            last.from_status.as_deref(),
            last.to_status.as_str(),
            last.reason.as_str(),
            last.nick.as_deref()
        ),
        (Some("busy"), "busy", "handover", Some("Alex"))
    );
    kim.leave(&room, "Kim", "Clean Exit");
    ana.until("Kim leave", |v| v.entered_before_left("Alex", "Kim"))
        .await;
    // The chat goes on, in the same chat.
    alex.say(&room, "after the handover");
    ana.until("the line after", |v| {
        v.heard.iter().any(|h| h == "after the handover")
    })
    .await;
    ana.person.say(&room, "thank you");
    alex.heard(&room, "thank you").await;
    let lines = wait_transcript(store, &room, 3).await;
    assert_eq!(
        lines,
        [
            ("Kim".into(), "staff".into(), "before the handover".into()),
            ("Alex".into(), "staff".into(), "after the handover".into()),
            ("client".into(), "client".into(), "thank you".into()),
        ]
    );
    let h = wait_outcome(store, &room, "done").await;
    assert_eq!(h.from_jid, "staff@localhost");
    assert_eq!(h.to_jid.as_deref(), Some("staff2@localhost"));
    assert_eq!(
        store.room(&room).await.unwrap().unwrap().status,
        Status::Busy
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_handed_to_a_colleague_goes_on_with_them_on_sqlite() {
    a_chat_handed_to_a_colleague_goes_on_with_them(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_handed_to_a_colleague_goes_on_with_them_on_postgres() {
    a_chat_handed_to_a_colleague_goes_on_with_them(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_handed_to_the_queue_is_given_first_by_take_chat() {
    let line = help_line(TestDb::sqlite(), Duration::from_secs(30)).await;
    let (server, store) = (&line.server, &line.store);
    let (mut kim, mut ana) = chat(server, store).await;
    let room = ana.room.clone();
    let answer = kim
        .command("hand-over", &[("to", "queue"), ("note", "end of my shift")])
        .await
        .unwrap();
    assert_eq!(status(&answer), "offered");
    // Listed first, as h:<room>.
    let mut bob = Person::connect(server, "staff3").await;
    bob.present_to_bot();
    let list = bob.command("waiting-visitors", &[]).await.unwrap();
    assert!(
        String::from(&list).contains(&format!("h:{room}")),
        "{}",
        String::from(&list)
    );
    let answer = bob.command("take-chat", &[]).await.unwrap();
    assert_eq!(status(&answer), "handover", "{}", note(&answer));
    assert_eq!(field(&answer, "room").as_deref(), Some(room.as_str()));
    let (to, password, offer) = handover_invitation(&mut bob).await;
    assert_eq!(
        (to.as_str(), offer.attr("note")),
        (room.as_str(), Some("end of my shift"))
    );
    bob.join(&room, "Bob", &password).await.unwrap();
    staff_message(&mut kim, "handed-over").await;
    kim.leave(&room, "Kim", "Clean Exit");
    ana.until("Kim leave", |v| v.entered_before_left("Bob", "Kim"))
        .await;
    let h = wait_outcome(store, &room, "done").await;
    assert_eq!(
        (h.to_jid, h.taken_by.as_deref()),
        (None, Some("staff3@localhost"))
    );
    bob.say(&room, "Bob here");
    ana.until("Bob's line", |v| v.heard.iter().any(|h| h == "Bob here"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_or_not_taken_in_time_the_chat_stays_with_the_first() {
    let line = help_line(TestDb::sqlite(), Duration::from_secs(4)).await;
    let (server, store) = (&line.server, &line.store);
    let (mut kim, mut ana) = chat(server, store).await;
    let room = ana.room.clone();
    let mut alex = Person::connect(server, "staff2").await;
    alex.present_to_bot();
    // Alex declines.
    let answer = offer(&kim, &[("to", "staff2@localhost")]).await;
    assert_eq!(status(&answer), "offered");
    handover_invitation(&mut alex).await;
    let answer = alex
        .command("decline-handover", &[("room", &room)])
        .await
        .unwrap();
    assert_eq!(status(&answer), "declined");
    let payloads = staff_message(&mut kim, "handover-expired").await;
    let told = payloads
        .iter()
        .find(|x| x.is("handover-expired", NS_STAFF))
        .unwrap();
    assert_eq!(told.attr("reason"), Some("declined"));
    wait_outcome(store, &room, "declined").await;
    // Offered again, nobody comes within timeouts.claim (4 s).
    let answer = kim.command("hand-over", &[("to", "queue")]).await.unwrap();
    assert_eq!(status(&answer), "offered");
    let payloads = staff_message(&mut kim, "handover-expired").await;
    let told = payloads
        .iter()
        .find(|x| x.is("handover-expired", NS_STAFF))
        .unwrap();
    assert_eq!(told.attr("reason"), Some("expired"));
    wait_outcome(store, &room, "expired").await;
    // The chat is Kim's still.
    let row = store.room(&room).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.staff_nick.as_deref()),
        (Status::Busy, Some("Kim"))
    );
    kim.say(&room, "still here");
    ana.until("Kim's line", |v| v.heard.iter().any(|h| h == "still here"))
        .await;
    assert!(
        ana.seen.iter().all(|(n, _)| n != "Kim"),
        "Kim never left: {:?}",
        ana.seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_in_the_middle_of_a_handover_loses_neither_visitor_nor_chat() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    let (server, store) = (&setup.server, &setup.store);
    let bot = setup.start_bot(&[]);
    wait_ready_rooms(store, 2).await;
    let (mut kim, mut ana) = chat(server, store).await;
    let room = ana.room.clone();
    kim.say(&room, "before the handover");
    ana.until("the line before", |v| {
        v.heard.iter().any(|h| h == "before the handover")
    })
    .await;
    let answer = kim.command("hand-over", &[("to", "queue")]).await.unwrap();
    assert_eq!(status(&answer), "offered");
    wait_for(Duration::from_secs(10), "the handover stored", || async {
        (!store.handovers(&room).await.unwrap().is_empty()).then_some(())
    })
    .await;

    bot.kill9();
    let bot = setup.start_bot(&[]);
    // The restarted bot knows the handover: Bob's take-chat gives it to him.
    let mut bob = Person::connect(server, "staff3").await;
    bob.present_to_bot();
    let answer = wait_for_answer(
        Duration::from_secs(30),
        "the bot back with the handover",
        || {
            let bob = &bob;
            async move {
                let answer = bob.command("take-chat", &[]).await.ok()?;
                (field(&answer, "status").as_deref() == Some("handover")).then_some(answer)
            }
        },
    )
    .await;
    assert_eq!(
        field(&answer, "room").as_deref(),
        Some(room.as_str()),
        "{}",
        bot.log()
    );
    let (_, password, _) = handover_invitation(&mut bob).await;
    // Kim's console repeats its presence to the bot every minute (web/staff.js): the restarted
    // bot knows her session again, and the answer to her next command says it was read.
    kim.present_to_bot();
    kim.command("status", &[]).await.unwrap();
    bob.join(&room, "Bob", &password).await.unwrap();
    staff_message(&mut kim, "handed-over").await;
    kim.leave(&room, "Kim", "Clean Exit");
    ana.until("Kim leave", |v| v.entered_before_left("Bob", "Kim"))
        .await;
    bob.say(&room, "after the handover");
    ana.until("the line after", |v| {
        v.heard.iter().any(|h| h == "after the handover")
    })
    .await;
    let lines = wait_transcript(store, &room, 2).await;
    assert_eq!(
        lines,
        [
            ("Kim".into(), "staff".into(), "before the handover".into()),
            ("Bob".into(), "staff".into(), "after the handover".into()),
        ]
    );
    let h = wait_outcome(store, &room, "done").await;
    assert_eq!(h.taken_by.as_deref(), Some("staff3@localhost"));
    let row = store.room(&room).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.staff_nick.as_deref()),
        (Status::Busy, Some("Bob"))
    );
    drop(bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_kill_9_a_handover_nobody_takes_expires_and_the_chat_stays_with_the_first() {
    let setup = Setup::patient(TestDb::sqlite()).await;
    // Handovers (and claims) last 8 s here.
    let text = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(
        &setup.config,
        text.replace("claim = \"60s\"", "claim = \"8s\""),
    )
    .unwrap();
    let (server, store) = (&setup.server, &setup.store);
    let bot = setup.start_bot(&[]);
    wait_ready_rooms(store, 2).await;
    let (kim, mut ana) = chat(server, store).await;
    let room = ana.room.clone();
    let mut alex = Person::connect(server, "staff2").await;
    alex.present_to_bot();
    let answer = offer(&kim, &[("to", "staff2@localhost")]).await;
    assert_eq!(status(&answer), "offered");
    handover_invitation(&mut alex).await;
    wait_for(Duration::from_secs(10), "the handover stored", || async {
        (!store.handovers(&room).await.unwrap().is_empty()).then_some(())
    })
    .await;

    bot.kill9();
    let bot = setup.start_bot(&[]);
    // Nobody comes: the restored handover expires; the chat is Kim's, the visitor still with her.
    let h = wait_outcome(store, &room, "expired").await;
    assert_eq!(
        h.to_jid.as_deref(),
        Some("staff2@localhost"),
        "{}",
        bot.log()
    );
    let row = store.room(&room).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.staff_nick.as_deref()),
        (Status::Busy, Some("Kim"))
    );
    // The chat goes on with Kim; Alex is too late (a third person, removed).
    kim.say(&room, "still with you");
    ana.until("Kim's line", |v| {
        v.heard.iter().any(|h| h == "still with you")
    })
    .await;
    let row = store.room(&room).await.unwrap().unwrap();
    alex.join(&room, "Alex", &row.password).await.unwrap();
    alex.removed_from(&room).await;
    ana.until("Alex removed", |v| {
        v.seen.iter().any(|(n, e)| n == "Alex" && !*e)
    })
    .await;
    assert!(
        ana.seen.iter().all(|(n, _)| n != "Kim"),
        "Kim never left: {:?}",
        ana.seen
    );
    assert_eq!(
        store.room(&room).await.unwrap().unwrap().status,
        Status::Busy
    );
}
