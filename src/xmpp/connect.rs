//! Making one XMPP connection: TCP with `TCP_NODELAY` (without it every request/response costs
//! ~44 ms on loopback: Nagle and delayed ACKs), STARTTLS or plain TCP, then SASL; and the
//! reconnector that the stream calls whenever it needs a new connection. Failures are reported
//! to an [`OnFailure`] callback, because tokio-xmpp only logs them.

use std::borrow::Cow;
use std::time::Duration;

use sasl::common::{ChannelBinding, Credentials};
use tokio::io::BufStream;
use tokio::sync::oneshot;
use tokio_xmpp::connect::{AsyncReadAndWrite, DnsConfig};
use tokio_xmpp::stanzastream::Connection;
use tokio_xmpp::xmlstream::{initiate_stream, StreamHeader, Timeouts};
use xmpp_parsers::jid::{FullJid, Jid};

use crate::config::{Config, TlsMode};

/// How often the bot pings the server when it runs (XEP-0199).
pub const PING_INTERVAL: Duration = Duration::from_secs(20);

/// Told about every failed connection attempt: what went wrong, and whether retrying is
/// pointless (a refused password, a server without TLS when TLS is required).
pub type OnFailure = std::sync::Arc<dyn Fn(String, bool) + Send + Sync>;

/// Asked before every login: completes with true when the bot may log in now, with false when it
/// must never log in again (another instance is active). High availability's fence: an instance
/// logs in only after proving it holds the active lock.
pub type LoginGate = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + Sync,
>;

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

/// The reconnector handed to the `StanzaStream`: it connects with backoff until it succeeds,
/// reporting every failure to the bot. With a `gate`, every attempt waits for its leave first.
pub(super) fn connector(
    settings: ConnectSettings,
    on_failure: OnFailure,
    gate: Option<LoginGate>,
) -> impl FnMut(Option<String>, oneshot::Sender<Connection>) + Send + 'static {
    move |_location, mut slot| {
        let settings = settings.clone();
        let on_failure = on_failure.clone();
        let gate = gate.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                if let Some(gate) = &gate {
                    tokio::select! {
                        allowed = gate() => if !allowed {
                            tracing::warn!("XMPP login withheld for good: another instance holds the active lock");
                            // Dropping the slot would make the stream worker panic; it closes
                            // when the stream is gone.
                            slot.closed().await;
                            return;
                        },
                        _ = slot.closed() => return,
                    }
                }
                tracing::info!("logging into XMPP");
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
                        // Nobody listening is no reason to stop: dropping the slot would make
                        // the stream worker panic. It closes when the stream is gone.
                        on_failure(error, fatal);
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
            tracing::info!(server = %domain, "TLS established (STARTTLS)");
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
    let mut mechanisms = features.sasl_mechanisms;
    if s.jid.node().is_none() {
        // A JID without a local part (`anon.example.org/web`) logs in anonymously; a server
        // that also offers PLAIN there would otherwise be tried with an empty name first.
        mechanisms.retain(|m| m == "ANONYMOUS");
    }
    let stream = tokio_xmpp::client_login(stream, mechanisms, creds).await?;
    let stream = stream.send_header(header()).await?;
    let (features, stream) = stream.recv_features().await?;
    Ok(Connection {
        stream,
        features,
        identity: Jid::from(s.jid.clone()),
    })
}
