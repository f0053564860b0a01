//! The bot's own protocol (core/protocol/, docs/protocol.md): who may ask what, requests,
//! answers, the examples of the documentation.

use std::collections::HashMap;

use xmpp_parsers::minidom::Element;

use super::harness::*;
use super::*;
use crate::core::protocol::visitor_label;
use crate::core::{Input, Query};
use crate::xmpp::stanza::PresenceKind;

#[test]
fn a_stranger_is_refused_every_command_and_the_refusal_is_logged() {
    let mut w = full_pool();
    w.now = secs(1);
    for (from, node) in [
        ("mallory@evil.example/x", "request-chat"),
        ("mallory@evil.example/x", "take-chat"),
        (VISITOR, "take-chat"),
        (VISITOR, "status"),
        ("staff@localhost/c", "request-chat"),
    ] {
        let e = w.command(from, node, &[]);
        assert!(queries(&e).is_empty(), "{from} {node}: {e:?}");
        let out = sent(&e);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].contains("type='error'") && out[0].contains("<forbidden"),
            "{from} {node}: {}",
            out[0]
        );
    }
    // Each one sees only the commands it may run.
    let list = |from: &str, w: &mut World| {
        let xml = format!("<iq xmlns='jabber:client' type='get' id='l' from='{from}' to='bot@localhost/helpim-bot'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>");
        let iq = xmpp_parsers::iq::Iq::try_from(xml.parse::<Element>().unwrap()).unwrap();
        let e = w.input(Input::Request(
            crate::xmpp::adhoc::read_request(&iq).unwrap(),
        ));
        sent(&e)[0].clone()
    };
    let v = list(VISITOR, &mut w);
    assert!(
        v.contains("node='request-chat'") && !v.contains("node='take-chat'"),
        "{v}"
    );
    let s = list("staff@localhost/c", &mut w);
    assert!(
        s.contains("node='take-chat'") && !s.contains("node='request-chat'"),
        "{s}"
    );
    // Each item names the session asked: clients send the command to the item's JID.
    assert_eq!(
        s.matches("<item ").count(),
        s.matches("jid='bot@localhost/helpim-bot'").count(),
        "{s}"
    );
    assert!(!list("mallory@evil.example/x", &mut w).contains("<item"));
}

#[test]
fn a_visitor_hears_closed_while_nobody_is_on_duty_and_is_queued_once_someone_is() {
    let mut w = full_pool();
    w.now = secs(1);
    let e = request_chat(&mut w);
    assert!(queries(&e).is_empty());
    assert!(
        sent(&e)[0].contains("<value>closed</value>"),
        "{:?}",
        sent(&e)
    );
    // A staff member's client tells the bot it is there: the help line is open.
    w.now = secs(2);
    w.direct("staff@localhost/console", PresenceKind::Available);
    assert_eq!(w.core.staff_on_duty(), 1);
    // Someone over the web waits already.
    w.store.wait(None, "first", secs(2));
    w.store.next_id = 41;
    w.now = secs(3);
    let e = request_chat(&mut w);
    let q = queries(&e);
    let [Query::Enqueue {
        label,
        jid,
        nick,
        topic,
        max_length,
        priority,
        priority_reason,
        answers,
        unanswered,
    }] = &q[..]
    else {
        panic!("one enqueue: {e:?}")
    };
    // No questions before the chat are configured: no answers, no priority.
    assert_eq!((*priority, priority_reason, answers.len()), (0, &None, 0));
    assert!(!unanswered);
    // The key itself is never stored: the label is its hash.
    assert_eq!(label, &visitor_label(KEY));
    assert!(!label.contains(KEY) && label.starts_with("sha256:") && label.len() == 7 + 64);
    assert_eq!(
        (jid.as_str(), nick.as_str(), topic.as_deref(), *max_length),
        (VISITOR, "Sam", Some("exams"), 100)
    );
    let out = sent(&e);
    assert!(
        out[0].contains("status='completed'") && out[0].contains("<value>queued</value>"),
        "{out:?}"
    );
    assert!(
        out[0].contains("You are number 2 in the queue."),
        "{}",
        out[0]
    );
    // Going off duty closes the help line again.
    w.now = secs(4);
    w.direct("staff@localhost/console", PresenceKind::Unavailable);
    assert_eq!(w.core.staff_on_duty(), 0);
}

