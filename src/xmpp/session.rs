//! The one task that owns the XMPP stream.
//!
//! It owns a `tokio_xmpp::stanzastream::StanzaStream` (not `Client`, which loses wake-ups, see
//! XMPP-NOTES.md) and `select!`s over incoming stanzas, commands from the rest of the bot, a ping
//! timer and shutdown. It matches IQ responses to requests (each request has a timeout), answers
//! the server's pings, collects the presences of a room being joined until the bot's own
//! presence arrives, and forwards everything else to the bot as [`SessionEvent`]s.
//!
//! Connections are made by our own connector: TCP with `TCP_NODELAY` (without it every
//! request/response costs ~44 ms on loopback), STARTTLS or plain TCP, then SASL. Its failures are
//! reported as [`SessionEvent::ConnectFailed`], because tokio-xmpp only logs them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use sasl::common::{ChannelBinding, Credentials};
use tokio::io::BufStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_xmpp::connect::{AsyncReadAndWrite, DnsConfig};
use tokio_xmpp::stanzastream::{
    Connection, Event as StreamEvent, StanzaStream, StreamEvent as Link,
};
use tokio_xmpp::xmlstream::{initiate_stream, StreamHeader, Timeouts};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use super::stanza::{self, PresenceKind, RoomPresence};
use crate::config::{Config, TlsMode};

/// How often the bot pings the server when it runs (XEP-0199).
pub const PING_INTERVAL: Duration = Duration::from_secs(20);

/// How to reach and log into the server.
#[derive(Clone)]
pub struct ConnectSettings {
    /// The full JID to log in as (the resource is requested at bind time).
    pub jid: FullJid,
    /// The account's password.
    pub password: String,
    /// `host:port` instead of the SRV lookup of the JID's domain.
    pub server: Option<(String, u16)>,
    /// STARTTLS or plain.
    pub tls: TlsMode,
    /// How long any request may wait for its answer.
    pub iq_timeout: Duration,
    /// How often the bot pings the server to see that the link is alive.
    pub ping_interval: Duration,
}

impl ConnectSettings {
    /// The settings of `config`'s `[xmpp]` section.
    pub fn from_config(config: &Config) -> anyhow::Result<ConnectSettings> {
        let jid = FullJid::new(&config.full_jid())
            .map_err(|e| anyhow::anyhow!("xmpp.jid/resource: {e}"))?;
        Ok(ConnectSettings {
            jid,
            password: config.password().to_string(),
            server: config
                .xmpp
                .server
                .as_deref()
                .and_then(crate::config::split_host_port),
            tls: config.xmpp.tls,
            iq_timeout: config.xmpp.iq_timeout,
            ping_interval: PING_INTERVAL,
        })
    }
}

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
    /// A presence from a room occupant (outside of a join the bot is waiting for).
    RoomPresence(RoomPresence),
    /// A groupchat message.
    Message(xmpp_parsers::message::Message),
    /// The answer to the bot's last ping came back after this long.
    Pong(Duration),
}

/// Why a request got no useful answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IqError {
    /// No answer in time.
    #[error("no answer within the time limit")]
    Timeout,
    /// The server answered with an error.
    #[error("error response: {0}")]
    Error(String),
    /// The session was reset or closed before the answer came.
    #[error("the XMPP session ended before the answer came")]
    Disconnected,
}

/// The result of joining a room.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The bot's own presence (status codes 110, maybe 201).
    pub own: RoomPresence,
    /// The presences of the occupants already inside, received before the bot's own.
    pub occupants: Vec<RoomPresence>,
}

enum Command {
    Send(Box<Stanza>),
    Iq(Box<Iq>, oneshot::Sender<Result<Option<Element>, IqError>>),
    Join(
        Box<Presence>,
        BareJid,
        oneshot::Sender<Result<Joined, IqError>>,
    ),
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
        let (tx, rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let domain = Jid::from(settings.jid.to_bare().domain().to_owned());
        let stream = new_stream(&settings, &events_tx);
        let task = Task {
            stream,
            settings: settings.clone(),
            failed_resumptions: 0,
            commands: rx,
            events: events_tx,
            pending: HashMap::new(),
            joins: HashMap::new(),
            next_id: 0,
            iq_timeout: settings.iq_timeout,
            ping_interval: settings.ping_interval,
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

    /// Sends an IQ (its id is set here) and waits for the answer, at most `iq_timeout`.
    pub async fn iq(&self, iq: Iq) -> Result<Option<Element>, IqError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Iq(Box::new(iq), reply))
            .map_err(|_| IqError::Disconnected)?;
        match tokio::time::timeout(self.iq_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(IqError::Disconnected),
            Err(_) => {
                crate::metrics::metrics().iq_timeouts.inc();
                Err(IqError::Timeout)
            }
        }
    }

