"""Figures for the pages coordinators open every morning, and for the reminder dispatcher, at size.

Builds a scratch SQLite database (or uses DATABASE_URL), seeds the demo clinic with N patients,
then prints, for each page, the median time over a few requests and the number of queries, and
the time one dispatcher run takes over the due reminders. It prints figures; it asserts nothing.

    make benchmark                      # 10,000 patients
    make benchmark PATIENTS=2000
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="requests per page; the median is printed")
    options = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="tracker-benchmark-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch.name}/benchmark.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    os.environ.setdefault("EMAIL_URL", "memorymail://")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    from patients.models import Clinic, Patient, Reminder
    from patients.reminders.dispatcher import dispatch

    setup_test_environment()
    print(f"Database: {connection.vendor}; seeding {options.patients:,} patients...", flush=True)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("seed_demo", patients=options.patients, verbosity=1)
    print(f"seed_demo: {time.perf_counter() - started:.1f} s", flush=True)

    client = Client()
    if not client.login(username="coordinator", password="demo-coordinator"):
        sys.exit("Could not sign in as the demo coordinator.")
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None
    pages = {
        "dashboard": "/",
        "patient list": "/patients/",
        "patient list, lapsed": "/patients/?coverage=lapsed",
        "patient page": patient.get_absolute_url(),
        "reports": "/reports/",
        "monthly CSV": "/reports/monthly.csv",
        "patients CSV": "/reports/patients.csv",
        "admin visits": "/admin/patients/visit/",
    }
    print(f"\n{'page':<24}{'median ms':>10}{'queries':>9}")
    for name, path in pages.items():
        client.get(path)  # warm caches and templates
        timings = []
        for _ in range(options.repeat):
            with CaptureQueriesContext(connection) as queries:
                begun = time.perf_counter()
                response = client.get(path)
                response.getvalue()  # a streamed download is only done once its last row is written
                timings.append((time.perf_counter() - begun) * 1000)
            if response.status_code != 200:
                sys.exit(f"{path} answered {response.status_code}")
        print(f"{name:<24}{statistics.median(timings):>10.1f}{len(queries):>9}", flush=True)

    # Every pending reminder made due now, in a clinic whose daytime covers the whole day.
    now = timezone.now()
    due = Reminder.objects.filter(status=Reminder.Status.PENDING)
    count = due.update(send_at=now, next_attempt_at=now)
    Clinic.objects.update(reminder_daytime_start="00:00", reminder_daytime_end="23:59:59")
    begun = time.perf_counter()
    report = dispatch(now=now)
    seconds = time.perf_counter() - begun
    rate = report.sent / seconds if seconds else 0
    print(f"\ndispatch: {report.sent:,} of {count:,} due reminders sent in {seconds:.1f} s ({rate:,.0f} a second)")
    scratch.cleanup()


if __name__ == "__main__":
    main()
