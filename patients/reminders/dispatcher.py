"""The reminder dispatcher: claim due rows, send them, stamp the outcome.

The database decides everything. A row is claimed by a conditional update (and, on PostgreSQL,
``select_for_update(skip_locked=True)`` so that concurrent dispatchers take different rows), sent
with no transaction open, then stamped by the dispatcher holding its claim token. A worker that
dies mid-send leaves its rows ``sending`` until their lease runs out; the next run returns them to
``pending``. The worst case is a duplicate of what was in flight, and every copy of one reminder
carries the same Message-ID.

Plans change while rows wait and while they are in flight. Right before each send, and when an
abandoned row comes back, the row is checked against the records as they are then
(``outbox.why_not_send``): one that is no longer true is cancelled with its reason, never sent. A
row that went out while its visit was being cancelled or moved is followed by the cancellation or
the notice of the new time.

One clinic cannot stop the others: clinics are served a batch each in turn, and an error while
serving one is logged with the clinic, shown on its coordinators' banner, and the run goes on.

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

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.db.models import F, Q

from patients.clinic_time import clinic_today
from patients.models import Clinic, PipelineHeartbeat, Reminder
from patients.reminders import outbox
from patients.reminders import timing as reminder_timing
from patients.reminders.message import build_reminder_email

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
    withdrawn: int = 0
    expired: int = 0
    recovered: int = 0
    clinics_failed: int = 0


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
    recovered = return_abandoned(now=now)
    expired, failures = expire_passed(now=now)
    totals = _BatchOutcome()
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
                claimed = _claim(clinic=clinic, due_at=now, clock=clock)
                outcome = _send_batch(claimed, clock=clock) if claimed else None
            except SoftTimeLimitExceeded:
                raise
            except Exception as error:
                # Whatever went wrong is this clinic's: log it with the clinic, show it to its
                # coordinators, and serve the others.
                logger.exception("Reminder dispatch failed for clinic %s (id %s)", clinic.name, clinic.pk)
                failures[clinic.pk] = f"{type(error).__name__}: {error}"
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
            failures[clinic.pk] = f"{type(error).__name__}: {error}"
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


ABANDONED = "The worker stopped while sending; tried again."


def return_abandoned(*, now: datetime.datetime) -> int:
    """Rows left ``sending`` past their lease (their worker died) are checked again before they go
    back to ``pending``: one no longer true is withdrawn with its reason, and the attempt the dead
    worker used counts, so a row that kills its worker every time ends ``failed``."""
    abandoned = Reminder.objects.filter(status=Reminder.Status.SENDING, lease_expires_at__lt=now)
    back: list[int] = []
    used_up: list[int] = []
    rows = list(abandoned.select_related("patient", "visit"))
    stale: dict[int, str] = {}  # row -> why it is no longer true
    for reminder in rows:
        if reason := outbox.why_not_send(reminder):
            stale[reminder.pk] = reason
        elif reminder.attempts >= settings.REMINDER_MAX_ATTEMPTS:
            used_up.append(reminder.pk)
        else:
            back.append(reminder.pk)
    # Conditional on the lease, so a row another dispatcher returned and claimed meanwhile is left alone.
    released = {"claim_token": None, "lease_expires_at": None}
    returned = abandoned.filter(pk__in=back).update(
        status=Reminder.Status.PENDING, next_attempt_at=now, last_error=ABANDONED, **released
    )
    abandoned.filter(pk__in=used_up).update(status=Reminder.Status.FAILED, last_error=ABANDONED, **released)
    for reason in set(stale.values()):
        abandoned.filter(pk__in=[pk for pk, why in stale.items() if why == reason]).update(
            status=Reminder.Status.CANCELLED, cancel_reason=reason, **released
        )
    # The dead worker may have sent these before it died: the change they missed is announced.
    changed = {Reminder.CancelReason.VISIT_CANCELLED, Reminder.CancelReason.MOVED}
    maybe_sent = [row for row in rows if stale.get(row.pk) in changed]
    if maybe_sent:
        outbox.follow_up_sent(maybe_sent, now=now)
    return returned


def expire_passed(*, now: datetime.datetime) -> tuple[int, dict[int, str]]:
    """Announcements still unsent when their visit has passed are never sent: phone instead.

    Returns how many expired, and the clinics where that failed, with why.
    """
    expired = 0
    failures: dict[int, str] = {}
    for clinic in Clinic.objects.all():
        try:
            today = clinic_today(clinic, now=now)
            passed = Q(visit__appointment_at__lte=now) | Q(visit__appointment_at__isnull=True, visit__due_on__lt=today)
            stale = Reminder.objects.filter(
                passed, patient__clinic=clinic, status=Reminder.Status.PENDING, kind__in=outbox.ANNOUNCING_KINDS
            )
            expired += Reminder.objects.filter(pk__in=stale.values("pk"), status=Reminder.Status.PENDING).update(
                status=Reminder.Status.EXPIRED
            )
        except SoftTimeLimitExceeded:
            raise
        except Exception as error:
            logger.exception("Expiring reminders failed for clinic %s (id %s)", clinic.name, clinic.pk)
            failures[clinic.pk] = f"{type(error).__name__}: {error}"
    return expired, failures


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
    withdrawn: int = 0
    stopped_early: bool = False

    def add(self, other: "_BatchOutcome") -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.withdrawn += other.withdrawn

    def count_attempt(self, failed: bool) -> None:
        if failed:
            self.failed += 1
        else:
            self.retried += 1


def _send_batch(claimed: list[Reminder], *, clock: RunClock) -> _BatchOutcome:
    """Send claimed rows one by one. Whatever goes wrong with one row is recorded on it and counts
    as an attempt; only a mail server that cannot take messages stops the batch. Celery's soft time
    limit stops it too, after handing back every row not yet sent."""
    outcome = _BatchOutcome()
    sent: list[Reminder] = []
    mail = get_connection(timeout=settings.EMAIL_TIMEOUT)
    try:
        for position, claim in enumerate(claimed):
            try:
                if not _send_one(claim, mail=mail, clock=clock, outcome=outcome, sent=sent):
                    # The server is down or hanging: hand back the rest of the batch untouched.
                    _release(claimed[position + 1 :])
                    outcome.stopped_early = True
                    break
            except SoftTimeLimitExceeded:
                # This row may have gone out: it goes back with its attempt counted (a copy carries
                # the same Message-ID); the rest were never tried.
                _retry_or_fail(claim, now=clock(), error="The run reached its time limit while sending.")
                _release(claimed[position + 1 :])
                raise
    finally:
        mail.close()
        if sent:
            outbox.follow_up_sent(sent, now=clock())
    return outcome


def _send_one(
    claim: Reminder, *, mail: BaseEmailBackend, clock: RunClock, outcome: _BatchOutcome, sent: list[Reminder]
) -> bool:
    """Check the row against the records as they are now, then send it; False when the mail server
    cannot take messages."""
    reminder = _current(claim, now=clock())
    if reminder is None:
        return True  # no longer this dispatcher's: its lease ran out and another run took it
    if reason := outbox.why_not_send(reminder):
        outcome.withdrawn += _stamp(reminder, status=Reminder.Status.CANCELLED, cancel_reason=reason)
        return True
    try:
        message = build_reminder_email(reminder, now=clock())
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:
        # A template that fails for one patient must not hold up the others.
        logger.exception("Reminder %s could not be rendered", reminder.uuid)
        outcome.count_attempt(_retry_or_fail(reminder, now=clock(), error=f"Could not render: {_described(error)}"))
        return True
    message.connection = mail
    try:
        _send(message)
    except SoftTimeLimitExceeded:
        raise
    except TransientSendError as error:
        outcome.count_attempt(_retry_or_fail(reminder, now=clock(), error=str(error)))
        return False
    except PermanentSendError as error:
        _stamp(reminder, status=Reminder.Status.FAILED, last_error=str(error))
        outcome.failed += 1
    except Exception as error:
        # A bad address, a backend's bug: recorded on this row alone.
        logger.exception("Reminder %s could not be sent", reminder.uuid)
        outcome.count_attempt(_retry_or_fail(reminder, now=clock(), error=f"Could not send: {_described(error)}"))
    else:
        if _stamp(reminder, status=Reminder.Status.SENT, sent_at=clock()):
            outcome.sent += 1
            sent.append(reminder)
    return True


def _described(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _current(claim: Reminder, *, now: datetime.datetime) -> Reminder | None:
    """The claimed row with its patient and visit read again, right before its send, or ``None``
    when it is no longer this dispatcher's to send.

    The lease is renewed first, and only while it still runs: a run slower than its lease would
    otherwise pass this check for a row whose lease ran out a moment later, and the next run
    would take it back and send it too. A row whose lease already ran out is left for the next
    run, which sends it once.
    """
    ours = Reminder.objects.filter(
        pk=claim.pk, status=Reminder.Status.SENDING, claim_token=claim.claim_token, lease_expires_at__gt=now
    )
    if not ours.update(lease_expires_at=now + datetime.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)):
        return None
    return (
        Reminder.objects.filter(pk=claim.pk, status=Reminder.Status.SENDING, claim_token=claim.claim_token)
        .select_related("patient__clinic", "visit")
        .first()
    )


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


def _retry_or_fail(reminder: Reminder, *, now: datetime.datetime, error: str) -> bool:
    """Back to pending after a wait, or failed once the attempts are used up; True when it failed."""
    if reminder.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        _stamp(reminder, status=Reminder.Status.FAILED, last_error=error)
        return True
    _stamp(
        reminder,
        status=Reminder.Status.PENDING,
        last_error=error,
        next_attempt_at=now + retry_delay(reminder.attempts),
    )
    return False


def _release(reminders: list[Reminder]) -> None:
    """Hand back claimed rows that were never tried, without counting an attempt against them."""
    if not reminders:
        return
    Reminder.objects.filter(
        pk__in=[reminder.pk for reminder in reminders],
        status=Reminder.Status.SENDING,
        claim_token=reminders[0].claim_token,
    ).update(status=Reminder.Status.PENDING, claim_token=None, lease_expires_at=None, attempts=F("attempts") - 1)
