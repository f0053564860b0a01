//! A PostgreSQL cluster of a test's own that speaks TLS only: a test CA and a server certificate
//! for `localhost` and 127.0.0.1 made with openssl in its temp folder at test time (never
//! committed), `ssl = on`, and a pg_hba.conf of `hostssl` lines only, so that a connection
//! without TLS is refused by the server. As root, the server runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{free_port, which};

/// The TLS-only cluster; stopped when dropped.
pub struct PgTlsCluster {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
    user: Option<String>,
    /// The test CA that signed the server's certificate (PEM).
    pub ca: PathBuf,
    /// A second CA made the same way, which signed nothing this server shows (PEM).
    pub wrong_ca: PathBuf,
}

impl PgTlsCluster {
    /// Makes the certificates and the cluster and starts it, waiting until it accepts
    /// connections. Fails (never skips) when openssl or PostgreSQL's tools are missing.
    pub fn start() -> PgTlsCluster {
        assert!(
            which("openssl").is_some(),
            "openssl not found: apt-get install openssl (scripts/test.sh does it); the TLS test makes its CA with it"
        );
        let dir = tempfile::Builder::new()
            .prefix("helpim-pgtls-")
            .tempdir()
            .unwrap();
        let root = running_as_root();
        let user = root.then(|| "postgres".to_string());
        let path = |name: &str| dir.path().join(name);
        make_ca(dir.path(), "ca", "helpim test CA");
        make_ca(dir.path(), "wrong-ca", "helpim wrong CA");
        std::fs::write(
            path("server.ext"),
            "subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
             keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        // PostgreSQL refuses a key others may read.
        chmod(&path("server.key"), "600");
        if let Some(user) = &user {
            let status = Command::new("chown")
                .args(["-R", user.as_str(), dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(
                status.success(),
                "chown the cluster folder to {user} (is PostgreSQL installed? apt-get install postgresql)"
            );
        }
        let cluster = PgTlsCluster {
            port: free_port(),
            user,
            ca: path("ca.crt"),
            wrong_ca: path("wrong-ca.crt"),
            dir,
        };
        let data = cluster.data();
        cluster.pg(&["initdb", "-D", &data, "-U", "postgres", "--auth=trust"]);
        let conf = format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nlisten_addresses = '127.0.0.1'\n\
             port = {}\nunix_socket_directories = '{}'\n",
            cluster.dir.path().join("server.crt").display(),
            cluster.dir.path().join("server.key").display(),
            cluster.port,
            cluster.dir.path().display()
        );
        let conf_path = Path::new(&data).join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).unwrap();
        text.push_str(&conf);
        std::fs::write(&conf_path, text).unwrap();
        // hostssl only: no `host` or `local` line, so plain text has no entry to match.
        std::fs::write(
            Path::new(&data).join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let log = cluster.dir.path().join("log").display().to_string();
        cluster.pg(&["pg_ctl", "-D", &data, "-l", &log, "-w", "start"]);
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
            "{} failed: {}{}\n{}",
            args[0],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// `postgres://postgres@localhost:PORT/DB?QUERY`.
    pub fn url(&self, db: &str, query: &str) -> String {
        format!("postgres://postgres@localhost:{}/{db}?{query}", self.port)
    }

    /// The URL of database `db`, verified against the test CA: `sslmode=verify-full` with
    /// `sslrootcert`.
    pub fn verified_url(&self, db: &str) -> String {
        self.url(
            db,
            &format!("sslmode=verify-full&sslrootcert={}", self.ca.display()),
        )
    }

    /// Creates an empty database `name` (over TLS, verified).
    pub async fn create_database(&self, name: &str) {
        let pool = sqlx::PgPool::connect(&self.verified_url("postgres"))
            .await
            .unwrap_or_else(|e| panic!("connect to the TLS cluster: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

impl Drop for PgTlsCluster {
    fn drop(&mut self) {
        if let Some(tool) = pg_tool("pg_ctl") {
            let mut command = match &self.user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(&tool);
                    c
                }
                None => Command::new(&tool),
            };
            let _ = command
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// A self-signed CA `<name>.crt` / `<name>.key` in `dir`.
fn make_ca(dir: &Path, name: &str, common_name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-subj",
            &format!("/CN={common_name}"),
            "-addext",
            "basicConstraints = critical, CA:TRUE",
            "-addext",
            "keyUsage = critical, keyCertSign, cRLSign",
        ],
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chmod(path: &Path, mode: &str) {
    let status = Command::new("chmod").arg(mode).arg(path).status().unwrap();
    assert!(status.success(), "chmod {mode} {}", path.display());
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
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
