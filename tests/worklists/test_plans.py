"""Every dashboard list reaches its rows through an index: its query plan scans no large table
from end to end, on SQLite and on PostgreSQL.

SQLite's planner decides from the query and the indexes alone (no statistics are gathered here),
so the plan on a small demo clinic is the plan at any size. PostgreSQL prefers a sequential scan of
a small table however good its indexes, so it is asked with sequential scans priced out
(``enable_seqscan = off``): it still scans a table only where no index can serve the query.
"""

import re

import pytest
from django.core.management import call_command
from django.db import connection

from patients.clinic_time import clinic_today
from patients.models import Clinic
from patients.worklists.dashboard import clinic_parts
from patients.worklists.first_rows import part_sql
from patients.worklists.lines import ROWS_SHOWN
from tests.pinned_day import suite_noon

pytestmark = pytest.mark.django_db

# Tables that grow with the clinic, the kept rows (one per patient) among them: a full scan of one
# is a page that slows as the clinic grows.
LARGE = ("patients_patient", "patients_placement", "patients_visit", "patients_therapysession", "patients_reminder")
LARGE = (*LARGE, "patients_followupcall", "patients_newestplacement", "patients_attendancecount")
LARGE = (*LARGE, "patients_latestresults")


def plan(sql: str, params: tuple[object, ...]) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            return [line for (line,) in cursor.fetchall()]
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [row[-1] for row in cursor.fetchall()]


def aliases(sql: str) -> set[str]:
    """The names a query gives the large tables (Django's subqueries say ``"patients_visit" U0``),
    which SQLite's plan shows instead of the table's (``SCAN U0``)."""
    tables = "|".join(LARGE)
    return set(re.findall(rf'"(?:{tables})"\s+([UT]\d+)\b', sql))


def full_scans(lines: list[str], sql: str = "") -> list[str]:
    names = "|".join(re.escape(name) for name in (*LARGE, *aliases(sql)))
    pattern = rf"^\s*(->\s*)?(SCAN ({names})\b|Seq Scan on ({names})\b)"
    return [line for line in lines if re.search(pattern, line)]


def test_no_dashboard_list_scans_a_large_table(request, still_clock):
    call_command("seed_demo", patients=40, verbosity=0)
    clinic = Clinic.objects.get(name__icontains="Riverside")
    now = suite_noon(request.config)  # the suite's day (TEST_TODAY), where the clock stands
    scans = {}
    for key, part in clinic_parts(clinic, today=clinic_today(clinic, now=now), now=now).items():
        # Each part of the statement the page runs: the numbered rows, or the count and the first rows.
        shown = ROWS_SHOWN if part.shown is None else part.shown
        for number, (sql, params) in enumerate(part_sql(part, shown=shown)):
            lines = plan(sql, params)
            assert lines, key
            if found := full_scans(lines, sql):
                scans[key, number] = found
    assert scans == {}


def test_the_check_sees_a_full_scan():
    assert full_scans(["SCAN patients_visit", "SEARCH patients_visit USING INDEX x (status=?)"]) == [
        "SCAN patients_visit"
    ]
    assert full_scans(["  ->  Seq Scan on patients_reminder  (cost=...)"]) == [
        "  ->  Seq Scan on patients_reminder  (cost=...)"
    ]
    assert full_scans(["SCAN (subquery-3)", "Index Scan using visit_status_due_on_idx on patients_visit"]) == []
    # A large table under an alias, as Django's subqueries name them.
    sql = 'SELECT 1 FROM "patients_patient" WHERE EXISTS (SELECT 1 FROM "patients_visit" U0 WHERE U0."id" = 1)'
    assert full_scans(["SEARCH patients_patient USING INDEX x (id=?)", "SCAN U0"], sql) == ["SCAN U0"]
    assert full_scans(["SCAN U1"], sql) == []


def test_visits_to_phone_about_start_from_the_reminders_whose_email_stopped(request, still_clock):
    """The list reads the few reminders cancelled because email stopped and their visits by key,
    not every open visit still to come (an index range no full-scan check sees)."""
    call_command("seed_demo", patients=40, verbosity=0)
    clinic = Clinic.objects.get(name__icontains="Riverside")
    now = suite_noon(request.config)
    part = clinic_parts(clinic, today=clinic_today(clinic, now=now), now=now)["stopped_email"]
    [(sql, params)] = part_sql(part, shown=ROWS_SHOWN)
    lines = plan(sql, params)
    if connection.vendor == "sqlite":
        # PostgreSQL chooses from its statistics (on a small table, not this index); SQLite,
        # without them, from the query's shape.
        assert any("reminder_stopped_email_idx" in line for line in lines), lines
        visits = [line for line in lines if re.search(r"\bpatients_visit\b", line)]
        assert visits == ["SEARCH patients_visit USING INTEGER PRIMARY KEY (rowid=?)"], lines
