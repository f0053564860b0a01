//! The one translation from what a room says over XMPP (presences and messages, already read by
//! [`crate::xmpp::stanza`]) to what it means for the room's state machine ([`Event`]).

use super::room::Event;
use super::types::Occupant;
use crate::xmpp::stanza::{
    PresenceKind, RoomMessage, RoomPresence, STATUS_GHOST, STATUS_NICK_CHANGE,
};
use xmpp_parsers::jid::FullJid;

/// Status codes with which a room puts an occupant out: banned (301), kicked (307), affiliation
/// changed (321), not a member (322), the service shutting down (332).
const PUT_OUT: [u16; 5] = [301, 307, 321, 322, 332];

/// True when the presence says the bot is out of the room though nobody put it out: its own
/// unavailable presence without a removal code and without the room's destruction. That is the
/// end of an earlier place under the bot's full JID: after a restart, ejabberd ends the old
/// session's place when the new session replaces it, and that can reach the room after the new
/// session's join. The room and the chat in it go on; the bot joins again (the core does).
pub fn bot_out_without_cause(p: &RoomPresence) -> bool {
    p.is_self()
        && p.kind == PresenceKind::Unavailable
        && !p.destroyed
        && !PUT_OUT.iter().any(|code| p.has(*code))
}

/// Where to ping someone whose unavailable presence lacks the clean status, to learn whether
/// they left on purpose: their real full JID, when the room shows it and did not put them out
/// itself (kicked, banned, … or removed as a ghost, 333: no session answers for those).
pub fn leaver_to_ping(p: &RoomPresence) -> Option<FullJid> {
    let put_out = PUT_OUT.iter().any(|code| p.has(*code)) || p.has(STATUS_GHOST);
    if p.kind != PresenceKind::Unavailable || p.destroyed || put_out {
        return None;
    }
    FullJid::new(p.real_jid.as_deref()?).ok()
}

/// What a room presence means to the room's state machine; `None` when nothing.
///
/// `own_nick` is the bot's nick (a presence about the bot that is not an ordinary update means it
/// lost the room, except [`bot_out_without_cause`], which the core answers by joining again)
/// and `clean_exit` the status text of a deliberate leave.
pub fn presence_event(p: &RoomPresence, own_nick: &str, clean_exit: &str) -> Option<Event> {
    if bot_out_without_cause(p) {
        return None;
    }
    if p.is_self() || p.nick == own_nick && p.kind != PresenceKind::Available {
        let lost = match &p.kind {
            PresenceKind::Unavailable => true,
            PresenceKind::Available => p.affiliation.as_deref().is_some_and(|a| a != "owner"),
            PresenceKind::Error(_) | PresenceKind::Subscribe => false,
        };
        return lost.then_some(Event::Lost);
    }
    match &p.kind {
        PresenceKind::Available => Some(Event::Joined(occupant(p))),
        PresenceKind::Unavailable if p.has(STATUS_NICK_CHANGE) => {
            p.new_nick.as_ref().map(|new| Event::NickChanged {
                old: p.nick.clone(),
                new: new.clone(),
            })
        }
        PresenceKind::Unavailable if p.destroyed => None,
        PresenceKind::Unavailable => Some(Event::Left {
            nick: p.nick.clone(),
            clean: p.status_text.as_deref() == Some(clean_exit),
        }),
        PresenceKind::Error(_) | PresenceKind::Subscribe => None,
    }
}

/// The occupant a presence is about: nick and real bare JID.
pub fn occupant(p: &RoomPresence) -> Occupant {
    Occupant {
        nick: p.nick.clone(),
        jid: p.real_bare_jid(),
    }
}

