//! The statistics report (`helpim-bot stats`): for a period, per day or per hour, how many chats
//! were served, how many visitors left the queue, expired or missed their room, how long the
//! served ones waited and the chats lasted, why rooms closed, how many blocks were imposed, how
//! many chats supervisors watched, whispers they sent and requests for help staff made, and how
//! many chats were handed over (and of those, taken over); and what the questions before and after
//! the chat tell (SPEC §14): chats with priority, the answers before the chat kept for statistics,
//! the registrations' choices and the chats not registered, the visitors' feedback. `--by staff`
//! gives a line per staff member: chats, minutes, registrations missing (counts only).
//! Every figure comes from one SQL statement (`store::sql::STATS_*`, docs/database.md); this
//! module puts them side by side and writes them as a text table, JSON or CSV.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::core::questions::{Kind, Questions};
use crate::core::types::Time;
use crate::store::{sql, StaffFigures, StatsFigures, Store};

/// How long each row of the report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Per {
    /// A row per day (UTC), named like `2026-11-26`.
    Day,
    /// A row per hour (UTC), named like `2026-11-26T14`.
    Hour,
}

/// The middle, the ninetieth percentile and (for waits) the longest of some durations, in
/// seconds; nearest-rank percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// How many durations.
    pub count: i64,
    /// Half are at most this long.
    pub p50: f64,
    /// Nine in ten are at most this long.
    pub p90: f64,
    /// The longest (waits only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// One row of the report: a day, an hour, or the whole period (`total`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    /// `2026-11-26`, `2026-11-26T14` or `total`.
    pub period: String,
    /// Chats that began (a staff member and a client met in a room).
    pub chats: i64,
    /// Visitors who gave up or went offline while waiting.
    pub left: i64,
    /// Visitors who waited longer than `queue.max_wait`.
    pub expired: i64,
    /// Visitors who were given a room and did not come.
    pub missed: i64,
    /// How long the visitors served in this period had waited.
    pub wait: Option<Spread>,
    /// How long the chats that began in this period lasted (those that have ended).
    pub chat_duration: Option<Spread>,
    /// Rooms closed, by reason.
    pub closed: BTreeMap<String, i64>,
    /// Blocks imposed.
    pub blocks: i64,
    /// Watches supervisors began.
    pub watches: i64,
    /// Whispers supervisors sent to staff.
    pub whispers: i64,
    /// Requests for help staff made.
    pub help_requests: i64,
    /// Chats handed over (offered) to a colleague or back to the queue.
    pub handovers: i64,
    /// Of those, handed over: a colleague took the chat.
    pub handovers_done: i64,
    /// Chats begun whose visitor had priority.
    pub priority: i64,
    /// The answers before the chat kept for statistics, of the visitors who joined the queue in
    /// this period: question → answer → how many.
    pub before: Answers,
    /// The registrations' choice and yes/no answers of the chats begun in this period.
    pub registered: Answers,
    /// Chats begun in this period that ended without a registration.
    pub registrations_missing: i64,
    /// The visitors' feedback on the chats begun in this period (choice and yes/no questions).
    pub feedback: Answers,
}

/// Counts of answers: question → answer → how many.
pub type Answers = BTreeMap<String, BTreeMap<String, i64>>;

/// Which breakdown of answers (a column's prefix in the text and the CSV).
const BREAKDOWNS: [&str; 3] = ["before", "registered", "feedback"];

impl Row {
    /// The period and its counts of chats and of visitors who left, expired or missed.
    fn counts(&self) -> Vec<String> {
        vec![
            self.period.clone(),
            self.chats.to_string(),
            self.left.to_string(),
            self.expired.to_string(),
            self.missed.to_string(),
        ]
    }

    /// The answers of breakdown `which` (one of [`BREAKDOWNS`]).
    fn answers(&self, which: &str) -> &Answers {
        match which {
            "before" => &self.before,
            "registered" => &self.registered,
            _ => &self.feedback,
        }
    }

    /// The count of each answer column (`which`, question, answer), in order.
    fn answer_counts<'a>(
        &'a self,
        columns: &'a [(&'static str, String, String)],
    ) -> impl Iterator<Item = String> + 'a {
        columns.iter().map(|(which, q, a)| {
            self.answers(which)
                .get(q)
                .and_then(|m| m.get(a))
                .copied()
                .unwrap_or(0)
                .to_string()
        })
    }

    /// The rooms closed for each of `reasons`, in order.
    fn closed_counts<'a>(&'a self, reasons: &'a [String]) -> impl Iterator<Item = String> + 'a {
        reasons
            .iter()
            .map(|r| self.closed.get(r).copied().unwrap_or(0).to_string())
    }
}

