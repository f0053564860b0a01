//! The commands' forms and results for people (docs/protocol.md, "Command reference"): a
//! mistake a person can correct comes back as the form to fix, choices are lists, the machine
//! `status` is hidden, times are local and relative, the waiting list gives the place in line,
//! and a visitor's room is named for whose chat it is.

use super::harness::*;
use super::*;
use crate::core::{Input, Query};
use crate::xmpp::stanza::PresenceKind;

const KIM: &str = "staff@localhost/console";
const ALEX: &str = "alex@localhost/console";

/// The one answer (IQ) among `events`.
fn answer(events: &[harness::Event]) -> String {
    sent(events)
        .into_iter()
        .find(|s| s.starts_with("<iq"))
        .unwrap_or_else(|| panic!("no answer: {events:?}"))
}

/// A command with a `sessionid`, as the second step of a form a client fills in.
fn in_session(from: &str, node: &str, session: &str, fields: &[(&str, &str)]) -> Input {
    let fields: String = fields
        .iter()
        .map(|(k, v)| format!("<field var='{k}'><value>{v}</value></field>"))
        .collect();
    let xml = format!(
        "<iq xmlns='jabber:client' type='set' id='q2' from='{from}' to='bot@localhost'>\
         <command xmlns='http://jabber.org/protocol/commands' node='{node}' sessionid='{session}' action='complete'>\
         <x xmlns='jabber:x:data' type='submit'>{fields}</x></command></iq>"
    );
    let iq = xmpp_parsers::iq::Iq::try_from(xml.parse::<xmpp_parsers::minidom::Element>().unwrap())
        .unwrap();
    Input::Request(crate::xmpp::adhoc::read_request(&iq).expect("a command"))
}

#[test]
fn a_block_for_a_duration_that_reads_as_none_comes_back_to_correct_and_the_list_is_taken() {
    let mut w = busy_pool();
    // The blank form offers the durations as a list, one day chosen.
    let blank = answer(&w.command(KIM, "block-visitor", &[]));
    assert!(
        blank.contains(
            "<field label='For how long' type='list-single' var='duration'><value>1d</value>"
        ),
        "{blank}"
    );
    for option in [
        "<option label='1 hour'><value>1h</value></option>",
        "<option label='1 week'><value>7d</value></option>",
        "<option label='30 days'><value>30d</value></option>",
        "<option label='Permanently'><value>forever</value></option>",
    ] {
        assert!(blank.contains(option), "{option}: {blank}");
    }
    // "two days" is no duration: the same session's form again, executing, the problem in a
    // warning and in the instructions, the values kept; nothing blocked, no IQ error.
    w.now = secs(5);
    let e = w.input(in_session(
        KIM,
        "block-visitor",
        "hc9",
        &[("reason", "abuse"), ("duration", "two days")],
    ));
    assert!(queries(&e).is_empty(), "{e:?}");
    let again = answer(&e);
    assert!(
        again.contains("sessionid='hc9' status='executing'") && !again.contains("type='error'"),
        "{again}"
    );
    assert!(
        again.contains("<note type='warn'>Please choose for how long")
            && again.contains("<instructions>Please choose for how long"),
        "{again}"
    );
    assert!(
        again.contains("<value>abuse</value>") && again.contains("<value>two days</value>"),
        "{again}"
    );
    assert!(
        again.contains("<field type='hidden' var='status'><value>bad-duration</value>"),
        "{again}"
    );
    // Chosen from the list: blocked for an hour; the old free text still reads (2w).
    for (duration, hours) in [("1h", 1), ("2w", 14 * 24)] {
        let e = w.input(in_session(
            KIM,
            "block-visitor",
            "hc9",
            &[("reason", "abuse"), ("duration", duration)],
        ));
        let q = queries(&e);
        let [Query::BlockVisitor { until, .. }] = &q[..] else {
            panic!("{duration}: {e:?}")
        };
        assert_eq!(*until, Some(secs(5) + chrono::Duration::hours(hours)));
    }
}

#[test]
fn the_status_of_a_result_is_hidden_and_the_note_says_what_happened() {
    let mut w = staffed_pool();
    let taken = answer(&w.command(KIM, "take-chat", &[]));
    assert!(
        taken.contains("<field type='hidden' var='status'><value>taken</value></field>"),
        "{taken}"
    );
    assert!(
        taken
            .contains("<field type='hidden' var='room'><value>room-2@conference.localhost</value>"),
        "{taken}"
    );
    assert!(
        !taken.contains("label='Status'") && taken.contains("<note type='info'>Your room is ready"),
        "{taken}"
    );
}

