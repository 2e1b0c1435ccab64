"""The worklists' queries: one set for the dashboard and the morning digest.

Each function gives one list of one clinic as a queryset, in the order the dashboard shows it: the
dashboard takes the first rows and the count, the digest only the count. Rows come with their
patient (and the latest follow-up call, where a call settles them) through joins and subqueries, so
each list costs a fixed number of queries whatever the number of patients.

The rules come from their homes: coverage and lapse from ``patients.records.schedule``, safety flags
from ``patients.records.safety``, low attendance from ``patients.therapy.attendance``, and the
reminders that need a call from ``Reminder.needing_a_call``.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import TruncDate

from patients.clinic_time import clinic_midnight
from patients.models import Clinic, FollowUpCall, NewestPlacement, Patient, Placement, Reminder, Visit
from patients.records import safety, schedule
from patients.records.selectors import (
    liver_limits,
    may_have_safety_flags,
    of_clinic,
    schedule_rules,
    with_latest_results,
    with_safety_results,
)
from patients.therapy import counts
from patients.therapy.queries import with_attendance

# How far back a missed visit stays on the list: after that the patient is a lapse to chase, not a miss.
MISSED_VISIT_DAYS = 30
# How far back the dashboard lists reminders that did not reach the patient.
FAILED_REMINDER_DAYS = 7
RENEWAL_HORIZON_DAYS = 14
# Call outcomes after which a row no longer waits for a call (until something new happens).
SETTLED_OUTCOMES = (FollowUpCall.Outcome.REACHED, FollowUpCall.Outcome.AGREED_TO_COME, FollowUpCall.Outcome.DECLINED)
# Withdrawn because the patient stopped email: the visits they announced still need a phone call.
STOPPED_EMAIL = (Reminder.CancelReason.CONSENT_WITHDRAWN, Reminder.CancelReason.NO_EMAIL)
# Patients whose therapy attendance the clinic follows.
IN_THERAPY = (Patient.Status.ACTIVE, Patient.Status.LOST_TO_FOLLOW_UP)


def _latest_call(patient_ref: str = "patient") -> dict[str, Subquery]:
    calls = FollowUpCall.objects.filter(patient=OuterRef(patient_ref)).order_by("-called_at")
    return {
        "call_outcome": Subquery(calls.values("outcome")[:1]),
        "call_at": Subquery(calls.values("called_at")[:1]),
        "call_try_again_on": Subquery(calls.values("try_again_on")[:1]),
    }


def awaiting_call(rows: QuerySet[Any], *, since_field: str, clinic: Clinic, today: datetime.date) -> QuerySet[Any]:
    """Rows still waiting for a phone call, with the patient's latest call attached.

    A row waits unless its latest call set a try-again day still ahead, or settled the matter on or
    after the day in ``since_field`` (the lapse or the missed visit it is about). NULLs are spelt
    out: a patient never called has no outcome and no try-again day, and still waits.
    """
    rows = rows.annotate(**_latest_call()).annotate(call_day=TruncDate("call_at", tzinfo=clinic.zone))
    return rows.filter(
        Q(call_try_again_on__isnull=True) | Q(call_try_again_on__lte=today),
        Q(call_outcome__isnull=True) | ~Q(call_outcome__in=SETTLED_OUTCOMES) | Q(call_day__lt=F(since_field)),
    )


def newest_placements_ended(clinic: Clinic, *, today: datetime.date, within: Q | None = None) -> QuerySet[Placement]:
    """Each in-care patient's newest placement, where it no longer covers them on ``today``, and
    its last protected day meets ``within`` (a condition over ``ends_on``), if given.

    The newest placements come from ``NewestPlacement`` (kept by ``patients.records.newest``), by
    the index on their last protected day, so only patients whose cover has ended are read; the
    placement itself is then checked as recorded: ``ends_on`` is its last protected day (the
    planned end, or the removal if earlier).
    """
    in_care = of_clinic(clinic, ~Q(status=Patient.Status.DISCHARGED))
    ended = NewestPlacement.objects.filter(in_care, within or Q(), ends_on__lt=today).values("placement_id")
    return Placement.objects.filter(pk__in=ended, placed_on__lte=today).with_ends_on().filter(ends_on__lt=today)


def lapses(clinic: Clinic, *, today: datetime.date) -> dict[schedule.CoverageState, QuerySet[Placement]]:
    """Coverage lapsed, and re-induction required, each awaiting a call: longest without cover first."""
    conditions = schedule.lapse_conditions(today=today, rules=schedule_rules())
    # Each list reads its own range of last protected days from the kept rows' index, and checks
    # the placement as recorded against the same condition.
    return {
        state: awaiting_call(
            newest_placements_ended(clinic, today=today, within=condition),
            since_field="ends_on",
            clinic=clinic,
            today=today,
        )
        .select_related("patient")
        .filter(condition)
        .order_by("ends_on", "patient__record_number")
        for state, condition in conditions.items()
    }


def open_visits(clinic: Clinic) -> QuerySet[Visit]:
    return Visit.objects.open().filter(patient__clinic=clinic).select_related("patient__clinic")


def open_renewal_windows(clinic: Clinic, *, today: datetime.date) -> QuerySet[Visit]:
    """Renewals that may happen today but are not booked, the one closing soonest first."""
    return (
        open_visits(clinic)
        .filter(kind=Visit.Kind.RENEWAL, window_start__lte=today, window_end__gte=today, appointment_at__isnull=True)
        .order_by("window_end", "patient__record_number")
    )


def renewals_due(clinic: Clinic, *, today: datetime.date) -> QuerySet[Visit]:
    """Renewals due in the next ``RENEWAL_HORIZON_DAYS`` days, booked or not."""
    horizon = today + datetime.timedelta(days=RENEWAL_HORIZON_DAYS)
    return (
        open_visits(clinic)
        .filter(kind=Visit.Kind.RENEWAL, due_on__gte=today, due_on__lte=horizon)
        .order_by("due_on", "pk")
    )


def visits_between(clinic: Clinic, first: datetime.date, end: datetime.date) -> QuerySet[Visit]:
    """Visits booked in [first, end) clinic time, or due then without a booking."""
    return (
        open_visits(clinic)
        .filter(
            Q(appointment_at__gte=clinic_midnight(first, clinic), appointment_at__lt=clinic_midnight(end, clinic))
            | Q(appointment_at__isnull=True, due_on__gte=first, due_on__lt=end)
        )
        .order_by("due_on", "pk")
    )


def missed_awaiting_call(clinic: Clinic, *, today: datetime.date) -> QuerySet[Visit]:
    """Visits marked missed that were due in the last ``MISSED_VISIT_DAYS`` days and still await a
    call, newest first."""
    missed = Visit.objects.filter(
        patient__clinic=clinic,
        status=Visit.Status.MISSED,
        due_on__gte=today - datetime.timedelta(days=MISSED_VISIT_DAYS),
        due_on__lte=today,
    ).select_related("patient__clinic")
    return awaiting_call(missed, since_field="window_end", clinic=clinic, today=today).order_by(
        "-due_on", "patient__record_number"
    )


def reminders_needing_a_call(
    clinic: Clinic, *, since: datetime.datetime, until: datetime.datetime
) -> QuerySet[Reminder]:
    """Reminders meant to go out between ``since`` and ``until`` that did not reach the patient.

    Bounded by time because skipped rows accumulate for every patient without email consent: only
    the ones whose moment has come are calls to make.
    """
    return (
        Reminder.objects.filter(
            Reminder.needing_a_call(), patient__clinic=clinic, send_at__gte=since, send_at__lt=until
        )
        .select_related("patient__clinic", "visit")
        .order_by("send_at", "patient__record_number")
    )


def visits_to_phone_about(clinic: Clinic, *, today: datetime.date, now: datetime.datetime) -> QuerySet[Visit]:
    """Visits still to come of patients who stopped email reminders (unsubscribed, or consent
    withdrawn): each stays on the list until it is over, since no email will announce it."""
    # The few reminders cancelled because email stopped lead (reminder_stopped_email_idx), alone
    # in their subquery, so that the database reads their visits by key and checks each. The
    # visit's own conditions (open, still to come) are one CASE expression, which no index serves:
    # as plain conditions, SQLite (which keeps no statistics here) started from every open visit
    # still to come, through the status indexes, and checked each against the reminders.
    stopped = Reminder.objects.filter(status=Reminder.Status.CANCELLED, cancel_reason__in=STOPPED_EMAIL)
    open_to_come = Case(
        When(~Q(status=Visit.Status.SCHEDULED), then=Value(False)),
        When(appointment_at__isnull=False, then=Q(appointment_at__gte=now)),
        default=Q(window_end__gte=today),
        output_field=BooleanField(),
    )
    no_email = of_clinic(clinic, Q(email_consent=False) | Q(email=""))
    return (
        Visit.objects.filter(open_to_come, no_email, pk__in=stopped.values("visit_id"))
        .select_related("patient__clinic")
        .order_by("due_on", "patient__record_number")
    )


def low_attendance(clinic: Clinic, *, today: datetime.date) -> QuerySet[Patient]:
    """Patients in care with a placement whose therapy attendance is low, by name."""
    patients = Patient.objects.filter(clinic=clinic, status__in=IN_THERAPY).filter(
        Exists(Placement.objects.filter(patient=OuterRef("pk")))
    )
    # The kept counts (patients.therapy.counts), or the live ones for a patient never counted.
    return with_attendance(patients, today=today).filter(counts.counted_low()).order_by("last_name", "first_name")


def safety_flagged(clinic: Clinic, *, today: datetime.date) -> QuerySet[Patient]:
    """Patients not discharged with a safety flag, by name."""
    patients = Patient.objects.filter(clinic=clinic).exclude(status=Patient.Status.DISCHARGED)
    return (
        with_latest_results(may_have_safety_flags(patients, clinic=clinic, today=today), today=today)
        .filter(safety.flagged_to_act_on(liver_limits()))
        .order_by("last_name", "first_name")
    )


def waiting(clinic: Clinic, *, now: datetime.datetime) -> QuerySet[Reminder]:
    """Reminders past their time still pending: waiting for daytime, a retry, or a silent pipeline."""
    return Reminder.objects.filter(
        patient__clinic=clinic, status=Reminder.Status.PENDING, next_attempt_at__lt=now
    ).order_by("next_attempt_at", "pk")


def waiting_reminders(clinic: Clinic, *, now: datetime.datetime) -> int:
    return waiting(clinic, now=now).count()


# How the rows of each kind are loaded for the lines the dashboard shows (patients.worklists.first_rows).


def placement_lines(pks: Iterable[int]) -> QuerySet[Placement]:
    return Placement.objects.filter(pk__in=pks).with_ends_on().select_related("patient").annotate(**_latest_call())


def visit_lines(pks: Iterable[int]) -> QuerySet[Visit]:
    return Visit.objects.filter(pk__in=pks).select_related("patient__clinic").annotate(**_latest_call())


def reminder_lines(pks: Iterable[int]) -> QuerySet[Reminder]:
    return Reminder.objects.filter(pk__in=pks).select_related("patient__clinic", "visit")


def patient_lines(pks: Iterable[int], *, today: datetime.date) -> QuerySet[Patient]:
    """Patients with their attendance counts and latest safety results on ``today``."""
    return with_safety_results(with_attendance(Patient.objects.filter(pk__in=pks), today=today), today=today)
