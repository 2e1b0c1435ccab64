#!/usr/bin/env bash
# Known vulnerabilities in the pinned requirements (pip-audit), for `make lint`.
#
# pip-audit asks PyPI's JSON API, release by release, which have advisories. Where that service
# does not answer (a machine that reaches only a package mirror, or no network), the audit is
# skipped and says so plainly, and lint goes on: the same pins are audited wherever the service
# answers. A pin with a known vulnerability fails the run. pip-audit counts a release the service
# does not know as "skipped" and still reports "no known vulnerabilities", so every skipped pin is
# listed here too: a quiet pass must not hide an audit that did not happen.
#
# Only the pins themselves are audited (--no-deps): they are what requirements*.txt promise.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The very request pip-audit makes, for a pin of ours (Django's).
django_pin=$(sed -n 's/^Django==//p' requirements.txt)
SERVICE="https://pypi.org/pypi/Django/${django_pin}/json"
if ! "$VENV/bin/python" - "$SERVICE" <<'PY'
import json
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:  # noqa: S310 (a fixed https URL)
        sys.exit(0 if "vulnerabilities" in json.load(answer) else 1)
except Exception:  # any failure means the same here: no advisories to be had
    sys.exit(1)
PY
then
    warn "pip-audit SKIPPED: its advisory service (PyPI's JSON API) does not answer from this machine." \
        "The pinned requirements were NOT checked for known vulnerabilities. Run \`make lint\` where it answers."
    exit 0
fi

say "pip-audit: the pins in requirements.txt and requirements-dev.txt"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
"$VENV/bin/pip-audit" --progress-spinner off --disable-pip --no-deps --format json --output "$report" \
    -r requirements.txt -r requirements-dev.txt 2>/dev/null || status=$?
"$VENV/bin/python" - "$report" <<'PY'
import json
import sys

dependencies = json.load(open(sys.argv[1]))["dependencies"]
for dependency in dependencies:
    for vulnerability in dependency.get("vulns", []):
        fixed = ", ".join(vulnerability["fix_versions"]) or "none yet"
        print(f"VULNERABLE {dependency['name']} {dependency['version']}: {vulnerability['id']} (fixed in {fixed})")
skipped = [d["name"] for d in dependencies if d.get("skip_reason")]
if skipped:
    print(f"NOT AUDITED ({len(skipped)} of {len(dependencies)}; the service does not know them): {', '.join(skipped)}")
print(f"pip-audit: {len(dependencies) - len(skipped)} pins audited")
PY
exit "$status"
