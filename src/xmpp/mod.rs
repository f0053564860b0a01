//! XMPP: the session task that owns the stream ([`session`]) and the MUC stanzas ([`stanza`]).

pub mod session;
pub mod stanza;

pub use session::{ConnectSettings, IqError, Joined, Session, SessionEvent};
