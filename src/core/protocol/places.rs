//! Places in line pushed to waiting visitors over XMPP: after each sweep that read them, a
//! visitor whose place changed hears of it, rate-limited so that a queue of thousands costs
//! little; and after a new session each waiting visitor is pinged once.

use std::collections::HashSet;
use std::time::Duration;

use xmpp_parsers::jid::FullJid;

use super::{probe, Protocol};
use crate::core::outbox::Outbox;
use crate::core::queue::{Swept, PACE_WINDOW_SECS};
use crate::core::types::Time;
use crate::xmpp::adhoc;

/// A waiting visitor hears of a new place at most this often.
pub const PUSH_EVERY: Duration = Duration::from_secs(5);
/// Beyond this place, a visitor hears of a move only when it is a tenth of their place or more
/// (or after [`PUSH_QUIET`]): a queue of thousands costs little per assignment.
pub const PUSH_NEAR: i64 = 20;
/// A waiting visitor far back in line hears of their place at least this often when it changes.
pub const PUSH_QUIET: Duration = Duration::from_secs(60);

/// The last place pushed to a waiting visitor.
#[derive(Debug, Clone, Copy)]
pub struct Pushed {
    /// The place.
    pub position: i64,
    /// When.
    pub at: Time,
}

impl Protocol {
    /// True when the next sweep should read the places (and it is then counted as read): at
    /// most every [`PUSH_EVERY`], and at once when the visitors are to be probed or told that
    /// the help line closes soon (`closes_at`, within the hours' warning).
    pub fn places_due(&mut self, now: Time, closes_at: Option<Time>) -> bool {
        let due = self.probe
            || (closes_at.is_some() && self.closing_told != closes_at)
            || self
                .places_read
                .is_none_or(|t| (now - t).to_std().unwrap_or_default() >= PUSH_EVERY);
        if due {
            self.places_read = Some(now);
        }
        due
    }

    /// The estimated wait, in seconds, of place `position`; none without a recent pace.
    pub(super) fn estimate(&self, position: i64) -> Option<i64> {
        (self.pace > 0).then(|| position * PACE_WINDOW_SECS / self.pace)
    }

    /// After a sweep: waiting visitors over XMPP hear of their new place (rate-limited), and
    /// after a new session each is pinged once to see whether they are still there.
    pub fn queue_swept(
        &mut self,
        swept: Swept,
        now: Time,
        closes_at: Option<Time>,
        out: &mut Outbox,
    ) {
        let Some((over_xmpp, pace)) = swept.places else {
            return;
        };
        self.pace = pace;
        // Within the warning before closing, everyone waiting hears it once, and every push
        // after that says it too.
        let closes_in = closes_at.map(|t| (t - now).num_seconds().max(0));
        let tell_closing = closes_at.is_some() && self.closing_told != closes_at;
        self.closing_told = closes_at;
        let probing = std::mem::take(&mut self.probe);
        let mut still: HashSet<i64> = HashSet::with_capacity(over_xmpp.len());
        for (id, jid, position) in over_xmpp {
            still.insert(id);
            let Ok(jid) = FullJid::new(&jid) else {
                continue;
            };
            if probing {
                probe(out, jid.clone());
            }
            let last = self.pushed.get(&id).copied();
            let due = match last {
                None => true,
                Some(_) if tell_closing => true,
                Some(l) if l.position == position => false,
                Some(l) => {
                    let since = (now - l.at).to_std().unwrap_or_default();
                    since >= PUSH_EVERY
                        && (position <= PUSH_NEAR
                            || (l.position - position).abs() * 10 >= l.position
                            || since >= PUSH_QUIET)
                }
            };
            if due {
                let estimate = self.estimate(position);
                out.send(adhoc::queue_update(&jid, position, estimate, closes_in));
                self.pushed.insert(id, Pushed { position, at: now });
            }
        }
        self.pushed.retain(|id, _| still.contains(id));
    }
}
