//! The room life cycle of docs/room-states.md as a pure state machine: `(room, event, now) → actions`.
//!
//! Nothing here does I/O. The XMPP layer turns presences and messages into [`Event`]s, the bot
//! feeds them in with the current time, and carries out the [`Action`]s that come back: kicks,
//! destroys and password changes become stanzas, [`Transition`]s become SQL writes. Claims are
//! written into the database by the web application; the room only knows the last claims it was
//! told about, and asks for a fresh read ([`Action::CheckClaims`]) before it kicks anybody for
//! joining without one.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;

use super::types::{
    Claims, KickReason, Limits, Occupant, Reason, Role, Seat, Status, Time, Transition,
};

/// Something that happened to a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A person (not the bot) entered the room.
    Joined(Occupant),
    /// A person left; `clean` when the status text was the configured clean-exit text.
    Left {
        /// The occupant's nick.
        nick: String,
        /// Whether the leave was deliberate.
        clean: bool,
    },
    /// A person changed nick inside the room.
    NickChanged {
        /// The nick before.
        old: String,
        /// The nick after.
        new: String,
    },
    /// A live groupchat message from a person (not the bot).
    Message {
        /// The sender's nick.
        nick: String,
        /// The text.
        body: String,
    },
    /// A message the room replayed from its history when the bot rejoined it, said at `at`
    /// (the server's stamp) while the bot was away.
    Replayed {
        /// The sender's nick at the time.
        nick: String,
        /// The text.
        body: String,
        /// When the server received it.
        at: Time,
    },
    /// A fresh read of the claims from the database.
    Claims(Claims),
    /// Reading the claims failed (database unreachable); they will be asked for again.
    ClaimsUnavailable,
    /// The new password is set on the server and stored; the client claim is cleared.
    PasswordRotated,
    /// Setting a new password failed; it will be tried again.
    RotationFailed,
    /// The room's deadline ([`Room::deadline`]) has come: check the time limits.
    Tick,
    /// The room vanished, or the bot was kicked from it or lost its ownership.
    Lost,
    /// The bot is shutting down.
    Shutdown,
    /// The bot (re)joined the room after a restart or a new XMPP session, and found these people
    /// inside: the status is corrected from who is really there.
    Rejoined {
        /// The people inside (not the bot).
        present: Vec<Occupant>,
    },
    /// The staff member hands the chat over: to the colleague with this real bare JID, or (with
    /// `None`) to whoever takes it from the queue. Ignored unless the room is `busy` with a
    /// seated staff member and no handover runs.
    HandOver {
        /// The colleague's bare JID; `None` for the queue.
        to: Option<String>,
        /// What the first staff member wrote for the colleague.
        note: Option<String>,
        /// The visitor's topic, when they gave one (shown to the colleague; not stored).
        topic: Option<String>,
    },
    /// A staff member (bare JID) took this room's handover from the queue: their join completes it.
    HandoverTaken {
        /// Their bare JID.
        by: String,
    },
    /// The colleague declined the handover (or the first staff member withdrew it).
    HandoverDeclined,
}

/// A handover running in a `busy` (or, once the first staff member left, `closing`) room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    /// The staff seat when the handover was offered: who hands over.
    pub from: Seat,
    /// The colleague expected (bare JID): named, or who took it from the queue; `None` while a
    /// handover to the queue waits for someone.
    pub to: Option<String>,
    /// True for a handover to the queue.
    pub queue: bool,
    /// The first staff member's note.
    pub note: Option<String>,
    /// The visitor's topic, when known (kept in memory only: a visitor's words).
    pub topic: Option<String>,
    /// When it was offered: it expires `timeouts.claim` later.
    pub offered_at: Time,
}

impl Handover {
    /// True for a handover to the queue that nobody has taken yet.
    pub fn waiting(&self) -> bool {
        self.queue && self.to.is_none()
    }
}

/// How a handover ended, as stored in `handovers.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoverEnd {
    /// The colleague joined and holds the staff seat.
    Done,
    /// Nobody joined within `timeouts.claim`.
    Expired,
    /// The colleague declined (or the first withdrew it).
    Declined,
    /// The chat ended (or the visitor left) before it completed.
    Closed,
}

impl HandoverEnd {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverEnd::Done => "done",
            HandoverEnd::Expired => "expired",
            HandoverEnd::Declined => "declined",
            HandoverEnd::Closed => "closed",
        }
    }
}

/// What the bot must do for a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Record a status change.
    Transition(Transition),
    /// Remove an occupant from the room.
    Kick {
        /// The occupant's nick.
        nick: String,
        /// Why.
        reason: KickReason,
    },
    /// Read this room's claims from the database and feed them back as [`Event::Claims`].
    CheckClaims,
    /// Set a new password on the room, store it, clear the client claim, then feed back
    /// [`Event::PasswordRotated`] (or [`Event::RotationFailed`]).
    RotatePassword {
        /// The client claim being expired (the store clears it only if it is still this one).
        client_claimed_at: Time,
    },
    /// Destroy the room on the server.
    Destroy {
        /// Why, sent to the occupants.
        reason: Reason,
    },
    /// A handover began: to be recorded.
    HandoverOffered(Handover),
    /// A handover to the queue was taken by this staff member (bare JID): to be recorded.
    HandoverTaken {
        /// Their bare JID.
        by: String,
    },
    /// A handover ended: to be recorded, and the first staff member told.
    HandoverEnded {
        /// The handover as it was.
        handover: Handover,
        /// How it ended.
        outcome: HandoverEnd,
        /// The seat the colleague took, when it was done.
        seat: Option<Seat>,
        /// When.
        at: Time,
    },
    /// A chat message from a participant, to be recorded.
    RecordMessage {
        /// The sender's nick.
        nick: String,
        /// The sender's role.
        role: Role,
        /// The text.
        body: String,
        /// When it was said.
        at: Time,
    },
}

/// Someone who left a `busy` room.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Departure {
    nick: String,
    role: Role,
    at: Time,
    clean: bool,
}

/// How long the bot waits before asking the database again, or setting a password again, after
/// a failure: short enough that a person waits little, long enough not to spin.
const RETRY: Duration = Duration::from_secs(1);

/// One room's state: status, who is who, who is inside, and the claims last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    status: Status,
    status_since: Time,
    claims: Claims,
    staff: Option<Seat>,
    client: Option<Seat>,
    /// Nick → real bare JID of everyone inside (not the bot).
    present: BTreeMap<String, Option<String>>,
    /// People inside whose right to be there waits for a fresh read of the claims.
    unverified: Vec<String>,
    checking_claims: bool,
    /// After a failed claims read, when to ask again.
    recheck_at: Option<Time>,
    departure: Option<Departure>,
    last_activity: Time,
    rotating: bool,
    /// After a failed password change, when to try again.
    rotate_retry_at: Option<Time>,
    retired_client_claim: Option<Time>,
    /// What happened in the room while a joiner waited for the claims check, with its time: the
    /// room decides nothing until it knows who the joiner is, then replays these in order (a
    /// whole short chat, the staff member's greeting, or a leave may come before the answer).
    deferred: Vec<(Event, Time)>,
    /// True while the deferred events are replayed right after a claims read: joins among them
    /// are decided with those claims, not checked again.
    replaying: bool,
    /// The handover running, if any.
    handover: Option<Handover>,
    /// The staff member who handed the chat over and is still inside (nick, since when): no
    /// longer seated, removed if still there after `timeouts.closing`.
    former: Option<(String, Time)>,
    /// The staff member's lines a `staffed` room replayed after a rejoin (nick, body, time):
    /// stored only if a visitor's line follows (see [`Room::staffed_replay`]).
    held: Vec<(String, String, Time)>,
    /// People a rejoin found inside a `staffed` room besides its staff member: they came in
    /// with its password while the bot was away (see [`Room::came_with_the_claim`]).
    found: Vec<String>,
}

/// At most this many events wait for a claims check (the database may be away for long); past
/// it the room decides without waiting.
const MAX_DEFERRED: usize = 10_000;

impl Room {
    /// A room that has just been created and configured: `available`, nobody inside.
    pub fn new(now: Time) -> Room {
        Room {
            status: Status::Available,
            status_since: now,
            claims: Claims::default(),
            staff: None,
            client: None,
            present: BTreeMap::new(),
            unverified: Vec::new(),
            checking_claims: false,
            recheck_at: None,
            departure: None,
            last_activity: now,
            rotating: false,
            rotate_retry_at: None,
            retired_client_claim: None,
            deferred: Vec::new(),
            replaying: false,
            handover: None,
            former: None,
            held: Vec::new(),
            found: Vec::new(),
        }
    }

    /// The transition that records the creation of a room.
    pub fn created(now: Time) -> Transition {
        Transition {
            from: None,
            to: Status::Available,
            reason: Reason::Created,
            nick: None,
            jid: None,
            at: now,
        }
    }

    /// A room read back from the database after a restart, before the bot has rejoined it.
    pub fn restore(
        status: Status,
        status_since: Time,
        claims: Claims,
        staff: Option<Seat>,
        client: Option<Seat>,
        last_activity: Time,
    ) -> Room {
        Room {
            status,
            status_since,
            claims,
            staff,
            client,
            last_activity,
            ..Room::new(status_since)
        }
    }

