"""Celery tasks: thin wrappers that take ids or nothing, and call services."""

import logging

from celery import shared_task

from patients import services
from patients.models import Clinic
from patients.selectors import clinic_today

logger = logging.getLogger(__name__)


@shared_task
def mark_missed_visits_everywhere() -> int:
    """Mark overdue visits missed in every clinic, each by its own calendar day.

    Beat runs this several times an hour so that each clinic's midnight is caught soon after it
    passes, wherever the clinic is; a run on a day already done changes nothing.
    """
    total = 0
    for clinic in Clinic.objects.all():
        marked = services.mark_missed_visits(today=clinic_today(clinic), clinic=clinic)
        if marked:
            logger.info("Marked %d visits missed at %s", marked, clinic.name)
        total += marked
    return total
