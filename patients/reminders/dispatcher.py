"""The reminder dispatcher: claim due rows, send them, stamp the outcome.

The database decides everything. A row is claimed by a conditional update (and, on PostgreSQL,
``select_for_update(skip_locked=True)`` so that concurrent dispatchers take different rows), sent
with no transaction open, then stamped by the dispatcher holding its claim token. A worker that
dies mid-send leaves its rows ``sending`` until their lease runs out; the next run returns them to
``pending``. The worst case is a duplicate of what was in flight (the rows its batch sent since it
last stamped its outcomes, at most a second's worth), and every copy of one reminder carries the
same Message-ID.

Plans change while rows wait and while they are in flight. Right before a batch is sent (and
again every second while it is), and when an abandoned row comes back, the rows are checked
against the records as they are then (``outbox.why_not_send``): one that is no longer true is
cancelled with its reason, never sent. A row that went out while its visit was being cancelled or
moved is followed by the cancellation or the notice of the new time.

One clinic cannot stop the others: clinics are served a batch each in turn, and an error while
serving one is logged with the clinic, shown on its coordinators' banner, and the run goes on.

The parts: ``claims`` (claiming under a lease, reading a batch again right before its sends, the
housekeeping at the start of a run) and ``sending`` (the send loop over one mail connection, and
stamping the outcomes together); this module runs them clinic by clinic and records how the run
went.

Every notion of time comes from the ``now`` argument: the dispatcher never reads the wall clock.
It only measures how long its own run has taken, so that leases, retries and stamps in a long run
are dated when they happen: a lease counted from the start of a run that outlasted it would let
the next run take rows this one is still sending.
"""

import datetime
import logging
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from patients.models import Clinic, PipelineHeartbeat
from patients.reminders import claims, outbox, sending
from patients.reminders import timing as reminder_timing

# Addresses the task, the command, the benchmarks and the tests know these by.
from patients.reminders.claims import ABANDONED, RunClock, expire_passed, return_abandoned
from patients.reminders.sending import PermanentSendError, TransientSendError, retry_delay

__all__ = [
    "ABANDONED",
    "DispatchReport",
    "PermanentSendError",
    "RunClock",
    "TransientSendError",
    "dispatch",
    "dispatch_due_reminders",
    "expire_passed",
    "retry_delay",
    "return_abandoned",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    withdrawn: int = 0
    expired: int = 0
    recovered: int = 0
    clinics_failed: int = 0


def dispatch_due_reminders(*, now: datetime.datetime) -> int:
    """Send every reminder due at ``now`` inside its clinic's daytime; returns how many were sent."""
    return dispatch(now=now).sent


def dispatch(*, now: datetime.datetime) -> DispatchReport:
    clock = RunClock(now)
    recovered = claims.return_abandoned(now=now)
    expired, failures = claims.expire_passed(now=now)
    totals = sending.BatchOutcome()
    serving = _clinics_in_daytime(now, failures=failures)
    # One batch per clinic in turn, so that one clinic's backlog cannot use a whole run while
    # another's due rows wait. A run stops taking new batches after a while, well inside the
    # task's time limit: the next run, a minute later, carries on.
    waiting = list(serving)
    while waiting and clock.elapsed < settings.REMINDER_RUN_SECONDS:
        for clinic in list(waiting):
            if clock.elapsed >= settings.REMINDER_RUN_SECONDS:
                break
            try:
                claimed = claims.claim_batch(clinic=clinic, due_at=now, clock=clock)
                outcome = sending.send_batch(claimed, clock=clock) if claimed else None
            except SoftTimeLimitExceeded:
                raise
            except Exception as error:
                # Whatever went wrong is this clinic's: log it with the clinic, show it to its
                # coordinators, and serve the others.
                logger.exception("Reminder dispatch failed for clinic %s (id %s)", clinic.name, clinic.pk)
                failures[clinic.pk] = claims.described(error)
                waiting.remove(clinic)
                continue
            if outcome is None:
                waiting.remove(clinic)
                continue
            totals.add(outcome)
            if outcome.stopped_early:
                waiting = []  # the mail server is unwell: the rest waits for the next run
                break
    _record_clinics(served=[clinic for clinic in serving if clinic.pk not in failures], failures=failures, now=now)
    # Recorded once the run is over: a run that started and died is no sign of a working pipeline.
    _record_heartbeat(now)
    report = DispatchReport(
        sent=totals.sent,
        retried=totals.retried,
        failed=totals.failed,
        withdrawn=totals.withdrawn,
        expired=expired,
        recovered=recovered,
        clinics_failed=len(failures),
    )
    if report != DispatchReport():
        logger.info("Reminder dispatch at %s: %s", now.isoformat(), report)
    return report


def _clinics_in_daytime(now: datetime.datetime, *, failures: dict[int, str]) -> list[Clinic]:
    """The clinics to serve now: night in a clinic means its due reminders wait for the morning. A
    clinic whose hours cannot be worked out joins ``failures``."""
    serving = []
    for clinic in Clinic.objects.exclude(pk__in=failures):
        try:
            if reminder_timing.is_daytime(now, daytime=outbox.clinic_daytime(clinic), zone=clinic.zone):
                serving.append(clinic)
        except Exception as error:
            logger.exception("Reminder hours failed for clinic %s (id %s)", clinic.name, clinic.pk)
            failures[clinic.pk] = claims.described(error)
    return serving


def _record_heartbeat(now: datetime.datetime) -> None:
    PipelineHeartbeat.objects.update_or_create(name=PipelineHeartbeat.DISPATCHER, defaults={"last_run_at": now})


def _record_clinics(*, served: list[Clinic], failures: dict[int, str], now: datetime.datetime) -> None:
    """Each clinic's latest outcome, for its coordinators' banner: served whole, or why not."""
    name = PipelineHeartbeat.dispatcher_name
    if served:
        PipelineHeartbeat.objects.bulk_create(
            [PipelineHeartbeat(name=name(clinic.pk), clinic=clinic, last_run_at=now) for clinic in served],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["last_run_at"],
        )
    if failures:
        PipelineHeartbeat.objects.bulk_create(
            [
                PipelineHeartbeat(name=name(clinic_id), clinic_id=clinic_id, failed_at=now, last_error=error[:2000])
                for clinic_id, error in failures.items()
            ],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["failed_at", "last_error"],
        )
