# ruff: noqa: S608 (every statement is built from this module's text and the app's constants; values are parameters)
"""The dashboard's worklists and the reports' monthly figures as hand-written SQL: the floor the pages
are measured against.

Each worklist is written once here, as the rows it selects (``FROM``/``WHERE``) and their order; the
benchmark runs it the way the dashboard does, the first ``ROWS_SHOWN`` rows and the count. The rules
(thresholds, statuses, look-back days) are read from the app, so only the SQL is a second copy.
Where SQLite and PostgreSQL spell something differently the text has a ``{placeholder}`` filled per
database. A clinic day on SQLite is the UTC time shifted by the clinic's offset today: SQLite has
no time zones, and an hour's error around a change of clock is good enough for a timing.
"""

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

from patients.clinic_time import clinic_midnight
from patients.models import Clinic, Reminder
from patients.records import safety
from patients.therapy import attendance
from patients.worklists import queries
from patients.worklists.dashboard import ROWS_SHOWN


def _one_of(values: tuple[str, ...]) -> str:
    """An ``IN`` list of the app's own constants, written into the text: neither SQLite nor psycopg
    expands a tuple parameter."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


SETTLED = _one_of(tuple(queries.SETTLED_OUTCOMES))
NEEDS_A_CALL = _one_of(tuple(Reminder.NEEDS_A_CALL))
ABOUT_A_CLOSED_VISIT = _one_of(tuple(Reminder.ABOUT_A_CLOSED_VISIT))
STOPPED_EMAIL = _one_of(tuple(queries.STOPPED_EMAIL))
IN_THERAPY = _one_of(tuple(queries.IN_THERAPY))

# The patient's latest follow-up call, beside a row whose patient is ``p``.
LATEST_CALL = """
    (SELECT c.outcome FROM patients_followupcall c WHERE c.patient_id = p.id ORDER BY c.called_at DESC LIMIT 1)
        AS call_outcome,
    (SELECT c.called_at FROM patients_followupcall c WHERE c.patient_id = p.id ORDER BY c.called_at DESC LIMIT 1)
        AS call_at,
    (SELECT c.try_again_on FROM patients_followupcall c WHERE c.patient_id = p.id ORDER BY c.called_at DESC LIMIT 1)
        AS call_try_again_on"""

# Still waiting for a call: no try-again day ahead, and nothing settled on or after ``since``.
AWAITING_CALL = f"""
    (call_try_again_on IS NULL OR call_try_again_on <= %(today)s)
    AND (call_outcome IS NULL OR call_outcome NOT IN {SETTLED} OR {{call_day}} < {{since}})"""

NEWEST_ENDED = f"""
    SELECT pl.id, pl.patient_id, p.record_number, p.first_name, p.last_name, pl.placed_on,
        CASE WHEN pl.removed_on < pl.covers_until THEN pl.removed_on ELSE pl.covers_until END AS ends_on,
        {LATEST_CALL}
    FROM patients_placement pl JOIN patients_patient p ON p.id = pl.patient_id
    WHERE p.clinic_id = %(clinic)s AND p.status <> 'discharged' AND pl.placed_on <= %(today)s
        AND pl.id = (SELECT n.id FROM patients_placement n
                     WHERE n.patient_id = pl.patient_id AND n.placed_on <= %(today)s
                     ORDER BY n.placed_on DESC LIMIT 1)"""

LAPSED_FROM = f"""
    FROM ({NEWEST_ENDED}) ended
    WHERE ends_on < %(today)s AND {AWAITING_CALL.format(call_day="{call_day}", since="ends_on")}"""

OPEN_VISITS = """
    FROM patients_visit v JOIN patients_patient p ON p.id = v.patient_id
    WHERE p.clinic_id = %(clinic)s AND v.status = 'scheduled'"""
VISIT_COLUMNS = "v.id, v.kind, v.due_on, v.window_end, v.appointment_at, p.record_number, p.first_name, p.last_name"

BETWEEN = """
    AND ((v.appointment_at >= %({first})s AND v.appointment_at < %({end})s)
         OR (v.appointment_at IS NULL AND v.due_on >= %({first_day})s AND v.due_on < %({end_day})s))"""

MISSED_FROM = f"""
    FROM (SELECT {VISIT_COLUMNS}, {LATEST_CALL}
          FROM patients_visit v JOIN patients_patient p ON p.id = v.patient_id
          WHERE p.clinic_id = %(clinic)s AND v.status = 'missed'
              AND v.due_on >= %(missed_since)s AND v.due_on <= %(today)s) missed
    WHERE {AWAITING_CALL.format(call_day="{call_day}", since="window_end")}"""


def _sessions(status: str, since: str) -> str:
    return f"""(SELECT COUNT(*) FROM patients_therapysession s WHERE s.patient_id = p.id
        AND s.status = '{status}' AND s.held_on >= %({since})s AND s.held_on <= %(today)s)"""


ATTENDANCE_FROM = f"""
    FROM (SELECT p.id, p.record_number, p.first_name, p.last_name,
              {_sessions(attendance.ATTENDED, "counted_since")} AS attended,
              {_sessions(attendance.MISSED, "counted_since")} AS missed,
              {_sessions(attendance.ATTENDED, "recent_since")} AS attended_recently
          FROM patients_patient p
          WHERE p.clinic_id = %(clinic)s AND p.status IN {IN_THERAPY}
              AND EXISTS (SELECT 1 FROM patients_placement pl WHERE pl.patient_id = p.id)) counted
    WHERE attended_recently = 0 OR attended * %(low_denominator)s < (attended + missed) * %(low_numerator)s"""

RECENT_RESULTS = (
    "FROM patients_visit r WHERE r.patient_id = p.id AND r.status = 'completed' AND r.completed_on >= %(lookback)s"
)


def _latest_result(field: str) -> str:
    return f"""(SELECT r.{field} {RECENT_RESULTS} AND r.{field} IS NOT NULL
        ORDER BY r.completed_on DESC, r.due_on DESC, r.id DESC LIMIT 1)"""


SAFETY_FROM = f"""
    FROM (SELECT p.id, p.record_number, p.first_name, p.last_name, p.liver_condition,
              {_latest_result(safety.ITEM9)} AS item9,
              {_latest_result(safety.ALT)} AS alt,
              {_latest_result(safety.AST)} AS ast,
              EXISTS (SELECT 1 {RECENT_RESULTS} AND (r.alt_u_per_l IS NOT NULL OR r.ast_u_per_l IS NOT NULL))
                  AS liver_tested
          FROM patients_patient p
          WHERE p.clinic_id = %(clinic)s AND p.status <> 'discharged') results
    WHERE item9 > 0 OR alt > %(alt_above)s OR ast > %(ast_above)s
        OR (liver_condition = %(true)s AND liver_tested = %(false)s)"""

# Each worklist: its columns, the rows it selects, and their order.
WORKLISTS: dict[str, tuple[str, str, str]] = {
    "lapsed": ("*", LAPSED_FROM + " AND ends_on >= %(reinduction_threshold)s", "ends_on, record_number"),
    "reinduction": ("*", LAPSED_FROM + " AND ends_on < %(reinduction_threshold)s", "ends_on, record_number"),
    "open windows": (
        VISIT_COLUMNS,
        OPEN_VISITS
        + """ AND v.kind = 'renewal' AND v.window_start <= %(today)s AND v.window_end >= %(today)s
            AND v.appointment_at IS NULL""",
        "v.window_end, p.record_number",
    ),
    "renewals due": (
        VISIT_COLUMNS,
        OPEN_VISITS + " AND v.kind = 'renewal' AND v.due_on >= %(today)s AND v.due_on <= %(horizon)s",
        "v.due_on, v.id",
    ),
    "visits today": (
        VISIT_COLUMNS,
        OPEN_VISITS + BETWEEN.format(first="midnight", end="tomorrow", first_day="today", end_day="tomorrow_day"),
        "v.due_on, v.id",
    ),
    "visits this week": (
        VISIT_COLUMNS,
        OPEN_VISITS + BETWEEN.format(first="midnight", end="next_week", first_day="today", end_day="next_week_day"),
        "v.due_on, v.id",
    ),
    "missed": ("*", MISSED_FROM, "due_on DESC, record_number"),
    "reminders failed": (
        "m.id, m.kind, m.send_at, m.status, p.record_number, p.first_name, p.last_name, v.due_on",
        f"""FROM patients_reminder m JOIN patients_patient p ON p.id = m.patient_id
            JOIN patients_visit v ON v.id = m.visit_id
            WHERE p.clinic_id = %(clinic)s AND m.status IN {NEEDS_A_CALL}
                AND (m.kind IN {ABOUT_A_CLOSED_VISIT} OR v.status = 'scheduled')
                AND m.send_at >= %(failed_since)s AND m.send_at < %(now)s""",
        "m.send_at, p.record_number",
    ),
    "stopped email": (
        VISIT_COLUMNS,
        OPEN_VISITS
        + f""" AND (p.email_consent = %(false)s OR p.email = '')
            AND (v.appointment_at >= %(now)s OR (v.appointment_at IS NULL AND v.window_end >= %(today)s))
            AND EXISTS (SELECT 1 FROM patients_reminder m WHERE m.visit_id = v.id AND m.status = 'cancelled'
                        AND m.cancel_reason IN {STOPPED_EMAIL})""",
        "v.due_on, p.record_number",
    ),
    "low attendance": ("*", ATTENDANCE_FROM, "last_name, first_name"),
    "safety flags": ("*", SAFETY_FROM, "last_name, first_name"),
}

WAITING_REMINDERS = """
    SELECT COUNT(*) FROM patients_reminder m JOIN patients_patient p ON p.id = m.patient_id
    WHERE p.clinic_id = %(clinic)s AND m.status = 'pending' AND m.next_attempt_at < %(now)s"""

# The reports page's monthly figures: every patient's history as plain dates (the page tallies
# those in Python), then monitoring visits due and kept, and therapy attendance, by day.
REPORT_FIGURES = {
    "patients": """
        SELECT p.id, p.created_at, p.status, p.discharged_on,
            (SELECT MIN(pl.placed_on) FROM patients_placement pl WHERE pl.patient_id = p.id)
        FROM patients_patient p WHERE p.clinic_id = %(clinic)s""",
    "placements": """
        SELECT pl.patient_id, pl.placed_on, pl.covers_until, pl.removed_on,
            (SELECT n.placed_on FROM patients_placement n WHERE n.patient_id = pl.patient_id
                 AND n.placed_on > pl.placed_on ORDER BY n.placed_on LIMIT 1)
        FROM patients_placement pl JOIN patients_patient p ON p.id = pl.patient_id
        WHERE p.clinic_id = %(clinic)s AND pl.covers_until >= %(report_eve)s AND pl.placed_on <= %(today)s
        ORDER BY pl.patient_id, pl.placed_on""",
    "status history": """
        SELECT h.id, h.history_date, h.status, h.discharged_on FROM patients_historicalpatient h
        WHERE h.clinic_id = %(clinic)s ORDER BY h.id, h.history_date, h.history_id""",
    "monitoring in window": """
        SELECT v.window_end, COUNT(*), SUM(CASE WHEN v.status = 'completed' AND v.completed_on >= v.window_start
                                                AND v.completed_on <= v.window_end THEN 1 ELSE 0 END)
        FROM patients_visit v JOIN patients_patient p ON p.id = v.patient_id
        WHERE p.clinic_id = %(clinic)s AND v.kind = 'monitoring' AND v.status <> 'cancelled'
            AND v.window_end >= %(report_first)s AND v.window_end <= %(report_last)s
        GROUP BY v.window_end""",
    "therapy attendance": """
        SELECT s.held_on, SUM(CASE WHEN s.status = 'attended' THEN 1 ELSE 0 END),
            SUM(CASE WHEN s.status = 'missed' THEN 1 ELSE 0 END)
        FROM patients_therapysession s JOIN patients_patient p ON p.id = s.patient_id
        WHERE p.clinic_id = %(clinic)s AND s.status IN ('attended', 'missed')
            AND s.held_on >= %(report_first)s AND s.held_on <= %(today)s
        GROUP BY s.held_on""",
}


def _call_day() -> str:
    if connection.vendor == "postgresql":
        return "CAST(call_at AT TIME ZONE %(zone)s AS date)"
    return "date(call_at, %(zone_offset)s)"


@dataclass(frozen=True)
class Statements:
    """Every statement, ready for the connection's database, with its parameters."""

    worklists: dict[str, tuple[str, str]]  # name: (first rows, count)
    waiting: str
    figures: dict[str, str]
    params: dict[str, Any]


