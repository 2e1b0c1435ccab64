"""One benchmark run: seed the database DATABASE_URL names, measure it, write the figures as JSON.

``benchmarks/run.py`` starts one of these per database and size, so that each measures a fresh
process and a database built for it. It can be run alone against an empty database:

    DATABASE_URL=sqlite:////tmp/b.sqlite3 .venv/bin/python benchmarks/measure.py --patients 200 --output b.json

It seeds with ``seed_demo --patients N`` (and says how long that took); times each page the
coordinators open, the median of ``--repeat`` requests and its query count; times the same
worklists and monthly figures as hand-written SQL (``raw_sql``); and sends ``--reminders`` due
reminders through the dispatcher into an aiosmtpd server on loopback (``smtp_sink``), then the
same messages through a bare ``smtplib`` loop to the same server.
"""

import argparse
import functools
import json
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--output", type=Path, required=True, help="where to write the figures (JSON)")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page; the median is kept")
    parser.add_argument("--reminders", type=int, default=1000, help="due reminders to dispatch")
    options = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        sys.exit("Set DATABASE_URL to the (empty) database to seed and measure.")
    sys.path.insert(0, str(ROOT))

    with tempfile.TemporaryDirectory(prefix="tracker-benchmark-mail-") as folder:
        # The mail server comes first: EMAIL_URL is read once, when Django sets up.
        mail = MailServer(_free_port(), Path(folder))
        os.environ["EMAIL_URL"] = mail.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
        # As in production: no debug pages, and no per-request query log unless a measure asks for one.
        os.environ.setdefault("DEBUG", "false")
        try:
            figures = measure(options, mail)
        finally:
            mail.stop()
    options.output.write_text(json.dumps(figures, indent=2))


class MailServer:
    """``smtp_sink.py`` in a process of its own, and the messages it has kept."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.url = f"smtp://127.0.0.1:{port}"
        self._process = subprocess.Popen(  # noqa: S603 (this interpreter, this folder's script)
            [sys.executable, str(Path(__file__).with_name("smtp_sink.py")), str(port), str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            sys.exit("The benchmark's mail server did not start.")

    def take(self) -> list[tuple[str, list[str], bytes]]:
        """Every message kept so far (sender, recipients, bytes), forgotten by the server's folder."""
        messages = []
        for body in sorted(self.folder.glob("*.eml")):
            envelope_file = body.with_suffix(".json")
            envelope = json.loads(envelope_file.read_text())
            messages.append((envelope["from"], envelope["to"], body.read_bytes()))
            body.unlink()
            envelope_file.unlink()
        return messages

    def stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def measure(options: argparse.Namespace, mail: MailServer) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    # No setup_test_environment(): it would swap the mail backend for an in-memory one and
    # instrument every template render, and the pages would be timed with that overhead.
    print(f"{connection.vendor}, {options.patients:,} patients: migrating and seeding...", flush=True)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("seed_demo", patients=options.patients, verbosity=1)
    seed_seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        # Autovacuum analyses a bulk load in its own time; a run straight after seeding would
        # otherwise time plans made without statistics, which no working clinic's database has.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"seed_demo: {seed_seconds:.1f} s; measuring...", flush=True)
    return {
        "database": connection.vendor,
        "patients": options.patients,
        "seed_seconds": seed_seconds,
        "pages": measure_pages(repeat=options.repeat),
        "raw_sql": measure_raw_sql(repeat=options.repeat),
        "dispatch": measure_dispatch(mail, reminders=options.reminders),
    }


