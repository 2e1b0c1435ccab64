"""The reminder dispatcher: claim due rows, send them, stamp the outcome.

The database decides everything. A row is claimed by a conditional update (and, on PostgreSQL,
``select_for_update(skip_locked=True)`` so that concurrent dispatchers take different rows), sent
with no transaction open, then stamped by the dispatcher holding its claim token. A worker that
dies mid-send leaves its rows ``sending`` until their lease runs out; the next run returns them to
``pending``. The worst case is a duplicate of what was in flight, and every copy of one reminder
carries the same Message-ID.

Every notion of time comes from the ``now`` argument: the dispatcher never reads the wall clock.
It only measures how long its own run has taken, so that leases, retries and stamps in a long run
are dated when they happen: a lease counted from the start of a run that outlasted it would let
the next run take rows this one is still sending.
"""

import datetime
import logging
import smtplib
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import F, Q

from patients import outbox, reminder_timing
from patients.models import Clinic, PipelineHeartbeat, Reminder
from patients.reminder_email import build_reminder_email

logger = logging.getLogger(__name__)


class TransientSendError(Exception):
    """The mail server could not take the message now; the same message may succeed later."""


class PermanentSendError(Exception):
    """The mail server refused the message for good (a 5xx reply)."""


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    recovered: int = 0


def dispatch_due_reminders(*, now: datetime.datetime) -> int:
    """Send every reminder due at ``now`` inside its clinic's daytime; returns how many were sent."""
    return dispatch(now=now).sent


class RunClock:
    """``now``, moved on by the time this run has taken so far (a duration, not the wall clock)."""

    def __init__(self, now: datetime.datetime) -> None:
        self.start = now
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __call__(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.elapsed)


def dispatch(*, now: datetime.datetime) -> DispatchReport:
    clock = RunClock(now)
    _record_heartbeat(now)
    recovered = return_abandoned(now=now)
    expired = expire_passed(now=now)
    sent = retried = failed = 0
    for clinic in Clinic.objects.all():
        if not reminder_timing.is_daytime(now, daytime=outbox.clinic_daytime(clinic), zone=clinic.zone):
            continue  # night in this clinic: its due reminders wait for the morning
        # A run stops taking new batches after a while, well inside the task's time limit: the
        # next run, a minute later, carries on.
        while clock.elapsed < settings.REMINDER_RUN_SECONDS and (
            claimed := _claim(clinic=clinic, due_at=now, clock=clock)
        ):
            outcome = _send_batch(claimed, clock=clock)
            sent, retried, failed = sent + outcome.sent, retried + outcome.retried, failed + outcome.failed
            if outcome.stopped_early:
                break  # the mail server is unwell: the rest waits for the next run
    report = DispatchReport(sent=sent, retried=retried, failed=failed, expired=expired, recovered=recovered)
    if report != DispatchReport():
        logger.info("Reminder dispatch at %s: %s", now.isoformat(), report)
    return report


def _record_heartbeat(now: datetime.datetime) -> None:
    PipelineHeartbeat.objects.update_or_create(name=PipelineHeartbeat.DISPATCHER, defaults={"last_run_at": now})


def return_abandoned(*, now: datetime.datetime) -> int:
    """Rows left ``sending`` past their lease (their worker died) go back to ``pending``."""
    return Reminder.objects.filter(status=Reminder.Status.SENDING, lease_expires_at__lt=now).update(
        status=Reminder.Status.PENDING, claim_token=None, lease_expires_at=None, next_attempt_at=now
    )


def expire_passed(*, now: datetime.datetime) -> int:
    """Advance reminders still unsent when their visit has passed are never sent: phone instead."""
    expired = 0
    for clinic in Clinic.objects.all():
        clinic_today = now.astimezone(clinic.zone).date()
        passed = Q(visit__appointment_at__lte=now) | Q(
            visit__appointment_at__isnull=True, visit__due_on__lt=clinic_today
        )
        stale = Reminder.objects.filter(
            passed, patient__clinic=clinic, status=Reminder.Status.PENDING, kind__in=outbox.ADVANCE_KINDS
        )
        expired += Reminder.objects.filter(pk__in=stale.values("pk"), status=Reminder.Status.PENDING).update(
            status=Reminder.Status.EXPIRED
        )
    return expired


