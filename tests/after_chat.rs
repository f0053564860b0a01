//! After the chat (SPEC §14, docs/protocol.md "register-chat" and "feedback") with real clients
//! on the real server (Prosody, or ejabberd with `HELPIM_TEST_XMPP=ejabberd`), the bot and a
//! real database (SQLite and PostgreSQL): a staff member registers their ended chat (a colleague
//! cannot, a second time is `already`, a wrong answer is shown again); the visitor gives feedback
//! about theirs with their key (another key gets `no-chat`, a second time `already`), and no
//! feedback row holds anything of the visitor's. The free text of both goes with the
//! transcript's bodies.

mod support;

use std::time::Duration;

use helpim_bot::core::questions::{Choice, Kind, Label, Question, Questions};
use helpim_bot::core::types::Status;
use helpim_bot::store::Store;
use support::*;
use xmpp_parsers::presence::Presence;

/// The visitor's key.
const KEY: &str = "c2VjcmV0LWtleS1vZi1zYW0y";

fn question(var: &str, kind: Kind, label: &str, required: bool) -> Question {
    Question {
        var: var.into(),
        kind,
        label: Label::Same(label.into()),
        required,
        options: Vec::new(),
        priority: None,
        statistics: false,
    }
}

/// A registration form (a category, a note) and two feedback questions (whether the chat
/// helped, a comment).
fn questions() -> Questions {
    let category = Question {
        options: ["school", "home"]
            .map(|v| Choice {
                value: v.into(),
                label: Label::Same(v.to_uppercase()),
            })
            .into(),
        ..question("category", Kind::Choice, "Category", true)
    };
    Questions {
        before: Vec::new(),
        registration: vec![category, question("note", Kind::Text, "Note", false)],
        feedback: vec![
            question("helped", Kind::YesNo, "Did this chat help you?", true),
            question("comment", Kind::Text, "Anything else?", false),
        ],
    }
}

/// Logs `user` in, available and present to the bot (on duty).
async fn on_duty(server: &XmppServer, user: &str) -> Person {
    let p = Person::connect(server, user).await;
    p.session.send(Presence::available());
    p.present_to_bot();
    p
}

/// Runs `node` for `p`: the answer's `status` field, its command status, its note.
async fn run(p: &Person, node: &str, fields: &[(&str, &str)]) -> (String, String, String) {
    let answer = p
        .command(node, fields)
        .await
        .unwrap_or_else(|e| panic!("{node}: {e}"));
    (
        field(&answer, "status").unwrap_or_default(),
        answer.attr("status").unwrap_or_default().to_string(),
        note(&answer),
    )
}

/// The columns of `feedback` and every value stored in it, as text.
async fn feedback_table(store: &Store) -> (Vec<String>, Vec<String>) {
    use sqlx::{Column, Row};
    let text = "SELECT id, room_id, question, answer, created_at, kept FROM feedback";
    let all = "SELECT * FROM feedback LIMIT 1";
    let (columns, values) = match store {
        Store::Sqlite(pool) => {
            let row = sqlx::query(all).fetch_one(pool).await.unwrap();
            let columns = row.columns().iter().map(|c| c.name().to_string()).collect();
            let rows = sqlx::query(text).fetch_all(pool).await.unwrap();
            let values = rows
                .iter()
                .flat_map(|r| {
                    [
                        r.get::<String, _>("question"),
                        r.get::<String, _>("answer"),
                        r.get::<String, _>("created_at"),
                    ]
                })
                .collect();
            (columns, values)
        }
        Store::Postgres(pool) => {
            let row = sqlx::query(all).fetch_one(pool).await.unwrap();
            let columns = row.columns().iter().map(|c| c.name().to_string()).collect();
            let rows = sqlx::query(text).fetch_all(pool).await.unwrap();
            let values = rows
                .iter()
                .flat_map(|r| [r.get::<String, _>("question"), r.get::<String, _>("answer")])
                .collect();
            (columns, values)
        }
    };
    (columns, values)
}

