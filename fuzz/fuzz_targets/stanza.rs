//! Fuzz target: whatever a server or a stranger sends (room presences and messages, directed
//! presences, commands, answers to the bot's requests), read the way the session reads it
//! (`codec::read_element`, the one way in), then fed to the
//! bot's core — the same translator and state machines the
//! running bot uses — holding rooms in every state, with the clock moving and deadlines firing.
//! Input: stanzas separated by NUL bytes; a chunk that is a single byte moves the clock instead.
//!
//! Run: `scripts/fuzz.sh [seconds]` (cargo fuzz on the stable toolchain).

#![no_main]

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use helpim_bot::core::pool::Secrets;
use helpim_bot::core::room::Room;
use helpim_bot::core::types::{Claims, Seat, Status};
use helpim_bot::core::{Core, Effect, Input, Restored, Settings};
use helpim_bot::xmpp::codec::{read_element, Inbound};
use helpim_bot::xmpp::stanza::{PresenceKind, RoomPresence};
use helpim_bot::xmpp::Stanza;
use libfuzzer_sys::fuzz_target;
use xmpp_parsers::jid::BareJid;

struct Fixed(u64);

impl Secrets for Fixed {
    fn room_name(&mut self, prefix: &str) -> String {
        self.0 += 1;
        format!("{prefix}-{}", self.0)
    }
    fn password(&mut self) -> String {
        "pw".into()
    }
}

/// The core's settings, read from a configuration text the way the running bot reads bot.toml, so
/// that a new setting takes its default here instead of breaking this target's build.
fn settings() -> Settings {
    const CONFIG: &str = r#"
[xmpp]
jid = "bot@localhost"
password = "pw"
[muc]
service = "conference.localhost"
[pool]
size = 2
max_rooms = 10
parallel_creations = 2
[timeouts]
claim = "60s"
rejoin_grace = "30s"
closing = "60s"
idle = "600s"
[database]
poll_interval = "2s"
[queue]
max_wait = "1h"
return_grace = "60s"
[staff]
jids = ["*@localhost"]
max_chats = 2
[visitors]
domains = ["anon.localhost"]
"#;
    let config = helpim_bot::config::Config::from_parts("fuzz settings", CONFIG, &[])
        .expect("the fuzz target's configuration is valid");
    helpim_bot::driver::core_settings(&config).expect("the fuzz target's settings")
}

fuzz_target!(|data: &[u8]| {
    let t0 = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let claims = Claims {
        staff_at: Some(t0),
        client_at: Some(t0),
    };
    let seat = |nick: &str| {
        Some(Seat {
            nick: nick.into(),
            jid: Some(format!("{nick}@localhost")),
            claim: Some(t0),
        })
    };
    let mut core = Core::new(settings(), Box::new(Fixed(0)));
    let rooms = [
        Status::Available,
        Status::Staffed,
        Status::Busy,
        Status::Closing,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, status)| Restored {
        jid: BareJid::from_str(&format!("helpim-{i}@conference.localhost")).unwrap(),
        password: "pw".into(),
        room: Room::restore(status, t0, claims, seat("staff"), seat("client"), t0),
        last_seq: 0,
        history_since: t0,
        recent: Vec::new(),
    })
    .collect();
    core.restore(rooms);
    let now = t0;
    // The bot rejoins each room and finds staff member and client inside.
    let occupant = |room: &BareJid, nick: &str, codes: Vec<u16>, affiliation: &str| RoomPresence {
        room: room.clone(),
        nick: nick.into(),
        kind: PresenceKind::Available,
        codes,
        real_jid: Some(format!("{nick}@localhost/web")),
        affiliation: Some(affiliation.into()),
        status_text: None,
        new_nick: None,
        destroyed: false,
    };
    for effect in core.handle(Input::Online { fresh: true }, now) {
        // Each rejoin is answered as the room would: the occupants, then the bot's own presence.
        let Effect::Send(stanza) = effect else {
            continue;
        };
        let Stanza::Presence(join) = *stanza else {
            continue;
        };
        let Some(room) = join.to.as_ref().map(|to| to.to_bare()) else {
            continue;
        };
        for presence in [
            occupant(&room, "staff", vec![], "none"),
            occupant(&room, "client", vec![], "none"),
            occupant(&room, "helpim-bot", vec![110], "owner"),
        ] {
            core.handle(Input::Presence(presence), now);
        }
    }
    let mut now = now;
    for chunk in data.split(|b| *b == 0) {
        if let [step] = chunk {
            now += chrono::Duration::seconds(i64::from(*step));
            core.handle(Input::Timer, now);
            continue;
        }
        let Ok(xml) = std::str::from_utf8(chunk) else {
            continue;
        };
        let Ok(element) = xml.parse() else {
            continue;
        };
        let input = match read_element(element) {
            Inbound::Presence(p) => Input::Presence(p),
            Inbound::Message(m) => Input::Message(m),
            Inbound::Request(r) => Input::Request(r),
            Inbound::Response { id, from, result } => Input::Response { id, from, result },
            Inbound::OtherMessage(_) | Inbound::Serve(_) | Inbound::Ignored => continue,
        };
        core.handle(input, now);
        let _ = core.next_deadline();
    }
});