#[test]
fn a_hand_over_offers_the_colleagues_on_duty_by_name_and_one_who_is_not_comes_back_to_correct() {
    let mut w = staffed_pool_with(Settings {
        staff: settings::Staff {
            jids: vec![
                "staff@localhost".into(),
                "alex@localhost".into(),
                "bob@localhost".into(),
            ],
            max_chats: 2,
            ..Default::default()
        },
        ..settings()
    });
    w.store.wait(None, "Sam", secs(2));
    w.store.queue[0].topic = Some("exams".into());
    w.until(secs(4));
    w.enter(&room_jid(1), "Sam");
    assert_eq!(w.store.status[&room_jid(1).to_string()], Status::Busy);
    w.direct(ALEX, PresenceKind::Available);
    w.now = secs(5);
    let blank = answer(&w.command(KIM, "hand-over", &[]));
    assert!(
        blank.contains("type='list-single' var='to'")
            && blank.contains("<option label='alex'><value>alex@localhost</value></option>")
            && blank.contains("<value>queue</value></option>"),
        "{blank}"
    );
    assert!(
        !blank.contains("<value>bob@localhost</value>")
            && !blank.contains("<value>staff@localhost</value>"),
        "only colleagues on duty, not oneself: {blank}"
    );
    // The chat is named by its visitor, never by the room's random name.
    assert!(
        blank.contains("<option label='Sam'><value>room-1@conference.localhost</value>"),
        "{blank}"
    );
    // Bob is not on duty: the form again, the note kept, saying so; the console's status too.
    let e = w.command(
        KIM,
        "hand-over",
        &[("to", "bob@localhost"), ("note", "needs a Dutch speaker")],
    );
    assert!(queries(&e).is_empty(), "{e:?}");
    let again = answer(&e);
    assert!(again.contains("status='executing'"), "{again}");
    assert!(
        again.contains(
            "<note type='warn'>That colleague is not on duty. Please choose someone else"
        ),
        "{again}"
    );
    assert!(
        again.contains("<value>needs a Dutch speaker</value>")
            && again.contains("<field type='hidden' var='status'><value>not-on-duty</value>"),
        "{again}"
    );
    // Alex is: the invitation names the chat as the room's subject does.
    let e = w.command(KIM, "hand-over", &[("to", "alex@localhost")]);
    let invitation = sent(&e)
        .into_iter()
        .find(|s| s.contains(&format!("to='{ALEX}'")))
        .expect("Alex is invited");
    assert!(
        invitation.contains("reason='staff hands you a chat with Sam — exams.'"),
        "{invitation}"
    );
}

#[test]
fn a_visitor_given_a_room_names_it_by_its_subject_which_is_never_a_line_of_the_chat() {
    let mut w = staffed_pool();
    let id = w.store.wait(Some(VISITOR), "Sam", secs(2));
    w.store.queue.iter_mut().find(|r| r.id == id).unwrap().topic = Some("exams".into());
    let e = w.until(secs(4));
    let subject = sent(&e)
        .into_iter()
        .find(|s| s.contains("<subject"))
        .unwrap_or_else(|| panic!("no subject: {e:?}"));
    assert!(
        subject.contains("to='room-1@conference.localhost'")
            && subject.contains("type='groupchat'")
            && subject.contains("<subject>Sam — exams</subject>")
            && !subject.contains("<body"),
        "{subject}"
    );
    // Nothing about the visitor but the nick and topic they gave.
    assert!(
        !subject.contains("anon.localhost") && !subject.contains("label-"),
        "{subject}"
    );
    // The room echoes it (and repeats it to whoever joins): no line of the chat.
    let echo = "<message xmlns='jabber:client' type='groupchat' from='room-1@conference.localhost/helpim-bot'><subject>Sam — exams</subject></message>";
    let echo = xmpp_parsers::message::Message::try_from(
        echo.parse::<xmpp_parsers::minidom::Element>().unwrap(),
    )
    .unwrap();
    assert_eq!(crate::xmpp::stanza::room_message(&echo), None);
    // Without a topic, the nick alone.
    assert_eq!(crate::core::protocol::chat_name("Sam", None), "Sam");
    assert_eq!(crate::core::protocol::chat_name("Sam", Some(" ")), "Sam");
}

#[test]
fn the_waiting_list_gives_the_place_in_line_and_the_wait_in_local_relative_words() {
    let amsterdam = Settings {
        queue_auto: false,
        hours: Some(
            crate::hours::Hours::parse(
                "Europe/Amsterdam",
                &["mon-sun 00:00-23:59".into()],
                &[],
                Duration::from_secs(600),
            )
            .unwrap(),
        ),
        ..settings()
    };
    for (settings, clock) in [
        (
            Settings {
                queue_auto: false,
                ..settings()
            },
            "08:00 UTC",
        ),
        (amsterdam, "09:00"),
    ] {
        let mut w = staffed_pool_with(settings);
        w.store.wait(None, "Sam", secs(0));
        w.store.wait(None, "Lee", secs(120));
        w.store.queue[1].topic = Some("exams".into());
        w.until(secs(240 + 4));
        w.now = secs(244);
        let list = answer(&w.command(KIM, "waiting-visitors", &[]));
        assert!(
            list.contains("<field label='Place in line' var='place'/>"),
            "{list}"
        );
        assert!(
            list.contains(&format!(
                "<field var='waiting'><value>4 min, since {clock}</value>"
            )),
            "{list}"
        );
        assert!(
            list.contains(
                "<field var='place'><value>2</value></field><field var='nick'><value>Lee</value>"
            ),
            "{list}"
        );
        // The choice reads as words; its value is still the id the console picks by.
        assert!(
            list.contains(
                "<option label='2. Lee: exams (waiting 2 min)'><value>2</value></option>"
            ),
            "{list}"
        );
    }
}

#[test]
fn the_status_reads_as_words_and_keeps_the_values_a_console_reads() {
    let mut w = full_pool();
    w.direct(KIM, PresenceKind::Available);
    w.store.wait(None, "Sam", secs(2));
    w.until(secs(4));
    w.now = secs(302);
    let status = answer(&w.command(KIM, "status", &[]));
    for field in [
        "<field label='Help line' type='text-single' var='line'><value>Open</value>",
        "<field type='hidden' var='open'><value>true</value>",
        "<field label='Longest wait' type='text-single' var='longest-wait'><value>5 min, since 08:00 UTC</value>",
        "<field type='hidden' var='oldest-wait'><value>300</value>",
    ] {
        assert!(status.contains(field), "{field}: {status}");
    }
}
