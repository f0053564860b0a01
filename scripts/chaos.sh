#!/usr/bin/env bash
# The chaos run of tests/chaos.rs, with its figures: CHATS staff/client chats (default 200),
# WORKERS at once (default 10, at most 16), through a throwaway Prosody and a throwaway
# PostgreSQL cluster, while the bot is killed three times and both servers are restarted once.
#
#   scripts/chaos.sh [CHATS] [WORKERS]
#
# Needs what scripts/test.sh installs (prosody, PostgreSQL's initdb). scripts/test.sh runs the
# same test with the default size as part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CHAOS_CHATS="${1:-200}" CHAOS_WORKERS="${2:-10}"
exec cargo test --test chaos -- --nocapture