def _moves_the_session(sql: str) -> bool:
    """The session's own save, once a minute (accounts.idle), and the transaction around it: not
    the page's cost, and left out so that a page's count does not depend on how long the run takes."""
    return sql.startswith(('UPDATE "django_session"', "BEGIN", "COMMIT"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _median_ms(run: Callable[[], object], *, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        begun = time.perf_counter()
        run()
        timings.append((time.perf_counter() - begun) * 1000)
    return statistics.median(timings)


def measure_pages(*, repeat: int) -> dict[str, dict[str, Any]]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from benchmarks.pages import pages as measured_pages
    from patients.models import Patient

    client = Client()
    # Signed in directly: the lockout backend (django-axes) wants a real request to authenticate.
    client.force_login(User.objects.get(username="coordinator"))
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None, "seed_demo made no patients"
    pages = measured_pages(patient)
    figures = {}
    for name, path in pages.items():
        query_counts: set[int] = set()

        def request(path: str = path, query_counts: set[int] = query_counts) -> None:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
                response.getvalue()  # a streamed download is only done once its last row is written
            if response.status_code != 200:
                sys.exit(f"{path} answered {response.status_code}")
            query_counts.add(sum(1 for query in queries if not _moves_the_session(query["sql"])))

        request()  # warm caches and templates
        median = _median_ms(request, repeat=repeat)
        # More than one count means the page's queries depend on something besides the size.
        figures[name] = {"median_ms": median, "queries": max(query_counts), "query_counts": sorted(query_counts)}
        print(f"  {name}: {median:.1f} ms, {sorted(query_counts)} queries", flush=True)
    return figures


def measure_raw_sql(*, repeat: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from benchmarks import raw_sql
    from patients.access import member_clinics
    from patients.clinic_time import clinic_today
    from patients.worklists.dashboard import clinic_worklists
    from patients.worklists.queries import waiting_reminders

    now = timezone.now()
    coordinator = User.objects.get(username="coordinator")
    clinics = list(member_clinics(coordinator))
    prepared = [raw_sql.statements(clinic, now=now, today=clinic_today(clinic)) for clinic in clinics]

    def worklists() -> list[dict[str, int]]:
        return [raw_sql.run_worklists(statements) for statements in prepared]

    def figures() -> None:
        for statements in prepared:
            raw_sql.run_figures(statements)

    # The hand-written lists must find what the app's lists find, or the comparison means nothing.
    raw_counts = worklists()
    app_counts = []
    for clinic in clinics:
        portions = clinic_worklists(clinic, today=clinic_today(clinic), now=now)
        app_counts.append({name: count for name, (_rows, count) in portions.items()})
        app_counts[-1]["waiting reminders"] = waiting_reminders(clinic, now=now)
    agrees = all(_same_totals(raw, app) for raw, app in zip(raw_counts, app_counts, strict=True))
    with CaptureQueriesContext(connection) as queries:
        worklists()
    worklist_queries = len(queries)
    with CaptureQueriesContext(connection) as queries:
        figures()
    figure_queries = len(queries)
    # Each list alone, to show which one grows when the total does.
    by_list = {
        name: _median_ms(functools.partial(_run_worklist, prepared, name), repeat=repeat) for name in raw_sql.WORKLISTS
    }
    result = {
        "worklists_ms": _median_ms(worklists, repeat=repeat),
        "worklist_ms": by_list,
        "worklists_queries": worklist_queries,
        "figures_ms": _median_ms(figures, repeat=repeat),
        "figures_queries": figure_queries,
        "agrees": agrees,
        "raw_counts": raw_counts,
        "app_counts": app_counts,
    }
    slowest = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(by_list.items(), key=lambda item: -item[1])[:3])
    print(
        f"  raw SQL: worklists {result['worklists_ms']:.1f} ms (slowest: {slowest}), "
        f"figures {result['figures_ms']:.1f} ms",
        flush=True,
    )
    return result


def _run_worklist(prepared: list[Any], name: str) -> None:
    from benchmarks import raw_sql

    for statements in prepared:
        raw_sql.run_worklist(statements, name)


def _same_totals(raw: dict[str, int], app: dict[str, int]) -> bool:
    """The app shows failed reminders and visits to phone about as one list; the raw SQL keeps two."""
    raw = dict(raw)
    raw["reminders"] = raw.pop("reminders failed") + raw.pop("stopped email")
    names = {
        "open windows": "open_windows",
        "renewals due": "renewals_due",
        "visits today": "today",
        "visits this week": "this_week",
        "low attendance": "attendance",
        "safety flags": "safety",
    }
    return {names.get(name, name): count for name, count in raw.items()} == app


def measure_dispatch(mail: MailServer, *, reminders: int) -> dict[str, Any]:
    from django.conf import settings
    from django.utils import timezone

    from patients.models import Clinic, Reminder
    from patients.reminders.dispatcher import dispatch

    # The soonest pending reminders made due now, in clinics whose daytime covers the whole day, and
    # one run long enough to send them all.
    now = timezone.now()
    soonest = Reminder.objects.filter(status=Reminder.Status.PENDING).order_by("send_at", "pk")
    chosen = list(soonest.values_list("pk", flat=True)[:reminders])
    Reminder.objects.filter(pk__in=chosen).update(send_at=now, next_attempt_at=now)
    Clinic.objects.update(reminder_daytime_start="00:00", reminder_daytime_end="23:59:59")
    settings.REMINDER_RUN_SECONDS = 24 * 3600
    mail.take()
    begun = time.perf_counter()
    report = dispatch(now=now)
    dispatch_seconds = time.perf_counter() - begun
    messages = mail.take()

    # The same bytes to the same server over one connection: what sending alone costs.
    begun = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", mail.port) as connection:
        for sender, recipients, content in messages:
            connection.sendmail(sender, recipients, content)
    bare_seconds = time.perf_counter() - begun
    delivered = len(mail.take())
    result = {
        "due": len(chosen),
        "sent": report.sent,
        "received": len(messages),
        "dispatch_per_second": report.sent / dispatch_seconds if dispatch_seconds else 0.0,
        "smtplib_sent": delivered,
        "smtplib_per_second": delivered / bare_seconds if bare_seconds else 0.0,
        "message_bytes": statistics.median(len(content) for _, _, content in messages) if messages else 0,
    }
    print(
        f"  dispatch: {report.sent} sent, {result['dispatch_per_second']:.0f}/s; "
        f"bare smtplib {result['smtplib_per_second']:.0f}/s",
        flush=True,
    )
    return result


if __name__ == "__main__":
    main()
