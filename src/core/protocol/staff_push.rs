//! Pushes to staff on duty (docs/protocol.md, "Pushes to staff"): each staff session that told
//! the bot it is there (directed presence) is sent the figures of `status` and the first
//! [`SHIFT_VISITORS`] waiting visitors in one headline, `<shift xmlns='urn:helpim:staff:0'/>`,
//! so that a console needs no polling. Sent when what it carries changes (never because the
//! clock moved: the console counts minutes itself from `waiting-since`), at most once every
//! [`SHIFT_EVERY`] to a session (the last state wins), and at once after a session's directed
//! presence (a console that just signed in gets the state without waiting).
//!
//! The waiting list is read (the query of `waiting-visitors`) after a sweep of the queue that
//! found it changed — its count, its first or its newest row — and not more often than
//! [`SHIFT_EVERY`]; only while a staff session is there to be told.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use xmpp_parsers::jid::{FullJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;

use super::{Lent, Protocol};
use crate::core::effects::{Assigned, Query, QueryResult, Waiter};
use crate::core::outbox::Outbox;
use crate::core::queue::Swept;
use crate::core::types::{Closed, Time};
use crate::core::Pending;
use crate::xmpp::stanza::{headline, stamp, with_attr};

/// The namespace of the pushes to staff and of handovers.
pub const NS_STAFF: &str = "urn:helpim:staff:0";
/// A staff session is pushed the shift at most this often.
pub const SHIFT_EVERY: Duration = Duration::from_secs(2);
/// A push carries at most this many waiting visitors, first in line first.
pub const SHIFT_VISITORS: usize = 50;

/// A waiting visitor as the push shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftVisitor {
    /// `queue.id`.
    pub id: i64,
    /// Their nick.
    pub nick: String,
    /// Their topic.
    pub topic: Option<String>,
    /// Since when they wait.
    pub since: Time,
    /// Their priority (0 or 1, SPEC §14): those with 1 are listed first.
    pub priority: i64,
    /// Why they have priority, in staff's words (empty without).
    pub why: String,
    /// Pick mode: they waited `queue.reoffer_after` and nobody took them.
    pub reoffer: bool,
}

/// A chat handed back to the queue, waiting for a colleague, as the push shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftHandover {
    /// The room's JID.
    pub room: String,
    /// Who handed it over (their nick).
    pub from: String,
    /// Their note.
    pub note: String,
    /// The visitor's topic.
    pub topic: String,
    /// Since when it waits.
    pub since: Time,
}

/// The figures of `status`, as pushed: what decides whether a push is due. The longest wait is
/// kept as the time the first in line began waiting, so that the clock alone changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Figures {
    /// Why the help line is closed; `None` while open.
    pub closed: Option<Closed>,
    /// The next opening by the hours, while closed outside them.
    pub next_opening: Option<Time>,
    /// Staff members on duty.
    pub staff_on_duty: usize,
    /// Rooms ready.
    pub available: usize,
    /// Staffed rooms waiting for a visitor.
    pub staffed: usize,
    /// Chats.
    pub busy: usize,
    /// Rooms closing.
    pub closing: usize,
    /// Visitors waiting.
    pub queue_length: i64,
    /// Since when the first in line waits.
    pub oldest: Option<Time>,
    /// Pick mode (`queue.assign = "pick"`).
    pub pick: bool,
}

/// What a push carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShiftState {
    /// The figures.
    pub figures: Figures,
    /// Handovers waiting for a colleague, shown first.
    pub handovers: Vec<ShiftHandover>,
    /// The first waiting visitors.
    pub visitors: Vec<ShiftVisitor>,
}

/// The pushes' own state in the protocol.
#[derive(Debug, Default)]
pub struct Shift {
    /// What the last check found; `version` counts its changes.
    state: ShiftState,
    version: u64,
    /// Each staff session: when it was last pushed, and which version.
    sent: HashMap<FullJid, (Time, u64)>,
    /// Sessions that are to be pushed at once (they just sent directed presence).
    fresh: HashSet<FullJid>,
    /// The waiting list as last read (up to [`SHIFT_VISITORS`]).
    list: Vec<Waiter>,
    /// The queue (count, first, newest row) the list was read for; `None`: read it.
    list_of: Option<(i64, Option<Time>, Option<i64>)>,
    /// When the list was last asked for.
    list_read: Option<Time>,
    /// A read of the list is on its way.
    reading: bool,
    /// The queue (count, first, newest row) as the last sweep found it.
    swept_of: Option<(i64, Option<Time>, Option<i64>)>,
    /// The newest row announced in the staff room (after a restart, those still waiting are
    /// announced again: the staff room learns they wait).
    announced: i64,
    /// Visitors re-offered already (pick mode): once each.
    reoffered: HashSet<i64>,
}

