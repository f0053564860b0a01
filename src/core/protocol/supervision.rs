//! Supervision (SPEC §13, docs/protocol.md "Supervision"): what the four supervision commands
//! share. The watches supervisors keep on chats (a watcher is a supervisor's *session*: it gets
//! each line of the chat as the bot records it, the stored ones first), the headlines of
//! `urn:helpim:supervise:0`, the supervisors on duty, and the rows that record each watch,
//! whisper and request for help. Nothing here is ever sent to a room: its occupants never see a
//! watcher, a whisper or a request for help.

use std::collections::HashMap;

use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;

use super::{Lent, Protocol};
use crate::core::effects::{Line, Write};
use crate::core::outbox::Outbox;
use crate::core::types::{Status, Supervision};
use crate::core::Entry;
use crate::xmpp::stanza::{headline, stamp, with_attr};

/// The namespace of the supervision payloads.
pub const NS_SUPERVISE: &str = "urn:helpim:supervise:0";

/// A supervisor's session watching a chat.
#[derive(Debug)]
struct Watcher {
    session: FullJid,
    /// While the earlier lines are being read: the lines recorded meanwhile, held back so that
    /// the watcher gets every line once and in order.
    reading: Option<Reading>,
}

/// A watch whose earlier lines are still being read.
#[derive(Debug, Default)]
pub struct Reading {
    /// The last line stored before the watch began: the read gives it and those before it.
    pub upto: i64,
    /// What came meanwhile (lines, and the end of the chat), to send after the earlier lines.
    pub held: Vec<Message>,
    /// The chat ended meanwhile: the watch ends once the held stanzas are sent.
    pub ended: bool,
}

/// Every watch, by room.
#[derive(Debug, Default)]
pub struct Watches {
    by_room: HashMap<BareJid, Vec<Watcher>>,
}

impl Watches {
    /// `session` begins to watch `room`, whose lines up to `upto` are stored (a watch of the
    /// same session on the same room starts again).
    pub fn start(&mut self, session: &FullJid, room: &BareJid, upto: i64) {
        let watchers = self.by_room.entry(room.clone()).or_default();
        watchers.retain(|w| w.session != *session);
        watchers.push(Watcher {
            session: session.clone(),
            reading: Some(Reading {
                upto,
                ..Reading::default()
            }),
        });
    }

    /// The earlier lines of `session`'s watch of `room` are read: what was held back meanwhile;
    /// `None` when the watch is gone (stopped, or the session went).
    pub fn read(&mut self, session: &FullJid, room: &BareJid) -> Option<Reading> {
        let watchers = self.by_room.get_mut(room)?;
        let i = watchers.iter().position(|w| w.session == *session)?;
        let reading = watchers[i].reading.take().unwrap_or_default();
        if reading.ended {
            watchers.remove(i);
        }
        if watchers.is_empty() {
            self.by_room.remove(room);
        }
        Some(reading)
    }

    /// `session` stops watching `room`; false when it was not.
    pub fn stop(&mut self, session: &FullJid, room: &BareJid) -> bool {
        let Some(watchers) = self.by_room.get_mut(room) else {
            return false;
        };
        let before = watchers.len();
        watchers.retain(|w| w.session != *session);
        let stopped = watchers.len() < before;
        if watchers.is_empty() {
            self.by_room.remove(room);
        }
        stopped
    }
}

impl Protocol {
    /// A line of `room` was recorded: each watcher gets it (held back while the earlier lines
    /// are being read).
    pub fn line_recorded(&mut self, room: &BareJid, line: &Line, out: &mut Outbox) {
        let Some(watchers) = self.watches.by_room.get_mut(room) else {
            return;
        };
        for w in watchers {
            let headline = line_headline(&w.session, room, line, false);
            match &mut w.reading {
                Some(reading) => reading.held.push(headline),
                None => out.send(headline),
            }
        }
    }

    /// The chat in `room` has ended: its watchers are told, and their watches end.
    pub fn room_closed(&mut self, room: &BareJid, out: &mut Outbox) {
        let Some(watchers) = self.watches.by_room.remove(room) else {
            return;
        };
        let mut reading = Vec::new();
        for mut w in watchers {
            let ended = ended_headline(&w.session, room);
            match &mut w.reading {
                Some(r) => {
                    r.held.push(ended);
                    r.ended = true;
                    reading.push(w);
                }
                None => out.send(ended),
            }
        }
        if !reading.is_empty() {
            self.watches.by_room.insert(room.clone(), reading);
        }
    }

    /// A supervisor's session went (unavailable, or bounced a ping): its watches end.
    pub(super) fn watcher_gone(&mut self, session: &FullJid) {
        self.watches.by_room.retain(|room, watchers| {
            let before = watchers.len();
            watchers.retain(|w| w.session != *session);
            if watchers.len() < before {
                tracing::info!(room = %room, "a supervisor's session went; their watch ended");
            }
            !watchers.is_empty()
        });
    }

    /// The sessions of supervisors on duty (present to the bot).
    pub(super) fn supervisors_on_duty(&self, lent: &Lent) -> Vec<FullJid> {
        let mut on_duty: Vec<FullJid> = self
            .staff_present
            .iter()
            .filter(|j| lent.settings.staff.supervises(&j.to_bare().to_string()))
            .cloned()
            .collect();
        on_duty.sort();
        on_duty
    }
}

/// The chat in `room`, if it is one the bot follows and is going on (`busy` or `closing`).
pub(super) fn live_chat(lent: &Lent, room: &str) -> Option<BareJid> {
    let room = BareJid::new(room).ok()?;
    lent.rooms.get(&room).is_some_and(is_chat).then_some(room)
}

/// True for a room whose chat is going on: `busy`, or `closing` (one of the two has left).
pub(super) fn is_chat(entry: &Entry) -> bool {
    matches!(entry.room.status(), Status::Busy | Status::Closing)
}

/// Records a watch, a whisper (with its text) or a request for help about the chat in `room`.
pub(super) fn record(
    lent: &mut Lent,
    room: &BareJid,
    kind: Supervision,
    by: &FullJid,
    text: Option<String>,
) {
    tracing::info!(room = %room, kind = kind.as_str(), by = %by.to_bare(), "supervision");
    lent.out.write(Write::Supervised {
        jid: room.to_string(),
        kind,
        by: by.to_bare().to_string(),
        at: lent.now,
        text,
    });
}

/// One line of a watched chat: `<line room role nick at [earlier]/>`, the text in the body.
pub(super) fn line_headline(to: &FullJid, room: &BareJid, line: &Line, earlier: bool) -> Message {
    let mut payload = Element::builder("line", NS_SUPERVISE);
    for (key, value) in [
        ("room", room.to_string()),
        ("role", line.role.as_str().to_string()),
        ("nick", line.nick.clone()),
        ("at", stamp(line.at)),
    ] {
        payload = with_attr(payload, key, value);
    }
    if earlier {
        payload = with_attr(payload, "earlier", "true");
    }
    let body = format!("[{}] {}", line.nick, line.body);
    headline(Jid::from(to.clone()), body, payload.build())
}

/// The end of a watched chat: `<ended room/>`.
fn ended_headline(to: &FullJid, room: &BareJid) -> Message {
    let payload = with_attr(
        Element::builder("ended", NS_SUPERVISE),
        "room",
        room.to_string(),
    );
    headline(
        Jid::from(to.clone()),
        format!("The chat in {room} has ended."),
        payload.build(),
    )
}
