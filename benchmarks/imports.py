"""How long a clinic's import takes: a file of patients and one of their placements, checked (the
preview) and then imported, on an empty SQLite database of its own.

The issue's figure is 5,000 patients and 15,000 placements, previewed in under a minute; the
import itself runs in the worker with a progress bar. It prints figures; it asserts nothing.

    make benchmark-import                        # 5,000 patients, 3 placements each
    .venv/bin/python benchmarks/imports.py --patients 500
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--placements-each", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tracker-import-benchmark-") as scratch:
        # Always a database of its own: never the clinic's, nor a developer's.
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/import.sqlite3"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
        os.environ.setdefault("DJANGO_ENV", "development")
        import django

        django.setup()
        measure(options.patients, options.placements_each)


def measure(patients: int, each: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from patients.clinic_time import clinic_today
    from patients.imports.files import read_table
    from patients.imports.run import import_table
    from patients.models import Clinic, ImportRun, Product

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}, migrated in {time.perf_counter() - started:.1f} s")
    clinic = Clinic.objects.create(name="Benchmark Clinic", time_zone="Europe/London", first_year=2015)
    product = Product.objects.create(
        clinic=clinic, name="Three-month implant", formulation="implant", coverage_length=3, coverage_unit="months"
    )
    today = clinic_today(clinic)
    people = ["record_number,first_name,last_name,date_of_birth,email,phone,email_consent"]
    people += [
        f"B-{n:06d},Name{n},Family{n % 97},1980-01-15,b{n}@example.org,0700 {n:06d},yes" for n in range(patients)
    ]
    # Each patient's placements three months apart, the newest a month ago: histories in the past.
    doses = ["record_number,product,placed_on"]
    for n in range(patients):
        for back in range(each, 0, -1):
            placed_on = today - datetime.timedelta(days=30 + 91 * (back - 1))
            doses.append(f"B-{n:06d},{product.name},{placed_on}")
    for kind, lines in (("patients", people), ("placements", doses)):
        data = ("\n".join(lines) + "\n").encode()
        began = time.perf_counter()
        table = read_table(data, filename=f"{kind}.csv", max_rows=len(lines))
        read = time.perf_counter() - began
        for step, dry_run in (("check (preview)", True), ("import", False)):
            run = ImportRun(clinic=clinic, kind=kind, filename=f"{kind}.csv", started_by=None)
            began = time.perf_counter()
            done = [0]

            def progress(rows: int, total: int, done: list[int] = done, began: float = began) -> None:
                if rows - done[0] >= max(total // 10, 1) or rows == total:
                    done[0] = rows
                    print(f"    {rows:,}/{total:,} rows, {time.perf_counter() - began:.1f} s", flush=True)

            result = import_table(table, run=run, dry_run=dry_run, progress=progress)
            took = time.perf_counter() - began
            rate = len(table.rows) / took if took else 0
            print(
                f"{kind}: {len(table.rows):,} rows read in {read:.1f} s; {step} {took:.1f} s "
                f"({rate:,.0f} rows/s); refused {len(result.refused)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
