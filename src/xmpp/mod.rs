//! XMPP: making a connection ([`connect`]), the session task that owns the stream
//! ([`session`]), building and reading the MUC stanzas ([`stanza`]) and those of the bot's own
//! protocol ([`adhoc`]).

pub mod adhoc;
pub mod codec;
pub mod connect;
pub mod handover;
pub mod session;
pub mod stanza;

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;

pub use connect::ConnectSettings;
pub use session::{Session, SessionEvent};
pub use tokio_xmpp::Stanza;

use stanza::{JoinStep, RoomPresence};

/// A stanza that expects an answer.
#[derive(Debug, Clone)]
pub enum Request {
    /// An IQ get or set (its id is set by the session); answered by [`Answer::Iq`].
    Iq(Box<Iq>),
    /// A presence that joins `room`; answered by [`Answer::Joined`].
    Join {
        /// The room.
        room: BareJid,
        /// The join presence.
        presence: Presence,
    },
}

impl Request {
    /// An IQ request.
    pub fn iq(iq: Iq) -> Request {
        Request::Iq(Box::new(iq))
    }
}

/// The answer to a [`Request`].
#[derive(Debug, Clone)]
pub enum Answer {
    /// The payload of an IQ result.
    Iq(Option<Element>),
    /// The room's answer to a join.
    Joined(Joined),
}

/// Why a request got no useful answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IqError {
    /// No answer in time.
    #[error("no answer within the time limit")]
    Timeout,
    /// The server answered with an error.
    #[error("error response: {0}")]
    Error(String),
    /// The session was reset or closed before the answer came.
    #[error("the XMPP session ended before the answer came")]
    Disconnected,
}

/// The result of joining a room.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The bot's own presence (status codes 110, maybe 201).
    pub own: RoomPresence,
    /// The presences of the occupants already inside, received before the bot's own.
    pub occupants: Vec<RoomPresence>,
}

/// A join's answer as it comes in: the presences of the occupants already inside, then the
/// bot's own presence (or an error). The core and [`Session::ask`] both read joins with it.
#[derive(Debug, Default)]
pub struct JoinReply {
    occupants: Vec<RoomPresence>,
}

impl JoinReply {
    /// Takes the next presence from the room: the answer once it is complete, else `None`.
    pub fn take(&mut self, presence: &RoomPresence) -> Option<Result<Answer, IqError>> {
        match presence.join_step() {
            JoinStep::Refused(condition) => Some(Err(IqError::Error(condition))),
            JoinStep::Joined => Some(Ok(Answer::Joined(Joined {
                own: presence.clone(),
                occupants: std::mem::take(&mut self.occupants),
            }))),
            JoinStep::Occupant => {
                self.occupants.push(presence.clone());
                None
            }
            JoinStep::EarlierPlaceEnded => {
                tracing::debug!(room = %presence.room, "an earlier session's place in the room ended while joining it; waiting for the join's answer");
                None
            }
        }
    }
}
