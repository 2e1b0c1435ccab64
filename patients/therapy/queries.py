"""Therapy reads: each patient's attendance counts, annotated in the database.

The counts are the inputs of ``patients.therapy.attendance``; filter a queryset so annotated with
``attendance.low_attendance()`` to keep the patients whose attendance is low.
"""

import datetime

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from patients.models import Patient, TherapySession
from patients.therapy import attendance


def _sessions(status: str, *, first: datetime.date, last: datetime.date) -> Coalesce:
    """How many of the patient's sessions had ``status`` from ``first`` to ``last``: one index
    range each, far cheaper than grouping every session the clinic ever logged."""
    counted = (
        TherapySession.objects.filter(patient=OuterRef("pk"), status=status, held_on__gte=first, held_on__lte=last)
        .order_by()
        .values("patient")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_attendance(patients: QuerySet[Patient], *, today: datetime.date) -> QuerySet[Patient]:
    """Each patient with ``attended``, ``missed`` and ``attended_recently`` on ``today``."""
    since, recent = attendance.counted_since(today), attendance.recent_since(today)
    return patients.annotate(
        attended=_sessions(attendance.ATTENDED, first=since, last=today),
        missed=_sessions(attendance.MISSED, first=since, last=today),
        attended_recently=_sessions(attendance.ATTENDED, first=recent, last=today),
    )