/// What a groupchat message means: a live message, or a line of history the room replays on a
/// join (it carries the server's stamp); `None` for the bot's own messages.
pub fn message_event(m: &RoomMessage, own_nick: &str) -> Option<Event> {
    if m.nick == own_nick {
        return None;
    }
    Some(match m.delayed {
        None => Event::Message {
            nick: m.nick.clone(),
            body: m.body.clone(),
        },
        Some(at) => Event::Replayed {
            nick: m.nick.clone(),
            body: m.body.clone(),
            at,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::codec::{read_element, Inbound};

    /// A stanza read as the session reads it, then translated.
    fn event(xml: &str) -> Option<Event> {
        match read_element(xml.parse().ok()?) {
            Inbound::Presence(p) => presence_event(&p, "helpim-bot", "Clean Exit"),
            Inbound::Message(m) => message_event(&m, "helpim-bot"),
            _ => None,
        }
    }

    const ROOM: &str = "helpim-abc@conference.localhost";

    fn joined(nick: &str, jid: Option<&str>) -> Option<Event> {
        Some(Event::Joined(Occupant {
            nick: nick.into(),
            jid: jid.map(str::to_string),
        }))
    }

    #[test]
    fn presences_become_room_events() {
        let join = format!("<presence xmlns='jabber:client' from='{ROOM}/Zoë ☃ Ωμέγα'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant' jid='zoe@localhost/web-1'/></x></presence>");
        assert_eq!(event(&join), joined("Zoë ☃ Ωμέγα", Some("zoe@localhost")));
        let clean = format!("<presence xmlns='jabber:client' type='unavailable' from='{ROOM}/s'><status>Clean Exit</status></presence>");
        assert_eq!(
            event(&clean),
            Some(Event::Left {
                nick: "s".into(),
                clean: true
            })
        );
        // A ghost removed by the server (333) left uncleanly.
        let ghost = format!("<presence xmlns='jabber:client' type='unavailable' from='{ROOM}/c'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/><status code='333'/></x></presence>");
        assert_eq!(
            event(&ghost),
            Some(Event::Left {
                nick: "c".into(),
                clean: false
            })
        );
        let renamed = format!("<presence xmlns='jabber:client' type='unavailable' from='{ROOM}/a'><x xmlns='http://jabber.org/protocol/muc#user'><item nick='b'/><status code='303'/></x></presence>");
        assert_eq!(
            event(&renamed),
            Some(Event::NickChanged {
                old: "a".into(),
                new: "b".into()
            })
        );
        // A nick change without the new nick says nothing usable.
        let broken = format!("<presence xmlns='jabber:client' type='unavailable' from='{ROOM}/a'><x xmlns='http://jabber.org/protocol/muc#user'><status code='303'/></x></presence>");
        assert_eq!(event(&broken), None);
    }

    #[test]
    fn presences_about_the_bot_itself() {
        let own = format!("<presence xmlns='jabber:client' from='{ROOM}/helpim-bot'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/><status code='110'/></x></presence>");
        assert_eq!(event(&own), None);
        let demoted = own.replace("'owner'", "'member'");
        assert_eq!(event(&demoted), Some(Event::Lost));
        let kicked = format!("<presence xmlns='jabber:client' type='unavailable' from='{ROOM}/helpim-bot'><x xmlns='http://jabber.org/protocol/muc#user'><item role='none'/><status code='110'/><status code='307'/></x></presence>");
        assert_eq!(event(&kicked), Some(Event::Lost));
        for code in ["301", "321", "322", "332"] {
            let put_out = kicked.replace("307", code);
            assert_eq!(event(&put_out), Some(Event::Lost), "{code}");
        }
        let destroyed = format!("<presence xmlns='jabber:client' type='unavailable' from='{ROOM}/helpim-bot'><x xmlns='http://jabber.org/protocol/muc#user'><item role='none'/><status code='110'/><destroy/></x></presence>");
        assert_eq!(event(&destroyed), Some(Event::Lost));
        // Out without a cause: an earlier session's place ended; the core joins again.
        let out = format!("<presence xmlns='jabber:client' type='unavailable' from='{ROOM}/helpim-bot'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='none'/><status code='110'/></x></presence>");
        let read = |xml: &str| match read_element(xml.parse().unwrap()) {
            Inbound::Presence(p) => p,
            other => panic!("not a room presence: {other:?}"),
        };
        assert!(bot_out_without_cause(&read(&out)));
        assert_eq!(event(&out), None);
        for put_out in [&kicked, &destroyed] {
            assert!(!bot_out_without_cause(&read(put_out)), "{put_out}");
        }
        // Someone else cannot appear under the bot's nick; if a server let them, their join is
        // an ordinary (unclaimed) join, never taken for the bot.
        let other = format!("<presence xmlns='jabber:client' from='{ROOM}/helpim-bot'/>");
        assert_eq!(event(&other), joined("helpim-bot", None));
    }

    #[test]
    fn live_messages_and_replayed_history_are_told_apart() {
        let live = format!("<message xmlns='jabber:client' type='groupchat' from='{ROOM}/staff'><body>hi</body></message>");
        assert_eq!(
            event(&live),
            Some(Event::Message {
                nick: "staff".into(),
                body: "hi".into()
            })
        );
        let replayed = format!("<message xmlns='jabber:client' type='groupchat' from='{ROOM}/staff'><body>hi</body><delay xmlns='urn:xmpp:delay' stamp='2026-11-26T10:00:00Z'/></message>");
        assert_eq!(
            event(&replayed),
            Some(Event::Replayed {
                nick: "staff".into(),
                body: "hi".into(),
                at: chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
                    .unwrap()
                    .into(),
            })
        );
    }

    #[test]
    fn hostile_and_malformed_stanzas_give_no_event() {
        for xml in [
            "",
            "<",
            "not xml",
            "<presence/>",
            "<presence xmlns='jabber:client'/>",
            "<presence xmlns='jabber:client' from='@@@'/>",
            "<presence xmlns='jabber:client' from='a@b/c' type='bogus'/>",
            "<presence xmlns='jabber:client' from='a@b/c' type='subscribe'/>",
            "<presence xmlns='jabber:client' type='error' from='a@b/c'><error type='cancel'/></presence>",
            // Newer Unicode than the stringprep tables know (an emoji) is refused by the JID
            // parser: the stanza is dropped, not mistaken for something else.
            "<presence xmlns='jabber:client' from='a@b/🌷'/>",
            "<message xmlns='jabber:client' from='a@b/c' type='chat'><body>private</body></message>",
            "<message xmlns='jabber:client' from='a@b' type='groupchat'><body>from the room itself</body></message>",
            "<message xmlns='jabber:client' from='a@b/c' type='groupchat'/>",
            "<message xmlns='jabber:client' from='a@b/helpim-bot' type='groupchat'><body>own echo</body></message>",
            "<iq xmlns='jabber:client' from='stranger@evil/x' type='get' id='1'><query xmlns='jabber:iq:version'/></iq>",
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
        ] {
            assert_eq!(event(xml), None, "{xml}");
        }
        // Unknown status codes are kept, not refused as xmpp-parsers' MucUser does.
        let odd = "<presence xmlns='jabber:client' from='a@b/c'><x xmlns='http://jabber.org/protocol/muc#user'><status code='999'/><status code='99999999999'/></x></presence>";
        assert_eq!(event(odd), joined("c", None));
    }
}
