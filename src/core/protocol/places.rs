//! Places in line pushed to waiting visitors over XMPP: after each sweep that read them, a
//! visitor whose place changed hears of it, rate-limited so that a queue of thousands costs
//! little; and after a new session each waiting visitor is pinged once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use xmpp_parsers::jid::FullJid;

use super::{probe, Protocol};
use crate::core::outbox::Outbox;
use crate::core::queue::Swept;
use crate::core::types::Time;
use crate::i18n::{Catalogs, Lang, Words};
use crate::xmpp::adhoc::{self, Place};

/// At least this many visitors given a room within the pace window make an estimate credible.
pub const MIN_PACE: usize = 3;

/// The estimated wait, in seconds, of place `position` at `now`, from `assigned`: when visitors
/// were given a room within the pace window, oldest first. None unless it is credible: fewer than
/// [`MIN_PACE`] assignments, or a pace that has stopped (no assignment for longer than twice the
/// usual interval, and at least five minutes), gives no estimate rather than a guess.
pub fn estimate(assigned: &[Time], position: i64, now: Time) -> Option<i64> {
    if assigned.len() < MIN_PACE {
        return None;
    }
    let (first, last) = (*assigned.first()?, *assigned.last()?);
    // The mean interval over the whole window observed, up to now: a quiet spell since the last
    // assignment makes it longer, as it should.
    let interval = (now - first).num_seconds().max(1) / assigned.len() as i64;
    let quiet = (now - last).num_seconds();
    if quiet > (2 * interval).max(300) {
        return None;
    }
    Some(position.max(1) * interval)
}

/// A waiting visitor hears of a new place at most this often.
pub const PUSH_EVERY: Duration = Duration::from_secs(5);
/// Beyond this place, a visitor hears of a move only when it is a tenth of their place or more
/// (or after [`PUSH_QUIET`]): a queue of thousands costs little per assignment.
pub const PUSH_NEAR: i64 = 20;
/// A waiting visitor far back in line hears of their place at least this often when it changes.
pub const PUSH_QUIET: Duration = Duration::from_secs(60);

/// The last place pushed to a waiting visitor, and the language of their last request.
#[derive(Debug, Clone, Copy)]
pub struct Pushed {
    /// The place.
    pub position: i64,
    /// When.
    pub at: Time,
    /// The language of the visitor's last request (pushes and the invitation are in it).
    pub lang: Lang,
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

    /// The estimated wait, in seconds, of place `position` at `now`: see [`estimate`].
    pub(super) fn estimate(&self, position: i64, now: Time) -> Option<i64> {
        estimate(&self.pace, position, now)
    }

    /// What a visitor at `position` hears at `now`, with `free` staffed rooms waiting for a
    /// visitor (auto mode): the first `free` in line are about to be invited.
    pub(super) fn place(&self, position: i64, free: usize, now: Time) -> Place {
        let soon = position <= free as i64;
        Place {
            position,
            estimate: (!soon).then(|| self.estimate(position, now)).flatten(),
            soon,
            closes_in: None,
        }
    }

    /// After a sweep: waiting visitors over XMPP hear of their new place (rate-limited, in the
    /// language of their last request), and after a new session each is pinged once to see
    /// whether they are still there.
    pub fn queue_swept(
        &mut self,
        swept: Swept,
        now: Time,
        closes_at: Option<Time>,
        free: usize,
        catalogs: &Arc<Catalogs>,
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
                let place = Place {
                    closes_in,
                    ..self.place(position, free, now)
                };
                // A visitor the bot has not heard from since it started: the default language.
                let lang = last.map_or(catalogs.default_lang(), |l| l.lang);
                let words = Words::new(catalogs, lang);
                out.send(adhoc::queue_update(&jid, &place, &words));
                self.pushed.insert(
                    id,
                    Pushed {
                        position,
                        at: now,
                        lang,
                    },
                );
            }
        }
        self.pushed.retain(|id, _| still.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn secs(s: i64) -> Time {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    use chrono::Utc;

    #[test]
    fn one_chat_begun_twenty_seconds_ago_gives_no_estimate() {
        // Today's bug: one assignment 20 s ago told the next in line "about 30 minutes".
        assert_eq!(estimate(&[secs(-20)], 1, secs(0)), None);
        assert_eq!(estimate(&[secs(-80), secs(-20)], 2, secs(0)), None);
    }

    #[test]
    fn three_chats_begun_a_minute_apart_give_minutes_not_half_hours() {
        let assigned = [secs(-180), secs(-120), secs(-60)];
        // A minute per visitor: the next in line about a minute, the third about three.
        assert_eq!(estimate(&assigned, 1, secs(0)), Some(60));
        assert_eq!(estimate(&assigned, 3, secs(0)), Some(180));
        assert_eq!(
            adhoc::wait_words(&crate::i18n::english(), 180),
            "a few minutes"
        );
    }

    #[test]
    fn a_long_quiet_spell_gives_no_estimate_rather_than_a_stale_one() {
        // Three chats 25 minutes ago, nothing since: the pace has stopped.
        let assigned = [secs(-1560), secs(-1530), secs(-1500)];
        assert_eq!(estimate(&assigned, 1, secs(0)), None);
        // A quiet spell shorter than twice the interval still counts, and lengthens it.
        let assigned = [secs(-900), secs(-600), secs(-300)];
        assert_eq!(estimate(&assigned, 1, secs(0)), Some(300));
        assert_eq!(estimate(&assigned, 1, secs(120)), Some(340));
    }

    #[test]
    fn with_a_counsellor_free_the_first_in_line_hears_that_not_a_wait() {
        let mut p = Protocol {
            pace: vec![secs(-180), secs(-120), secs(-60)],
            ..Protocol::default()
        };
        let first = p.place(1, 1, secs(0));
        assert!(first.soon && first.estimate.is_none(), "{first:?}");
        assert_eq!(
            adhoc::place_text(&crate::i18n::english(), &first),
            "A counsellor is free and about to join you."
        );
        // The second in line still hears their place and wait.
        let second = p.place(2, 1, secs(0));
        assert_eq!((second.soon, second.estimate), (false, Some(120)));
        // Nobody free: no "soon".
        p.pace.clear();
        assert!(!p.place(1, 0, secs(0)).soon);
    }
}
