"""The dashboard's worklists, most urgent first, for the clinics a coordinator works for.

Each list is one of ``patients.worklists.queries``. This module asks for every list of every
clinic at once (``patients.worklists.first_rows``: one statement, then one query per kind of row)
and ``patients.worklists.lines`` puts each row in words with its next action. Only the rows a page
shows are loaded and built.
"""

import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from patients.clinic_time import clinic_today
from patients.models import AttendanceCount, Clinic, Patient, Placement, Reminder, Visit
from patients.records import schedule
from patients.therapy import attendance, counts
from patients.worklists import queries
from patients.worklists.first_rows import Part, first_rows
from patients.worklists.lines import ROWS_SHOWN, Portion, WorklistRow, described


@dataclass
class Worklist:
    key: str
    title: str
    urgency: str  # "urgent", "soon" or "info": how the card is marked, besides its words
    explanation: str
    number_heading: str = ""
    rows: list[WorklistRow] = field(default_factory=list)
    count: int = 0
    # What the reader should know about the list itself, such as counts not yet redone today.
    note: str = ""

    @property
    def shown(self) -> list[WorklistRow]:
        return self.rows[:ROWS_SHOWN]

    @property
    def hidden_count(self) -> int:
        return max(self.count - ROWS_SHOWN, 0)


def clinic_parts(clinic: Clinic, *, today: datetime.date, now: datetime.datetime) -> dict[str, Part]:
    """Each list of one clinic as a part of the page's one statement, with how its rows load."""
    lapses = queries.lapses(clinic, today=today)
    placements = functools.partial(Part, loader_key=Placement, loader=queries.placement_lines)
    visits = functools.partial(Part, loader_key=Visit, loader=queries.visit_lines)
    # The visit lists' orders are those of visit_status_due_patient_idx, visit_renewal_due_idx and
    # visit_open_window_idx, the attendance list's that of patient_clinic_name_idx: their first
    # rows are a few index steps.
    by_index = functools.partial(visits, index_ordered=True)
    reminders = functools.partial(Part, loader_key=Reminder, loader=queries.reminder_lines)
    # Attendance and safety values are those of the clinic's day: loaded per day.
    patients = functools.partial(
        Part, loader_key=(Patient, today), loader=functools.partial(queries.patient_lines, today=today)
    )
    return {
        "lapsed": placements(lapses[schedule.CoverageState.LAPSED]),
        "reinduction": placements(lapses[schedule.CoverageState.REINDUCTION_REQUIRED]),
        "open_windows": by_index(queries.open_renewal_windows(clinic, today=today)),
        "renewals_due": by_index(queries.renewals_due(clinic, today=today)),
        "today": by_index(queries.visits_between(clinic, today, today + datetime.timedelta(days=1))),
        "this_week": by_index(queries.visits_between(clinic, today, today + datetime.timedelta(days=7))),
        "missed": by_index(queries.missed_awaiting_call(clinic, today=today)),
        "failed_reminders": reminders(
            queries.reminders_needing_a_call(
                clinic, since=now - datetime.timedelta(days=queries.FAILED_REMINDER_DAYS), until=now
            )
        ),
        "stopped_email": visits(queries.visits_to_phone_about(clinic, today=today, now=now)),
        "attendance": patients(queries.low_attendance(clinic, today=today), index_ordered=True),
        "safety": patients(queries.safety_flagged(clinic, today=today)),
        # Counted only: the banner's reminders past their time, and attendance counts of an earlier day.
        "waiting": reminders(queries.waiting(clinic, now=now), shown=0),
        "attendance_stale": Part(counts.stale(clinic, today=today), AttendanceCount, counts.by_patient, shown=0),
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
    waiting = stale = 0
    for clinic, today in days.items():
        mine = {key: portion for (pk, key), portion in found.items() if pk == clinic.pk}
        waiting += mine["waiting"][1]
        stale += mine["attendance_stale"][1]
        for key, (rows, count) in described(mine, clinic=clinic, today=today).items():
            by_key[key].rows.extend(rows)
            by_key[key].count += count
    if stale:
        by_key["attendance"].note = counts.stale_in_words(stale)
    return Dashboard(worklists=lists, waiting_reminders=waiting)


def dashboard_worklists(clinics: Iterable[Clinic], *, now: datetime.datetime) -> list[Worklist]:
    return dashboard(clinics, now=now).worklists
