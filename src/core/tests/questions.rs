//! The questions before the chat (SPEC §14, docs/protocol.md "Request a chat"): the fields of
//! `request-chat` in the asker's language, answers that cannot be taken shown again, the
//! priority an answer gives, the queue in its order (priority first, then arrival), and staff
//! seeing why and the answers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::harness::*;
use super::*;
use crate::core::questions::{Choice, Kind, Label, Question, Questions};
use crate::core::Query;
use crate::xmpp::stanza::PresenceKind;

const CONSOLE: &str = "staff@localhost/console";

fn words(en: &str, nl: &str, ar: &str) -> Label {
    Label::ByLanguage(BTreeMap::from([
        ("en".to_string(), en.to_string()),
        ("nl".to_string(), nl.to_string()),
        ("ar".to_string(), ar.to_string()),
    ]))
}

/// Three questions before the chat: "Are you safe right now?" (yes or no, required, "no" gives
/// priority, kept for the reports), what it is about (a choice, not kept) and more (free text).
pub(super) fn questions() -> Questions {
    Questions {
        before: vec![
            Question {
                var: "safe".into(),
                kind: Kind::YesNo,
                label: words(
                    "Are you safe right now?",
                    "Ben je nu veilig?",
                    "هل أنت بأمان الآن؟",
                ),
                required: true,
                options: Vec::new(),
                priority: Some("no".into()),
                statistics: true,
            },
            Question {
                var: "about".into(),
                kind: Kind::Choice,
                label: words("What is it about?", "Waar gaat het over?", "عمّ يدور الأمر؟"),
                required: false,
                options: vec![
                    Choice {
                        value: "school".into(),
                        label: words("School", "School", "المدرسة"),
                    },
                    Choice {
                        value: "home".into(),
                        label: words("Home", "Thuis", "البيت"),
                    },
                ],
                priority: None,
                statistics: false,
            },
            Question {
                var: "more".into(),
                kind: Kind::Text,
                label: words("Anything else?", "Nog iets?", "شيء آخر؟"),
                required: false,
                options: Vec::new(),
                priority: None,
                statistics: false,
            },
        ],
        ..Questions::default()
    }
}

fn asking() -> Settings {
    Settings {
        questions: Arc::new(questions()),
        poll_interval: Duration::from_millis(500),
        ..settings()
    }
}

/// A staffed pool that asks the questions, a staff member on duty in the console.
fn open_line(settings: Settings) -> World {
    let mut w = staffed_pool_with(settings);
    w.direct(CONSOLE, PresenceKind::Available);
    w
}

fn ask(w: &mut World, from: &str, key: &str, fields: &[(&str, &str)]) -> Vec<Event> {
    let mut all = vec![("nick", "Sam"), ("topic", "exams"), ("key", key)];
    all.extend_from_slice(fields);
    w.command(from, "request-chat", &all)
}

#[test]
fn the_form_asks_the_questions_after_name_topic_and_key_in_the_askers_language() {
    let mut w = open_line(asking());
    let e = w.input(command_in(Some("nl"), VISITOR, "request-chat", &[]));
    let out = sent(&e);
    assert_eq!(out.len(), 1, "{out:?}");
    let form = &out[0];
    assert!(form.contains("status='executing'"), "{form}");
    let at = |s: &str| form.find(s).unwrap_or_else(|| panic!("no {s} in {form}"));
    assert!(at("var='key'") < at("var='q-safe'"));
    assert!(at("var='q-safe'") < at("var='q-about'") && at("var='q-about'") < at("var='q-more'"));
    for s in [
        "label='Ben je nu veilig?'",
        "label='Ja'",
        "label='Nee'",
        "<value>no</value>",
        "label='Thuis'",
        "label='Nog iets?'",
    ] {
        assert!(form.contains(s), "{s}: {form}");
    }
    assert!(queries(&e).is_empty());
}

/// Nothing was queued: the request went to the store only to take up an open row, and there
/// was none.
fn assert_nothing_queued(w: &World, e: &[Event]) {
    for q in queries(e) {
        assert!(
            matches!(
                q,
                Query::Enqueue {
                    unanswered: true,
                    ..
                }
            ),
            "only an open row may be taken up: {q:?}"
        );
    }
    assert!(w.store.queue.is_empty(), "no row: {:?}", w.store.queue);
}

