//! What the core counts as it goes, so that reporting costs the same with ten rooms or a hundred
//! thousand: rooms by status and readiness, each staff member's open rooms ([`Tally`]), and the
//! events `/metrics` counts ([`Counters`]; the driver exports them).

use std::collections::HashMap;

use super::room::Room;
use super::types::{KickReason, Status};

/// How many rooms are in each state, for `/metrics`, `/readyz` and systemd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Live rooms by status: available, staffed, busy, closing.
    pub by_status: [usize; 4],
    /// Rooms ready for a staff member: `available`, unclaimed, and the bot inside.
    pub ready: usize,
    /// Rooms of an earlier run or session that will be ready once the bot is back inside.
    pub ready_rejoining: usize,
    /// `staffed` rooms the bot is in whose staff member waits for a client (no client claim):
    /// the rooms a waiting visitor can get.
    pub open_staffed: usize,
    /// `staffed` rooms without a client claim that the bot is not inside yet (rejoining): while
    /// there are any, the database's oldest open room may be one the bot cannot vouch for.
    pub open_staffed_rejoining: usize,
}

impl Counts {
    fn slot(room: &Room, inside: bool) -> (usize, [bool; 4]) {
        let status = room.status();
        let i = match status {
            Status::Available => 0,
            Status::Staffed => 1,
            Status::Busy => 2,
            Status::Closing | Status::Closed => 3,
        };
        let ready = room.is_ready();
        let open = status == Status::Staffed && room.claims().client_at.is_none();
        (
            i,
            [
                ready && inside,
                ready && !inside,
                open && inside,
                open && !inside,
            ],
        )
    }

    fn add(&mut self, room: &Room, inside: bool) {
        let (i, [ready, rejoining, open, open_rejoining]) = Counts::slot(room, inside);
        self.by_status[i] += 1;
        self.ready += usize::from(ready);
        self.ready_rejoining += usize::from(rejoining);
        self.open_staffed += usize::from(open);
        self.open_staffed_rejoining += usize::from(open_rejoining);
    }

    fn remove(&mut self, room: &Room, inside: bool) {
        let (i, [ready, rejoining, open, open_rejoining]) = Counts::slot(room, inside);
        self.by_status[i] -= 1;
        self.ready -= usize::from(ready);
        self.ready_rejoining -= usize::from(rejoining);
        self.open_staffed -= usize::from(open);
        self.open_staffed_rejoining -= usize::from(open_rejoining);
    }
}

/// The room counts, and the staffed and busy rooms of each staff member (by bare JID), kept up
/// to date as rooms change.
#[derive(Debug, Default)]
pub struct Tally {
    /// Rooms by status.
    pub counts: Counts,
    /// Staffed and busy rooms by the staff member's bare JID.
    pub staff_rooms: HashMap<String, usize>,
}

impl Tally {
    /// Staffed rooms without a client claim that a waiting visitor can be given now: none while
    /// one such room is still being rejoined (the database's oldest open room may be that one,
    /// gone with a restarted server).
    pub fn free_rooms(&self) -> usize {
        if self.counts.open_staffed_rejoining > 0 {
            0
        } else {
            self.counts.open_staffed
        }
    }

    /// Counts `room` (the bot `inside` or not) in (`add`) or out.
    pub fn count(&mut self, room: &Room, inside: bool, add: bool) {
        let staff = matches!(room.status(), Status::Staffed | Status::Busy)
            .then(|| room.staff_jid())
            .flatten();
        if add {
            self.counts.add(room, inside);
            if let Some(jid) = staff {
                *self.staff_rooms.entry(jid.to_string()).or_default() += 1;
            }
        } else {
            self.counts.remove(room, inside);
            if let Some(n) = staff.and_then(|jid| self.staff_rooms.get_mut(jid)) {
                *n -= 1;
                if *n == 0 {
                    self.staff_rooms.remove(staff.expect("found"));
                }
            }
        }
    }
}

/// Events counted since the start, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Rooms created and configured.
    pub rooms_created: u64,
    /// Room creations that failed.
    pub room_create_failures: u64,
    /// Requests to the XMPP server that got no answer in time.
    pub request_timeouts: u64,
    /// Reads of the database that failed (claims poll, queue sweep, assignment).
    pub db_errors: u64,
    /// Kicks by reason, in the order of [`Counters::KICK_REASONS`].
    pub kicks: [u64; 4],
}

impl Counters {
    /// The kick reasons [`Counters::kicks`] counts, with their metric labels.
    pub const KICK_REASONS: [(KickReason, &'static str); 4] = [
        (KickReason::NoClaim, "no_claim"),
        (KickReason::ThirdPerson, "third_person"),
        (KickReason::Impostor, "impostor"),
        (KickReason::Timeout, "timeout"),
    ];

    /// Counts a kick.
    pub fn kicked(&mut self, reason: KickReason) {
        if let Some(i) = Counters::KICK_REASONS
            .iter()
            .position(|(r, _)| *r == reason)
        {
            self.kicks[i] += 1;
        }
    }
}
