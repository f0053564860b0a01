//! Configuration: the TOML file, its defaults, environment overrides and secrets from files.
//!
//! Loading is strict: an unknown key, a wrong type or a value that makes no sense is refused with
//! the file, the line, the key (`section.key`) and what was expected, before anything connects.
//! Every key can be overridden with `HELPIM_<SECTION>_<KEY>` (for example `HELPIM_POOL_SIZE=10`);
//! an unknown key in a known section is an error, other `HELPIM_*` variables are not ours.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "HELPIM_";

/// The variable that names the config file; the one `HELPIM_*` variable that is not a key.
pub const ENV_CONFIG_PATH: &str = "HELPIM_CONFIG";

/// The whole configuration, one field per section of `bot.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How the bot logs into the XMPP server.
    pub xmpp: Xmpp,
    /// The multi-user chat service and how rooms are named.
    pub muc: Muc,
    /// How many rooms are kept ready.
    pub pool: Pool,
    /// Time limits of the room life cycle.
    pub timeouts: Timeouts,
    /// Where rooms are recorded.
    pub database: Database,
    /// Whether and how long chat transcripts are kept.
    pub transcripts: Transcripts,
    /// What is kept of visitors once their chat or queue row has ended.
    pub privacy: Privacy,
    /// The waiting queue of visitors.
    pub queue: Queue,
    /// Who may use the staff commands.
    pub staff: Staff,
    /// Who may use the visitor commands.
    pub visitors: Visitors,
    /// Opening hours.
    pub hours: HoursConfig,
    /// The questions before and after the chat (SPEC §14; `[[questions.before]]`,
    /// `[[questions.registration]]`, `[[questions.feedback]]`).
    pub questions: crate::core::questions::Questions,
    /// Health and metrics endpoint.
    pub http: Http,
    /// Logging.
    pub log: Log,
}

/// How the XMPP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// STARTTLS is required; a server that does not offer it is refused.
    #[default]
    Starttls,
    /// Plain TCP without TLS; allowed only to a loopback address (local demo and tests).
    Plain,
}

/// `[xmpp]`: the bot's account and connection.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Xmpp {
    /// The bot's bare JID, e.g. `helpim-bot@example.org`.
    pub jid: String,
    /// The bot's password (prefer `password_file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A file whose content (without trailing newline) is the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The resource the bot asks for.
    pub resource: String,
    /// `host:port` to connect to instead of the DNS SRV lookup of the JID's domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `starttls` (default) or `plain` (only to a loopback address).
    pub tls: TlsMode,
    /// How long `run` waits for the first login before it gives up with an error.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long the bot waits for the answer to any request it sends.
    #[serde(with = "humantime_serde")]
    pub iq_timeout: Duration,
}

impl Default for Xmpp {
    fn default() -> Self {
        Xmpp {
            jid: String::new(),
            password: None,
            password_file: None,
            resource: "helpim-bot".into(),
            server: None,
            tls: TlsMode::Starttls,
            connect_timeout: Duration::from_secs(30),
            iq_timeout: Duration::from_secs(10),
        }
    }
}

// The password must never be printed, not even in a debug dump of the config.
impl fmt::Debug for Xmpp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xmpp")
            .field("jid", &self.jid)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("resource", &self.resource)
            .field("server", &self.server)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("iq_timeout", &self.iq_timeout)
            .finish()
    }
}

/// `[muc]`: the chat service and room naming.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Muc {
    /// The MUC service's domain, e.g. `conference.example.org`.
    pub service: String,
    /// The bot's nick inside every room.
    pub nick: String,
    /// Room names are `<room_prefix>-<random>`.
    pub room_prefix: String,
    /// How many past messages the room replays to someone who joins (room config).
    pub history: u32,
    /// The presence status text that marks a leave as deliberate (no rejoin expected).
    pub clean_exit_status: String,
}

impl Default for Muc {
    fn default() -> Self {
        Muc {
            service: String::new(),
            nick: "helpim-bot".into(),
            room_prefix: "helpim".into(),
            history: 20,
            clean_exit_status: "Clean Exit".into(),
        }
    }
}

/// `[pool]`: how many rooms are kept ready.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pool {
    /// Rooms kept `available` and unclaimed.
    pub size: u32,
    /// Upper bound of rooms that are not `closed` (ready plus in use).
    pub max_rooms: u32,
    /// Room creations in flight at once.
    pub parallel_creations: u32,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            size: 5,
            max_rooms: 100,
            parallel_creations: 4,
        }
    }
}

/// `[timeouts]`: time limits of the room life cycle (docs/room-states.md).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// A claim nobody acted on expires after this.
    #[serde(with = "humantime_serde")]
    pub claim: Duration,
    /// How long someone who dropped out of a chat may come back.
    #[serde(with = "humantime_serde")]
    pub rejoin_grace: Duration,
    /// How long a room may stay `closing` before the rest are kicked.
    #[serde(with = "humantime_serde")]
    pub closing: Duration,
    /// A `busy` room without a message for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            claim: Duration::from_secs(5 * 60),
            rejoin_grace: Duration::from_secs(2 * 60),
            closing: Duration::from_secs(10 * 60),
            idle: Duration::from_secs(30 * 60),
        }
    }
}

/// Whether a PostgreSQL database on another machine must be reached over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DbTlsMode {
    /// Off this machine, `database.url` must say `sslmode=require`, `verify-ca` or
    /// `verify-full`; a loopback host or a Unix socket may go without.
    #[default]
    Required,
    /// Plain text to any host is accepted (a network the help line trusts); said explicitly,
    /// as `xmpp.tls = "plain"` is.
    Plain,
}

/// `[database]`: where rooms are recorded.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://path.db` or `postgres://user@host/db` (TLS: `?sslmode=verify-full`).
    pub url: String,
    /// `required` (default): a PostgreSQL host that is not loopback needs TLS in the URL;
    /// `plain`: allow it without.
    pub tls: DbTlsMode,
    /// How often claims written by the web application are read.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: "sqlite://helpim-bot.db".into(),
            tls: DbTlsMode::Required,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The PostgreSQL host of `url` that would carry the bot's data in plain text to another
