"""Reminders go out through the real parts: Redis, Celery worker and beat, and an SMTP server.

Each test starts its own SMTP server and Celery processes against the test database and the
tests' Redis, makes reminders due a minute ago in a clinic whose daytime is the whole day, and
waits (bounded) for what arrives at the SMTP server and what the rows say.

Marked ``workers``: the workers run in other processes on the real clock, and so do these
tests, whatever TEST_TODAY says.
"""

import re
import time

import pytest
from django.conf import settings

from patients.models import PipelineHeartbeat, Reminder
from tests.integration.conftest import (
    all_day_clinic,
    assert_each_delivered_once,
    count_with_status,
    make_due_reminders,
)
from tests.integration.processes import wait_until
from tests.integration.smtp import SmtpServer
from tests.service_fixtures import requires_postgres

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

BEAT_INTERVAL = settings.CELERY_BEAT_SCHEDULE["dispatch-due-reminders"]["schedule"]


def test_beat_worker_and_redis_deliver_due_reminders_end_to_end(stack, smtp_server):
    server = smtp_server()
    # Beat first: its first run of the dispatcher comes one interval after it starts.
    beat = stack.beat(email_url=server.url)
    stack.worker(email_url=server.url)
    reminders = make_due_reminders(3, clinic=all_day_clinic())

    wait_until(
        lambda: count_with_status(reminders, Reminder.Status.SENT) == 3,
        timeout=BEAT_INTERVAL + 30,
        what="beat's dispatcher run delivers the 3 due reminders",
        logs=stack.logs,
    )

    assert_each_delivered_once(reminders, server)
    assert "Sending due task dispatch-due-reminders" in beat.log()
    message = server.handler.snapshot()[0].message
    assert message["From"].addresses[0].display_name == "Integration Clinic"
    assert "Integration Clinic" in message["Subject"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [part.get_filename() for part in message.iter_attachments()] == ["appointment.ics"]
    # The heartbeat records a run that finished, so it is written after the rows are stamped.
    finished = PipelineHeartbeat.objects.filter(name=PipelineHeartbeat.DISPATCHER, last_run_at__isnull=False)
    wait_until(
        finished.exists,
        timeout=30,
        what="the dispatcher's run records its heartbeat when it finishes",
        logs=stack.logs,
    )


@requires_postgres
def test_two_workers_send_each_of_1000_due_reminders_exactly_once(stack, smtp_server):
    server = smtp_server()
    reminders = make_due_reminders(1000, clinic=all_day_clinic(), per_patient=7)
    workers = [stack.worker(email_url=server.url, concurrency=2) for _ in range(2)]

    # Four dispatchers at once (two workers, two processes each), each claiming batches of 50.
    stack.dispatch(8)
    wait_until(
        lambda: count_with_status(reminders, Reminder.Status.SENT) == 1000,
        timeout=120,
        what="all 1,000 reminders are sent",
        logs=stack.logs,
        every=stack.pump(every=2),
        interval=0.5,
    )

    assert server.handler.count() == 1000
    assert_each_delivered_once(reminders, server)
    sent_by = [sum(int(n) for n in re.findall(r"DispatchReport\(sent=(\d+)", worker.log())) for worker in workers]
    assert sum(sent_by) == 1000, sent_by
    assert all(sent_by), f"one worker sent nothing, so nothing ran concurrently: {sent_by}"


def test_a_dispatcher_run_that_outlasts_the_lease_keeps_its_reminders_from_the_next_run(stack, smtp_server):
    lease = 5
    # 40 ms a message: the first run needs at least 10 s for 250 reminders, twice the lease.
    server = smtp_server(delay=0.04)
    reminders = make_due_reminders(250, clinic=all_day_clinic(), per_patient=7)
    stack.worker(email_url=server.url, concurrency=2, REMINDER_LEASE_SECONDS=str(lease))

    stack.dispatch()
    started = time.monotonic()
    wait_until(lambda: server.handler.count() > 0, timeout=30, what="the first run sends", logs=stack.logs)
    # Beat's next tick, while the first run, alive and well, is still sending.
    time.sleep(max(0.0, started + lease + 1.5 - time.monotonic()))
    assert server.handler.count() < 200, "the first run ended too soon to overlap the second"
    stack.dispatch()
    wait_until(
        lambda: count_with_status(reminders, Reminder.Status.SENT) == 250,
        timeout=60,
        what="all 250 reminders are sent",
        logs=stack.logs,
        every=stack.pump(every=2),
    )

    assert_each_delivered_once(reminders, server)


@pytest.mark.parametrize("outage", ["stopped", "greylisting"])
def test_reminders_retry_while_the_mail_server_is_unavailable_and_arrive_once_it_is_back(stack, smtp_server, outage):
    server = smtp_server()
    if outage == "stopped":
        server.stop()  # connections to its port are refused
        expected_error = "ConnectionRefusedError"
    else:
        server.handler.refuse_with = "451 4.7.1 Greylisted, try again later"
        expected_error = "Recipient deferred: [451]"
    reminders = make_due_reminders(20, clinic=all_day_clinic())
    stack.worker(email_url=server.url, REMINDER_MAX_ATTEMPTS="20", REMINDER_BATCH_SIZE="5")

    def retrying() -> list[Reminder]:
        return list(
            Reminder.objects.filter(
                pk__in=[reminder.pk for reminder in reminders], status=Reminder.Status.PENDING, attempts__gt=0
            ).exclude(last_error="")
        )

    wait_until(
        lambda: len(retrying()) >= 3,
        timeout=30,
        what="three reminders wait for a retry after a failed attempt",
        logs=stack.logs,
        every=stack.pump(),
    )
    assert count_with_status(reminders, Reminder.Status.SENT) == 0
    assert count_with_status(reminders, Reminder.Status.FAILED) == 0
    assert server.handler.count() == 0
    assert all(expected_error in reminder.last_error for reminder in retrying()), [r.last_error for r in retrying()]

    if outage == "stopped":
        server.start()  # the same port, as a restarted server
    else:
        server.handler.refuse_with = ""
    wait_until(
        lambda: count_with_status(reminders, Reminder.Status.SENT) == 20,
        timeout=60,
        what="all 20 reminders are sent once the server is back",
        logs=stack.logs,
        every=stack.pump(),
    )

    assert_each_delivered_once(reminders, server)


def start_with_a_hang(stack, smtp_server) -> tuple[list[Reminder], Reminder, SmtpServer]:
    """Ten due reminders, and a server that hangs every time it is given the first one's address."""
    reminders = make_due_reminders(10, clinic=all_day_clinic())
    stuck = reminders[0]  # among rows due at the same moment, the first the dispatcher takes
    server = smtp_server(hang_for=stuck.patient.email, hang_times=100, hang_seconds=15)
    # One process only, so the others cannot simply go out through a second one.
    stack.worker(email_url=server.url, pool="solo", EMAIL_TIMEOUT="2", REMINDER_MAX_ATTEMPTS="3")
    stack.dispatch()
    return reminders, stuck, server


def test_a_mail_server_that_hangs_for_one_address_does_not_stop_the_other_sends(stack, smtp_server):
    reminders, stuck, server = start_with_a_hang(stack, smtp_server)
    others = reminders[1:]

    wait_until(
        lambda: (
            count_with_status(others, Reminder.Status.SENT) == 9
            and count_with_status([stuck], Reminder.Status.FAILED) == 1
        ),
        timeout=45,
        what="the 9 others are sent, and the stuck one fails after its attempts",
        logs=stack.logs,
        every=stack.pump(),
    )

    assert_each_delivered_once(others, server)
    stuck.refresh_from_db()
    # Each attempt timed out after EMAIL_TIMEOUT and was retried later, up to REMINDER_MAX_ATTEMPTS.
    assert (stuck.attempts, len(server.handler.hangs)) == (3, 3)
    assert "timed out" in stuck.last_error
    assert stuck.message_id not in {message.message_id for message in server.handler.snapshot()}


def test_a_reminder_being_retried_after_a_time_out_does_not_hold_up_the_others_again(stack, smtp_server):
    reminders, _, server = start_with_a_hang(stack, smtp_server)
    others = reminders[1:]

    wait_until(
        lambda: count_with_status(others, Reminder.Status.SENT) == 9,
        timeout=45,
        what="the 9 others are sent",
        logs=stack.logs,
        every=stack.pump(),
    )

    arrivals = {message.message_id: message.received_at for message in server.handler.snapshot()}
    last_of_the_others = max(arrivals[reminder.message_id] for reminder in others)
    hangs = server.handler.hangs
    # One time-out may cost the others a run; the stuck one's retry must not cost them another.
    assert len(hangs) == 1 or last_of_the_others < hangs[1], (
        f"the others arrived {last_of_the_others - hangs[0]:.1f} s after the first hang, "
        f"behind {sum(hang < last_of_the_others for hang in hangs)} hangs of the stuck one"
    )
