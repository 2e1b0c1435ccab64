"""When parts of the pipeline fail for real, no reminder is lost and duplicates stay bounded.

A worker killed with SIGKILL, Redis gone, a template that fails for one patient: each test breaks
one real part while reminders are due, and checks what the SMTP server and the rows end with.

Marked ``workers``: the workers run in other processes on the real clock, and so do these
tests, whatever TEST_TODAY says.
"""

import datetime
from collections import Counter

import pytest

from patients import services
from patients.models import Reminder, Visit
from tests.integration.conftest import (
    all_day_clinic,
    assert_each_delivered_once,
    count_with_status,
    make_due_reminders,
    reminder_uuid_of,
)
from tests.integration.processes import wait_until

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

BATCH_SIZE = 50
CONCURRENCY = 2
LEASE_SECONDS = 12


def test_a_worker_killed_mid_batch_loses_no_reminder(stack, smtp_server):
    # 10 ms a message: a batch of 50 takes half a second or more, so the kill lands inside one.
    server = smtp_server(delay=0.01)
    reminders = make_due_reminders(1000, clinic=all_day_clinic(), per_patient=7)
    # The lease outlasts any dispatcher run here, so only the kill can cause a duplicate (a run
    # longer than the lease is test_delivery's business).
    options = {"REMINDER_LEASE_SECONDS": str(LEASE_SECONDS), "REMINDER_BATCH_SIZE": str(BATCH_SIZE)}
    worker = stack.worker(email_url=server.url, concurrency=CONCURRENCY, **options)

    stack.dispatch(CONCURRENCY)
    wait_until(
        lambda: server.handler.count() >= 300 and count_with_status(reminders, Reminder.Status.SENDING) > 0,
        timeout=60,
        what="300 reminders delivered, and a batch in flight",
        logs=stack.logs,
    )
    worker.kill()  # SIGKILL to the main process and its pool, at once
    assert not worker.running()
    in_flight = set(
        Reminder.objects.filter(
            pk__in=[reminder.pk for reminder in reminders], status=Reminder.Status.SENDING
        ).values_list("message_id", flat=True)
    )
    delivered_before_restart = server.handler.count()
    assert 0 < len(in_flight) <= BATCH_SIZE * CONCURRENCY
    assert delivered_before_restart < 1000, "the kill came too late to prove anything"
    server.handler.delay = 0  # the rest goes quickly: no run after the restart outlasts the lease

    stack.worker(email_url=server.url, concurrency=CONCURRENCY, **options)
    wait_until(
        lambda: count_with_status(reminders, Reminder.Status.SENT) == 1000,
        timeout=LEASE_SECONDS + 75,
        what="every reminder is sent after the restart and the lease expiry",
        logs=stack.logs,
        every=stack.pump(every=1),
        interval=0.5,
    )

    received = server.handler.snapshot()
    copies = Counter(message.message_id for message in received)
    assert set(copies) == {reminder.message_id for reminder in reminders}, "a reminder was lost"
    duplicated = {message_id for message_id, count in copies.items() if count > 1}
    duplicates = sum(copies[message_id] - 1 for message_id in duplicated)
    assert duplicated - in_flight == set(), (
        f"{len(duplicated - in_flight)} reminders not in flight at the kill sent twice"
    )
    assert duplicates <= len(in_flight), f"{duplicates} duplicates, with {len(in_flight)} in flight at the kill"
    # Every copy of one reminder (found by its link, not its Message-ID) carries that reminder's Message-ID.
    by_uuid = {reminder.uuid.hex: reminder for reminder in reminders}
    for message in received:
        reminder = by_uuid[reminder_uuid_of(message)]
        assert (message.message_id, message.recipients) == (reminder.message_id, (reminder.patient.email,))


