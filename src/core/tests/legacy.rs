//! The whole bot on a simulated clock: every input is made here, every effect read back, and
//! time moves only when a test moves it.

use std::str::FromStr;

use chrono::TimeZone;

use super::super::*;
use crate::xmpp::stanza::RoomPresence;
use queue::{Enqueued, Swept};
use tokio_xmpp::Stanza;
use types::{Claims, Limits};

fn t(ms: i64) -> Time {
    Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
}

fn secs(s: i64) -> Time {
    t(s * 1000)
}

use chrono::Utc;

/// Names `room-1`, `room-2` … and passwords `pw-1`, `pw-2` …
#[derive(Default)]
struct Counter(u32, u32);

impl Secrets for Counter {
    fn room_name(&mut self, prefix: &str) -> String {
        self.0 += 1;
        format!("{prefix}-{}", self.0)
    }
    fn password(&mut self) -> String {
        self.1 += 1;
        format!("pw-{}", self.1)
    }
}

fn settings() -> Settings {
    Settings {
        service: "conference.localhost".into(),
        nick: "helpim-bot".into(),
        prefix: "room".into(),
        history: 20,
        owner: BareJid::from_str("bot@localhost").unwrap(),
        clean_exit: "Clean Exit".into(),
        limits: Limits {
            claim: Duration::from_secs(60),
            rejoin_grace: Duration::from_secs(30),
            closing: Duration::from_secs(120),
            idle: Duration::from_secs(600),
        },
        pool_size: 3,
        max_rooms: 10,
        parallel_creations: 2,
        request_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_secs(2),
        transcripts: true,
        keep_days: 30,
        queue_auto: true,
        max_wait: Duration::from_secs(3600),
        visitor_timeout: Duration::from_secs(60),
        max_length: 100,
        staff: settings::Staff {
            jids: vec!["staff@localhost".into()],
            max_chats: 2,
        },
        visitors: settings::Visitors {
            domains: vec!["anon.localhost".into()],
        },
    }
}

fn core_with(settings: Settings) -> Core {
    Core::new(settings, Box::new(Counter::default()))
}

fn jid(s: &str) -> BareJid {
    BareJid::from_str(s).unwrap()
}

fn room_jid(n: u32) -> BareJid {
    jid(&format!("room-{n}@conference.localhost"))
}

/// A presence from `room/nick`.
fn presence(room: &BareJid, nick: &str, kind: PresenceKind, codes: &[u16]) -> RoomPresence {
    RoomPresence {
        room: room.clone(),
        nick: nick.into(),
        kind,
        codes: codes.to_vec(),
        real_jid: Some(format!("{nick}@localhost/web")),
        affiliation: Some("none".into()),
        status_text: None,
        new_nick: None,
        destroyed: false,
    }
}

/// The bot's own presence in answer to a join.
fn own(room: &BareJid, codes: &[u16], affiliation: &str) -> RoomPresence {
    RoomPresence {
        affiliation: Some(affiliation.into()),
        real_jid: Some("bot@localhost/helpim".into()),
        ..presence(room, "helpim-bot", PresenceKind::Available, codes)
    }
}

fn joined(own: RoomPresence, occupants: Vec<RoomPresence>) -> Result<Answer, IqError> {
    Ok(Answer::Joined(Joined { own, occupants }))
}

/// The joins among `effects`, as `core` waits for them: (id, room, the join presence as XML).
fn joins_of(core: &Core, effects: &[Effect]) -> Vec<(RequestId, BareJid, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(s) => match &**s {
                Stanza::Presence(p) if p.type_ == xmpp_parsers::presence::Type::None => {
                    let room = p.to.as_ref()?.to_bare();
                    let id = core.out.join_id_for_test(&room)?;
                    Some((id, room, String::from(&Element::from(p.clone()))))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The IQ requests among `effects`: (id, the IQ as XML).
fn iqs(effects: &[Effect]) -> Vec<(RequestId, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(s) => match &**s {
                Stanza::Iq(
                    iq @ (xmpp_parsers::iq::Iq::Get { .. } | xmpp_parsers::iq::Iq::Set { .. }),
                ) => {
                    let id = iq.id().strip_prefix('c')?.parse().ok()?;
                    Some((id, String::from(&Element::from(iq.clone()))))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn writes(effects: &[Effect]) -> Vec<&Write> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Write(w) => Some(w),
            _ => None,
        })
        .collect()
}

fn transitions(effects: &[Effect]) -> Vec<(String, Status, Reason)> {
    writes(effects)
        .into_iter()
        .filter_map(|w| match w {
            Write::Transition { jid, transition } => {
                Some((jid.clone(), transition.to, transition.reason))
            }
            _ => None,
        })
        .collect()
}

fn reads(effects: &[Effect]) -> Vec<(RequestId, Query)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Query { id, query: read } => Some((*id, read.clone())),
            _ => None,
        })
        .collect()
}

