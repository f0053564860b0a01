//! The pool of ready rooms: how many creations to start, and how long to wait after a failure.
//! Names and passwords are handed in by a [`Secrets`] source, so that the core stays pure.

use std::time::Duration;

use super::types::Time;

/// Where room names and passwords come from: the operating system's CSPRNG in the bot
/// ([`crate::secrets::OsSecrets`]), a counter in tests.
pub trait Secrets: Send {
    /// A fresh room name (the localpart), never used before.
    fn room_name(&mut self, prefix: &str) -> String;
    /// A fresh room password.
    fn password(&mut self) -> String;
}

/// How many room creations to start now.
///
/// `ready` rooms are `available` and unclaimed, `live` rooms are not `closed`; `creating` are in
/// flight. The pool wants `size` ready rooms, never more than `max_rooms` live ones, and at most
/// `parallel` creations at once.
pub fn creations_to_start(
    size: u32,
    max_rooms: u32,
    parallel: u32,
    ready: usize,
    live: usize,
    creating: usize,
) -> usize {
    let missing = (size as usize).saturating_sub(ready + creating);
    let room_left = (max_rooms as usize).saturating_sub(live + creating);
    let slots = (parallel as usize).saturating_sub(creating);
    missing.min(room_left).min(slots)
}

/// The first wait after a failed creation.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between failed creations.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Exponential backoff of room creation: every failure doubles the wait (up to
/// [`MAX_BACKOFF`]), a success ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    delay: Duration,
    paused_until: Option<Time>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            delay: FIRST_BACKOFF,
            paused_until: None,
        }
    }
}

impl Backoff {
    /// A creation failed at `now`: pause; returns how long.
    pub fn failed(&mut self, now: Time) -> Duration {
        let delay = self.delay;
        self.paused_until = Some(now + chrono::Duration::from_std(delay).unwrap_or_default());
        self.delay = (self.delay * 2).min(MAX_BACKOFF);
        delay
    }

    /// A creation succeeded: no more waiting.
    pub fn succeeded(&mut self) {
        *self = Backoff::default();
    }

    /// True while creations must wait; a pause that has ended is forgotten.
    pub fn paused(&mut self, now: Time) -> bool {
        if self.paused_until.is_some_and(|t| now >= t) {
            self.paused_until = None;
        }
        self.paused_until.is_some()
    }

    /// When the current pause ends.
    pub fn until(&self) -> Option<Time> {
        self.paused_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn creations_fill_to_size_within_limits() {
        // Empty pool of 5, max 100, 4 in parallel: start 4.
        assert_eq!(creations_to_start(5, 100, 4, 0, 0, 0), 4);
        // Then 1 more once those are in flight.
        assert_eq!(creations_to_start(5, 100, 8, 0, 0, 4), 1);
        // Full pool: nothing.
        assert_eq!(creations_to_start(5, 100, 4, 5, 9, 0), 0);
        // max_rooms caps live + creating.
        assert_eq!(creations_to_start(5, 10, 4, 2, 9, 0), 1);
        assert_eq!(creations_to_start(5, 10, 4, 2, 10, 0), 0);
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds_and_a_success_resets_it() {
        let t0 = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let mut b = Backoff::default();
        assert!(!b.paused(t0));
        let waits: Vec<u128> = (0..8).map(|_| b.failed(t0).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert!(b.paused(t0 + chrono::Duration::seconds(29)));
        assert!(!b.paused(t0 + chrono::Duration::seconds(30)));
        b.succeeded();
        assert_eq!(b.failed(t0).as_millis(), 500);
    }
}