    /// Joins `room` with `presence` and waits for the bot's own presence, at most `iq_timeout`.
    pub async fn join(&self, room: BareJid, presence: Presence) -> Result<Joined, IqError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Join(Box::new(presence), room, reply))
            .map_err(|_| IqError::Disconnected)?;
        match tokio::time::timeout(self.iq_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(IqError::Disconnected),
            Err(_) => {
                crate::metrics::metrics().iq_timeouts.inc();
                Err(IqError::Timeout)
            }
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

struct PendingIq {
    to: Option<Jid>,
    reply: oneshot::Sender<Result<Option<Element>, IqError>>,
}

struct PendingJoin {
    occupants: Vec<RoomPresence>,
    reply: oneshot::Sender<Result<Joined, IqError>>,
}

/// How many connections in a row may die before a session is established, before the stream is
/// rebuilt without its resumption state.
const MAX_FAILED_RESUMPTIONS: u32 = 3;

fn new_stream(
    settings: &ConnectSettings,
    events: &mpsc::UnboundedSender<SessionEvent>,
) -> StanzaStream {
    StanzaStream::new(Box::new(connector(settings.clone(), events.clone())), 256)
}

struct Task {
    stream: StanzaStream,
    settings: ConnectSettings,
    /// Connections lost since the last session was established or resumed.
    failed_resumptions: u32,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<SessionEvent>,
    pending: HashMap<String, PendingIq>,
    joins: HashMap<BareJid, PendingJoin>,
    next_id: u64,
    iq_timeout: Duration,
    ping_interval: Duration,
    domain: Jid,
    /// A stream is up (not connecting, not suspended).
    connected: bool,
}

impl Task {
    async fn run(mut self) {
        let mut ping = tokio::time::interval(self.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
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
                    Some(cmd) => self.on_command(cmd).await,
                },
                _ = ping.tick() => {
                    let id = self.new_id();
                    let iq = stanza::ping(self.domain.clone(), id.clone());
                    ping_sent = Some((id, Instant::now()));
                    self.stream.send(Box::new(iq.into())).await;
                }
                _ = sweep.tick() => {
                    // Requests whose caller gave up (timed out) are forgotten.
                    self.pending.retain(|_, p| !p.reply.is_closed());
                    self.joins.retain(|_, p| !p.reply.is_closed());
                    if let Some((_, at)) = &ping_sent {
                        if at.elapsed() > self.iq_timeout {
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

    fn fail_all(&mut self) {
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(IqError::Disconnected));
        }
        for (_, j) in self.joins.drain() {
            let _ = j.reply.send(Err(IqError::Disconnected));
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
                    let fresh = new_stream(&self.settings, &self.events);
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

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Send(stanza) => {
                self.stream.send(stanza).await;
            }
            Command::Iq(mut iq, reply) => {
                let id = self.new_id();
                *iq.id_mut() = id.clone();
                let to = iq.to().cloned();
                self.pending.insert(id, PendingIq { to, reply });
                self.stream.send(Box::new((*iq).into())).await;
            }
            Command::Join(presence, room, reply) => {
                self.joins.insert(
                    room,
                    PendingJoin {
                        occupants: Vec::new(),
                        reply,
                    },
                );
                self.stream.send(Box::new((*presence).into())).await;
            }
            Command::Close(_) => unreachable!("handled in run"),
        }
    }

    /// Routes one stanza; returns the round trip when it answers the bot's own ping.
    async fn on_stanza(
        &mut self,
        stanza: Stanza,
        ping_sent: &mut Option<(String, Instant)>,
    ) -> Option<Duration> {
        match stanza {
            Stanza::Iq(iq) => return self.on_iq(iq, ping_sent).await,
            Stanza::Presence(p) => {
                let Some(rp) = stanza::room_presence(&p) else {
                    tracing::debug!(from = ?p.from.as_ref().map(|j| j.to_string()), "ignoring a presence that is not from a room occupant");
                    return None;
                };
                if let Some(join) = self.joins.get_mut(&rp.room) {
                    let done = rp.is_self() || matches!(rp.kind, PresenceKind::Error(_));
                    if !done {
                        join.occupants.push(rp);
                        return None;
                    }
                    let join = self.joins.remove(&rp.room).expect("present");
                    let result = match &rp.kind {
                        PresenceKind::Error(condition) => Err(IqError::Error(condition.clone())),
                        _ => Ok(Joined {
                            own: rp,
                            occupants: join.occupants,
                        }),
                    };
                    let _ = join.reply.send(result);
                    return None;
                }
                let _ = self.events.send(SessionEvent::RoomPresence(rp));
            }
            Stanza::Message(m) => {
                let _ = self.events.send(SessionEvent::Message(m));
            }
        }
        None
    }

    async fn on_iq(
        &mut self,
        iq: Iq,
        ping_sent: &mut Option<(String, Instant)>,
    ) -> Option<Duration> {
        match iq {
            Iq::Get {
                from, id, payload, ..
            }
            | Iq::Set {
                from, id, payload, ..
            } => {
                let answer: Iq = if payload.is("ping", stanza::NS_PING) {
                    Iq::Result {
                        from: None,
                        to: from,
                        id,
                        payload: None,
                    }
                } else {
                    tracing::debug!(from = ?from.as_ref().map(|j| j.to_string()), ns = %payload.ns(), "answering an unsupported request with an error");
                    Iq::Error {
                        from: None,
                        to: from,
                        id,
                        error: StanzaError::new(
                            ErrorType::Cancel,
                            DefinedCondition::ServiceUnavailable,
                            "en",
                            "",
                        ),
                        payload: None,
                    }
                };
                self.stream.send(Box::new(answer.into())).await;
                None
            }
            Iq::Result {
                from, id, payload, ..
            } => {
                if let Some((ping_id, at)) = ping_sent.as_ref() {
                    if *ping_id == id {
                        let rtt = at.elapsed();
                        *ping_sent = None;
                        return Some(rtt);
                    }
                }
                self.answer(id, from, Ok(payload));
                None
            }
            Iq::Error {
                from, id, error, ..
            } => {
                if ping_sent.as_ref().is_some_and(|(p, _)| *p == id) {
                    // A server that does not do XEP-0199 still answered: the link is alive.
                    let rtt = ping_sent.take().map(|(_, at)| at.elapsed());
                    return rtt;
                }
                let condition = format!("{:?}", error.defined_condition);
                self.answer(id, from, Err(IqError::Error(kebab(&condition))));
                None
            }
        }
    }

    fn answer(&mut self, id: String, from: Option<Jid>, result: Result<Option<Element>, IqError>) {
        let Some(pending) = self.pending.get(&id) else {
            tracing::debug!(%id, "ignoring an answer to no request of ours");
            return;
        };
        // An answer must come from whom the request went to (or, for the server, from nobody).
        let expected = match (&pending.to, &from) {
            (Some(to), Some(from)) => to == from,
            (None, _) | (Some(_), None) => true,
        };
        if !expected {
            tracing::warn!(%id, from = ?from.map(|j| j.to_string()), "ignoring an answer from the wrong sender");
            return;
        }
        let pending = self.pending.remove(&id).expect("present");
        let _ = pending.reply.send(result);
    }
}

/// `NotAuthorized` → `not-authorized`.
fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The reconnector handed to the `StanzaStream`: it connects with backoff until it succeeds,
/// reporting every failure to the bot.
fn connector(
    settings: ConnectSettings,
    events: mpsc::UnboundedSender<SessionEvent>,
) -> impl FnMut(Option<String>, oneshot::Sender<Connection>) + Send + 'static {
    move |_location, slot| {
        let settings = settings.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                match connect_once(&settings).await {
                    Ok(connection) => {
                        let _ = slot.send(connection);
                        return;
                    }
                    Err(e) => {
                        // Retrying does not fix a refused password or a server without TLS.
                        let fatal = matches!(
                            e,
                            tokio_xmpp::Error::Auth(_)
                                | tokio_xmpp::Error::Protocol(
                                    tokio_xmpp::error::ProtocolError::NoTls
                                )
                        );
                        let error = describe(&e, &settings);
                        tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "XMPP connection failed");
                        // Nobody listening to events is no reason to stop: dropping the slot
                        // would make the stream worker panic. It closes when the stream is gone.
                        let _ = events.send(SessionEvent::ConnectFailed { error, fatal });
                        if slot.is_closed() {
                            return;
                        }
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(30));
                    }
                }
            }
        });
    }
}

