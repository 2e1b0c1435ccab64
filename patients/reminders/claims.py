"""The dispatcher's hold on its rows: claiming a batch under a lease, renewing the leases and reading
the batch again right before its sends, handing back rows never tried, and the housekeeping at the
start of each run (rows abandoned by a dead worker, announcements whose visit has passed).

Every update here is conditional (on the status, the claim token, the lease), so that two
dispatchers never both hold, send or stamp one row.
"""

import datetime
import logging
import time
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from patients.clinic_time import clinic_today
from patients.models import Clinic, Reminder
from patients.reminders import outbox

logger = logging.getLogger(__name__)


class RunClock:
    """``now``, moved on by the time this run has taken so far (a duration, not the wall clock): leases
    and stamps in a long run are dated when they happen."""

    def __init__(self, now: datetime.datetime) -> None:
        self.start = now
        self._started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __call__(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.elapsed)


def described(error: Exception) -> str:
    """An error as the rows and the coordinators' banner keep it: its kind and its message."""
    return f"{type(error).__name__}: {error}"


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
            failures[clinic.pk] = described(error)
    return expired, failures


def claim_batch(*, clinic: Clinic, due_at: datetime.datetime, clock: RunClock) -> list[Reminder]:
    """Take up to a batch of this clinic's rows due at ``due_at`` for this dispatcher alone."""
    token = uuid.uuid4()
    with transaction.atomic():
        due = Reminder.objects.filter(
            patient__clinic=clinic, status=Reminder.Status.PENDING, next_attempt_at__lte=due_at
        ).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        # The ids first, then the update: PostgreSQL may run a LIMIT subquery inside an UPDATE more
        # than once, and so claim more rows than a batch (seen: 72 for a limit of 50).
        ids = list(due.values_list("pk", flat=True)[: settings.REMINDER_BATCH_SIZE])
        # Conditional on the status, so a row another dispatcher took in between is left alone.
        Reminder.objects.filter(pk__in=ids, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.SENDING,
            claim_token=token,
            lease_expires_at=clock() + datetime.timedelta(seconds=settings.REMINDER_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    # The rows alone: ``current_batch`` reads them again with their patients and visits to send them.
    claimed = Reminder.objects.filter(pk__in=ids, claim_token=token)
    # Oldest due first: a reminder back for a retry must not hold up the ones behind it again.
    return list(claimed.order_by("next_attempt_at", "pk"))


def current_batch(claimed: list[Reminder], *, now: datetime.datetime) -> list[Reminder]:
    """The claimed rows still this dispatcher's, read again with their patients and visits (to be
    checked with ``outbox.why_not_send`` before they go out), in the order given: two queries
    however long the batch.

    The leases are renewed first, and only while they still run: a run slower than its lease would
    otherwise pass this check for a row whose lease ran out a moment later, and the next run would
    take it back and send it too. A row whose lease already ran out is left for the next run,
    which sends it once.
    """
    if not claimed:
        return []
    ours = Reminder.objects.filter(
        pk__in=[claim.pk for claim in claimed], status=Reminder.Status.SENDING, claim_token=claimed[0].claim_token
    )
    ours.filter(lease_expires_at__gt=now).update(
        lease_expires_at=now + datetime.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    )
    read = {row.pk: row for row in ours.filter(lease_expires_at__gt=now).select_related("patient__clinic", "visit")}
    return [read[claim.pk] for claim in claimed if claim.pk in read]


def release(reminders: list[Reminder]) -> None:
    """Hand back claimed rows that were never tried, without counting an attempt against them."""
    if not reminders:
        return
    Reminder.objects.filter(
        pk__in=[reminder.pk for reminder in reminders],
        status=Reminder.Status.SENDING,
        claim_token=reminders[0].claim_token,
    ).update(status=Reminder.Status.PENDING, claim_token=None, lease_expires_at=None, attempts=F("attempts") - 1)
