#!/usr/bin/env bash
# Installs the page checkers the browser tests use (package.json: the Nu Html Checker and
# axe-core, pinned in package-lock.json) into node_modules/, when it is missing or older than the
# lock file. `make test` sources this before pytest; run it alone to install them by hand.
#
# Install scripts stay off: vnu-jar's would fetch a Java runtime of its own, and Debian's Java
# (default-jre-headless) runs the checker. Returns non-zero when npm or Java is missing or the
# install fails, so the caller decides: a skip on a developer's machine, a failure on CI.
# lib.sh once only: sourcing it again would drop the exit handlers test.sh registered.
# shellcheck source=scripts/lib.sh
declare -F missing_service >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_node_tools() {
    local lock="$ROOT/package-lock.json" stamp="$ROOT/node_modules/.package-lock.json"
    if ! command -v java >/dev/null; then
        apt_install default-jre-headless || return 1
    fi
    if ! command -v npm >/dev/null; then
        apt_install npm || return 1
    fi
    # npm ci writes node_modules/.package-lock.json last: older than the lock file means stale.
    if [ -f "$stamp" ] && [ ! "$lock" -nt "$stamp" ]; then
        return 0
    fi
    say "Installing the page checkers (npm ci: vnu-jar, axe-core)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --ignore-scripts >&2) || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    install_node_tools || die "Could not install the page checkers (npm ci in $ROOT)."
fi