#[test]
fn a_visitor_in_line_who_asks_again_without_the_answers_keeps_their_place_and_a_newcomer_is_asked()
{
    let mut w = open_line(asking());
    w.store.wait(None, "first", w.now);
    let e = ask(&mut w, VISITOR, KEY, &[("q-safe", "no")]);
    assert!(sent(&e)[0].contains("<value>queued</value>"), "{e:?}");
    let row = w.store.queue.iter().find(|r| r.nick == "Sam").unwrap().id;
    // The page is refreshed: it keeps name, topic and key, never the answers (SPEC §12), and
    // asks again without them. The same row (and so the same place), nothing asked.
    let e = ask(&mut w, VISITOR, KEY, &[]);
    let out = &sent(&e)[0];
    assert!(out.contains("<value>queued</value>"), "{out}");
    assert!(out.contains(&format!("<value>{row}</value>")), "{out}");
    assert_eq!(w.store.queue.iter().filter(|r| r.nick == "Sam").count(), 1);
    // Someone new without the answers is asked them; no row is made.
    let e = ask(
        &mut w,
        "v2@anon.localhost/web",
        "QnJhbmQtbmV3LWtleS1vZi1wYXQ",
        &[],
    );
    let out = &sent(&e)[0];
    assert!(
        out.contains("status='executing'")
            && out.contains("Please answer: Are you safe right now?"),
        "{out}"
    );
    assert_eq!(w.store.queue.len(), 2, "{:?}", w.store.queue);
}

#[test]
fn an_answer_that_cannot_be_taken_shows_the_form_again_with_what_was_given_and_why() {
    let mut w = open_line(asking());
    // Not answered: "Please answer".
    let e = ask(&mut w, VISITOR, KEY, &[("q-about", "home")]);
    assert_nothing_queued(&w, &e);
    let out = sent(&e);
    assert!(
        out[0].contains("status='executing'")
            && out[0].contains("<note type='warn'>Please answer: Are you safe right now?</note>")
            && out[0].contains("<value>home</value>")
            && out[0].contains("<value>Sam</value>"),
        "{}",
        out[0]
    );
    // Not one of the answers, in the asker's language.
    let e = w.input(command_in(
        Some("nl"),
        VISITOR,
        "request-chat",
        &[("nick", "Sam"), ("key", KEY), ("q-safe", "maybe")],
    ));
    assert_nothing_queued(&w, &e);
    assert!(
        sent(&e)[0].contains("Kies een van de antwoorden op: Ben je nu veilig?"),
        "{}",
        sent(&e)[0]
    );
    // Free text too long: the hidden status too-long.
    let long = "x".repeat(crate::core::questions::MAX_TEXT + 1);
    let e = ask(
        &mut w,
        VISITOR,
        KEY,
        &[("q-safe", "yes"), ("q-more", &long)],
    );
    assert_nothing_queued(&w, &e);
    let out = &sent(&e)[0];
    assert!(
        out.contains("status='executing'")
            && out.contains("<value>too-long</value>")
            && out
                .contains("The answer to \"Anything else?\" is too long: at most 300 characters."),
        "{out}"
    );
}

#[test]
fn an_answer_matching_a_priority_rule_queues_the_visitor_with_priority_and_why() {
    let mut w = open_line(asking());
    let e = ask(
        &mut w,
        VISITOR,
        KEY,
        &[
            ("q-safe", "no"),
            ("q-about", "school"),
            ("q-more", " my mum "),
        ],
    );
    let [Query::Enqueue {
        priority,
        priority_reason,
        answers,
        ..
    }, ..] = &queries(&e)[..]
    else {
        panic!("{e:?}")
    };
    assert_eq!(*priority, 1);
    assert_eq!(
        priority_reason.as_deref(),
        Some("Are you safe right now?: No")
    );
    let given = |q: &str, a: &str, kept: bool| (q.to_string(), a.to_string(), kept);
    assert_eq!(
        answers,
        &vec![
            given("safe", "no", true),
            given("about", "school", false),
            given("more", "my mum", false),
        ]
    );
    // Staff see why in the help line's default language, whatever the visitor's.
    let e = w.input(command_in(
        Some("nl"),
        "v2@anon.localhost/web",
        "request-chat",
        &[
            ("nick", "Kim"),
            ("key", "Zz3hXb0q9P2mZr7Lk4sNw8Tq"),
            ("q-safe", "yes"),
        ],
    ));
    let [Query::Enqueue {
        priority,
        priority_reason,
        answers,
        ..
    }, ..] = &queries(&e)[..]
    else {
        panic!("{e:?}")
    };
    assert_eq!((*priority, priority_reason.as_deref()), (0, None));
    assert_eq!(answers, &vec![given("safe", "yes", true)]);
}

