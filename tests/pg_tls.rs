//! PostgreSQL over TLS (SPEC §15): the bot binary against a cluster of the test's own that
//! accepts TLS only (`hostssl`), with a certificate from a test CA made at test time. Verified
//! TLS works end to end and every connection of the bot is encrypted; a wrong CA and a plain
//! connection are refused and the bot writes nothing; a non-loopback URL without TLS is refused
//! by `check-config` and `run` unless `database.tls = "plain"` says so.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use helpim_bot::store::Store;
use support::pg_tls::PgTlsCluster;
use support::*;

/// The exit status of `helpim-bot run` for configuration errors (EX_CONFIG).
const EXIT_CONFIG: i32 = 78;

/// Runs `helpim-bot --config CONFIG run` until it exits by itself (failing after `limit`):
/// its exit code and everything it printed.
fn run_until_exit(config: &Path, limit: Duration) -> (Option<i32>, String) {
    let log = config.with_extension("log");
    let out = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_helpim-bot"));
    for (key, _) in
        std::env::vars().filter(|(k, _)| k.starts_with("HELPIM_") || k.starts_with("PG"))
    {
        command.env_remove(key);
    }
    let mut child = command
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start helpim-bot");
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), std::fs::read_to_string(&log).unwrap());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "helpim-bot was still running after {limit:?}; it should have refused the database:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tables database `db` of the cluster holds (none: nothing was ever written).
async fn tables(cluster: &PgTlsCluster, db: &str) -> Vec<String> {
    let pool = sqlx::PgPool::connect(&cluster.verified_url(db))
        .await
        .unwrap();
    let names: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_works_end_to_end_and_a_wrong_ca_or_plain_text_is_refused() {
    let cluster = PgTlsCluster::start();
    let prosody = XmppServer::start();
    let dir = tempfile::tempdir().unwrap();

    // (a) verify-full to `localhost` with the test CA: the bot starts, fills its pool of 2, and
    // the rows are in the TLS database.
    cluster.create_database("bot_ok").await;
    let url = cluster.verified_url("bot_ok");
    let config = patient_config(dir.path(), &prosody, &TestDb::at(url.clone()));
    let bot = BotProcess::start(&config, dir.path().join("ok.log"), &[]);
    bot.logs_within("this instance is active", Duration::from_secs(30))
        .await;
    let store = Store::connect(&url).await.unwrap();
    let rooms = wait_ready_rooms(&store, 2).await;
    assert_eq!(rooms.len(), 2, "{rooms:?}");
    // Every connection of the bot (its pool and the connection that holds the active lock) is
    // encrypted, as pg_stat_ssl sees it; the server's pg_hba.conf would refuse any other.
    let Store::Postgres(pool) = &store else {
        unreachable!()
    };
    let connections: Vec<(i32, bool, Option<String>)> = sqlx::query_as(
        "SELECT a.pid, s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.backend_type = 'client backend' AND a.datname = 'bot_ok'
           AND a.pid <> pg_backend_pid()",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        connections.len() >= 2,
        "the bot's pool and lock connections: {connections:?}"
    );
    assert!(
        connections.iter().all(|(_, ssl, _)| *ssl),
        "{connections:?}"
    );
    let lock_holder_encrypted: Vec<bool> = sqlx::query_scalar(
        "SELECT s.ssl FROM pg_locks l JOIN pg_stat_ssl s ON s.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        lock_holder_encrypted,
        [true],
        "the active lock's connection"
    );
    store.close().await;
    let (code, _) = bot.terminate();
    assert_eq!(code, Some(0));

    // (b) A second CA made the same way: the server's certificate is refused, the bot says
    // why and exits, and the database stays empty.
    cluster.create_database("bot_wrong_ca").await;
    let wrong = cluster.url(
        "bot_wrong_ca",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            cluster.wrong_ca.display()
        ),
    );
    let config = dir.path().join("wrong-ca.toml");
    std::fs::write(
        &config,
        bot_config_text(&prosody, &TestDb::at(wrong.clone())),
    )
    .unwrap();
    let (code, log) = run_until_exit(&config, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("cannot open the database (database.url)")
            && log.contains("invalid peer certificate: UnknownIssuer")
            && log.contains("TLS, sslmode=verify-full"),
        "{log}"
    );
    assert_eq!(tables(&cluster, "bot_wrong_ca").await, Vec::<String>::new());
    // The same refusal in-process: the store does not connect.
    let e = Store::connect(&wrong).await.unwrap_err().to_string();
    assert!(e.contains("invalid peer certificate"), "{e}");

    // (c) sslmode=disable against the hostssl-only server: the server refuses plain text.
    cluster.create_database("bot_plain").await;
    let plain = cluster.url("bot_plain", "sslmode=disable");
    let config = dir.path().join("plain.toml");
    std::fs::write(
        &config,
        bot_config_text(&prosody, &TestDb::at(plain.clone())),
    )
    .unwrap();
    let (code, log) = run_until_exit(&config, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("pg_hba.conf") && log.contains("no encryption"),
        "{log}"
    );
    assert_eq!(tables(&cluster, "bot_plain").await, Vec::<String>::new());

    // sslmode=require encrypts without checking the certificate (as libpq does), verify-ca
    // checks the CA only, and verify-full to 127.0.0.1 matches the certificate's IP address.
    for url in [
        cluster.url("postgres", "sslmode=require"),
        cluster.url(
            "postgres",
            &format!("sslmode=verify-ca&sslrootcert={}", cluster.ca.display()),
        ),
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
            cluster.port,
            cluster.ca.display()
        ),
    ] {
        let pool = sqlx::PgPool::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let ssl: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(ssl, "{url}");
        pool.close().await;
    }
}

/// A configuration like the packaged one, with `database` as its `[database]` section.
fn config_with(database: &str) -> String {
    format!(
        r#"[xmpp]
jid = "helpim-bot@example.org"
password = "secret"

[muc]
service = "conference.example.org"

[database]
{database}
[http]
listen = ""
"#
    )
}

#[test]
fn check_config_and_run_refuse_a_remote_database_in_plain_text_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    let text = config_with("url = \"postgres://helpim@db.example.org/helpline\"\n");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("url = ")).unwrap() + 1;
    let expected = format!("{} line {line}: database.url: ", path.display());
    let (code, out, err) = run_cli(&["check-config", path.to_str().unwrap()], &[]);
    assert_eq!(code, EXIT_CONFIG, "{out}{err}");
    assert!(err.starts_with(&expected), "{err}");
    assert!(
        err.contains("db.example.org") && err.contains("database.tls = \"plain\""),
        "{err}"
    );
    // `run` refuses it the same way, before it connects to anything.
    let (code, log) = run_until_exit(&path, Duration::from_secs(30));
    assert_eq!(code, Some(EXIT_CONFIG), "{log}");
    assert!(log.contains(&expected), "{log}");

    // With TLS in the URL, or the explicit opt-out, it is accepted.
    for database in [
        "url = \"postgres://helpim@db.example.org/helpline?sslmode=verify-full&sslrootcert=/etc/helpim-bot/db-ca.pem\"\n",
        "url = \"postgres://helpim@db.example.org/helpline\"\ntls = \"plain\"\n",
    ] {
        std::fs::write(&path, config_with(database)).unwrap();
        let (code, out, err) = run_cli(&["check-config", path.to_str().unwrap()], &[]);
        assert_eq!(code, 0, "{database}: {out}{err}");
        assert!(out.contains("OK"), "{out}");
    }
}
