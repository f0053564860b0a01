//! The systemd unit: `systemd-analyze verify` accepts it and its security exposure is "OK".

use std::process::Command;

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
        text.replace(
            "/usr/local/bin/helpim-bot",
            env!("CARGO_BIN_EXE_helpim-bot"),
        ),
    )
    .unwrap();
    path
}

fn systemd_analyze(args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze").args(args).output().unwrap_or_else(|e| {
        panic!("systemd-analyze is needed ({e}): apt-get install systemd (scripts/test.sh does it)")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