fn describe(e: &tokio_xmpp::Error, s: &ConnectSettings) -> String {
    let target = match &s.server {
        Some((host, port)) => format!("{host}:{port}"),
        None => format!("{} (DNS SRV)", s.jid.domain()),
    };
    match e {
        tokio_xmpp::Error::Auth(a) => {
            format!("login as {} refused by the server: {a}", s.jid.to_bare())
        }
        tokio_xmpp::Error::Protocol(tokio_xmpp::error::ProtocolError::NoTls) => {
            format!("{target} offers no STARTTLS, and xmpp.tls = \"starttls\" requires TLS")
        }
        tokio_xmpp::Error::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<tokio_xmpp::rustls::Error>()) =>
        {
            format!("TLS with {target} failed: {io}")
        }
        tokio_xmpp::Error::Io(io) => format!("cannot reach {target}: {io}"),
        other => format!("connecting to {target}: {other}"),
    }
}

/// One connection: TCP (with TCP_NODELAY), STARTTLS if configured, SASL, stream restart.
async fn connect_once(s: &ConnectSettings) -> Result<Connection, tokio_xmpp::Error> {
    let domain = s.jid.domain().as_str().to_string();
    let dns = match &s.server {
        Some((host, port)) => match host.parse::<std::net::IpAddr>() {
            Ok(ip) => DnsConfig::Addr {
                addr: std::net::SocketAddr::new(ip, *port).to_string(),
            },
            Err(_) => DnsConfig::NoSrv {
                host: host.clone(),
                port: *port,
                resolver: None,
            },
        },
        None => DnsConfig::UseSrv {
            host: domain.clone(),
            srv: "_xmpp-client._tcp".into(),
            fallback_port: 5222,
            resolver: None,
        },
    };
    let tcp = tokio::time::timeout(Duration::from_secs(10), dns.resolve())
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "TCP connect timed out")
        })??;
    tcp.set_nodelay(true)?;
    let timeouts = Timeouts {
        read_timeout: Duration::from_secs(20),
        response_timeout: Duration::from_secs(10),
    };
    let header = || StreamHeader {
        to: Some(Cow::Owned(domain.clone())),
        from: None,
        id: None,
    };
    let io: Box<dyn AsyncReadAndWrite + Send + 'static> = match s.tls {
        TlsMode::Plain => Box::new(BufStream::new(tcp)),
        TlsMode::Starttls => {
            let stream = initiate_stream(
                BufStream::new(tcp),
                xmpp_parsers::ns::JABBER_CLIENT,
                header(),
                timeouts,
            )
            .await?;
            let (features, stream) = stream.recv_features().await?;
            if !features.can_starttls() {
                return Err(tokio_xmpp::Error::Protocol(
                    tokio_xmpp::error::ProtocolError::NoTls,
                ));
            }
            let (tls, _binding) = tokio_xmpp::connect::starttls::starttls(stream, &domain).await?;
            Box::new(BufStream::new(tls))
        }
    };
    let stream = initiate_stream(io, xmpp_parsers::ns::JABBER_CLIENT, header(), timeouts).await?;
    let (features, stream) = stream.recv_features().await?;
    let node = s.jid.node().map(|n| n.as_str()).unwrap_or_default();
    let creds = Credentials::default()
        .with_username(node)
        .with_password(s.password.clone())
        .with_channel_binding(ChannelBinding::None);
    let stream = tokio_xmpp::client_login(stream, features.sasl_mechanisms, creds).await?;
    let stream = stream.send_header(header()).await?;
    let (features, stream) = stream.recv_features().await?;
    Ok(Connection {
        stream,
        features,
        identity: Jid::from(s.jid.clone()),
    })
}
