//! helpim-bot: keeps a pool of password-protected XMPP MUC rooms for a help line and follows each
//! room through `available → staffed → busy → closing → closed` in a SQL table shared with the
//! help line's web application.
//!
//! The path of an event: [`xmpp::session`] owns the XMPP stream and reads each stanza; the
//! [`driver`] feeds it to the pure [`core`] (every room's state machine, the pool, rejoining,
//! timers by deadline) and carries out the effects that come back: stanzas through the session,
//! SQL through [`writer`] into [`store`]. [`config`] reads `bot.toml`.

pub mod active;
pub mod config;
pub mod core;
pub mod driver;
pub mod hours;
pub mod http;
pub mod i18n;
pub mod lock;
pub mod metrics;
pub mod notify;
pub mod secrets;
pub mod stats;
pub mod store;
pub mod writer;
pub mod xmpp;
