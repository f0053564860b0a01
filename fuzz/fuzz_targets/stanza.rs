//! Fuzz target: whatever a server or a stranger sends, read the way the bot reads it, and the
//! resulting events fed to rooms in every state. Input: stanzas separated by NUL bytes.
//!
//! Run: `scripts/fuzz.sh [seconds]` (cargo fuzz on the stable toolchain).

#![no_main]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use helpim_bot::room::{Claims, Event, Limits, Room, Status};
use helpim_bot::xmpp::stanza::wire_event;
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    claim: Duration::from_secs(60),
    rejoin_grace: Duration::from_secs(30),
    closing: Duration::from_secs(60),
    idle: Duration::from_secs(600),
};

fuzz_target!(|data: &[u8]| {
    let t0 = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let claims = Claims {
        staff_at: Some(t0),
        client_at: Some(t0),
    };
    let mut rooms = vec![Room::new(t0)];
    for status in [
        Status::Available,
        Status::Staffed,
        Status::Busy,
        Status::Closing,
    ] {
        rooms.push(Room::restore(
            status,
            t0,
            claims,
            Some("staff".into()),
            Some("client".into()),
            t0,
        ));
    }
    let mut now = t0;
    for chunk in data.split(|b| *b == 0) {
        let Ok(xml) = std::str::from_utf8(chunk) else {
            continue;
        };
        let Some(event) = wire_event(xml, "helpim-bot", "Clean Exit") else {
            continue;
        };
        now += chrono::Duration::seconds(1);
        for room in &mut rooms {
            room.handle(event.clone(), now, &LIMITS);
            room.handle(Event::Claims(claims), now, &LIMITS);
        }
    }
});