/// machine, with the `sslmode` that lets it: `None` for SQLite, a loopback host, a Unix socket,
/// or an `sslmode` of `require`, `verify-ca` or `verify-full`. sqlx's own parser decides, so
/// `PGSSLMODE` and `PGHOST` count as they will when it connects; `prefer` (the default) falls
/// back to plain text when the server declines, so it counts as plain.
pub fn plain_remote_database(url: &str) -> Option<(String, &'static str)> {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    use std::str::FromStr;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return None;
    }
    // A URL sqlx cannot read fails at connect, before any byte is sent.
    let options = PgConnectOptions::from_str(url).ok()?;
    let mode = match options.get_ssl_mode() {
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => return None,
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
    };
    if options.get_socket().is_some() {
        return None;
    }
    let host = options.get_host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if host.starts_with('/')
        || bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    {
        return None;
    }
    Some((host.to_string(), mode))
}

/// `[transcripts]`: chat transcripts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Transcripts {
    /// Store the messages of chats.
    pub enabled: bool,
    /// Message bodies older than this many days are erased.
    pub keep_days: u32,
}

impl Default for Transcripts {
    fn default() -> Self {
        Transcripts {
            enabled: true,
            keep_days: 90,
        }
    }
}

/// `[privacy]`: what is kept of visitors.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Keep the nick, topic and real JID of visitors after their chat or queue row has ended
    /// (default false: they are erased then, and the transcript names the visitor by role).
    pub keep_visitor_names: bool,
}

/// How waiting visitors get a staff member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Assign {
    /// The first waiting visitor gets the staffed room whose staff member has waited longest.
    #[default]
    Auto,
    /// Staff members choose from the waiting visitors.
    Pick,
}

/// `[queue]`: the waiting queue.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Queue {
    /// `auto` or `pick`.
    pub assign: Assign,
    /// At most this many visitors wait; more are told the help line is busy.
    pub max_length: u32,
    /// A visitor who waited this long gives way (`expired`).
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// A visitor queued over SQL whose `last_seen_at` is older than this has left.
    #[serde(with = "humantime_serde")]
    pub visitor_timeout: Duration,
    /// A wait is estimated from the visitors given a room within this window (at least three).
    #[serde(with = "humantime_serde")]
    pub pace_window: Duration,
    /// A visitor over XMPP whose session ended keeps their place this long: the same key asking
    /// again (a refresh, a phone bringing a tab back) gets the row back.
    #[serde(with = "humantime_serde")]
    pub return_grace: Duration,
    /// In `pick` mode, a visitor nobody took within this long is announced again, louder.
    #[serde(with = "humantime_serde")]
    pub reoffer_after: Duration,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            assign: Assign::Auto,
            max_length: 100,
            max_wait: Duration::from_secs(60 * 60),
            visitor_timeout: Duration::from_secs(60),
            pace_window: Duration::from_secs(30 * 60),
            return_grace: Duration::from_secs(60),
            reoffer_after: Duration::from_secs(120),
        }
    }
}

/// `[staff]`: the staff members' side of the bot's XMPP protocol (docs/protocol.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Staff {
    /// Bare JIDs (`ann@example.org`) or whole domains (`*@staff.example.org`) of staff members.
    pub jids: Vec<String>,
    /// Open rooms a staff member may hold at once through the "take a chat" command.
    pub max_chats: u32,
    /// Bare JIDs of supervisors (each also a staff member): they see every live chat, watch,
    /// whisper, and are alerted when someone asks for help (SPEC §13).
    pub supervisors: Vec<String>,
    /// The staff room (`staff@conference.example.org`): a members-only room the bot owns for the
    /// staff on duty; empty: none.
    pub room: String,
}

impl Default for Staff {
    fn default() -> Self {
        Staff {
            jids: Vec::new(),
            max_chats: 3,
            supervisors: Vec::new(),
            room: String::new(),
        }
    }
}

/// `[visitors]`: the visitors' side of the bot's XMPP protocol (docs/protocol.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Visitors {
    /// XMPP domains whose users may ask for a chat, typically an anonymous host.
    pub domains: Vec<String>,
    /// The language of a request that asks for none the bot has (a catalog's tag).
    pub language: String,
    /// A directory of the help line's own catalogs (`de.ftl` adds German; `nl.ftl` replaces
    /// the shipped Dutch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalogs: Option<PathBuf>,
}

impl Default for Visitors {
    fn default() -> Self {
        Visitors {
            domains: Vec::new(),
            language: "en".into(),
            catalogs: None,
        }
    }
}

/// `[hours]`: opening hours (src/hours.rs). Without a time zone and periods, the help line is
/// open whenever a staff member is on duty.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HoursConfig {
    /// The IANA time zone the periods are in, e.g. `Europe/Amsterdam`.
    pub time_zone: String,
    /// Opening periods, e.g. `["mon-fri 09:00-17:00", "sat 22:00-02:00"]`.
    pub open: Vec<String>,
    /// Dates the help line is closed, e.g. `["2026-12-25"]`.
    pub closed_dates: Vec<String>,
    /// How long before closing those waiting are told.
    #[serde(with = "humantime_serde")]
    pub closing_warning: Duration,
}

impl Default for HoursConfig {
    fn default() -> Self {
        HoursConfig {
            time_zone: String::new(),
            open: Vec::new(),
            closed_dates: Vec::new(),
            closing_warning: Duration::from_secs(10 * 60),
        }
    }
}

impl HoursConfig {
    /// The schedule, or `None` when none is configured (checked at load).
    pub fn schedule(&self) -> Option<crate::hours::Hours> {
        if self.time_zone.is_empty() && self.open.is_empty() {
            return None;
        }
        crate::hours::Hours::parse(
            &self.time_zone,
            &self.open,
            &self.closed_dates,
            self.closing_warning,
        )
        .ok()
    }
}

