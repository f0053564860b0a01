//! The systemd unit (`systemd-analyze verify` accepts it and its security exposure is "OK") and
//! the Debian package: built with cargo-deb, installed with `dpkg -i`, its files, user and config
//! checked, then removed and purged.

mod support;

use std::process::Command;

use support::output_text;

/// The unit with `ExecStart` pointing at the binary just built (verify wants it to exist).
fn unit_for_this_build(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/helpim-bot.service"
    ))
    .unwrap();
    let path = dir.join("helpim-bot.service");
    std::fs::write(
        &path,
        text.replace("/usr/bin/helpim-bot", env!("CARGO_BIN_EXE_helpim-bot")),
    )
    .unwrap();
    path
}

fn systemd_analyze(args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze").args(args).output().unwrap_or_else(|e| {
        panic!("systemd-analyze is needed ({e}): apt-get install systemd (scripts/test.sh does it)")
    });
    let text = output_text(&out);
    (out.status.success(), text)
}

#[test]
fn systemd_unit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_this_build(dir.path());
    let (ok, text) = systemd_analyze(&["verify", unit.to_str().unwrap()]);
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify complained:\n{text}"
    );
    // The bounds of SPEC §15, with the values the README gives (tests/hostile.rs's flood checks
    // the bot stays within them).
    let text = std::fs::read_to_string(&unit).unwrap();
    for setting in [
        "TasksMax=64",
        "MemoryMax=256M",
        "Environment=TOKIO_WORKER_THREADS=4",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == setting),
            "{setting} missing from the unit"
        );
    }
}

#[test]
fn systemd_unit_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_this_build(dir.path());
    let (_, text) = systemd_analyze(&["security", "--offline=true", unit.to_str().unwrap()]);
    let verdict = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{text}"));
    let score: f64 = verdict
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no score in {verdict:?}"));
    // The README states 1.2 "OK".
    assert!(score <= 1.2, "exposure {score} is above 1.2: {verdict}");
    for setting in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "User=helpim-bot",
        "Restart=on-failure",
    ] {
        let unit = std::fs::read_to_string(&unit).unwrap();
        assert!(unit.contains(setting), "{setting} missing");
    }
}

#[test]
fn systemd_unit_uses_notify_the_watchdog_and_a_credential() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/helpim-bot.service"
    ))
    .unwrap();
    let settings: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for expected in [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30s",
        "LoadCredential=xmpp-password:/etc/helpim-bot/xmpp-password",
        "RestartPreventExitStatus=78",
    ] {
        assert!(
            settings.contains(&expected),
            "{expected} missing from the unit"
        );
    }
}

/// Runs `program` with `args` as root (directly when the tests run as root, else through
/// `sudo -n`); the exit status's success and the output.
fn as_root(program: &str, args: &[&str]) -> (bool, String) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut command = if root {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", program]);
        c
    };
    let out = command.args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): the package test needs root or sudo")
    });
    (out.status.success(), output_text(&out))
}

/// Builds the package with cargo-deb from the debug build the tests already made (the package's
/// files and scripts are what is tested; `cargo deb` alone builds it in release). Its path.
fn build_package() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("web/node_modules/strophe.js/dist/strophe.umd.min.js")
            .exists(),
        "web/'s npm package is missing: run `npm ci` in web (scripts/test.sh does it for you)"
    );
    let out_dir = tempfile::tempdir().unwrap().keep();
    let out = Command::new("cargo")
        .args(["deb", "--no-build", "--profile", "dev", "--output"])
        .arg(&out_dir)
        .current_dir(root)
        .output()
        .expect("run cargo");
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "cargo deb failed (cargo-deb is needed: `cargo install cargo-deb --locked`, scripts/test.sh does it):\n{text}"
    );
    let version = env!("CARGO_PKG_VERSION");
    let deb = out_dir.join(format!("helpim-bot_{version}_amd64.deb"));
    assert!(
        deb.exists(),
        "no {} after cargo deb:\n{text}",
        deb.display()
    );
    deb
}

/// Where systemd hands the service its XMPP password (`LoadCredential=xmpp-password:…`).
const CREDENTIAL: &str = "/run/credentials/helpim-bot.service/xmpp-password";

/// Runs the installed `helpim-bot` with `args` as `user` (as `ExecStartPre=` does: `User=`), from
/// `/` so that nothing lands in the test's folder.
fn as_service_user(user: &str, args: &[&str]) -> (bool, String) {
    let mut all = vec!["-u", user, "--", "sh", "-c", "cd / && exec \"$@\"", "sh"];
    all.push("/usr/bin/helpim-bot");
    all.extend_from_slice(args);
    as_root("runuser", &all)
}

