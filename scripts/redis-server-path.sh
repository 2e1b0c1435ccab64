#!/usr/bin/env bash
# Prints the redis-server that `make run` and `make test` would use, and nothing (exit 1) when
# there is none. With --install, installs Debian's when root (as they do); without, changes nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mode=""
[ "${1:-}" = --install ] && mode=install
find_redis_server "$mode" || exit 1
echo "$REDIS_SERVER"
