#!/usr/bin/env bash
# `make test [ARGS=...] [TEST_TODAY=YYYY-MM-DD]`: the whole pytest suite twice, on SQLite and then on
# PostgreSQL, with a throwaway Redis (and a throwaway PostgreSQL cluster unless DATABASE_URL names
# one). Arguments go to pytest. Fails when either run fails; a run that collects no test counts as
# failed.
#
# The SQLite run freezes the tests' clock on TEST_TODAY (tests/pinned_day.py), by default on a day
# that catches tests which only pass on some days; the PostgreSQL run keeps the real day, so the
# two runs together cover a hard day and whatever today is. Tests marked `workers` (real workers
# in other processes) run on the real clock in both.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# 5 November 2028: a single-digit day (a format that writes 05 instead of 5 shows), in a month that
# follows a 31-day month (month arithmetic that clamps or overflows shows), in a leap year, and the
# day New York, the zone of the suite's second clinic, leaves daylight saving time. London, the
# first clinic's zone, changes on the last Sunday of March and of October, so no single-digit day
# is ever one of its changes; run `make test TEST_TODAY=2028-10-29` for that.
DEFAULT_TEST_TODAY="2028-11-05"
sqlite_day="${TEST_TODAY:-$DEFAULT_TEST_TODAY}"
unset TEST_TODAY
# pytest checks the day too; checking it here saves starting the services for nothing.
if [ "$(date -d "$sqlite_day" +%F 2>/dev/null)" != "$sqlite_day" ]; then
    die "TEST_TODAY=$sqlite_day is not a day written YYYY-MM-DD, for instance $DEFAULT_TEST_TODAY."
fi

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

source "$ROOT/scripts/node-tools.sh"
if ! install_node_tools; then
    missing_service "Could not install the page checkers (npm ci: vnu-jar, axe-core), or Java is missing." \
        "The validator tests (tests/browser/test_validators.py) will be SKIPPED."
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

# run_pytest LABEL DATABASE_URL DAY [PYTEST_ARGS...]: DAY is a TEST_TODAY, or empty for the real day.
# Sets $result to a line for the summary; false when that run failed.
run_pytest() {
    local label="$1" url="$2" day="$3" rc=0 on
    if [ -n "$day" ]; then
        on="on $day (TEST_TODAY: the clock stands at noon London time)"
    else
        on="on the real day ($(TZ=Europe/London date +%F) in London)"
    fi
    say "pytest on $label${url:+ ($url)}, $on"
    if [ -n "$url" ]; then
        DATABASE_URL="$url" TEST_TODAY="$day" pytest "${@:4}" || rc=$?
    else
        TEST_TODAY="$day" pytest "${@:4}" || rc=$?
    fi
    case "$rc" in
        0) result="$label, $on: passed" ;;
        5) result="$label, $on: FAILED: pytest collected no tests (exit 5)" ;;
        *) result="$label, $on: FAILED (pytest exit $rc)" ;;
    esac
    say "$result"
    [ "$rc" -eq 0 ]
}

# Branch coverage of patients/ (settings in pyproject.toml), measured on the SQLite run of the
# whole suite: it fails under the floor, the figure the suite reached when the floor was set.
# Raise it when coverage grows; never lower it to let a change through. A run of some tests
# (arguments given) measures nothing.
COVERAGE_FLOOR=97
coverage=()
if [ "$#" -eq 0 ]; then
    coverage=(--cov --cov-report=term:skip-covered --cov-fail-under="$COVERAGE_FLOOR")
fi

status=0
results=()
run_pytest "SQLite" "$sqlite_url" "$sqlite_day" "${coverage[@]}" "$@" || status=1
results+=("$result")
if [ -n "$postgres_url" ]; then
    # A fresh test database: a --reuse-db one left by an older schema must not hide a migration bug.
    run_pytest "PostgreSQL" "$postgres_url" "" --create-db "$@" || status=1
    results+=("$result")
else
    results+=("PostgreSQL: NOT RUN (no PostgreSQL)")
fi

printf '\n========================= make test =========================\n'
printf '  %s\n' "${results[@]}"
printf '=============================================================\n'
exit "$status"
