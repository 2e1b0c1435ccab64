"""One load run on one database: seed it, then let coordinators use the app while reminders go out.

``benchmarks/load/run.py`` starts one of these per database, so that each gets a fresh process set
up for that database. Alone, against an empty database and a running Redis:

    DATABASE_URL=sqlite:////tmp/l.sqlite3 REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/load/session.py --patients 5000 --output l.json

In order: migrate and ``seed_demo --patients N``; make the ``--reminders`` soonest pending reminders
due now, as ``benchmarks/measure.py`` does; start an SMTP server (``benchmarks/smtp_sink.py``),
gunicorn (4 workers, ``tracker/gunicorn_config.py``) and a Celery worker (as the Procfile starts
it), each with its log in ``--logs``; hand the worker the dispatch task, as beat does, and at once
start locust's coordinators (``locustfile.py``) for ``--duration``. Beat's place is taken by this
process: it sends the task again every minute until no due reminder is left, and waits for that
after locust has finished. The figures go to ``--output`` as JSON.
"""

import argparse
import csv
import datetime
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.measure import MailServer, _free_port  # noqa: E402 (run as a script: the checkout joins the path first)

BIN = Path(sys.executable).parent
# As beat's entry for the task: sent every minute, dropped when not started within 55 seconds.
DISPATCH_EVERY_SECONDS = 60
DISPATCH_EXPIRES_SECONDS = 55
LOCKED = "database is locked"
# Seconds a coordinator spends on a page before opening the next: a busy one. Shorter, and the
# figures would measure the queue in front of gunicorn rather than the pages.
PAUSE_SECONDS = (2, 8)
# Django's CSRF token as the sign-in form carries it.
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--reminders", type=int, default=10_000, help="due reminders the dispatcher drains")
    parser.add_argument("--users", type=int, default=30, help="coordinators signed in at once")
    parser.add_argument("--duration", default="60s", help="how long locust runs (locust's --run-time)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument(
        "--drain-timeout", type=float, default=600, help="seconds to wait, after locust, for the reminders left"
    )
    parser.add_argument("--logs", type=Path, required=True, help="folder for the services' logs")
    parser.add_argument("--output", type=Path, required=True, help="where to write the figures (JSON)")
    options = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL"):
        if name not in os.environ:
            sys.exit(f"Set {name} (make load starts both services).")
    options.logs.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="tracker-load-") as scratch:
        mail_folder = Path(scratch) / "mail"
        mail_folder.mkdir()
        mail = MailServer(_free_port(), mail_folder)
        # Every process started below inherits these: the same database, broker and mail server.
        os.environ["EMAIL_URL"] = mail.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
        # As in production: no debug pages, and no per-request query log.
        os.environ["DEBUG"] = "false"
        try:
            figures = run(options, mail_folder, Path(scratch))
        finally:
            mail.stop()
    options.output.write_text(json.dumps(figures, indent=2))


