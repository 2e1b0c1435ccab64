"""The dashboard's rows in words: each list's rows as a coordinator reads them, with the next step.

``patients.worklists.dashboard`` finds each list's first rows and count; this module writes them.
"""

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone

from patients import formats
from patients.models import Clinic, FollowUpCall, Patient, Visit
from patients.records import safety, schedule
from patients.records.selectors import liver_limits
from patients.therapy import attendance

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
