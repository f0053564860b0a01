#!/usr/bin/env bash
# Runs helpim-bot's whole test suite, installing and starting what it needs:
#  - Debian's prosody and ejabberd (each test starts its own server on a free loopback port; the
#    integration tests run against each), openssl (a test certificate for STARTTLS) and systemd's
#    systemd-analyze (the unit's checks);
#  - PostgreSQL: $DATABASE_URL if set; else the server on 127.0.0.1:5432 if one answers; else a
#    throwaway cluster made with the installed initdb (PostgreSQL is installed if missing; the
#    database-outage test always needs initdb, for a cluster it can stop and start).
# Then rustfmt and clippy, every test, a short run of scripts/demo.sh and a bounded fuzzing run
# (scripts/fuzz.sh, $HELPIM_FUZZ_SECONDS, default 60).
#
#   scripts/test.sh                      # everything
#   HELPIM_TEST_PG=throwaway scripts/test.sh   # force the throwaway PostgreSQL cluster
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

command -v cargo >/dev/null || { echo "cargo is needed: install Rust from https://rustup.rs" >&2; exit 1; }
apt_install prosody ejabberd openssl systemd postgresql-client python3 python3-psycopg2

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

echo "==> cargo test (the integration tests again, against ejabberd)"
HELPIM_TEST_XMPP=ejabberd cargo test --tests

echo "==> scripts/demo.sh"
demo_status=0
demo=$(scripts/demo.sh --for 1 2>&1) || demo_status=$?
if [ "$demo_status" -ne 0 ] || ! grep -q "the pool is filled: 3 rooms ready" <<<"$demo" || ! grep -q "stopped cleanly" <<<"$demo"; then
    echo "$demo"
    echo "scripts/demo.sh (exit $demo_status) did not fill the pool and stop cleanly" >&2
    exit 1
fi
echo "demo: the pool filled and the bot stopped cleanly"

echo "==> scripts/fuzz.sh ${HELPIM_FUZZ_SECONDS:-60}"
fuzz_log=$(mktemp)
if ! scripts/fuzz.sh "${HELPIM_FUZZ_SECONDS:-60}" >"$fuzz_log" 2>&1; then
    tail -60 "$fuzz_log"
    echo "the fuzz target found a crash: see fuzz/artifacts/stanza" >&2
    exit 1
fi
grep '^stat::\|^Done' "$fuzz_log"
rm -f "$fuzz_log"
