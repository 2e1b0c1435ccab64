"""Fixtures for the integration tests: a real SMTP server, real Celery processes, real Redis.

The tests commit their rows (``django_db(transaction=True)``) into the test database, and the
workers they start read the same database through DATABASE_URL. Every process is killed, and every
server stopped, by the fixture that started it, whatever the test did.

These tests keep the real clock (they are marked ``workers``, which TEST_TODAY leaves alone):
time-machine cannot reach the workers' processes, so every row is built from the real now.
"""

import contextlib
import datetime
import os
import re
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.utils import timezone

from patients import services
from patients.models import Clinic, Reminder
from tests.factories import INDUCTION, ClinicFactory, PatientFactory, ProductFactory
from tests.integration.processes import REPO, Process, RedisServer, celery_command, free_port, supervise, wait_until
from tests.integration.smtp import Received, RecordingHandler, SmtpServer
from tests.service_fixtures import service_missing
from tracker.celery import app

DISPATCH_TASK = "patients.tasks.dispatch_due_reminders"
WORKER_READY_TIMEOUT = 60
# Queue and bookkeeping keys Celery's Redis transport writes; exchange bindings are left alone.
CELERY_KEY_PATTERNS = ("celery", "celery\x06\x16*", "unacked", "unacked_index", "unacked_mutex")
# What the caller's environment must not hand to the processes: they get the test's own values.
DROPPED = {"DATABASE_URL", "REDIS_URL", "EMAIL_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL"}
# The token in a reminder's links starts with the reminder's uuid (patients.reminders.links).
UNSUBSCRIBE_TOKEN = re.compile(r"/(?P<uuid>[0-9a-f]{32})\.")
ALL_DAY = {"reminder_daytime_start": datetime.time(0), "reminder_daytime_end": datetime.time(23, 59, 59, 999999)}