    /// Gives a restored room the handover an earlier run left open.
    pub fn restore_handover(&mut self, handover: Handover) {
        self.handover = Some(handover);
    }

    /// The handover running, if any.
    pub fn handover(&self) -> Option<&Handover> {
        self.handover.as_ref()
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The claims last seen.
    pub fn claims(&self) -> Claims {
        self.claims
    }

    /// True when the room is `available` and nobody has claimed it: a ready room of the pool.
    pub fn is_ready(&self) -> bool {
        self.status == Status::Available && self.claims.staff_at.is_none()
    }

    /// The nick of the staff member, once one has joined.
    pub fn staff_nick(&self) -> Option<&str> {
        self.staff.as_ref().map(|s| s.nick.as_str())
    }

    /// The real bare JID of the staff member, once one has joined.
    pub fn staff_jid(&self) -> Option<&str> {
        self.staff.as_ref().and_then(|s| s.jid.as_deref())
    }

    /// The nick of the client, once one has joined.
    pub fn client_nick(&self) -> Option<&str> {
        self.client.as_ref().map(|s| s.nick.as_str())
    }

    /// The people (not the bot) inside the room.
    pub fn present(&self) -> impl Iterator<Item = &str> {
        self.present.keys().map(String::as_str)
    }

    /// The role whose seat carries this nick, if any (whoever uses the nick now).
    pub fn role_of(&self, nick: &str) -> Option<Role> {
        if self.staff_nick() == Some(nick) {
            Some(Role::Staff)
        } else if self.client_nick() == Some(nick) {
            Some(Role::Client)
        } else {
            None
        }
    }

    /// The role of `nick` when the person using it inside now is the one who took the seat (the
    /// same real JID, or a seat that has no JID on record).
    fn seated_role(&self, nick: &str) -> Option<Role> {
        let role = self.role_of(nick)?;
        let seat = self.seat(role).as_ref()?;
        let jid = self.present.get(nick)?;
        (seat.jid.is_none() || seat.jid == *jid).then_some(role)
    }

    /// The role of `nick` when whether their leave is clean decides what follows now: they are
    /// seated in a `busy` room (a clean leave ends their part, an unclean one leaves them the
    /// rejoin grace). Elsewhere a leave without the clean status needs no second look.
    pub fn leave_decides(&self, nick: &str) -> Option<Role> {
        (self.status == Status::Busy)
            .then(|| self.seated_role(nick))
            .flatten()
    }

    fn seat(&self, role: Role) -> &Option<Seat> {
        match role {
            Role::Staff => &self.staff,
            Role::Client => &self.client,
        }
    }

    /// When this room next needs [`Event::Tick`]: the earliest of its claim, idle and closing
    /// limits and its retries; `None` when no time limit runs. A room asks for nothing while
    /// nothing can happen to it by time alone.
    pub fn deadline(&self, limits: &Limits) -> Option<Time> {
        let limit = match self.status {
            Status::Available if self.present.is_empty() => {
                self.claims.staff_at.map(|at| past(at, limits.claim))
            }
            Status::Available => None,
            // Someone who came in waits for the claims check: it decides before the password
            // changes (they may be the visitor whose claim ran out while the bot was away).
            Status::Staffed if self.rotating || !self.unverified.is_empty() => None,
            Status::Staffed => self.claims.client_at.map(|at| {
                let due = past(at, limits.claim);
                self.rotate_retry_at.map_or(due, |retry| due.max(retry))
            }),
            Status::Busy => Some(past(self.last_activity, limits.idle)),
            Status::Closing => Some(past(self.status_since, limits.closing)),
            Status::Closed => return None,
        };
        let recheck = (!self.unverified.is_empty() && !self.checking_claims)
            .then_some(self.recheck_at)
            .flatten();
        let handover = self
            .handover
            .as_ref()
            .map(|h| past(h.offered_at, limits.claim));
        let former = self
            .former
            .as_ref()
            .map(|(_, at)| past(*at, limits.closing));
        [limit, recheck, handover, former]
            .into_iter()
            .flatten()
            .min()
    }

    /// Feeds one event in at time `now`; returns what the bot must do, in order.
    pub fn handle(&mut self, event: Event, now: Time, limits: &Limits) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.status == Status::Closed {
            return actions;
        }
        let happened_inside = matches!(
            event,
            Event::Joined(_)
                | Event::Left { .. }
                | Event::NickChanged { .. }
                | Event::Message { .. }
                | Event::Replayed { .. }
        );
        if happened_inside && self.awaiting_claims() && self.deferred.len() < MAX_DEFERRED {
            self.deferred.push((event, now));
            return actions;
        }
        match event {
            Event::Joined(occupant) => self.on_join(occupant, now, limits, &mut actions),
            Event::Left { nick, clean } => self.on_leave(nick, clean, now, &mut actions),
            Event::NickChanged { old, new } => self.on_nick_change(&old, new),
            Event::Message { nick, body } => {
                if let Some(role) = self.seated_role(&nick) {
                    if matches!(self.status, Status::Busy | Status::Closing) {
                        self.last_activity = self.last_activity.max(now);
                        actions.push(Action::RecordMessage {
                            nick,
                            role,
                            body,
                            at: now,
                        });
                    }
                }
            }
            Event::Replayed { nick, body, at } if self.status == Status::Staffed => {
                self.staffed_replay(nick, body, at, now, &mut actions)
            }
            Event::Replayed { nick, body, at } => {
                // Said while the bot was away: the sender may have left since, so the nick of
                // the seat at the time is what counts.
                if let Some(role) = self.role_of(&nick) {
                    if matches!(self.status, Status::Busy | Status::Closing) {
                        self.last_activity = self.last_activity.max(at);
                        actions.push(Action::RecordMessage {
                            nick,
                            role,
                            body,
                            at,
                        });
                    }
                }
            }
            Event::Claims(claims) => {
                self.checking_claims = false;
                self.recheck_at = None;
                self.claims = Claims {
                    staff_at: claims.staff_at,
                    // A claim this room already expired may still be reported by a read that
                    // raced with the write that cleared it.
                    client_at: claims
                        .client_at
                        .filter(|at| self.retired_client_claim.is_none_or(|old| *at > old)),
                };
                for nick in std::mem::take(&mut self.unverified) {
                    if !self.present.contains_key(&nick) {
                        continue;
                    }
                    if self.status == Status::Closing {
                        self.closing_join(nick, now, limits, true, &mut actions);
                    } else {
                        self.assign_or_kick(nick, now, limits, &mut actions);
                    }
                }
                // Now that the joiners are decided, what happened meanwhile, in order.
                self.replaying = true;
                for (event, at) in std::mem::take(&mut self.deferred) {
                    actions.extend(self.handle(event, at, limits));
                }
                self.replaying = false;
            }
            Event::ClaimsUnavailable => {
                self.checking_claims = false;
                self.recheck_at = Some(now + chrono_of(RETRY));
            }
            Event::PasswordRotated => {
                self.rotating = false;
                self.rotate_retry_at = None;
                self.retired_client_claim = self.claims.client_at;
                self.claims.client_at = None;
            }
            Event::RotationFailed => {
                self.rotating = false;
                self.rotate_retry_at = Some(now + chrono_of(RETRY));
            }
            Event::Tick => self.on_tick(now, limits, &mut actions),
            Event::Lost => self.close(Reason::Lost, None, now, &mut actions),
            Event::Shutdown => {
                if self.is_ready() && self.present.is_empty() {
                    self.close(Reason::Shutdown, None, now, &mut actions);
                }
            }
            Event::Rejoined { present } => self.on_rejoin(present, now, limits, &mut actions),
            Event::HandOver { to, note, topic } => {
                self.hand_over(to, note, topic, now, &mut actions)
            }
            Event::HandoverTaken { by } => {
                if let Some(h) = self.handover.as_mut().filter(|h| h.waiting()) {
                    h.to = Some(by.clone());
                    actions.push(Action::HandoverTaken { by });
                }
            }
            Event::HandoverDeclined => {
                self.end_handover(HandoverEnd::Declined, None, now, &mut actions)
            }
        }
        actions
    }