def test_rows_a_killed_worker_held_are_checked_against_what_changed_before_they_go_out(stack, smtp_server):
    """While a dead worker's rows wait for their lease, the clinic cancels visits, moves appointments
    and patients unsubscribe: none of those rows goes out after the restart; the rest all do."""
    server = smtp_server(delay=0.02)
    reminders = make_due_reminders(400, clinic=all_day_clinic(), per_patient=1)
    options = {"REMINDER_LEASE_SECONDS": str(LEASE_SECONDS), "REMINDER_BATCH_SIZE": str(BATCH_SIZE)}
    worker = stack.worker(email_url=server.url, concurrency=CONCURRENCY, **options)
    stack.dispatch(CONCURRENCY)
    wait_until(
        lambda: count_with_status(reminders, Reminder.Status.SENDING) >= 9,
        timeout=60,
        what="a batch in flight",
        logs=stack.logs,
    )
    worker.kill()
    held = list(
        Reminder.objects.filter(pk__in=[r.pk for r in reminders], status=Reminder.Status.SENDING)
        .select_related("patient", "visit")
        .order_by("pk")
    )
    assert len(held) >= 9
    # The real clock: this worker runs in processes of its own, which no frozen clock reaches.
    cancelled, moved, unsubscribed = held[0:3], held[3:6], held[6:9]
    for row in cancelled:
        services.cancel_visit(visit=row.visit)
    for row in moved:
        visit = Visit.objects.get(pk=row.visit_id)
        late_in_window = datetime.datetime.combine(visit.window_end, datetime.time(11), tzinfo=datetime.UTC)
        services.reschedule_visit(visit=visit, appointment_at=late_in_window)
    for row in unsubscribed:
        services.withdraw_email_consent(patient=row.patient)
    stale = {row.message_id for row in cancelled + moved + unsubscribed}
    received_before = server.handler.count()
    server.handler.delay = 0

    stack.worker(email_url=server.url, concurrency=CONCURRENCY, **options)
    others = [r for r in reminders if r.message_id not in stale]
    wait_until(
        lambda: (
            count_with_status(others, Reminder.Status.SENT) == len(others)
            and count_with_status(reminders, Reminder.Status.SENDING) == 0
        ),
        timeout=LEASE_SECONDS + 75,
        what="every row still true is sent after the restart and the lease expiry",
        logs=stack.logs,
        every=stack.pump(every=1),
        interval=0.5,
    )
    after = [m.message_id for m in server.handler.snapshot()]
    sent_again = [message_id for message_id in after[received_before:] if message_id in stale]
    assert sent_again == [], "a row held by the dead worker went out after its plan changed"
    reasons = dict(
        Reminder.objects.filter(message_id__in=stale, status=Reminder.Status.CANCELLED).values_list(
            "message_id", "cancel_reason"
        )
    )
    assert reasons == {
        **{row.message_id: Reminder.CancelReason.VISIT_CANCELLED for row in cancelled},
        **{row.message_id: Reminder.CancelReason.MOVED for row in moved},
        **{row.message_id: Reminder.CancelReason.CONSENT_WITHDRAWN for row in unsubscribed},
    }


def test_the_web_app_answers_while_redis_is_down_and_beat_catches_up_after(
    own_stack, own_redis, smtp_server, client, admin_user_account
):
    server = smtp_server()
    clinic = all_day_clinic()
    # Beat runs the dispatcher every 2 s here (tests/integration/worker_settings.py), so that an
    # outage of a few seconds swallows several of its runs.
    beat = own_stack.beat(
        email_url=server.url,
        DJANGO_SETTINGS_MODULE="tests.integration.worker_settings",
        INTEGRATION_DISPATCH_SECONDS="2",
    )
    # Supervised, as the README asks of a deployment: a worker that holds a task when Redis goes
    # away may end (Celery's Redis transport fails to restore the task without a connection), and
    # is started again; the reminders wait in the database meanwhile.
    own_stack.worker(email_url=server.url, supervised=True)
    before = make_due_reminders(2, clinic=clinic)
    wait_until(
        lambda: count_with_status(before, Reminder.Status.SENT) == 2,
        timeout=30,
        what="beat and the worker deliver while Redis is up",
        logs=own_stack.logs,
    )

    own_redis.stop()
    log_before_outage = len(beat.log())
    assert client.get("/admin/login/").status_code == 200
    client.force_login(admin_user_account)
    assert client.get("/admin/").status_code == 200
    # The services write rows without Redis: this records placements and plans their reminders.
    during = make_due_reminders(5, clinic=clinic)
    wait_until(
        lambda: beat.log()[log_before_outage:].count("Message Error") >= 2,
        timeout=30,
        what="beat misses two runs of the dispatcher: it cannot send their task",
        logs=own_stack.logs,
    )
    assert beat.running(), f"beat died with Redis\n{beat.tail()}"
    assert count_with_status(during, Reminder.Status.PENDING) == 5
    assert server.handler.count() == 2

    own_redis.start()  # the same port, empty: every queued task is gone
    wait_until(
        lambda: count_with_status(during, Reminder.Status.SENT) == 5,
        timeout=60,
        what="the reminders that fell due during the outage are sent after Redis returns",
        logs=own_stack.logs,
    )

    assert_each_delivered_once(before + during, server)


def test_a_reminder_that_cannot_be_rendered_fails_after_bounded_attempts_while_the_rest_are_sent(stack, smtp_server):
    server = smtp_server()
    reminders = make_due_reminders(10, clinic=all_day_clinic(), first_names={3: "Unrenderable"})
    broken, others = reminders[3], reminders[:3] + reminders[4:]
    # tests/integration/templates/emails/reminder-body.txt fails for a patient called "Unrenderable".
    stack.worker(
        email_url=server.url, DJANGO_SETTINGS_MODULE="tests.integration.worker_settings", REMINDER_MAX_ATTEMPTS="2"
    )

    stack.dispatch()
    wait_until(
        lambda: (
            count_with_status([broken], Reminder.Status.FAILED) == 1
            and count_with_status(others, Reminder.Status.SENT) == 9
        ),
        timeout=30,
        what="the broken reminder fails and the 9 others are sent",
        logs=stack.logs,
        every=stack.pump(),
    )

    assert_each_delivered_once(others, server)
    broken.refresh_from_db()
    assert broken.attempts == 2
    assert broken.last_error.startswith("Could not render: TemplateDoesNotExist")
    assert broken.sent_at is None
    assert broken.patient.email not in {message.recipients[0] for message in server.handler.snapshot()}
