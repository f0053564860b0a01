//! Databases for tests: a SQLite file, a fresh PostgreSQL database on the shared server, or a
//! PostgreSQL cluster of a test's own that it can stop and start.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use helpim_bot::store::Store;

use super::{free_port, which};

/// A database for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A new SQLite file in a temp folder.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bot.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A new, empty PostgreSQL database on the server of `$DATABASE_URL` (else 127.0.0.1:5432).
    pub async fn postgres() -> TestDb {
        let admin = pg_admin_url();
        let name = format!("helpim_test_{}", helpim_bot::secrets::new_password());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin}: {e}.\n\
                 Set DATABASE_URL to a server where this user may CREATE DATABASE, or run \
                 scripts/test.sh, which starts one (apt-get install postgresql)."
            )
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database on {admin}: {e}"));
        pool.close().await;
        TestDb {
            url: replace_db_name(&admin, &name),
            _dir: None,
            pg_name: Some(name),
        }
    }

    /// A database at `url` that the test owns some other way (e.g. a [`PgCluster`]).
    pub fn at(url: String) -> TestDb {
        TestDb {
            url,
            _dir: None,
            pg_name: None,
        }
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// Migrates this database and runs `script` (any number of statements) on it: rows a test
    /// or a benchmark starts from.
    pub async fn run_script(&self, script: &str) {
        let store = self.store().await;
        match &store {
            Store::Sqlite(pool) => sqlx::raw_sql(script).execute(pool).await.map(drop),
            Store::Postgres(pool) => sqlx::raw_sql(script).execute(pool).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("the script failed: {e}"));
        store.close().await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Best effort, without a runtime: psql may not be installed where only the server runs.
            let _ = Command::new("psql")
                .arg(pg_admin_url())
                .args([
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The PostgreSQL server the tests use.
pub fn pg_admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    match base[scheme_end..].find('/') {
        Some(i) => format!("{}/{name}{query}", &base[..scheme_end + i]),
        None => format!("{base}/{name}{query}"),
    }
}

/// A PostgreSQL cluster of the test's own (initdb in a temp folder), so that it can be stopped
/// and started under the bot. As root, the server runs as the `postgres` user.
pub struct PgCluster {
    dir: tempfile::TempDir,
    pub port: u16,
    user: Option<String>,
}

impl PgCluster {
    /// Makes and starts a cluster on a free port, with trust authentication on 127.0.0.1.
    pub fn start() -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("helpim-pg-")
            .tempdir()
            .unwrap();
        let root = running_as_root();
        let user = root.then(|| "postgres".to_string());
        if let Some(user) = &user {
            let status = Command::new("chown")
                .args([user.as_str(), dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster folder to {user} (is PostgreSQL installed? apt-get install postgresql)");
        }
        let cluster = PgCluster {
            dir,
            port: free_port(),
            user,
        };
        let data = cluster.data();
        cluster.pg(&["initdb", "-D", &data, "-U", "postgres", "--auth=trust"]);
        cluster.start_server();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg(&self, args: &[&str]) {
        let tool = pg_tool(args[0]).unwrap_or_else(|| {
            panic!(
                "{} not found: apt-get install postgresql (scripts/test.sh does it)",
                args[0]
            )
        });
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&tool);
                c
            }
            None => Command::new(&tool),
        };
        let out = command
            .args(&args[1..])
            .output()
            .expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{} failed: {}{}",
            args[0],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-l",
            &log,
            "-w",
            "-o",
            &options,
            "start",
        ]);
    }

    /// Stops the server at once (connections are cut).
    pub fn stop_server(&self) {
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let tool = pg_tool("pg_ctl");
        if let Some(tool) = tool {
            let mut command = match &self.user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(&tool);
                    c
                }
                None => Command::new(&tool),
            };
            let _ = command
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output();
        }
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// A PostgreSQL program from PATH or Debian's versioned folder.
fn pg_tool(name: &str) -> Option<PathBuf> {
    which(name).or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}