    /// A line a `staffed` room replayed from its history. The staff member's lines are held
    /// back: said to nobody, unless a visitor came in while the bot was away. Anyone else who
    /// spoke had the password of this hidden room, which only the client claim hands out: the
    /// visitor, whose chat then happened unseen. It is kept and ends as if the bot had seen it
    /// (busy at its first line, then closing, as the visitor is gone), so the room is never
    /// offered to another visitor, whom the room's history would show the first one's words.
    fn staffed_replay(
        &mut self,
        nick: String,
        body: String,
        at: Time,
        now: Time,
        actions: &mut Vec<Action>,
    ) {
        if self.staff_nick() == Some(nick.as_str()) {
            // A replay runs forward in time: a line earlier than the last held one begins
            // another replay (a second join), which repeats what is held.
            if self.held.last().is_some_and(|(_, _, last)| at < *last) {
                self.held.clear();
            }
            self.held.push((nick, body, at));
            return;
        }
        if self.present.contains_key(&nick) {
            // Still inside: their join was decided with the claims, as any join is.
            return;
        }
        let held = std::mem::take(&mut self.held);
        let first = held.first().map_or(at, |(_, _, t)| *t);
        self.client = Some(Seat {
            nick: nick.clone(),
            jid: None,
            claim: self.claims.client_at,
        });
        self.last_activity = self.last_activity.max(at);
        self.transition(
            Status::Busy,
            Reason::ClientJoined,
            Some(nick.clone()),
            None,
            first,
            actions,
        );
        // The staff member's lines the visitor heard: said in the room, or its history shown
        // to them as they came in.
        for (nick, body, at) in held {
            actions.push(Action::RecordMessage {
                nick,
                role: Role::Staff,
                body,
                at,
            });
        }
        actions.push(Action::RecordMessage {
            nick: nick.clone(),
            role: Role::Client,
            body,
            at,
        });
        // Gone before the bot came back: as on any rejoin that misses a seated person, a
        // dropped connection, so they may still come back within the grace period.
        self.departure = Some(Departure {
            nick: nick.clone(),
            role: Role::Client,
            at: now,
            clean: false,
        });
        self.transition(
            Status::Closing,
            Reason::LeftUnclean,
            Some(nick),
            None,
            now,
            actions,
        );
    }

    /// Starts a handover of a `busy` room whose staff member is seated and inside.
    fn hand_over(
        &mut self,
        to: Option<String>,
        note: Option<String>,
        topic: Option<String>,
        now: Time,
        actions: &mut Vec<Action>,
    ) {
        let Some(from) = self.staff.clone() else {
            return;
        };
        if self.status != Status::Busy || self.handover.is_some() || from.jid.is_none() {
            return;
        }
        let handover = Handover {
            from,
            queue: to.is_none(),
            to,
            note,
            topic,
            offered_at: now,
        };
        self.handover = Some(handover.clone());
        actions.push(Action::HandoverOffered(handover));
    }

    /// Ends the running handover (if any) with `outcome`.
    fn end_handover(
        &mut self,
        outcome: HandoverEnd,
        seat: Option<Seat>,
        now: Time,
        actions: &mut Vec<Action>,
    ) {
        if let Some(handover) = self.handover.take() {
            actions.push(Action::HandoverEnded {
                handover,
                outcome,
                seat,
                at: now,
            });
        }
    }

    /// True when `jid` is the colleague a running handover waits for, and the chat can pass to
    /// them: `busy`, or `closing` because the first staff member left (the visitor is inside).
    fn takes_over(&self, jid: &Option<String>) -> bool {
        let Some(h) = &self.handover else {
            return false;
        };
        let expected = h.to.is_some() && h.to == *jid;
        let open = match self.status {
            Status::Busy => true,
            Status::Closing => self
                .departure
                .as_ref()
                .is_some_and(|d| d.role == Role::Staff),
            _ => false,
        };
        expected && open
    }

    /// The colleague `nick` joined: the staff seat is theirs, the first staff member is no longer
    /// seated (and is removed if still inside after `timeouts.closing`).
    fn take_over(&mut self, nick: String, now: Time, actions: &mut Vec<Action>) {
        let jid = self.present.get(&nick).cloned().flatten();
        let old = self.staff.replace(Seat {
            nick: nick.clone(),
            jid: jid.clone(),
            claim: self.claims.staff_at,
        });
        if let Some(old) = old.filter(|o| self.present.contains_key(&o.nick)) {
            self.former = Some((old.nick, now));
        }
        self.departure = None;
        self.last_activity = now;
        self.transition(
            Status::Busy,
            Reason::Handover,
            Some(nick),
            jid,
            now,
            actions,
        );
        let seat = self.staff.clone();
        self.end_handover(HandoverEnd::Done, seat, now, actions);
    }

    fn on_rejoin(
        &mut self,
        present: Vec<Occupant>,
        now: Time,
        limits: &Limits,
        actions: &mut Vec<Action>,
    ) {
        self.present.clear();
        self.unverified.clear();
        self.checking_claims = false;
        // What the old session saw while a joiner was checked is superseded by who is inside now.
        self.deferred.clear();
        // A new replay follows.
        self.held.clear();
        self.found.clear();
        // A seat counts as occupied only by the person who took it, not by someone using the nick.
        let holds = |seat: &Option<Seat>, o: &Occupant| {
            seat.as_ref()
                .is_some_and(|s| s.nick == o.nick && (s.jid.is_none() || s.jid == o.jid))
        };
        let inside = |seat: &Option<Seat>| present.iter().any(|o| holds(seat, o));
        let (staff_in, client_in) = (inside(&self.staff), inside(&self.client));
        match self.status {
            Status::Available => {}
            Status::Staffed if !staff_in => {
                let nick = self.staff_nick().map(str::to_string);
                return self.close(Reason::StaffLeft, nick, now, actions);
            }
            Status::Staffed => {
                self.found = present
                    .iter()
                    .filter(|o| !holds(&self.staff, o))
                    .map(|o| o.nick.clone())
                    .collect();
            }
            Status::Busy | Status::Closing => match (staff_in, client_in) {
                (false, false) => return self.close(Reason::AllLeft, None, now, actions),
                (true, true) if self.status == Status::Closing => {
                    self.departure = None;
                    self.last_activity = now;
                    self.transition(Status::Busy, Reason::Rejoined, None, None, now, actions);
                }
                (true, true) => {}
                (staff_in, _) if self.status == Status::Busy => {
                    // Whoever is missing left while the bot was away: treat it as a dropped
                    // connection, so they may still come back within the grace period.
                    let role = if staff_in { Role::Client } else { Role::Staff };
                    let nick = self
                        .seat(role)
                        .as_ref()
                        .map(|s| s.nick.clone())
                        .unwrap_or_default();
                    self.departure = Some(Departure {
                        nick: nick.clone(),
                        role,
                        at: now,
                        clean: false,
                    });
                    self.transition(
                        Status::Closing,
                        Reason::LeftUnclean,
                        Some(nick),
                        None,
                        now,
                        actions,
                    );
                }
                _ => {}
            },
            Status::Closed => return,
        }
        // Everyone else is treated as a fresh join: checked against the claims, or kicked.
        let former = self.former.take();
        for occupant in present {
            if let Some((nick, since)) = former.as_ref().filter(|(n, _)| *n == occupant.nick) {
                // The staff member who handed over is still there: still on their way out.
                self.former = Some((nick.clone(), *since));
                self.present.insert(occupant.nick, occupant.jid);
            } else if holds(&self.staff, &occupant) || holds(&self.client, &occupant) {
                self.present.insert(occupant.nick, occupant.jid);
            } else {
                self.on_join(occupant, now, limits, actions);
            }
        }
    }

    fn on_join(&mut self, who: Occupant, now: Time, limits: &Limits, actions: &mut Vec<Action>) {
        if self.present.contains_key(&who.nick) {
            return; // a presence update from someone already inside
        }
        let nick = who.nick;
        if self.takes_over(&who.jid) {
            self.present.insert(nick.clone(), who.jid);
            return self.take_over(nick, now, actions);
        }
        self.present.insert(nick.clone(), who.jid);
        match self.status {
            Status::Available | Status::Staffed => {
                let decidable = self.claim_open(self.next_role(), now, limits) || self.replaying;
                if decidable && self.unverified.is_empty() {
                    self.assign_or_kick(nick, now, limits, actions);
                } else {
                    // The cached claims may be older than the web app's claim: read them again
                    // before deciding.
                    self.verify(nick, actions);
                }
            }
            Status::Closing => self.closing_join(nick, now, limits, self.replaying, actions),
            Status::Busy => self.kick(nick, KickReason::ThirdPerson, actions),
            Status::Closed => {}
        }
    }

    /// Puts `nick` aside until a fresh read of the claims decides about them.
    fn verify(&mut self, nick: String, actions: &mut Vec<Action>) {
        self.unverified.push(nick);
        if !self.checking_claims {
            self.checking_claims = true;
            actions.push(Action::CheckClaims);
        }
    }

