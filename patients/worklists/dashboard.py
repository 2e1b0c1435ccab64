"""The dashboard's worklists, most urgent first, for the clinics a coordinator works for.

Each list is one of ``patients.worklists.queries``; this module takes its first rows and its count
and puts each row in words with its next action. Only the rows a page shows are built.
"""

import datetime
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils import timezone

from patients import formats
from patients.clinic_time import clinic_today
from patients.models import Clinic, FollowUpCall, Patient, Placement, Reminder, Visit
from patients.records import safety, schedule
from patients.records.selectors import liver_limits
from patients.therapy import attendance
from patients.worklists import queries
from patients.worklists.first_rows import Part, first_rows

# Rows shown per list; the count above each list is always complete.
ROWS_SHOWN = 15


@dataclass(frozen=True)
class NextStep:
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
class WorklistRow:
    patient: Patient
    clinic: Clinic
    summary: str
    number: int | None = None  # right-aligned: days without cover, attendance %, ...
    latest_call: str = ""
    actions: tuple[NextStep, ...] = ()
    state: schedule.CoverageState | None = None


# A list's first rows for one clinic, and how many it holds in all.
Portion = tuple[list[WorklistRow], int]


@dataclass
class Worklist:
    key: str
    title: str
    urgency: str  # "urgent", "soon" or "info": how the card is marked, besides its words
    explanation: str
    number_heading: str = ""
    rows: list[WorklistRow] = field(default_factory=list)
    count: int = 0

    @property
    def shown(self) -> list[WorklistRow]:
        return self.rows[:ROWS_SHOWN]

    @property
    def hidden_count(self) -> int:
        return max(self.count - ROWS_SHOWN, 0)


# A list's first rows as loaded, and how many it holds in all (patients.worklists.first_rows).
Found = tuple[list[Any], int]


def _call_text(row: object, clinic: Clinic) -> str:
    outcome = getattr(row, "call_outcome", None)
    if not outcome:
        return "Not called yet"
    called_at = getattr(row, "call_at")  # noqa: B009 - set by the subquery annotation
    text = f"{FollowUpCall.Outcome(outcome).label} ({formats.short_day(timezone.localtime(called_at, clinic.zone))})"
    try_again_on = getattr(row, "call_try_again_on", None)
    return f"{text}, try again {formats.short_day(try_again_on)}" if try_again_on else text


def _when(visit: Visit) -> str:
    if visit.appointment_at:
        local = timezone.localtime(visit.appointment_at, visit.patient.clinic.zone)
        return f"booked {formats.weekday(local)} {local:%H:%M}"
    return f"due {formats.weekday(visit.due_on)}, not booked"


def _call(patient: Patient, visit: Visit | None = None) -> NextStep:
    return NextStep("Log call", "follow_up_call_create", (patient.uuid,), query=f"visit={visit.uuid}" if visit else "")


def _book(visit: Visit) -> NextStep:
    return NextStep("Book", "visit_reschedule", (visit.uuid,))


def _findings(visit: Visit) -> NextStep:
    return NextStep("Record findings", "visit_findings", (visit.uuid,), needs="RECORD_FINDINGS")


def lapse_rows(found: Found, state: schedule.CoverageState, *, clinic: Clinic, today: datetime.date) -> Portion:
    shown, count = found
    return [
        WorklistRow(
            patient=placement.patient,
            clinic=clinic,
            summary=f"Coverage ended {formats.day(placement.ends_on)}",
            number=(today - placement.ends_on).days,
            latest_call=_call_text(placement, clinic),
            actions=(
                NextStep("Record placement", "placement_create", (placement.patient.uuid,), needs="RECORD_PLACEMENTS"),
                _call(placement.patient),
            ),
            state=state,
        )
        for placement in shown
    ], count


def visit_rows(
    found: Found,
    summary: Callable[[Visit], str],
    action: Callable[[Visit], NextStep],
    *,
    clinic: Clinic,
    call: bool = False,
) -> Portion:
    """Visits in words; ``call`` for a list whose rows wait for a call, which shows the latest."""
    shown, count = found
    rows = []
    for visit in shown:
        rows.append(
            WorklistRow(
                patient=visit.patient,
                clinic=clinic,
                summary=summary(visit),
                latest_call=_call_text(visit, clinic) if call else "",
                actions=(action(visit),),
            )
        )
    return rows, count