#[test]
fn the_queue_full_and_a_blocked_key_are_told_apart_and_a_short_key_is_a_bad_request() {
    let mut w = full_pool();
    w.now = secs(1);
    w.direct("staff@localhost/console", PresenceKind::Available);
    w.now = secs(2);
    // The queue is full (queue.max_length = 100).
    for _ in 0..100 {
        w.store.wait(None, "someone", secs(1));
    }
    let e = request_chat(&mut w);
    assert!(
        sent(&e)[0].contains("<value>busy</value>"),
        "{:?}",
        sent(&e)
    );
    // The key is blocked.
    w.store.queue.clear();
    w.store.blocked.insert(visitor_label(KEY));
    let e = request_chat(&mut w);
    assert!(
        sent(&e)[0].contains("<value>blocked</value>"),
        "{:?}",
        sent(&e)
    );
    w.now = secs(3);
    let e = w.command(
        VISITOR,
        "request-chat",
        &[("nick", "Sam"), ("key", "short")],
    );
    assert!(queries(&e).is_empty());
    assert!(sent(&e)[0].contains("<bad-request"), "{:?}", sent(&e));
}

#[test]
fn taking_a_chat_invites_the_staff_member_and_stops_at_max_chats() {
    let mut w = staffed_pool(); // staff@localhost is in room-1
    assert_eq!(
        w.core.staff_on_duty(),
        1,
        "a staff member in a room is on duty"
    );
    let take = |w: &mut World, room: u32| {
        let e = w.command("staff@localhost/console", "take-chat", &[]);
        let q = queries(&e);
        if let Some(Query::TakeChat(label)) = q.first() {
            assert_eq!(label, "xmpp:staff@localhost");
            assert!(
                q.contains(&Query::Claims(room_jid(room).to_string())),
                "the room learns of its claim: {e:?}"
            );
        }
        sent(&e)
    };
    let out = take(&mut w, 2);
    assert!(
        out.iter()
            .any(|s| s.contains("to='staff@localhost/console'")
                && s.contains("jabber:x:conference")
                && s.contains("password='pw-2'")),
        "{out:?}"
    );
    assert!(
        out.iter().any(|s| s.contains("<value>taken</value>")),
        "{out:?}"
    );
    // One room staffed, one claimed: max_chats = 2 is reached.
    w.now = secs(3);
    let out = take(&mut w, 3);
    assert!(out[0].contains("<value>limit</value>"), "{out:?}");
}

#[test]
fn only_a_staff_member_in_the_room_can_block_its_visitor() {
    let mut w = busy_pool();
    let e = w.command(
        "staff@localhost/console",
        "block-visitor",
        &[("room", "room-2@conference.localhost"), ("reason", "abuse")],
    );
    assert!(queries(&e).is_empty());
    assert!(sent(&e)[0].contains("<forbidden"), "{:?}", sent(&e));
    let e = w.command(
        "staff@localhost/console",
        "block-visitor",
        &[("reason", "abuse"), ("duration", "7d")],
    );
    let q = queries(&e);
    let [Query::BlockVisitor {
        room,
        until,
        reason,
        by,
    }] = &q[..]
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (room.as_str(), reason.as_str(), by.as_str()),
        ("room-1@conference.localhost", "abuse", "staff@localhost")
    );
    assert_eq!(*until, Some(secs(4) + chrono::Duration::days(7)));
}

#[test]
fn a_submitted_form_missing_a_required_field_comes_back_with_its_values_and_a_note() {
    let mut w = busy_pool();
    // request-chat without a nick: the form again, the topic kept, a note saying what is missing.
    let e = w.command(
        "v@anon.localhost/1",
        "request-chat",
        &[("nick", " "), ("topic", "exams")],
    );
    assert!(queries(&e).is_empty(), "{e:?}");
    let [answer] = &sent(&e)[..] else {
        panic!("{e:?}")
    };
    assert!(answer.contains("status='executing'"), "{answer}");
    assert!(
        answer.contains("<note type='warn'>Please give a name"),
        "{answer}"
    );
    assert!(answer.contains("<value>exams</value>"), "{answer}");
    assert!(
        answer.contains("var='nick'") && answer.contains("<required/>"),
        "{answer}"
    );
    // block-visitor without a reason: the same, the duration kept.
    let e = w.command(
        "staff@localhost/console",
        "block-visitor",
        &[("duration", "7d")],
    );
    assert!(queries(&e).is_empty(), "{e:?}");
    let [answer] = &sent(&e)[..] else {
        panic!("{e:?}")
    };
    assert!(answer.contains("status='executing'"), "{answer}");
    assert!(
        answer.contains("<note type='warn'>Please give a reason"),
        "{answer}"
    );
    assert!(answer.contains("<value>7d</value>"), "{answer}");
    // A first execute without a form gets the blank form and no note.
    let e = w.command("v@anon.localhost/1", "request-chat", &[]);
    let [answer] = &sent(&e)[..] else {
        panic!("{e:?}")
    };
    assert!(
        answer.contains("status='executing'") && !answer.contains("<note"),
        "{answer}"
    );
}

