#!/usr/bin/env bash
# Fuzzes the stanza → event path (fuzz/fuzz_targets/stanza.rs) for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]     default 60; scripts/test.sh runs it for 60 s
#
# cargo fuzz needs nightly-only compiler flags (sanitizers, coverage); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them, so no second toolchain is needed. Inputs that grow coverage are
# kept in fuzz/corpus/stanza (not committed); a crash is written to fuzz/artifacts/stanza and
# fails the run (exit 1); a target that does not build exits 2.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! command -v cargo-fuzz >/dev/null; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/corpus/stanza
echo "== building the fuzz target"
# A target that no longer builds (the core's types changed) is told apart from a crash found.
if ! cargo fuzz build stanza; then
    echo "the fuzz target fuzz/fuzz_targets/stanza.rs does not build" >&2
    exit 2
fi
echo "== fuzzing the stanza parser for ${seconds}s"
cargo fuzz run stanza fuzz/corpus/stanza fuzz/seeds/stanza -- \
    -max_total_time="$seconds" -dict=fuzz/stanza.dict -max_len=4096 -print_final_stats=1
