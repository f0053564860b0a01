//! The whole bot on a simulated clock, in a world that plays the MUC service and the database
//! ([`harness`]): tests say what happens and read what the bot did, by topic.

mod after_chat;
mod claims;
mod handover;
mod harness;
mod hours;
mod languages;
mod leave;
mod pool;
mod privacy;
mod protocol;
mod questions;
mod queue;
mod rejoin;
mod shift;
mod staff_room;
mod supervision;
mod transcripts;
mod words;

use std::str::FromStr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use xmpp_parsers::jid::BareJid;

use super::pool::Secrets;
use super::room::Room;
use super::types::{Claims, Limits, Seat, Status, Time};
use super::{settings, Core, Restored, Settings};
use harness::World;

fn t(ms: i64) -> Time {
    Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
}

fn secs(s: i64) -> Time {
    t(s * 1000)
}

/// Names `room-1`, `room-2` … and passwords `pw-1`, `pw-2` …
#[derive(Default)]
struct Counter(u32, u32);

impl Secrets for Counter {
    fn room_name(&mut self, prefix: &str) -> String {
        self.0 += 1;
        format!("{prefix}-{}", self.0)
    }
    fn password(&mut self) -> String {
        self.1 += 1;
        format!("pw-{}", self.1)
    }
}

fn settings() -> Settings {
    Settings {
        service: "conference.localhost".into(),
        nick: "helpim-bot".into(),
        prefix: "room".into(),
        history: 20,
        owner: BareJid::from_str("bot@localhost").unwrap(),
        clean_exit: "Clean Exit".into(),
        limits: Limits {
            claim: Duration::from_secs(60),
            rejoin_grace: Duration::from_secs(30),
            closing: Duration::from_secs(120),
            idle: Duration::from_secs(600),
        },
        pool_size: 3,
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
        staff: settings::Staff {
            jids: vec!["staff@localhost".into()],
            max_chats: 2,
            ..Default::default()
        },
        visitors: settings::Visitors {
            domains: vec!["anon.localhost".into()],
        },
        catalogs: std::sync::Arc::new(crate::i18n::Catalogs::shipped()),
    }
}

/// The settings with opening hours every day 09:00–17:00 UTC, warning 10 minutes before closing.
fn with_hours() -> Settings {
    Settings {
        hours: Some(
            crate::hours::Hours::parse(
                "UTC",
                &["mon-sun 09:00-17:00".into()],
                &[],
                Duration::from_secs(600),
            )
            .unwrap(),
        ),
        ..settings()
    }
}

fn jid(s: &str) -> BareJid {
    BareJid::from_str(s).unwrap()
}

fn room_jid(n: u32) -> BareJid {
    jid(&format!("room-{n}@conference.localhost"))
}

/// A world whose bot runs with `settings`, offline, at time 0.
fn world_with(settings: Settings) -> World {
    World::new(Core::new(settings, Box::new(Counter::default())), secs(0))
}

/// A world whose bot is online with a full pool of three rooms, room-1 to room-3, at time 0.
fn full_pool() -> World {
    let mut w = world_with(settings());
    w.input(super::Input::Online { fresh: true });
    assert_eq!(w.core.counts().ready, 3);
    w
}

/// A full pool with room-1 staffed by `staff@localhost` (its staff claim, made at 1 s, found by
/// the claims poll at 2 s), at 2 s.
fn staffed_pool() -> World {
    staffed_pool_with(settings())
}

/// [`staffed_pool`] with `settings`.
fn staffed_pool_with(settings: Settings) -> World {
    let mut w = world_with(settings);
    w.input(super::Input::Online { fresh: true });
    assert_eq!(w.core.counts().ready, 3);
    w.store.claims.insert(
        room_jid(1).to_string(),
        Claims {
            staff_at: Some(secs(1)),
            client_at: None,
        },
    );
    w.until(secs(2));
    w.enter(&room_jid(1), "staff");
    assert_eq!(w.core.counts().open_staffed, 1);
    w
}

