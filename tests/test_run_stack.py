"""`make run` starts the whole development stack, and Ctrl-C stops all of it.

The stack runs for real, as a newcomer would start it: migrate, seed_demo, then honcho with
Django, a Celery worker, Celery beat and Redis. It gets its own ports, a temporary SQLite file and
temporary folders, so it neither clashes with a developer's running stack nor touches the
checkout's var/ (the database, the secret key, mail, Redis's folder, beat's schedule).

The stack's processes run on the real clock, which TEST_TODAY cannot move: the test is marked
``workers``, so it keeps the real clock too and builds its data from it.
"""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.service_fixtures import service_missing

pytestmark = pytest.mark.workers

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 120  # seconds: migrate and seed a new database, then start four processes
STOP_TIMEOUT = 30  # honcho sends SIGTERM, then SIGKILL after 5 s
MAIL_TIMEOUT = 90  # beat runs the dispatcher once a minute
# Run inside the stack's database: a consenting demo patient gets a placement, and its first
# reminder is brought forward to now, as if its day had come. The clinic's daytime covers the
# whole day so the test passes at any hour.
DUE_REMINDER = """
import datetime
from django.utils import timezone
from patients import services
from patients.models import Clinic, Product, Reminder
clinic = Clinic.objects.get(name="Riverside Health Centre")
clinic.reminder_daytime_start, clinic.reminder_daytime_end = datetime.time(0), datetime.time(23, 59, 59)
clinic.save()
patient = services.register_patient(
    clinic=clinic, record_number="STACK-1", first_name="Stack", last_name="Test",
    date_of_birth=datetime.date(1980, 1, 1), email="stack-test@example.org", email_consent=True,
)
placement = services.record_placement(
    patient=patient, product=Product.objects.filter(clinic=clinic, formulation="implant").first(),
    placed_on=timezone.localdate(), opioid_free_days=10, urine_screen="negative", naloxone_challenge="negative",
)
due = timezone.now() - datetime.timedelta(minutes=1)
Reminder.objects.filter(pk=patient.reminders.order_by("send_at").first().pk).update(send_at=due, next_attempt_at=due)
"""
# Every process of the stack inherits this variable: it finds them all, whatever their group.
MARKER = "TRACKER_STACK_TEST"
# Variables of the caller that would point the stack at other services or confuse the inner make.
DROPPED = {"DATABASE_URL", "REDIS_URL", "PORT", "REDIS_PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def marked_pids(marker: str) -> list[int]:
    """The live processes started with MARKER=marker in their environment."""
    needle = f"{MARKER}={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def login_page_status(port: int) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/admin/login/")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def var_database_state() -> int | None:
    path = REPO / "var" / "tracker.sqlite3"
    return path.stat().st_mtime_ns if path.exists() else None


class Output:
    """Collects the stack's output lines in a thread, so the pipe never fills up."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._stdout = process.stdout
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stdout:
            self.lines.append(line.rstrip("\n"))

    def has(self, predicate: Callable[[str], bool]) -> bool:
        return any(predicate(line) for line in list(self.lines))

    def text(self) -> str:
        return "\n".join(self.lines)

    def tail(self, count: int = 80) -> str:
        return "\n".join(self.lines[-count:])

    def join(self) -> None:
        self._thread.join(timeout=10)


def test_make_run_starts_the_stack_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        service_missing("`make` is not installed.")
    found = subprocess.run(
        [REPO / "scripts" / "redis-server-path.sh"], capture_output=True, text=True, check=False, cwd=REPO
    )
    if found.returncode != 0:
        service_missing("no redis-server for `make run` (`make test` installs Debian's when root).")

    web_port, redis_port = free_port(), free_port()
    marker = uuid.uuid4().hex
    env = {name: value for name, value in os.environ.items() if name not in DROPPED}
    env.update(
        {
            MARKER: marker,
            "PORT": str(web_port),
            "REDIS_PORT": str(redis_port),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'stack.sqlite3'}",
            "REDIS_DIR": str(tmp_path / "redis"),
            "BEAT_SCHEDULE_FILE": str(tmp_path / "celerybeat-schedule"),
            "SECRET_KEY": "stack-test-only-" + marker,
            # django-environ reads an absolute path from four slashes.
            "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
            "DJANGO_ENV": "development",
        }
    )
    var_before = var_database_state()

    # A session of its own: SIGINT to its group is what Ctrl-C in a terminal sends.
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    output = Output(process)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        checks: dict[str, Callable[[], bool]] = {
            "GET /admin/login/ answers 200": lambda: login_page_status(web_port) == 200,
            "the worker is ready": lambda: output.has(lambda line: "worker.1" in line and " ready." in line),
            "beat has started": lambda: output.has(lambda line: "beat.1" in line and "beat: Starting" in line),
        }
        pending = dict(checks)
        while pending:
            if process.poll() is not None:
                pytest.fail(f"`make run` exited early (exit {process.returncode}):\n{output.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Not within {STARTUP_TIMEOUT} s: {', '.join(pending)}.\n{output.tail()}")
            pending = {name: check for name, check in pending.items() if not check()}
            time.sleep(0.5)

        text = output.text()
        assert f"http://127.0.0.1:{web_port}/admin/" in text, "the address is not printed"
        assert re.search(r"Demo .+: \S+ / \S+", text), "seed_demo's demo login is not printed"
        assert (tmp_path / "stack.sqlite3").exists(), "the stack did not use DATABASE_URL"

        client = redis.Redis(host="127.0.0.1", port=redis_port, socket_connect_timeout=2)
        assert client.ping()
        client.close()
        # The worker answers through this stack's Redis: REDIS_URL reached the worker.
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "tracker", "inspect", "ping", "--timeout", "10"],
            cwd=REPO,
            env={**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "pong" in ping.stdout, f"celery inspect ping:\n{ping.stdout}\n{ping.stderr}"

        # A consenting patient's placement, then one of its reminders falling due: beat's next
        # dispatch (once a minute) has the worker write the email into the development mail folder.
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", DUE_REMINDER],
            cwd=REPO,
            env={**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"},
            check=True,
            timeout=60,
        )
        mail_deadline = time.monotonic() + MAIL_TIMEOUT
        # The file appears when the worker opens it, and fills a moment later.
        while not any("stack-test@example.org" in sent.read_text() for sent in (tmp_path / "mail").glob("*.log")):
            if time.monotonic() > mail_deadline:
                pytest.fail(f"No email in the mail folder within {MAIL_TIMEOUT} s:\n{output.tail()}")
            time.sleep(1)

        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`make run` still running {STOP_TIMEOUT} s after Ctrl-C:\n{output.tail()}")
        stop_deadline = time.monotonic() + STOP_TIMEOUT
        while marked_pids(marker) and time.monotonic() < stop_deadline:
            time.sleep(0.2)
        assert marked_pids(marker) == [], f"processes left after Ctrl-C:\n{output.tail()}"
        assert not port_open(web_port), "the web port still answers"
        assert not port_open(redis_port), "the Redis port still answers"
        assert var_database_state() == var_before, "var/tracker.sqlite3 was touched"
    finally:
        # Whatever happened above, leave nothing running.
        for pid in marked_pids(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # redis-server rewrites its environment for its process title, so the marker cannot
        # find it: ask it to go by its port instead.
        if port_open(redis_port):
            with contextlib.suppress(redis.RedisError):
                redis.Redis(host="127.0.0.1", port=redis_port, socket_connect_timeout=2).shutdown(nosave=True)
        output.join()
