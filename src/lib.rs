//! helpim-bot: keeps a pool of password-protected XMPP MUC rooms for a help line and follows each
//! room through `available → staffed → busy → closing → closed` in a SQL table shared with the
//! help line's web application.
//!
//! The path of an event: [`xmpp::session`] owns the XMPP stream and hands presences to [`bot`],
//! which feeds them to the pure state machine in [`room`] and carries out its actions: stanzas
//! through the session, SQL through [`writer`] into [`store`]. [`pool`] creates rooms; [`config`]
//! reads `bot.toml`.

pub mod active;
pub mod bot;
pub mod config;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod pool;
pub mod room;
pub mod store;
pub mod writer;
pub mod xmpp;
