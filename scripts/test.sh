#!/usr/bin/env bash
# Runs helpim-bot's whole test suite, installing and starting what it needs:
#  - Debian's prosody and ejabberd (each test starts its own server on a free loopback port; the
#    integration tests run against each), openssl (a test certificate for STARTTLS) and systemd's
#    systemd-analyze (the unit's checks);
#  - Debian's chromium (and fonts for emoji and CJK text in the screenshots), Node.js and npm, and
#    the npm packages of web/ (strophe.js) and tests/browser/ (playwright-core, axe-core,
#    converse.js: the standard client the staff-console test drives) with
#    `npm ci`: the browser tests drive the pages in Chromium against Prosody and the bot;
#  - cargo-deb 3.8.0 (the Debian package test builds the package and installs it with dpkg);
#  - PostgreSQL: $DATABASE_URL if set; else the server on 127.0.0.1:5432 if one answers; else a
#    throwaway cluster made with the installed initdb (PostgreSQL is installed if missing; the
#    database-outage test always needs initdb, for a cluster it can stop and start).
# Then rustfmt and clippy, every test, scripts/demo.sh with the browser scenario run against its
# pages, and a bounded fuzzing run
# (scripts/fuzz.sh, $HELPIM_FUZZ_SECONDS, default 60).
#
#   scripts/test.sh                      # everything
#   HELPIM_TEST_PG=throwaway scripts/test.sh   # force the throwaway PostgreSQL cluster
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

command -v cargo >/dev/null || { echo "cargo is needed: install Rust from https://rustup.rs" >&2; exit 1; }
apt_install prosody ejabberd openssl systemd postgresql-client python3 python3-psycopg2 \
    chromium fonts-liberation fonts-noto-color-emoji fonts-wqy-microhei
command -v npm >/dev/null || apt_install nodejs npm
# The package test builds helpim-bot's .deb with cargo-deb (pinned: a newer one may refuse the
# debug build the test packages) and installs it with dpkg (as root, or through sudo).
if ! cargo deb --version 2>/dev/null | grep -q '3\.8\.0'; then
    echo "==> installing cargo-deb 3.8.0"
    cargo install cargo-deb --version 3.8.0 --locked --quiet
fi
for folder in web tests/browser; do
    echo "==> npm ci in $folder"
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error)
done

pg_dir=""
cleanup() {
    if [ -n "$pg_dir" ]; then
        as_pg pg_ctl -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
    fi
}
trap cleanup EXIT

# Runs a PostgreSQL tool as the unprivileged user that owns the throwaway cluster.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$pg_user" -- "$(pg_tool "$1")" "${@:2}"; else "$(pg_tool "$1")" "${@:2}"; fi
}

pg_tool() {
    command -v "$1" 2>/dev/null || ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

start_throwaway_postgres() {
    [ -n "$(pg_tool initdb)" ] || apt_install postgresql
    [ -n "$(pg_tool initdb)" ] || { echo "initdb not found even after installing postgresql" >&2; exit 1; }
    pg_user=$(id -un)
    if [ "$(id -u)" -eq 0 ]; then
        # initdb refuses to run as root.
        pg_user=postgres
    fi
    pg_dir=$(mktemp -d -t helpim-pg-XXXXXX)
    chown "$pg_user" "$pg_dir"
    local port
    port=$(free_port)
    as_pg initdb -D "$pg_dir/data" -U postgres --auth=trust >/dev/null
    as_pg pg_ctl -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "==> started a throwaway PostgreSQL cluster on 127.0.0.1:$port"
}

# The outage test runs a PostgreSQL cluster of its own (initdb; as root, as the postgres user).
[ -n "$(pg_tool initdb)" ] || apt_install postgresql
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres
fi

if [ "${HELPIM_TEST_PG:-}" = "throwaway" ]; then
    start_throwaway_postgres
elif [ -n "${DATABASE_URL:-}" ]; then
    echo "==> PostgreSQL from DATABASE_URL"
elif (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    echo "==> PostgreSQL on 127.0.0.1:5432"
else
    start_throwaway_postgres
fi
psql "$DATABASE_URL" -qAtc 'SELECT 1' >/dev/null || {
    echo "PostgreSQL at $DATABASE_URL does not accept connections; set DATABASE_URL to a server where this user may CREATE DATABASE" >&2
    exit 1
}

# rustfmt and clippy always run: installed with rustup when missing, and a failure to install
# them fails the run (they are never skipped).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    echo "==> installing rustfmt and clippy"
    command -v rustup >/dev/null || { echo "rustfmt and clippy are needed: install them with rustup (rustup component add rustfmt clippy)" >&2; exit 1; }
    rustup component add rustfmt clippy
fi
echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy (every target: the library, the binary, the tests and the benchmark)"
cargo clippy --quiet --all-targets -- -D warnings

echo "==> cargo test (against Prosody)"
cargo test

echo "==> cargo test (the integration tests again, against ejabberd; the browser tests are Prosody's)"
HELPIM_TEST_XMPP=ejabberd cargo test --tests -- --skip browser_
echo "browser screenshots: tests/browser/artifacts/"

echo "==> scripts/demo.sh, with the browser scenario run against it as a newcomer would"
# The README's first command, for real: the pool fills, the two printed pages work together in
# Chromium (tests/browser/helpline.test.mjs against the demo's own Prosody and bot), and the bot
# stops cleanly when the time is up.
demo_log=$(mktemp)
scripts/demo.sh --for 60 >"$demo_log" 2>&1 &
demo_pid=$!
for _ in $(seq 1 1200); do
    grep -q "visitor page:" "$demo_log" && break
    kill -0 "$demo_pid" 2>/dev/null || break
    sleep 0.5
done
demo_web=$(sed -n 's/.*visitor page: *\(http:[^ ]*\).*/\1/p' "$demo_log")
scenario_status=0
if [ -n "$demo_web" ]; then
    (cd tests/browser && HELPIM_WEB="$demo_web" HELPIM_STAFF_JID=staff@localhost HELPIM_STAFF_PASSWORD=demo \
        HELPIM_ARTIFACTS="$PWD/artifacts/demo" node --test --test-reporter=spec helpline.test.mjs) || scenario_status=$?
fi
demo_status=0
wait "$demo_pid" || demo_status=$?
if [ "$demo_status" -ne 0 ] || [ -z "$demo_web" ] || [ "$scenario_status" -ne 0 ] \
    || ! grep -q "the pool is filled: 3 rooms ready" "$demo_log" || ! grep -q "stopped cleanly" "$demo_log"; then
    cat "$demo_log"
    echo "scripts/demo.sh (exit $demo_status, browser scenario exit $scenario_status) did not fill the pool, serve working pages and stop cleanly" >&2
    exit 1
fi
rm -f "$demo_log"
echo "demo: the pool filled, a visitor and a staff member chatted on its pages, the bot stopped cleanly"

echo "==> scripts/fuzz.sh ${HELPIM_FUZZ_SECONDS:-60}"
fuzz_log=$(mktemp)
fuzz_status=0
scripts/fuzz.sh "${HELPIM_FUZZ_SECONDS:-60}" >"$fuzz_log" 2>&1 || fuzz_status=$?
if [ "$fuzz_status" -ne 0 ]; then
    tail -60 "$fuzz_log"
    if [ "$fuzz_status" -eq 2 ]; then
        echo "the fuzz target does not build: see the compiler's errors above" >&2
    else
        echo "the fuzz target found a crash: see fuzz/artifacts/stanza" >&2
    fi
    exit 1
fi
grep '^stat::\|^Done' "$fuzz_log"
rm -f "$fuzz_log"
