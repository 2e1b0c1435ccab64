#!/usr/bin/env bash
# `make test [ARGS=...]`: the whole pytest suite twice, on SQLite and then on PostgreSQL, with a
# throwaway Redis (and a throwaway PostgreSQL cluster unless DATABASE_URL names one). Arguments
# go to pytest. Fails when either run fails; a run that collects no test counts as failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The suite runs once per database: split a DATABASE_URL given by the caller into the two runs.
sqlite_url=""
postgres_url=""
case "${DATABASE_URL:-}" in
    "") ;;
    sqlite:*) sqlite_url="$DATABASE_URL" ;;
    postgres:* | postgresql:* | pgsql:* | psql:* | postgis:*) postgres_url="$DATABASE_URL" ;;
    *) die "make test runs on SQLite and PostgreSQL; DATABASE_URL is neither: $DATABASE_URL" ;;
esac
unset DATABASE_URL

if ! find_chromium; then
    missing_service "No Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium} (Debian's package: apt-get install chromium)."
fi

if ! start_throwaway_redis; then
    missing_service "Could not start a throwaway redis-server."
    # Never fall back to the default 6379: that may be a developer's `make run`, whose worker would
    # pick up the tests' tasks. A closed port makes the Redis fixtures skip instead.
    REDIS_URL="redis://127.0.0.1:$(free_port)/0"
    export REDIS_URL
fi

if [ -z "$postgres_url" ]; then
    if start_throwaway_postgres; then
        postgres_url="$DATABASE_URL"
        unset DATABASE_URL
    else
        missing_service "Could not start a throwaway PostgreSQL 15 (Debian's postgresql package)." \
            "The PostgreSQL run is SKIPPED: the suite runs on SQLite only."
    fi
fi

export PATH="$VENV/bin:$PATH"

# run_pytest LABEL DATABASE_URL [PYTEST_ARGS...]: sets $result to a line for the summary; false when
# that run failed.
run_pytest() {
    local label="$1" url="$2" rc=0
    say "pytest on $label${url:+ ($url)}"
    if [ -n "$url" ]; then
        DATABASE_URL="$url" pytest "${@:3}" || rc=$?
    else
        pytest "${@:3}" || rc=$?
    fi
    case "$rc" in
        0) result="$label: passed" ;;
        5) result="$label: FAILED: pytest collected no tests (exit 5)" ;;
        *) result="$label: FAILED (pytest exit $rc)" ;;
    esac
    say "$result"
    [ "$rc" -eq 0 ]
}

status=0
results=()
run_pytest "SQLite" "$sqlite_url" "$@" || status=1
results+=("$result")
if [ -n "$postgres_url" ]; then
    # A fresh test database: a --reuse-db one left by an older schema must not hide a migration bug.
    run_pytest "PostgreSQL" "$postgres_url" --create-db "$@" || status=1
    results+=("$result")
else
    results+=("PostgreSQL: NOT RUN (no PostgreSQL)")
fi

printf '\n========================= make test =========================\n'
printf '  %s\n' "${results[@]}"
printf '=============================================================\n'
exit "$status"
