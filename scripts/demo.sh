#!/usr/bin/env bash
# Runs the help line for real: a throwaway local Prosody (serving the web pages of web/ and XMPP
# over WebSocket), SQLite, and helpim-bot; prints the visitor page and the staff console.
#
#   scripts/demo.sh            # until Ctrl-C
#   scripts/demo.sh --for 20   # stop by itself after 20 seconds
#
# Installs Debian's prosody (and npm, for web/'s one package) if missing (with sudo when not
# root). Everything else lives in a temp folder that is removed at the end. Accounts:
# staff@localhost, colleague@localhost (a second staff member, to hand a chat over to),
# supervisor@localhost (a supervisor: watch, whisper, help) and client@localhost, password "demo";
# visitors need none (anonymous login). The staff room is team@conference.localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

seconds=0
[ "${1:-}" = "--for" ] && seconds=${2:?--for needs a number of seconds}

command -v cargo >/dev/null || { echo "cargo is needed: install Rust from https://rustup.rs" >&2; exit 1; }
command -v prosody >/dev/null || apt_install prosody
command -v npm >/dev/null || apt_install npm
if [ ! -f web/node_modules/strophe.js/dist/strophe.umd.min.js ]; then
    echo "==> installing web/'s package (npm ci)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "==> building helpim-bot"
cargo build --quiet
bot=target/debug/helpim-bot

dir=$(mktemp -d -t helpim-demo-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port=$(free_port)
web_port=$(free_port)
while [ "$web_port" = "$port" ]; do web_port=$(free_port); done
write_prosody "$dir/prosody" "$port" demo "$web_port" "$PWD/web"
prosody --config "$dir/prosody/prosody.cfg.lua" -F > "$dir/prosody/stdout.log" 2>&1 &
pids+=($!)
wait_port "$port" 10 || { echo "Prosody did not start:"; cat "$dir/prosody/"*.log; exit 1; }
echo "==> Prosody is listening on 127.0.0.1:$port (data in $dir/prosody)"

http_port=$(free_port)
cat > "$dir/bot.toml" <<TOML
[xmpp]
jid = "bot@localhost"
password = "demo"
server = "127.0.0.1:$port"
tls = "plain"

[muc]
service = "conference.localhost"

[pool]
size = 3

[staff]
jids = ["staff@localhost", "colleague@localhost", "supervisor@localhost"]
supervisors = ["supervisor@localhost"]
room = "team@conference.localhost"

[visitors]
domains = ["anon.localhost"]

[database]
url = "sqlite://$dir/helpim-bot.db"

[http]
listen = "127.0.0.1:$http_port"

# The questions before and after the chat (README "Questions before and after the chat").
# Before: the visitor page shows them under name and topic; "no" to the first puts the visitor
# ahead in the queue, and staff see why.
[[questions.before]]
var = "safe"
type = "yes-no"
required = true
label = { en = "Are you safe right now?", nl = "Ben je nu veilig?", ar = "هل أنت بأمان الآن؟" }
priority = "no"
statistics = true

[[questions.before]]
var = "age"
type = "choice"
label = { en = "How old are you?", nl = "Hoe oud ben je?", ar = "كم عمرك؟" }
options = [
  { value = "under-18", label = { en = "Under 18", nl = "Jonger dan 18", ar = "أقل من 18" } },
  { value = "18-30", label = { en = "18 to 30", nl = "18 tot 30", ar = "من 18 إلى 30" } },
  { value = "over-30", label = { en = "Over 30", nl = "Ouder dan 30", ar = "أكثر من 30" } },
]
statistics = true

[[questions.before]]
var = "before"
type = "yes-no"
label = { en = "Have you chatted with us before?", nl = "Heb je eerder met ons gechat?", ar = "هل تحدثت معنا من قبل؟" }
statistics = true

# After: the staff console asks for this when a chat ends, and reminds until it is done.
[[questions.registration]]
var = "category"
type = "choice"
required = true
label = "Category"
options = [
  { value = "relationships", label = "Relationships" },
  { value = "school-work", label = "School or work" },
  { value = "mental-health", label = "Mental health" },
  { value = "violence", label = "Violence or abuse" },
  { value = "other", label = "Other" },
]
statistics = true

[[questions.registration]]
var = "risk"
type = "choice"
required = true
label = "Risk"
options = [{ value = "low", label = "Low" }, { value = "medium", label = "Medium" }, { value = "high", label = "High" }]
statistics = true

[[questions.registration]]
var = "note"
type = "text"
label = "Note (erased with the transcript)"

# The visitor's feedback after the chat (stored by room, without who they are).
[[questions.feedback]]
var = "helped"
type = "yes-no"
label = { en = "Did this chat help you?", nl = "Heeft dit gesprek je geholpen?", ar = "هل ساعدتك هذه المحادثة؟" }
TOML

echo "==> starting helpim-bot (config $dir/bot.toml)"
"$bot" --config "$dir/bot.toml" run &
bot_pid=$!
pids+=($bot_pid)

for _ in $(seq 1 100); do
    ready=$("$bot" rooms --database-url "sqlite://$dir/helpim-bot.db" 2>/dev/null | grep -c ' available ' || true)
    [ "$ready" -ge 3 ] && break
    kill -0 "$bot_pid" 2>/dev/null || { echo "helpim-bot stopped"; exit 1; }
    sleep 0.2
done
echo
echo "==> the pool is filled: $ready rooms ready"
"$bot" rooms --database-url "sqlite://$dir/helpim-bot.db"
echo
echo "Chat with yourself in two browser tabs:"
echo "    staff console: http://127.0.0.1:$web_port/staff.html   (sign in as staff@localhost, password demo)"
echo "    visitor page:  http://127.0.0.1:$web_port/"
echo "Sign in on the console first (the help line is closed while nobody is on duty), start a chat"
echo "as a visitor, then press \"Take next\" on the console."
echo "A team: sign in as colleague@localhost in another tab (hand a chat over to them), or as"
echo "supervisor@localhost (see every live chat, watch one, whisper to its staff member)."
echo "Each tab keeps its own sign-in."
echo "XMPP clients: 127.0.0.1:$port (staff@localhost / demo; the bot's commands are on bot@localhost/helpim-bot)."
echo "Health and metrics: curl http://127.0.0.1:$http_port/readyz   curl http://127.0.0.1:$http_port/metrics"
echo

if [ "$seconds" -gt 0 ]; then
    sleep "$seconds"
    kill -TERM "$bot_pid"
    wait "$bot_pid"
    echo "==> helpim-bot stopped cleanly"
else
    echo "Press Ctrl-C to stop."
    wait "$bot_pid"
fi