fn elapsed(since: Option<Time>, now: Time) -> bool {
    since.is_none_or(|t| (now - t).to_std().unwrap_or_default() >= SHIFT_EVERY)
}

impl Protocol {
    /// Staff sessions on duty that are pushed the shift.
    fn shift_sessions(&self) -> impl Iterator<Item = &FullJid> {
        self.staff_present.iter()
    }

    /// A staff session sent directed presence: it gets the shift at once, read afresh if the
    /// bot had nobody to push to before.
    pub(super) fn shift_arrived(&mut self, full: FullJid, out: &mut Outbox, now: Time) {
        self.shift.fresh.insert(full);
        if self.shift.list_of.is_none() {
            self.read_shift_list(out, now);
        }
    }

    /// Whether the waiting list is wanted: for staff sessions to push to, or for the staff room.
    fn shift_wanted(&self) -> bool {
        !self.staff_present.is_empty() || self.staff_room_inside()
    }

    /// A staff session went: it is pushed no more.
    pub(super) fn shift_left(&mut self, full: &FullJid) {
        self.shift.sent.remove(full);
        self.shift.fresh.remove(full);
        if !self.shift_wanted() {
            // Nobody to tell: the list is not read, and is read afresh for the next one.
            self.shift.list_of = None;
            self.shift.list.clear();
        }
    }

    fn read_shift_list(&mut self, out: &mut Outbox, now: Time) {
        if self.shift.reading {
            return;
        }
        self.shift.reading = true;
        self.shift.list_read = Some(now);
        out.query(Query::WaitingList, Pending::ShiftList);
    }

    /// After a sweep: the waiting list is read again when the queue changed (and a staff
    /// session is there), at most every [`SHIFT_EVERY`]; a change within that is read at a
    /// later sweep.
    pub fn shift_swept(&mut self, swept: &Swept, out: &mut Outbox, now: Time) {
        let of = Some((swept.waiting, swept.oldest, swept.newest));
        self.shift.swept_of = of;
        if !self.shift_wanted() {
            return;
        }
        if self.shift.list_of != of && elapsed(self.shift.list_read, now) {
            self.shift.list_of = of;
            self.read_shift_list(out, now);
        }
    }

    /// The waiting list read for the pushes: visitors new since the last read are announced in
    /// the staff room.
    pub fn shift_listed(&mut self, result: Result<QueryResult, String>, lent: &mut Lent) {
        self.shift.reading = false;
        match result {
            Ok(QueryResult::WaitingList(mut list)) => {
                list.truncate(SHIFT_VISITORS);
                let newest = list.iter().map(|w| w.id).max().unwrap_or(0);
                for w in list.iter().filter(|w| w.id > self.shift.announced) {
                    let mut text = match w.topic.as_deref().filter(|t| !t.is_empty()) {
                        Some(topic) => format!("{} is waiting: {topic}", w.nick),
                        None => format!("{} is waiting.", w.nick),
                    };
                    if let Some(why) = w.why.as_deref().filter(|_| w.priority > 0) {
                        text.push_str(&format!(" (priority: {why})"));
                    }
                    super::announce_to_staff(lent, &text);
                }
                self.shift.announced = self.shift.announced.max(newest);
                self.shift
                    .reoffered
                    .retain(|id| list.iter().any(|w| w.id == *id));
                self.shift.list = list;
            }
            Ok(_) => tracing::error!("the waiting list for staff got the wrong database result"),
            Err(e) => {
                // Read again at the next sweep.
                self.shift.list_of = None;
                tracing::warn!(error = %e, "reading the waiting list for staff failed");
            }
        }
    }

    /// The visitor of row `queue_id` was given a room: gone from the list pushed at once (the
    /// list is read again only after a later sweep); what the list knew of them, if anything.
    pub(super) fn shift_taken(&mut self, queue_id: i64) -> Option<Waiter> {
        let at = self.shift.list.iter().position(|w| w.id == queue_id)?;
        Some(self.shift.list.remove(at))
    }

    /// What a push carries now.
    fn shift_state(&self, lent: &Lent) -> ShiftState {
        let c = lent.tally.counts;
        let line = self.line_status(lent.settings, lent.tally, lent.now);
        let pick = !lent.settings.queue_auto;
        let reoffer_after = chrono::Duration::from_std(lent.settings.reoffer_after)
            .unwrap_or(chrono::Duration::MAX);
        ShiftState {
            figures: Figures {
                closed: line.closed,
                next_opening: line.next_opening,
                staff_on_duty: self.staff_on_duty(lent.tally),
                available: c.ready,
                staffed: c.by_status[1],
                busy: c.by_status[2],
                closing: c.by_status[3],
                queue_length: lent.queue.waiting(),
                oldest: lent.queue.oldest(),
                pick,
            },
            handovers: self.shift_handovers(lent),
            visitors: self
                .shift
                .list
                .iter()
                .map(|w| ShiftVisitor {
                    id: w.id,
                    nick: w.nick.clone(),
                    topic: w.topic.clone(),
                    since: w.since,
                    priority: w.priority,
                    why: w.why.clone().unwrap_or_default(),
                    reoffer: pick && lent.now - w.since >= reoffer_after,
                })
                .collect(),
        }
    }

