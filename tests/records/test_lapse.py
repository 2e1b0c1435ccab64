"""Coverage lapse: the pure coverage state, and the worklists' database conditions agreeing with it."""

import random

import pytest

from patients.clinic_time import clinic_today
from patients.models import Patient
from patients.records import schedule
from patients.records.selectors import coverage_state
from patients.worklists import queries
from tests import histories

# The histories are built on the suite's day (TEST_TODAY), with the clock stopped at its noon.
pytestmark = pytest.mark.usefixtures("still_clock")

LAPSES = (schedule.CoverageState.LAPSED, schedule.CoverageState.REINDUCTION_REQUIRED)


@pytest.mark.django_db
def test_the_lapse_lists_hold_exactly_the_patients_the_pure_rule_calls_lapsed(clinic, implant):
    rng = random.Random(20261203)
    today = clinic_today(clinic)
    patients = histories.patients(clinic, 120, rng=rng)
    histories.placements(patients, implant, today=today, rng=rng)

    by_pure: dict[schedule.CoverageState, set[int]] = {state: set() for state in LAPSES}
    for patient in Patient.objects.filter(clinic=clinic):
        state = coverage_state(patient, today=today)
        if state in by_pure:
            by_pure[state].add(patient.pk)
    by_database = {
        state: set(placements.values_list("patient_id", flat=True))
        for state, placements in queries.lapses(clinic, today=today).items()
    }
    assert by_database == by_pure
    assert all(len(patients) > 3 for patients in by_pure.values()), f"the histories should hold both lapses: {by_pure}"
