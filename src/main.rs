//! The `helpim-bot` command line: `run`, `check-config`, `migrate`, `rooms`, `claim`,
//! `transcript`, `prune`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use helpim_bot::active::ActiveLock;
use helpim_bot::config::{Config, LogFormat};
use helpim_bot::metrics::Health;
use helpim_bot::notify::Notifier;
use helpim_bot::store::{ClaimKind, Store};
use helpim_bot::xmpp::session::PING_INTERVAL;

/// Exit status for a configuration that cannot be used (sysexits' EX_CONFIG); the systemd unit
/// does not restart on it.
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "helpim-bot",
    version,
    about = "Keeps a pool of XMPP chat rooms for a help line"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        short,
        long,
        global = true,
        env = "HELPIM_CONFIG",
        default_value = "/etc/helpim-bot/bot.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot until SIGTERM or SIGINT.
    Run,
    /// Check a configuration file: prints OK, or the key, the line and what was expected.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Create or update the database schema.
    Migrate(Db),
    /// List the rooms with their status and ages.
    Rooms {
        /// Include closed rooms.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Print a room's transcript after a position (what a reconnecting client missed).
    Transcript {
        /// The room, by id or JID.
        room: String,
        /// Print only messages with a `seq` above this.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Erase message bodies older than `transcripts.keep_days` (the running bot does it hourly).
    Prune {
        /// Keep this many days instead of the config's `transcripts.keep_days`.
        #[arg(long)]
        keep_days: Option<u32>,
        #[command(flatten)]
        db: Db,
    },
    /// List the visitors in the queue: waiting (first in line first), then assigned.
    Queue {
        #[command(flatten)]
        db: Db,
    },
    /// Block a visitor label: their requests are refused, their place in the queue is taken.
    Block {
        /// The visitor label (the web application's visitor id, or the hash of a page's key).
        visitor: String,
        /// Why (kept with the block).
        #[arg(long)]
        reason: String,
        /// For how long, e.g. "7d" or "12h"; for good without it.
        #[arg(long, value_parser = humantime_serde::re::humantime::parse_duration)]
        r#for: Option<std::time::Duration>,
        /// Who blocks (kept with the block).
        #[arg(long, default_value = "cli")]
        by: String,
        #[command(flatten)]
        db: Db,
    },
    /// Lift the blocks of a visitor label.
    Unblock {
        /// The visitor label.
        visitor: String,
        #[command(flatten)]
        db: Db,
    },
    /// Statistics for a period, per day or hour: chats, visitors who left, expired or missed
    /// their room, waiting times, chat durations, rooms closed by reason, blocks, supervision,
    /// handovers, priority, the answers before the chat, registrations (and those missing) and
    /// feedback; or, with `--by staff`, a line per staff member (counts only).
    Stats {
        /// From this time: RFC 3339, or a date (midnight UTC) [default: 30 days before --until].
        #[arg(long, value_parser = parse_time)]
        since: Option<chrono::DateTime<Utc>>,
        /// Up to (not including) this time, in the same forms [default: now].
        #[arg(long, value_parser = parse_time)]
        until: Option<chrono::DateTime<Utc>>,
        /// A row per day or per hour (UTC).
        #[arg(long, value_enum, default_value = "day")]
        per: helpim_bot::stats::Per,
        /// A line per staff member instead of per period: chats, minutes in chat,
        /// registrations missing.
        #[arg(long, value_enum)]
        by: Option<By>,
        /// One JSON document instead of a table.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV (durations in seconds) instead of a table, for spreadsheets.
        #[arg(long)]
        csv: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Claim a room as the web application does, and print its JID and password.
    Claim {
        /// For whom.
        #[arg(value_enum)]
        kind: Kind,
        /// The label stored with the claim (e.g. the web application's user id).
        #[arg(long)]
        claim: String,
        #[command(flatten)]
        db: Db,
    },
}

/// A time on the command line: RFC 3339 (`2026-11-01T08:00:00Z`) or a date (`2026-11-01`,
/// midnight UTC).
fn parse_time(text: &str) -> Result<chrono::DateTime<Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_err(|_| format!("`{text}` is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T08:00:00Z)"))
}

#[derive(clap::Args)]
struct Db {
    /// Use this database instead of the config file's `database.url`.
    #[arg(long, env = "HELPIM_DATABASE_URL")]
    database_url: Option<String>,
}

/// What `stats --by` gives a line to.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum By {
    /// A line per staff member.
    Staff,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// An `available` room for a staff member.
    Staff,
    /// A `staffed` room for a client (the staff member who waited longest).
    Client,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: OK", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Run => {
            let config = match Config::load(&cli.config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            init_logging(&config);
            finish(runtime().block_on(run(config)))
        }
        Command::Migrate(db) => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            store.migrate().await?;
            println!("database schema is up to date ({})", store.kind());
            Ok(())
        })),
        Command::Queue { db } => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            print_queue(&store).await
        })),
        Command::Block {
            visitor,
            reason,
            r#for,
            by,
            db,
        } => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            let until = r#for
                .map(|d| chrono::Duration::from_std(d).map(|d| Utc::now() + d))
                .transpose()?;
            store.block(&visitor, until, &reason, &by).await?;
            match until {
                Some(until) => println!("blocked until {}", until.format("%Y-%m-%d %H:%M:%S UTC")),
                None => println!("blocked"),
            }
            Ok(())
        })),
        Command::Stats {
            since,
            until,
            per,
            by,
            json,
            csv,
            db,
        } => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            let until = until.unwrap_or_else(Utc::now);
            let since = since.unwrap_or(until - chrono::Duration::days(30));
            anyhow::ensure!(since < until, "--since must come before --until");
            if by == Some(By::Staff) {
                let report = helpim_bot::stats::StaffReport::read(&store, since, until).await?;
                if json {
                    println!("{}", report.json());
                } else if csv {
                    print!("{}", report.csv());
                } else {
                    print!("{}", report.text());
                }
                return Ok(());
            }
            let mut report = helpim_bot::stats::Report::read(&store, since, until, per).await?;
            // Free-text feedback is no breakdown: the configuration says which questions are.
            if let Ok(config) = Config::load(&cli.config) {
                report = report.without_text(&config.questions);
            }
            if json {
                println!("{}", report.json());
            } else if csv {
                print!("{}", report.csv());
            } else {
                print!("{}", report.text());
            }
            Ok(())
        })),
        Command::Unblock { visitor, db } => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            if store.unblock(&visitor).await? {
                println!("unblocked");
            } else {
                println!("no block in force for that visitor");
            }
            Ok(())
        })),
        Command::Rooms { all, db } => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            print_rooms(&store, all).await
        })),
        Command::Transcript {
            room,
            after,
            json,
            db,
        } => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            let Some(id) = store.room_id(&room).await? else {
                anyhow::bail!("no room {room:?}");
            };
            for m in store.transcript(id, after).await? {
                if json {
                    let line = serde_json::json!({
                        "seq": m.seq,
                        "at": m.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "nick": m.nick,
                        "role": m.role,
                        "body": m.body,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{:>4}  {}  {:<6}  {}: {}",
                        m.seq,
                        m.at.format("%Y-%m-%d %H:%M:%S"),
                        m.role,
                        m.nick,
                        m.body.as_deref().unwrap_or("(erased)")
                    );
                }
            }
            Ok(())
        })),
        Command::Prune { keep_days, db } => finish(runtime().block_on(async {
            let days = match keep_days {
                Some(days) => days,
                None => {
                    Config::load(&cli.config)
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                        .transcripts
                        .keep_days
                }
            };
            let store = open_store(&cli.config, &db).await?;
            let erased = store
                .prune(Utc::now() - chrono::Duration::days(days.into()))
                .await?;
            println!("erased {erased} message bodies older than {days} days");
            Ok(())
        })),
        Command::Claim { kind, claim, db } => finish(runtime().block_on(async {
            let store = open_store(&cli.config, &db).await?;
            let kind = match kind {
                Kind::Staff => ClaimKind::Staff,
                Kind::Client => ClaimKind::Client,
            };
            match store.claim(kind, &claim).await? {
                Some(room) => {
                    println!("jid: {}\npassword: {}", room.jid, room.password);
                    Ok(())
                }
                None => anyhow::bail!(
                    "no room to claim: {}",
                    match kind {
                        ClaimKind::Staff => "no available room without a staff claim",
                        ClaimKind::Client => "no staffed room without a client claim",
                    }
                ),
            }
        })),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime")
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::new(config.log_filter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let _instance = helpim_bot::lock::lock_single_instance(&config.database.url)?;
    let health = Arc::new(Health::new(config.pool.size as usize, PING_INTERVAL));
    if !config.http.listen.is_empty() {
        let listener = helpim_bot::http::bind(&config.http.listen).await?;
        tracing::info!(listen = %config.http.listen, "serving /livez, /readyz and /metrics");
        helpim_bot::http::serve(listener, health.clone());
    }
    let store = Store::connect(&config.database.url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database (database.url): {e}"))?;
    store.migrate().await?;
    tracing::info!(database = store.kind(), jid = %config.xmpp.jid, "starting");
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let fence = match store {
        Store::Sqlite(_) => None,
        Store::Postgres(_) => {
            // A standby tells systemd it is up (and pets the watchdog) while it waits.
            let mut notifier = Notifier::from_env();
            let standing_by = || {
                health.set_standby(true);
                health.loop_turned();
                notifier.ready("standby: another instance is active");
                notifier.pet();
            };
            let lock = ActiveLock::acquire(&config.database.url, standing_by, shutdown.as_mut());
            match lock.await {
                Some(lock) => {
                    health.set_standby(false);
                    tracing::info!("this instance is active");
                    Some(lock.keep())
                }
                None => {
                    Notifier::from_env().stopping();
                    tracing::info!("stopped while standing by");
                    return Ok(());
                }
            }
        }
    };
    helpim_bot::driver::run_active(config, store.clone(), fence, health, shutdown).await?;
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
    let mut int = signal(SignalKind::interrupt()).expect("cannot listen for SIGINT");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

/// The store named by `--database-url`, or by the config file.
async fn open_store(config: &Path, db: &Db) -> anyhow::Result<Store> {
    let url = match &db.database_url {
        Some(url) => url.clone(),
        None => {
            Config::load(config)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .database
                .url
        }
    };
    let store = Store::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {url:?}: {e}"))?;
    store.migrate().await?;
    Ok(store)
}

async fn print_rooms(store: &Store, all: bool) -> anyhow::Result<()> {
    let rows = store.rooms(all).await?;
    let now = Utc::now();
    println!(
        "{:>6}  {:<48}  {:<9}  {:>8}  {:>9}  {:<16}  {:<16}  CLOSE REASON",
        "ID", "JID", "STATUS", "AGE", "IN STATUS", "STAFF", "CLIENT"
    );
    for r in &rows {
        println!(
            "{:>6}  {:<48}  {:<9}  {:>8}  {:>9}  {:<16}  {:<16}  {}",
            r.id,
            r.jid,
            r.status.as_str(),
            age(now - r.created_at),
            age(now - r.status_changed_at),
            r.staff_nick.as_deref().unwrap_or("-"),
            r.client_nick.as_deref().unwrap_or("-"),
            r.close_reason.as_deref().unwrap_or(""),
        );
    }
    println!("{} room(s)", rows.len());
    Ok(())
}

async fn print_queue(store: &Store) -> anyhow::Result<()> {
    let rows = store.open_queue().await?;
    let now = Utc::now();
    println!(
        "{:>6}  {:<8}  {:>8}  {:<20}  {:<24}  ROOM",
        "ID", "STATUS", "WAITING", "NICK", "TOPIC"
    );
    for r in &rows {
        println!(
            "{:>6}  {:<8}  {:>8}  {:<20}  {:<24}  {}",
            r.id,
            r.status,
            age(now - r.enqueued_at),
            r.nick,
            r.topic.as_deref().unwrap_or("-"),
            r.room_jid.as_deref().unwrap_or("-"),
        );
    }
    println!("{} visitor(s)", rows.len());
    Ok(())
}

/// `93784s` → `1d2h`, `125s` → `2m5s`.
fn age(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}