/// `[http]`: health and metrics endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Address to listen on; empty disables the endpoint.
    pub listen: String,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: "127.0.0.1:9180".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`: logging.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A `tracing` filter such as `info` or `helpim_bot=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// A configuration that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{origin}{}: {key}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file, or the environment variable, the bad value came from.
    pub origin: String,
    /// The 1-based line in the file, when known.
    pub line: Option<usize>,
    /// `section.key`, or the section, or `(file)` when the file itself is broken.
    pub key: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl Config {
    /// Reads, overrides from the environment, and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            line: None,
            key: "(file)".into(),
            message: format!("cannot read: {e}"),
        })?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        Config::from_parts(&path.display().to_string(), &text, &env)
    }

    /// Parses `text` (named `origin` in errors), applies `HELPIM_*` overrides from `env`, and validates.
    pub fn from_parts(
        origin: &str,
        text: &str,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        // First the file alone, so that its errors carry its line numbers.
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, key) = match e.span() {
                Some(span) => locate(text, span.start),
                None => (None, "(file)".into()),
            };
            ConfigError {
                origin: origin.into(),
                line,
                key,
                message: e.message().trim().to_string(),
            }
        })?;
        config = apply_env(config, env)?;
        config.resolve_password_file(origin, text)?;
        config.validate(origin, text)?;
        config.check_database_tls(origin, text, env)?;
        Ok(config)
    }

    /// Refuses a PostgreSQL URL that would reach another machine in plain text unless
    /// `database.tls = "plain"` says so; the error names where the URL came from (the file's
    /// line, or `HELPIM_DATABASE_URL`) and never shows the URL, which may hold a password.
    fn check_database_tls(
        &self,
        origin: &str,
        text: &str,
        env: &[(String, String)],
    ) -> Result<(), ConfigError> {
        if self.database.tls == DbTlsMode::Plain {
            return Ok(());
        }
        let Some((host, mode)) = plain_remote_database(&self.database.url) else {
            return Ok(());
        };
        let message = format!(
            "the database host {host} is not on this machine and the URL's sslmode is {mode}, \
             which sends room passwords and transcripts in plain text: add \
             ?sslmode=verify-full (and sslrootcert=FILE for a private CA) or sslmode=require, \
             or set database.tls = \"plain\" to allow an unencrypted connection"
        );
        let variable = format!("{ENV_PREFIX}DATABASE_URL");
        if env.iter().any(|(k, _)| *k == variable) {
            return Err(ConfigError {
                origin: format!("environment variable {variable}"),
                line: None,
                key: "database.url".into(),
                message,
            });
        }
        Err(key_error(origin, text, "database", "url", message))
    }

    /// The bot's password, from `password` or `password_file` (already read by `load`).
    pub fn password(&self) -> &str {
        self.xmpp.password.as_deref().unwrap_or("")
    }

    fn resolve_password_file(&mut self, origin: &str, text: &str) -> Result<(), ConfigError> {
        let Some(path) = self.xmpp.password_file.clone() else {
            return Ok(());
        };
        let content = std::fs::read_to_string(&path).map_err(|e| {
            key_error(
                origin,
                text,
                "xmpp",
                "password_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let password = content.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            return Err(key_error(
                origin,
                text,
                "xmpp",
                "password_file",
                format!("{} is empty", path.display()),
            ));
        }
        self.xmpp.password = Some(password);
        Ok(())
    }

    fn validate(&self, origin: &str, text: &str) -> Result<(), ConfigError> {
        let err = |section: &str, key: &str, message: String| {
            Err(key_error(origin, text, section, key, message))
        };
        let x = &self.xmpp;
        match x.jid.split_once('@') {
            Some((node, domain)) if !node.is_empty() && !domain.is_empty() => {
                if xmpp_parsers::jid::BareJid::new(&x.jid).is_err() {
                    return err("xmpp", "jid", format!("{:?} is not a valid JID", x.jid));
                }
            }
            _ => {
                return err(
                    "xmpp",
                    "jid",
                    "expected the bot's JID as user@domain, e.g. \"helpim-bot@example.org\"".into(),
                )
            }
        }
        if x.password.as_deref().unwrap_or("").is_empty() {
            return err(
                "xmpp",
                "password",
                "expected `password` or `password_file` in [xmpp]".into(),
            );
        }
        if x.resource.is_empty() {
            return err("xmpp", "resource", "expected a non-empty resource".into());
        }
        if let Some(server) = &x.server {
            if split_host_port(server).is_none() {
                return err(
                    "xmpp",
                    "server",
                    format!("expected host:port, e.g. \"xmpp.example.org:5222\", got {server:?}"),
                );
            }
        }
        if x.tls == TlsMode::Plain && !self.server_is_loopback() {
            return err(
                "xmpp",
                "tls",
                "\"plain\" is allowed only with `server` set to a loopback address (127.0.0.1, ::1 or localhost); use \"starttls\"".into(),
            );
        }
        for (key, value) in [
            ("connect_timeout", x.connect_timeout),
            ("iq_timeout", x.iq_timeout),
        ] {
            if value.is_zero() {
                return err(
                    "xmpp",
                    key,
                    "expected a duration above zero, e.g. \"10s\"".into(),
                );
            }
        }
        let m = &self.muc;
        if m.service.is_empty() || xmpp_parsers::jid::BareJid::new(&m.service).is_err() {
            return err(
                "muc",
                "service",
                "expected the MUC service's domain, e.g. \"conference.example.org\"".into(),
            );
        }
        if m.nick.trim().is_empty() {
            return err("muc", "nick", "expected a non-empty nick".into());
        }
        if m.room_prefix.is_empty()
            || m.room_prefix.len() > 32
            || !m
                .room_prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return err(
                "muc",
                "room_prefix",
                "expected 1 to 32 characters of a-z, 0-9 and '-'".into(),
            );
        }
        let p = &self.pool;
        if p.max_rooms == 0 {
            return err("pool", "max_rooms", "expected at least 1".into());
        }
        if p.size > p.max_rooms {
            return err(
                "pool",
                "size",
                format!(
                    "expected at most pool.max_rooms ({}), got {}",
                    p.max_rooms, p.size
                ),
            );
        }
        if p.parallel_creations == 0 {
            return err("pool", "parallel_creations", "expected at least 1".into());
        }
        let t = &self.timeouts;
        for (key, value) in [
            ("claim", t.claim),
            ("rejoin_grace", t.rejoin_grace),
            ("closing", t.closing),
            ("idle", t.idle),
        ] {
            if value.is_zero() {
                return err(
                    "timeouts",
                    key,
                    "expected a duration above zero, e.g. \"5m\"".into(),
                );
            }
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return err(
                "database",
                "url",
                "expected sqlite://FILE or postgres://USER@HOST/DB".into(),
            );
        }
        if self.database.poll_interval.is_zero() {
            return err(
                "database",
                "poll_interval",
                "expected a duration above zero".into(),
            );
        }
        if self.transcripts.keep_days == 0 {
            return err("transcripts", "keep_days", "expected at least 1".into());
        }
        let q = &self.queue;
        if q.max_length == 0 {
            return err("queue", "max_length", "expected at least 1".into());
        }
        for (key, value) in [
            ("max_wait", q.max_wait),
            ("visitor_timeout", q.visitor_timeout),
            ("pace_window", q.pace_window),
            ("return_grace", q.return_grace),
            ("reoffer_after", q.reoffer_after),
        ] {
            if value.is_zero() {
                return err(
                    "queue",
                    key,
                    "expected a duration above zero, e.g. \"1m\"".into(),
                );
            }
        }
        if self.staff.max_chats == 0 {
            return err("staff", "max_chats", "expected at least 1".into());
        }
        for pattern in &self.staff.jids {
            let bare = pattern
                .strip_prefix("*@")
                .map_or(pattern.clone(), |d| format!("x@{d}"));
            if xmpp_parsers::jid::BareJid::new(&bare).map_or(true, |j| j.node().is_none()) {
                return err(
                    "staff",
                    "jids",
                    format!("{pattern:?} is not a bare JID such as \"ann@example.org\" or a domain such as \"*@example.org\""),
                );
            }
        }
        let staff = crate::core::settings::Staff {
            jids: self.staff.jids.clone(),
            ..Default::default()
        };
        for supervisor in &self.staff.supervisors {
            let bare = xmpp_parsers::jid::BareJid::new(supervisor);
            if bare.as_ref().map_or(true, |j| j.node().is_none()) {
                return err(
                    "staff",
                    "supervisors",
                    format!("{supervisor:?} is not a bare JID such as \"ann@example.org\""),
                );
            }
            if !staff.allows(supervisor) {
                return err(
                    "staff",
                    "supervisors",
                    format!("{supervisor:?} is not a staff member: add it to staff.jids too"),
                );
            }
        }
        if !self.staff.room.is_empty() {
            let room = xmpp_parsers::jid::BareJid::new(&self.staff.room);
            if room.as_ref().map_or(true, |j| j.node().is_none()) {
                return err(
                    "staff",
                    "room",
                    format!(
                        "{:?} is not a room JID such as \"staff@conference.example.org\"",
                        self.staff.room
                    ),
                );
            }
        }
        for domain in &self.visitors.domains {
            if domain.is_empty() || domain.contains('@') || domain.contains('/') {
                return err(
                    "visitors",
                    "domains",
                    format!("{domain:?} is not a domain such as \"anon.example.org\""),
                );
            }
        }
        // Anyone can make an account on a visitors' domain (an anonymous or open-registration
        // host): a wildcard on it would make anyone staff. Supervisors are bare JIDs only.
        if let Some(pattern) = self.staff.jids.iter().find(|p| {
            p.strip_prefix("*@").is_some_and(|d| {
                self.visitors
                    .domains
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case(d))
            })
        }) {
            return err(
                "staff",
                "jids",
                format!(
                    "{pattern:?} makes everyone on a visitors' domain (visitors.domains) staff: \
                     anyone can make an account there; list the staff members' JIDs instead"
                ),
            );
        }
        if let Err(e) = self.catalogs() {
            return Err(match e.file.as_str() {
                "visitors.language" => key_error(origin, text, "visitors", "language", e.message),
                _ => ConfigError {
                    origin: e.file,
                    line: e.line,
                    key: e.key,
                    message: e.message,
                },
            });
        }
        let catalogs = self.catalogs().expect("checked above");
        if let Err((list, message)) = self.questions.validate(&catalogs.tags()) {
            // The line of the question named, else of the list's first table.
            let index = match &list[..] {
                "before" => &self.questions.before,
                "registration" => &self.questions.registration,
                _ => &self.questions.feedback,
            }
            .iter()
            .position(|q| {
                message.starts_with(&format!("{}:", q.var))
                    || message.contains(&format!("{:?}", q.var))
            });
            return Err(ConfigError {
                origin: origin.into(),
                line: line_of_table(text, &format!("questions.{list}"), index.unwrap_or(0)),
                key: format!("questions.{list}"),
                message,
            });
        }
        let h = &self.hours;
        if !h.time_zone.is_empty() || !h.open.is_empty() || !h.closed_dates.is_empty() {
            let check = |open: &[String], closed: &[String]| {
                crate::hours::Hours::parse(&h.time_zone, open, closed, h.closing_warning)
            };
            if let Err(e) = check(&[], &[]) {
                return err(
                    "hours",
                    "time_zone",
                    format!("{e}; it is needed with hours.open"),
                );
            }
            if h.open.is_empty() {
                return err(
                    "hours",
                    "open",
                    "expected at least one period such as \"mon-fri 09:00-17:00\" (or no [hours] at all: open whenever staff are on duty)".into(),
                );
            }
            for line in &h.open {
                if let Err(e) = check(std::slice::from_ref(line), &[]) {
                    return err("hours", "open", e);
                }
            }
            if let Err(e) = check(&[], &h.closed_dates) {
                return err("hours", "closed_dates", e);
            }
        }
        if !self.http.listen.is_empty() && self.http.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return err(
                "http",
                "listen",
                "expected ip:port such as \"127.0.0.1:9180\", or \"\" to disable".into(),
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return err(
                "log",
                "level",
                "expected a level (error, warn, info, debug, trace) or a tracing filter".into(),
            );
        }
        Ok(())
    }

    /// The visitors' catalogs: those shipped and those of `visitors.catalogs`, with
    /// `visitors.language` the default.
    pub fn catalogs(&self) -> Result<crate::i18n::Catalogs, crate::i18n::CatalogError> {
        crate::i18n::Catalogs::load(self.visitors.catalogs.as_deref(), &self.visitors.language)
    }

    /// True when `xmpp.server` names a loopback address.
    pub fn server_is_loopback(&self) -> bool {
        let Some((host, _)) = self.xmpp.server.as_deref().and_then(split_host_port) else {
            return false;
        };
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The `tracing` filter for `log.level`, with the XMPP libraries capped at `info`: at
    /// `debug` and `trace` they log raw stanzas, and those carry room passwords.
    pub fn log_filter(&self) -> String {
        const XMPP_LIBRARIES: [&str; 4] = ["tokio_xmpp", "xmpp_parsers", "xso", "minidom"];
        let mut directives: Vec<String> = self
            .log
            .level
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .filter(|d| !XMPP_LIBRARIES.iter().any(|lib| d.starts_with(lib)))
            .map(str::to_string)
            .collect();
        directives.extend(XMPP_LIBRARIES.iter().map(|lib| format!("{lib}=info")));
        directives.join(",")
    }

    /// The full JID the bot logs in with (`jid/resource`).
    pub fn full_jid(&self) -> String {
        format!("{}/{}", self.xmpp.jid, self.xmpp.resource)
    }
}

