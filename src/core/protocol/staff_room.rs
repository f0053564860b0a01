//! The staff room (`staff.room`; docs/protocol.md, "The staff room"): a members-only, persistent
//! room that the bot creates (or finds) and configures as its owner at start and on every new
//! session, whose member list is the explicit bare JIDs of `staff.jids` and `staff.supervisors`
//! (a wildcard domain cannot be listed: its staff may use the commands but cannot enter). It is
//! no pool room: it has no status and no row in `rooms`. The bot posts plain lines there
//! ([`super::announce_to_staff`]); staff inside (their real JIDs) count as on duty.
//!
//! The steps: join → the owner form → its submission → the member list read → the changes to
//! it set. A step that fails is logged and the room is tried again with the next session.

use std::collections::{BTreeSet, HashMap};

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;

use super::Protocol;
use crate::core::outbox::Outbox;
use crate::core::settings::Settings;
use crate::core::Pending;
use crate::xmpp::stanza::{
    self, with_attr, OfferedField, PresenceKind, RoomPresence, NS_DATA, NS_MUC_ADMIN, NS_MUC_OWNER,
};
use crate::xmpp::{Answer, IqError, Request};

/// Where the bot is with the staff room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRoomStep {
    /// The join is on its way.
    Join,
    /// The owner form was asked for.
    Form,
    /// The configuration was submitted.
    Submit,
    /// The member list was asked for.
    Members,
    /// The member list's changes were set.
    SetMembers,
}

/// The staff room's state in the protocol.
#[derive(Debug, Default)]
pub struct StaffRoom {
    /// The bot is inside (it may post).
    pub inside: bool,
    /// Who is inside: nick → real bare JID (the bot, owner, sees them).
    occupants: HashMap<String, String>,
}

/// The explicit bare JIDs that are members of the staff room: `staff.jids` without the
/// wildcard domains, and the supervisors; never the bot itself (its owner).
pub fn members(settings: &Settings) -> BTreeSet<String> {
    let owner = settings.owner.to_string();
    settings
        .staff
        .jids
        .iter()
        .chain(settings.staff.supervisors.iter())
        .filter(|j| !j.starts_with("*@") && j.contains('@'))
        .map(|j| j.to_lowercase())
        .filter(|j| *j != owner)
        .collect()
}

impl Protocol {
    /// Staff members inside the staff room (bare JIDs).
    pub(super) fn staff_room_on_duty(&self) -> impl Iterator<Item = &String> {
        self.staff_room.occupants.values()
    }

    /// True while the bot is inside the staff room.
    pub fn staff_room_inside(&self) -> bool {
        self.staff_room.inside
    }

    /// A new session: the staff room is joined (created if missing) and configured again.
    pub fn staff_room_start(&mut self, settings: &Settings, out: &mut Outbox) {
        self.staff_room = StaffRoom::default();
        let Some(room) = settings.staff.room.clone() else {
            return;
        };
        match stanza::join(&room, &settings.nick, "", None) {
            Ok(presence) => ask(out, Request::Join { room, presence }, StaffRoomStep::Join),
            Err(e) => {
                tracing::error!(room = %room, error = %e, "cannot build the join of the staff room")
            }
        }
    }

    /// The answer to a step with the staff room.
    pub fn staff_room_answered(
        &mut self,
        step: StaffRoomStep,
        result: Result<Answer, IqError>,
        settings: &Settings,
        out: &mut Outbox,
    ) {
        let Some(room) = settings.staff.room.clone() else {
            return;
        };
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                return tracing::error!(room = %room, ?step, error = %e, "setting up the staff room failed; it is tried again with the next session");
            }
        };
        match (step, answer) {
            (StaffRoomStep::Join, Answer::Joined(joined)) => {
                self.staff_room.inside = true;
                for p in &joined.occupants {
                    self.staff_room_presence(p, settings);
                }
                if joined.own.affiliation.as_deref() != Some("owner") {
                    return tracing::error!(room = %room, affiliation = ?joined.own.affiliation, "the bot is not the owner of the staff room: it cannot configure it (give it ownership, or name a new room)");
                }
                tracing::info!(room = %room, created = joined.own.has(stanza::STATUS_CREATED), "joined the staff room");
                ask(
                    out,
                    Request::iq(stanza::config_request(&room)),
                    StaffRoomStep::Form,
                );
            }
            (StaffRoomStep::Form, Answer::Iq(form)) => {
                let offered = form
                    .as_ref()
                    .map(stanza::offered_fields)
                    .unwrap_or_default();
                ask(
                    out,
                    Request::iq(config_submit(&room, &offered, settings)),
                    StaffRoomStep::Submit,
                );
            }
            (StaffRoomStep::Submit, _) => {
                ask(out, Request::iq(member_list(&room)), StaffRoomStep::Members)
            }
            (StaffRoomStep::Members, Answer::Iq(list)) => {
                let have: BTreeSet<String> = list
                    .iter()
                    .flat_map(|q| q.children())
                    .filter_map(|i| i.attr("jid"))
                    .map(str::to_lowercase)
                    .collect();
                let want = members(settings);
                let changes: Vec<(&str, &str)> = want
                    .difference(&have)
                    .map(|j| (j.as_str(), "member"))
                    .chain(have.difference(&want).map(|j| (j.as_str(), "none")))
                    .collect();
                // One item a request: Prosody reads only the first item of an admin set.
                for (jid, affiliation) in &changes {
                    ask(
                        out,
                        Request::iq(set_affiliation(&room, jid, affiliation)),
                        StaffRoomStep::SetMembers,
                    );
                }
                tracing::info!(room = %room, members = want.len(), changes = changes.len(), "the staff room is ready");
            }
            (StaffRoomStep::SetMembers, _) => {}
            (step, _) => {
                tracing::error!(room = %room, ?step, "the staff room got an answer of the wrong kind")
            }
        }
    }

    /// A presence from the staff room: who is inside; the bot's own unavailable presence (it was
    /// kicked, or the room was destroyed) ends its posting until the next session.
    pub fn staff_room_presence(&mut self, p: &RoomPresence, settings: &Settings) {
        if p.nick == settings.nick {
            if p.kind != PresenceKind::Available && self.staff_room.inside {
                tracing::error!(room = %p.room, codes = ?p.codes, destroyed = p.destroyed, "the bot is out of the staff room; it joins again with the next session");
                self.staff_room = StaffRoom::default();
            }
            return;
        }
        match p.kind {
            PresenceKind::Available => match p.real_bare_jid() {
                Some(jid) if settings.staff.allows(&jid) => {
                    self.staff_room.occupants.insert(p.nick.clone(), jid);
                }
                _ => {
                    self.staff_room.occupants.remove(&p.nick);
                }
            },
            _ => {
                self.staff_room.occupants.remove(&p.nick);
            }
        }
    }
}

