//! Opening hours (`[hours]`): a weekly schedule in a time zone, with dates the help line is
//! closed. Pure: given a moment, it says whether the help line is open, when it next opens and
//! when it closes. The configuration checks a schedule with [`Hours::parse`]; the core asks it.
//!
//! A schedule line reads `"<days> <HH:MM>-<HH:MM>"`: days are `mon` … `sun`, a range
//! (`mon-fri`) or a list (`sat,sun`); a period may pass midnight (`"fri 22:00-02:00"` is open
//! until Saturday 02:00). A closed date closes the periods that start on it.

use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A point in time (UTC).
pub type Time = chrono::DateTime<Utc>;

/// How far ahead the next opening is looked for.
const HORIZON_DAYS: i64 = 400;

/// One opening period: on which weekdays it starts, and its start and end (minutes after
/// midnight; an end at or before the start is on the next day).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Period {
    days: [bool; 7],
    start: u32,
    end: u32,
}

/// A weekly schedule. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    zone: Tz,
    periods: Vec<Period>,
    closed: Vec<NaiveDate>,
    /// How long before closing those waiting are told.
    pub warning: Duration,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day(name: &str) -> Result<usize, String> {
    DAYS.iter()
        .position(|d| d.eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("{name:?} is not a day (mon, tue, wed, thu, fri, sat, sun)"))
}

fn minutes(text: &str) -> Result<u32, String> {
    let t = NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("{text:?} is not a time such as 09:30"))?;
    Ok(t.hour_min())
}

trait HourMin {
    fn hour_min(&self) -> u32;
}

impl HourMin for NaiveTime {
    fn hour_min(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}

impl Period {
    fn parse(line: &str) -> Result<Period, String> {
        let expected = "expected \"<days> HH:MM-HH:MM\", e.g. \"mon-fri 09:00-17:00\"";
        let (days_text, times) = line
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{line:?}: {expected}"))?;
        let (start, end) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("{line:?}: {expected}"))?;
        let mut days = [false; 7];
        for part in days_text.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut d = a;
                    loop {
                        days[d] = true;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => days[day(part)?] = true,
            }
        }
        let (start, end) = (minutes(start.trim())?, minutes(end.trim())?);
        Ok(Period { days, start, end })
    }

    /// The period's span when it starts on `date`, in UTC (`None` on a day it does not run).
    fn span_on(&self, date: NaiveDate, zone: Tz) -> Option<(Time, Time)> {
        if !self.days[date.weekday().num_days_from_monday() as usize] {
            return None;
        }
        let at = |date: NaiveDate, minutes: u32| {
            let local = date.and_hms_opt(minutes / 60, minutes % 60, 0)?;
            // A time that a clock change skips opens at the first moment after it.
            zone.from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
        };
        let end_date = if self.end <= self.start {
            date.succ_opt()?
        } else {
            date
        };
        Some((at(date, self.start)?, at(end_date, self.end)?))
    }
}

impl Hours {
    /// The time zone the schedule is read in: the help line's local time.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// A schedule in time zone `zone` (an IANA name, e.g. `Europe/Amsterdam`) with `open`
    /// periods and `closed` dates (`YYYY-MM-DD`); why not, naming the value, when one is wrong.
    pub fn parse(
        zone: &str,
        open: &[String],
        closed: &[String],
        warning: Duration,
    ) -> Result<Hours, String> {
        let zone: Tz = zone
            .parse()
            .map_err(|_| format!("{zone:?} is not a time zone such as \"Europe/Amsterdam\""))?;
        let periods = open
            .iter()
            .map(|line| Period::parse(line))
            .collect::<Result<Vec<_>, _>>()?;
        let closed = closed
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| format!("{d:?} is not a date such as 2026-12-25"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Hours {
            zone,
            periods,
            closed,
            warning,
        })
    }

