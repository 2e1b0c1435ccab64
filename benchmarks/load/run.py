"""The concurrency measure (``make load``): coordinators using the app while reminders go out.

For each database (PostgreSQL first, then SQLite) it builds an empty database and runs
``benchmarks/load/session.py`` in a process of its own: seed ``--patients``, make ``--reminders``
reminders due, then ``--users`` coordinators (locust) on gunicorn for ``--duration`` while a Celery
worker drains them into a local SMTP server. Then it prints one table: requests per second,
p50/p95/p99 per page and errors, and dispatch throughput during the load.

It fails (exit status 1) when any request failed, when "database is locked" appears in gunicorn's
or the worker's log, or when due reminders were still waiting long after the load ended. The logs
stay in var/load/.

PostgreSQL needs a server whose URL is in DATABASE_URL, and both runs a Redis in REDIS_URL
(``make load`` starts a throwaway of each with ``scripts/load.sh``).

    make load                                   # 30 coordinators, 60 s, 5,000 patients, both databases
    make load DURATION=20s DATABASES=sqlite     # a shorter look
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import postgres_database  # noqa: E402 (run as a script: the checkout joins the path first)

DATABASES = ("postgresql", "sqlite")
NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
# The pages in the order the table shows them.
PAGES = ("dashboard", "patient list, search", "patient page", "reports")
LOGS = ROOT / "var" / "load"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="postgresql sqlite", help="postgresql, sqlite or both")
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--duration", default="60s", help="locust's --run-time: 60s, 2m...")
    options = parser.parse_args()
    databases = options.databases.replace(",", " ").split()
    if unknown := set(databases) - set(DATABASES):
        sys.exit(f"Unknown database {', '.join(sorted(unknown))}: choose from {', '.join(DATABASES)}.")
    server = os.environ.get("DATABASE_URL", "")
    if "postgresql" in databases and not server.startswith(("postgres://", "postgresql://")):
        sys.exit("The PostgreSQL run needs DATABASE_URL to name a server (make load starts one).")
    if "REDIS_URL" not in os.environ:
        sys.exit("Set REDIS_URL to a Redis server (make load starts one).")

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tracker-load-") as scratch:
        for database in [name for name in DATABASES if name in databases]:
            output = Path(scratch) / f"{database}.json"
            if database == "sqlite":
                session(f"sqlite:///{scratch}/load.sqlite3", output, options)
            else:
                with postgres_database(server, "tracker_load") as url:
                    session(url, output, options)
            runs.append(json.loads(output.read_text()))
    print()
    print(table(runs, options))
    problems = [problem for run in runs for problem in found_wrong(run)]
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        sys.exit(1)


def session(url: str, output: Path, options: argparse.Namespace) -> None:
    command = [
        sys.executable,
        str(HERE / "session.py"),
        f"--patients={options.patients}",
        f"--reminders={options.reminders}",
        f"--users={options.users}",
        f"--duration={options.duration}",
        f"--logs={LOGS}",
        f"--output={output}",
    ]
    try:
        subprocess.run(command, env={**os.environ, "DATABASE_URL": url}, cwd=ROOT, check=True)  # noqa: S603
    except subprocess.CalledProcessError:
        sys.exit(f"The load run on {url.split(':')[0]} failed (above); its logs are in {LOGS}.")


def table(runs: list[dict[str, Any]], options: argparse.Namespace) -> str:
    low, high = runs[0]["pause_seconds"]
    lines = [
        f"Load: {options.users} coordinators (a page every {low} to {high} s each) for {options.duration} on gunicorn "
        f"({runs[0]['web_workers']} workers), {options.patients:,} patients, while the dispatcher drains "
        f"{options.reminders:,} due reminders",
        "",
        f"{'database':<12}{'page':<22}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>8}",
    ]
    for run in runs:
        name = NAMES.get(run["database"], run["database"])
        pages = run["pages"]
        for page in (*PAGES, "Aggregated"):
            if page not in pages:
                continue
            figures = pages[page]
            label = "all requests" if page == "Aggregated" else page
            lines.append(
                f"{name:<12}{label:<22}{figures['requests']:>9,}{figures['per_second']:>8.1f}"
                f"{figures['p50_ms']:>8.0f}{figures['p95_ms']:>8.0f}{figures['p99_ms']:>8.0f}{figures['failures']:>8}"
            )
            name = ""
        sign_in = sorted(run["sign_in_ms"])
        lines.append(
            f"{'':<12}sign-in through the form, before the load ({len(sign_in)}, 4 at a time): "
            f"median {statistics.median(sign_in):.0f} ms, slowest {sign_in[-1]:.0f} ms"
        )
        dispatch = run["dispatch"]
        drained = (
            f"all {dispatch['due']:,} done {dispatch['drain_seconds']:.0f} s after the first dispatch"
            if dispatch["drained"]
            else f"NOT all done: {dispatch['statuses']}"
        )
        lines.append(
            f"{'':<12}dispatch: {dispatch['sent_during_load']:,} reminders sent during the load, "
            f"{dispatch['per_second_during_load']:.0f}/s; {drained}"
        )
        unsent = {status: count for status, count in dispatch["statuses"].items() if status != "sent"}
        if unsent:
            lines.append(f"{'':<12}due reminders not sent, by status: {unsent}")
        locked = sum(run["locked"].values())
        lines.append(f"{'':<12}\"database is locked\" in gunicorn's and the worker's logs: {locked}")
        if tracebacks := sum(run["tracebacks"].values()):
            lines.append(f"{'':<12}tracebacks in those logs: {tracebacks} (see {LOGS})")
        lines.append("")
    return "\n".join(lines).rstrip()


def found_wrong(run: dict[str, Any]) -> list[str]:
    name = NAMES.get(run["database"], run["database"])
    problems = []
    total = run["pages"].get("Aggregated", {})
    if total.get("failures"):
        problems.append(f"{name}: {total['failures']} requests failed (see {LOGS}/{run['database']}-locust.log)")
    if not total.get("requests"):
        problems.append(f"{name}: locust made no requests")
    for log, count in run["locked"].items():
        if count:
            problems.append(f'{name}: "database is locked" {count} times in {log}')
    if not run["dispatch"]["drained"]:
        problems.append(f"{name}: due reminders still waiting after the load: {run['dispatch']['statuses']}")
    return problems


if __name__ == "__main__":
    main()