#[test]
fn after_a_new_session_a_staff_member_whose_session_bounces_is_off_duty() {
    let console = "staff@localhost/console";
    let phone = "staff@localhost/phone";
    let mut w = full_pool();
    w.now = secs(1);
    w.direct(console, PresenceKind::Available);
    w.direct(phone, PresenceKind::Available);
    assert_eq!(w.core.staff_on_duty(), 1, "one person, two sessions");
    // Both sessions ended while the bot had none; the pings of the new session wait.
    w.muc.hold = true;
    w.now = secs(2);
    let e = w.input(Input::Online { fresh: true });
    let pings: Vec<_> = iqs(&e)
        .into_iter()
        .filter(|x| x.contains("urn:xmpp:ping") && x.contains("staff@localhost/"))
        .collect();
    assert_eq!(pings.len(), 2, "{e:?}");
    w.muc.gone.insert(console.into());
    w.muc.gone.insert(phone.into());
    let e = w.serve_to(console);
    assert!(writes(&e).is_empty(), "a staff member is not a queue row");
    assert_eq!(w.core.staff_on_duty(), 1, "the phone is still there");
    w.serve_to(phone);
    assert_eq!(w.core.staff_on_duty(), 0);
}
/// The examples of docs/protocol.md, by name: `<!-- example: NAME -->` before a fenced block.
pub(super) fn doc_examples() -> HashMap<String, String> {
    let doc = include_str!("../../../docs/protocol.md");
    let mut out = HashMap::new();
    let mut rest = doc;
    while let Some(i) = rest.find("<!-- example: ") {
        rest = &rest[i + 14..];
        let name = rest[..rest.find(" -->").unwrap()].to_string();
        let start = rest.find("```xml\n").unwrap() + 7;
        let end = start + rest[start..].find("```").unwrap();
        out.insert(name, rest[start..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// An element as text without the whitespace between elements (the docs are indented).
pub(super) fn canonical(xml: &str) -> String {
    fn strip(e: &Element) -> Element {
        let mut b = Element::builder(e.name(), e.ns());
        for ((_, k), v) in e.attrs() {
            b = b.attr(k.clone(), v.clone());
        }
        for node in e.nodes() {
            match node {
                xmpp_parsers::minidom::Node::Element(c) => b = b.append(strip(c)),
                xmpp_parsers::minidom::Node::Text(t) if !t.trim().is_empty() => {
                    b = b.append(t.clone())
                }
                xmpp_parsers::minidom::Node::Text(_) => {}
            }
        }
        b.build()
    }
    let e: Element = xml.trim().parse().unwrap_or_else(|e| panic!("{e}: {xml}"));
    String::from(&strip(&e))
}

/// The examples of docs/protocol.md, to hold what the bot accepts and sends against them.
pub(super) struct Examples(HashMap<String, String>);

impl Examples {
    /// Every named example of docs/protocol.md.
    pub(super) fn read() -> Examples {
        Examples(doc_examples())
    }

    /// Example `name`, as written.
    pub(super) fn get(&self, name: &str) -> String {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("docs/protocol.md has no example {name}"))
            .clone()
    }

    /// Example `name`, a command request, as the bot reads it.
    pub(super) fn request(&self, name: &str) -> Input {
        let xml = self.get(name);
        let iq = xmpp_parsers::iq::Iq::try_from(xml.trim().parse::<Element>().unwrap()).unwrap();
        Input::Request(
            crate::xmpp::adhoc::read_request(&iq)
                .unwrap_or_else(|| panic!("{name} is not read as a request")),
        )
    }

    /// Asserts that `sent` is example `name` (attribute order and layout aside).
    pub(super) fn same(&self, name: &str, sent: &str) {
        assert_eq!(
            canonical(sent),
            canonical(&self.get(name)),
            "docs/protocol.md, example {name}"
        );
    }
}

#[test]
fn the_examples_of_the_protocol_documentation_are_what_the_bot_accepts_and_sends() {
    let docs = Examples::read();
    let doc = |name: &str| docs.get(name);
    let request = |name: &str| docs.request(name);
    // The pushes to staff on duty have their own examples (shift.rs): left out here.
    let sent = |e: &[Event]| -> Vec<String> {
        sent(e)
            .into_iter()
            .filter(|x| !x.contains("urn:helpim:staff:0"))
            .collect()
    };
    let same = |name: &str, sent: &str| docs.same(name, sent);
    // Three rooms ready, four at most; a staff member on duty, in no room yet.
    let mut w = world_with(Settings {
        max_rooms: 4,
        ..settings()
    });
    w.input(Input::Online { fresh: true });
    // The list of commands names the bot's full JID, the one it was asked of.
    let e = w.input(request("command-list"));
    same("command-list-staff", &sent(&e)[0]);
    w.direct("staff@localhost/console", PresenceKind::Available);
    // The visitor's directed presence is read as one.
    let p = xmpp_parsers::presence::Presence::try_from(
        doc("visitor-presence").trim().parse::<Element>().unwrap(),
    )
    .unwrap();
    assert!(
        p.to.is_some()
            && crate::xmpp::stanza::room_presence(&xmpp_parsers::presence::Presence {
                from: Some(xmpp_parsers::jid::Jid::new(VISITOR).unwrap()),
                ..p
            })
            .is_some()
    );
    // Request a chat, queued behind someone over the web.
    w.now = secs(1);
    w.store.next_id = 40;
    w.store.wait(None, "first", secs(1));
    let e = w.input(request("request-chat"));
    let q = queries(&e);
    let [Query::Enqueue { nick, topic, .. }] = &q[..] else {
        panic!("{e:?}")
    };
    assert_eq!((nick.as_str(), topic.as_deref()), ("Sam", Some("exams")));
    same("request-chat-queued", &sent(&e)[0]);
    // Busy: the rows went (expired), and the queue is full; then blocked.
    w.store.queue.clear();
    for _ in 0..100 {
        w.store.wait(None, "someone", secs(1));
    }
    let e = w.input(request("request-chat"));
    same("request-chat-busy", &sent(&e)[0]);
    w.store.queue.clear();
    w.store.blocked.insert(visitor_label(KEY));
    let e = w.input(request("request-chat"));
    same("request-chat-blocked", &sent(&e)[0]);
    // The visitor waits, first in line, with a pace of 30 assignments in the half hour: at the
    // next read of the places (6 s) they hear it.
    w.store.blocked.clear();
    w.store.wait(Some(VISITOR), "Sam", secs(1));
    w.store.queue.last_mut().unwrap().label = visitor_label(KEY);
    w.store.pace = 30;
    let e = w.until(secs(6));
    same("queue-update", &sent(&e)[0]);
    // The staff member takes room-1 (their claim, then their join): the visitor is invited.
    w.store
        .claims
        .get_mut(&room_jid(1).to_string())
        .unwrap()
        .staff_at = Some(secs(6));
    w.now = secs(7);
    for row in w.store.queue.iter_mut().filter(|r| r.nick == "Sam") {
        row.topic = Some("exams".into());
    }
    let mut e = w.enter(&room_jid(1), "staff");
    e.extend(w.until(secs(8)));
    let out = sent(&e);
    let of = |what: &str| {
        out.iter()
            .find(|x| x.contains(what))
            .unwrap_or_else(|| panic!("no {what}: {out:?}"))
    };
    same("invitation", of("jabber:x:conference"));
    // The room is named for whose chat it is.
    same("room-subject", of("<subject"));
    // The next sweep finds nobody waiting.
    w.until(secs(10));
    // Leave, resume: read as the commands they are.
    let e = w.input(request("leave-queue"));
    assert!(matches!(&queries(&e)[..], [Query::LeaveQueue(j)] if j == VISITOR));
    let e = w.input(request("resume-chat"));
    assert!(
        matches!(&queries(&e)[..], [Query::Resume { label, .. }] if *label == visitor_label(KEY))
    );
    // A stranger.
    let e = w.input(request("forbidden-request"));
    same("forbidden", &sent(&e)[0]);
    // Staff: take a chat, the status.
    let e = w.input(request("take-chat"));
    let out = sent(&e);
    same("take-chat-invitation", &out[0]);
    same("take-chat-taken", &out[1]);
    let e = w.input(request("status-request"));
    same("status", &sent(&e)[0]);
}

#[test]
fn a_session_flooding_commands_is_refused_for_a_while_and_others_are_still_answered() {
    let mut w = staffed_pool();
    let start = w.now;
    let flood = "v@anon.localhost/flood";
    let mut refused = 0;
    for _ in 0..200 {
        let e = w.command(flood, "line-status", &[]);
        if sent(&e)[0].contains("<resource-constraint") {
            refused += 1;
        }
    }
    // Twenty in the window, the rest refused: try again later.
    assert_eq!(refused, 200 - crate::core::protocol::RATE_LIMIT as usize);
    // Another visitor is answered as usual meanwhile.
    let e = w.command("w@anon.localhost/1", "line-status", &[]);
    assert!(sent(&e)[0].contains("status='completed'"), "{:?}", sent(&e));
    // Once the window has passed, the flooding session is answered again.
    w.until(start + chrono::Duration::seconds(10));
    let e = w.command(flood, "line-status", &[]);
    assert!(sent(&e)[0].contains("status='completed'"), "{:?}", sent(&e));
}

#[test]
fn staff_who_ask_for_the_bots_presence_are_approved_and_asked_back_and_their_ordinary_presence_puts_them_on_duty(
) {
    let mut w = full_pool();
    w.now = secs(1);
    // What a standard client sends when a person adds the bot to their roster, read as the
    // session reads it.
    let read = |xml: &str| match crate::xmpp::codec::read_element(xml.parse::<Element>().unwrap()) {
        crate::xmpp::codec::Inbound::Presence(p) => Input::Presence(p),
        other => panic!("{other:?}"),
    };
    let ask = |from: &str| {
        read(&format!(
            "<presence xmlns='jabber:client' type='subscribe' from='{from}' to='bot@localhost'/>"
        ))
    };
    // The presences the bot sent (`sent` leaves presences out).
    let presences = |e: &[Event]| -> Vec<String> {
        e.iter()
            .filter_map(|e| match e {
                Event::Sent { xml, .. } if xml.starts_with("<presence") => Some(xml.clone()),
                _ => None,
            })
            .collect()
    };
    let e = w.input(ask("staff@localhost"));
    let out = presences(&e);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out[0].contains("type='subscribed'") && out[0].contains("to='staff@localhost'"),
        "{out:?}"
    );
    assert!(
        out[1].contains("type='subscribe'") && out[1].contains("to='staff@localhost'"),
        "{out:?}"
    );
    assert_eq!(w.core.staff_on_duty(), 0, "asking is not being on duty");
    // Anyone else is refused, and nothing else happens.
    for stranger in ["mallory@evil.example", "v1@anon.localhost"] {
        let e = w.input(ask(stranger));
        let out = presences(&e);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].contains("type='unsubscribed'"), "{out:?}");
        assert!(writes(&e).is_empty() && queries(&e).is_empty());
    }
    // Once subscribed, the server forwards the staff member's ordinary (undirected) presence:
    // on duty; and off duty when that session goes.
    w.input(read("<presence xmlns='jabber:client' from='staff@localhost/converse' to='bot@localhost/helpim-bot'><show>away</show></presence>"));
    assert_eq!(w.core.staff_on_duty(), 1);
    w.input(read("<presence xmlns='jabber:client' type='unavailable' from='staff@localhost/converse' to='bot@localhost/helpim-bot'/>"));
    assert_eq!(w.core.staff_on_duty(), 0);
}

