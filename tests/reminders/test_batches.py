"""A batch of reminders costs the same however long it is: a constant number of queries to claim,
check and stamp it, and one connection to the mail server; and its rows are still checked against
the plan as it is when they go out."""

import asyncio
import datetime
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients import services
from patients.models import Reminder, Visit
from patients.reminders import claims, sending
from patients.reminders.dispatcher import RunClock, dispatch
from tests.factories import INDUCTION, PatientFactory
from tests.helpers import london
from tests.mail_backends import ScriptedBackend

pytestmark = pytest.mark.django_db

D = datetime.date
SENT_AT = london(D(2026, 6, 28))  # the 3-day reminders of visits due 1 July go out at 10:00


@pytest.fixture
def start(time_machine):
    time_machine.move_to(london(D(2026, 6, 1), 12), tick=False)
    return time_machine


def place(clinic, product, count):
    """``count`` patients placed on 1 June: each has one reminder due at ``SENT_AT``."""
    patients = [PatientFactory(clinic=clinic) for _ in range(count)]
    for patient in patients:
        services.record_placement(patient=patient, product=product, placed_on=D(2026, 6, 1), **INDUCTION)
    return patients


def due_visit(patient):
    return patient.visits.get(kind=Visit.Kind.MONITORING, due_on=D(2026, 7, 1))


def due_row(patient):
    return patient.reminders.get(kind=Reminder.Kind.MONITORING_3_DAYS, visit=due_visit(patient))


class SteppedClock(RunClock):
    """A run's clock whose elapsed time moves only when a test moves it."""

    def __init__(self, now: datetime.datetime) -> None:
        super().__init__(now)
        self.seconds = 0.0

    @property
    def elapsed(self) -> float:
        return self.seconds


def test_a_batch_costs_the_same_queries_at_5_rows_and_at_50(clinic, implant, start, settings, monkeypatch):
    settings.REMINDER_BATCH_SIZE = 50
    # A slow machine must not reach a checkpoint, which reads the rest of a batch again by design.
    monkeypatch.setattr(sending, "CHECKPOINT_SECONDS", 3600.0)
    start.move_to(SENT_AT)
    counts = {}
    for size in (5, 50):
        place(clinic, implant, size)
        clock = RunClock(SENT_AT)
        with CaptureQueriesContext(connection) as queries:
            claimed = claims.claim_batch(clinic=clinic, due_at=SENT_AT, clock=clock)
            outcome = sending.send_batch(claimed, clock=clock)
        assert (len(claimed), outcome.sent) == (size, size)
        counts[size] = len(queries)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 10, counts
    assert len(mail.outbox) == 55


class ConnectionCountingHandler:
    """Accepts every message and notes the client's address and port: one per connection."""

    def __init__(self) -> None:
        self.peers: list[object] = []

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """aiosmtpd on loopback, and Django's SMTP backend pointed at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = ConnectionCountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield handler
    controller.stop()
    asyncio.set_event_loop(None)  # the controller's loop is closed; no later test should find it


def test_each_batch_goes_out_over_one_smtp_connection(clinic, implant, start, settings, smtp_server):
    settings.REMINDER_BATCH_SIZE = 5
    place(clinic, implant, 12)
    start.move_to(SENT_AT)
    assert dispatch(now=SENT_AT).sent == 12
    assert len(smtp_server.peers) == 12
    # Three batches (5, 5 and 2), each over a connection of its own from the first row to the last.
    runs = [peer for position, peer in enumerate(smtp_server.peers) if peer not in smtp_server.peers[:position]]
    assert [smtp_server.peers.count(peer) for peer in runs] == [5, 5, 2]


def test_a_row_whose_visit_is_cancelled_after_its_batch_is_claimed_is_not_sent(clinic, implant, start, scripted_mail):
    first, second, third = place(clinic, implant, 3)
    start.move_to(SENT_AT)
    claimed = claims.claim_batch(clinic=clinic, due_at=SENT_AT, clock=RunClock(SENT_AT))
    assert len(claimed) == 3
    services.cancel_visit(visit=due_visit(second))
    outcome = sending.send_batch(claimed, clock=RunClock(SENT_AT))
    assert (outcome.sent, outcome.withdrawn) == (2, 1)
    assert [message.to for message in mail.outbox] == [[first.email], [third.email]]
    row = due_row(second)
    assert (row.status, row.cancel_reason) == (Reminder.Status.CANCELLED, Reminder.CancelReason.VISIT_CANCELLED)


def test_a_batch_still_sending_after_a_checkpoint_checks_the_rest_again(clinic, implant, start, scripted_mail):
    """The visit of a later row is cancelled while the first row is on the wire, and the server is
    slow: past the checkpoint the rest is read again, and the cancelled row stays unsent."""
    first, second, third = place(clinic, implant, 3)
    start.move_to(SENT_AT)
    clock = SteppedClock(SENT_AT)
    claimed = claims.claim_batch(clinic=clinic, due_at=SENT_AT, clock=clock)

    def cancel_while_slow() -> None:
        services.cancel_visit(visit=due_visit(third))
        clock.seconds += sending.CHECKPOINT_SECONDS

    scripted_mail.append(cancel_while_slow)
    outcome = sending.send_batch(claimed, clock=clock)
    assert (outcome.sent, outcome.withdrawn) == (2, 1)
    assert [message.to for message in mail.outbox] == [[first.email], [second.email]]
    assert due_row(first).status == due_row(second).status == Reminder.Status.SENT
    assert due_row(third).cancel_reason == Reminder.CancelReason.VISIT_CANCELLED
    assert ScriptedBackend.script == []
