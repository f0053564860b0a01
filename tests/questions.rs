//! Questions before the chat over a real server and database (SPEC §14, docs/protocol.md
//! "Request a chat", docs/database.md "Questions, registrations, feedback"): visitors answer the
//! help line's questions with `request-chat`; one whose answer matches the priority rule, who
//! came after two others, is first in line and served first while the others' places move;
//! the staff member is told the answers and why; once the rows end only the answers kept for
//! the reports remain.
//!
//! Run on ejabberd too: `HELPIM_TEST_XMPP=ejabberd cargo test --test questions`.

mod support;

use std::time::Duration;

use helpim_bot::core::questions::Questions;
use helpim_bot::core::types::Status;
use helpim_bot::store::Store;
use support::*;

/// The help line's questions before the chat, as an operator writes them in bot.toml.
const QUESTIONS: &str = r#"
[[before]]
var = "safe"
type = "yes-no"
label = { en = "Are you safe right now?", nl = "Ben je nu veilig?", ar = "هل أنت بأمان الآن؟" }
required = true
priority = "no"
statistics = true

[[before]]
var = "more"
type = "text"
label = { en = "Anything else?", nl = "Nog iets?", ar = "شيء آخر؟" }
"#;

/// Waits for the headline that tells `person` who is coming to their chat.
async fn told_who_is_coming(person: &mut Person) -> (String, xmpp_parsers::minidom::Element) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline.into(), person.events.recv()).await {
            Ok(Some(helpim_bot::xmpp::SessionEvent::OtherMessage(m))) => {
                if let Some(v) = m
                    .payloads
                    .iter()
                    .find(|p| p.is("visitor", "urn:helpim:staff:0") && p.attr("room").is_some())
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

/// The answers stored for queue row `id`: question, answer, kept.
async fn answers_of(store: &Store, id: i64) -> Vec<(String, String, bool)> {
    store
        .all_queue_answers()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.0 == id)
        .map(|(_, q, a, k)| (q, a, k))
        .collect()
}

fn answer(q: &str, a: &str, kept: bool) -> (String, String, bool) {
    (q.to_string(), a.to_string(), kept)
}

/// With `keep_names` the help line keeps visitor names (`privacy.keep_visitor_names`): the
/// answers not kept for the reports go all the same.
async fn a_visitor_with_priority_is_served_first_and_staff_see_why(db: TestDb, keep_names: bool) {
    let server = XmppServer::start();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    config.questions = toml::from_str::<Questions>(QUESTIONS).expect("the questions");
    config.privacy.keep_visitor_names = keep_names;
    let _bot = RunningBot::start(config, store.clone());
    wait_ready_rooms(&store, 2).await;
    let mut staff = Person::connect(&server, "staff").await;
    staff.present_to_bot();

    // The form asks the questions after nick, topic and key.
    let ana = Person::visitor(&server, "Ana").await;
    ana.present_to_bot();
    let form = ana.command("request-chat", &[]).await.unwrap();
    let vars: Vec<String> = form
        .children()
        .flat_map(|x| x.children())
        .filter_map(|f| f.attr("var").map(str::to_string))
        .collect();
    assert!(
        vars.ends_with(&["key".into(), "q-safe".into(), "q-more".into()]),
        "{vars:?}"
    );
    // A required question not answered: the form again, saying so.
    let again = ana
        .command(
            "request-chat",
            &[("nick", "Ana"), ("key", "Ana-key-of-128-bits-at-least")],
        )
        .await
        .unwrap();
    assert_eq!(again.attr("status"), Some("executing"));
    assert_eq!(note(&again), "Please answer: Are you safe right now?");

    // Ana and Ben wait; Cem, who is not safe, comes third and is first in line.
    let mut waiting = Vec::new();
    for (name, safe, more) in [
        ("Ana", "yes", "exams"),
        ("Ben", "yes", ""),
        ("Cem", "no", "my mum"),
    ] {
        let v = if name == "Ana" {
            None
        } else {
            Some(Person::visitor(&server, name).await)
        };
        let key = format!("{name}-key-of-128-bits-at-least");
        let who = v.as_ref().unwrap_or(&ana);
        who.present_to_bot();
        let answer = who
            .queue_up(&[
                ("nick", name),
                ("key", &key),
                ("q-safe", safe),
                ("q-more", more),
            ])
            .await;
        let id: i64 = field(&answer, "queue-id").unwrap().parse().unwrap();
        waiting.push((v, id, field(&answer, "position").unwrap()));
    }
    let places: Vec<&str> = waiting.iter().map(|(_, _, p)| p.as_str()).collect();
    assert_eq!(places, ["1", "2", "1"], "Cem is first in line when he asks");
    let (ana_id, ben_id, cem_id) = (waiting[0].1, waiting[1].1, waiting[2].1);
    let mut ana = ana;
    let mut ben = waiting[1].0.take().unwrap();
    let mut cem = waiting[2].0.take().unwrap();
    // The others' places move: Ana is second now, Ben third.
    assert_eq!(ana.place_update().await.0, 2);
    assert_eq!(ben.place_update().await.0, 3);
    for (id, place) in [(cem_id, 1), (ana_id, 2), (ben_id, 3)] {
        assert_eq!(
            store.queue_state(id).await.unwrap().unwrap().position,
            place
        );
    }
    assert_eq!(
        answers_of(&store, cem_id).await,
        [answer("safe", "no", true), answer("more", "my mum", false)]
    );
    assert_eq!(
        answers_of(&store, ben_id).await,
        [answer("safe", "yes", true)]
    );

    // The staff member's list shows Cem first, with why.
    let list = staff.command("waiting-visitors", &[]).await.unwrap();
    let text = String::from(&list);
    let (cem_at, ana_at) = (
        text.find("<value>Cem</value>"),
        text.find("<value>Ana</value>"),
    );
    assert!(cem_at.is_some() && cem_at < ana_at, "{text}");
    assert!(
        text.contains("<value>Are you safe right now?: No</value>"),
        "{text}"
    );

    // A room is taken: Cem is given it and the staff member is told why and his answers.
    let answer_taken = staff.command("take-chat", &[]).await.unwrap();
    let (room, password) = staff.invited().await;
    assert_eq!(field(&answer_taken, "room").as_deref(), Some(room.as_str()));
    staff.join(&room, "Counsellor", &password).await.unwrap();
    let (body, v) = told_who_is_coming(&mut staff).await;
    assert_eq!(v.attr("nick"), Some("Cem"), "{body}");
    assert_eq!(v.attr("priority"), Some("1"));
    assert_eq!(v.attr("why"), Some("Are you safe right now?: No"));
    let told: Vec<(String, String)> = v
        .children()
        .map(|a| (a.attr("label").unwrap_or_default().to_string(), a.text()))
        .collect();
    assert_eq!(
        told,
        [
            ("Are you safe right now?".to_string(), "No".to_string()),
            ("Anything else?".to_string(), "my mum".to_string())
        ]
    );
    let (to, visitor_password) = cem.invited().await;
    assert_eq!(to, room);
    cem.join(&room, "Cem", &visitor_password).await.unwrap();
    wait_status(&store, &room, Status::Busy).await;
    wait_queue(&store, cem_id, "served").await;
    assert_eq!(
        store.queue_state(ana_id).await.unwrap().unwrap().position,
        1
    );

    // Ana gives up waiting; Cem's chat ends. Only the answers kept for the reports remain.
    let left = ana.command("leave-queue", &[]).await.unwrap();
    assert_eq!(field(&left, "status").as_deref(), Some("left"));
    cem.leave(&room, "Cem", "Clean Exit");
    staff.leave(&room, "Counsellor", "Clean Exit");
    wait_status(&store, &room, Status::Closed).await;
    wait_for(
        Duration::from_secs(15),
        "the answers not kept erased",
        || {
            let store = store.clone();
            async move {
                let all = store.all_queue_answers().await.unwrap();
                let ended = |id: i64| all.iter().filter(|a| a.0 == id).count() == 1;
                (ended(cem_id) && ended(ana_id)).then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        answers_of(&store, cem_id).await,
        [answer("safe", "no", true)]
    );
    assert_eq!(
        answers_of(&store, ana_id).await,
        [answer("safe", "yes", true)]
    );
    // Ben still waits: his answers stay with his row.
    assert_eq!(
        answers_of(&store, ben_id).await,
        [answer("safe", "yes", true)]
    );
    ben.drain();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_with_priority_is_served_first_and_staff_see_why_on_sqlite() {
    a_visitor_with_priority_is_served_first_and_staff_see_why(TestDb::sqlite(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_help_line_that_keeps_names_still_erases_the_answers_not_kept() {
    a_visitor_with_priority_is_served_first_and_staff_see_why(TestDb::sqlite(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_with_priority_is_served_first_and_staff_see_why_on_postgres() {
    a_visitor_with_priority_is_served_first_and_staff_see_why(TestDb::postgres().await, false)
        .await;
}
