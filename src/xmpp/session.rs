//! The one task that owns the XMPP stream.
//!
//! It owns a `tokio_xmpp::stanzastream::StanzaStream` (not `Client`, whose receivers lose
//! wake-ups; see docs/xmpp-servers.md) and `select!`s over incoming stanzas, commands from the
//! rest of the bot, a ping timer and shutdown. It reads every stanza through [`codec::read`] (the
//! one way in, which the fuzz target feeds too), sends the answers the codec prepares for pings
//! and service discovery of the bot itself, and passes the rest on as [`SessionEvent`]s: the
//! running bot's core matches answers to its own requests and keeps their time limits.
//!
//! Tools and tests that talk XMPP without a core ask through [`Session::ask`]: for them, and only
//! for them, the task matches answers and keeps time limits itself. Connections are made by
//! [`super::connect`].

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_xmpp::stanzastream::{Event as StreamEvent, StanzaStream, StreamEvent as Link};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;

use super::adhoc;
use super::codec::{self, Inbound};
pub use super::connect::PING_INTERVAL;
use super::connect::{connector, ConnectSettings, LoginGate};
use super::stanza::{self, RoomMessage, RoomPresence};
use super::{Answer, IqError, JoinReply, Joined, Request};

/// What the session tells the bot.
#[derive(Debug)]
pub enum SessionEvent {
    /// Logged in. `fresh` is true for a new session (all room presence is gone: rejoin), false
    /// when a stream was resumed without loss.
    Online {
        /// True for a new session.
        fresh: bool,
        /// The JID the server bound.
        jid: Jid,
    },
    /// The link is down; the stream tries to resume or reconnect by itself.
    Offline,
    /// A connection attempt failed. `fatal` for errors that retrying will not fix (wrong password).
    ConnectFailed {
        /// What went wrong.
        error: String,
        /// True when retrying is pointless.
        fatal: bool,
    },
    /// A presence from a room occupant, or one directed at the bot (outside of a join asked
    /// for with [`Session::ask`]).
    RoomPresence(RoomPresence),
    /// A groupchat message with a body from a room occupant.
    Message(RoomMessage),
    /// The answer to an IQ that was not asked with [`Session::ask`] (the core's).
    Response {
        /// The IQ's id.
        id: String,
        /// Who answered (`None`: the server).
        from: Option<Jid>,
        /// The payload, or the error's condition.
        result: Result<Option<Element>, IqError>,
    },
    /// The answer to the bot's last ping came back after this long.
    Pong(Duration),
    /// A message that is not a room's chat message (an invitation, a notice): the bot has no
    /// use for them; a client has.
    OtherMessage(Box<xmpp_parsers::message::Message>),
    /// A command (or the list of commands) asked of the bot itself; the answer is the caller's
    /// to send.
    Request(adhoc::Incoming),
}

/// Where the answer to [`Session::ask`] goes.
type Reply = oneshot::Sender<Result<Answer, IqError>>;

enum Command {
    Send(Box<Stanza>),
    Request(Box<Request>, Reply),
    Close(oneshot::Sender<()>),
}

/// A cheap, cloneable handle to the session task.
#[derive(Clone)]
pub struct Session {
    tx: mpsc::UnboundedSender<Command>,
    iq_timeout: Duration,
}

impl Session {
    /// Starts the session task; events arrive on the returned receiver.
    pub fn start(settings: ConnectSettings) -> (Session, mpsc::UnboundedReceiver<SessionEvent>) {
        Session::start_gated(settings, None)
    }

