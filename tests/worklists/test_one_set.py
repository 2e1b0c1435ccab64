"""The digest and the dashboard count from the same queries, so they never disagree."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from patients.clinic_time import clinic_today
from patients.models import Clinic
from patients.records.schedule import CoverageState
from patients.worklists import dashboard, queries
from patients.worklists.digest import digest_sections

# The suite's day (TEST_TODAY), with the clock stopped at its noon.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("still_clock")]


def test_the_digest_counts_what_the_dashboard_lists():
    call_command("seed_demo", stdout=io.StringIO())
    clinic = Clinic.objects.get()
    now = timezone.now()
    today = clinic_today(clinic, now=now)
    listed = {key: count for key, (_rows, count) in dashboard.clinic_worklists(clinic, today=today, now=now).items()}
    counted = {section.title: section.count for section in digest_sections(clinic, today=today)}

    assert counted[CoverageState.LAPSED.label] == listed["lapsed"]
    assert counted[CoverageState.REINDUCTION_REQUIRED.label] == listed["reinduction"]
    assert counted["Renewal window open, no appointment"] == listed["open_windows"]
    assert counted[f"Missed visits (last {queries.MISSED_VISIT_DAYS} days)"] == listed["missed"]
    # The demo shows every state, so the comparison is not between empty lists.
    assert all(listed[key] for key in ("lapsed", "reinduction", "open_windows", "missed"))
