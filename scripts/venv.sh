#!/usr/bin/env bash
# Creates .venv when it is missing and installs requirements-dev.txt (which includes
# requirements.txt) into it. The Makefile calls this only when a requirements file changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 or newer."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$("$PYTHON" --version 2>&1) is too old: the project needs Python 3.11 or newer (set PYTHON=...)."

if [ ! -x "$VENV/bin/python" ]; then
    say "Creating $VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
        # Debian and Ubuntu ship venv's pip bootstrap in a package of its own.
        rm -rf "$VENV"
        apt_install python3-venv || die "python3 -m venv failed: install the python3-venv package."
        "$PYTHON" -m venv "$VENV"
    fi
fi

say "Installing requirements-dev.txt into $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$ROOT/requirements-dev.txt"
