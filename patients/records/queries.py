"""Reads for the Patients list and the patient page, each a fixed number of queries.

Coverage is never stored: it follows from each patient's newest placement. The list asks the
database for that placement's dates per patient only where the whole list needs them (sorting by
coverage end, filtering by coverage state: correlated subqueries on the placement index), then
loads the shown page's newest placements and next visits in one query each, and applies
``schedule.coverage_state`` in Python. A page costs the same queries at 50 patients or 50,000.
The arithmetic lives in the pure modules ``patients.records.schedule``, ``patients.records.summary`` and
``patients.records.timeline``; this module only gathers rows for them.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from patients import formats
from patients.clinic_time import ClinicDays, clinic_today
from patients.models import FollowUpCall, Patient, Placement, Reminder, TherapySession, Visit
from patients.models.querysets import PlacementQuerySet
from patients.records import schedule, timeline
from patients.records.safety import Flag, safety_flags
from patients.records.selectors import coverage_span, liver_limits, schedule_rules
from patients.records.summary import findings_summary
from patients.therapy.attendance import Attendance, attendance

PAGE_SIZE = 50
# Sort keys the list accepts, each with its ORDER BY; names break every tie so pages never shuffle.
NAME_ORDER = ("last_name", "first_name", "record_number")
SORTS: dict[str, tuple[Any, ...]] = {
    "name": NAME_ORDER,
    "-name": ("-last_name", "-first_name", "-record_number"),
    "record": ("record_number", "clinic__name"),
    "-record": ("-record_number", "-clinic__name"),
    # Soonest end first: lapsed patients lead, and patients never placed come last either way.
    "covers_until": (F("coverage_ends_on").asc(nulls_last=True), *NAME_ORDER),
    "-covers_until": (F("coverage_ends_on").desc(nulls_last=True), *NAME_ORDER),
}


# The Patients list


@dataclass(frozen=True)
class PatientRow:
    uuid: str
    record_number: str
    full_name: str
    status: str
    status_label: str
    clinic_name: str
    counsellor_name: str
    state: schedule.CoverageState
    coverage_ends_on: datetime.date | None
    next_visit_due: datetime.date | None
    next_visit_kind: str
    today: datetime.date  # in the patient's clinic

    @property
    def next_visit_overdue(self) -> bool:
        return self.next_visit_due is not None and self.next_visit_due < self.today


def search(patients: QuerySet[Patient], text: str) -> QuerySet[Patient]:
    """Every word must match a first name, last name or record number ("ada love" finds Ada Lovelace)."""
    for word in text.split():
        patients = patients.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(record_number__icontains=word)
        )
    return patients


def _newest_placement() -> PlacementQuerySet:
    """Inside a patient query: that patient's newest placement, on the (patient, -placed_on) index.

    No "on or before today" test is needed: the service refuses a placement dated after the
    clinic's today.
    """
    return Placement.objects.filter(patient=OuterRef("pk")).order_by("-placed_on")


def with_coverage_end(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Each patient with the last protected day of their newest placement, to sort by."""
    ends = _newest_placement().with_ends_on()
    return patients.annotate(coverage_ends_on=Subquery(ends.values("ends_on")[:1]))


