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

# Tables that grow with the clinic: a full scan of one is a page that slows as the clinic grows.
LARGE = ("patients_patient", "patients_placement", "patients_visit", "patients_therapysession", "patients_reminder")
LARGE = (*LARGE, "patients_followupcall")


def plan(sql: str, params: tuple[object, ...]) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            return [line for (line,) in cursor.fetchall()]
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [row[-1] for row in cursor.fetchall()]


def full_scans(lines: list[str]) -> list[str]:
    tables = "|".join(LARGE)
    pattern = rf"^\s*(->\s*)?(SCAN ({tables})\b|Seq Scan on ({tables})\b)"
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
            if full_scans(lines):
                scans[key, number] = full_scans(lines)
    assert scans == {}


def test_the_check_sees_a_full_scan():
    assert full_scans(["SCAN patients_visit", "SEARCH patients_visit USING INDEX x (status=?)"]) == [
        "SCAN patients_visit"
    ]
    assert full_scans(["  ->  Seq Scan on patients_reminder  (cost=...)"]) == [
        "  ->  Seq Scan on patients_reminder  (cost=...)"
    ]
    assert full_scans(["SCAN (subquery-3)", "Index Scan using visit_status_due_on_idx on patients_visit"]) == []
