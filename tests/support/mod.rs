//! Test harness: a real XMPP server per test (Prosody, or ejabberd with
//! `HELPIM_TEST_XMPP=ejabberd`; a free loopback port, config and data in a temp folder), a real
//! SQLite file or a fresh PostgreSQL database per test, real XMPP clients, and the bot running
//! in-process or as its binary. One file per concern:
//!
//! - [`server`]: the XMPP server (Prosody or ejabberd);
//! - [`db`]: databases (SQLite files, PostgreSQL databases, a PostgreSQL cluster of a test's own);
//! - [`bot`]: the bot, in-process or as its binary, its configuration, the CLI;
//! - [`people`]: XMPP clients — staff members, clients, strangers, the inspecting admin;
//! - [`checks`]: waiting for rows and rooms, and the invariants between database and server;
//! - [`fixture`]: the setup most integration tests repeat;
//! - [`proxy`]: a TCP proxy between the bot and the server whose connections a test cuts.
//!
//! Nothing here skips: a missing Prosody, ejabberd or PostgreSQL fails the test with what to
//! install.

#![allow(dead_code, unused_imports)]

pub mod bot;
pub mod checks;
pub mod db;
pub mod fixture;
pub mod people;
pub mod pg_tls;
pub mod proxy;
pub mod server;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use bot::*;
pub use checks::*;
pub use db::*;
pub use fixture::*;
pub use people::*;
pub use proxy::*;
pub use server::*;

/// The password of every test account.
pub const PASSWORD: &str = "test-password";
/// Accounts every test Prosody has; `bot` and `inspector` are admins (may create rooms).
pub const ACCOUNTS: &[&str] = &[
    "bot",
    "inspector",
    "staff",
    "client",
    "eve",
    "staff2",
    "client2",
    "staff3",
    "client3",
    "staff4",
    "client4",
    // For tests/chaos.rs: staff and clients of up to 16 chats at once.
    "cs0",
    "cs1",
    "cs2",
    "cs3",
    "cs4",
    "cs5",
    "cs6",
    "cs7",
    "cs8",
    "cs9",
    "cs10",
    "cs11",
    "cs12",
    "cs13",
    "cs14",
    "cs15",
    "cc0",
    "cc1",
    "cc2",
    "cc3",
    "cc4",
    "cc5",
    "cc6",
    "cc7",
    "cc8",
    "cc9",
    "cc10",
    "cc11",
    "cc12",
    "cc13",
    "cc14",
    "cc15",
];

/// A free TCP port on 127.0.0.1, picked at random below the kernel's ephemeral range (32768
/// and up by default): a port the kernel hands out for `:0` may be given to one of the many
/// outgoing connections of the tests (to PostgreSQL, to the servers) before a server binds it.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new();
    (0u32..10_000)
        .map(|i| 10_000 + (random.hash_one(i) % 22_000) as u16)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port on 127.0.0.1 between 10000 and 32000")
}

/// True when the tests run against ejabberd (`HELPIM_TEST_XMPP=ejabberd`) instead of Prosody.
pub fn ejabberd_wanted() -> bool {
    std::env::var("HELPIM_TEST_XMPP").is_ok_and(|v| v == "ejabberd")
}

/// What a finished command printed: its standard output, then its standard error.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The path of a program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// Waits until `check` returns `Some`, polling every 50 ms, or fails after `limit` with `what`.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    poll(limit, Duration::from_millis(50), what, check).await
}

/// How often a test asks the bot a command again while waiting for an answer it wants: within
/// the bot's limit of 20 commands per 10 s a session (`core::protocol::RATE_LIMIT`), so that the
/// asking itself is never refused (`resource-constraint`) on a slow machine.
pub const ASK_AGAIN: Duration = Duration::from_millis(700);

/// [`wait_for`] for a `check` that runs a command of the bot: polls every [`ASK_AGAIN`].
pub async fn wait_for_answer<T, F, Fut>(limit: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    poll(limit, ASK_AGAIN, what, check).await
}

async fn poll<T, F, Fut>(limit: Duration, every: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(every).await;
    }
}