/// The XMPP password placed as systemd places a credential, removed on drop (with
/// `/run/credentials` if this made it).
struct Credential {
    made_parent: bool,
}

impl Credential {
    fn place(password: &str) -> Credential {
        let made_parent = !installed("/run/credentials");
        let script = format!(
            "set -e
             install -d -m 0755 /run/credentials
             install -d -m 0500 -o helpim-bot -g helpim-bot /run/credentials/helpim-bot.service
             umask 077
             printf '%s' '{password}' > {CREDENTIAL}
             chown helpim-bot:helpim-bot {CREDENTIAL}
             chmod 0400 {CREDENTIAL}"
        );
        let (ok, text) = as_root("sh", &["-c", &script]);
        assert!(ok, "placing the credential: {text}");
        Credential { made_parent }
    }
}

impl Drop for Credential {
    fn drop(&mut self) {
        as_root("rm", &["-rf", "/run/credentials/helpim-bot.service"]);
        if self.made_parent {
            as_root("rmdir", &["/run/credentials"]);
        }
    }
}

fn installed(path: &str) -> bool {
    std::path::Path::new(path).exists()
}

#[test]
fn the_debian_package_installs_its_files_user_and_config_and_purges_them() {
    let deb = build_package();
    // A leftover of an earlier run would hide what this one installs.
    as_root("dpkg", &["--purge", "helpim-bot"]);
    let (ok, text) = as_root("dpkg", &["-i", deb.to_str().unwrap()]);
    assert!(ok, "dpkg -i failed:\n{text}");

    // The files, where an operator looks for them.
    for path in [
        "/usr/bin/helpim-bot",
        "/etc/helpim-bot/bot.toml",
        "/lib/systemd/system/helpim-bot.service",
        "/usr/share/helpim-bot/web/index.html",
        "/usr/share/helpim-bot/web/staff.html",
        "/usr/share/helpim-bot/web/visitor.js",
        "/usr/share/helpim-bot/web/session.js",
        "/usr/share/helpim-bot/web/chatroom.js",
        "/usr/share/helpim-bot/web/config.js",
        "/usr/share/helpim-bot/web/away.html",
        "/usr/share/helpim-bot/web/i18n/ar.json",
        "/usr/share/helpim-bot/web/node_modules/strophe.js/dist/strophe.umd.min.js",
        "/usr/share/doc/helpim-bot/README.md",
        "/usr/share/doc/helpim-bot/protocol.md",
    ] {
        assert!(installed(path), "{path} is not installed");
    }
    let (_, conffiles) = as_root("dpkg-query", &["-W", "-f=${Conffiles}", "helpim-bot"]);
    assert!(
        conffiles.contains("/etc/helpim-bot/bot.toml"),
        "bot.toml is not a conffile: {conffiles}"
    );
    let unit = std::fs::read_to_string("/lib/systemd/system/helpim-bot.service").unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/helpim-bot --config /etc/helpim-bot/bot.toml run"));

    // The system user and its state directory.
    let (ok, user) = as_root("getent", &["passwd", "helpim-bot"]);
    assert!(ok, "no helpim-bot user");
    assert!(user.contains(":/var/lib/helpim-bot:"), "{user}");
    let (_, state) = as_root("stat", &["-c", "%U %G %a", "/var/lib/helpim-bot"]);
    assert_eq!(state.trim(), "helpim-bot helpim-bot 750");

    // The configuration may hold secrets (a database URL with its password): root and the
    // service's group only, the folder too.
    let (_, modes) = as_root(
        "stat",
        &[
            "-c",
            "%n %U %G %a",
            "/etc/helpim-bot",
            "/etc/helpim-bot/bot.toml",
        ],
    );
    assert_eq!(
        modes.trim(),
        "/etc/helpim-bot root helpim-bot 750\n/etc/helpim-bot/bot.toml root helpim-bot 640"
    );
    // Installed again (as an upgrade is): the same owners and modes.
    let (ok, text) = as_root("dpkg", &["-i", deb.to_str().unwrap()]);
    assert!(ok, "dpkg -i again failed:\n{text}");
    let (_, again) = as_root(
        "stat",
        &[
            "-c",
            "%n %U %G %a",
            "/etc/helpim-bot",
            "/etc/helpim-bot/bot.toml",
        ],
    );
    assert_eq!(again, modes);
    // The packaged password file is systemd's credential path (the unit's LoadCredential=).
    let config = std::fs::read_to_string("/etc/helpim-bot/bot.toml").unwrap();
    assert!(
        config
            .lines()
            .any(|l| l == format!("password_file = \"{CREDENTIAL}\"")),
        "{config}"
    );

    // check-config, as the service runs it (ExecStartPre: the service user), names what the
    // operator must add (the password, through the credential), then accepts it.
    let (ok, text) = as_service_user("helpim-bot", &["check-config", "/etc/helpim-bot/bot.toml"]);
    assert!(
        !ok && text.contains("xmpp.password_file") && text.contains(CREDENTIAL),
        "{text}"
    );
    // The operator's password file, as the README installs it (mode 0600, root's): the service
    // user cannot read it (systemd reads it, as root, for LoadCredential=), and root checks the
    // configuration by hand with it through HELPIM_XMPP_PASSWORD_FILE.
    let (ok, text) = as_root(
        "sh",
        &[
            "-c",
            "install -m 0600 /dev/null /etc/helpim-bot/xmpp-password && echo secret > /etc/helpim-bot/xmpp-password",
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = as_root(
        "runuser",
        &[
            "-u",
            "helpim-bot",
            "--",
            "cat",
            "/etc/helpim-bot/xmpp-password",
        ],
    );
    assert!(!ok && text.contains("Permission denied"), "{text}");
    let (ok, text) = as_root(
        "env",
        &[
            "HELPIM_XMPP_PASSWORD_FILE=/etc/helpim-bot/xmpp-password",
            "/usr/bin/helpim-bot",
            "check-config",
            "/etc/helpim-bot/bot.toml",
        ],
    );
    assert!(ok && text.contains("OK"), "{text}");
    as_root("rm", &["/etc/helpim-bot/xmpp-password"]);
    // The credential, as systemd places it: the service user's, mode 0400, in a folder only it
    // can enter. Removed at the end, whatever happens in between.
    let credential = Credential::place("secret");
    let (_, placed) = as_root("stat", &["-c", "%U %a", CREDENTIAL]);
    assert_eq!(placed.trim(), "helpim-bot 400");
    let (ok, text) = as_service_user("helpim-bot", &["check-config", "/etc/helpim-bot/bot.toml"]);
    assert!(ok && text.contains("OK"), "{text}");
    // The service user reads bot.toml; an unrelated user cannot read it, nor list the folder,
    // nor read the credential, and check-config fails for it on the file's permissions.
    let (ok, text) = as_root(
        "runuser",
        &["-u", "helpim-bot", "--", "cat", "/etc/helpim-bot/bot.toml"],
    );
    assert!(ok && text.contains("[xmpp]"), "{text}");
    for path in ["/etc/helpim-bot/bot.toml", "/etc/helpim-bot", CREDENTIAL] {
        let (ok, text) = as_root("runuser", &["-u", "nobody", "--", "cat", path]);
        assert!(!ok && text.contains("Permission denied"), "{path}: {text}");
    }
    let (ok, text) = as_service_user("nobody", &["check-config", "/etc/helpim-bot/bot.toml"]);
    assert!(!ok && text.contains("Permission denied"), "{text}");
    drop(credential);
    assert!(!installed("/run/credentials/helpim-bot.service"));

    // Remove: the program goes; the config, the user and the state stay.
    let (ok, text) = as_root("dpkg", &["--remove", "helpim-bot"]);
    assert!(ok, "dpkg --remove failed:\n{text}");
    assert!(!installed("/usr/bin/helpim-bot"));
    assert!(
        installed("/etc/helpim-bot/bot.toml"),
        "remove keeps the config"
    );
    assert!(installed("/var/lib/helpim-bot"), "remove keeps the state");
    assert!(
        as_root("getent", &["passwd", "helpim-bot"]).0,
        "remove keeps the user"
    );

    // Purge: all of it goes.
    let (ok, text) = as_root("dpkg", &["--purge", "helpim-bot"]);
    assert!(ok, "dpkg --purge failed:\n{text}");
    assert!(
        !installed("/etc/helpim-bot/bot.toml"),
        "purge removes the config"
    );
    assert!(!installed("/var/lib/helpim-bot"), "purge removes the state");
    assert!(
        !as_root("getent", &["passwd", "helpim-bot"]).0,
        "purge removes the user"
    );
    std::fs::remove_dir_all(deb.parent().unwrap()).ok();
}