#[test]
fn a_priority_visitor_who_comes_third_is_first_in_line_staff_see_why_and_the_answers() {
    // Pick mode: nobody is given a room until a staff member picks (the order is seen first).
    let mut w = open_line(Settings {
        queue_auto: false,
        ..asking()
    });
    w.store.wait(Some("a@anon.localhost/web"), "Ann", secs(2));
    w.store.wait(Some("b@anon.localhost/web"), "Bob", secs(2));
    w.now = secs(3);
    let e = ask(
        &mut w,
        VISITOR,
        KEY,
        &[("q-safe", "no"), ("q-about", "home")],
    );
    let out = sent(&e);
    assert!(
        out[0].contains("<value>queued</value>")
            && out[0].contains(
                "<field label='Place in line' type='text-single' var='position'><value>1</value>"
            ),
        "{out:?}"
    );
    // The others' places move: a push after the next sweep tells them 2 and 3.
    w.until(secs(5));
    let last = |w: &World, to: &str| {
        w.muc
            .received
            .get(to)
            .and_then(|r| r.last().cloned())
            .unwrap_or_default()
    };
    assert!(
        last(&w, "a@anon.localhost/web").contains("number 2"),
        "{}",
        last(&w, "a@anon.localhost/web")
    );
    assert!(
        last(&w, "b@anon.localhost/web").contains("number 3"),
        "{}",
        last(&w, "b@anon.localhost/web")
    );
    // The push to staff lists Sam first, with why.
    let shift = w
        .muc
        .received
        .get(CONSOLE)
        .into_iter()
        .flatten()
        .rev()
        .find(|x| x.contains("<shift "))
        .cloned()
        .unwrap();
    let sam = shift.find("nick='Sam'").expect("Sam listed");
    assert!(sam < shift.find("nick='Ann'").unwrap(), "{shift}");
    assert!(
        shift.contains("priority='1'") && shift.contains("why='Are you safe right now?: No'"),
        "{shift}"
    );
    // waiting-visitors: Sam first, priority and why.
    let e = w.command(CONSOLE, "waiting-visitors", &[]);
    let list = &sent(&e)[0];
    assert!(
        list.find("1. Sam: exams (waiting").is_some()
            && list.contains("priority: Are you safe right now?: No")
            && list.contains("<value>Are you safe right now?: No</value>"),
        "{list}"
    );
    // The staff member picks Sam: told who is coming, why and the answers.
    let id = w.store.queue.iter().find(|r| r.nick == "Sam").unwrap().id;
    let e = w.command(CONSOLE, "waiting-visitors", &[("visitor", &id.to_string())]);
    let coming: Vec<String> = sent(&e)
        .into_iter()
        .filter(|x| x.contains("is coming to your chat"))
        .collect();
    assert_eq!(coming.len(), 1, "{e:?}");
    super::protocol::Examples::read().same("visitor-coming-priority", &coming[0]);
}

#[test]
fn in_auto_mode_the_priority_visitor_is_given_the_free_room_before_those_who_came_first() {
    let mut w = open_line(asking());
    // No room free yet: room-1 takes Ann first.
    w.store.wait(None, "Ann", secs(0));
    w.store.wait(None, "Bob", secs(1));
    w.now = secs(2);
    let e = ask(&mut w, VISITOR, KEY, &[("q-safe", "no")]);
    assert!(sent(&e)[0].contains("<value>queued</value>"), "{e:?}");
    w.until(secs(4));
    let sam = w.store.queue.iter().find(|r| r.nick == "Sam").unwrap();
    assert_eq!(
        sam.room.as_deref(),
        Some(room_jid(1).as_str()),
        "{:?}",
        w.store.queue
    );
    assert!(w
        .store
        .queue
        .iter()
        .filter(|r| r.nick != "Sam")
        .all(|r| r.room.is_none()));
}

#[test]
fn live_chats_shows_the_visitors_real_priority() {
    const SUPERVISOR: &str = "sup@localhost/console";
    let mut s = asking();
    s.staff.jids.push("sup@localhost".into());
    s.staff.supervisors = vec!["sup@localhost".into()];
    let mut w = open_line(s);
    let e = ask(&mut w, VISITOR, KEY, &[("q-safe", "no")]);
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
    w.direct(SUPERVISOR, PresenceKind::Available);
    let e = w.command(SUPERVISOR, "live-chats", &[]);
    let answer = &sent(&e)[0];
    assert!(
        answer.contains("<field var='priority'><value>1</value></field>"),
        "{answer}"
    );
}
