//! What the core has to say and what it waits for: the [`Effect`]s of one turn, and the table
//! of outstanding requests and queries, each with what it is for ([`Pending`]), how its answer
//! is recognised on the wire (an IQ's id and addressee, or the room a join went to) and its time
//! limit. It is the narrow `&mut` the core's parts are lent: a command of the protocol sends and
//! asks through it without seeing the rest of the core.
//!
//! Matching answers here, not in the session task, puts the time limits on the core's clock: a
//! unit test moves the clock past a limit and sees the timeout, and the session only reads and
//! writes stanzas.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use tokio_xmpp::Stanza;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;

use super::effects::{Effect, Query, RequestId, Write};
use super::types::Time;
use super::Pending;
use crate::xmpp::stanza::RoomPresence;
use crate::xmpp::{Answer, IqError, JoinReply, Request};

/// The prefix of the ids of the core's IQs (the session's own requests use another).
const IQ_PREFIX: &str = "c";

/// How a request's answer is recognised.
#[derive(Debug)]
enum Wire {
    /// An IQ: its answer carries the same id and comes from where it went (or from nobody).
    Iq { to: Option<Jid> },
    /// A join: the room's presences up to the bot's own.
    Join { room: BareJid },
    /// A database query: answered by the driver with the same id.
    Query,
}

/// An outstanding request or query.
#[derive(Debug)]
struct Outstanding {
    what: Pending,
    wire: Wire,
}

/// A join on its way, and its answer so far.
#[derive(Debug)]
struct JoinWait {
    id: RequestId,
    reply: JoinReply,
}

/// What a presence is to the joins the core waits for.
#[derive(Debug)]
pub enum JoinAnswer {
    /// It is no answer to a join of ours: the room's ordinary traffic.
    None,
    /// Part of a join's answer (an occupant, or an earlier session's place ending): kept.
    Taken,
    /// The end of a join's answer.
    Done(Box<(Pending, Result<Answer, IqError>)>),
}

/// The effects of one turn and the outstanding requests. See the module documentation.
#[derive(Debug)]
pub struct Outbox {
    effects: Vec<Effect>,
    pending: HashMap<RequestId, Outstanding>,
    joins: HashMap<BareJid, JoinWait>,
    limits: BinaryHeap<Reverse<(Time, RequestId)>>,
    next_id: RequestId,
    timeout: Duration,
    /// The time of the current turn.
    now: Time,
    /// Requests that ran out of time, since the start.
    pub timeouts: u64,
}

impl Outbox {
    /// An empty outbox whose requests wait at most `timeout` for their answer.
    pub fn new(timeout: Duration) -> Outbox {
        Outbox {
            effects: Vec::new(),
            pending: HashMap::new(),
            joins: HashMap::new(),
            limits: BinaryHeap::new(),
            next_id: 0,
            timeout,
            now: Time::MIN_UTC,
            timeouts: 0,
        }
    }

    /// Starts a turn at `now`.
    pub fn turn(&mut self, now: Time) {
        self.now = now;
    }

    /// The effects of the turn, in order.
    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Sends a stanza that gets no answer.
    pub fn send(&mut self, stanza: impl Into<Stanza>) {
        self.effects.push(Effect::Send(Box::new(stanza.into())));
    }

    /// Asks for a change to be recorded.
    pub fn write(&mut self, write: Write) {
        self.effects.push(Effect::Write(write));
    }

    /// Adds any other effect.
    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    fn new_id(&mut self) -> RequestId {
        self.next_id += 1;
        self.next_id
    }

    /// Sends `request`, remembering `what` it is for until it is answered or times out.
    pub fn request(&mut self, request: Request, what: Pending) -> RequestId {
        self.request_within(request, what, self.timeout)
    }

    /// [`Outbox::request`] with its own time `limit` instead of the usual one.
    pub fn request_within(
        &mut self,
        request: Request,
        what: Pending,
        limit: Duration,
    ) -> RequestId {
        let id = self.new_id();
        let (wire, stanza): (Wire, Stanza) = match request {
            Request::Iq(mut iq) => {
                *iq.id_mut() = format!("{IQ_PREFIX}{id}");
                let to = iq.to().cloned();
                (Wire::Iq { to }, (*iq).into())
            }
            Request::Join { room, presence } => {
                let wait = JoinWait {
                    id,
                    reply: JoinReply::default(),
                };
                if let Some(old) = self.joins.insert(room.clone(), wait) {
                    // A second join of the same room replaces the first, which gets no answer.
                    self.pending.remove(&old.id);
                }
                (Wire::Join { room }, presence.into())
            }
        };
        self.pending.insert(id, Outstanding { what, wire });
        let limit = self.now + chrono::Duration::from_std(limit).unwrap_or_default();
        self.limits.push(Reverse((limit, id)));
        self.effects.push(Effect::Send(Box::new(stanza)));
        id
    }

