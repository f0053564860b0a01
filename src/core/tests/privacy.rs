//! What is kept of a visitor (README, "Privacy"): the transcript names the client by role, and
//! their names are erased when the chat ends, or when a queue row ends without one — unless the
//! help line keeps them (`privacy.keep_visitor_names`).

use super::harness::*;
use super::*;
use crate::core::types::Role;
use crate::core::{Input, Write};

/// A whole chat in room-1 on `settings`: the visitor Sam is queued and invited, joins, both talk,
/// both leave. Every write, in order.
fn whole_chat(settings: Settings) -> Vec<Write> {
    let room = room_jid(1);
    let mut w = staffed_pool_with(settings);
    request_chat(&mut w);
    w.now = secs(3);
    w.enter_as(
        &room,
        Occupant {
            nick: "Sam".into(),
            jid: VISITOR.into(),
            affiliation: "none".into(),
        },
    );
    w.now = secs(4);
    w.say(&room, "Sam", "hello");
    w.now = secs(5);
    w.say(&room, "staff", "hi Sam");
    w.now = secs(6);
    w.exit(&room, "Sam", Some("Clean Exit"));
    w.now = secs(7);
    w.exit(&room, "staff", Some("Clean Exit"));
    w.store.writes.iter().map(|(_, w)| w.clone()).collect()
}

fn lines(writes: &[Write]) -> Vec<(String, Role)> {
    writes
        .iter()
        .filter_map(|w| match w {
            Write::Message { nick, role, .. } => Some((nick.clone(), *role)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_transcript_names_the_client_by_role_and_a_closed_chat_is_forgotten_after_its_closing() {
    let writes = whole_chat(settings());
    assert_eq!(
        lines(&writes),
        [
            ("client".to_string(), Role::Client),
            ("staff".to_string(), Role::Staff)
        ]
    );
    let room = room_jid(1).to_string();
    let closed = writes
        .iter()
        .position(|w| matches!(w, Write::Transition { jid, transition } if *jid == room && transition.to == Status::Closed))
        .expect("the room closed");
    let forgot: Vec<usize> = (0..writes.len())
        .filter(|&i| matches!(&writes[i], Write::ForgetVisitor { jid } if *jid == room))
        .collect();
    assert_eq!(
        forgot,
        [closed + 1],
        "once, right after the closing: {writes:?}"
    );
}

#[test]
fn a_help_line_that_keeps_visitor_names_keeps_them() {
    let writes = whole_chat(Settings {
        keep_visitor_names: true,
        ..settings()
    });
    assert_eq!(
        lines(&writes),
        [
            ("Sam".to_string(), Role::Client),
            ("staff".to_string(), Role::Staff)
        ]
    );
    assert!(
        !writes
            .iter()
            .any(|w| matches!(w, Write::ForgetVisitor { .. } | Write::ForgetEnded { .. })),
        "{writes:?}"
    );
}

#[test]
fn a_help_line_that_keeps_visitor_names_still_erases_the_answers_not_kept() {
    // Sam asks without answering (no question required here).
    let mut questions = super::questions::questions();
    questions.before[0].required = false;
    let writes = whole_chat(Settings {
        keep_visitor_names: true,
        questions: std::sync::Arc::new(questions),
        ..settings()
    });
    let room = room_jid(1).to_string();
    assert!(
        writes
            .iter()
            .any(|w| matches!(w, Write::ForgetAnswers { jid: Some(j) } if *j == room)),
        "the chat's answers: {writes:?}"
    );
    assert!(
        writes
            .iter()
            .any(|w| matches!(w, Write::ForgetAnswers { jid: None })),
        "the ended rows' answers: {writes:?}"
    );
    // Without questions nothing of the kind is written.
    let writes = whole_chat(Settings {
        keep_visitor_names: true,
        ..settings()
    });
    assert!(!writes
        .iter()
        .any(|w| matches!(w, Write::ForgetAnswers { .. })));
}

#[test]
fn ended_queue_rows_are_forgotten_with_every_sweep_and_closed_rooms_looked_for_once() {
    let forgets = |e: &[Event]| {
        e.iter()
            .filter_map(|e| match e {
                Event::Write(Write::ForgetEnded { rooms }) => Some(*rooms),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let mut w = world_with(settings());
    let e = w.input(Input::Online { fresh: true });
    assert_eq!(forgets(&e), [true], "at start, with the first sweep");
    let e = w.until(secs(10));
    assert!(
        forgets(&e).len() >= 4 && forgets(&e).iter().all(|rooms| !rooms),
        "every sweep (poll interval 2 s): {e:?}"
    );
}

#[test]
fn only_the_name_of_a_variant_reaches_a_log_line() {
    let secret = Write::InsertRoom {
        jid: "room-1@conference.localhost".into(),
        password: "pw-secret".into(),
        at: secs(0),
    };
    assert_eq!(crate::core::variant(&secret), "InsertRoom");
    assert_eq!(crate::core::variant(&Some(1)), "Some");
}