def with_state_inputs(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Each patient with what ``schedule.coverage_state`` needs to know of their newest placement."""
    newest = _newest_placement()
    return with_coverage_end(patients).annotate(
        newest_placed_on=Subquery(newest.values("placed_on")[:1]),
        newest_lead_days=Subquery(newest.values("product__renewal_window_lead_days")[:1]),
    )


def _state(
    span: schedule.CoverageSpan | None, *, status: str, today: datetime.date, rules: schedule.ScheduleRules
) -> schedule.CoverageState:
    return schedule.coverage_state(
        spans=[span] if span else [], today=today, discharged=status == Patient.Status.DISCHARGED, rules=rules
    )


def _span_from_row(row: dict[str, Any]) -> schedule.CoverageSpan | None:
    if row["newest_placed_on"] is None:
        return None
    return schedule.CoverageSpan(
        placed_on=row["newest_placed_on"], ends_on=row["coverage_ends_on"], renewal_lead_days=row["newest_lead_days"]
    )


ROW_FIELDS = (
    "pk",
    "uuid",
    "record_number",
    "first_name",
    "last_name",
    "status",
    "clinic__name",
    "clinic__time_zone",
    "counsellor__first_name",
    "counsellor__last_name",
    "counsellor__username",
)
STATE_FIELDS = ("pk", "status", "clinic__time_zone", "newest_placed_on", "newest_lead_days", "coverage_ends_on")
# Every visit status but scheduled. Asking for "not these" rather than "status = scheduled" keeps
# SQLite on the visit's patient index: without table statistics it prefers the (status, due_on)
# index and reads every scheduled visit of every patient (seconds at 10,000 patients).
NOT_SCHEDULED = [status for status in Visit.Status.values if status != Visit.Status.SCHEDULED]


def _rows_for_page(
    rows: Sequence[dict[str, Any]], *, days: ClinicDays, rules: schedule.ScheduleRules
) -> list[PatientRow]:
    """The page's rows with their coverage and next visit: two queries for the whole page."""
    keys = [row["pk"] for row in rows]
    if not keys:
        return []
    newest_pk = Placement.objects.filter(patient=OuterRef("patient")).order_by("-placed_on").values("pk")[:1]
    newest = {
        placement.patient_id: placement
        for placement in Placement.objects.filter(patient_id__in=keys, pk=Subquery(newest_pk)).select_related(
            "product"
        )
    }
    upcoming: dict[int, Visit] = {}
    visits = Visit.objects.filter(patient_id__in=keys).exclude(status__in=NOT_SCHEDULED)
    for visit in visits.order_by("patient_id", "due_on", "pk").only("patient_id", "due_on", "kind"):
        upcoming.setdefault(visit.patient_id, visit)
    result = []
    for row in rows:
        today = days.today(row["clinic__time_zone"])
        placement, visit = newest.get(row["pk"]), upcoming.get(row["pk"])
        span = coverage_span(placement) if placement else None
        counsellor = " ".join(filter(None, (row["counsellor__first_name"], row["counsellor__last_name"])))
        result.append(
            PatientRow(
                uuid=str(row["uuid"]),
                record_number=row["record_number"],
                full_name=f"{row['first_name']} {row['last_name']}",
                status=row["status"],
                status_label=Patient.Status(row["status"]).label,
                clinic_name=row["clinic__name"],
                counsellor_name=counsellor or row["counsellor__username"] or "",
                state=_state(span, status=row["status"], today=today, rules=rules),
                coverage_ends_on=span.ends_on if span else None,
                next_visit_due=visit.due_on if visit else None,
                next_visit_kind=visit.get_kind_display() if visit else "",
                today=today,
            )
        )
    return result


def patient_list_page(
    patients: QuerySet[Patient], *, sort: str, state: schedule.CoverageState | None, page_number: Any
) -> tuple[Page, list[PatientRow]]:
    """One page of the list, sorted and filtered by coverage state, in four queries either way.

    Without a state filter the database sorts and pages the patients (a count and a page). With
    one, every matching patient's state is needed first: one narrow query for the state inputs,
    then the page's patients by key. Then the page's newest placements and next visits.
    """
    rules, days = schedule_rules(), ClinicDays()
    order = SORTS.get(sort, SORTS["name"])
    if state is None:
        ordered = with_coverage_end(patients) if sort.endswith("covers_until") else patients
        page = Paginator(ordered.order_by(*order).values(*ROW_FIELDS), PAGE_SIZE).get_page(page_number)
        rows = list(page.object_list)
    else:
        keys = [
            row["pk"]
            for row in with_state_inputs(patients).order_by(*order).values(*STATE_FIELDS)
            if _state(
                _span_from_row(row), status=row["status"], today=days.today(row["clinic__time_zone"]), rules=rules
            )
            is state
        ]
        page = Paginator(keys, PAGE_SIZE).get_page(page_number)
        position = {key: index for index, key in enumerate(page.object_list)}
        rows = sorted(Patient.objects.filter(pk__in=position).values(*ROW_FIELDS), key=lambda row: position[row["pk"]])
    return page, _rows_for_page(rows, days=days, rules=rules)


# The patient page


@dataclass(frozen=True)
class VisitRow:
    visit: Visit
    findings: list[str]

    @property
    def is_open(self) -> bool:
        return self.visit.status == Visit.Status.SCHEDULED

    @property
    def can_record_findings(self) -> bool:
        # A missed visit may still be completed when the patient comes late.
        return self.visit.status in (Visit.Status.SCHEDULED, Visit.Status.MISSED)


@dataclass(frozen=True)
class ReminderRow:
    reminder: Reminder

    @property
    def needs_call(self) -> bool:
        return self.reminder.needs_a_call


@dataclass(frozen=True)
class PatientPage:
    patient: Patient
    today: datetime.date
    placements: list[Placement]  # newest first
    state: schedule.CoverageState
    current_visits: list[VisitRow]  # the newest placement's plan, soonest first
    earlier_visits: list[VisitRow]  # earlier placements' visits, newest first
    sessions: list[TherapySession]  # newest first
    attendance: Attendance
    reminders: list[ReminderRow]  # newest first
    calls: list[FollowUpCall]  # latest first
    flags: list[Flag]
    timeline: timeline.Timeline

    @property
    def newest_placement(self) -> Placement | None:
        return self.placements[0] if self.placements else None


def _visit_day(visit: Visit, zone: datetime.tzinfo) -> datetime.date:
    """Where a visit sits on the timeline: the day it happened, its appointment, or its due day."""
    if visit.status == Visit.Status.COMPLETED and visit.completed_on:
        return visit.completed_on
    if visit.status == Visit.Status.SCHEDULED and visit.appointment_at:
        return timezone.localtime(visit.appointment_at, zone).date()
    return visit.due_on


def _timeline(
    patient: Patient,
    placements: Sequence[Placement],
    visits: Sequence[Visit],
    sessions: Sequence[TherapySession],
    today: datetime.date,
) -> timeline.Timeline:
    zone = patient.clinic.zone
    # After discharge the clinic no longer follows coverage, so days without it are not a lapse.
    lapse_until = patient.discharged_on if patient.status == Patient.Status.DISCHARGED else today
    return timeline.build_timeline(
        spans=[
            timeline.Span(
                placed_on=placement.placed_on, ends_on=placement.coverage_ends_on, label=placement.product.name
            )
            for placement in placements
        ],
        visits=[
            timeline.Event(
                day=(day := _visit_day(visit, zone)),
                status=visit.status,
                label=f"{visit.get_kind_display()} visit, {visit.get_status_display().lower()}: {formats.day(day)}",
            )
            for visit in visits
        ],
        sessions=[
            timeline.Event(
                day=session.held_on,
                status=session.status,
                label=f"{session.get_kind_display()} session, {session.get_status_display().lower()}: "
                f"{formats.day(session.held_on)}",
            )
            for session in sessions
        ],
        today=today,
        lapse_until=lapse_until,
    )


def patient_page(patient: Patient) -> PatientPage:
    """Everything the patient page shows: five queries, whatever the length of the history.

    ``patient`` comes from ``access.get_patient_for``, with its clinic and counsellor loaded.
    """
    today = clinic_today(patient.clinic)
    placements = list(patient.placements.select_related("product", "placed_by", "imported_in").order_by("-placed_on"))
    visits = list(patient.visits.select_related("seen_by").order_by("due_on", "kind", "pk"))
    sessions = list(patient.therapy_sessions.select_related("group", "counsellor").order_by("-held_on", "-pk"))
    reminders = [
        ReminderRow(reminder) for reminder in patient.reminders.select_related("visit").order_by("-send_at", "-pk")
    ]
    calls = list(patient.follow_up_calls.select_related("called_by", "visit").order_by("-called_at", "-pk"))

    spans = [coverage_span(placement) for placement in placements]
    state = schedule.coverage_state(
        spans=spans, today=today, discharged=patient.status == Patient.Status.DISCHARGED, rules=schedule_rules()
    )
    limits = liver_limits()
    rows = [VisitRow(visit=visit, findings=findings_summary(visit, limits)) for visit in visits]
    newest_pk = placements[0].pk if placements else None
    return PatientPage(
        patient=patient,
        today=today,
        placements=placements,
        state=state,
        current_visits=[row for row in rows if row.visit.placement_id == newest_pk],
        earlier_visits=[row for row in reversed(rows) if row.visit.placement_id != newest_pk],
        sessions=sessions,
        attendance=attendance(sessions, today=today),
        reminders=reminders,
        calls=calls,
        flags=safety_flags(patient, visits, today=today, limits=limits),
        timeline=_timeline(patient, placements, visits, sessions, today),
    )