/// Splits `host:port` (also `[::1]:port`) into its parts.
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return None;
    }
    Some((host.to_string(), port))
}

fn key_error(origin: &str, text: &str, section: &str, key: &str, message: String) -> ConfigError {
    ConfigError {
        origin: origin.into(),
        line: line_of_key(text, section, key),
        key: format!("{section}.{key}"),
        message,
    }
}

/// The line of the `n`th (from 0) `[[name]]` table of a TOML text.
fn line_of_table(text: &str, name: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            line.trim().starts_with("[[") && section_header(line).as_deref() == Some(name)
        })
        .nth(n)
        .map(|(i, _)| i + 1)
}

/// The line and `section.key` at byte `offset` of a TOML text.
fn locate(text: &str, offset: usize) -> (Option<usize>, String) {
    let offset = offset.min(text.len());
    let line_no = text[..offset].matches('\n').count() + 1;
    let mut section = String::new();
    for line in text.lines().take(line_no - 1) {
        if let Some(name) = section_header(line) {
            section = name;
        }
    }
    let this = text.lines().nth(line_no - 1).unwrap_or("");
    let key = match (section_header(this), this.split_once('=')) {
        (Some(name), _) => name,
        (None, Some((k, _))) if !section.is_empty() => {
            format!("{section}.{}", k.trim().trim_matches('"'))
        }
        (None, Some((k, _))) => k.trim().trim_matches('"').to_string(),
        (None, None) if !section.is_empty() => section,
        (None, None) => "(file)".into(),
    };
    (Some(line_no), key)
}

