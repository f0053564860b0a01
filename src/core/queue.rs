//! The waiting queue as the bot runs it. The rows live in SQL (`queue`), where the web
//! application and the bot's own protocol add visitors; the bot decides when to give the first
//! waiting visitor a staffed room (in `auto` mode: whenever a staffed room has no client claim
//! and someone waits) and sweeps the queue every `database.poll_interval` (expiry, visitors
//! gone quiet, how many wait). The assignment itself is one atomic database operation, so two
//! bots or a web application's own claims never give one room or one visitor twice.

use std::time::Duration;

use super::types::Time;

/// What became of a request to queue a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued as this row.
    Queued(i64),
    /// The visitor label had an open (waiting or assigned) row already: this one.
    AlreadyQueued(i64),
    /// The visitor label is blocked.
    Blocked,
    /// The queue is full (`queue.max_length`).
    Full,
    /// Asked without the answers the questions need, by a label with no open row: nothing was
    /// made (the form is shown again).
    Unanswered,
}

/// A waiting visitor over XMPP and their place: row id, full JID, place in line (1 is next).
pub type Place = (i64, String, i64);

/// The queue after the bot's sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    /// How many visitors wait.
    pub waiting: i64,
    /// Since when the first in line waits.
    pub oldest: Option<Time>,
    /// The newest waiting row (`queue.id`): with the count and the first, it tells whether the
    /// waiting list changed since it was last read (rows only join at the end).
    pub newest: Option<i64>,
    /// When asked for: the waiting visitors over XMPP (row id, full JID, place in line), and
    /// when visitors were given a room within `queue.pace_window`, oldest first.
    pub places: Option<(Vec<Place>, Vec<Time>)>,
}

/// The queue's state in the bot: what it last learnt from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Whether the bot assigns visitors itself (`queue.assign = "auto"`).
    auto: bool,
    /// Visitors waiting, as of the last sweep and the assignments since.
    waiting: i64,
    /// Since when the first in line waits, as of the last sweep.
    oldest: Option<Time>,
    /// An assignment is on its way.
    assigning: bool,
    /// A sweep is on its way.
    sweeping: bool,
    /// When the next sweep is due (`None` until the bot is online).
    next_sweep: Option<Time>,
    /// How often the queue is swept.
    every: Duration,
}

impl Queue {
    /// A queue the bot sweeps every `every`, assigning visitors itself when `auto`.
    pub fn new(auto: bool, every: Duration) -> Queue {
        Queue {
            auto,
            waiting: 0,
            oldest: None,
            assigning: false,
            sweeping: false,
            next_sweep: None,
            every,
        }
    }

    /// The bot is online from `now`: the first sweep is due at once.
    pub fn start(&mut self, now: Time) {
        self.next_sweep.get_or_insert(now);
    }

    /// True when a sweep should start now (and it is then counted as started).
    pub fn sweep_due(&mut self, now: Time) -> bool {
        let due = !self.sweeping && self.next_sweep.is_some_and(|t| t <= now);
        self.sweeping |= due;
        due
    }

    /// A sweep finished at `now`: `waiting` visitors wait, the first since `oldest` (`None`
    /// when it failed).
    pub fn swept(&mut self, waiting: Option<(i64, Option<Time>)>, now: Time) {
        self.sweeping = false;
        self.next_sweep = Some(now + chrono::Duration::from_std(self.every).unwrap_or_default());
        if let Some((n, oldest)) = waiting {
            self.waiting = n;
            self.oldest = oldest;
        }
    }

    /// Since when the first in line waits, as of the last sweep.
    pub fn oldest(&self) -> Option<Time> {
        self.oldest
    }

    /// True when an assignment should start now, with `open_rooms` staffed rooms that have no
    /// client claim (and it is then counted as started).
    pub fn assignment_due(&mut self, open_rooms: usize) -> bool {
        let due = self.auto && !self.assigning && self.waiting > 0 && open_rooms > 0;
        self.assigning |= due;
        due
    }

    /// An assignment finished: `Some(true)` a visitor got a room, `Some(false)` there was no
    /// pair to make (nobody waits, or the database knows no free room: try again after the next
    /// sweep), `None` it failed.
    pub fn assigned(&mut self, outcome: Option<bool>) {
        self.assigning = false;
        match outcome {
            Some(true) => self.waiting = (self.waiting - 1).max(0),
            Some(false) => self.waiting = 0,
            None => {}
        }
    }

    /// A visitor was queued over XMPP (the count is exact again at the next sweep).
    pub fn joined(&mut self) {
        self.waiting += 1;
    }

    /// A staff member picked a waiting visitor (pick mode).
    pub fn picked(&mut self) {
        self.waiting = (self.waiting - 1).max(0);
    }

    /// When the queue next needs the bot.
    pub fn deadline(&self) -> Option<Time> {
        (!self.sweeping).then_some(self.next_sweep).flatten()
    }

    /// Visitors waiting, as far as the bot knows.
    pub fn waiting(&self) -> i64 {
        self.waiting
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
    fn the_queue_is_swept_every_interval_and_one_sweep_at_a_time() {
        let mut q = Queue::new(true, Duration::from_secs(2));
        assert!(!q.sweep_due(t(0)), "not before the bot is online");
        q.start(t(0));
        assert!(q.sweep_due(t(0)));
        assert!(!q.sweep_due(t(1)), "one at a time");
        assert_eq!(q.deadline(), None);
        q.swept(Some((3, None)), t(1));
        assert_eq!(q.deadline(), Some(t(3)));
        assert!(!q.sweep_due(t(2)));
        assert!(q.sweep_due(t(3)));
    }

    #[test]
    fn a_visitor_is_assigned_only_with_someone_waiting_and_a_free_staffed_room() {
        let mut q = Queue::new(true, Duration::from_secs(2));
        q.start(t(0));
        assert!(!q.assignment_due(1), "nobody waits");
        q.swept(Some((2, None)), t(0));
        assert!(!q.assignment_due(0), "no free room");
        assert!(q.assignment_due(1));
        assert!(!q.assignment_due(1), "one at a time");
        q.assigned(Some(true));
        assert_eq!(q.waiting(), 1);
        assert!(q.assignment_due(1));
        // The database knew no pair after all: wait for the next sweep before trying again.
        q.assigned(Some(false));
        assert!(!q.assignment_due(1));
    }

    #[test]
    fn in_pick_mode_the_bot_assigns_nobody() {
        let mut q = Queue::new(false, Duration::from_secs(2));
        q.start(t(0));
        q.swept(Some((5, None)), t(0));
        assert!(!q.assignment_due(3));
    }
}
