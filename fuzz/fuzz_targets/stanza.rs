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
use std::time::Duration;

use chrono::{TimeZone, Utc};
use helpim_bot::core::pool::Secrets;
use helpim_bot::core::room::Room;
use helpim_bot::core::types::{Claims, Limits, Seat, Status};
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

fn settings() -> Settings {
    Settings {
        service: "conference.localhost".into(),
        nick: "helpim-bot".into(),
        prefix: "helpim".into(),
        history: 20,
        owner: BareJid::from_str("bot@localhost").unwrap(),
        clean_exit: "Clean Exit".into(),
        limits: Limits {
            claim: Duration::from_secs(60),
            rejoin_grace: Duration::from_secs(30),
            closing: Duration::from_secs(60),
            idle: Duration::from_secs(600),
        },
        pool_size: 2,
        max_rooms: 10,
        parallel_creations: 2,
        request_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_secs(2),
        transcripts: true,
        keep_days: 30,
        keep_visitor_names: false,
        queue_auto: true,
        max_wait: Duration::from_secs(3600),
        visitor_timeout: Duration::from_secs(60),
        max_length: 100,
        pace_window: Duration::from_secs(1800),
        return_grace: Duration::from_secs(60),
        reoffer_after: Duration::from_secs(120),
        hours: None,
        questions: Default::default(),
        staff: helpim_bot::core::settings::Staff {
            jids: vec!["*@localhost".into()],
            max_chats: 2,
            ..Default::default()
        },
        visitors: helpim_bot::core::settings::Visitors {
            domains: vec!["anon.localhost".into()],
        },
        catalogs: std::sync::Arc::new(helpim_bot::i18n::Catalogs::shipped()),
    }
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
