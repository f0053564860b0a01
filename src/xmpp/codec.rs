//! The one way in: every stanza the server sends is read here, by the session and by the fuzz
//! target alike, into what the rest of the bot sees ([`Inbound`]). Room presences and messages
//! are read by [`stanza`], the bot's own protocol by [`adhoc`]; a ping or a disco#info of the
//! bot itself gets its answer here, ready to send.

use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use super::stanza::{self, RoomMessage, RoomPresence};
use super::{adhoc, IqError};

/// A stanza read off the wire, as the rest of the bot sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A presence from a room occupant, or one a person directed at the bot.
    Presence(RoomPresence),
    /// A groupchat message with a body from a room occupant.
    Message(RoomMessage),
    /// Any other message (an invitation, a notice): the bot has no use for it; a client has.
    OtherMessage(Box<Message>),
    /// A command, or the list of commands, asked of the bot.
    Request(adhoc::Incoming),
    /// The answer (result or error) to an IQ someone sent.
    Response {
        /// The IQ's id.
        id: String,
        /// Who answered (`None`: the server).
        from: Option<Jid>,
        /// The payload, or the error's condition.
        result: Result<Option<Element>, IqError>,
    },
    /// A request the session answers itself (a ping, disco#info of the bot): the answer.
    Serve(Box<Iq>),
    /// Nothing the bot reads (a presence from no room, say).
    Ignored,
}

/// Reads one stanza.
pub fn read(stanza: Stanza) -> Inbound {
    match stanza {
        Stanza::Presence(p) => match stanza::room_presence(&p) {
            Some(rp) => Inbound::Presence(rp),
            None => Inbound::Ignored,
        },
        Stanza::Message(m) => match stanza::room_message(&m) {
            Some(message) => Inbound::Message(message),
            None => Inbound::OtherMessage(Box::new(m)),
        },
        Stanza::Iq(iq) => read_iq(iq),
    }
}

/// Reads an element the way [`read`] reads a stanza; `Ignored` for what is no stanza.
pub fn read_element(element: Element) -> Inbound {
    let stanza = match element.name() {
        "presence" => Presence::try_from(element).ok().map(Stanza::Presence),
        "message" => Message::try_from(element).ok().map(Stanza::Message),
        "iq" => Iq::try_from(element).ok().map(Stanza::Iq),
        _ => None,
    };
    stanza.map_or(Inbound::Ignored, read)
}

fn read_iq(iq: Iq) -> Inbound {
    if let Some(request) = adhoc::read_request(&iq) {
        return Inbound::Request(request);
    }
    match iq {
        Iq::Get {
            from, id, payload, ..
        }
        | Iq::Set {
            from, id, payload, ..
        } => {
            let answer = if payload.is("ping", stanza::NS_PING) {
                Iq::Result {
                    from: None,
                    to: from,
                    id,
                    payload: None,
                }
            } else if let Some(info) = adhoc::disco_info(&payload) {
                Iq::Result {
                    from: None,
                    to: from,
                    id,
                    payload: Some(info),
                }
            } else {
                tracing::debug!(from = ?from.as_ref().map(|j| j.to_string()), ns = %payload.ns(), "answering an unsupported request with an error");
                Iq::Error {
                    from: None,
                    to: from,
                    id,
                    error: StanzaError::new(
                        ErrorType::Cancel,
                        DefinedCondition::ServiceUnavailable,
                        "en",
                        "",
                    ),
                    payload: None,
                }
            };
            Inbound::Serve(Box::new(answer))
        }
        Iq::Result {
            from, id, payload, ..
        } => Inbound::Response {
            id,
            from,
            result: Ok(payload),
        },
        Iq::Error {
            from, id, error, ..
        } => {
            let condition = format!("{:?}", error.defined_condition);
            Inbound::Response {
                id,
                from,
                result: Err(IqError::Error(kebab(&condition))),
            }
        }
    }
}

/// `NotAuthorized` → `not-authorized`.
fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