const FORM: &str = "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='form'><field var='muc#roomconfig_roomsecret' type='text-private'/><field var='muc#roomconfig_persistentroom' type='boolean'/></x></query>";

fn form() -> Result<Answer, IqError> {
    Ok(Answer::Iq(Some(FORM.parse().unwrap())))
}

fn answer(
    core: &mut Core,
    id: RequestId,
    result: Result<Answer, IqError>,
    now: Time,
) -> Vec<Effect> {
    core.answer_for_test(id, result, now)
}

/// Runs one creation through join (201), form (the first of a session only: later ones submit
/// the form learned) and submit; returns the effects of the submit's answer.
fn create(core: &mut Core, join_id: RequestId, room: &BareJid, now: Time) -> Vec<Effect> {
    let e = answer(
        core,
        join_id,
        joined(own(room, &[110, 201], "owner"), vec![]),
        now,
    );
    let (mut id, mut xml) = iqs(&e).pop().expect("a form request or a submit");
    if is_form_request(&xml) {
        let e = answer(core, id, form(), now);
        (id, xml) = iqs(&e).pop().expect("a submit");
    }
    assert!(xml.contains("muc#roomconfig_roomsecret"), "{xml}");
    answer(core, id, Ok(Answer::Iq(None)), now)
}

/// True for an IQ that asks for a room's owner form.
fn is_form_request(xml: &str) -> bool {
    xml.contains("muc#owner") && (xml.contains("type=\"get\"") || xml.contains("type='get'"))
}

/// Answers the claims poll that is on its way with a staff claim (made at 1 s) on room-1.
fn poll_finds_a_staff_claim_on_room_1(core: &mut Core, now: Time) -> Vec<Effect> {
    let poll = pending_id(core, |p| matches!(p, Pending::Poll), "a poll is running");
    let claims = Claims {
        staff_at: Some(secs(1)),
        client_at: None,
    };
    core.handle(
        Input::QueryDone {
            id: poll,
            result: Ok(QueryResult::OpenClaims(vec![(
                room_jid(1).to_string(),
                claims,
            )])),
        },
        now,
    )
}

/// A core online with a full pool of three rooms, room-1 to room-3.
fn full_pool() -> Core {
    let mut core = core_with(settings());
    let e = core.handle(Input::Online { fresh: true }, t(0));
    let mut waiting = joins_of(&core, &e);
    while let Some((id, room, _)) = waiting.pop() {
        let e = create(&mut core, id, &room, t(0));
        waiting.extend(joins_of(&core, &e));
    }
    assert_eq!(core.counts().ready, 3);
    core
}

/// A core with no pool of its own, holding `rooms` of an earlier run, online at `now`: the
/// effects of coming online (the rejoins) come back with it.
fn rejoining(rooms: Vec<Restored>, now: Time) -> (Core, Vec<Effect>) {
    let mut core = core_with(Settings {
        pool_size: 0,
        ..settings()
    });
    core.restore(rooms);
    let e = core.handle(Input::Online { fresh: true }, now);
    (core, e)
}

fn restored(n: u32, status: Status, last_message: Option<Time>) -> Restored {
    let seat = |nick: &str| {
        Some(Seat {
            nick: nick.into(),
            jid: Some(format!("{nick}@localhost")),
            claim: Some(secs(0)),
        })
    };
    let busy = matches!(status, Status::Busy | Status::Closing);
    Restored {
        jid: room_jid(n),
        password: format!("old-{n}"),
        room: Room::restore(
            status,
            secs(0),
            Claims {
                staff_at: Some(secs(0)),
                client_at: busy.then(|| secs(0)),
            },
            (status != Status::Available)
                .then(|| seat("staff"))
                .flatten(),
            busy.then(|| seat("client")).flatten(),
            last_message.unwrap_or(secs(0)),
        ),
        last_seq: 4,
        history_since: last_message.unwrap_or(secs(0)),
        recent: last_message
            .map(|at| vec![(at, "client".to_string(), "last line".to_string())])
            .unwrap_or_default(),
    }
}