    /// The handovers waiting for a colleague, shown first in the push (the handover's own list,
    /// [`super::hand_over`]).
    fn shift_handovers(&self, lent: &Lent) -> Vec<ShiftHandover> {
        self.waiting_handovers(lent)
            .into_iter()
            .map(|h| ShiftHandover {
                room: h.room.to_string(),
                from: h.from,
                note: h.note.unwrap_or_default(),
                topic: h.topic.unwrap_or_default(),
                since: h.since,
            })
            .collect()
    }

    /// At the end of every input: the state is checked for a change, and each staff session
    /// whose push is due gets it.
    pub fn shift_turn(&mut self, lent: &mut Lent) {
        // While the list is being read, the push waits for it (a moment): it then carries the
        // new list with the figures that made the sweep read it.
        if self.shift.reading {
            return;
        }
        self.reoffer(lent);
        if self.staff_present.is_empty() {
            return;
        }
        // A list read before the queue last changed would show visitors who are gone (or miss
        // new ones) beside figures that count them right: the pushes wait for the list, read
        // again within SHIFT_EVERY. A session that just came still gets the state at once.
        let stale = self.shift.list_of != self.shift.swept_of;
        let state = self.shift_state(lent);
        if state != self.shift.state {
            self.shift.state = state;
            self.shift.version += 1;
        }
        let now = lent.now;
        let version = self.shift.version;
        let due: Vec<FullJid> = self
            .shift_sessions()
            .filter(|s| {
                if self.shift.fresh.contains(*s) {
                    return true;
                }
                !stale
                    && self
                        .shift
                        .sent
                        .get(*s)
                        .is_none_or(|(at, v)| *v != version && elapsed(Some(*at), now))
            })
            .cloned()
            .collect();
        if due.is_empty() {
            return;
        }
        for session in due {
            self.shift.fresh.remove(&session);
            lent.out
                .send(shift_message(&session, &self.shift.state, now));
            self.shift.sent.insert(session, (now, version));
        }
    }

    /// Pick mode: a visitor who has waited `queue.reoffer_after` without being taken is
    /// announced again in the staff room, once (the push marks them too). Only from a list
    /// read since the last sweep's change, so that a visitor just taken is not re-offered.
    fn reoffer(&mut self, lent: &mut Lent) {
        if lent.settings.queue_auto || self.shift.list_of != self.shift.swept_of {
            return;
        }
        let after = chrono::Duration::from_std(lent.settings.reoffer_after)
            .unwrap_or(chrono::Duration::MAX);
        let now = lent.now;
        let due: Vec<String> = self
            .shift
            .list
            .iter()
            .filter(|w| now - w.since >= after && !self.shift.reoffered.contains(&w.id))
            .map(|w| {
                // The time the help line set (`queue.reoffer_after`), not the seconds a sweep
                // added to it.
                let secs = lent.settings.reoffer_after.as_secs() as i64;
                let waited = if secs >= 60 {
                    plural((secs + 30) / 60, "minute", "minutes")
                } else {
                    plural(secs, "second", "seconds")
                };
                format!(
                    "{} has waited {waited} and nobody has taken them yet",
                    w.nick
                )
            })
            .collect();
        let ids: Vec<i64> = self
            .shift
            .list
            .iter()
            .filter(|w| now - w.since >= after)
            .map(|w| w.id)
            .collect();
        self.shift.reoffered.extend(ids);
        for text in due {
            super::announce_to_staff(lent, &text);
        }
    }