/// The 1-based line where `key` is set inside `[section]`, or the section header's line.
fn line_of_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    let mut header_line = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = section_header(line) {
            current = name;
            if current == section {
                header_line = Some(i + 1);
            }
            continue;
        }
        if current == section {
            if let Some((k, _)) = line.split_once('=') {
                if k.trim().trim_matches('"') == key {
                    return Some(i + 1);
                }
            }
        }
    }
    header_line
}

fn section_header(line: &str) -> Option<String> {
    let t = line.trim();
    // `[section]`, or `[[section]]`: one table of an array (a question).
    let t = t.strip_prefix('[')?;
    let inner = t.strip_prefix('[').unwrap_or(t).split(']').next()?;
    Some(inner.trim().to_string())
}

/// Applies `HELPIM_<SECTION>_<KEY>` variables on top of the parsed file.
fn apply_env(config: Config, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let overrides: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k != ENV_CONFIG_PATH)
        .collect();
    if overrides.is_empty() {
        return Ok(config);
    }
    let mut table = toml::Table::try_from(&config).expect("config serialises to TOML");
    let defaults = toml::Table::try_from(Config::default()).expect("defaults serialise");
    for (name, raw) in overrides {
        let env_err = |message: String| ConfigError {
            origin: format!("environment variable {name}"),
            line: None,
            key: name[ENV_PREFIX.len()..]
                .to_lowercase()
                .replacen('_', ".", 1),
            message,
        };
        let rest = name[ENV_PREFIX.len()..].to_lowercase();
        let Some((section, key)) = rest.split_once('_') else {
            return Err(env_err(
                "expected HELPIM_<SECTION>_<KEY>, e.g. HELPIM_POOL_SIZE".into(),
            ));
        };
        let Some(toml::Value::Table(section_defaults)) = defaults.get(section) else {
            // Not a config section (e.g. a variable of the test scripts): not ours.
            continue;
        };
        // The default's type says how to read the text; keys without a default are strings.
        let value = match section_defaults.get(key) {
            Some(toml::Value::Integer(_)) => raw
                .trim()
                .parse::<i64>()
                .map(toml::Value::Integer)
                .map_err(|_| env_err(format!("expected an integer, got {raw:?}")))?,
            Some(toml::Value::Boolean(_)) => match raw.trim() {
                "true" | "1" | "yes" => toml::Value::Boolean(true),
                "false" | "0" | "no" => toml::Value::Boolean(false),
                _ => return Err(env_err(format!("expected true or false, got {raw:?}"))),
            },
            _ => toml::Value::String(raw.clone()),
        };
        let section_table = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = section_table {
            t.insert(key.to_string(), value);
        }
        // Check each variable on its own so the error names the one that is wrong.
        Config::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| env_err(e.message().trim().to_string()))?;
    }
    Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError {
        origin: "environment".into(),
        line: None,
        key: "(environment)".into(),
        message: e.message().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[xmpp]
jid = "bot@localhost"
password = "secret"
server = "127.0.0.1:5222"
tls = "plain"

[muc]
service = "conference.localhost"

[pool]
size = 3
max_rooms = 10
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_parts("bot.toml", text, &[])
    }

    #[test]
    fn the_visitors_languages_are_checked_at_start_with_the_file_line_and_key() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.visitors.language, "en");
        assert_eq!(c.catalogs().unwrap().tags(), ["en", "nl", "ar"]);
        // A default language without a catalog names visitors.language and its line.
        let e = parse(&format!("{GOOD}\n[visitors]\nlanguage = \"fr\"\n")).unwrap_err();
        assert_eq!(e.key, "visitors.language");
        assert_eq!(e.line, Some(GOOD.lines().count() + 3));
        assert!(e.message.contains("\"fr\""), "{e}");
        // A help line's catalog that does not parse names its file, line and key.
        let dir = tempfile::tempdir().unwrap();
        let english = crate::i18n::SHIPPED[0].2;
        std::fs::write(
            dir.path().join("de.ftl"),
            english.replace("left = You left the queue.", "left = Du { hast"),
        )
        .unwrap();
        let with_dir = format!(
            "{GOOD}\n[visitors]\nlanguage = \"de\"\ncatalogs = {:?}\n",
            dir.path().display().to_string()
        );
        let e = parse(&with_dir).unwrap_err();
        let file = dir.path().join("de.ftl").display().to_string();
        let line = english
            .lines()
            .position(|l| l.starts_with("left ="))
            .unwrap()
            + 1;
        assert_eq!(
            (e.origin.as_str(), e.line, e.key.as_str()),
            (file.as_str(), Some(line), "left")
        );
        assert!(
            e.to_string()
                .starts_with(&format!("{file} line {line}: left: does not parse")),
            "{e}"
        );
        // Mended, it adds German and is the default.
        std::fs::write(
            dir.path().join("de.ftl"),
            english.replace(
                "You left the queue.",
                "Du hast die Warteschlange verlassen.",
            ),
        )
        .unwrap();
        let c = parse(&with_dir).unwrap();
        assert_eq!(c.catalogs().unwrap().tags(), ["en", "nl", "ar", "de"]);
    }

    #[test]
    fn good_file_parses_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.pool.size, 3);
        assert_eq!(c.timeouts.claim, Duration::from_secs(300));
        assert_eq!(c.muc.clean_exit_status, "Clean Exit");
        assert_eq!(c.database.url, "sqlite://helpim-bot.db");
        assert_eq!(c.password(), "secret");
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let text = GOOD.replace("size = 3", "size = \"three\"");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, "pool.size");
        assert_eq!(e.line, Some(12));
        let shown = e.to_string();
        assert!(
            shown.starts_with("bot.toml line 12: pool.size: invalid type"),
            "{shown}"
        );
    }

    #[test]
    fn supervisors_must_be_staff_and_the_staff_room_a_room_jid() {
        let ok = "\n[staff]\njids = [\"*@localhost\"]\nsupervisors = [\"sup@localhost\"]\nroom = \"staff@conference.localhost\"\n";
        let c = parse(&format!("{GOOD}{ok}")).unwrap();
        assert_eq!(c.staff.supervisors, ["sup@localhost"]);
        assert_eq!(c.queue.reoffer_after, Duration::from_secs(120));
        let text = format!(
            "{GOOD}\n[staff]\njids = [\"ann@localhost\"]\nsupervisors = [\"sup@localhost\"]\n"
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("staff.supervisors", Some(text.lines().count()))
        );
        assert!(e.message.contains("staff.jids"), "{e}");
        let text = format!("{GOOD}\n[staff]\nroom = \"conference.localhost\"\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("staff.room", Some(text.lines().count()))
        );
    }

    #[test]
    fn a_staff_wildcard_on_a_visitors_domain_is_refused_with_its_key_and_line() {
        // The wildcard on the anonymous domain, in any case: refused, naming staff.jids's line.
        for wildcard in ["*@anon.localhost", "*@Anon.Localhost"] {
            let text = format!(
                "{GOOD}\n[staff]\njids = [\"ann@localhost\", \"{wildcard}\"]\nmax_chats = 2\n\n[visitors]\ndomains = [\"anon.localhost\"]\n"
            );
            let e = parse(&text).unwrap_err();
            assert_eq!(
                (e.key.as_str(), e.line),
                ("staff.jids", Some(GOOD.lines().count() + 3)),
                "{e}"
            );
            assert!(
                e.message.contains(wildcard) && e.message.contains("visitors.domains"),
                "{e}"
            );
            assert!(
                e.to_string().starts_with(&format!(
                    "bot.toml line {}: staff.jids:",
                    GOOD.lines().count() + 3
                )),
                "{e}"
            );
        }
        // A wildcard on the staff's own domain, or one person of the visitors' domain: accepted.
        let text = format!(
            "{GOOD}\n[staff]\njids = [\"*@localhost\", \"kim@anon.localhost\"]\n\n[visitors]\ndomains = [\"anon.localhost\"]\n"
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.staff.jids, ["*@localhost", "kim@anon.localhost"]);
    }

    #[test]
    fn questions_before_and_after_the_chat_are_read_and_one_that_cannot_work_is_named_with_its_line(
    ) {
        let questions = r#"
[[questions.before]]
var = "safe"
type = "yes-no"
required = true
label = { en = "Are you safe right now?", nl = "Ben je nu veilig?", ar = "هل أنت بأمان الآن؟" }
priority = "no"
statistics = true

[[questions.before]]
var = "age"
type = "choice"
label = "Age"
options = [{ value = "under-18", label = "Under 18" }, { value = "adult", label = "18 or older" }]
statistics = true

[[questions.registration]]
var = "category"
type = "choice"
required = true
label = "Category"
options = [{ value = "school", label = "School" }, { value = "home", label = "Home" }]

[[questions.registration]]
var = "note"
type = "text"
label = "Note"

[[questions.feedback]]
var = "helped"
type = "yes-no"
label = { en = "Did this chat help you?", nl = "Heeft dit gesprek je geholpen?", ar = "هل ساعدتك هذه المحادثة؟" }
"#;
        let c = parse(&format!("{GOOD}{questions}")).unwrap();
        assert_eq!(c.questions.before.len(), 2);
        assert_eq!(c.questions.before[0].priority.as_deref(), Some("no"));
        assert_eq!(
            c.questions.registration[1].kind,
            crate::core::questions::Kind::Text
        );
        assert_eq!(c.questions.feedback.len(), 1);
        // A priority that is not one of the answers: the list, the question and its line.
        let text = format!(
            "{GOOD}{}",
            questions.replace("priority = \"no\"", "priority = \"maybe\"")
        );
        let e = parse(&text).unwrap_err();
        let line = text
            .lines()
            .position(|l| l == "[[questions.before]]")
            .unwrap()
            + 1;
        assert_eq!((e.key.as_str(), e.line), ("questions.before", Some(line)));
        assert!(
            e.message.contains("safe") && e.message.contains("priority"),
            "{e}"
        );
        // A visitor's question without words in one of the help line's languages.
        let text = format!(
            "{GOOD}{}",
            questions.replace(", nl = \"Heeft dit gesprek je geholpen?\"", "")
        );
        let e = parse(&text).unwrap_err();
        let line = text
            .lines()
            .position(|l| l == "[[questions.feedback]]")
            .unwrap()
            + 1;
        assert_eq!((e.key.as_str(), e.line), ("questions.feedback", Some(line)));
        assert!(e.message.contains("\"nl\""), "{e}");
        // The second registration question, by its line.
        let text = format!(
            "{GOOD}{}",
            questions.replace(
                "var = \"note\"\ntype = \"text\"",
                "var = \"note\"\ntype = \"text\"\nstatistics = true"
            )
        );
        let e = parse(&text).unwrap_err();
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| *l == "[[questions.registration]]")
            .nth(1)
            .unwrap()
            .0
            + 1;
        assert_eq!(
            (e.key.as_str(), e.line),
            ("questions.registration", Some(line))
        );
        // An unknown kind of question names its key.
        let e = parse(&format!(
            "{GOOD}{}",
            questions.replace("type = \"text\"", "type = \"essay\"")
        ))
        .unwrap_err();
        assert!(e.key.starts_with("questions.registration"), "{e}");
    }

    #[test]
    fn privacy_erases_visitor_names_unless_told_to_keep_them() {
        assert!(!parse(GOOD).unwrap().privacy.keep_visitor_names);
        let keep = parse(&format!("{GOOD}\n[privacy]\nkeep_visitor_names = true\n")).unwrap();
        assert!(keep.privacy.keep_visitor_names);
        let text = format!("{GOOD}\n[privacy]\nkeep_visitor_names = \"yes\"\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, "privacy.keep_visitor_names");
        assert_eq!(e.line, Some(text.lines().count()));
        let e = parse(&format!("{GOOD}\n[privacy]\nkeep_names = true\n")).unwrap_err();
        assert_eq!(e.key, "privacy.keep_names");
    }

    #[test]
    fn unknown_key_is_refused() {
        let text = GOOD.replace("max_rooms = 10", "max_room = 10");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, "pool.max_room");
        assert_eq!(e.line, Some(13));
        assert!(e.message.contains("unknown field"), "{}", e.message);
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let e = parse(&GOOD.replace("size = 3", "size = 30")).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("pool.size", Some(12)));
        let e = parse(&GOOD.replace("bot@localhost", "localhost")).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("xmpp.jid", Some(3)));
        let e = parse(&GOOD.replace("127.0.0.1:5222", "xmpp.example.org:5222")).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("xmpp.tls", Some(6)));
        let e = parse(&GOOD.replace("password = \"secret\"", "")).unwrap_err();
        assert_eq!(e.key, "xmpp.password");
    }

    #[test]
    fn opening_hours_are_checked_line_by_line() {
        let hours = |open: &str, zone: &str| {
            format!("{GOOD}\n[hours]\ntime_zone = \"{zone}\"\nopen = [{open}]\n")
        };
        let c = parse(&hours(
            "\"mon-fri 09:00-17:00\", \"sat 22:00-02:00\"",
            "Europe/Amsterdam",
        ))
        .unwrap();
        assert!(c.hours.schedule().is_some());
        let e = parse(&hours("\"mon-fri 9 to 5\"", "Europe/Amsterdam")).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("hours.open", Some(17)));
        assert!(e.message.contains("9 to 5"), "{}", e.message);
        let e = parse(&hours("\"mon 09:00-17:00\"", "Amsterdam")).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("hours.time_zone", Some(16)));
        assert!(parse(GOOD).unwrap().hours.schedule().is_none());
    }

    #[test]
    fn bad_duration_is_refused() {
        let text = format!("{GOOD}\n[timeouts]\nclaim = \"soon\"\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, "timeouts.claim");
        assert_eq!(e.line, Some(16));
    }

    #[test]
    fn syntax_error_has_line() {
        let e = parse("[xmpp\njid = 1").unwrap_err();
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn environment_overrides_keys() {
        let env = vec![
            ("HELPIM_POOL_SIZE".to_string(), "7".to_string()),
            ("HELPIM_XMPP_PASSWORD".to_string(), "12345".to_string()),
            ("HELPIM_TIMEOUTS_IDLE".to_string(), "90s".to_string()),
            ("HELPIM_CONFIG".to_string(), "/etc/x.toml".to_string()),
        ];
        let c = Config::from_parts("bot.toml", GOOD, &env).unwrap();
        assert_eq!(c.pool.size, 7);
        assert_eq!(c.password(), "12345");
        assert_eq!(c.timeouts.idle, Duration::from_secs(90));
    }

    #[test]
    fn bad_environment_override_names_variable() {
        let env = vec![("HELPIM_POOL_SIZE".to_string(), "many".to_string())];
        let e = Config::from_parts("bot.toml", GOOD, &env).unwrap_err();
        assert_eq!(e.origin, "environment variable HELPIM_POOL_SIZE");
        let env = vec![("HELPIM_POOL_SIZES".to_string(), "1".to_string())];
        let e = Config::from_parts("bot.toml", GOOD, &env).unwrap_err();
        assert!(e.message.contains("unknown field"), "{}", e.message);
        // Variables outside the config's sections are someone else's.
        let env = vec![("HELPIM_TEST_PG".to_string(), "throwaway".to_string())];
        assert!(Config::from_parts("bot.toml", GOOD, &env).is_ok());
    }

    #[test]
    fn password_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let text = GOOD.replace(
            "password = \"secret\"",
            &format!("password_file = {:?}", file.display().to_string()),
        );
        assert_eq!(parse(&text).unwrap().password(), "from-file");
        let text = GOOD.replace(
            "password = \"secret\"",
            "password_file = \"/nonexistent/pw\"",
        );
        let e = parse(&text).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("xmpp.password_file", Some(4)));
    }

    #[test]
    fn xmpp_libraries_never_log_below_info() {
        let mut c = parse(GOOD).unwrap();
        c.log.level = "trace,tokio_xmpp=trace, helpim_bot=debug".into();
        let f = c.log_filter();
        assert_eq!(
            f,
            "trace,helpim_bot=debug,tokio_xmpp=info,xmpp_parsers=info,xso=info,minidom=info"
        );
        assert!(tracing_subscriber::EnvFilter::try_new(&f).is_ok());
    }

    #[test]
    fn a_remote_database_in_plain_text_is_refused_with_the_key_and_its_line() {
        let with = |url: &str, extra: &str| format!("{GOOD}\n[database]\nurl = \"{url}\"\n{extra}");
        // The default sslmode (prefer) falls back to plain text, so it counts as plain.
        for url in [
            "postgres://helpim:hunter2@db.example.org/helpline",
            "postgresql://helpim:hunter2@10.0.0.7:5432/helpline?sslmode=prefer",
            "postgres://helpim:hunter2@db.example.org/helpline?sslmode=disable",
            "postgres://helpim:hunter2@[2001:db8::7]/helpline?sslmode=allow",
            "postgres://helpim:hunter2@localhost/helpline?host=db.example.org",
        ] {
            let text = with(url, "");
            let e = parse(&text).unwrap_err();
            assert_eq!(
                (e.origin.as_str(), e.key.as_str(), e.line),
                ("bot.toml", "database.url", Some(text.lines().count())),
                "{url}: {e}"
            );
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!(
                    "bot.toml line {}: database.url:",
                    text.lines().count()
                )),
                "{shown}"
            );
            assert!(shown.contains("database.tls = \"plain\""), "{shown}");
            assert!(shown.contains("sslmode"), "{shown}");
            // The URL may hold the database password: the error shows the host only.
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        // From the environment, the error names the variable.
        let env = vec![(
            "HELPIM_DATABASE_URL".to_string(),
            "postgres://helpim@db.example.org/helpline".to_string(),
        )];
        let e = Config::from_parts("bot.toml", GOOD, &env).unwrap_err();
        assert_eq!(
            (e.origin.as_str(), e.key.as_str(), e.line),
            (
                "environment variable HELPIM_DATABASE_URL",
                "database.url",
                None
            )
        );
        // A value that is neither mode is refused as any other.
        let text = with("sqlite://x.db", "tls = \"none\"\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.line),
            ("database.tls", Some(text.lines().count()))
        );
    }

    #[test]
    fn a_remote_database_over_tls_a_local_one_and_an_explicit_plain_are_accepted() {
        let with = |url: &str, extra: &str| format!("{GOOD}\n[database]\nurl = \"{url}\"\n{extra}");
        for url in [
            "postgres://helpim@db.example.org/helpline?sslmode=require",
            "postgres://helpim@db.example.org/helpline?sslmode=verify-ca&sslrootcert=/etc/ssl/ca.pem",
            "postgresql://helpim@10.0.0.7/helpline?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem",
        ] {
            let c = parse(&with(url, "")).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(c.database.tls, DbTlsMode::Required);
        }
        // On this machine (loopback, a Unix socket) plain text stays on the machine.
        for url in [
            "postgres://helpim@localhost/helpline",
            "postgres://helpim@127.0.0.1:5433/helpline",
            "postgres://helpim@127.8.9.10/helpline?sslmode=disable",
            "postgres://helpim@[::1]/helpline",
            "postgres:///helpline?host=/var/run/postgresql",
            "postgres://%2Fvar%2Frun%2Fpostgresql/helpline",
        ] {
            parse(&with(url, "")).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        // Said explicitly, plain text to another machine is accepted (file or environment).
        let c = parse(&with(
            "postgres://helpim@db.example.org/helpline",
            "tls = \"plain\"\n",
        ))
        .unwrap();
        assert_eq!(c.database.tls, DbTlsMode::Plain);
        let env = vec![
            (
                "HELPIM_DATABASE_URL".to_string(),
                "postgres://helpim@db.example.org/helpline".to_string(),
            ),
            ("HELPIM_DATABASE_TLS".to_string(), "plain".to_string()),
        ];
        assert!(Config::from_parts("bot.toml", GOOD, &env).is_ok());
        // SQLite has no network: neither mode changes anything.
        assert_eq!(parse(GOOD).unwrap().database.tls, DbTlsMode::Required);
        parse(&with("sqlite:///var/lib/helpim-bot/bot.db", "")).unwrap();
        parse(&with(
            "sqlite:///var/lib/helpim-bot/bot.db",
            "tls = \"plain\"\n",
        ))
        .unwrap();
        assert_eq!(plain_remote_database("sqlite://db.example.org.db"), None);
    }

    #[test]
    fn debug_output_hides_password() {
        let c = parse(GOOD).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