    /// Asks the database `query`, remembering `what` it is for.
    pub fn query(&mut self, query: Query, what: Pending) -> RequestId {
        let id = self.new_id();
        self.pending.insert(
            id,
            Outstanding {
                what,
                wire: Wire::Query,
            },
        );
        self.effects.push(Effect::Query { id, query });
        id
    }

    /// What query `id` was for, if it is outstanding.
    pub fn query_answered(&mut self, id: RequestId) -> Option<Pending> {
        match self.pending.get(&id) {
            Some(Outstanding {
                wire: Wire::Query, ..
            }) => self.pending.remove(&id).map(|o| o.what),
            _ => None,
        }
    }

    /// Matches an IQ answer read off the wire to its request: what it was for and the answer,
    /// or `None` when it answers nothing of ours (or comes from the wrong sender).
    pub fn iq_answered(
        &mut self,
        id: &str,
        from: Option<&Jid>,
        result: Result<Option<Element>, IqError>,
    ) -> Option<(Pending, Result<Answer, IqError>)> {
        let id: RequestId = id.strip_prefix(IQ_PREFIX)?.parse().ok()?;
        let Outstanding {
            wire: Wire::Iq { to },
            ..
        } = self.pending.get(&id)?
        else {
            return None;
        };
        // An answer must come from whom the request went to (or, for the server, from nobody).
        let expected = match (to, from) {
            (Some(to), Some(from)) => to == from,
            (None, _) | (Some(_), None) => true,
        };
        if !expected {
            let from = from.map(|j| j.to_string());
            tracing::warn!(target: "helpim_bot::security", id, domain = ?from.as_deref().map(crate::xmpp::stanza::domain_of), "ignoring an answer from the wrong sender");
            tracing::debug!(target: "helpim_bot::security", id, ?from, "the wrong sender");
            return None;
        }
        let what = self.pending.remove(&id)?.what;
        Some((what, result.map(Answer::Iq)))
    }

    /// What a room presence is to the joins on their way.
    pub fn join_answered(&mut self, presence: &RoomPresence) -> JoinAnswer {
        let Some(wait) = self.joins.get_mut(&presence.room) else {
            return JoinAnswer::None;
        };
        let Some(result) = wait.reply.take(presence) else {
            return JoinAnswer::Taken;
        };
        let wait = self.joins.remove(&presence.room).expect("found above");
        match self.pending.remove(&wait.id) {
            Some(o) => JoinAnswer::Done(Box::new((o.what, result))),
            None => JoinAnswer::Taken,
        }
    }

    /// The requests whose time limit has passed at `now`, taken out of the table.
    pub fn expired(&mut self, now: Time) -> Vec<Pending> {
        let mut late = Vec::new();
        while let Some(Reverse((limit, id))) = self.limits.peek().copied() {
            if limit > now {
                break;
            }
            self.limits.pop();
            if let Some(o) = self.take_request(id) {
                self.timeouts += 1;
                late.push(o);
            }
        }
        late
    }

    /// A new session: no request sent before will be answered; every one is taken out.
    pub fn session_ended(&mut self) -> Vec<Pending> {
        let ids: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, o)| !matches!(o.wire, Wire::Query))
            .map(|(id, _)| *id)
            .collect();
        let mut ended: Vec<(RequestId, Pending)> = ids
            .into_iter()
            .filter_map(|id| self.take_request(id).map(|p| (id, p)))
            .collect();
        // In the order they were sent, so that what follows is the same from run to run.
        ended.sort_by_key(|(id, _)| *id);
        ended.into_iter().map(|(_, p)| p).collect()
    }

    fn take_request(&mut self, id: RequestId) -> Option<Pending> {
        let o = self.pending.remove(&id)?;
        if let Wire::Join { room } = &o.wire {
            if self.joins.get(room).is_some_and(|w| w.id == id) {
                self.joins.remove(room);
            }
        }
        Some(o.what)
    }

    /// When the next outstanding request runs out of time.
    pub fn next_limit(&mut self) -> Option<Time> {
        // Limits of requests answered already are dropped on the way.
        while let Some(Reverse((limit, id))) = self.limits.peek().copied() {
            if self.pending.contains_key(&id) {
                return Some(limit);
            }
            self.limits.pop();
        }
        None
    }

    /// How many outstanding requests and queries `is` holds for.
    pub fn count(&self, is: impl Fn(&Pending) -> bool) -> usize {
        self.pending.values().filter(|o| is(&o.what)).count()
    }
}