    /// [`Session::start`] where every login, the first and each reconnection, waits for `gate`.
    pub fn start_gated(
        settings: ConnectSettings,
        gate: Option<LoginGate>,
    ) -> (Session, mpsc::UnboundedReceiver<SessionEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let domain = Jid::from(settings.jid.to_bare().domain().to_owned());
        let stream = new_stream(&settings, &events_tx, &gate);
        let task = Task {
            stream,
            gate,
            settings: settings.clone(),
            failed_resumptions: 0,
            commands: rx,
            events: events_tx,
            pending: HashMap::new(),
            next_id: 0,
            domain,
            connected: false,
        };
        tokio::spawn(task.run());
        (
            Session {
                tx,
                iq_timeout: settings.iq_timeout,
            },
            events_rx,
        )
    }

    /// Sends a stanza without waiting for anything.
    pub fn send(&self, stanza: impl Into<Stanza>) {
        let _ = self.tx.send(Command::Send(Box::new(stanza.into())));
    }

    /// Sends a request and waits for its answer, at most the time limit.
    pub async fn ask(&self, request: Request) -> Result<Answer, IqError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Request(Box::new(request), reply))
            .map_err(|_| IqError::Disconnected)?;
        // The task times requests out itself; this bound only guards against a stuck task.
        match tokio::time::timeout(self.iq_timeout * 2, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(IqError::Disconnected),
            Err(_) => Err(IqError::Timeout),
        }
    }

    /// Sends an IQ (its id is set here) and waits for the answer's payload.
    pub async fn iq(&self, iq: Iq) -> Result<Option<Element>, IqError> {
        match self.ask(Request::iq(iq)).await? {
            Answer::Iq(payload) => Ok(payload),
            Answer::Joined(_) => unreachable!("an IQ is answered by an IQ"),
        }
    }

    /// Joins `room` with `presence` and waits for the bot's own presence.
    pub async fn join(
        &self,
        room: BareJid,
        presence: xmpp_parsers::presence::Presence,
    ) -> Result<Joined, IqError> {
        match self.ask(Request::Join { room, presence }).await? {
            Answer::Joined(joined) => Ok(joined),
            Answer::Iq(_) => unreachable!("a join is answered by a presence"),
        }
    }

    /// Ends the stream cleanly (the server keeps no session) and stops the task.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Close(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        }
    }
}

/// What an answer is matched by: an IQ's id, or the room a join went to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Iq(String),
    Join(BareJid),
}

/// A request waiting for its answer.
struct Pending {
    /// Whom an IQ went to: its answer must come from there.
    to: Option<Jid>,
    /// For a join: its answer so far.
    join: JoinReply,
    deadline: Instant,
    reply: Reply,
}

/// How many connections in a row may die before a session is established, before the stream is
/// rebuilt without its resumption state.
const MAX_FAILED_RESUMPTIONS: u32 = 3;

/// How often requests are checked against their time limit.
const SWEEP: Duration = Duration::from_millis(250);

fn new_stream(
    settings: &ConnectSettings,
    events: &mpsc::UnboundedSender<SessionEvent>,
    gate: &Option<LoginGate>,
) -> StanzaStream {
    let events = events.clone();
    let on_failure = std::sync::Arc::new(move |error: String, fatal: bool| {
        let _ = events.send(SessionEvent::ConnectFailed { error, fatal });
    });
    StanzaStream::new(
        Box::new(connector(settings.clone(), on_failure, gate.clone())),
        256,
    )
}

struct Task {
    stream: StanzaStream,
    /// What every login waits for (high availability's fence), if anything.
    gate: Option<LoginGate>,
    settings: ConnectSettings,
    /// Connections lost since the last session was established or resumed.
    failed_resumptions: u32,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<SessionEvent>,
    pending: HashMap<Key, Pending>,
    next_id: u64,
    domain: Jid,
    /// A stream is up (not connecting, not suspended).
    connected: bool,
}

