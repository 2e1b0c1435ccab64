"""The dashboard's worklists, most urgent first, for the clinics a coordinator works for.

Each list is a fixed number of queries per clinic whatever the number of patients: rows come with
their patient and the latest follow-up call attached by subqueries, never a query per row.
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone

from patients import formats
from patients.clinic_time import clinic_midnight, clinic_today
from patients.models import Clinic, FollowUpCall, Patient, Placement, Reminder, TherapySession, Visit
from patients.records import schedule
from patients.records.selectors import schedule_rules
from patients.records.summary import ATTENDANCE_DAYS, ATTENDANCE_RECENT_DAYS, LIVER_TEST_DAYS
from patients.worklists import lists as worklists

# Rows shown per list; the count above each list is always complete.
ROWS_SHOWN = 15
# Call outcomes after which a row no longer waits for a call (until something new happens).
SETTLED_OUTCOMES = (FollowUpCall.Outcome.REACHED, FollowUpCall.Outcome.AGREED_TO_COME, FollowUpCall.Outcome.DECLINED)
# Mood and liver results older than this no longer raise a flag on the worklist.
SAFETY_LOOKBACK_DAYS = 90
RENEWAL_HORIZON_DAYS = 14
FAILED_REMINDER_DAYS = 7


@dataclass(frozen=True)
class Action:
    """A row's next step. The address is worked out only for the rows a page shows."""

    label: str
    route: str
    args: tuple[object, ...] = ()
    query: str = ""
    # The role action it takes (patients.roles.Action's name); the page leaves it out for others.
    needs: str = ""

    @property
    def url(self) -> str:
        return reverse(f"patients:{self.route}", args=self.args) + (f"?{self.query}" if self.query else "")


@dataclass(frozen=True)
class Row:
    patient: Patient
    clinic: Clinic
    summary: str
    number: int | None = None  # right-aligned: days without cover, attendance %, ...
    latest_call: str = ""
    actions: tuple[Action, ...] = ()
    state: schedule.CoverageState | None = None


# A list's first rows for one clinic, and how many it holds in all.
Portion = tuple[list[Row], int]


@dataclass
class Worklist:
    key: str
    title: str
    urgency: str  # "urgent", "soon" or "info": how the card is marked, besides its words
    explanation: str
    number_heading: str = ""
    rows: list[Row] = field(default_factory=list)
    count: int = 0

    @property
    def shown(self) -> list[Row]:
        return self.rows[:ROWS_SHOWN]

    @property
    def hidden_count(self) -> int:
        return max(self.count - ROWS_SHOWN, 0)


def _latest_call(patient_ref: str = "patient") -> dict[str, Subquery]:
    calls = FollowUpCall.objects.filter(patient=OuterRef(patient_ref)).order_by("-called_at")
    return {
        "call_outcome": Subquery(calls.values("outcome")[:1]),
        "call_at": Subquery(calls.values("called_at")[:1]),
        "call_try_again_on": Subquery(calls.values("try_again_on")[:1]),
    }


def _call_text(row: object, clinic: Clinic) -> str:
    outcome = getattr(row, "call_outcome", None)
    if not outcome:
        return "Not called yet"
    called_at = getattr(row, "call_at")  # noqa: B009 - set by the subquery annotation
    text = f"{FollowUpCall.Outcome(outcome).label} ({formats.short_day(timezone.localtime(called_at, clinic.zone))})"
    try_again_on = getattr(row, "call_try_again_on", None)
    return f"{text}, try again {formats.short_day(try_again_on)}" if try_again_on else text


def _awaiting_call(rows: QuerySet[Any], *, since_field: str, clinic: Clinic, today: datetime.date) -> QuerySet[Any]:
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


def lapse_lists(clinic: Clinic, *, today: datetime.date) -> tuple[Portion, Portion]:
    """Coverage lapsed, and re-induction required: longest without cover first.

    The split is the schedule's rule: lapsed for more than ``reinduction_after_lapse_days`` days
    needs re-induction. Only the rows shown are built; the counts come from SQL.
    """
    ended = _awaiting_call(
        worklists.newest_placements_ended(clinic, today=today), since_field="ends_on", clinic=clinic, today=today
    ).select_related("patient")
    threshold = today - datetime.timedelta(days=schedule_rules().reinduction_after_lapse_days)
    order = ("ends_on", "patient__record_number")

    def rows(placements: QuerySet[Placement], state: schedule.CoverageState) -> Portion:
        shown, count = _first_rows(placements.order_by(*order))
        return [
            Row(
                patient=placement.patient,
                clinic=clinic,
                summary=f"Coverage ended {formats.day(placement.ends_on)}",
                number=(today - placement.ends_on).days,
                latest_call=_call_text(placement, clinic),
                actions=(
                    Action(
                        "Record placement", "placement_create", (placement.patient.uuid,), needs="RECORD_PLACEMENTS"
                    ),
                    Action("Log call", "follow_up_call_create", (placement.patient.uuid,)),
                ),
                state=state,
            )
            for placement in shown
        ], count

    return (
        rows(ended.filter(ends_on__gte=threshold), schedule.CoverageState.LAPSED),
        rows(ended.filter(ends_on__lt=threshold), schedule.CoverageState.REINDUCTION_REQUIRED),
    )