async fn a_chat_is_registered_by_its_staff_member_and_its_visitor_gives_feedback(db: TestDb) {
    let server = XmppServer::start();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    config.questions = questions();
    let _bot = RunningBot::start(config, store.clone());
    wait_ready_rooms(&store, 2).await;

    let mut kim = on_duty(&server, "staff").await;
    let colleague = on_duty(&server, "staff2").await;
    // Kim takes a chat; Sam asks with their key, is invited and joins.
    wait_for(Duration::from_secs(15), "a ready room to take", || {
        let kim = &kim;
        async move { (run(kim, "take-chat", &[]).await.0 == "taken").then_some(()) }
    })
    .await;
    let (room, password) = kim.invited().await;
    kim.join(&room, "Kim", &password).await.expect("Kim joins");
    wait_status(&store, &room, Status::Staffed).await;
    let mut sam = Person::visitor(&server, "Sam").await;
    sam.present_to_bot();
    sam.queue_up(&[("nick", "Sam"), ("topic", "exams"), ("key", KEY)])
        .await;
    let (to, sam_password) = sam.invited().await;
    assert_eq!(to, room);
    sam.join(&room, "Sam", &sam_password)
        .await
        .expect("Sam joins");
    wait_status(&store, &room, Status::Busy).await;
    // Nothing to register while the chat goes on.
    let (status, state, _) = run(&kim, "register-chat", &[]).await;
    assert_eq!((status.as_str(), state.as_str()), ("none", "completed"));
    // The chat ends.
    sam.leave(&room, "Sam", "Clean Exit");
    kim.leave(&room, "Kim", "Clean Exit");
    // Kim's form offers it (once the bot has recorded the end).
    let form = wait_for(Duration::from_secs(15), "the ended chat offered", || {
        let kim = &kim;
        async move {
            let answer = kim.command("register-chat", &[]).await.unwrap();
            (field(&answer, "unregistered").as_deref() == Some("1")).then_some(answer)
        }
    })
    .await;
    assert_eq!(form.attr("status"), Some("executing"));
    let x = form
        .get_child("x", helpim_bot::xmpp::stanza::NS_DATA)
        .unwrap();
    let xml = String::from(x);
    assert!(xml.contains(&format!("<value>{room}</value>")), "{xml}");
    assert!(
        xml.contains("var=\"q-category\"") || xml.contains("var='q-category'"),
        "{xml}"
    );

    // A colleague cannot register it: the form again, saying why.
    let (status, state, said) = run(
        &colleague,
        "register-chat",
        &[("room", &room), ("q-category", "home")],
    )
    .await;
    assert_eq!((status.as_str(), state.as_str()), ("no-chat", "executing"));
    assert!(said.contains("not one of yours"), "{said}");
    // A wrong answer is shown again.
    let (_, state, said) = run(
        &kim,
        "register-chat",
        &[("room", &room), ("q-category", "work")],
    )
    .await;
    assert_eq!(state, "executing");
    assert_eq!(said, "Please choose one of the answers to: Category");
    assert!(store.registration(&room).await.unwrap().is_empty());
    // Registered, once.
    let fields = [
        ("room", room.as_str()),
        ("q-category", "school"),
        ("q-note", "talked about exams"),
    ];
    let (status, state, _) = run(&kim, "register-chat", &fields).await;
    assert_eq!(
        (status.as_str(), state.as_str()),
        ("registered", "completed")
    );
    let rows = store.registration(&room).await.unwrap();
    let rows: Vec<(&str, &str, Option<&str>, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.staff.as_str(),
                r.question.as_str(),
                r.answer.as_deref(),
                r.kept,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("staff@localhost", "category", Some("school"), true),
            ("staff@localhost", "note", Some("talked about exams"), false),
        ]
    );
    let (status, _, _) = run(&kim, "register-chat", &fields).await;
    assert_eq!(status, "already");
    let (status, _, said) = run(&kim, "register-chat", &[]).await;
    assert_eq!(status, "none");
    assert_eq!(said, "Every chat of yours is registered.");

    // Sam's feedback: another key has no such chat.
    let (status, _, _) = run(
        &sam,
        "feedback",
        &[
            ("key", "another-key-of-someone-else"),
            ("room", &room),
            ("q-helped", "yes"),
        ],
    )
    .await;
    assert_eq!(status, "no-chat");
    // Their own: thanks, then already.
    let fields = [
        ("key", KEY),
        ("room", room.as_str()),
        ("q-helped", "yes"),
        ("q-comment", "it did"),
    ];
    let (status, _, said) = run(&sam, "feedback", &fields).await;
    assert_eq!(status, "thanks");
    assert_eq!(said, "Thank you for telling us.");
    let (status, _, _) = run(&sam, "feedback", &fields).await;
    assert_eq!(status, "already");
    let rows = store.feedback_rows(&room).await.unwrap();
    let rows: Vec<(&str, &str, bool)> = rows
        .iter()
        .map(|r| (r.question.as_str(), r.answer.as_str(), r.kept))
        .collect();
    assert_eq!(
        rows,
        [("helped", "yes", true), ("comment", "it did", false)]
    );
    // No row holds anything of the visitor's: no column for it, no value of theirs.
    let (columns, values) = feedback_table(&store).await;
    assert_eq!(
        columns,
        ["id", "room_id", "question", "answer", "created_at", "kept"]
    );
    // The label the bot knows the visitor by (docs/protocol.md): the SHA-256 of the key.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(KEY.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let label = format!("sha256:{hex}");
    let sam_jid = sam.jid.to_string();
    for v in &values {
        for theirs in [KEY, label.as_str(), "Sam", sam_jid.as_str(), "exams"] {
            assert!(!v.contains(theirs), "{v:?} holds {theirs:?}");
        }
    }
    kim.drain();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_is_registered_by_its_staff_member_and_its_visitor_gives_feedback_on_sqlite() {
    a_chat_is_registered_by_its_staff_member_and_its_visitor_gives_feedback(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_is_registered_by_its_staff_member_and_its_visitor_gives_feedback_on_postgres() {
    a_chat_is_registered_by_its_staff_member_and_its_visitor_gives_feedback(
        TestDb::postgres().await,
    )
    .await;
}

async fn registration_notes_and_text_feedback_go_with_the_transcripts_bodies(db: TestDb) {
    let store = db.store().await;
    db.run_script(
        "INSERT INTO rooms (id, jid, password, status, created_at, status_changed_at) VALUES
           (1, 'r1@c', 'p', 'closed', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'),
           (2, 'r2@c', 'p', 'closed', '2099-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z');
         INSERT INTO registrations (id, room_id, staff, created_at) VALUES
           (1, 1, 'kim@x', '2026-01-01T00:10:00.000Z'),
           (2, 2, 'kim@x', '2099-01-01T00:10:00.000Z');
         INSERT INTO registration_answers (registration_id, question, answer, kept) VALUES
           (1, 'category', 'school', TRUE), (1, 'note', 'old note', FALSE),
           (2, 'category', 'home', TRUE), (2, 'note', 'new note', FALSE);
         INSERT INTO feedback (room_id, question, answer, created_at, kept) VALUES
           (1, 'helped', 'yes', '2026-01-01T00:20:00.000Z', TRUE),
           (1, 'comment', 'old comment', '2026-01-01T00:20:00.000Z', FALSE),
           (2, 'helped', 'no', '2099-01-01T00:20:00.000Z', TRUE),
           (2, 'comment', 'new comment', '2099-01-01T00:20:00.000Z', FALSE);",
    )
    .await;
    let cutoff = "2026-06-01T00:00:00Z".parse().unwrap();
    assert_eq!(
        store.prune(cutoff).await.unwrap(),
        2,
        "an old note and an old comment"
    );
    let answers = |rows: Vec<helpim_bot::store::RegistrationRow>| -> Vec<Option<String>> {
        rows.into_iter().map(|r| r.answer).collect()
    };
    assert_eq!(
        answers(store.registration("r1@c").await.unwrap()),
        [Some("school".to_string()), None]
    );
    assert_eq!(
        answers(store.registration("r2@c").await.unwrap()),
        [Some("home".to_string()), Some("new note".to_string())]
    );
    let feedback = |rows: Vec<helpim_bot::store::FeedbackRow>| -> Vec<String> {
        rows.into_iter().map(|r| r.answer).collect()
    };
    assert_eq!(
        feedback(store.feedback_rows("r1@c").await.unwrap()),
        ["yes"]
    );
    assert_eq!(
        feedback(store.feedback_rows("r2@c").await.unwrap()),
        ["no", "new comment"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_notes_and_text_feedback_go_with_the_transcripts_bodies_on_sqlite() {
    registration_notes_and_text_feedback_go_with_the_transcripts_bodies(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_notes_and_text_feedback_go_with_the_transcripts_bodies_on_postgres() {
    registration_notes_and_text_feedback_go_with_the_transcripts_bodies(TestDb::postgres().await)
        .await;
}

#[test]
fn the_database_doc_shows_the_statements_after_the_chat_as_the_code_runs_them() {
    use helpim_bot::store::sql;
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/database.md")).unwrap();
    for (name, text) in [
        ("ENDED_CHATS", sql::ENDED_CHATS.postgres),
        ("FEEDBACK_ROOM", sql::FEEDBACK_ROOM.postgres),
        (
            "PRUNE_REGISTRATION_ANSWERS",
            sql::PRUNE_REGISTRATION_ANSWERS.postgres,
        ),
        ("PRUNE_FEEDBACK", sql::PRUNE_FEEDBACK.postgres),
    ] {
        assert!(
            doc.contains(text),
            "docs/database.md must show {name} exactly as the code runs it:\n{text}"
        );
    }
    for column in ["staff", "question", "answer", "kept", "registration_id"] {
        assert!(doc.contains(&format!("`{column}`")), "{column}");
    }
}