impl Task {
    async fn run(mut self) {
        let mut ping = tokio::time::interval(self.settings.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ping_sent: Option<(String, Instant)> = None;
        loop {
            tokio::select! {
                event = self.stream.next() => match event {
                    None => break,
                    Some(StreamEvent::Stream(link)) => self.on_link(link),
                    Some(StreamEvent::Stanza(stanza)) => {
                        if let Some(rtt) = self.on_stanza(stanza, &mut ping_sent).await {
                            let _ = self.events.send(SessionEvent::Pong(rtt));
                        }
                    }
                },
                command = self.commands.recv() => match command {
                    None => break,
                    Some(Command::Close(done)) => {
                        self.fail_all();
                        // Closing ends the XML stream with a footer, so the server keeps no
                        // session waiting for resumption. Without a stream there is nothing to
                        // close, and waiting would only wait for the next connection attempt.
                        if self.connected {
                            let _ = tokio::time::timeout(Duration::from_secs(5), self.stream.close()).await;
                        }
                        let _ = done.send(());
                        return;
                    }
                    Some(Command::Send(stanza)) => { self.stream.send(stanza).await; }
                    Some(Command::Request(request, reply)) => self.send_request(*request, reply).await,
                },
                _ = ping.tick() => {
                    let id = self.new_id();
                    let mut iq = stanza::ping(self.domain.clone());
                    *iq.id_mut() = id.clone();
                    ping_sent = Some((id, Instant::now()));
                    self.stream.send(Box::new(iq.into())).await;
                }
                _ = sweep.tick() => {
                    self.time_out(Instant::now());
                    if let Some((_, at)) = &ping_sent {
                        if at.elapsed() > self.settings.iq_timeout {
                            tracing::warn!(waited_ms = at.elapsed().as_millis() as u64, "the server did not answer the bot's ping");
                            ping_sent = None;
                        }
                    }
                }
            }
        }
        self.fail_all();
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("hb{}", self.next_id)
    }

    async fn send_request(&mut self, request: Request, reply: Reply) {
        let deadline = Instant::now() + self.settings.iq_timeout;
        let (key, to, stanza): (Key, Option<Jid>, Stanza) = match request {
            Request::Iq(mut iq) => {
                let id = self.new_id();
                *iq.id_mut() = id.clone();
                let to = iq.to().cloned();
                (Key::Iq(id), to, (*iq).into())
            }
            Request::Join { room, presence } => (Key::Join(room), None, presence.into()),
        };
        let pending = Pending {
            to,
            join: JoinReply::default(),
            deadline,
            reply,
        };
        if let Some(old) = self.pending.insert(key, pending) {
            // A second join of the same room replaces the first; the first gets no answer.
            self.deliver(old.reply, Err(IqError::Disconnected));
        }
        self.stream.send(Box::new(stanza)).await;
    }

    fn deliver(&self, reply: Reply, result: Result<Answer, IqError>) {
        let _ = reply.send(result);
    }

    fn answer(&mut self, key: &Key, result: Result<Answer, IqError>) {
        if let Some(pending) = self.pending.remove(key) {
            self.deliver(pending.reply, result);
        }
    }

    /// Requests past their time limit are answered with [`IqError::Timeout`].
    fn time_out(&mut self, now: Instant) {
        let late: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in late {
            crate::metrics::metrics().iq_timeouts.inc();
            self.answer(&key, Err(IqError::Timeout));
        }
    }

    fn fail_all(&mut self) {
        for (_, p) in std::mem::take(&mut self.pending) {
            self.deliver(p.reply, Err(IqError::Disconnected));
        }
    }

    fn on_link(&mut self, link: Link) {
        match link {
            Link::Reset { bound_jid, .. } => {
                self.connected = true;
                self.failed_resumptions = 0;
                // A new session: nothing sent before is going to be answered.
                self.fail_all();
                tracing::info!(jid = %bound_jid, "XMPP session established");
                let _ = self.events.send(SessionEvent::Online {
                    fresh: true,
                    jid: bound_jid,
                });
            }
            Link::Suspended => {
                self.connected = false;
                self.failed_resumptions += 1;
                if self.failed_resumptions > MAX_FAILED_RESUMPTIONS {
                    // tokio-xmpp 6 tries to resume the old session on every new connection. When
                    // the server no longer knows it (e.g. Prosody restarted), Prosody answers
                    // <failed/> without `h`, xmpp-parsers 0.23 rejects that, the connection drops,
                    // and the stream tries to resume again, forever. A new stream has no
                    // resumption state: it starts a fresh session, and the bot rejoins its rooms.
                    tracing::warn!(
                        lost = self.failed_resumptions,
                        "XMPP connections keep dropping before the session is back; starting a fresh session"
                    );
                    self.failed_resumptions = 0;
                    self.fail_all();
                    let fresh = new_stream(&self.settings, &self.events, &self.gate);
                    drop(std::mem::replace(&mut self.stream, fresh));
                    return;
                }
                tracing::warn!("XMPP connection lost; reconnecting");
                let _ = self.events.send(SessionEvent::Offline);
            }
            Link::Resumed => {
                self.connected = true;
                self.failed_resumptions = 0;
                tracing::info!("XMPP stream resumed without loss");
                let _ = self.events.send(SessionEvent::Online {
                    fresh: false,
                    jid: Jid::from(self.domain.to_bare()),
                });
            }
        }
    }

    /// Routes one stanza; returns the round trip when it answers the bot's own ping.
    async fn on_stanza(
        &mut self,
        stanza: Stanza,
        ping_sent: &mut Option<(String, Instant)>,
    ) -> Option<Duration> {
        let event = match codec::read(stanza) {
            Inbound::Presence(rp) => {
                if self.join_step(&rp) {
                    return None;
                }
                SessionEvent::RoomPresence(rp)
            }
            Inbound::Message(m) => SessionEvent::Message(m),
            Inbound::OtherMessage(m) => SessionEvent::OtherMessage(m),
            Inbound::Request(request) => SessionEvent::Request(request),
            Inbound::Serve(answer) => {
                self.stream.send(Box::new((*answer).into())).await;
                return None;
            }
            Inbound::Response { id, from, result } => {
                if ping_sent.as_ref().is_some_and(|(p, _)| *p == id) {
                    // An error answer counts too: a server without XEP-0199 still answered.
                    return ping_sent.take().map(|(_, at)| at.elapsed());
                }
                if self.pending.contains_key(&Key::Iq(id.clone())) {
                    self.iq_answer(id, from, result.map(Answer::Iq));
                    return None;
                }
                SessionEvent::Response { id, from, result }
            }
            Inbound::Ignored => return None,
        };
        let _ = self.events.send(event);
        None
    }

    /// Takes a presence that answers a join asked with [`Session::ask`]; false for any other.
    fn join_step(&mut self, rp: &RoomPresence) -> bool {
        let key = Key::Join(rp.room.clone());
        let Some(join) = self.pending.get_mut(&key) else {
            return false;
        };
        if let Some(result) = join.join.take(rp) {
            self.answer(&key, result);
        }
        true
    }

    fn iq_answer(&mut self, id: String, from: Option<Jid>, result: Result<Answer, IqError>) {
        let key = Key::Iq(id);
        let Some(pending) = self.pending.get(&key) else {
            tracing::debug!(id = ?key, "ignoring an answer to no request of ours");
            return;
        };
        // An answer must come from whom the request went to (or, for the server, from nobody).
        let expected = match (&pending.to, &from) {
            (Some(to), Some(from)) => to == from,
            (None, _) | (Some(_), None) => true,
        };
        if !expected {
            let from = from.map(|j| j.to_string());
            tracing::warn!(target: "helpim_bot::security", id = ?key, domain = ?from.as_deref().map(super::stanza::domain_of), "ignoring an answer from the wrong sender");
            tracing::debug!(target: "helpim_bot::security", id = ?key, ?from, "the wrong sender");
            return;
        }
        self.answer(&key, result);
    }
}