/// The report: its period, one row per day or hour with something in it, and the total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The first moment counted.
    pub since: Time,
    /// The first moment no longer counted.
    pub until: Time,
    /// The rows, oldest first; periods in which nothing happened are left out.
    pub rows: Vec<Row>,
    /// The whole period in one row.
    pub total: Row,
}

impl Report {
    /// Reads the report from the database: from `since` to before `until`, a row `per` day or
    /// hour, and the total.
    pub async fn read(store: &Store, since: Time, until: Time, per: Per) -> sqlx::Result<Report> {
        let format = match per {
            Per::Day => sql::STATS_PER_DAY,
            Per::Hour => sql::STATS_PER_HOUR,
        };
        let rows = rows(store.stats(since, until, format).await?);
        let total = rows_or_empty(store.stats(since, until, sql::STATS_WHOLE).await?);
        Ok(Report {
            since,
            until,
            rows,
            total,
        })
    }

    /// Leaves out the feedback to questions `questions` asks as free text (the `feedback` table
    /// does not say which answers were chosen and which typed; the configuration does).
    pub fn without_text(mut self, questions: &Questions) -> Report {
        let text: BTreeSet<&str> = questions
            .feedback
            .iter()
            .filter(|q| q.kind == Kind::Text)
            .map(|q| q.var.as_str())
            .collect();
        for row in self.rows.iter_mut().chain(std::iter::once(&mut self.total)) {
            row.feedback.retain(|q, _| !text.contains(q.as_str()));
        }
        self
    }

    /// Every (breakdown, question, answer) that occurs, sorted within each breakdown: the
    /// answer columns of the CSV and the table.
    fn answer_columns(&self) -> Vec<(&'static str, String, String)> {
        let mut columns = Vec::new();
        for which in BREAKDOWNS {
            let all: BTreeSet<(&String, &String)> = self
                .all()
                .flat_map(|r| {
                    r.answers(which)
                        .iter()
                        .flat_map(|(q, m)| m.keys().map(move |a| (q, a)))
                })
                .collect();
            columns.extend(all.into_iter().map(|(q, a)| (which, q.clone(), a.clone())));
        }
        columns
    }

    /// Every close reason that occurs, sorted: the CSV's and the table's closing columns.
    fn reasons(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self
            .rows
            .iter()
            .chain(std::iter::once(&self.total))
            .flat_map(|r| r.closed.keys())
            .collect();
        all.into_iter().cloned().collect()
    }

    /// The rows and then the total.
    fn all(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().chain(std::iter::once(&self.total))
    }

