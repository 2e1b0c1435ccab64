"""The performance record: every size on every database, measured afresh, printed as one table.

For each database and size it builds an empty database, runs ``benchmarks/measure.py`` in a process
of its own (seeding with ``seed_demo --patients N``), and collects its figures; then it prints one
table, with each page's ratio to the raw SQL of the same data and to the smallest size, and each
target as met or NOT met. It prints figures; it asserts nothing.

SQLite databases live in a temporary folder. PostgreSQL needs a server whose URL is in
DATABASE_URL (``make benchmark`` starts a throwaway cluster with ``scripts/with-postgres.sh``): each
size gets a database of its own on it, dropped afterwards.

    make benchmark                                   # 1,000, 20,000 and 100,000 on both databases
    make benchmark QUICK=1                           # 1,000 and 20,000 on SQLite
    make benchmark SIZES=200 DATABASES=sqlite        # a quick look that it works
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402 (run as a script: the checkout joins the path first)

DATABASES = ("sqlite", "postgresql")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000 20000 100000", help="patients, separated by spaces or commas")
    parser.add_argument("--databases", default="sqlite postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page; the median is kept")
    parser.add_argument("--reminders", type=int, default=1000, help="due reminders each run dispatches")
    parser.add_argument("--save", type=Path, help="also write every run's figures to this JSON file")
    options = parser.parse_args()
    sizes = sorted({int(size) for size in options.sizes.replace(",", " ").split()})
    databases = options.databases.replace(",", " ").split()
    if unknown := set(databases) - set(DATABASES):
        sys.exit(f"Unknown database {', '.join(sorted(unknown))}: choose from {', '.join(DATABASES)}.")
    server = os.environ.get("DATABASE_URL", "")
    if "postgresql" in databases and not server.startswith(("postgres://", "postgresql://")):
        sys.exit("PostgreSQL runs need DATABASE_URL to name a server (make benchmark starts one).")

    runs: list[dict[str, Any]] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tracker-benchmark-") as scratch:
        for database in [name for name in DATABASES if name in databases]:
            for size in sizes:
                output = Path(scratch) / f"{database}-{size}.json"
                try:
                    if database == "sqlite":
                        measure(f"sqlite:///{scratch}/benchmark-{size}.sqlite3", size, output, options)
                    else:
                        with postgres_database(server, f"tracker_benchmark_{size}") as url:
                            measure(url, size, output, options)
                except subprocess.CalledProcessError:
                    # A long plan goes on: the other runs' figures are still worth printing.
                    print(f"!!! The run on {database} with {size:,} patients failed (above).", flush=True)
                    failed.append(f"{database}, {size:,} patients")
                    continue
                runs.append(json.loads(output.read_text()))
                if options.save:  # after every run, so that a later failure loses nothing
                    options.save.write_text(json.dumps(runs, indent=2))
    print()
    if runs:
        print(report.table(runs))
        print()
        print(report.targets(runs))
    for run in failed:
        print(f"FAILED, no figures: {run}")
    if failed:
        sys.exit(1)


def measure(url: str, size: int, output: Path, options: argparse.Namespace) -> None:
    command = [
        sys.executable,
        str(HERE / "measure.py"),
        f"--patients={size}",
        f"--output={output}",
        f"--repeat={options.repeat}",
        f"--reminders={options.reminders}",
    ]
    subprocess.run(command, env={**os.environ, "DATABASE_URL": url}, cwd=ROOT, check=True)  # noqa: S603


@contextlib.contextmanager
def postgres_database(server: str, name: str) -> Iterator[str]:
    """A fresh database called ``name`` on the server ``server`` names, dropped on the way out."""
    import psycopg
    from psycopg import sql

    def execute(statement: str) -> None:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(name)))

    execute("DROP DATABASE IF EXISTS {}")
    execute("CREATE DATABASE {}")
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        execute("DROP DATABASE IF EXISTS {}")


if __name__ == "__main__":
    main()