def run(options: argparse.Namespace, mail_folder: Path, scratch: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection

    vendor = connection.vendor
    due_at, due = prepare(options)
    targets = scratch / "targets.json"
    signed_in = load_targets()
    # Nothing of this process may hold the database while the others work on it (SQLite's lock).
    connection.close()

    web_log, worker_log, locust_log = (
        options.logs / f"{vendor}-{name}.log" for name in ("gunicorn", "worker", "locust")
    )
    port = _free_port()
    with started_gunicorn(port, options.web_workers, web_log), started_worker(worker_log):
        print(f"{vendor}: {options.users} coordinators signing in...", flush=True)
        sessions, sign_in_ms = sign_in_all(port, signed_in["username"], signed_in["password"], options.users)
        targets.write_text(json.dumps({**signed_in, "sessions": sessions, "pause_seconds": PAUSE_SECONDS}))
        print(f"{vendor}: {options.users} coordinators for {options.duration} while {due:,} reminders go out...")
        timeline = load_and_dispatch(options, port, targets, mail_folder, due_at, locust_log, scratch)
    pages = read_locust_stats(scratch / "locust_stats.csv")
    locks = {str(log): _count(log, LOCKED) for log in (web_log, worker_log)}
    return {
        "database": vendor,
        "patients": options.patients,
        "users": options.users,
        "duration": options.duration,
        "web_workers": options.web_workers,
        "pause_seconds": PAUSE_SECONDS,
        "pages": pages,
        "sign_in_ms": sign_in_ms,
        "dispatch": timeline,
        "locked": locks,
        "tracebacks": {str(log): _count(log, "Traceback") for log in (web_log, worker_log)},
        "logs": [str(web_log), str(worker_log), str(locust_log)],
    }


def prepare(options: argparse.Namespace) -> tuple[datetime.datetime, int]:
    """Migrates, seeds, and makes the soonest pending reminders due now; returns that moment (which
    finds them again) and how many there are."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from patients.models import Clinic, Reminder

    print(f"{connection.vendor}, {options.patients:,} patients: migrating and seeding...", flush=True)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("seed_demo", patients=options.patients, verbosity=1)
    print(f"seed_demo: {time.perf_counter() - started:.1f} s", flush=True)
    if connection.vendor == "postgresql":
        # As benchmarks/measure.py: plans made with statistics, as a working database has them.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    now = timezone.now()
    soonest = Reminder.objects.filter(status=Reminder.Status.PENDING).order_by("send_at", "pk")
    chosen = list(soonest.values_list("pk", flat=True)[: options.reminders])
    if len(chosen) < options.reminders:
        sys.exit(
            f"{options.patients:,} patients hold only {len(chosen):,} pending reminders, fewer than "
            f"{options.reminders:,}: seed more patients (PATIENTS=...) or ask for fewer (REMINDERS=...)."
        )
    for start in range(0, len(chosen), 500):  # SQLite caps the parameters of one statement
        Reminder.objects.filter(pk__in=chosen[start : start + 500]).update(send_at=now, next_attempt_at=now)
    # Daytime all day long, so that the run sends whatever the hour in the clinic's zone.
    Clinic.objects.update(reminder_daytime_start="00:00", reminder_daytime_end="23:59:59")
    return now, len(chosen)


def load_targets() -> dict[str, Any]:
    """What the coordinators open: pages and surnames of the demo coordinator's own patients."""
    from django.conf import settings
    from django.contrib.auth.models import User

    from patients.access import member_clinics
    from patients.management.commands.seed_demo import LOGINS
    from patients.models import Patient

    username, password = next((login[1], login[2]) for login in LOGINS if login[1] == "coordinator")
    clinics = member_clinics(User.objects.get(username=username))
    patients = list(Patient.objects.filter(clinic__in=clinics).order_by("?")[:200])
    return {
        "username": username,
        "password": password,
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "patient_pages": [patient.get_absolute_url() for patient in patients],
        "searches": sorted({patient.last_name for patient in patients}),
    }


def sign_in_all(port: int, username: str, password: str, users: int) -> tuple[list[str], list[float]]:
    """Signs in ``users`` times through the sign-in form, four at a time (one per gunicorn worker, which
    also loads the app in each); returns the session keys and how long each sign-in took."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        signed = list(pool.map(lambda _: _sign_in(port, username, password), range(users)))
    return [key for key, _ms in signed], [ms for _key, ms in signed]


def _sign_in(port: int, username: str, password: str) -> tuple[str, float]:
    from django.conf import settings

    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    url = f"http://127.0.0.1:{port}/accounts/login/"
    begun = time.perf_counter()
    with browser.open(url, timeout=60) as form:
        token = CSRF_FIELD.search(form.read().decode())
    fields = {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""}
    # A sign-in that works goes on to the dashboard; a refused one shows the form again.
    with browser.open(url, data=urllib.parse.urlencode(fields).encode(), timeout=60) as page:
        landed = urllib.parse.urlsplit(page.geturl()).path
    took = (time.perf_counter() - begun) * 1000
    session = next((cookie.value for cookie in cookies if cookie.name == settings.SESSION_COOKIE_NAME), None)
    if landed != "/" or not session:
        sys.exit(f"Signing in as {username} failed: the form led to {landed}.")
    return session, took


def due_left(due_at: datetime.datetime) -> dict[str, int]:
    """The due reminders by status: those still ``pending`` or ``sending`` have not gone yet."""
    from django.db import connection
    from django.db.models import Count

    from patients.models import Reminder

    try:
        rows = Reminder.objects.filter(send_at=due_at).values_list("status").annotate(count=Count("pk"))
        return {str(status): count for status, count in rows}
    finally:
        connection.close()  # as above: no lock held between two looks


def load_and_dispatch(
    options: argparse.Namespace,
    port: int,
    targets: Path,
    mail_folder: Path,
    due_at: datetime.datetime,
    locust_log: Path,
    scratch: Path,
) -> dict[str, Any]:
    from patients.models import Reminder
    from patients.tasks import dispatch_due_reminders

    def arrived() -> int:
        return sum(1 for _ in mail_folder.glob("*.eml"))

    def dispatch_now() -> None:
        dispatch_due_reminders.apply_async(expires=DISPATCH_EXPIRES_SECONDS)

    waiting = {Reminder.Status.PENDING.value, Reminder.Status.SENDING.value}
    begun = time.monotonic()
    dispatch_now()
    dispatched_at = begun
    locust = start_locust(options, port, targets, locust_log, scratch)
    load_begun = time.monotonic()
    next_progress = load_begun + 10
    while locust.poll() is None:
        time.sleep(0.5)
        now = time.monotonic()
        if now - dispatched_at >= DISPATCH_EVERY_SECONDS:
            dispatch_now()
            dispatched_at = now
        if now >= next_progress:
            print(f"  {now - load_begun:.0f} s: {arrived():,} reminders received", flush=True)
            next_progress += 10
    load_seconds = time.monotonic() - load_begun
    sent_during_load = arrived()
    if locust.returncode not in (0, 1):  # 1: locust saw failed requests, which the table shows
        sys.exit(f"locust stopped with exit code {locust.returncode}; see {locust_log}")

    print(f"  locust done; waiting for the reminders left (at most {options.drain_timeout:.0f} s)...", flush=True)
    deadline = time.monotonic() + options.drain_timeout
    statuses = due_left(due_at)
    while waiting & statuses.keys() and time.monotonic() < deadline:
        time.sleep(2)
        now = time.monotonic()
        if now - dispatched_at >= DISPATCH_EVERY_SECONDS:
            dispatch_now()
            dispatched_at = now
        statuses = due_left(due_at)
        if now >= next_progress:
            print(f"  {now - load_begun:.0f} s: {arrived():,} reminders received", flush=True)
            next_progress += 10
    drained = not waiting & statuses.keys()
    return {
        "due": sum(statuses.values()),
        "sent_during_load": sent_during_load,
        "load_seconds": load_seconds,
        "per_second_during_load": sent_during_load / load_seconds if load_seconds else 0.0,
        "drained": drained,
        "drain_seconds": time.monotonic() - begun if drained else None,
        "received": arrived(),
        "statuses": statuses,
    }


def start_locust(
    options: argparse.Namespace, port: int, targets: Path, log: Path, scratch: Path
) -> "subprocess.Popen[bytes]":
    command = [
        str(BIN / "locust"),
        "--locustfile",
        str(HERE / "locustfile.py"),
        "--headless",
        "--users",
        str(options.users),
        "--spawn-rate",
        "10",
        "--run-time",
        options.duration,
        "--host",
        f"http://127.0.0.1:{port}",
        "--csv",
        str(scratch / "locust"),
        "--only-summary",
        # Requests still in flight when the time is up are finished and counted, not cut off.
        "--stop-timeout",
        "30",
    ]
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 (this venv's locust, this folder's locustfile)
            command, env={**os.environ, "LOAD_TARGETS": str(targets)}, cwd=ROOT, stdout=output, stderr=output
        )


@contextmanager
def started_gunicorn(port: int, workers: int, log: Path) -> Iterator[None]:
    # No control socket: it would sit in the home folder, shared with any other gunicorn there.
    config = str(ROOT / "tracker" / "gunicorn_config.py")
    command = [str(BIN / "gunicorn"), "-c", config, "--no-control-socket", "tracker.wsgi"]
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    with _service(command, env, log):
        _wait_for_page(f"http://127.0.0.1:{port}/accounts/login/", log)
        yield


@contextmanager
def started_worker(log: Path) -> Iterator[None]:
    # As the Procfile starts it for `make run`.
    command = [str(BIN / "celery"), "-A", "tracker", "worker", "--concurrency", "2", "-l", "info"]
    with _service(command, dict(os.environ), log):
        _wait_for_text(log, " ready.")
        yield


@contextmanager
def _service(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """A process of its own (in a session of its own, so that its children stop with it), with its
    output in ``log``, stopped on the way out."""
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (this venv's programs)
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_page(url: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback, http)
                if response.status == 200:
                    return
        except OSError:  # not listening yet, or its workers still starting
            pass
        if time.monotonic() > deadline:
            sys.exit(f"gunicorn did not answer {url} within {seconds:.0f} s; see {log}")
        time.sleep(0.5)


def _wait_for_text(log: Path, text: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            sys.exit(f"The Celery worker was not ready within {seconds:.0f} s; see {log}")
        time.sleep(0.5)


def _count(log: Path, text: str) -> int:
    return log.read_text(errors="replace").count(text)


def read_locust_stats(path: Path) -> dict[str, dict[str, Any]]:
    """locust's per-request figures, by request name (its "Aggregated" row is the whole run)."""
    pages: dict[str, dict[str, Any]] = {}
    with path.open(newline="") as stats:
        for row in csv.DictReader(stats):
            name = row["Name"]
            figures = pages.setdefault(name, {"requests": 0, "failures": 0, "per_second": 0.0, "rows": []})
            figures["requests"] += int(row["Request Count"])
            figures["failures"] += int(row["Failure Count"])
            figures["per_second"] += float(row["Requests/s"])
            figures["rows"].append({key: row[key] for key in ("Type", "50%", "95%", "99%", "Max Response Time")})
    for figures in pages.values():
        # One row per name, except "sign in" (its form, then the post): the slower row stands for it.
        figures["p50_ms"], figures["p95_ms"], figures["p99_ms"], figures["max_ms"] = (
            max(_ms(row[key]) for row in figures["rows"]) for key in ("50%", "95%", "99%", "Max Response Time")
        )
    return pages


def _ms(value: str) -> float:
    return float(value) if value not in ("", "N/A") else 0.0


if __name__ == "__main__":
    main()