def reminder_rows(found: Found, *, clinic: Clinic) -> Portion:
    shown, count = found
    return [
        WorklistRow(
            patient=r.patient,
            clinic=clinic,
            summary=f"{r.get_kind_display()}: {r.get_status_display().lower()}"
            + (f" ({r.get_skip_reason_display()})" if r.skip_reason else ""),
            actions=(_call(r.patient),),
        )
        for r in shown
    ], count


def _stopped_when(visit: Visit) -> str:
    if visit.appointment_at is None:
        return f"due {formats.short_day(visit.due_on)}"
    local = timezone.localtime(visit.appointment_at, visit.patient.clinic.zone)
    return f"booked {formats.short_day(local)} {local:%H:%M}"


def attendance_rows(found: Found, *, clinic: Clinic) -> Portion:
    shown, count = found
    rows = []
    for patient in shown:
        total = patient.attended + patient.missed
        if not patient.attended_recently:
            summary = f"No session attended in {attendance.ATTENDANCE_RECENT_DAYS} days"
        else:
            summary = f"Attendance below {attendance.percent(attendance.LOW_ATTENDANCE)} %"
        rows.append(
            WorklistRow(
                patient=patient,
                clinic=clinic,
                summary=f"{summary}: {patient.attended} attended, {patient.missed} missed "
                f"in {attendance.ATTENDANCE_DAYS} days",
                number=attendance.percent(patient.attended / total) if total else None,
                actions=(NextStep("Log session", "session_create", (patient.uuid,)),),
            )
        )
    return rows, count


def safety_rows(found: Found, *, clinic: Clinic) -> Portion:
    """The flags of ``patients.records.safety``, one line each, from the values the query read."""
    limits = liver_limits()
    shown, count = found
    rows = []
    for patient in shown:
        flags = []
        if patient.item9:
            flags.append(f"PHQ-9 item 9 scored {patient.item9}: ask about thoughts of self-harm")
        if (patient.alt or 0) > limits.alt_flag_above or (patient.ast or 0) > limits.ast_flag_above:
            flags.append(f"Liver tests above {limits.multiple}x normal (ALT {patient.alt}, AST {patient.ast})")
        if patient.liver_condition and not patient.liver_tested:
            flags.append(f"Liver condition, no liver test in {safety.SAFETY_LOOKBACK_DAYS} days")
        rows.append(
            WorklistRow(
                patient=patient,
                clinic=clinic,
                summary="; ".join(flags),
                actions=(NextStep("Open patient", "patient_detail", (patient.uuid,)),),
            )
        )
    return rows, count


def _together(*portions: Portion) -> Portion:
    """Lists shown as one: every row, up to what a list shows, and the full count."""
    rows = [row for portion_rows, _ in portions for row in portion_rows]
    return rows[:ROWS_SHOWN], sum(count for _, count in portions)


def clinic_parts(clinic: Clinic, *, today: datetime.date, now: datetime.datetime) -> dict[str, Part]:
    """Each list of one clinic as a part of the page's one statement, with how its rows load."""
    lapses = queries.lapses(clinic, today=today)
    placements = functools.partial(Part, loader_key=Placement, loader=queries.placement_lines)
    visits = functools.partial(Part, loader_key=Visit, loader=queries.visit_lines)
    reminders = functools.partial(Part, loader_key=Reminder, loader=queries.reminder_lines)
    # Attendance and safety values are those of the clinic's day: loaded per day.
    patients = functools.partial(
        Part, loader_key=(Patient, today), loader=functools.partial(queries.patient_lines, today=today)
    )
    return {
        "lapsed": placements(lapses[schedule.CoverageState.LAPSED]),
        "reinduction": placements(lapses[schedule.CoverageState.REINDUCTION_REQUIRED]),
        "open_windows": visits(queries.open_renewal_windows(clinic, today=today)),
        "renewals_due": visits(queries.renewals_due(clinic, today=today)),
        "today": visits(queries.visits_between(clinic, today, today + datetime.timedelta(days=1))),
        "this_week": visits(queries.visits_between(clinic, today, today + datetime.timedelta(days=7))),
        "missed": visits(queries.missed_awaiting_call(clinic, today=today)),
        "failed_reminders": reminders(
            queries.reminders_needing_a_call(
                clinic, since=now - datetime.timedelta(days=queries.FAILED_REMINDER_DAYS), until=now
            )
        ),
        "stopped_email": visits(queries.visits_to_phone_about(clinic, today=today, now=now)),
        "attendance": patients(queries.low_attendance(clinic, today=today)),
        "safety": patients(queries.safety_flagged(clinic, today=today)),
        # Counted only: the banner's reminders past their time.
        "waiting": reminders(queries.waiting(clinic, now=now), shown=0),
    }