    /// A join while `closing`: the person who dropped out may come back within the grace, as the
    /// same person (the same real JID) or as a new JID that a fresh claim for the role vouches
    /// for; `checked` once the claims were read again for this join. Anyone else is a third
    /// person.
    fn closing_join(
        &mut self,
        nick: String,
        now: Time,
        limits: &Limits,
        checked: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(departure) = self
            .departure
            .as_ref()
            .filter(|d| d.nick == nick && !d.clean && now - d.at <= chrono_of(limits.rejoin_grace))
        else {
            return self.kick(nick, KickReason::ThirdPerson, actions);
        };
        let role = departure.role;
        let jid = self.present.get(&nick).cloned().flatten();
        let seat = self.seat(role).clone().unwrap_or(Seat {
            nick: nick.clone(),
            jid: None,
            claim: None,
        });
        let same_person = seat.jid.is_none() || seat.jid == jid;
        let claim = match role {
            Role::Staff => self.claims.staff_at,
            Role::Client => self.claims.client_at,
        };
        let vouched = self.claim_open(role, now, limits)
            && claim.is_some_and(|c| seat.claim.is_none_or(|used| c > used));
        if same_person || vouched {
            let rebound = (!same_person).then(|| jid.clone()).flatten();
            if !same_person {
                let new_seat = Some(Seat {
                    nick: nick.clone(),
                    jid,
                    claim,
                });
                match role {
                    Role::Staff => self.staff = new_seat,
                    Role::Client => self.client = new_seat,
                }
            }
            self.departure = None;
            self.last_activity = now;
            self.transition(
                Status::Busy,
                Reason::Rejoined,
                Some(nick),
                rebound,
                now,
                actions,
            );
        } else if !checked {
            self.verify(nick, actions);
        } else {
            self.kick(nick, KickReason::Impostor, actions);
        }
    }

    /// True while someone who joined an `available` or `staffed` room waits for the claims
    /// check that decides what they are.
    fn awaiting_claims(&self) -> bool {
        matches!(self.status, Status::Available | Status::Staffed) && !self.unverified.is_empty()
    }

    /// Gives `nick` the next role if its claim is open, else kicks them.
    fn assign_or_kick(
        &mut self,
        nick: String,
        now: Time,
        limits: &Limits,
        actions: &mut Vec<Action>,
    ) {
        let jid = self.present.get(&nick).cloned().flatten();
        match self.status {
            Status::Available if self.claim_open(Role::Staff, now, limits) => {
                self.staff = Some(Seat {
                    nick: nick.clone(),
                    jid: jid.clone(),
                    claim: self.claims.staff_at,
                });
                self.transition(
                    Status::Staffed,
                    Reason::StaffJoined,
                    Some(nick),
                    jid,
                    now,
                    actions,
                );
            }
            Status::Staffed
                if self.claim_open(Role::Client, now, limits)
                    || self.came_with_the_claim(&nick) =>
            {
                self.found.clear();
                self.client = Some(Seat {
                    nick: nick.clone(),
                    jid: jid.clone(),
                    claim: self.claims.client_at,
                });
                self.last_activity = now;
                self.transition(
                    Status::Busy,
                    Reason::ClientJoined,
                    Some(nick),
                    jid,
                    now,
                    actions,
                );
            }
            Status::Available | Status::Staffed => self.kick(nick, KickReason::NoClaim, actions),
            _ => self.kick(nick, KickReason::ThirdPerson, actions),
        }
    }

    /// True when `nick` was found inside this `staffed` room at a rejoin and a client claim is on
    /// record, expired or not: only the bot, had it been there, would have changed the password
    /// on the claim's expiry, so whoever came in meanwhile came with that claim. The visitor
    /// (whose chat may be going on) keeps the seat rather than being kicked mid-chat, and the
    /// room is not offered to another visitor, whom its history would show their words.
    fn came_with_the_claim(&self, nick: &str) -> bool {
        self.found.iter().any(|n| n == nick) && self.claims.client_at.is_some()
    }

    fn on_leave(&mut self, nick: String, clean: bool, now: Time, actions: &mut Vec<Action>) {
        let role = self.seated_role(&nick);
        if self.present.remove(&nick).is_none() {
            return;
        }
        self.unverified.retain(|n| *n != nick);
        self.found.retain(|n| *n != nick);
        if self.former.as_ref().is_some_and(|(n, _)| *n == nick) {
            self.former = None;
        }
        let Some(role) = role else {
            return; // somebody kicked, a stranger, or a staff member who handed the chat over
        };
        if role == Role::Client {
            // The chat passes to a colleague only with the visitor in it.
            self.end_handover(HandoverEnd::Closed, None, now, actions);
        }
        match self.status {
            Status::Staffed if role == Role::Staff => {
                self.close(Reason::StaffLeft, Some(nick), now, actions)
            }
            Status::Busy => {
                let reason = if clean {
                    Reason::LeftClean
                } else {
                    Reason::LeftUnclean
                };
                self.departure = Some(Departure {
                    nick: nick.clone(),
                    role,
                    at: now,
                    clean,
                });
                self.transition(Status::Closing, reason, Some(nick), None, now, actions);
            }
            Status::Closing => {
                let anyone_left = [Role::Staff, Role::Client].into_iter().any(|r| {
                    self.seat(r)
                        .as_ref()
                        .is_some_and(|s| self.seated_role(&s.nick) == Some(r))
                });
                if !anyone_left {
                    self.close(Reason::AllLeft, Some(nick), now, actions);
                }
            }
            _ => {}
        }
    }

    fn on_nick_change(&mut self, old: &str, new: String) {
        let Some(jid) = self.present.remove(old) else {
            return;
        };
        let seated = self.seated_role_with(old, &jid);
        self.present.insert(new.clone(), jid);
        if let Some(role) = seated {
            let seat = match role {
                Role::Staff => &mut self.staff,
                Role::Client => &mut self.client,
            };
            if let Some(seat) = seat {
                seat.nick = new.clone();
            }
        }
        for n in self.unverified.iter_mut().filter(|n| *n == old) {
            *n = new.clone();
        }
        for n in self.found.iter_mut().filter(|n| *n == old) {
            *n = new.clone();
        }
    }

    /// [`Room::seated_role`] for someone whose JID is already known (not looked up inside).
    fn seated_role_with(&self, nick: &str, jid: &Option<String>) -> Option<Role> {
        let role = self.role_of(nick)?;
        let seat = self.seat(role).as_ref()?;
        (seat.jid.is_none() || seat.jid == *jid).then_some(role)
    }

    fn on_tick(&mut self, now: Time, limits: &Limits, actions: &mut Vec<Action>) {
        if self
            .handover
            .as_ref()
            .is_some_and(|h| now - h.offered_at > chrono_of(limits.claim))
        {
            self.end_handover(HandoverEnd::Expired, None, now, actions);
        }
        if let Some((nick, since)) = self.former.clone() {
            if now - since > chrono_of(limits.closing) {
                self.former = None;
                self.kick(nick, KickReason::Timeout, actions);
            }
        }
        match self.status {
            Status::Available => {
                let expired = self
                    .claims
                    .staff_at
                    .is_some_and(|at| now - at > chrono_of(limits.claim));
                if expired && self.present.is_empty() {
                    self.close(Reason::ClaimTimeout, None, now, actions);
                }
            }
            Status::Staffed => {
                if let Some(at) = self.claims.client_at {
                    let may_retry = self.rotate_retry_at.is_none_or(|retry| now >= retry);
                    let checking = !self.unverified.is_empty();
                    if now - at > chrono_of(limits.claim)
                        && !self.rotating
                        && may_retry
                        && !checking
                    {
                        self.rotating = true;
                        actions.push(Action::RotatePassword {
                            client_claimed_at: at,
                        });
                    }
                }
            }
            Status::Busy => {
                if now - self.last_activity > chrono_of(limits.idle) {
                    self.kick_everyone(actions);
                    self.close(Reason::IdleTimeout, None, now, actions);
                }
            }
            Status::Closing => {
                if now - self.status_since > chrono_of(limits.closing) {
                    self.kick_everyone(actions);
                    self.close(Reason::ClosingTimeout, None, now, actions);
                }
            }
            Status::Closed => {}
        }
        let may_recheck = self.recheck_at.is_none_or(|at| now >= at);
        if !self.unverified.is_empty() && !self.checking_claims && may_recheck {
            self.checking_claims = true;
            self.recheck_at = None;
            actions.push(Action::CheckClaims);
        }
    }

    fn next_role(&self) -> Role {
        if self.status == Status::Available {
            Role::Staff
        } else {
            Role::Client
        }
    }

    fn claim_open(&self, role: Role, now: Time, limits: &Limits) -> bool {
        let at = match role {
            Role::Staff => self.claims.staff_at,
            Role::Client => self.claims.client_at,
        };
        at.is_some_and(|at| now - at <= chrono_of(limits.claim))
    }

    fn kick(&mut self, nick: String, reason: KickReason, actions: &mut Vec<Action>) {
        actions.push(Action::Kick { nick, reason });
    }

    fn kick_everyone(&mut self, actions: &mut Vec<Action>) {
        for nick in self.present.keys() {
            actions.push(Action::Kick {
                nick: nick.clone(),
                reason: KickReason::Timeout,
            });
        }
    }

    fn close(
        &mut self,
        reason: Reason,
        nick: Option<String>,
        now: Time,
        actions: &mut Vec<Action>,
    ) {
        self.end_handover(HandoverEnd::Closed, None, now, actions);
        self.transition(Status::Closed, reason, nick, None, now, actions);
        self.unverified.clear();
        // Even a lost room may still be on the server (a persistent room after a server restart,
        // say): destroy it, or nothing would. A room that is gone or no longer the bot's answers
        // with an error, and that is all.
        actions.push(Action::Destroy { reason });
    }