/// [`staffed_pool`] with [`VISITOR`] (Sam, [`KEY`]) given room-1 and invited to it, not in it
/// yet (the room still `staffed`), at 3 s.
fn assigned_not_seated() -> World {
    let mut w = staffed_pool();
    w.now = secs(3);
    let mut e = request_chat(&mut w);
    e.extend(w.until(secs(3)));
    assert!(
        harness::sent(&e)
            .iter()
            .any(|s| s.contains("jabber:x:conference") && s.contains(VISITOR)),
        "an invitation: {e:?}"
    );
    assert!(w.store.claims[&room_jid(1).to_string()].client_at.is_some());
    assert_eq!(
        w.core.counts().by_status[1..3],
        [1, 0],
        "staffed, nobody seated"
    );
    w
}

/// [`assigned_not_seated`] with Sam joined: room-1 `busy`, at 4 s.
fn busy_pool() -> World {
    let mut w = assigned_not_seated();
    w.now = secs(4);
    w.enter_as(
        &room_jid(1),
        harness::Occupant {
            nick: "Sam".into(),
            jid: VISITOR.into(),
            affiliation: "none".into(),
        },
    );
    assert_eq!(w.core.counts().by_status[2], 1, "busy");
    w
}

/// A world with no pool of its own, holding `rooms` of an earlier run, which the MUC service
/// still has (with the occupants the rows name), at `now`, not online yet.
fn rejoining(rooms: Vec<Restored>, now: Time) -> World {
    rejoining_with(
        Settings {
            pool_size: 0,
            ..settings()
        },
        rooms,
        now,
    )
}

/// [`rejoining`] with `settings`.
fn rejoining_with(settings: Settings, rooms: Vec<Restored>, now: Time) -> World {
    let mut w = world_with(settings);
    w.now = now;
    for r in &rooms {
        let inside: Vec<&str> = r
            .room
            .staff_nick()
            .into_iter()
            .chain(r.room.client_nick())
            .collect();
        w.muc.add_room(&r.jid, &r.password, &inside);
        w.store.claims.insert(r.jid.to_string(), r.room.claims());
        w.store.status.insert(r.jid.to_string(), r.room.status());
    }
    w.core.restore(rooms);
    w
}

/// Room `n` of an earlier run: staffed by `staff` unless `available`, with `client` in it when
/// busy or closing; password `old-n`, four lines stored, the last at `last_message`.
fn restored(n: u32, status: Status, last_message: Option<Time>) -> Restored {
    let seat = |nick: &str| {
        Some(Seat {
            nick: nick.into(),
            jid: Some(format!("{nick}@localhost")),
            claim: Some(secs(0)),
        })
    };
    let busy = matches!(status, Status::Busy | Status::Closing);
    Restored {
        jid: room_jid(n),
        password: format!("old-{n}"),
        room: Room::restore(
            status,
            secs(0),
            Claims {
                staff_at: Some(secs(0)),
                client_at: busy.then(|| secs(0)),
            },
            (status != Status::Available)
                .then(|| seat("staff"))
                .flatten(),
            busy.then(|| seat("client")).flatten(),
            last_message.unwrap_or(secs(0)),
        ),
        last_seq: 4,
        history_since: last_message.unwrap_or(secs(0)),
        recent: last_message
            .map(|at| vec![(at, "client".to_string(), "last line".to_string())])
            .unwrap_or_default(),
    }
}

const VISITOR: &str = "v1@anon.localhost/web";
const KEY: &str = "Yx3hXb0q9P2mZr7Lk4sNw8Tq";

/// [`VISITOR`] asks for a chat as Sam, about exams, with [`KEY`].
fn request_chat(w: &mut World) -> Vec<harness::Event> {
    w.command(
        VISITOR,
        "request-chat",
        &[("nick", "Sam"), ("topic", "exams"), ("key", KEY)],
    )
}