def described(found: dict[str, Found], *, clinic: Clinic, today: datetime.date) -> dict[str, Portion]:
    """Each list's rows in words, and its count, from what ``first_rows`` found for one clinic."""
    visits = functools.partial(visit_rows, clinic=clinic)
    describe = lambda v: f"{v.get_kind_display()} {_when(v)}"  # noqa: E731
    return {
        "lapsed": lapse_rows(found["lapsed"], schedule.CoverageState.LAPSED, clinic=clinic, today=today),
        "reinduction": lapse_rows(
            found["reinduction"], schedule.CoverageState.REINDUCTION_REQUIRED, clinic=clinic, today=today
        ),
        "open_windows": visits(
            found["open_windows"],
            lambda v: f"Window closes {formats.short_day(v.window_end)}; coverage ends then",
            _book,
        ),
        "renewals_due": visits(found["renewals_due"], lambda v: f"Renewal {_when(v)}", _book),
        "today": visits(found["today"], describe, _findings),
        # Later this week: booking comes first; findings once the visit has been booked.
        "this_week": visits(found["this_week"], describe, lambda v: _findings(v) if v.appointment_at else _book(v)),
        "missed": visits(
            found["missed"],
            lambda v: f"Missed {v.get_kind_display().lower()} visit due {formats.short_day(v.due_on)}",
            lambda v: _call(v.patient, v),
            call=True,
        ),
        "reminders": _together(
            reminder_rows(found["failed_reminders"], clinic=clinic),
            visits(
                found["stopped_email"],
                lambda v: f"Stopped email reminders: {v.get_kind_display().lower()} visit {_stopped_when(v)}",
                lambda v: _call(v.patient, v),
            ),
        ),
        "attendance": attendance_rows(found["attendance"], clinic=clinic),
        "safety": safety_rows(found["safety"], clinic=clinic),
    }


def clinic_worklists(clinic: Clinic, *, today: datetime.date, now: datetime.datetime) -> dict[str, Portion]:
    """Each list's first rows and full count for one clinic."""
    found = first_rows(clinic_parts(clinic, today=today, now=now), shown=ROWS_SHOWN)
    return described(found, clinic=clinic, today=today)


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
    (
        "renewals_due",
        f"Renewals due in {queries.RENEWAL_HORIZON_DAYS} days",
        "soon",
        "Renewals coming up, booked or not.",
        "",
    ),
    ("today", "Visits today", "info", "Appointments today, and visits due today without one.", ""),
    ("this_week", "Visits this week", "info", "The next seven days.", ""),
    (
        "attendance",
        "Low therapy attendance",
        "soon",
        attendance.LOW_IN_WORDS[0].upper() + attendance.LOW_IN_WORDS[1:] + ".",
        "%",
    ),
)


@dataclass
class Dashboard:
    worklists: list[Worklist]
    # Reminders past their time still pending, in every clinic shown.
    waiting_reminders: int


def dashboard(clinics: Iterable[Clinic], *, now: datetime.datetime) -> Dashboard:
    """Every list of every clinic in one statement, and one query per kind of row shown."""
    lists = [Worklist(key=k, title=t, urgency=u, explanation=e, number_heading=n) for k, t, u, e, n in LISTS]
    by_key = {worklist.key: worklist for worklist in lists}
    days = {clinic: clinic_today(clinic, now=now) for clinic in clinics}
    parts = {
        (clinic.pk, key): part
        for clinic, today in days.items()
        for key, part in clinic_parts(clinic, today=today, now=now).items()
    }
    found = first_rows(parts, shown=ROWS_SHOWN)
    waiting = 0
    for clinic, today in days.items():
        mine = {key: portion for (pk, key), portion in found.items() if pk == clinic.pk}
        waiting += mine["waiting"][1]
        for key, (rows, count) in described(mine, clinic=clinic, today=today).items():
            by_key[key].rows.extend(rows)
            by_key[key].count += count
    return Dashboard(worklists=lists, waiting_reminders=waiting)


def dashboard_worklists(clinics: Iterable[Clinic], *, now: datetime.datetime) -> list[Worklist]:
    return dashboard(clinics, now=now).worklists