    /// The report as a text table for people.
    pub fn text(&self) -> String {
        let reasons = self.reasons();
        let mut head = vec![
            "PERIOD",
            "CHATS",
            "LEFT",
            "EXPIRED",
            "MISSED",
            "WAIT p50",
            "p90",
            "max",
            "CHAT p50",
            "p90",
            "BLOCKS",
            "WATCHES",
            "WHISPERS",
            "HELP",
            "HANDOVERS",
            "DONE",
            "PRIORITY",
            "UNREGISTERED",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        head.extend(reasons.iter().map(|r| format!("closed:{r}")));
        let columns = self.answer_columns();
        head.extend(columns.iter().map(|(w, q, a)| format!("{w}:{q}={a}")));
        let mut lines = vec![head];
        for row in self.all() {
            let mut cells = row.counts();
            let wait = row.wait.as_ref();
            cells.push(wait.map_or("-".into(), |w| duration(w.p50)));
            cells.push(wait.map_or("-".into(), |w| duration(w.p90)));
            cells.push(wait.and_then(|w| w.max).map_or("-".into(), duration));
            let chat = row.chat_duration.as_ref();
            cells.push(chat.map_or("-".into(), |c| duration(c.p50)));
            cells.push(chat.map_or("-".into(), |c| duration(c.p90)));
            cells.push(row.blocks.to_string());
            cells.push(row.watches.to_string());
            cells.push(row.whispers.to_string());
            cells.push(row.help_requests.to_string());
            cells.push(row.handovers.to_string());
            cells.push(row.handovers_done.to_string());
            cells.push(row.priority.to_string());
            cells.push(row.registrations_missing.to_string());
            cells.extend(row.closed_counts(&reasons));
            cells.extend(row.answer_counts(&columns));
            lines.push(cells);
        }
        let widths = column_widths(&lines);
        let mut out = format!(
            "From {} to {} (UTC); waits and chat durations: middle (p50), nine in ten (p90), longest.\n",
            self.since.format("%Y-%m-%d %H:%M"),
            self.until.format("%Y-%m-%d %H:%M")
        );
        for line in lines {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    if i == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    /// The report as CSV: a header, then a line per row and the total; durations in seconds.
    pub fn csv(&self) -> String {
        let reasons = self.reasons();
        let mut head = vec![
            "period",
            "chats",
            "left",
            "expired",
            "missed",
            "served",
            "wait_p50_s",
            "wait_p90_s",
            "wait_max_s",
            "chats_ended",
            "chat_p50_s",
            "chat_p90_s",
            "blocks",
            "watches",
            "whispers",
            "help_requests",
            "handovers",
            "handovers_done",
            "priority",
            "registrations_missing",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        head.extend(reasons.iter().map(|r| format!("closed_{r}")));
        let columns = self.answer_columns();
        head.extend(
            columns
                .iter()
                .map(|(w, q, a)| csv_cell(&format!("{w}:{q}={a}"))),
        );
        let mut out = head.join(",") + "\n";
        for row in self.all() {
            let seconds = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.1}"));
            let mut cells = row.counts();
            cells.extend([
                row.wait.map_or(0, |w| w.count).to_string(),
                seconds(row.wait.map(|w| w.p50)),
                seconds(row.wait.map(|w| w.p90)),
                seconds(row.wait.and_then(|w| w.max)),
                row.chat_duration.map_or(0, |c| c.count).to_string(),
                seconds(row.chat_duration.map(|c| c.p50)),
                seconds(row.chat_duration.map(|c| c.p90)),
                row.blocks.to_string(),
                row.watches.to_string(),
                row.whispers.to_string(),
                row.help_requests.to_string(),
                row.handovers.to_string(),
                row.handovers_done.to_string(),
                row.priority.to_string(),
                row.registrations_missing.to_string(),
            ]);
            cells.extend(row.closed_counts(&reasons));
            cells.extend(row.answer_counts(&columns));
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// The report as one JSON document.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }
}

/// Puts the figures of each period together, oldest period first.
fn rows(f: StatsFigures) -> Vec<Row> {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (period, chats) in f.chats {
        at(&mut rows, period).chats = chats;
    }
    for (period, status, n) in f.queue_ends {
        let r = at(&mut rows, period);
        match status.as_str() {
            "left" => r.left = n,
            "expired" => r.expired = n,
            _ => r.missed = n,
        }
    }
    for (period, count, p50, p90, max) in f.waits {
        at(&mut rows, period).wait = Some(Spread {
            count,
            p50,
            p90,
            max: Some(max),
        });
    }
    for (period, count, p50, p90) in f.durations {
        at(&mut rows, period).chat_duration = Some(Spread {
            count,
            p50,
            p90,
            max: None,
        });
    }
    for (period, reason, n) in f.closed {
        at(&mut rows, period).closed.insert(reason, n);
    }
    for (period, n) in f.blocks {
        at(&mut rows, period).blocks = n;
    }
    for (period, kind, n) in f.supervision {
        let r = at(&mut rows, period);
        match kind.as_str() {
            "watch" => r.watches = n,
            "whisper" => r.whispers = n,
            _ => r.help_requests = n,
        }
    }
    for (period, n, done) in f.handovers {
        let r = at(&mut rows, period);
        (r.handovers, r.handovers_done) = (n, done);
    }
    for (period, n) in f.priority {
        at(&mut rows, period).priority = n;
    }
    for (period, q, a, n) in f.before {
        *at(&mut rows, period)
            .before
            .entry(q)
            .or_default()
            .entry(a)
            .or_default() += n;
    }
    for (period, q, a, n) in f.registered {
        *at(&mut rows, period)
            .registered
            .entry(q)
            .or_default()
            .entry(a)
            .or_default() += n;
    }
    for (period, n) in f.registrations_missing {
        at(&mut rows, period).registrations_missing = n;
    }
    for (period, q, a, n) in f.feedback {
        *at(&mut rows, period)
            .feedback
            .entry(q)
            .or_default()
            .entry(a)
            .or_default() += n;
    }
    rows.into_values().collect()
}

/// The row of `period`, new and empty the first time.
fn at(rows: &mut BTreeMap<String, Row>, period: String) -> &mut Row {
    rows.entry(period.clone()).or_insert_with(|| Row {
        period,
        ..Row::default()
    })
}

/// The one row of figures read as `STATS_WHOLE`, or an empty `total` when nothing happened.
fn rows_or_empty(f: StatsFigures) -> Row {
    rows(f).pop().unwrap_or_else(|| Row {
        period: "total".into(),
        ..Row::default()
    })
}

/// A CSV cell: as it is, or quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// `stats --by staff`: a line per staff member for the period, and the total (counts only:
/// chats, minutes in chat, chats ended without a registration).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffReport {
    /// The first moment counted.
    pub since: Time,
    /// The first moment no longer counted.
    pub until: Time,
    /// A line per staff member, by JID.
    pub staff: Vec<StaffFigures>,
    /// Everyone together (`staff` is `total`).
    pub total: StaffFigures,
}

impl StaffReport {
    /// Reads the report from the database, for the chats begun from `since` to before `until`.
    pub async fn read(store: &Store, since: Time, until: Time) -> sqlx::Result<StaffReport> {
        let mut staff = store.stats_by_staff(since, until).await?;
        for s in &mut staff {
            s.minutes = (s.minutes * 10.0).round() / 10.0;
        }
        let total = StaffFigures {
            staff: "total".into(),
            chats: staff.iter().map(|s| s.chats).sum(),
            minutes: (staff.iter().map(|s| s.minutes).sum::<f64>() * 10.0).round() / 10.0,
            registrations_missing: staff.iter().map(|s| s.registrations_missing).sum(),
        };
        Ok(StaffReport {
            since,
            until,
            staff,
            total,
        })
    }

    /// The lines and then the total.
    fn all(&self) -> impl Iterator<Item = &StaffFigures> {
        self.staff.iter().chain(std::iter::once(&self.total))
    }

    /// The report as a text table for people.
    pub fn text(&self) -> String {
        let mut lines = vec![["STAFF", "CHATS", "MINUTES", "UNREGISTERED"].map(String::from)];
        for s in self.all() {
            lines.push([
                s.staff.clone(),
                s.chats.to_string(),
                format!("{:.0}", s.minutes),
                s.registrations_missing.to_string(),
            ]);
        }
        let widths = column_widths(&lines);
        let mut out = format!(
            "Chats begun from {} to {} (UTC), by staff member (after a handover, who took the chat).\n",
            self.since.format("%Y-%m-%d %H:%M"),
            self.until.format("%Y-%m-%d %H:%M")
        );
        for line in lines {
            let w = &widths;
            out.push_str(&format!(
                "{:<a$}  {:>b$}  {:>c$}  {:>d$}\n",
                line[0],
                line[1],
                line[2],
                line[3],
                a = w[0],
                b = w[1],
                c = w[2],
                d = w[3]
            ));
        }
        out
    }

    /// The report as CSV: a header, then a line per staff member and the total.
    pub fn csv(&self) -> String {
        let mut out = String::from("staff,chats,minutes,registrations_missing\n");
        for s in self.all() {
            out.push_str(&format!(
                "{},{},{:.1},{}\n",
                csv_cell(&s.staff),
                s.chats,
                s.minutes,
                s.registrations_missing
            ));
        }
        out
    }

    /// The report as one JSON document.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }
}

/// A duration for people: `42s`, `3m05s`, `2h07m`.
fn duration(secs: f64) -> String {
    let s = secs.round().max(0.0) as i64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The width of each column of a text table: its longest cell, in characters.
fn column_widths<L: AsRef<[String]>>(lines: &[L]) -> Vec<usize> {
    let columns = lines.first().map_or(0, |l| l.as_ref().len());
    (0..columns)
        .map(|i| {
            lines
                .iter()
                .map(|l| l.as_ref()[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> StatsFigures {
        StatsFigures {
            chats: vec![("2026-11-01".into(), 3), ("2026-11-02".into(), 1)],
            queue_ends: vec![
                ("2026-11-01".into(), "left".into(), 2),
                ("2026-11-02".into(), "expired".into(), 1),
                ("2026-11-02".into(), "missed".into(), 4),
            ],
            waits: vec![("2026-11-01".into(), 3, 30.0, 90.0, 125.0)],
            durations: vec![("2026-11-01".into(), 2, 600.0, 4000.0)],
            closed: vec![
                ("2026-11-01".into(), "all_left".into(), 2),
                ("2026-11-03".into(), "idle_timeout".into(), 1),
            ],
            blocks: vec![("2026-11-02".into(), 1)],
            supervision: vec![
                ("2026-11-01".into(), "watch".into(), 2),
                ("2026-11-02".into(), "help".into(), 1),
                ("2026-11-02".into(), "whisper".into(), 3),
            ],
            handovers: vec![("2026-11-02".into(), 3, 2)],
            ..StatsFigures::default()
        }
    }

    fn report() -> Report {
        let t = |s: &str| s.parse::<Time>().unwrap();
        let mut total = rows(figures()).remove(0);
        total.period = "total".into();
        Report {
            since: t("2026-11-01T00:00:00Z"),
            until: t("2026-11-04T00:00:00Z"),
            rows: rows(figures()),
            total,
        }
    }

    #[test]
    fn the_figures_of_each_period_make_one_row_oldest_first() {
        let rows = rows(figures());
        let periods: Vec<&str> = rows.iter().map(|r| r.period.as_str()).collect();
        assert_eq!(periods, ["2026-11-01", "2026-11-02", "2026-11-03"]);
        assert_eq!((rows[0].chats, rows[0].left, rows[0].blocks), (3, 2, 0));
        assert_eq!((rows[1].expired, rows[1].missed, rows[1].blocks), (1, 4, 1));
        assert_eq!(
            (rows[0].watches, rows[0].whispers, rows[0].help_requests),
            (2, 0, 0)
        );
        assert_eq!(
            (rows[1].watches, rows[1].whispers, rows[1].help_requests),
            (0, 3, 1)
        );
        assert_eq!((rows[1].handovers, rows[1].handovers_done), (3, 2));
        assert_eq!(rows[0].wait.unwrap().max, Some(125.0));
        assert_eq!(rows[2].closed.get("idle_timeout"), Some(&1));
        assert_eq!(rows[2].wait, None);
    }

    #[test]
    fn the_text_table_aligns_its_columns_and_says_durations_in_words() {
        let text = report().text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("PERIOD"), "{text}");
        assert!(lines[1].ends_with("closed:idle_timeout"), "{text}");
        assert!(
            lines[2].contains("30s") && lines[2].contains("1m30s") && lines[2].contains("2m05s")
        );
        assert!(
            lines[2].contains("10m00s") && lines[2].contains("1h06m"),
            "{text}"
        );
        assert!(lines.last().unwrap().starts_with("total"), "{text}");
    }

    #[test]
    fn the_csv_has_a_column_per_figure_and_seconds_for_durations() {
        let csv = report().csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "period,chats,left,expired,missed,served,wait_p50_s,wait_p90_s,wait_max_s,chats_ended,chat_p50_s,chat_p90_s,blocks,watches,whispers,help_requests,handovers,handovers_done,priority,registrations_missing,closed_all_left,closed_idle_timeout"
        );
        assert_eq!(
            lines[1],
            "2026-11-01,3,2,0,0,3,30.0,90.0,125.0,2,600.0,4000.0,0,2,0,0,0,0,0,0,2,0"
        );
        assert_eq!(lines[2], "2026-11-02,1,0,1,4,0,,,,0,,,1,0,3,1,3,2,0,0,0,0");
        assert_eq!(lines.len(), 5, "three days and the total");
    }

    #[test]
    fn answers_make_a_column_each_and_free_text_feedback_is_left_out() {
        let f = StatsFigures {
            chats: vec![("2026-11-01".into(), 2)],
            priority: vec![("2026-11-01".into(), 1)],
            before: vec![("2026-11-01".into(), "safe".into(), "no".into(), 1)],
            registered: vec![
                ("2026-11-01".into(), "risk".into(), "high".into(), 1),
                ("2026-11-02".into(), "risk".into(), "low, for now".into(), 2),
            ],
            registrations_missing: vec![("2026-11-01".into(), 1)],
            feedback: vec![
                ("2026-11-01".into(), "helped".into(), "yes".into(), 2),
                ("2026-11-01".into(), "words".into(), "thanks".into(), 1),
            ],
            ..StatsFigures::default()
        };
        let t = |s: &str| s.parse::<Time>().unwrap();
        let report = Report {
            since: t("2026-11-01T00:00:00Z"),
            until: t("2026-11-03T00:00:00Z"),
            rows: rows(f),
            total: Row::default(),
        };
        assert_eq!(report.rows[0].feedback["words"]["thanks"], 1);
        let questions: Questions = toml::from_str(
            r#"
            [[feedback]]
            var = "helped"
            type = "yes-no"
            label = "Did this chat help you?"
            [[feedback]]
            var = "words"
            type = "text"
            label = "Anything else?"
            "#,
        )
        .unwrap();
        let report = report.without_text(&questions);
        assert!(!report.rows[0].feedback.contains_key("words"));
        let csv = report.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(
            lines[0].ends_with(
                ",priority,registrations_missing,before:safe=no,registered:risk=high,\"registered:risk=low, for now\",feedback:helped=yes"
            ),
            "{csv}"
        );
        assert!(lines[1].ends_with(",1,1,1,1,0,2"), "{csv}");
        assert!(lines[2].ends_with(",0,0,0,0,2,0"), "{csv}");
        let text = report.text();
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with("feedback:helped=yes"),
            "{text}"
        );
    }
}