def _claim(*, clinic: Clinic, due_at: datetime.datetime, clock: RunClock) -> list[Reminder]:
    """Take up to a batch of this clinic's rows due at ``due_at`` for this dispatcher alone."""
    token = uuid.uuid4()
    with transaction.atomic():
        due = Reminder.objects.filter(
            patient__clinic=clinic, status=Reminder.Status.PENDING, next_attempt_at__lte=due_at
        ).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("pk", flat=True)[: settings.REMINDER_BATCH_SIZE])
        # Conditional on the status, so a row another dispatcher took in between is left alone.
        Reminder.objects.filter(pk__in=ids, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.SENDING,
            claim_token=token,
            lease_expires_at=clock() + datetime.timedelta(seconds=settings.REMINDER_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    # Oldest due first: a reminder back for a retry must not hold up the ones behind it again.
    claimed = Reminder.objects.filter(claim_token=token).select_related("patient__clinic", "visit")
    return list(claimed.order_by("next_attempt_at", "pk"))


@dataclass
class _BatchOutcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    stopped_early: bool = False


def _send_batch(claimed: list[Reminder], *, clock: RunClock) -> _BatchOutcome:
    outcome = _BatchOutcome()
    mail = get_connection(timeout=settings.EMAIL_TIMEOUT)
    try:
        for position, reminder in enumerate(claimed):
            try:
                message = build_reminder_email(reminder, now=clock())
            except Exception as error:
                # A template that fails for one patient must not hold up the others.
                logger.exception("Reminder %s could not be rendered", reminder.uuid)
                failed = _retry_or_fail(reminder, now=clock(), error=f"Could not render: {error!r}")
                outcome.failed += failed
                outcome.retried += 1 - failed
                continue
            message.connection = mail
            try:
                _send(message)
            except TransientSendError as error:
                failed = _retry_or_fail(reminder, now=clock(), error=str(error))
                outcome.failed += failed
                outcome.retried += 1 - failed
                # The server is down or hanging: hand back the rest of the batch untouched.
                _release(claimed[position + 1 :])
                outcome.stopped_early = True
                break
            except PermanentSendError as error:
                _stamp(reminder, status=Reminder.Status.FAILED, last_error=str(error))
                outcome.failed += 1
            else:
                outcome.sent += _stamp(reminder, status=Reminder.Status.SENT, sent_at=clock())
    finally:
        mail.close()
    return outcome


def _send(message: EmailMessage) -> None:
    """Send one message, sorting failures into passing and permanent ones."""
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentSendError(f"Recipient refused: {codes}") from error
        raise TransientSendError(f"Recipient deferred: {codes}") from error
    except smtplib.SMTPResponseException as error:
        if error.smtp_code >= 500:
            raise PermanentSendError(f"{error.smtp_code} {error.smtp_error!r}") from error
        raise TransientSendError(f"{error.smtp_code} {error.smtp_error!r}") from error
    except (smtplib.SMTPException, OSError) as error:  # OSError covers time-outs and refusals
        # Dropped connections, refused connections and time-outs: the server may be back soon.
        raise TransientSendError(f"{type(error).__name__}: {error}") from error


def _stamp(reminder: Reminder, *, status: str, **changes: object) -> int:
    """Record the outcome, only while this dispatcher still holds the claim."""
    return Reminder.objects.filter(
        pk=reminder.pk, status=Reminder.Status.SENDING, claim_token=reminder.claim_token
    ).update(status=status, claim_token=None, lease_expires_at=None, **changes)


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff: the base wait after the first attempt, doubling after each later one."""
    return datetime.timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def _retry_or_fail(reminder: Reminder, *, now: datetime.datetime, error: str) -> int:
    """Back to pending after a wait, or failed once the attempts are used up; 1 when it failed."""
    if reminder.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        _stamp(reminder, status=Reminder.Status.FAILED, last_error=error)
        return 1
    _stamp(
        reminder,
        status=Reminder.Status.PENDING,
        last_error=error,
        next_attempt_at=now + retry_delay(reminder.attempts),
    )
    return 0


def _release(reminders: list[Reminder]) -> None:
    """Hand back claimed rows that were never tried, without counting an attempt against them."""
    if not reminders:
        return
    Reminder.objects.filter(
        pk__in=[reminder.pk for reminder in reminders],
        status=Reminder.Status.SENDING,
        claim_token=reminders[0].claim_token,
    ).update(status=Reminder.Status.PENDING, claim_token=None, lease_expires_at=None, attempts=F("attempts") - 1)