def _visit_rows(
    visits: Iterable[Visit], clinic: Clinic, summary: Callable[[Visit], str], action: Callable[[Visit], Action]
) -> list[Row]:
    return [Row(patient=v.patient, clinic=clinic, summary=summary(v), actions=(action(v),)) for v in visits]


def _when(visit: Visit) -> str:
    if visit.appointment_at:
        local = timezone.localtime(visit.appointment_at, visit.patient.clinic.zone)
        return f"booked {formats.weekday(local)} {local:%H:%M}"
    return f"due {formats.weekday(visit.due_on)}, not booked"


def _first_rows(rows: QuerySet[Any]) -> tuple[list[Any], int]:
    """The rows a page shows, and how many there are in all: two queries, whatever the size."""
    return list(rows[:ROWS_SHOWN]), rows.count()


def clinic_worklists(clinic: Clinic, *, today: datetime.date, now: datetime.datetime) -> dict[str, Portion]:
    """Each list's first rows and full count for one clinic."""
    lapsed, reinduction = lapse_lists(clinic, today=today)
    book = lambda visit: Action("Book", "visit_reschedule", (visit.uuid,))  # noqa: E731
    findings = lambda visit: Action("Record findings", "visit_findings", (visit.uuid,), needs="RECORD_FINDINGS")  # noqa: E731
    open_visits = Visit.objects.open().filter(patient__clinic=clinic).select_related("patient__clinic")
    open_windows = worklists.open_renewal_windows_without_appointment(clinic, today=today).select_related(
        "patient__clinic"
    )
    due_soon = open_visits.filter(
        kind=Visit.Kind.RENEWAL, due_on__gte=today, due_on__lte=today + datetime.timedelta(days=RENEWAL_HORIZON_DAYS)
    ).order_by("due_on", "pk")

    def visits_between(first: datetime.date, end: datetime.date) -> QuerySet[Visit]:
        """Booked in [first, end) clinic time, or due then without a booking."""
        return open_visits.filter(
            Q(appointment_at__gte=clinic_midnight(first, clinic), appointment_at__lt=clinic_midnight(end, clinic))
            | Q(appointment_at__isnull=True, due_on__gte=first, due_on__lt=end)
        ).order_by("due_on", "pk")

    missed = _awaiting_call(
        worklists.recent_missed_visits(clinic, today=today), since_field="window_end", clinic=clinic, today=today
    )
    describe = lambda v: f"{v.get_kind_display()} {_when(v)}"  # noqa: E731

    def visit_rows(
        portion: tuple[list[Visit], int], summary: Callable[[Visit], str], action: Callable[[Visit], Action]
    ) -> Portion:
        visits, count = portion
        return _visit_rows(visits, clinic, summary, action), count

    return {
        "lapsed": lapsed,
        "reinduction": reinduction,
        "open_windows": visit_rows(
            _first_rows(open_windows),
            lambda v: f"Window closes {formats.short_day(v.window_end)}; coverage ends then",
            book,
        ),
        "renewals_due": visit_rows(_first_rows(due_soon), lambda v: f"Renewal {_when(v)}", book),
        "today": visit_rows(
            _first_rows(visits_between(today, today + datetime.timedelta(days=1))), describe, findings
        ),
        # Later this week: booking comes first; findings once the visit has been booked.
        "this_week": visit_rows(
            _first_rows(visits_between(today, today + datetime.timedelta(days=7))),
            describe,
            lambda v: findings(v) if v.appointment_at else book(v),
        ),
        "missed": missed_rows(_first_rows(missed), clinic),
        "reminders": _together(
            reminder_rows(clinic, now=now),
            stopped_email_rows(_first_rows(worklists.visits_to_phone_about(clinic, today=today, now=now)), clinic),
        ),
        "attendance": attendance_rows(clinic, today=today),
        "safety": safety_rows(clinic, today=today),
    }