/// The sweep of the queue that is on its way, answered with `waiting` visitors.
fn sweep_answer(core: &mut Core, waiting: i64, now: Time) -> Vec<Effect> {
    let id = pending_id(
        core,
        |p| matches!(p, Pending::Sweep),
        "a sweep is on its way",
    );
    core.handle(
        Input::QueryDone {
            id,
            result: Ok(QueryResult::Swept(Swept {
                waiting,
                oldest: None,
                places: Some((Vec::new(), 0)),
            })),
        },
        now,
    )
}

/// The id of the request or read on its way that `is` picks out; panics saying `what` when none.
fn pending_id(core: &Core, is: impl Fn(&Pending) -> bool, what: &str) -> RequestId {
    core.out
        .find_for_test(is)
        .unwrap_or_else(|| panic!("{what}"))
}

/// A full pool with room-1 staffed by `staff@localhost` (the staff claim read by the poll).
fn staffed_pool() -> Core {
    let mut core = full_pool();
    poll_finds_a_staff_claim_on_room_1(&mut core, secs(1));
    core.handle(
        Input::Presence(presence(
            &room_jid(1),
            "staff",
            PresenceKind::Available,
            &[],
        )),
        secs(1),
    );
    assert_eq!(core.counts().open_staffed, 1);
    core
}

// ---------------------------------------------------------------------------------------------
// The bot's own protocol (core/protocol.rs, docs/protocol.md)

/// The stanzas sent (not requests) among `effects`, as XML.
fn sent(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(s) => Some(match &**s {
                // Requests (pings, room configuration) are read with `iqs`.
                tokio_xmpp::Stanza::Iq(
                    xmpp_parsers::iq::Iq::Get { .. } | xmpp_parsers::iq::Iq::Set { .. },
                ) => return None,
                tokio_xmpp::Stanza::Iq(iq) => String::from(&Element::from(iq.clone())),
                tokio_xmpp::Stanza::Message(m) => String::from(&Element::from(m.clone())),
                tokio_xmpp::Stanza::Presence(p) => String::from(&Element::from(p.clone())),
            }),
            _ => None,
        })
        .collect()
}

/// A command from `from` (a full JID) as the session reads it.
fn command(from: &str, node: &str, fields: &[(&str, &str)]) -> Input {
    let form = if fields.is_empty() {
        String::new()
    } else {
        let fields: String = fields
            .iter()
            .map(|(k, v)| format!("<field var='{k}'><value>{v}</value></field>"))
            .collect();
        format!("<x xmlns='jabber:x:data' type='submit'>{fields}</x>")
    };
    let xml = format!(
        "<iq xmlns='jabber:client' type='set' id='q1' from='{from}' to='bot@localhost'>\
         <command xmlns='http://jabber.org/protocol/commands' node='{node}' action='execute'>{form}</command></iq>"
    );
    let iq = xmpp_parsers::iq::Iq::try_from(xml.parse::<Element>().unwrap()).unwrap();
    Input::Request(crate::xmpp::adhoc::read_request(&iq).expect("a command"))
}

/// A presence `from` (a full JID) sent to the bot itself.
fn direct(from: &str, kind: PresenceKind) -> Input {
    let (bare, resource) = from.split_once('/').unwrap();
    Input::Presence(RoomPresence {
        real_jid: None,
        affiliation: None,
        ..presence(&jid(bare), resource, kind, &[])
    })
}

const VISITOR: &str = "v1@anon.localhost/web";
const KEY: &str = "Yx3hXb0q9P2mZr7Lk4sNw8Tq";

fn request_chat(core: &mut Core, now: Time) -> Vec<Effect> {
    core.handle(
        command(
            VISITOR,
            "request-chat",
            &[("nick", "Sam"), ("topic", "exams"), ("key", KEY)],
        ),
        now,
    )
}