    /// The spans of the periods starting on local dates from `from` on, for `days` days.
    fn spans(&self, from: NaiveDate, days: i64) -> impl Iterator<Item = (Time, Time)> + '_ {
        (0..days)
            .filter_map(move |i| from.checked_add_signed(chrono::Duration::days(i)))
            .filter(|date| !self.closed.contains(date))
            .flat_map(move |date| {
                self.periods
                    .iter()
                    .filter_map(move |p| p.span_on(date, self.zone))
            })
    }

    fn today(&self, now: Time) -> NaiveDate {
        now.with_timezone(&self.zone).date_naive()
    }

    /// When the help line closes, if it is open at `now` (periods that meet count as one).
    pub fn closes_at(&self, now: Time) -> Option<Time> {
        let yesterday = self.today(now).pred_opt()?;
        let spans: Vec<(Time, Time)> = self.spans(yesterday, 9).collect();
        let mut end = spans
            .iter()
            .filter(|(start, end)| *start <= now && now < *end)
            .map(|(_, end)| *end)
            .max()?;
        // A period that starts when (or before) this one ends carries on.
        while let Some(later) = spans
            .iter()
            .filter(|(start, e)| *start <= end && *e > end)
            .map(|(_, e)| *e)
            .max()
        {
            end = later;
        }
        Some(end)
    }

    /// True when the schedule has the help line open at `now`.
    pub fn is_open(&self, now: Time) -> bool {
        self.closes_at(now).is_some()
    }

    /// The next opening after `now` while closed (`None` while open, or with no opening ahead).
    pub fn next_opening(&self, now: Time) -> Option<Time> {
        if self.is_open(now) {
            return None;
        }
        self.spans(self.today(now), HORIZON_DAYS)
            .map(|(start, _)| start)
            .filter(|start| *start > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(open: &[&str], closed: &[&str]) -> Hours {
        let open: Vec<String> = open.iter().map(|s| s.to_string()).collect();
        let closed: Vec<String> = closed.iter().map(|s| s.to_string()).collect();
        Hours::parse("Europe/Amsterdam", &open, &closed, Duration::from_secs(600)).unwrap()
    }

    /// Amsterdam local time on 2026-12-07 (a Monday, UTC+1) plus `days`.
    fn local(days: i64, hh: u32, mm: u32) -> Time {
        let date = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap() + chrono::Duration::days(days);
        Tz::Europe__Amsterdam
            .from_local_datetime(&date.and_hms_opt(hh, mm, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weekdays_open_in_office_hours_and_say_when_they_close_and_open() {
        let h = hours(&["mon-fri 09:00-17:00"], &[]);
        assert!(!h.is_open(local(0, 8, 59)));
        assert_eq!(h.next_opening(local(0, 8, 59)), Some(local(0, 9, 0)));
        assert!(h.is_open(local(0, 9, 0)));
        assert_eq!(h.closes_at(local(0, 12, 0)), Some(local(0, 17, 0)));
        assert!(!h.is_open(local(0, 17, 0)));
        // Friday evening: next opening is Monday morning.
        assert_eq!(h.next_opening(local(4, 18, 0)), Some(local(7, 9, 0)));
    }

    #[test]
    fn a_period_past_midnight_stays_open_until_the_next_morning_and_periods_that_meet_are_one() {
        let h = hours(&["fri 22:00-02:00"], &[]);
        assert!(h.is_open(local(5, 1, 59)), "Saturday 01:59");
        assert_eq!(h.closes_at(local(4, 23, 0)), Some(local(5, 2, 0)));
        let h = hours(&["mon 09:00-12:00", "mon 12:00-17:00"], &[]);
        assert_eq!(h.closes_at(local(0, 10, 0)), Some(local(0, 17, 0)));
    }

    #[test]
    fn a_closed_date_closes_its_periods_and_bad_lines_are_named() {
        let h = hours(&["mon-sun 18:00-23:00"], &["2026-12-08"]);
        assert!(!h.is_open(local(1, 19, 0)));
        assert_eq!(h.next_opening(local(1, 19, 0)), Some(local(2, 18, 0)));
        for bad in ["monday 09:00-17:00", "mon 9-17", "mon"] {
            let e =
                Hours::parse("Europe/Amsterdam", &[bad.into()], &[], Duration::ZERO).unwrap_err();
            assert!(e.contains('"'), "{bad}: {e}");
        }
        assert!(Hours::parse("Mars/Olympus", &[], &[], Duration::ZERO).is_err());
    }
}
