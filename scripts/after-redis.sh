#!/usr/bin/env bash
# after-redis.sh COMMAND...: waits until the Redis of `make run` answers, then becomes COMMAND.
# honcho starts every process at once; without this the worker and beat would log connection
# errors while Redis starts. A Redis that never answers stops the whole stack.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

port="${REDIS_PORT:-6379}"
wait_for_redis "$port" 30 || die "Redis did not answer on 127.0.0.1:$port within 30 s."
exec "$@"