#[test]
fn a_staffed_room_whose_visitor_was_invited_but_never_joined_blocks_nobody() {
    let mut w = assigned_not_seated();
    // The form offers no chat: there is nobody seated to block.
    let e = w.command("staff@localhost/console", "block-visitor", &[]);
    assert!(queries(&e).is_empty(), "{e:?}");
    let [answer] = &sent(&e)[..] else {
        panic!("{e:?}")
    };
    assert!(
        answer.contains("status='completed'")
            && answer.contains("<note type='warn'>No visitor has joined your chat")
            && !answer.contains("room-1@"),
        "{answer}"
    );
    // Naming the room anyway, with a reason: refused with a note, no block asked of the store,
    // nobody removed, the invited visitor's label not blocked.
    for fields in [
        &[("room", "room-1@conference.localhost"), ("reason", "abuse")][..],
        &[
            ("room", "room-1@conference.localhost"),
            ("reason", "abuse"),
            ("duration", "forever"),
        ][..],
    ] {
        let e = w.command("staff@localhost/console", "block-visitor", fields);
        assert!(queries(&e).is_empty(), "{e:?}");
        assert!(iqs(&e).iter().all(|x| !x.contains("muc#admin")), "{e:?}");
        let [answer] = &sent(&e)[..] else {
            panic!("{e:?}")
        };
        assert!(
            answer.contains("<value>none</value>")
                && answer.contains("<note type='warn'>No visitor has joined this chat"),
            "{answer}"
        );
    }
    assert!(w.store.blocked.is_empty());
    // Once the visitor is seated (busy), the same form offers the chat by their nick and blocks
    // exactly them.
    w.now = secs(4);
    w.enter_as(
        &room_jid(1),
        Occupant {
            nick: "Sam".into(),
            jid: VISITOR.into(),
            affiliation: "none".into(),
        },
    );
    assert_eq!(w.core.counts().by_status[2], 1, "busy");
    let form = sent(&w.command("staff@localhost/console", "block-visitor", &[]))[0].clone();
    assert!(
        form.contains("<option label='Sam'><value>room-1@conference.localhost</value></option>"),
        "{form}"
    );
    let e = w.command(
        "staff@localhost/console",
        "block-visitor",
        &[("room", "room-1@conference.localhost"), ("reason", "abuse")],
    );
    assert!(
        matches!(&queries(&e)[..], [Query::BlockVisitor { room, .. }] if room == "room-1@conference.localhost"),
        "{e:?}"
    );
    assert_eq!(
        w.store.blocked.iter().collect::<Vec<_>>(),
        [&visitor_label(KEY)]
    );
    assert!(
        iqs(&e)
            .iter()
            .any(|x| x.contains("muc#admin") && x.contains("nick='Sam'")),
        "Sam is removed: {e:?}"
    );
}