#[test]
fn a_stranger_is_refused_every_command_and_the_refusal_is_logged() {
    let mut core = full_pool();
    for (from, node) in [
        ("mallory@evil.example/x", "request-chat"),
        ("mallory@evil.example/x", "take-chat"),
        (VISITOR, "take-chat"),
        (VISITOR, "status"),
        ("staff@localhost/c", "request-chat"),
    ] {
        let e = core.handle(command(from, node, &[]), secs(1));
        assert!(reads(&e).is_empty(), "{from} {node}: {e:?}");
        let out = sent(&e);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].contains("type='error'") && out[0].contains("<forbidden"),
            "{from} {node}: {}",
            out[0]
        );
    }
    // Each one sees only the commands it may run.
    let list = |from: &str, core: &mut Core| {
        let xml = format!("<iq xmlns='jabber:client' type='get' id='l' from='{from}'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>");
        let iq = xmpp_parsers::iq::Iq::try_from(xml.parse::<Element>().unwrap()).unwrap();
        let e = core.handle(
            Input::Request(crate::xmpp::adhoc::read_request(&iq).unwrap()),
            secs(1),
        );
        sent(&e)[0].clone()
    };
    let v = list(VISITOR, &mut core);
    assert!(
        v.contains("node='request-chat'") && !v.contains("node='take-chat'"),
        "{v}"
    );
    let s = list("staff@localhost/c", &mut core);
    assert!(
        s.contains("node='take-chat'") && !s.contains("node='request-chat'"),
        "{s}"
    );
    assert!(!list("mallory@evil.example/x", &mut core).contains("<item"));
}

#[test]
fn a_visitor_hears_closed_while_nobody_is_on_duty_and_is_queued_once_someone_is() {
    let mut core = full_pool();
    let e = request_chat(&mut core, secs(1));
    assert!(reads(&e).is_empty());
    assert!(
        sent(&e)[0].contains("<value>closed</value>"),
        "{:?}",
        sent(&e)
    );
    // A staff member's client tells the bot it is there: the help line is open.
    core.handle(
        direct("staff@localhost/console", PresenceKind::Available),
        secs(2),
    );
    assert_eq!(core.staff_on_duty(), 1);
    let e = request_chat(&mut core, secs(3));
    let r = reads(&e);
    let [(
        id,
        Query::Enqueue {
            label,
            jid,
            nick,
            topic,
            max_length,
        },
    )] = &r[..]
    else {
        panic!("one enqueue: {e:?}")
    };
    // The key itself is never stored: the label is its hash.
    assert_eq!(label, &protocol::visitor_label(KEY));
    assert!(!label.contains(KEY) && label.starts_with("sha256:") && label.len() == 7 + 64);
    assert_eq!(
        (jid.as_str(), nick.as_str(), topic.as_deref(), *max_length),
        (VISITOR, "Sam", Some("exams"), 100)
    );
    let e = core.handle(
        Input::QueryDone {
            id: *id,
            result: Ok(QueryResult::Enqueued(Enqueued::Queued(41), 2)),
        },
        secs(3),
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
    core.handle(
        direct("staff@localhost/console", PresenceKind::Unavailable),
        secs(4),
    );
    assert_eq!(core.staff_on_duty(), 0);
}

#[test]
fn the_queue_full_and_a_blocked_key_are_told_apart_and_a_short_key_is_a_bad_request() {
    let mut core = full_pool();
    core.handle(
        direct("staff@localhost/console", PresenceKind::Available),
        secs(1),
    );
    for (outcome, status) in [(Enqueued::Full, "busy"), (Enqueued::Blocked, "blocked")] {
        let e = request_chat(&mut core, secs(2));
        let id = reads(&e)[0].0;
        let e = core.handle(
            Input::QueryDone {
                id,
                result: Ok(QueryResult::Enqueued(outcome, 0)),
            },
            secs(2),
        );
        assert!(
            sent(&e)[0].contains(&format!("<value>{status}</value>")),
            "{:?}",
            sent(&e)
        );
    }
    let e = core.handle(
        command(
            VISITOR,
            "request-chat",
            &[("nick", "Sam"), ("key", "short")],
        ),
        secs(3),
    );
    assert!(reads(&e).is_empty());
    assert!(sent(&e)[0].contains("<bad-request"), "{:?}", sent(&e));
}

/// Answers the assignment on its way: the visitor over XMPP of row `queue_id` gets room-1.
fn visitor_assigned_room_1(core: &mut Core, queue_id: i64, now: Time) -> Vec<Effect> {
    let id = pending_id(
        core,
        |p| matches!(p, Pending::Assign),
        "an assignment is on its way",
    );
    core.handle(
        Input::QueryDone {
            id,
            result: Ok(QueryResult::Assigned(Some(Assigned {
                queue_id,
                visitor_jid: Some(VISITOR.into()),
                room: room_jid(1).to_string(),
                client_claimed_at: now,
            }))),
        },
        now,
    )
}

#[test]
fn taking_a_chat_invites_the_staff_member_and_stops_at_max_chats() {
    let mut core = staffed_pool(); // staff@localhost is in room-1
    assert_eq!(
        core.staff_on_duty(),
        1,
        "a staff member in a room is on duty"
    );
    let take = |core: &mut Core, room: u32, now: Time| {
        let e = core.handle(command("staff@localhost/console", "take-chat", &[]), now);
        let r = reads(&e);
        let [(id, Query::TakeChat(label))] = &r[..] else {
            return sent(&e);
        };
        assert_eq!(label, "xmpp:staff@localhost");
        let e = core.handle(
            Input::QueryDone {
                id: *id,
                result: Ok(QueryResult::Room(Some(room_jid(room).to_string()))),
            },
            now,
        );
        assert!(
            reads(&e)
                .iter()
                .any(|(_, r)| *r == Query::Claims(room_jid(room).to_string())),
            "the room learns of its claim: {e:?}"
        );
        sent(&e)
    };
    let out = take(&mut core, 2, secs(2));
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
    let out = take(&mut core, 3, secs(3));
    assert!(out[0].contains("<value>limit</value>"), "{out:?}");
}

#[test]
fn only_a_staff_member_in_the_room_can_block_its_visitor() {
    let mut core = staffed_pool();
    let e = core.handle(
        command(
            "staff@localhost/console",
            "block-visitor",
            &[("room", "room-2@conference.localhost"), ("reason", "abuse")],
        ),
        secs(2),
    );
    assert!(reads(&e).is_empty());
    assert!(sent(&e)[0].contains("<forbidden"), "{:?}", sent(&e));
    let e = core.handle(
        command(
            "staff@localhost/console",
            "block-visitor",
            &[("reason", "abuse"), ("duration", "7d")],
        ),
        secs(2),
    );
    let r = reads(&e);
    let [(
        _,
        Query::BlockVisitor {
            room,
            until,
            reason,
            by,
        },
    )] = &r[..]
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (room.as_str(), reason.as_str(), by.as_str()),
        ("room-1@conference.localhost", "abuse", "staff@localhost")
    );
    assert_eq!(*until, Some(secs(2) + chrono::Duration::days(7)));
}

