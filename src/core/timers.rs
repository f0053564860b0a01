//! When the core wants to wake, and why: named timers ([`Timer`], [`Wake`]), and the earliest
//! deadline of all rooms, a heap ordered by time, so that the bot finds the next thing to do
//! without looking at every room, and does nothing while nothing is due.
//!
//! Deadlines change often (every message moves a chat's idle limit), so the heap is lazy: setting
//! a new deadline pushes an entry and remembers it as the current one; entries that are no longer
//! current are dropped when they reach the top.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

use super::types::Time;

/// A reason the core wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// A room's own deadline: a claim, the rejoin grace, closing, idle.
    Room,
    /// A destroy that met a lost connection is sent again.
    DestroyRetry,
    /// The open claims are read from the database.
    ClaimsPoll,
    /// Old message bodies are erased.
    Prune,
    /// The waiting queue is swept.
    QueueSweep,
    /// Room creations go on after a back-off.
    Refill,
    /// Rejoins go on after a pause.
    Rejoin,
    /// A request to the XMPP server runs out of time.
    RequestLimit,
    /// A push to staff held back by its rate limit goes out.
    StaffPush,
}

impl Timer {
    /// Its name, for a trace.
    pub fn as_str(self) -> &'static str {
        match self {
            Timer::Room => "room",
            Timer::DestroyRetry => "destroy_retry",
            Timer::ClaimsPoll => "claims_poll",
            Timer::Prune => "prune",
            Timer::QueueSweep => "queue_sweep",
            Timer::Refill => "refill",
            Timer::Rejoin => "rejoin",
            Timer::RequestLimit => "request_limit",
            Timer::StaffPush => "staff_push",
        }
    }
}

/// The next time the core wants to be called, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// When.
    pub at: Time,
    /// Why.
    pub timer: Timer,
}

impl Wake {
    /// The earliest of `timers`.
    pub fn earliest(timers: impl IntoIterator<Item = (Option<Time>, Timer)>) -> Option<Wake> {
        timers
            .into_iter()
            .filter_map(|(at, timer)| at.map(|at| Wake { at, timer }))
            .min_by_key(|w| w.at)
    }
}

/// Deadlines by key (a room's JID).
#[derive(Debug)]
pub struct Deadlines<K: Ord + Hash + Clone> {
    heap: BinaryHeap<Reverse<(Time, K)>>,
    current: HashMap<K, Time>,
}

impl<K: Ord + Hash + Clone> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines {
            heap: BinaryHeap::new(),
            current: HashMap::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> Deadlines<K> {
    /// Sets (or, with `None`, clears) the deadline of `key`.
    pub fn set(&mut self, key: &K, at: Option<Time>) {
        match at {
            Some(at) => {
                if self.current.insert(key.clone(), at) != Some(at) {
                    self.heap.push(Reverse((at, key.clone())));
                }
            }
            None => {
                self.current.remove(key);
            }
        }
        // Stale entries are dropped at the top; if they pile up (a busy chat moves its idle
        // limit with every message) the heap is rebuilt from the current ones.
        if self.heap.len() > 2 * self.current.len() + 64 {
            self.heap = self
                .current
                .iter()
                .map(|(k, t)| Reverse((*t, k.clone())))
                .collect();
        }
    }

    /// The earliest deadline.
    pub fn earliest(&mut self) -> Option<Time> {
        self.drop_stale();
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Removes and returns a key whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Time) -> Option<K> {
        self.drop_stale();
        let Reverse((at, _)) = self.heap.peek()?;
        if *at > now {
            return None;
        }
        let Reverse((_, key)) = self.heap.pop().expect("peeked");
        self.current.remove(&key);
        Some(key)
    }

    /// How many keys have a deadline.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True when no key has a deadline.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse((at, key))) = self.heap.peek() {
            if self.current.get(key) == Some(at) {
                return;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t(s: i64) -> Time {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_earliest_current_deadline_comes_first_and_moved_ones_are_skipped() {
        let mut d = Deadlines::default();
        d.set(&"a", Some(t(10)));
        d.set(&"b", Some(t(5)));
        d.set(&"b", Some(t(20))); // moved later: its t(5) entry is stale
        d.set(&"c", Some(t(7)));
        d.set(&"c", None);
        assert_eq!(d.earliest(), Some(t(10)));
        assert_eq!(d.pop_due(t(9)), None);
        assert_eq!(d.pop_due(t(10)), Some("a"));
        assert_eq!(d.pop_due(t(10)), None);
        assert_eq!(d.len(), 1);
        assert_eq!(d.pop_due(t(30)), Some("b"));
        assert!(d.is_empty());
        assert_eq!(d.earliest(), None);
    }

    #[test]
    fn a_key_moved_many_times_does_not_grow_the_heap_without_bound() {
        let mut d = Deadlines::default();
        for i in 0..10_000 {
            d.set(&1, Some(t(i)));
        }
        assert!(d.heap.len() <= 2 * d.current.len() + 65, "{}", d.heap.len());
        assert_eq!(d.earliest(), Some(t(9_999)));
    }
}
