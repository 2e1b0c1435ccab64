#!/usr/bin/env bash
# with-postgres.sh COMMAND...: runs COMMAND with DATABASE_URL pointing at a throwaway PostgreSQL
# cluster, stopped and deleted when COMMAND ends. For example:
#   scripts/with-postgres.sh sh -c 'psql "$DATABASE_URL" -c "select version()"'
set -euo pipefail
source "$(dirname "$0")/lib.sh"

start_throwaway_postgres || die "Could not start a throwaway PostgreSQL cluster."
"$@"
