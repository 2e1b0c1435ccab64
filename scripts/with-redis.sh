#!/usr/bin/env bash
# with-redis.sh COMMAND...: runs COMMAND with REDIS_URL pointing at a throwaway Redis on a free
# port, stopped when COMMAND ends. Handy for running one test file by hand:
#   scripts/with-redis.sh .venv/bin/pytest tests/test_tasks.py
set -euo pipefail
source "$(dirname "$0")/lib.sh"

start_throwaway_redis || die "Could not start a throwaway redis-server."
"$@"
