//! After the chat (SPEC §14, core/protocol/register_chat.rs and feedback.rs): the staff member
//! registers their ended chat (a colleague cannot, a second time is `already`, a wrong answer is
//! shown again), and the visitor gives feedback about theirs with their key (another key gets
//! `no-chat`, a second time `already`, a day later `no-chat`), stored by room only.

use super::harness::*;
use super::*;
use crate::core::protocol::visitor_label;
use crate::core::questions::{Choice, Kind, Label, Question, Questions};
use crate::core::Query;

const STAFF: &str = "staff@localhost/console";
const COLLEAGUE: &str = "staff2@localhost/console";

fn question(var: &str, kind: Kind, label: Label, required: bool) -> Question {
    Question {
        var: var.into(),
        kind,
        label,
        required,
        options: Vec::new(),
        priority: None,
        statistics: false,
    }
}

/// The test settings with a colleague, a registration form (a category, a note) and two
/// feedback questions (whether the chat helped, in three languages; a comment).
fn with_questions() -> Settings {
    let mut s = settings();
    s.staff.jids.push("staff2@localhost".into());
    let category = Question {
        options: vec![
            Choice {
                value: "school".into(),
                label: Label::Same("School".into()),
            },
            Choice {
                value: "home".into(),
                label: Label::Same("Home".into()),
            },
        ],
        ..question(
            "category",
            Kind::Choice,
            Label::Same("Category".into()),
            true,
        )
    };
    let note = question("note", Kind::Text, Label::Same("Note".into()), false);
    let helped = question(
        "helped",
        Kind::YesNo,
        Label::ByLanguage(
            [
                ("en", "Did this chat help you?"),
                ("nl", "Heeft dit gesprek je geholpen?"),
                ("ar", "هل ساعدتك هذه المحادثة؟"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        ),
        true,
    );
    let comment = question(
        "comment",
        Kind::Text,
        Label::Same("Anything else?".into()),
        false,
    );
    s.questions = std::sync::Arc::new(Questions {
        before: Vec::new(),
        registration: vec![category, note],
        feedback: vec![helped, comment],
    });
    s
}

/// room-1: `staff` chatted with Sam ([`VISITOR`], about exams, with [`KEY`]) from 3 s, and both
/// left at 60 s: the chat has ended.
fn ended_chat(settings: Settings) -> World {
    let mut w = staffed_pool_with(settings);
    let e = request_chat(&mut w);
    assert!(sent(&e)[0].contains("<value>queued</value>"), "{e:?}");
    w.now = secs(3);
    w.enter_as(
        &room_jid(1),
        Occupant {
            nick: "Sam".into(),
            jid: VISITOR.into(),
            affiliation: "none".into(),
        },
    );
    assert_eq!(w.core.counts().by_status[2], 1, "busy");
    w.now = secs(60);
    w.exit(&room_jid(1), "Sam", Some("Clean Exit"));
    w.exit(&room_jid(1), "staff", Some("Clean Exit"));
    w.until(secs(61));
    assert!(
        w.store.ended_at.contains_key(&room_jid(1).to_string()),
        "the chat ended: {:?}",
        w.store.status
    );
    w
}

/// The one command answer among `events`.
fn answer(events: &[Event]) -> String {
    let out: Vec<String> = sent(events)
        .into_iter()
        .filter(|x| x.contains("http://jabber.org/protocol/commands"))
        .collect();
    assert_eq!(out.len(), 1, "{out:#?}");
    out[0].clone()
}

#[test]
fn a_staff_member_registers_their_ended_chat_once_and_a_colleague_cannot() {
    let mut w = ended_chat(with_questions());
    let room = room_jid(1).to_string();
    // The form: the chat by its visitor and when it ended, the questions, how many are left.
    let form = answer(&w.command(STAFF, "register-chat", &[]));
    assert!(form.contains("status='executing'"), "{form}");
    assert!(
        form.contains(&format!(
            "<option label='Sam — exams, ended 08:01 UTC'><value>{room}</value></option>"
        )),
        "{form}"
    );
    assert!(
        form.contains("<field type='hidden' var='unregistered'><value>1</value></field>"),
        "{form}"
    );
    assert!(
        form.contains("var='q-category'") && form.contains("var='q-note'"),
        "{form}"
    );
    // A wrong answer: the form again, the problem said, what was filled in kept.
    let e = w.command(
        STAFF,
        "register-chat",
        &[
            ("room", &room),
            ("q-category", "work"),
            ("q-note", "long talk"),
        ],
    );
    let again = answer(&e);
    assert!(again.contains("status='executing'"), "{again}");
    assert!(
        again.contains("<note type='warn'>Please choose one of the answers to: Category</note>"),
        "{again}"
    );
    assert!(again.contains("<value>long talk</value>"), "{again}");
    assert!(w.store.registrations.is_empty());
    // A colleague cannot register it: shown the (empty) form again, saying why.
    let e = w.command(
        COLLEAGUE,
        "register-chat",
        &[("room", &room), ("q-category", "home")],
    );
    let refused = answer(&e);
    assert!(refused.contains("status='executing'"), "{refused}");
    assert!(refused.contains("<value>no-chat</value>"), "{refused}");
    assert!(w.store.registrations.is_empty());
    let e = w.command(COLLEAGUE, "register-chat", &[]);
    let none = answer(&e);
    assert!(
        none.contains("status='completed'") && none.contains("<value>none</value>"),
        "{none}"
    );
    // Registered: the rows, the text not kept past the transcript's bodies.
    let e = w.command(
        STAFF,
        "register-chat",
        &[
            ("room", &room),
            ("q-category", "school"),
            ("q-note", "long talk"),
        ],
    );
    assert!(
        queries(&e).iter().any(|q| matches!(q, Query::Register { room: r, staff, .. } if *r == room && staff == "staff@localhost")),
        "{e:?}"
    );
    let done = answer(&e);
    assert!(done.contains("<value>registered</value>"), "{done}");
    assert!(
        done.contains("<field type='hidden' var='unregistered'><value>0</value></field>"),
        "{done}"
    );
    let (by, answers) = &w.store.registrations[&room];
    assert_eq!(by, "staff@localhost");
    assert_eq!(
        answers,
        &[
            ("category".to_string(), "school".to_string(), true),
            ("note".to_string(), "long talk".to_string(), false),
        ]
    );
    // A second time: already; and nothing is left to register.
    let e = w.command(
        STAFF,
        "register-chat",
        &[("room", &room), ("q-category", "home")],
    );
    assert!(answer(&e).contains("<value>already</value>"));
    assert_eq!(w.store.registrations[&room].1[0].1, "school");
    let e = w.command(STAFF, "register-chat", &[]);
    let none = answer(&e);
    assert!(none.contains("<value>none</value>"), "{none}");
    assert!(
        none.contains("Every chat of yours is registered."),
        "{none}"
    );
}

#[test]
fn a_chat_is_registered_within_seven_days_only() {
    let mut w = ended_chat(with_questions());
    w.now = secs(3) + chrono::Duration::days(7) + chrono::Duration::seconds(1);
    let e = w.command(STAFF, "register-chat", &[]);
    assert!(answer(&e).contains("<value>none</value>"));
}

#[test]
fn the_visitor_gives_feedback_once_with_their_key_and_in_their_language() {
    let mut w = ended_chat(with_questions());
    let room = room_jid(1).to_string();
    // The form in the visitor's language: the key and room hidden, the questions.
    let e = w.command_in("nl", VISITOR, "feedback", &[]);
    let form = answer(&e);
    assert!(form.contains("status='executing'"), "{form}");
    assert!(form.contains("<title>Na de chat</title>"), "{form}");
    assert!(form.contains("<field type='hidden' var='key'/>"), "{form}");
    assert!(form.contains("<field type='hidden' var='room'/>"), "{form}");
    assert!(
        form.contains("label='Heeft dit gesprek je geholpen?'")
            && form.contains("<option label='Ja'><value>yes</value></option>"),
        "{form}"
    );
    // A required question unanswered: the form again, in the visitor's words.
    let e = w.command_in("nl", VISITOR, "feedback", &[("key", KEY), ("room", &room)]);
    let again = answer(&e);
    assert!(
        again.contains(
            "<note type='warn'>Beantwoord alsjeblieft: Heeft dit gesprek je geholpen?</note>"
        ),
        "{again}"
    );
    // Another key: no such chat.
    let other = "AnotherKeyOfSomeone00000";
    let fields = [("key", other), ("room", room.as_str()), ("q-helped", "yes")];
    let e = w.command(VISITOR, "feedback", &fields);
    let no = answer(&e);
    assert!(no.contains("<value>no-chat</value>"), "{no}");
    assert!(
        no.contains("There is no recent chat of yours to tell us about."),
        "{no}"
    );
    assert!(w.store.feedback.is_empty());
    // With their key: thanks, stored by room, the label only compared.
    let fields = [
        ("key", KEY),
        ("room", room.as_str()),
        ("q-helped", "yes"),
        ("q-comment", "kind people"),
    ];
    let e = w.command(VISITOR, "feedback", &fields);
    let label = visitor_label(KEY);
    assert!(
        matches!(&queries(&e)[..], [Query::Feedback { room: r, label: l, .. }] if *r == room && *l == label),
        "{e:?}"
    );
    let thanks = answer(&e);
    assert!(thanks.contains("<value>thanks</value>"), "{thanks}");
    assert!(thanks.contains("Thank you for telling us."), "{thanks}");
    assert_eq!(
        w.store.feedback[&room],
        [
            ("helped".to_string(), "yes".to_string(), true),
            ("comment".to_string(), "kind people".to_string(), false),
        ]
    );
    // A second time: already.
    let e = w.command(VISITOR, "feedback", &fields);
    assert!(answer(&e).contains("<value>already</value>"));
    // A day after the chat began: no longer.
    w.now = secs(3) + chrono::Duration::hours(24) + chrono::Duration::seconds(1);
    let e = w.command(VISITOR, "feedback", &fields);
    assert!(answer(&e).contains("<value>no-chat</value>"));
}

#[test]
fn without_feedback_questions_the_visitor_is_asked_nothing() {
    let mut w = ended_chat(settings());
    let e = w.command(VISITOR, "feedback", &[]);
    let none = answer(&e);
    assert!(
        none.contains("status='completed'") && none.contains("<value>none</value>"),
        "{none}"
    );
}

#[test]
fn the_examples_of_register_chat_and_feedback_are_what_the_bot_sends() {
    let docs = super::protocol::Examples::read();
    let mut w = ended_chat(with_questions());
    let e = w.input(docs.request("register-chat-request"));
    docs.same("register-chat-form", &answer(&e));
    let e = w.input(docs.request("register-chat-submit"));
    docs.same("register-chat-registered", &answer(&e));
    let e = w.input(docs.request("feedback-request"));
    docs.same("feedback-form", &answer(&e));
    let e = w.input(docs.request("feedback-submit"));
    docs.same("feedback-thanks", &answer(&e));
}