#[test]
fn a_submitted_form_missing_a_required_field_comes_back_with_its_values_and_a_note() {
    let mut core = staffed_pool();
    // request-chat without a nick: the form again, the topic kept, a note saying what is missing.
    let e = core.handle(
        command(
            "v@anon.localhost/1",
            "request-chat",
            &[("nick", " "), ("topic", "exams")],
        ),
        secs(2),
    );
    assert!(reads(&e).is_empty(), "{e:?}");
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
    let e = core.handle(
        command(
            "staff@localhost/console",
            "block-visitor",
            &[("duration", "7d")],
        ),
        secs(2),
    );
    assert!(reads(&e).is_empty(), "{e:?}");
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
    let e = core.handle(command("v@anon.localhost/1", "request-chat", &[]), secs(2));
    let [answer] = &sent(&e)[..] else {
        panic!("{e:?}")
    };
    assert!(
        answer.contains("status='executing'") && !answer.contains("<note"),
        "{answer}"
    );
}

fn swept(over_xmpp: Vec<(i64, &str, i64)>, pace: i64) -> Result<QueryResult, String> {
    Ok(QueryResult::Swept(Swept {
        waiting: over_xmpp.len() as i64,
        oldest: None,
        places: Some((
            over_xmpp
                .into_iter()
                .map(|(i, j, p)| (i, j.to_string(), p))
                .collect(),
            pace,
        )),
    }))
}

fn sweep_with(core: &mut Core, result: Result<QueryResult, String>, now: Time) -> Vec<Effect> {
    let e = core.handle(Input::Timer, now);
    let id = pending_id(
        core,
        |p| matches!(p, Pending::Sweep),
        &format!("a sweep is on its way: {e:?}"),
    );
    core.handle(Input::QueryDone { id, result }, now)
}