/// Sends `request`; its answer comes back to [`Protocol::staff_room_answered`] as `step`.
fn ask(out: &mut Outbox, request: Request, step: StaffRoomStep) {
    out.request(request, Pending::StaffRoom(step));
}

/// The groupchat message that posts `text` in `room`.
pub fn post(room: &BareJid, text: &str) -> Message {
    let mut m = Message::new(Some(Jid::from(room.clone())));
    m.type_ = MessageType::Groupchat;
    m.bodies.insert(Default::default(), text.to_string());
    m
}

fn field(var: &str, value: &str) -> Element {
    with_attr(Element::builder("field", NS_DATA), "var", var)
        .append(Element::builder("value", NS_DATA).append(value.to_string()))
        .build()
}

fn iq_set(room: &BareJid, payload: Element) -> Iq {
    Iq::Set {
        from: None,
        to: Some(Jid::from(room.clone())),
        id: String::new(),
        payload,
    }
}

/// The staff room's configuration: members-only, persistent, hidden, without a password, real
/// JIDs shown to moderators (the bot, owner, sees who is inside), the bot the only owner;
/// limited to the fields the server offered.
pub fn config_submit(room: &BareJid, offered: &[OfferedField], settings: &Settings) -> Iq {
    let owner = settings.owner.to_string();
    let history = settings.history.to_string();
    let wanted: [(&str, &str); 13] = [
        ("muc#roomconfig_roomname", "Staff room"),
        ("muc#roomconfig_persistentroom", "1"),
        ("muc#roomconfig_membersonly", "1"),
        ("muc#roomconfig_publicroom", "0"),
        ("muc#roomconfig_passwordprotectedroom", "0"),
        ("muc#roomconfig_roomsecret", ""),
        ("muc#roomconfig_moderatedroom", "0"),
        ("muc#roomconfig_whois", "moderators"),
        ("muc#roomconfig_roomowners", &owner),
        ("muc#roomconfig_allowinvites", "0"),
        ("muc#roomconfig_changesubject", "0"),
        ("muc#roomconfig_historylength", &history),
        ("muc#maxhistoryfetch", &history),
    ];
    let mut form = with_attr(Element::builder("x", NS_DATA), "type", "submit").append(field(
        "FORM_TYPE",
        "http://jabber.org/protocol/muc#roomconfig",
    ));
    for (var, value) in wanted {
        if offered.iter().any(|f| f.var == var) {
            form = form.append(field(var, value));
        }
    }
    iq_set(
        room,
        Element::builder("query", NS_MUC_OWNER)
            .append(form.build())
            .build(),
    )
}

/// Asks for the member list of `room`.
pub fn member_list(room: &BareJid) -> Iq {
    let item = with_attr(
        Element::builder("item", NS_MUC_ADMIN),
        "affiliation",
        "member",
    );
    Iq::Get {
        from: None,
        to: Some(Jid::from(room.clone())),
        id: String::new(),
        payload: Element::builder("query", NS_MUC_ADMIN)
            .append(item.build())
            .build(),
    }
}

/// Sets the affiliation of bare JID `jid` in `room`.
pub fn set_affiliation(room: &BareJid, jid: &str, affiliation: &str) -> Iq {
    let item = with_attr(Element::builder("item", NS_MUC_ADMIN), "jid", jid);
    let item = with_attr(item, "affiliation", affiliation).build();
    iq_set(
        room,
        Element::builder("query", NS_MUC_ADMIN).append(item).build(),
    )
}
