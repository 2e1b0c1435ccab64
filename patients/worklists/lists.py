"""The lists a coordinator works through, for one clinic: the digest email now, the dashboard next.

Each is a bounded number of queries whatever the number of patients: no query per row.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from patients.models import Clinic, Patient, Placement, Reminder, Visit
from patients.records import schedule
from patients.records.selectors import coverage_span, schedule_rules

# How far back a missed visit stays on the list: after that the patient is a lapse to chase, not a miss.
MISSED_VISIT_DAYS = 30
# Reminders that did not reach the patient, so someone has to phone.
NEEDS_A_CALL = (Reminder.Status.FAILED, Reminder.Status.SKIPPED, Reminder.Status.EXPIRED)
# Withdrawn because the patient stopped email: the visits they announced still need a phone call.
STOPPED_EMAIL = (Reminder.CancelReason.CONSENT_WITHDRAWN, Reminder.CancelReason.NO_EMAIL)


@dataclass(frozen=True)
class LapsedPatient:
    patient: Patient
    state: schedule.CoverageState  # LAPSED or REINDUCTION_REQUIRED
    coverage_ended_on: datetime.date
    days_without_cover: int


def newest_placements_ended(clinic: Clinic, *, today: datetime.date) -> QuerySet[Placement]:
    """Each in-care patient's newest placement on or before ``today``, where it no longer covers them.

    One query: the newest placement comes from a correlated subquery on the placement index, and
    ``ends_on`` is the last protected day (the planned end, or the removal if earlier).
    """
    newest = Placement.objects.filter(patient=OuterRef("patient"), placed_on__lte=today).order_by("-placed_on")
    return (
        Placement.objects.filter(patient__clinic=clinic, placed_on__lte=today, pk=Subquery(newest.values("pk")[:1]))
        .exclude(patient__status=Patient.Status.DISCHARGED)
        .with_ends_on()
        .filter(ends_on__lt=today)
    )


def lapsed_patients(clinic: Clinic, *, today: datetime.date) -> list[LapsedPatient]:
    """Patients in care whose newest placement no longer covers them, longest without cover first."""
    rules = schedule_rules()
    lapsed = []
    for placement in newest_placements_ended(clinic, today=today).select_related("patient", "product"):
        state = schedule.coverage_state(spans=[coverage_span(placement)], today=today, discharged=False, rules=rules)
        ended = placement.coverage_ends_on
        lapsed.append(
            LapsedPatient(
                patient=placement.patient,
                state=state,
                coverage_ended_on=ended,
                days_without_cover=(today - ended).days,
            )
        )
    return sorted(lapsed, key=lambda row: (row.coverage_ended_on, row.patient.record_number))


def open_renewal_windows_without_appointment(clinic: Clinic, *, today: datetime.date) -> QuerySet[Visit]:
    """Renewals that may happen today but are not booked, the one closing soonest first."""
    return (
        Visit.objects.open()
        .filter(
            patient__clinic=clinic,
            kind=Visit.Kind.RENEWAL,
            window_start__lte=today,
            window_end__gte=today,
            appointment_at__isnull=True,
        )
        .select_related("patient")
        .order_by("window_end", "patient__record_number")
    )


def recent_missed_visits(clinic: Clinic, *, today: datetime.date, days: int = MISSED_VISIT_DAYS) -> QuerySet[Visit]:
    """Visits marked missed that were due in the last ``days`` days, newest first."""
    return (
        Visit.objects.filter(
            patient__clinic=clinic,
            status=Visit.Status.MISSED,
            due_on__gte=today - datetime.timedelta(days=days),
            due_on__lte=today,
        )
        .select_related("patient")
        .order_by("-due_on", "patient__record_number")
    )


def reminders_needing_a_call(
    clinic: Clinic, *, since: datetime.datetime, until: datetime.datetime
) -> QuerySet[Reminder]:
    """Reminders meant to go out between ``since`` and ``until`` that failed, were skipped or expired.

    Bounded by time because skipped rows accumulate for every patient without email consent: only
    the ones whose moment has come are calls to make.
    """
    return (
        Reminder.objects.filter(patient__clinic=clinic, status__in=NEEDS_A_CALL, send_at__gte=since, send_at__lt=until)
        .select_related("patient", "visit")
        .order_by("send_at", "patient__record_number")
    )


def visits_to_phone_about(clinic: Clinic, *, today: datetime.date, now: datetime.datetime) -> QuerySet[Visit]:
    """Visits still to come of patients who stopped email reminders (unsubscribed, or consent
    withdrawn): each stays on the list until it is over, since no email will announce it."""
    stopped = Reminder.objects.filter(
        visit=OuterRef("pk"), status=Reminder.Status.CANCELLED, cancel_reason__in=STOPPED_EMAIL
    )
    return (
        Visit.objects.open()
        .filter(patient__clinic=clinic)
        .filter(Q(patient__email_consent=False) | Q(patient__email=""))
        .filter(Q(appointment_at__gte=now) | Q(appointment_at__isnull=True, window_end__gte=today))
        .filter(Exists(stopped))
        .select_related("patient")
        .order_by("due_on", "patient__record_number")
    )
