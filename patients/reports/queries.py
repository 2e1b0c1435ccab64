"""The monthly figures of the reports page, per clinic, and the patient list it exports.

:func:`tally` is pure (plain dates in, counts out). Around it sit a fixed handful of queries per
clinic, whatever the number of patients or months: never one per patient or per month. The
definitions, as the page gives them; days are the clinic's, and the current month counts to today:

- In care: registered (or placed, if that came first) and not discharged. Paused patients and those
  lost to follow-up are still followed, so still in care. On treatment: in care, from the first
  placement on.
- Covered: from a placement's day to its last protected day (``covers_until``, or the removal day if
  earlier); overlapping placements count a day once.
- Active patients: in care on a day of the month, and covered, or of status "active" (from the
  record's change history), on a day of it.
- Proportion of days covered: covered patient-days ÷ patient-days on treatment.
- Lapse: coverage ended and the next day went uncovered while the patient was in care; it counts in
  the month of that day. Per 100 patient-months: lapses ÷ patient-months on treatment, times 100,
  where a patient-month is as many patient-days as the month has days.
- Renewals on time: of the placements whose ``covers_until`` (the renewal visit's due day) fell in
  the month and has passed, the share followed by a new placement no later than the next day.
  Implants removed early, and patients discharged by the next day, are left out.
- Monitoring visits in their window: of those whose window closed in the month (cancelled ones left
  out), the share completed on a day inside the window.
- Therapy attendance: attended ÷ (attended + missed); excused and clinic-cancelled sessions left out.
- Retention at 90 (180) days: of the patients whose 90th (180th) day after their first placement
  fell in the month, the share still in care and covered on that day.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from patients.clinic_time import clinic_today
from patients.models import Clinic, Patient, Placement, TherapySession, Visit
from patients.records import schedule
from patients.records.selectors import schedule_rules
from patients.reports import kept
from patients.reports.figures import (
    DAY,
    Dose,
    Month,
    MonthCounters,
    MonthFigures,
    PatientHistory,
    Share,
    months_between,
    status_timeline,
    tally,
)
from patients.therapy import attendance as attendance_rule

# The queries: a fixed handful per clinic.


@dataclass(frozen=True)
class ClinicReport:
    clinic: Clinic
    today: datetime.date
    months: list[MonthFigures]


def clinic_report(clinic: Clinic, *, first_month: datetime.date, last_month: datetime.date) -> ClinicReport:
    """The clinic's figures for each month from ``first_month`` to ``last_month`` (to date).

    Months kept from an earlier request (``patients.reports.kept``) are used as they are; the others,
    from the first to the last of them, are worked out and kept. Load ``clinic`` with
    ``select_related("report_figures")`` to read what is kept in the same query.
    """
    today = clinic_today(clinic)
    months = months_between(first_month, last_month, today=today)
    if not months:  # a month that has not begun yet in the clinic's time zone
        return ClinicReport(clinic=clinic, today=today, months=[])
    row = kept.kept_row(clinic)  # read before the records: see kept.keep
    found = kept.usable(row, today=today)
    missing = [index for index, month in enumerate(months) if month.first not in found]
    if missing:
        figures = month_figures(clinic, months[missing[0] : missing[-1] + 1], today=today)
        found |= {month.month.first: month for month in figures}
        kept.keep(clinic, row, found, today=today)
    return ClinicReport(clinic=clinic, today=today, months=[found[month.first] for month in months])


def month_figures(clinic: Clinic, months: list[Month], *, today: datetime.date) -> list[MonthFigures]:
    """The figures of ``months`` (consecutive), worked out from the records: five queries."""
    figures = tally(patient_histories(clinic, since=months[0].first, today=today), months, today=today)
    _add_visit_and_therapy_counts(clinic, figures, today=today)
    return figures


def patient_histories(clinic: Clinic, *, since: datetime.date, today: datetime.date) -> list[PatientHistory]:
    """Every patient of the clinic as plain dates: three queries, whatever the number of patients.

    Placements that ended before ``since`` are not loaded: they cannot cover a reported day, and
    each loaded placement brings its next placement's date along (a correlated subquery on the
    placement index), wherever that one falls.
    """
    zone = clinic.zone
    patients = (
        Patient.objects.filter(clinic=clinic)
        .annotate(first_placed_on=Min("placements__placed_on"))
        .order_by()
        .values_list("pk", "created_at", "status", "discharged_on", "first_placed_on")
    )
    following = Placement.objects.filter(patient=OuterRef("patient"), placed_on__gt=OuterRef("placed_on"))
    placements = (
        Placement.objects.filter(patient__clinic=clinic, covers_until__gte=since - DAY, placed_on__lte=today)
        .annotate(next_placed_on=Subquery(following.order_by("placed_on").values("placed_on")[:1]))
        .order_by("patient_id", "placed_on")
        .values_list("patient_id", "placed_on", "covers_until", "removed_on", "next_placed_on")
    )
    doses: dict[int, list[Dose]] = defaultdict(list)
    for patient_id, placed_on, covers_until, removed_on, next_placed_on in placements:
        ends_on = schedule.last_protected_day(covers_until=covers_until, removed_on=removed_on)
        renewal_due_on = covers_until if ends_on == covers_until else None
        doses[patient_id].append(Dose(placed_on, ends_on, renewal_due_on, next_placed_on))
    versions = (
        Patient.history.filter(clinic_id=clinic.pk)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "history_date", "status", "discharged_on")
    )
    saved: dict[int, list[tuple[datetime.date, str, datetime.date | None]]] = defaultdict(list)
    for patient_id, saved_at, status, discharged_on in versions:
        saved[patient_id].append((timezone.localdate(saved_at, zone), status, discharged_on))
    histories = []
    for patient_id, created_at, status, discharged_on, first_placed_on in patients:
        registered_on = min(timezone.localdate(created_at, zone), first_placed_on or datetime.date.max)
        # A record saved without its history (a raw import) has only its present status.
        versions_of = saved.get(patient_id) or [(registered_on, status, discharged_on)]
        histories.append(
            PatientHistory(registered_on, first_placed_on, doses.get(patient_id, []), status_timeline(versions_of))
        )
    return histories


def _add_visit_and_therapy_counts(clinic: Clinic, figures: list[MonthFigures], *, today: datetime.date) -> None:
    """Monitoring visits and therapy sessions, counted by the database in two queries.

    Grouped by day rather than by month: at most a row per day of the range, and no date function
    for the database to run on every row (on SQLite that is a Python call per row).
    """
    months = MonthCounters(figures)
    first, last = figures[0].month.first, figures[-1].month.last
    completed_in_window = Q(
        status=Visit.Status.COMPLETED, completed_on__gte=F("window_start"), completed_on__lte=F("window_end")
    )
    # A window that closes today may still be kept today: it is judged tomorrow.
    visits = (
        Visit.objects.filter(
            patient__clinic=clinic,
            kind=Visit.Kind.MONITORING,
            window_end__gte=first,
            window_end__lte=min(last, today - DAY),
        )
        .exclude(status=Visit.Status.CANCELLED)
        .order_by()
        .values("window_end")
        .annotate(due=Count("pk"), kept=Count("pk", filter=completed_in_window))
    )
    for row in visits:
        if month := months.on(row["window_end"].toordinal()):
            month.monitoring_in_window.add(row["kept"], row["due"])
    sessions = TherapySession.objects.filter(patient__clinic=clinic, held_on__gte=first, held_on__lte=last)
    for held_on, attendance in _attendance(sessions, by="held_on"):
        if month := months.on(held_on.toordinal()):
            month.therapy_attendance.add(attendance.part, attendance.whole)


def _attendance(sessions: QuerySet[TherapySession], *, by: str) -> Iterator[tuple[Any, Share]]:
    """Attended of attended + missed sessions, grouped by ``by``; excused and cancelled left out."""
    attended, missed = TherapySession.Status.ATTENDED, TherapySession.Status.MISSED
    rows = (
        sessions.filter(status__in=[attended, missed])
        .order_by()
        .values(by)
        .annotate(attended=Count("pk", filter=Q(status=attended)), missed=Count("pk", filter=Q(status=missed)))
    )
    for row in rows:
        yield row[by], Share(part=row["attended"], whole=row["attended"] + row["missed"])


@dataclass(frozen=True)
class ExportedPatient:
    """One line of the patient list export: identifiers, dates and counts, never clinical notes."""

    record_number: str
    name: str
    status: str
    coverage_state: schedule.CoverageState
    covers_until: datetime.date | None
    last_placed_on: datetime.date | None
    next_visit_due_on: datetime.date | None
    therapy_attendance: Share  # attended of attended + missed, counted as the patient page counts


def exported_patients(clinic: Clinic, *, today: datetime.date) -> Iterator[ExportedPatient]:
    """The clinic's patients by record number, with today's coverage: four queries in all."""
    newest = Placement.objects.filter(patient=OuterRef("patient"), placed_on__lte=today).order_by("-placed_on")
    latest = {
        patient_id: schedule.CoverageSpan(
            placed_on, schedule.last_protected_day(covers_until=covers_until, removed_on=removed_on), lead_days
        )
        for patient_id, placed_on, covers_until, removed_on, lead_days in Placement.objects.filter(
            patient__clinic=clinic, pk=Subquery(newest.values("pk")[:1])
        ).values_list("patient_id", "placed_on", "covers_until", "removed_on", "product__renewal_window_lead_days")
    }
    next_due = dict(
        # A window that has closed is a missed visit waiting to be marked, not the next one due.
        Visit.objects.filter(patient__clinic=clinic, status=Visit.Status.SCHEDULED, window_end__gte=today)
        .order_by()
        .values("patient_id")
        .annotate(next_due=Min("due_on"))
        .values_list("patient_id", "next_due")
    )
    recent = TherapySession.objects.filter(
        patient__clinic=clinic, held_on__gte=attendance_rule.counted_since(today), held_on__lte=today
    )
    attendance = dict(_attendance(recent, by="patient_id"))
    rules, labels = schedule_rules(), dict(Patient.Status.choices)
    patients = Patient.objects.filter(clinic=clinic).order_by("record_number")
    for pk, record_number, first_name, last_name, status in patients.values_list(
        "pk", "record_number", "first_name", "last_name", "status"
    ).iterator():
        span = latest.get(pk)
        discharged = status == Patient.Status.DISCHARGED
        yield ExportedPatient(
            record_number=record_number,
            name=f"{first_name} {last_name}",
            status=labels[status],
            coverage_state=schedule.coverage_state(
                spans=[span] if span else [], today=today, discharged=discharged, rules=rules
            ),
            covers_until=span.ends_on if span else None,
            last_placed_on=span.placed_on if span else None,
            next_visit_due_on=next_due.get(pk),
            therapy_attendance=attendance.get(pk, Share()),
        )
