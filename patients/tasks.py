"""Celery tasks: thin wrappers that take ids or nothing, and call services.

Every task takes its notion of time from the clock once and hands it down, and is safe to run
twice: the database, not the broker, decides what has been done.
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from patients import services
from patients.audit import retention as audit_retention
from patients.clinic_time import clinic_today
from patients.imports import run as imports
from patients.models import Clinic
from patients.reminders import dispatcher as reminders
from patients.therapy import counts as attendance_counts
from patients.worklists import digest

logger = logging.getLogger(__name__)


@shared_task
def dispatch_due_reminders() -> int:
    """Beat runs this every minute; a run that overlaps another sends nothing twice."""
    return reminders.dispatch_due_reminders(now=timezone.now())


@shared_task
def send_coordinator_digests() -> int:
    return digest.send_coordinator_digests(now=timezone.now())


@shared_task
def mark_missed_visits_everywhere() -> int:
    """Mark overdue visits missed in every clinic, each by its own calendar day.

    Beat runs this several times an hour so that each clinic's midnight is caught soon after it
    passes, wherever the clinic is; a run on a day already done changes nothing.
    """
    now = timezone.now()
    total = 0
    for clinic in Clinic.objects.all():
        try:
            marked = services.mark_missed_visits(today=clinic_today(clinic), clinic=clinic, now=now)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            # One clinic's trouble must not keep the others' visits from being marked.
            logger.exception("Marking missed visits failed for clinic %s (id %s)", clinic.name, clinic.pk)
            continue
        if marked:
            logger.info("Marked %d visits missed at %s", marked, clinic.name)
        total += marked
    return total


@shared_task
def count_attendance_everywhere() -> int:
    """Beat runs this hourly: in each clinic whose day has turned, every patient's attendance is
    counted for the new day (patients.therapy.counts); a run on a day already counted does nothing."""
    now = timezone.now()
    total = 0
    for clinic in Clinic.objects.all():
        try:
            total += attendance_counts.count_stale(clinic, now=now)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            # One clinic's trouble must not keep the others' counts from moving on.
            logger.exception("Counting attendance failed for clinic %s (id %s)", clinic.name, clinic.pk)
    return total


@shared_task
def prune_audit_trail() -> int:
    """Beat runs this daily: audit rows older than AUDIT_RETENTION_DAYS go; a rerun finds none."""
    return sum(audit_retention.prune_audit_trail(now=timezone.now()).values())


# An import of the largest file a clinic may bring in (IMPORT_MAX_ROWS rows, each through the
# services) takes minutes, far past the other tasks' limit.
IMPORT_SOFT_TIME_LIMIT = 55 * 60


@shared_task(soft_time_limit=IMPORT_SOFT_TIME_LIMIT, time_limit=IMPORT_SOFT_TIME_LIMIT + 5 * 60)
def check_waiting_imports() -> int:
    """Check the uploaded files waiting for it, keeping each one's preview; nothing is saved. Beat
    runs it every minute, which also lets go of the previews left unconfirmed too long."""
    imports.let_go_unconfirmed(now=timezone.now())
    return imports.check_waiting()


@shared_task(soft_time_limit=IMPORT_SOFT_TIME_LIMIT, time_limit=IMPORT_SOFT_TIME_LIMIT + 5 * 60)
def import_confirmed_files() -> int:
    """Import the files their managers confirmed, each all or nothing."""
    return imports.import_waiting()
