//! The stanzas of a handover (docs/protocol.md, "Handover"): the invitation a colleague gets,
//! with a `<handover/>` payload so that a console asks before joining, and the headlines that
//! tell the first staff member how it went. Headlines, because servers do not archive them and
//! standard clients show them; the `<body>` is for standard clients.

use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;

use super::adhoc;
use super::stanza::{headline, with_attr};

/// The namespace of staff pushes and handovers.
pub const NS_STAFF: &str = "urn:helpim:staff:0";

/// What a colleague is told of a chat handed to them (and what a waiting handover shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer<'a> {
    /// The room.
    pub room: &'a BareJid,
    /// Who hands it over (their nick in the room, else their JID's local part).
    pub from: &'a str,
    /// Their note, if any.
    pub note: Option<&'a str>,
    /// The visitor's topic, if known.
    pub topic: Option<&'a str>,
    /// The chat's name for people ("Sam — exams"), for the invitation's reason; not in the
    /// payload.
    pub name: Option<&'a str>,
}

/// `<handover xmlns='urn:helpim:staff:0' room='…' from='…' note='…' topic='…'/>`, with `extra`
/// attributes (`since` in a push).
pub fn payload(offer: &Offer, extra: &[(&str, String)]) -> Element {
    let mut x = with_attr(
        Element::builder("handover", NS_STAFF),
        "room",
        offer.room.to_string(),
    );
    x = with_attr(x, "from", offer.from);
    if let Some(note) = offer.note {
        x = with_attr(x, "note", note);
    }
    if let Some(topic) = offer.topic {
        x = with_attr(x, "topic", topic);
    }
    for (key, value) in extra {
        x = with_attr(x, key, value.clone());
    }
    x.build()
}

/// The invitation of XEP-0249 with the room's password, reason "Kim hands you a chat with Sam —
/// exams: note" (the chat named as the room's subject names it), and the `<handover/>` payload
/// in the same message; to a session, or to a bare JID (the server picks the session).
pub fn invitation(to: impl Into<Jid>, offer: &Offer, password: &str) -> Message {
    let chat = offer
        .name
        .map_or("a chat".to_string(), |n| format!("a chat with {n}"));
    let reason = match offer.note {
        Some(note) => format!("{} hands you {chat}: {note}", offer.from),
        None => format!("{} hands you {chat}.", offer.from),
    };
    let mut m = Message::new(Some(to.into()));
    m.type_ = MessageType::Normal;
    let x = with_attr(
        Element::builder("x", adhoc::NS_CONFERENCE),
        "jid",
        offer.room.to_string(),
    );
    let x = with_attr(with_attr(x, "password", password), "reason", reason);
    m.payloads.push(x.build());
    m.payloads.push(payload(offer, &[]));
    m
}

/// To the first staff member: `<handed-over room='…' to='Alex'/>`; their console leaves the
/// room cleanly.
pub fn handed_over(to: impl Into<Jid>, room: &BareJid, colleague: &str) -> Message {
    let x = with_attr(
        with_attr(
            Element::builder("handed-over", NS_STAFF),
            "room",
            room.to_string(),
        ),
        "to",
        colleague,
    );
    headline(
        to.into(),
        format!("{colleague} has taken over your chat."),
        x.build(),
    )
}

/// To the first staff member: the handover ended without a colleague (`reason` `expired` or
/// `declined`); the chat stays theirs.
pub fn expired(to: impl Into<Jid>, room: &BareJid, reason: &str) -> Message {
    let x = with_attr(
        with_attr(
            Element::builder("handover-expired", NS_STAFF),
            "room",
            room.to_string(),
        ),
        "reason",
        reason,
    );
    let body = if reason == "declined" {
        "Your colleague declined the chat; it stays with you."
    } else {
        "Nobody took over your chat in time; it stays with you."
    };
    headline(to.into(), body.to_string(), x.build())
}
