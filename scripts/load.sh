#!/usr/bin/env bash
# `make load`: starts a throwaway Redis, and a throwaway PostgreSQL cluster when PostgreSQL is among
# the databases, then runs benchmarks/load/run.py with these arguments. Both services are stopped
# and deleted when it ends. For example:
#   scripts/load.sh --databases sqlite --duration 20s --patients 5000
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

start_throwaway_redis || die "Could not start a throwaway redis-server."
if [[ " $* " != *" --databases "* ]] || [[ "$*" == *postgresql* ]]; then
    start_throwaway_postgres || die "Could not start a throwaway PostgreSQL cluster."
fi
"$VENV/bin/python" benchmarks/load/run.py "$@"