def statements(clinic: Clinic, *, now: datetime.datetime, today: datetime.date) -> Statements:
    spelling = {"call_day": _call_day()}
    worklists = {}
    for name, (columns, rows, order) in WORKLISTS.items():
        body = rows.format(**spelling)
        worklists[name] = (
            f"SELECT {columns} {body} ORDER BY {order} LIMIT {ROWS_SHOWN}",
            f"SELECT COUNT(*) {body}",
        )
    return Statements(
        worklists=worklists,
        waiting=WAITING_REMINDERS,
        figures=REPORT_FIGURES,
        params=_params(clinic, now=now, today=today),
    )


def _params(clinic: Clinic, *, now: datetime.datetime, today: datetime.date) -> dict[str, Any]:
    ops = connection.ops
    day = ops.adapt_datefield_value
    moment = ops.adapt_datetimefield_value
    offset = now.astimezone(zoneinfo.ZoneInfo(clinic.time_zone)).utcoffset() or datetime.timedelta()
    limits_multiple = settings.LIVER_FLAG_MULTIPLE
    # The reports page's default: this month and the twelve before it.
    report_first = datetime.date(today.year - 1, today.month, 1)

    def days(count: int) -> Any:
        return day(today + datetime.timedelta(days=count))

    def midnight(count: int) -> Any:
        return moment(clinic_midnight(today + datetime.timedelta(days=count), clinic))

    return {
        "clinic": clinic.pk,
        "today": day(today),
        "now": moment(now),
        "zone": clinic.time_zone,
        "zone_offset": f"{int(offset.total_seconds() // 60):+d} minutes",
        "reinduction_threshold": days(-settings.REINDUCTION_AFTER_LAPSE_DAYS),
        "horizon": days(queries.RENEWAL_HORIZON_DAYS),
        "midnight": midnight(0),
        "tomorrow": midnight(1),
        "next_week": midnight(7),
        "tomorrow_day": days(1),
        "next_week_day": days(7),
        "missed_since": days(-queries.MISSED_VISIT_DAYS),
        "failed_since": moment(now - datetime.timedelta(days=queries.FAILED_REMINDER_DAYS)),
        "counted_since": day(attendance.counted_since(today)),
        "recent_since": day(attendance.recent_since(today)),
        "low_numerator": attendance.LOW_ATTENDANCE.numerator,
        "low_denominator": attendance.LOW_ATTENDANCE.denominator,
        "lookback": day(safety.lookback_start(today)),
        "alt_above": settings.ALT_UPPER_LIMIT_OF_NORMAL * limits_multiple,
        "ast_above": settings.AST_UPPER_LIMIT_OF_NORMAL * limits_multiple,
        "true": True,
        "false": False,
        "report_first": day(report_first),
        "report_eve": days(-1 - (today - report_first).days),
        # A visit window is judged once it has closed: up to yesterday.
        "report_last": days(-1),
    }


def run_worklists(prepared: Statements) -> dict[str, int]:
    """Every worklist's first rows and count, and the waiting reminders, as the dashboard needs them."""
    counts = {name: run_worklist(prepared, name) for name in prepared.worklists}
    with connection.cursor() as cursor:
        cursor.execute(prepared.waiting, prepared.params)
        counts["waiting reminders"] = cursor.fetchone()[0]
    return counts


def run_worklist(prepared: Statements, name: str) -> int:
    """One worklist's first rows, and its count."""
    rows, count = prepared.worklists[name]
    with connection.cursor() as cursor:
        cursor.execute(rows, prepared.params)
        cursor.fetchall()
        cursor.execute(count, prepared.params)
        return int(cursor.fetchone()[0])


def run_figures(prepared: Statements) -> None:
    with connection.cursor() as cursor:
        for sql in prepared.figures.values():
            cursor.execute(sql, prepared.params)
            cursor.fetchall()
