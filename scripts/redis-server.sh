#!/usr/bin/env bash
# The Redis of `make run`, in the foreground under honcho: bound to loopback, writing nothing to
# disk (no RDB snapshots, no append-only file), so its only folder is var/redis. Messages still
# queued when it stops are lost, which is why waits live in database columns, not in the broker.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

port="${REDIS_PORT:-6379}"
dir="${REDIS_DIR:-$ROOT/var/redis}"
mkdir -p "$dir"
if [ -z "${REDIS_SERVER:-}" ]; then
    find_redis_server install || die "No redis-server found (see scripts/lib.sh, find_redis_server)."
fi
exec "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no