#[test]
fn at_most_a_thousand_commands_wait_for_the_database_and_the_next_is_told_to_try_later() {
    use crate::core::protocol::MAX_IN_FLIGHT;
    let mut w = staffed_pool();
    w.now = secs(3);
    // The database is slow: every request waits for it. Each from its own session (the
    // per-session rate limit is not what is tested here), with its own key.
    w.store.hold = true;
    let ask = |w: &mut World, n: usize| {
        let key = format!("held-key-{n:06}-of-128-bits-at-least");
        w.command(
            &format!("v{n}@anon.localhost/web"),
            "request-chat",
            &[("nick", "V"), ("key", &key)],
        )
    };
    for n in 0..MAX_IN_FLIGHT {
        let e = ask(&mut w, n);
        assert!(
            sent(&e).is_empty(),
            "{n}: answered before the database: {e:?}"
        );
    }
    assert_eq!(w.store.held.len(), MAX_IN_FLIGHT);
    // One more: refused at once, nothing asked of the database.
    let e = ask(&mut w, MAX_IN_FLIGHT);
    let [refusal] = &sent(&e)[..] else {
        panic!("{e:?}")
    };
    assert!(
        refusal.contains("type='error'") && refusal.contains("<resource-constraint"),
        "{refusal}"
    );
    assert_eq!(w.store.held.len(), MAX_IN_FLIGHT);
    // The database answers: every waiting one hears (the first is given room-1, 99 wait, the
    // rest hear the queue is full: `queue.max_length` 100), and a later visitor's request goes
    // to the database again: the last place.
    let answered = w.release();
    assert_eq!(
        sent(&answered)
            .iter()
            .filter(|s| s.contains("node='request-chat'") && s.contains("status='completed'"))
            .count(),
        MAX_IN_FLIGHT
    );
    let e = ask(&mut w, MAX_IN_FLIGHT + 1);
    assert!(matches!(&queries(&e)[..], [Query::Enqueue { .. }]), "{e:?}");
    assert!(
        sent(&e).iter().any(|s| s.contains("<value>queued</value>")
            && s.contains("var='position'><value>100</value>")),
        "{e:?}"
    );
}