    /// When a coalesced push is next due; none while the pushes wait for the list to be read
    /// again (the read's answer, after a sweep, sends them).
    pub fn shift_deadline(&self) -> Option<Time> {
        if self.shift.list_of != self.shift.swept_of {
            return None;
        }
        let version = self.shift.version;
        let every = chrono::Duration::from_std(SHIFT_EVERY).unwrap_or_default();
        self.shift
            .sent
            .values()
            .filter(|(_, v)| *v != version)
            .map(|(at, _)| *at + every)
            .min()
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The words of a push, for a standard client.
pub fn shift_text(state: &ShiftState) -> String {
    let f = &state.figures;
    let closed = match f.closed {
        Some(Closed::OutsideHours) => "The help line is closed (outside its hours). ",
        Some(Closed::NoStaff) => "The help line is closed (nobody on duty). ",
        None => "",
    };
    let handovers = match state.handovers.len() {
        0 => String::new(),
        n => format!(
            "{} waiting for a colleague; ",
            plural(n as i64, "handover", "handovers")
        ),
    };
    format!(
        "{closed}{handovers}{} waiting; {}; {} on duty.",
        plural(f.queue_length, "visitor", "visitors"),
        plural(f.busy as i64, "chat", "chats"),
        plural(f.staff_on_duty as i64, "staff", "staff"),
    )
}

/// The headline pushed to staff session `to` at `now`.
pub fn shift_message(to: &FullJid, state: &ShiftState, now: Time) -> Message {
    let f = &state.figures;
    let mut shift = Element::builder("shift", NS_STAFF);
    let oldest = f.oldest.map_or(String::new(), |t| {
        (now - t).num_seconds().max(0).to_string()
    });
    let attrs: [(&str, String); 10] = [
        ("open", f.closed.is_none().to_string()),
        ("staff-on-duty", f.staff_on_duty.to_string()),
        ("available", f.available.to_string()),
        ("staffed", f.staffed.to_string()),
        ("busy", f.busy.to_string()),
        ("closing", f.closing.to_string()),
        ("queue-length", f.queue_length.to_string()),
        ("oldest-wait", oldest),
        ("mode", if f.pick { "pick" } else { "auto" }.to_string()),
        (
            "reason",
            f.closed.map_or(String::new(), |c| c.as_str().into()),
        ),
    ];
    for (name, value) in attrs {
        if !value.is_empty() {
            shift = with_attr(shift, name, value);
        }
    }
    if let Some(t) = f.next_opening {
        shift = with_attr(shift, "next-opening", stamp(t));
    }
    for h in &state.handovers {
        let mut e = Element::builder("handover", NS_STAFF);
        for (name, value) in [
            ("room", h.room.clone()),
            ("from", h.from.clone()),
            ("note", h.note.clone()),
            ("topic", h.topic.clone()),
            ("since", stamp(h.since)),
        ] {
            e = with_attr(e, name, value);
        }
        shift = shift.append(e.build());
    }
    for v in &state.visitors {
        let mut e = Element::builder("visitor", NS_STAFF);
        e = with_attr(e, "id", v.id.to_string());
        e = with_attr(e, "nick", v.nick.clone());
        e = with_attr(e, "topic", v.topic.clone().unwrap_or_default());
        e = with_attr(e, "waiting-since", stamp(v.since));
        e = with_attr(e, "priority", v.priority.to_string());
        if !v.why.is_empty() {
            e = with_attr(e, "why", v.why.clone());
        }
        if v.reoffer {
            e = with_attr(e, "reoffer", "true");
        }
        shift = shift.append(e.build());
    }
    headline(Jid::from(to.clone()), shift_text(state), shift.build())
}

/// The headline that tells the staff member of `room` (`to`: a session of theirs, or their bare
/// JID) who is coming to their chat: `<visitor xmlns='urn:helpim:staff:0' room nick [topic]
/// waiting-since priority [why]/>`, sent with the assignment itself so that a console shows the
/// topic even for a visitor no push ever listed; with an `<answer question label>` child per
/// answer to the questions before the chat (`answers`: question, its label, the answer's words,
/// in the help line's default language).
pub fn visitor_coming(
    to: Jid,
    room: &str,
    a: &Assigned,
    answers: &[(String, String, String)],
) -> Message {
    let mut e = Element::builder("visitor", NS_STAFF);
    // The row's id, as in the pushes: a console takes them off its waiting list at once.
    e = with_attr(e, "id", a.queue_id.to_string());
    e = with_attr(e, "room", room);
    e = with_attr(e, "nick", a.nick.clone());
    if let Some(topic) = a.topic.as_deref().filter(|t| !t.is_empty()) {
        e = with_attr(e, "topic", topic);
    }
    e = with_attr(e, "waiting-since", stamp(a.waiting_since));
    e = with_attr(e, "priority", a.priority.to_string());
    if let Some(why) = a.why.as_deref().filter(|w| !w.is_empty()) {
        e = with_attr(e, "why", why);
    }
    for (question, label, answer) in answers {
        let mut child = Element::builder("answer", NS_STAFF);
        child = with_attr(child, "question", question.as_str());
        child = with_attr(child, "label", label.as_str());
        e = e.append(child.append(answer.as_str()).build());
    }
    let mut body = match a.topic.as_deref().filter(|t| !t.is_empty()) {
        Some(topic) => format!("{} is coming to your chat: {topic}", a.nick),
        None => format!("{} is coming to your chat.", a.nick),
    };
    if let Some(why) = a.why.as_deref().filter(|_| a.priority > 0) {
        body.push_str(&format!(" (priority: {why})"));
    }
    for (_, label, answer) in answers {
        body.push_str(&format!("\n{label} {answer}"));
    }
    headline(to, body, e.build())
}