def missed_rows(portion: tuple[list[Visit], int], clinic: Clinic) -> Portion:
    visits, count = portion
    return [
        Row(
            patient=visit.patient,
            clinic=clinic,
            summary=f"Missed {visit.get_kind_display().lower()} visit due {formats.short_day(visit.due_on)}",
            latest_call=_call_text(visit, clinic),
            actions=(Action("Log call", "follow_up_call_create", (visit.patient.uuid,), query=f"visit={visit.uuid}"),),
        )
        for visit in visits
    ], count


def reminder_rows(clinic: Clinic, *, now: datetime.datetime) -> Portion:
    reminders, count = _first_rows(
        worklists.reminders_needing_a_call(
            clinic, since=now - datetime.timedelta(days=FAILED_REMINDER_DAYS), until=now
        ).select_related("patient__clinic")
    )
    return [
        Row(
            patient=r.patient,
            clinic=clinic,
            summary=f"{r.get_kind_display()}: {r.get_status_display().lower()}"
            + (f" ({r.get_skip_reason_display()})" if r.skip_reason else ""),
            actions=(Action("Log call", "follow_up_call_create", (r.patient.uuid,)),),
        )
        for r in reminders
    ], count


def stopped_email_rows(portion: tuple[list[Visit], int], clinic: Clinic) -> Portion:
    visits, count = portion

    def when(visit: Visit) -> str:
        if visit.appointment_at is None:
            return f"due {formats.short_day(visit.due_on)}"
        local = timezone.localtime(visit.appointment_at, clinic.zone)
        return f"booked {formats.short_day(local)} {local:%H:%M}"

    return [
        Row(
            patient=visit.patient,
            clinic=clinic,
            summary=f"Stopped email reminders: {visit.get_kind_display().lower()} visit {when(visit)}",
            actions=(Action("Log call", "follow_up_call_create", (visit.patient.uuid,), query=f"visit={visit.uuid}"),),
        )
        for visit in visits
    ], count


def _together(*portions: Portion) -> Portion:
    """Lists shown as one: every row, up to what a list shows, and the full count."""
    rows = [row for portion_rows, _ in portions for row in portion_rows]
    return rows[:ROWS_SHOWN], sum(count for _, count in portions)


def waiting_reminders(clinic: Clinic, *, now: datetime.datetime) -> int:
    """Reminders past their time still pending: waiting for daytime, a retry, or a silent pipeline."""
    return Reminder.objects.filter(
        patient__clinic=clinic, status=Reminder.Status.PENDING, next_attempt_at__lt=now
    ).count()