def worker_database_url() -> str:
    """The test database pytest-django set up, as a DATABASE_URL for another process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        credentials = quote(settings["USER"] or "", safe="")
        if settings["PASSWORD"]:
            credentials += ":" + quote(settings["PASSWORD"], safe="")
        host = settings["HOST"] or "127.0.0.1"
        port = settings["PORT"] or 5432
        return f"postgres://{credentials}@{host}:{port}/{quote(settings['NAME'], safe='')}"
    raise NotImplementedError(f"No DATABASE_URL for a {connection.vendor} test database")


def clear_celery_keys(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        for pattern in CELERY_KEY_PATTERNS:
            for key in client.scan_iter(match=pattern):
                client.delete(key)
    finally:
        client.close()


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    """The tests' Redis, without queued tasks left by an earlier test, before and after."""
    clear_celery_keys(redis_url)
    yield redis_url
    clear_celery_keys(redis_url)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Starts SMTP servers on free ports: ``smtp_server(delay=0.005)``; all stopped afterwards."""
    servers: list[SmtpServer] = []

    def start(**handler_options: Any) -> SmtpServer:
        server = SmtpServer(free_port(), RecordingHandler(**handler_options))
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


class Stack:
    """The Celery processes of one test, sharing its database, broker and mail server."""

    def __init__(self, directory: Path, *, broker_url: str, database_url: str) -> None:
        self.directory = directory
        self.broker_url = broker_url
        self.database_url = database_url
        self.processes: list[Process] = []
        self._send_connection = app.connection_for_write(broker_url)

    def environment(self, *, email_url: str, **overrides: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in DROPPED}
        env.update(
            {
                "DJANGO_ENV": "development",
                "DJANGO_SETTINGS_MODULE": "tracker.settings",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.broker_url,
                "EMAIL_URL": email_url,
                "EMAIL_TIMEOUT": "2",
                # Longer than any dispatcher run here; the tests about leases set their own.
                "REMINDER_LEASE_SECONDS": "60",
                # Retries after 1, 2, 4... seconds, so that a test sees several.
                "REMINDER_RETRY_BASE_SECONDS": "1",
                "REMINDER_MAX_ATTEMPTS": "6",
                "REMINDER_BATCH_SIZE": "50",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(overrides)
        return env

    def worker(
        self,
        *,
        email_url: str,
        concurrency: int = 2,
        pool: str = "prefork",
        supervised: bool = False,
        **env: str,
    ) -> Process:
        """A ``celery worker`` on the default queue, started and ready; ``env`` overrides settings.

        ``supervised`` starts it again whenever it exits, as the README asks of a deployment
        (systemd's ``Restart=always``): a worker that holds a task when Redis goes away may end.
        """
        name = f"worker{len(self.processes) + 1}-{uuid.uuid4().hex[:6]}"
        command = celery_command(
            "worker",
            f"--hostname={name}@%h",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        )
        if supervised:
            command = supervise(command)
        process = Process(name, command, env=self.environment(email_url=email_url, **env), log_path=self._log(name))
        self.processes.append(process.start())

        def ready() -> bool:
            if not process.running():
                pytest.fail(f"{process.name} exited before it was ready.\n{process.tail()}", pytrace=False)
            return " ready." in process.log()

        wait_until(ready, timeout=WORKER_READY_TIMEOUT, what=f"{process.name} is ready", logs=process.tail)
        return process

    def beat(self, *, email_url: str, **env: str) -> Process:
        """``celery beat`` with its schedule file in the test's folder; ``env`` overrides settings."""
        name = f"beat{len(self.processes) + 1}"
        command = celery_command("beat", f"--schedule={self.directory / 'beat-schedule'}", "--loglevel=INFO")
        process = Process(name, command, env=self.environment(email_url=email_url, **env), log_path=self._log(name))
        self.processes.append(process.start())
        wait_until(
            lambda: "beat: Starting" in process.log() or not process.running(),
            timeout=WORKER_READY_TIMEOUT,
            what="beat starts",
            logs=process.tail,
        )
        assert process.running(), f"beat exited.\n{process.tail()}"
        return process

    def dispatch(self, times: int = 1) -> None:
        """Send the dispatcher's task through Redis, as beat does."""
        for _ in range(times):
            app.send_task(DISPATCH_TASK, connection=self._send_connection)

    def pump(self, every: float = 0.5) -> Callable[[], None]:
        """A callable for ``wait_until(every=...)``: sends the task again once ``every`` seconds."""
        last = [0.0]

        def send() -> None:
            if time.monotonic() - last[0] >= every:
                last[0] = time.monotonic()
                self.dispatch()

        return send

    def logs(self) -> str:
        return "\n".join(process.tail() for process in self.processes)

    def close(self) -> None:
        for process in self.processes:
            process.kill()
        with contextlib.suppress(Exception):  # a Redis the test stopped may refuse a polite goodbye
            self._send_connection.release()

    def _log(self, name: str) -> Path:
        return self.directory / f"{name}.log"


@pytest.fixture
def stack(transactional_db: None, broker: str, tmp_path: Path) -> Iterator[Stack]:
    """Celery processes on the test database; killed before the database is flushed."""
    started = Stack(tmp_path, broker_url=broker, database_url=worker_database_url())
    yield started
    started.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and start: others' Redis stays up."""
    found = subprocess.run(
        [REPO / "scripts" / "redis-server-path.sh"], capture_output=True, text=True, check=False, cwd=REPO
    )
    if found.returncode != 0:
        service_missing("no redis-server binary (`scripts/redis-server-path.sh --install` installs one).")
    server = RedisServer(found.stdout.strip(), port=free_port(), directory=tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def all_day_clinic(name: str = "Integration Clinic") -> Clinic:
    """A clinic whose daytime window is the whole day, so that a run at any hour sends."""
    return ClinicFactory(name=name, time_zone="UTC", phone="020 7946 0123", **ALL_DAY)


def make_due_reminders(
    count: int, *, clinic: Clinic, per_patient: int = 1, first_names: dict[int, str] | None = None
) -> list[Reminder]:
    """``count`` reminders due a minute ago, ``per_patient`` for each patient, in the order sent.

    Each patient gets a placement through the service, which writes their reminder rows as in the
    clinic; only the times of the rows chosen are moved to a minute ago. A placement plans seven
    reminders, so ``per_patient=7`` makes a thousand rows in a few seconds. ``first_names`` names
    some patients by position (the others are "Alex").
    """
    product = ProductFactory(clinic=clinic)
    first_names = first_names or {}
    patients = [
        PatientFactory(clinic=clinic, first_name=first_names.get(position, "Alex"))
        for position in range(-(-count // per_patient))
    ]
    placed_on = timezone.localdate(timezone=clinic.zone)
    for patient in patients:
        services.record_placement(patient=patient, product=product, placed_on=placed_on, **INDUCTION)
    chosen: list[int] = []
    taken: dict[int, int] = {}
    for patient_id, reminder_id in (
        Reminder.objects.filter(patient__in=patients, status=Reminder.Status.PENDING)
        .order_by("patient_id", "send_at", "pk")
        .values_list("patient_id", "pk")
    ):
        if taken.get(patient_id, 0) < per_patient:
            taken[patient_id] = taken.get(patient_id, 0) + 1
            chosen.append(reminder_id)
    chosen = chosen[:count]
    assert len(chosen) == count, f"{len(patients)} placements planned only {len(chosen)} reminders"
    a_minute_ago = timezone.now() - datetime.timedelta(minutes=1)
    Reminder.objects.filter(pk__in=chosen).update(send_at=a_minute_ago, next_attempt_at=a_minute_ago)
    return list(Reminder.objects.filter(pk__in=chosen).select_related("patient").order_by("pk"))


def reminder_uuid_of(received: Received) -> str:
    """The reminder a received message is for, read from its unsubscribe link, not its Message-ID."""
    match = UNSUBSCRIBE_TOKEN.search(str(received.message["List-Unsubscribe"]))
    assert match, f"no unsubscribe token in {received.message['List-Unsubscribe']!r}"
    return match["uuid"]


def assert_each_delivered_once(reminders: list[Reminder], server: SmtpServer) -> None:
    """Every reminder arrived exactly once, to its patient, with its own Message-ID; all rows sent."""
    received = server.handler.snapshot()
    copies = Counter(message.message_id for message in received)
    expected = {reminder.message_id for reminder in reminders}
    assert set(copies) - expected == set(), "messages nobody asked for"
    assert expected - set(copies) == set(), "reminders lost"
    assert {message_id: n for message_id, n in copies.items() if n > 1} == {}, "duplicates"
    by_message_id = {reminder.message_id: reminder for reminder in reminders}
    for message in received:
        reminder = by_message_id[message.message_id]
        assert message.recipients == (reminder.patient.email,)
        assert reminder_uuid_of(message) == reminder.uuid.hex
    statuses = Counter(Reminder.objects.filter(pk__in=[r.pk for r in reminders]).values_list("status", flat=True))
    assert statuses == {Reminder.Status.SENT: len(reminders)}


def count_with_status(reminders: list[Reminder], status: str) -> int:
    return Reminder.objects.filter(pk__in=[reminder.pk for reminder in reminders], status=status).count()


@pytest.fixture
def own_stack(transactional_db: None, own_redis: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    """Celery processes on the test's own Redis (``own_redis``), which the test may stop."""
    started = Stack(tmp_path, broker_url=own_redis.url, database_url=worker_database_url())
    yield started
    started.close()