/// The examples of docs/protocol.md, by name: `<!-- example: NAME -->` before a fenced block.
fn doc_examples() -> HashMap<String, String> {
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
fn canonical(xml: &str) -> String {
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

#[test]
fn the_examples_of_the_protocol_documentation_are_what_the_bot_accepts_and_sends() {
    let docs = doc_examples();
    let doc = |name: &str| {
        docs.get(name)
            .unwrap_or_else(|| panic!("docs/protocol.md has no example {name}"))
            .clone()
    };
    let request = |name: &str| {
        let iq =
            xmpp_parsers::iq::Iq::try_from(doc(name).trim().parse::<Element>().unwrap()).unwrap();
        Input::Request(
            crate::xmpp::adhoc::read_request(&iq)
                .unwrap_or_else(|| panic!("{name} is not read as a request")),
        )
    };
    let same = |name: &str, sent: &str| {
        assert_eq!(
            canonical(sent),
            canonical(&doc(name)),
            "docs/protocol.md, example {name}"
        );
    };
    let mut core = staffed_pool();
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
    // Request a chat, queued.
    let e = core.handle(request("request-chat"), secs(2));
    let r = reads(&e);
    let [(id, Query::Enqueue { nick, topic, .. })] = &r[..] else {
        panic!("{e:?}")
    };
    assert_eq!((nick.as_str(), topic.as_deref()), ("Sam", Some("exams")));
    let e = core.handle(
        Input::QueryDone {
            id: *id,
            result: Ok(QueryResult::Enqueued(Enqueued::Queued(41), 2)),
        },
        secs(2),
    );
    same("request-chat-queued", &sent(&e)[0]);
    // Closed, busy, blocked.
    for (name, outcome) in [
        ("request-chat-busy", Enqueued::Full),
        ("request-chat-blocked", Enqueued::Blocked),
    ] {
        let e = core.handle(request("request-chat"), secs(2));
        let id = reads(&e)[0].0;
        let e = core.handle(
            Input::QueryDone {
                id,
                result: Ok(QueryResult::Enqueued(outcome, 0)),
            },
            secs(2),
        );
        same(name, &sent(&e)[0]);
    }
    // A place in line pushed, with a pace of 30 assignments in the half hour.
    let e = sweep_with(&mut core, swept(vec![(41, VISITOR, 1)], 30), secs(9));
    same("queue-update", &sent(&e)[0]);
    // The invitation: someone waits and room-1 is staffed, so an assignment is on its way.
    let e = visitor_assigned_room_1(&mut core, 41, secs(9));
    same("invitation", &sent(&e)[0]);
    // Leave, resume: read as the commands they are.
    let e = core.handle(request("leave-queue"), secs(9));
    assert!(matches!(&reads(&e)[..], [(_, Query::LeaveQueue(j))] if j == VISITOR));
    let e = core.handle(request("resume-chat"), secs(9));
    assert!(
        matches!(&reads(&e)[..], [(_, Query::Resume { label, .. })] if *label == protocol::visitor_label(KEY))
    );
    // A stranger.
    let e = core.handle(request("forbidden-request"), secs(9));
    same("forbidden", &sent(&e)[0]);
    // Staff: take a chat, the status.
    let e = core.handle(request("take-chat"), secs(9));
    let id = reads(&e)[0].0;
    let e = core.handle(
        Input::QueryDone {
            id,
            result: Ok(QueryResult::Room(Some(room_jid(2).to_string()))),
        },
        secs(9),
    );
    let out = sent(&e);
    same("take-chat-invitation", &out[0]);
    same("take-chat-taken", &out[1]);
    let e = core.handle(request("status-request"), secs(9));
    same("status", &sent(&e)[0]);
}

#[test]
fn after_a_new_session_a_staff_member_whose_session_bounces_is_off_duty() {
    let mut core = full_pool();
    core.handle(
        direct("staff@localhost/console", PresenceKind::Available),
        secs(1),
    );
    core.handle(
        direct("staff@localhost/phone", PresenceKind::Available),
        secs(1),
    );
    assert_eq!(core.staff_on_duty(), 1, "one person, two sessions");
    let e = core.handle(Input::Online { fresh: true }, secs(2));
    let pings: Vec<_> = iqs(&e)
        .into_iter()
        .filter(|(_, x)| x.contains("urn:xmpp:ping") && x.contains("staff@localhost/"))
        .collect();
    assert_eq!(pings.len(), 2, "{e:?}");
    let (console, _) = pings.iter().find(|(_, x)| x.contains("/console")).unwrap();
    let (phone, _) = pings.iter().find(|(_, x)| x.contains("/phone")).unwrap();
    let e = answer(
        &mut core,
        *console,
        Err(IqError::Error("service-unavailable".into())),
        secs(2),
    );
    assert!(writes(&e).is_empty(), "a staff member is not a queue row");
    assert_eq!(core.staff_on_duty(), 1, "the phone is still there");
    answer(
        &mut core,
        *phone,
        Err(IqError::Error("service-unavailable".into())),
        secs(2),
    );
    assert_eq!(core.staff_on_duty(), 0);
}