def attendance_rows(clinic: Clinic, *, today: datetime.date) -> Portion:
    since, recent = (
        today - datetime.timedelta(days=ATTENDANCE_DAYS),
        today - datetime.timedelta(days=ATTENDANCE_RECENT_DAYS),
    )

    def sessions(status: str, since: datetime.date) -> Coalesce:
        """How many of the patient's sessions had ``status`` since ``since``: one index range each,
        far cheaper than grouping every session the clinic ever logged."""
        counted = (
            TherapySession.objects.filter(
                patient=OuterRef("pk"), status=status, held_on__gte=since, held_on__lte=today
            )
            .order_by()
            .values("patient")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    patients = (
        Patient.objects.filter(clinic=clinic, status__in=[Patient.Status.ACTIVE, Patient.Status.LOST_TO_FOLLOW_UP])
        .filter(Exists(Placement.objects.filter(patient=OuterRef("pk"))))
        .annotate(
            attended=sessions(TherapySession.Status.ATTENDED, since),
            missed=sessions(TherapySession.Status.MISSED, since),
            attended_recently=sessions(TherapySession.Status.ATTENDED, recent),
        )
        # attended ÷ (attended + missed) < 3/4  ⇔  attended < 3 x missed, in whole numbers.
        .filter(Q(attended_recently=0) | Q(attended__lt=3 * F("missed")))
        .order_by("last_name", "first_name")
    )
    rows = []
    shown, count = _first_rows(patients)
    for patient in shown:
        total = patient.attended + patient.missed
        rate = round(100 * patient.attended / total) if total else None
        summary = "No session attended in 30 days" if not patient.attended_recently else "Attendance below 75 %"
        rows.append(
            Row(
                patient=patient,
                clinic=clinic,
                summary=f"{summary}: {patient.attended} attended, {patient.missed} missed in 90 days",
                number=rate,
                actions=(Action("Log session", "session_create", (patient.uuid,)),),
            )
        )
    return rows, count


def safety_rows(clinic: Clinic, *, today: datetime.date) -> Portion:
    """PHQ-9 item 9 above 0, liver tests above the flag multiple of normal, unchecked liver conditions."""
    since = today - datetime.timedelta(days=SAFETY_LOOKBACK_DAYS)
    recent = Visit.objects.filter(patient=OuterRef("pk"), status=Visit.Status.COMPLETED, completed_on__gte=since)

    def latest(field: str) -> Subquery:
        return Subquery(recent.filter(**{f"{field}__isnull": False}).order_by("-completed_on").values(field)[:1])

    alt_limit = settings.ALT_UPPER_LIMIT_OF_NORMAL * settings.LIVER_FLAG_MULTIPLE
    ast_limit = settings.AST_UPPER_LIMIT_OF_NORMAL * settings.LIVER_FLAG_MULTIPLE
    # The same window as the patient page's "no liver test" flag (patient_summary.LIVER_TEST_DAYS).
    liver_tested = Visit.objects.filter(
        Q(alt_u_per_l__isnull=False) | Q(ast_u_per_l__isnull=False),
        patient=OuterRef("pk"),
        status=Visit.Status.COMPLETED,
        completed_on__gte=today - datetime.timedelta(days=LIVER_TEST_DAYS),
    )
    patients = (
        Patient.objects.filter(clinic=clinic)
        .exclude(status=Patient.Status.DISCHARGED)
        .annotate(item9=latest("phq9_item9"), alt=latest("alt_u_per_l"), ast=latest("ast_u_per_l"))
        .annotate(liver_tested=Exists(liver_tested))
        .filter(
            Q(item9__gt=0) | Q(alt__gt=alt_limit) | Q(ast__gt=ast_limit) | Q(liver_condition=True, liver_tested=False)
        )
        .order_by("last_name", "first_name")
    )
    rows = []
    shown, count = _first_rows(patients)
    for patient in shown:
        flags = []
        if patient.item9:
            flags.append(f"PHQ-9 item 9 scored {patient.item9}: ask about thoughts of self-harm")
        if (patient.alt or 0) > alt_limit or (patient.ast or 0) > ast_limit:
            flags.append(
                f"Liver tests above {settings.LIVER_FLAG_MULTIPLE}x normal (ALT {patient.alt}, AST {patient.ast})"
            )
        if patient.liver_condition and not patient.liver_tested:
            flags.append("Liver condition, no liver test in 90 days")
        rows.append(
            Row(
                patient=patient,
                clinic=clinic,
                summary="; ".join(flags),
                actions=(Action("Open patient", "patient_detail", (patient.uuid,)),),
            )
        )
    return rows, count


# The lists in the order a coordinator works through them: a lapse can kill, a flag can wait an hour.
LISTS = (
    (
        "lapsed",
        "Coverage lapsed",
        "urgent",
        "Protection has run out: tolerance is lost, an overdose can kill.",
        "Days",
    ),
    (
        "reinduction",
        "Re-induction required",
        "urgent",
        "Lapsed so long that the next placement needs the checklist.",
        "Days",
    ),
    ("open_windows", "Renewal window open, no appointment", "urgent", "Book before the window closes.", ""),
    ("safety", "Safety flags", "urgent", "Mood and liver results to act on.", ""),
    ("missed", "Missed visits awaiting a call", "soon", "Phone, log the outcome and when to try again.", ""),
    (
        "reminders",
        "Reminders that did not reach the patient",
        "soon",
        "Failed, skipped or expired in the last week, and visits of patients who stopped emails: phone instead.",
        "",
    ),
    ("renewals_due", "Renewals due in 14 days", "soon", "Renewals coming up, booked or not.", ""),
    ("today", "Visits today", "info", "Appointments today, and visits due today without one.", ""),
    ("this_week", "Visits this week", "info", "The next seven days.", ""),
    ("attendance", "Low therapy attendance", "soon", "Under 75 % attended in 90 days, or none in 30.", "%"),
)


def dashboard_worklists(clinics: QuerySet[Clinic], *, now: datetime.datetime) -> list[Worklist]:
    lists = [Worklist(key=k, title=t, urgency=u, explanation=e, number_heading=n) for k, t, u, e, n in LISTS]
    by_key = {worklist.key: worklist for worklist in lists}
    for clinic in clinics:
        today = clinic_today(clinic, now=now)
        for key, (rows, count) in clinic_worklists(clinic, today=today, now=now).items():
            by_key[key].rows.extend(rows)
            by_key[key].count += count
    return lists
