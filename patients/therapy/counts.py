"""Each patient's attendance counts, kept in ``AttendanceCount`` so that the lists of low
attendance cost one row per patient, not a count of every session on every request.

The counts are those of ``patients.therapy.queries.with_attendance`` on the clinic's day. A session
logged recounts its patient in the same transaction; the days counted move on at the clinic's
midnight, so the hourly task (``patients.tasks.count_attendance_everywhere``) recounts every
patient whose counts are from an earlier day. Until it has run on a new day, the dashboard says
how many counts are from the day before. A patient never counted is judged on the live counts.
"""

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from patients.clinic_time import clinic_today
from patients.models import AttendanceCount, Clinic, Patient
from patients.records.selectors import of_clinic
from patients.therapy import attendance
from patients.therapy.queries import with_attendance

# Patients counted and written per statement: bounded memory, and progress to show.
BATCH = 2000
COUNTS = ("attended", "missed", "attended_recently")


def count(patients: QuerySet[Patient], *, today: datetime.date) -> int:
    """Count ``patients``' attendance on ``today`` and keep it; how many were counted."""
    rows = [
        AttendanceCount(patient_id=pk, counted_on=today, attended=attended, missed=missed, attended_recently=recent)
        for pk, attended, missed, recent in with_attendance(patients.order_by(), today=today).values_list(
            "pk", *COUNTS
        )
    ]
    AttendanceCount.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["patient"], update_fields=["counted_on", *COUNTS]
    )
    return len(rows)


def count_patients(patients: Iterable[Patient]) -> int:
    """Recount these patients, each on their clinic's day: after their sessions changed."""
    by_clinic: dict[int, list[int]] = defaultdict(list)
    for patient in patients:
        by_clinic[patient.clinic_id].append(patient.pk)
    clinics = Clinic.objects.in_bulk(list(by_clinic))
    return sum(
        count(Patient.objects.filter(pk__in=pks), today=clinic_today(clinics[clinic_pk]))
        for clinic_pk, pks in by_clinic.items()
    )


def count_stale(
    clinic: Clinic, *, now: datetime.datetime | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recount every patient of ``clinic`` not yet counted on its day, a batch at a time."""
    today = clinic_today(clinic, now=now or timezone.now())
    stale = Patient.objects.filter(clinic=clinic).exclude(attendance_count__counted_on=today)
    pks = list(stale.order_by("pk").values_list("pk", flat=True))
    done = 0
    for start in range(0, len(pks), BATCH):
        with transaction.atomic():
            done += count(Patient.objects.filter(pk__in=pks[start : start + BATCH]), today=today)
        if progress:
            progress(done, len(pks))
    return done


def counted_low(prefix: str = "attendance_count__") -> Q:
    """``attendance.low_attendance`` over the kept counts, for patients counted; the live counts
    (``with_attendance``'s annotations) for patients never counted."""
    kept = attendance.low_attendance(*(prefix + name for name in COUNTS))
    return Q(**{f"{prefix}counted_on__isnull": False}) & kept | Q(**{f"{prefix}counted_on__isnull": True}) & (
        attendance.low_attendance()
    )


def stale(clinic: Clinic, *, today: datetime.date) -> QuerySet[AttendanceCount]:
    """The clinic's counts from an earlier day than ``today``: those the hourly task has yet to redo."""
    # The clinic is checked row by row, so that the database reads only the earlier days' counts
    # (attendance_counted_on_idx), not a count for every patient of the clinic.
    return AttendanceCount.objects.filter(of_clinic(clinic), counted_on__lt=today).order_by("pk")


def by_patient(pks: Iterable[int]) -> QuerySet[AttendanceCount]:
    return AttendanceCount.objects.filter(pk__in=pks)


def stale_in_words(number: int) -> str:
    """The dashboard's note while the day's counts are still to be redone."""
    whose = "1 patient's attendance count is" if number == 1 else f"{number:,} patients' attendance counts are"
    return f"{whose} from an earlier day: the hourly count has not run yet today, so this list may be a day behind."