    fn transition(
        &mut self,
        to: Status,
        reason: Reason,
        nick: Option<String>,
        jid: Option<String>,
        now: Time,
        actions: &mut Vec<Action>,
    ) {
        let from = self.status;
        self.status = to;
        self.status_since = now;
        actions.push(Action::Transition(Transition {
            from: Some(from),
            to,
            reason,
            nick,
            jid,
            at: now,
        }));
    }
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The first moment after `limit` has passed since `at` (limits expire when strictly exceeded).
fn past(at: Time, limit: Duration) -> Time {
    at.checked_add_signed(chrono_of(limit))
        .and_then(|t| t.checked_add_signed(chrono::Duration::milliseconds(1)))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const LIMITS: Limits = Limits {
        claim: Duration::from_secs(60),
        rejoin_grace: Duration::from_secs(30),
        closing: Duration::from_secs(120),
        idle: Duration::from_secs(600),
    };

    fn t(secs: i64) -> Time {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    /// Everyone's real JID is their nick at localhost, unless a test says otherwise.
    fn occupant(nick: &str) -> Occupant {
        Occupant {
            nick: nick.into(),
            jid: Some(format!("{nick}@localhost")),
        }
    }

    fn join(nick: &str) -> Event {
        Event::Joined(occupant(nick))
    }

    fn join_as(nick: &str, jid: &str) -> Event {
        Event::Joined(Occupant {
            nick: nick.into(),
            jid: Some(jid.into()),
        })
    }

    fn leave(nick: &str, clean: bool) -> Event {
        Event::Left {
            nick: nick.into(),
            clean,
        }
    }

    fn staff_claim(at: i64) -> Event {
        Event::Claims(Claims {
            staff_at: Some(t(at)),
            client_at: None,
        })
    }

    fn both_claims(staff: i64, client: i64) -> Event {
        Event::Claims(Claims {
            staff_at: Some(t(staff)),
            client_at: Some(t(client)),
        })
    }

    /// The transitions among `actions`, as (to, reason, nick).
    fn transitions(actions: &[Action]) -> Vec<(Status, Reason, Option<String>)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Transition(tr) => Some((tr.to, tr.reason, tr.nick.clone())),
                _ => None,
            })
            .collect()
    }

    fn kicks(actions: &[Action]) -> Vec<(String, KickReason)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Kick { nick, reason } => Some((nick.clone(), *reason)),
                _ => None,
            })
            .collect()
    }

    fn destroys(actions: &[Action]) -> Vec<Reason> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Destroy { reason } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    fn staffed() -> Room {
        let mut r = Room::new(t(0));
        r.handle(staff_claim(1), t(1), &LIMITS);
        let a = r.handle(join("staff"), t(2), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Staffed, Reason::StaffJoined, Some("staff".into()))]
        );
        r
    }

    fn busy() -> Room {
        let mut r = staffed();
        r.handle(both_claims(1, 3), t(3), &LIMITS);
        let a = r.handle(join("client"), t(4), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::ClientJoined, Some("client".into()))]
        );
        r
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("nope"), None);
    }

    #[test]
    fn available_join_with_staff_claim_becomes_staffed() {
        let r = staffed();
        assert_eq!(r.status(), Status::Staffed);
        assert_eq!(r.staff_nick(), Some("staff"));
        assert_eq!(r.role_of("staff"), Some(Role::Staff));
    }

    #[test]
    fn available_join_before_claim_is_seen_checks_claims_first() {
        let mut r = Room::new(t(0));
        let a = r.handle(join("staff"), t(2), &LIMITS);
        assert_eq!(a, [Action::CheckClaims]);
        assert_eq!(r.status(), Status::Available);
        // The web app's claim was written just before the join: the fresh read finds it.
        let a = r.handle(staff_claim(1), t(2), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Staffed, Reason::StaffJoined, Some("staff".into()))]
        );
    }

    #[test]
    fn available_join_without_claim_is_kicked_and_room_stays_available() {
        let mut r = Room::new(t(0));
        assert_eq!(
            r.handle(join("mallory"), t(1), &LIMITS),
            [Action::CheckClaims]
        );
        let a = r.handle(Event::Claims(Claims::default()), t(1), &LIMITS);
        assert_eq!(kicks(&a), [("mallory".to_string(), KickReason::NoClaim)]);
        assert!(transitions(&a).is_empty());
        assert_eq!(r.status(), Status::Available);
        assert!(r.is_ready());
        // Once the kicked person's presence is gone the room is clean again.
        assert!(r.handle(leave("mallory", false), t(2), &LIMITS).is_empty());
        assert_eq!(r.present().count(), 0);
    }

    #[test]
    fn claims_check_failure_asks_again_on_tick() {
        let mut r = Room::new(t(0));
        r.handle(join("x"), t(1), &LIMITS);
        assert!(r.handle(Event::ClaimsUnavailable, t(1), &LIMITS).is_empty());
        assert_eq!(r.handle(Event::Tick, t(2), &LIMITS), [Action::CheckClaims]);
        // While a check is running, no second one is asked for.
        assert!(r.handle(Event::Tick, t(3), &LIMITS).is_empty());
    }

    #[test]
    fn available_with_expired_staff_claim_closes_claim_timeout() {
        let mut r = Room::new(t(0));
        r.handle(staff_claim(10), t(10), &LIMITS);
        assert!(r.handle(Event::Tick, t(70), &LIMITS).is_empty());
        let a = r.handle(Event::Tick, t(71), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::ClaimTimeout, None)]
        );
        assert_eq!(destroys(&a), [Reason::ClaimTimeout]);
        assert_eq!(r.status(), Status::Closed);
    }

    #[test]
    fn join_after_staff_claim_expired_is_kicked() {
        let mut r = Room::new(t(0));
        r.handle(staff_claim(0), t(0), &LIMITS);
        r.handle(join("late"), t(100), &LIMITS);
        let a = r.handle(staff_claim(0), t(100), &LIMITS);
        assert_eq!(kicks(&a), [("late".to_string(), KickReason::NoClaim)]);
    }

    #[test]
    fn staffed_join_with_client_claim_becomes_busy() {
        let r = busy();
        assert_eq!(r.status(), Status::Busy);
        assert_eq!(r.client_nick(), Some("client"));
    }

    #[test]
    fn staffed_join_without_client_claim_is_kicked() {
        let mut r = staffed();
        assert_eq!(r.handle(join("eve"), t(5), &LIMITS), [Action::CheckClaims]);
        let a = r.handle(staff_claim(1), t(5), &LIMITS);
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::NoClaim)]);
        assert_eq!(r.status(), Status::Staffed);
    }

    #[test]
    fn someone_a_rejoin_finds_in_a_staffed_room_keeps_the_seat_only_with_a_client_claim() {
        // No client claim on record: nobody handed them the room.
        let mut r = staffed();
        let a = r.handle(rejoined(&["staff", "eve"]), t(100), &LIMITS);
        assert_eq!(a, [Action::CheckClaims]);
        let a = r.handle(staff_claim(1), t(101), &LIMITS);
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::NoClaim)]);
        assert_eq!(r.status(), Status::Staffed);
        // A client claim long expired (3 s, limit 60 s): the password it handed out still
        // opened the room, so they came with it; a second one is a third person.
        let mut r = staffed();
        r.handle(both_claims(1, 3), t(3), &LIMITS);
        let a = r.handle(rejoined(&["staff", "client", "eve"]), t(100), &LIMITS);
        assert_eq!(a, [Action::CheckClaims]);
        // The password stays until the check has decided (a new one would retire the claim).
        assert_eq!(r.deadline(&LIMITS), None);
        assert!(r.handle(Event::Tick, t(100), &LIMITS).is_empty());
        let a = r.handle(both_claims(1, 3), t(101), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::ClientJoined, Some("client".into()))]
        );
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::ThirdPerson)]);
    }

    #[test]
    fn staffed_expired_client_claim_rotates_password_once() {
        let mut r = staffed();
        r.handle(both_claims(1, 10), t(10), &LIMITS);
        assert!(r.handle(Event::Tick, t(69), &LIMITS).is_empty());
        let a = r.handle(Event::Tick, t(71), &LIMITS);
        assert_eq!(
            a,
            [Action::RotatePassword {
                client_claimed_at: t(10)
            }]
        );
        assert!(
            r.handle(Event::Tick, t(72), &LIMITS).is_empty(),
            "one rotation at a time"
        );
        r.handle(Event::PasswordRotated, t(73), &LIMITS);
        assert_eq!(r.claims().client_at, None);
        assert_eq!(r.status(), Status::Staffed);
        // A read that still sees the old claim does not bring it back...
        r.handle(both_claims(1, 10), t(74), &LIMITS);
        assert_eq!(r.claims().client_at, None);
        // ...but a new client claim counts.
        r.handle(both_claims(1, 80), t(80), &LIMITS);
        let a = r.handle(join("client2"), t(81), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::ClientJoined, Some("client2".into()))]
        );
    }

    #[test]
    fn failed_rotation_is_retried() {
        let mut r = staffed();
        r.handle(both_claims(1, 10), t(10), &LIMITS);
        assert_eq!(r.handle(Event::Tick, t(71), &LIMITS).len(), 1);
        r.handle(Event::RotationFailed, t(72), &LIMITS);
        assert_eq!(r.handle(Event::Tick, t(73), &LIMITS).len(), 1);
    }

    #[test]
    fn staffed_staff_leaves_closes_staff_left() {
        let mut r = staffed();
        let a = r.handle(leave("staff", true), t(5), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::StaffLeft, Some("staff".into()))]
        );
        assert_eq!(destroys(&a), [Reason::StaffLeft]);
    }

    #[test]
    fn busy_clean_leave_goes_closing_and_no_rejoin() {
        let mut r = busy();
        let a = r.handle(leave("client", true), t(10), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftClean, Some("client".into()))]
        );
        let a = r.handle(join("client"), t(11), &LIMITS);
        assert_eq!(kicks(&a), [("client".to_string(), KickReason::ThirdPerson)]);
        assert_eq!(r.status(), Status::Closing);
    }

    #[test]
    fn busy_unclean_leave_then_rejoin_within_grace_is_busy_again() {
        let mut r = busy();
        let a = r.handle(leave("staff", false), t(10), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftUnclean, Some("staff".into()))]
        );
        let a = r.handle(join("staff"), t(40), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::Rejoined, Some("staff".into()))]
        );
        assert_eq!(r.role_of("staff"), Some(Role::Staff));
    }

    #[test]
    fn rejoin_after_grace_is_kicked() {
        let mut r = busy();
        r.handle(leave("client", false), t(10), &LIMITS);
        let a = r.handle(join("client"), t(41), &LIMITS);
        assert_eq!(kicks(&a), [("client".to_string(), KickReason::ThirdPerson)]);
        assert_eq!(r.status(), Status::Closing);
    }

    #[test]
    fn closing_other_leaves_closes_all_left() {
        let mut r = busy();
        r.handle(leave("client", true), t(10), &LIMITS);
        let a = r.handle(leave("staff", true), t(11), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::AllLeft, Some("staff".into()))]
        );
        assert_eq!(destroys(&a), [Reason::AllLeft]);
    }

    #[test]
    fn closing_timeout_kicks_the_rest_and_closes() {
        let mut r = busy();
        r.handle(leave("client", false), t(10), &LIMITS);
        assert!(r.handle(Event::Tick, t(130), &LIMITS).is_empty());
        let a = r.handle(Event::Tick, t(131), &LIMITS);
        assert_eq!(kicks(&a), [("staff".to_string(), KickReason::Timeout)]);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::ClosingTimeout, None)]
        );
        assert_eq!(destroys(&a), [Reason::ClosingTimeout]);
    }

    #[test]
    fn busy_idle_timeout_kicks_both_and_closes() {
        let mut r = busy();
        let msg = r.handle(
            Event::Message {
                nick: "client".into(),
                body: "hi".into(),
            },
            t(100),
            &LIMITS,
        );
        assert_eq!(
            msg,
            [Action::RecordMessage {
                nick: "client".into(),
                role: Role::Client,
                body: "hi".into(),
                at: t(100),
            }]
        );
        assert!(r.handle(Event::Tick, t(700), &LIMITS).is_empty());
        let a = r.handle(Event::Tick, t(701), &LIMITS);
        assert_eq!(kicks(&a).len(), 2);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::IdleTimeout, None)]
        );
    }

    #[test]
    fn messages_from_strangers_or_outside_a_chat_are_not_recorded() {
        let mut r = staffed();
        assert!(r
            .handle(
                Event::Message {
                    nick: "staff".into(),
                    body: "anyone?".into(),
                },
                t(5),
                &LIMITS
            )
            .is_empty());
        let mut r = busy();
        assert!(r
            .handle(
                Event::Message {
                    nick: "eve".into(),
                    body: "let me in".into(),
                },
                t(5),
                &LIMITS
            )
            .is_empty());
    }

    #[test]
    fn third_person_is_kicked_in_busy_and_closing() {
        let mut r = busy();
        let a = r.handle(join("eve"), t(5), &LIMITS);
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::ThirdPerson)]);
        // Eve's departure after the kick changes nothing.
        assert!(r.handle(leave("eve", false), t(6), &LIMITS).is_empty());
        assert_eq!(r.status(), Status::Busy);
        r.handle(leave("client", false), t(7), &LIMITS);
        let a = r.handle(join("eve"), t(8), &LIMITS);
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::ThirdPerson)]);
    }

    #[test]
    fn two_joiners_on_one_claim_second_is_kicked() {
        let mut r = Room::new(t(0));
        r.handle(join("a"), t(1), &LIMITS);
        r.handle(join("b"), t(1), &LIMITS);
        let a = r.handle(staff_claim(0), t(1), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Staffed, Reason::StaffJoined, Some("a".into()))]
        );
        // b waits for a client claim check: the staffed room needs a client claim.
        assert_eq!(kicks(&a), [("b".to_string(), KickReason::NoClaim)]);
    }

    #[test]
    fn lost_closes_and_destroys_from_any_state() {
        for mut r in [Room::new(t(0)), staffed(), busy()] {
            let a = r.handle(Event::Lost, t(9), &LIMITS);
            assert_eq!(transitions(&a), [(Status::Closed, Reason::Lost, None)]);
            assert_eq!(destroys(&a), [Reason::Lost]);
        }
    }

    #[test]
    fn shutdown_closes_only_unclaimed_available_rooms() {
        let mut r = Room::new(t(0));
        let a = r.handle(Event::Shutdown, t(1), &LIMITS);
        assert_eq!(transitions(&a), [(Status::Closed, Reason::Shutdown, None)]);
        assert_eq!(destroys(&a), [Reason::Shutdown]);
        let mut claimed = Room::new(t(0));
        claimed.handle(staff_claim(0), t(0), &LIMITS);
        assert!(claimed.handle(Event::Shutdown, t(1), &LIMITS).is_empty());
        let mut s = staffed();
        assert!(s.handle(Event::Shutdown, t(9), &LIMITS).is_empty());
    }

    #[test]
    fn nick_change_keeps_role() {
        let mut r = busy();
        r.handle(
            Event::NickChanged {
                old: "client".into(),
                new: "visitor".into(),
            },
            t(5),
            &LIMITS,
        );
        assert_eq!(r.role_of("visitor"), Some(Role::Client));
        let a = r.handle(leave("visitor", true), t(6), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftClean, Some("visitor".into()))]
        );
    }

    #[test]
    fn closed_room_ignores_everything() {
        let mut r = staffed();
        r.handle(leave("staff", true), t(5), &LIMITS);
        for ev in [join("x"), Event::Tick, Event::Lost, Event::Shutdown] {
            assert!(r.handle(ev, t(6), &LIMITS).is_empty());
        }
    }

    fn seat(nick: &str, claim: i64) -> Seat {
        Seat {
            nick: nick.into(),
            jid: Some(format!("{nick}@localhost")),
            claim: Some(t(claim)),
        }
    }

    fn restored(status: Status) -> Room {
        Room::restore(
            status,
            t(0),
            Claims {
                staff_at: Some(t(0)),
                client_at: Some(t(1)),
            },
            Some(seat("staff", 0)),
            (status != Status::Staffed).then(|| seat("client", 1)),
            t(0),
        )
    }

    fn rejoined(present: &[&str]) -> Event {
        Event::Rejoined {
            present: present.iter().map(|s| occupant(s)).collect(),
        }
    }

    #[test]
    fn rejoin_busy_with_both_inside_stays_busy() {
        let mut r = restored(Status::Busy);
        assert!(r
            .handle(rejoined(&["staff", "client"]), t(5), &LIMITS)
            .is_empty());
        assert_eq!(r.status(), Status::Busy);
        // And the chat goes on as before.
        let a = r.handle(leave("client", true), t(6), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftClean, Some("client".into()))]
        );
    }

    #[test]
    fn rejoin_busy_with_one_inside_becomes_closing() {
        let mut r = restored(Status::Busy);
        let a = r.handle(rejoined(&["staff"]), t(5), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftUnclean, Some("client".into()))]
        );
        let a = r.handle(join("client"), t(10), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::Rejoined, Some("client".into()))]
        );
    }

    #[test]
    fn rejoin_with_nobody_inside_closes() {
        for status in [Status::Busy, Status::Closing] {
            let mut r = restored(status);
            let a = r.handle(rejoined(&[]), t(5), &LIMITS);
            assert_eq!(transitions(&a), [(Status::Closed, Reason::AllLeft, None)]);
            assert_eq!(destroys(&a), [Reason::AllLeft]);
        }
        let mut r = restored(Status::Staffed);
        let a = r.handle(rejoined(&[]), t(5), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::StaffLeft, Some("staff".into()))]
        );
    }

    #[test]
    fn rejoin_closing_with_both_back_is_busy_and_strangers_are_checked() {
        let mut r = restored(Status::Closing);
        let a = r.handle(rejoined(&["staff", "client", "eve"]), t(5), &LIMITS);
        assert_eq!(transitions(&a), [(Status::Busy, Reason::Rejoined, None)]);
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::ThirdPerson)]);
        let mut r = Room::restore(Status::Available, t(0), Claims::default(), None, None, t(0));
        assert_eq!(
            r.handle(rejoined(&["someone"]), t(5), &LIMITS),
            [Action::CheckClaims]
        );
    }

    #[test]
    fn presence_update_of_someone_inside_is_not_a_join() {
        let mut r = busy();
        assert!(r.handle(join("staff"), t(5), &LIMITS).is_empty());
        assert_eq!(r.status(), Status::Busy);
    }

    #[test]
    fn a_rejoin_from_another_account_is_an_impostor_and_is_kicked() {
        let mut r = busy();
        r.handle(leave("staff", false), t(10), &LIMITS);
        // Someone who knows the password takes the counsellor's nick from another account.
        let a = r.handle(join_as("staff", "mallory@localhost"), t(12), &LIMITS);
        assert_eq!(
            a,
            [Action::CheckClaims],
            "a fresh claim might vouch: read first"
        );
        let a = r.handle(both_claims(1, 3), t(12), &LIMITS);
        assert_eq!(kicks(&a), [("staff".to_string(), KickReason::Impostor)]);
        assert!(transitions(&a).is_empty());
        assert_eq!(r.status(), Status::Closing);
        // The impostor's leave after the kick is not the seat holder's.
        assert!(r.handle(leave("staff", false), t(13), &LIMITS).is_empty());
        // The real staff member still comes back within the grace.
        let a = r.handle(join("staff"), t(20), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::Rejoined, Some("staff".into()))]
        );
    }

    #[test]
    fn a_fresh_client_claim_vouches_for_a_new_jid_within_the_grace() {
        let mut r = busy();
        r.handle(leave("client", false), t(10), &LIMITS);
        // The anonymous visitor refreshed its page: a new JID, and the web app re-claimed the
        // room for the same visitor.
        let a = r.handle(join_as("client", "anon-2@guest"), t(12), &LIMITS);
        assert_eq!(a, [Action::CheckClaims]);
        let a = r.handle(both_claims(1, 11), t(12), &LIMITS);
        assert_eq!(
            a,
            [Action::Transition(Transition {
                from: Some(Status::Closing),
                to: Status::Busy,
                reason: Reason::Rejoined,
                nick: Some("client".into()),
                jid: Some("anon-2@guest".into()),
                at: t(12),
            })]
        );
        // The seat is the new JID's now: its messages are recorded.
        let a = r.handle(
            Event::Message {
                nick: "client".into(),
                body: "back".into(),
            },
            t(13),
            &LIMITS,
        );
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn a_rejoin_on_restart_by_another_account_is_not_the_seat_holder() {
        let mut r = restored(Status::Busy);
        let a = r.handle(
            Event::Rejoined {
                present: vec![
                    occupant("staff"),
                    Occupant {
                        nick: "client".into(),
                        jid: Some("mallory@localhost".into()),
                    },
                ],
            },
            t(5),
            &LIMITS,
        );
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftUnclean, Some("client".into()))]
        );
        assert_eq!(a.last(), Some(&Action::CheckClaims));
    }

    #[test]
    fn an_impostors_message_is_not_recorded_as_the_staff_members() {
        let mut r = busy();
        r.handle(leave("staff", false), t(10), &LIMITS);
        r.handle(join_as("staff", "mallory@localhost"), t(11), &LIMITS);
        let a = r.handle(
            Event::Message {
                nick: "staff".into(),
                body: "trust me".into(),
            },
            t(11),
            &LIMITS,
        );
        assert!(a.is_empty());
    }

    #[test]
    fn deadlines_follow_the_time_limits() {
        let ms = chrono::Duration::milliseconds(1);
        let mut r = Room::new(t(0));
        assert_eq!(
            r.deadline(&LIMITS),
            None,
            "an unclaimed room waits for nothing"
        );
        r.handle(staff_claim(10), t(10), &LIMITS);
        assert_eq!(r.deadline(&LIMITS), Some(t(70) + ms));
        let mut r = busy();
        assert_eq!(r.deadline(&LIMITS), Some(t(604) + ms), "idle limit");
        r.handle(
            Event::Message {
                nick: "staff".into(),
                body: "hello".into(),
            },
            t(50),
            &LIMITS,
        );
        assert_eq!(r.deadline(&LIMITS), Some(t(650) + ms));
        r.handle(leave("client", false), t(60), &LIMITS);
        assert_eq!(r.deadline(&LIMITS), Some(t(180) + ms), "closing limit");
        // At its deadline the room closes; a moment before, nothing happens.
        assert!(r.handle(Event::Tick, t(180), &LIMITS).is_empty());
        let a = r.handle(Event::Tick, t(180) + ms, &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::ClosingTimeout, None)]
        );
        assert_eq!(r.deadline(&LIMITS), None);
    }

    #[test]
    fn retries_wait_a_second_and_are_deadlines_too() {
        let mut r = Room::new(t(0));
        r.handle(join("x"), t(1), &LIMITS);
        r.handle(Event::ClaimsUnavailable, t(1), &LIMITS);
        assert_eq!(r.deadline(&LIMITS), Some(t(2)));
        let mut r = staffed();
        r.handle(both_claims(1, 10), t(10), &LIMITS);
        assert_eq!(r.handle(Event::Tick, t(71), &LIMITS).len(), 1);
        assert_eq!(r.deadline(&LIMITS), None, "nothing to do while rotating");
        r.handle(Event::RotationFailed, t(72), &LIMITS);
        assert_eq!(r.deadline(&LIMITS), Some(t(73)));
        assert!(r.handle(Event::Tick, t(72), &LIMITS).is_empty());
    }

    #[test]
    fn replayed_history_is_recorded_with_the_servers_time() {
        let mut r = busy();
        let a = r.handle(
            Event::Replayed {
                nick: "client".into(),
                body: "while you were away".into(),
                at: t(20),
            },
            t(30),
            &LIMITS,
        );
        assert_eq!(
            a,
            [Action::RecordMessage {
                nick: "client".into(),
                role: Role::Client,
                body: "while you were away".into(),
                at: t(20),
            }]
        );
    }

    #[test]
    fn a_whole_chat_during_the_clients_claims_check_is_replayed_in_order() {
        let mut r = staffed();
        // The client's claim is not in the cached claims yet: the join is checked first, and
        // the chat is over before the answer comes.
        assert_eq!(
            r.handle(join("client"), t(4), &LIMITS),
            [Action::CheckClaims]
        );
        let said = |nick: &str, body: &str| Event::Message {
            nick: nick.into(),
            body: body.into(),
        };
        for (event, at) in [
            (said("staff", "hello"), 5),
            (said("client", "hi"), 6),
            (leave("client", true), 7),
            (leave("staff", true), 8),
        ] {
            assert!(r.handle(event, t(at), &LIMITS).is_empty(), "deferred");
        }
        assert_eq!(r.status(), Status::Staffed);
        let a = r.handle(both_claims(1, 3), t(9), &LIMITS);
        let recorded: Vec<_> = a
            .iter()
            .filter_map(|a| match a {
                Action::RecordMessage { nick, body, at, .. } => {
                    Some((nick.as_str(), body.as_str(), *at))
                }
                _ => None,
            })
            .collect();
        assert_eq!(recorded, [("staff", "hello", t(5)), ("client", "hi", t(6))]);
        let changes: Vec<_> = a
            .iter()
            .filter_map(|a| match a {
                Action::Transition(tr) => Some((tr.to, tr.reason, tr.at)),
                _ => None,
            })
            .collect();
        assert_eq!(
            changes,
            [
                (Status::Busy, Reason::ClientJoined, t(9)),
                (Status::Closing, Reason::LeftClean, t(7)),
                (Status::Closed, Reason::AllLeft, t(8)),
            ]
        );
    }

    #[test]
    fn what_happens_while_a_stranger_is_checked_waits_and_is_decided_after_the_kick() {
        let mut r = staffed();
        r.handle(join("eve"), t(4), &LIMITS);
        assert!(r
            .handle(
                Event::Message {
                    nick: "staff".into(),
                    body: "who is this?".into(),
                },
                t(5),
                &LIMITS,
            )
            .is_empty());
        assert!(r.handle(leave("staff", true), t(6), &LIMITS).is_empty());
        let a = r.handle(staff_claim(1), t(7), &LIMITS);
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::NoClaim)]);
        assert!(!a.iter().any(|a| matches!(a, Action::RecordMessage { .. })));
        // The staff member's leave, replayed after the kick, closes the room.
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::StaffLeft, Some("staff".into()))]
        );
    }

    #[test]
    fn a_rejoin_forgets_what_waited_for_a_claims_check_in_the_old_session() {
        let mut r = staffed();
        r.handle(join("eve"), t(4), &LIMITS);
        r.handle(leave("staff", true), t(5), &LIMITS);
        // A new session: the staff member is inside, Eve is gone.
        let a = r.handle(rejoined(&["staff"]), t(6), &LIMITS);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(r.status(), Status::Staffed);
        // A later claims answer replays nothing from before.
        assert!(r.handle(staff_claim(1), t(7), &LIMITS).is_empty());
        assert_eq!(r.status(), Status::Staffed);
    }

    fn hand_over_to(r: &mut Room, to: Option<&str>, at: i64) -> Vec<Action> {
        r.handle(
            Event::HandOver {
                to: to.map(str::to_string),
                note: Some("needs a Dutch speaker".into()),
                topic: None,
            },
            t(at),
            &LIMITS,
        )
    }

    fn ended(actions: &[Action]) -> Vec<HandoverEnd> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::HandoverEnded { outcome, .. } => Some(*outcome),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_handover_binds_the_staff_seat_to_the_colleague_and_the_chat_goes_on() {
        let mut r = busy();
        let a = hand_over_to(&mut r, Some("alex@localhost"), 10);
        assert!(matches!(a.as_slice(), [Action::HandoverOffered(h)] if h.from.nick == "staff"));
        // Someone else meanwhile is still a third person.
        let a = r.handle(join("eve"), t(11), &LIMITS);
        assert_eq!(kicks(&a), [("eve".to_string(), KickReason::ThirdPerson)]);
        let a = r.handle(join("alex"), t(12), &LIMITS);
        assert_eq!(
            a[0],
            Action::Transition(Transition {
                from: Some(Status::Busy),
                to: Status::Busy,
                reason: Reason::Handover,
                nick: Some("alex".into()),
                jid: Some("alex@localhost".into()),
                at: t(12),
            })
        );
        assert_eq!(ended(&a), [HandoverEnd::Done]);
        assert_eq!(r.staff_jid(), Some("alex@localhost"));
        assert!(r.handover().is_none());
        // The first staff member's words are no longer the staff's; the colleague's are.
        let said = |nick: &str| Event::Message {
            nick: nick.into(),
            body: "hi".into(),
        };
        assert!(r.handle(said("staff"), t(13), &LIMITS).is_empty());
        assert_eq!(r.handle(said("alex"), t(14), &LIMITS).len(), 1);
        // Their leave changes nothing.
        assert!(r.handle(leave("staff", true), t(15), &LIMITS).is_empty());
        assert_eq!(r.status(), Status::Busy);
        assert_eq!(
            r.deadline(&LIMITS),
            Some(t(614) + chrono::Duration::milliseconds(1))
        );
        // The colleague leaving is the staff leaving.
        let a = r.handle(leave("alex", true), t(20), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftClean, Some("alex".into()))]
        );
    }

    #[test]
    fn the_first_staff_member_still_inside_after_the_closing_time_is_removed() {
        let mut r = busy();
        hand_over_to(&mut r, Some("alex@localhost"), 10);
        r.handle(join("alex"), t(12), &LIMITS);
        let ms = chrono::Duration::milliseconds(1);
        assert_eq!(r.deadline(&LIMITS), Some(t(132) + ms));
        assert!(r.handle(Event::Tick, t(132), &LIMITS).is_empty());
        let a = r.handle(Event::Tick, t(132) + ms, &LIMITS);
        assert_eq!(
            a,
            [Action::Kick {
                nick: "staff".into(),
                reason: KickReason::Timeout
            }]
        );
        assert!(r.handle(leave("staff", false), t(133), &LIMITS).is_empty());
        assert_eq!(r.status(), Status::Busy);
    }

    #[test]
    fn a_handover_to_the_queue_waits_for_whoever_takes_it() {
        let mut r = busy();
        hand_over_to(&mut r, None, 10);
        assert!(r.handover().is_some_and(Handover::waiting));
        // Before anyone took it, a join is a third person's.
        let a = r.handle(join("alex"), t(11), &LIMITS);
        assert_eq!(kicks(&a), [("alex".to_string(), KickReason::ThirdPerson)]);
        r.handle(leave("alex", false), t(11), &LIMITS);
        let a = r.handle(
            Event::HandoverTaken {
                by: "alex@localhost".into(),
            },
            t(12),
            &LIMITS,
        );
        assert_eq!(
            a,
            [Action::HandoverTaken {
                by: "alex@localhost".into()
            }]
        );
        // Taken once only.
        assert!(r
            .handle(
                Event::HandoverTaken {
                    by: "bob@localhost".into()
                },
                t(12),
                &LIMITS
            )
            .is_empty());
        let a = r.handle(join("alex"), t(13), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::Handover, Some("alex".into()))]
        );
        assert_eq!(ended(&a), [HandoverEnd::Done]);
    }

    #[test]
    fn nobody_within_the_claim_time_ends_the_handover_and_the_first_keeps_the_chat() {
        let mut r = busy();
        hand_over_to(&mut r, Some("alex@localhost"), 10);
        let ms = chrono::Duration::milliseconds(1);
        assert_eq!(
            r.deadline(&LIMITS),
            Some(t(70) + ms),
            "the handover's deadline"
        );
        assert!(r.handle(Event::Tick, t(70), &LIMITS).is_empty());
        let a = r.handle(Event::Tick, t(70) + ms, &LIMITS);
        assert_eq!(ended(&a), [HandoverEnd::Expired]);
        assert!(transitions(&a).is_empty());
        assert_eq!(r.staff_jid(), Some("staff@localhost"));
        // Too late now.
        let a = r.handle(join("alex"), t(80), &LIMITS);
        assert_eq!(kicks(&a), [("alex".to_string(), KickReason::ThirdPerson)]);
    }

    #[test]
    fn a_declined_handover_ends_at_once_and_only_one_runs_at_a_time() {
        let mut r = busy();
        hand_over_to(&mut r, Some("alex@localhost"), 10);
        assert!(hand_over_to(&mut r, None, 11).is_empty(), "one at a time");
        let a = r.handle(Event::HandoverDeclined, t(12), &LIMITS);
        assert_eq!(ended(&a), [HandoverEnd::Declined]);
        assert!(r.handover().is_none());
        assert!(r.handle(Event::HandoverDeclined, t(13), &LIMITS).is_empty());
        // Only a busy room hands over.
        let mut s = staffed();
        assert!(hand_over_to(&mut s, Some("alex@localhost"), 10).is_empty());
    }

    #[test]
    fn the_first_leaving_during_a_handover_is_closing_and_the_colleague_may_still_come() {
        let mut r = busy();
        hand_over_to(&mut r, Some("alex@localhost"), 10);
        let a = r.handle(leave("staff", false), t(20), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closing, Reason::LeftUnclean, Some("staff".into()))]
        );
        assert!(ended(&a).is_empty(), "the handover goes on");
        let a = r.handle(join("alex"), t(30), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Busy, Reason::Handover, Some("alex".into()))]
        );
        assert_eq!(ended(&a), [HandoverEnd::Done]);
        // The first one coming back now is a third person.
        let a = r.handle(join("staff"), t(31), &LIMITS);
        assert_eq!(kicks(&a), [("staff".to_string(), KickReason::ThirdPerson)]);
    }

    #[test]
    fn the_first_leaving_and_nobody_coming_closes_as_usual() {
        let mut r = busy();
        hand_over_to(&mut r, Some("alex@localhost"), 10);
        r.handle(leave("staff", true), t(20), &LIMITS);
        // The handover expires first (claim 60 s), the room closes at its closing time.
        let a = r.handle(Event::Tick, t(71), &LIMITS);
        assert_eq!(ended(&a), [HandoverEnd::Expired]);
        assert_eq!(r.status(), Status::Closing);
        let a = r.handle(Event::Tick, t(141), &LIMITS);
        assert_eq!(
            transitions(&a),
            [(Status::Closed, Reason::ClosingTimeout, None)]
        );
    }

    #[test]
    fn the_visitor_leaving_ends_the_handover_and_the_room_closing_too() {
        let mut r = busy();
        hand_over_to(&mut r, Some("alex@localhost"), 10);
        let a = r.handle(leave("client", true), t(11), &LIMITS);
        assert_eq!(ended(&a), [HandoverEnd::Closed]);
        let a = r.handle(join("alex"), t(12), &LIMITS);
        assert_eq!(kicks(&a), [("alex".to_string(), KickReason::ThirdPerson)]);
        let mut r = busy();
        hand_over_to(&mut r, None, 10);
        let a = r.handle(Event::Lost, t(11), &LIMITS);
        assert_eq!(ended(&a), [HandoverEnd::Closed]);
    }

    #[test]
    fn a_restored_handover_completes_after_a_rejoin() {
        let mut r = restored(Status::Busy);
        r.restore_handover(Handover {
            from: seat("staff", 0),
            to: Some("alex@localhost".into()),
            queue: false,
            note: None,
            topic: None,
            offered_at: t(2),
        });
        // The colleague came in while the bot was away; the first one left meanwhile.
        let a = r.handle(rejoined(&["client", "alex"]), t(5), &LIMITS);
        assert_eq!(
            transitions(&a),
            [
                (Status::Closing, Reason::LeftUnclean, Some("staff".into())),
                (Status::Busy, Reason::Handover, Some("alex".into())),
            ]
        );
        assert_eq!(ended(&a), [HandoverEnd::Done]);
    }
}
