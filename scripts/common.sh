# Shared by scripts/demo.sh and scripts/test.sh: installing Debian packages and finding free ports.

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages named, if any of them is missing.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing ${missing[*]}"
    as_root apt-get update -qq
    # Installing prosody or postgresql must not start their system-wide services here.
    as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((10000 + RANDOM % 22000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# Waits until 127.0.0.1:$1 accepts connections, for at most $2 seconds.
wait_port() {
    local i
    for i in $(seq 1 $(( $2 * 10 ))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Writes a throwaway Prosody setup into folder $1 listening on port $2, with accounts
# bot, staff, colleague, supervisor and client (password "$3"); bot may create rooms; visitors log in anonymously on
# anon.localhost. With $4 (an HTTP port) and $5 (a folder), Prosody also serves that folder at
# http://127.0.0.1:$4/ (mod_http_files) and XMPP over WebSocket at /xmpp-websocket
# (mod_websocket): the web pages of web/. Prints nothing.
write_prosody() {
    local dir=$1 port=$2 password=$3 http_port=${4:-} web=${5:-}
    mkdir -p "$dir/data/localhost/accounts" "$dir/certs"
    for user in bot staff colleague supervisor client; do
        printf 'return {\n\t["password"] = "%s";\n};\n' "$password" > "$dir/data/localhost/accounts/$user.dat"
    done
    local http_modules="" http_settings="http_ports = { }"
    if [ -n "$http_port" ]; then
        http_modules='; "websocket"; "http_files"'
        # consider_websocket_secure: the loopback demo has no TLS; behind a TLS reverse proxy in
        # production the WebSocket is secure for real (README).
        http_settings="http_ports = { $http_port }
http_interfaces = { \"127.0.0.1\" }
http_default_host = \"localhost\"
http_paths = { files = \"/\"; websocket = \"/xmpp-websocket\" }
http_files_dir = \"$web\"
consider_websocket_secure = true"
    fi
    cat > "$dir/prosody.cfg.lua" <<LUA
-- A throwaway Prosody for helpim-bot's demo: loopback only, plain TCP, data in $dir.
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
interfaces = { "127.0.0.1" }
c2s_ports = { $port }
s2s_ports = { }
$http_settings
https_ports = { }
c2s_direct_tls_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "smacks"; "limits"$http_modules }
modules_disabled = { "s2s" }
-- Each client session may send 50 kB/s (a flood from one visitor cannot hold up the others);
-- the bot itself is not limited.
limits = { c2s = { rate = "50kb/s"; burst = "5s" } }
unlimited_jids = { "bot@localhost" }
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
log = { { levels = { min = "info" }, to = "file", filename = "$dir/prosody.log" } }
admins = { "bot@localhost" }
VirtualHost "localhost"
VirtualHost "anon.localhost"
    authentication = "anonymous"
Component "conference.localhost" "muc"
    restrict_room_creation = true
    muc_room_default_persistent = false
    muc_room_default_public = false
    muc_tombstones = false
    muc_room_cache_size = 1000
LUA
}
