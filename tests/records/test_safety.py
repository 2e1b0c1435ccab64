"""Safety flags: the pure rule, and its database condition agreeing with it."""

import datetime
import random
from types import SimpleNamespace

import pytest

from patients.clinic_time import clinic_today
from patients.models import Patient, Visit
from patients.records import safety
from patients.records.selectors import liver_limits, with_safety_results
from patients.worklists import queries
from tests import histories

# The histories are built on the suite's day (TEST_TODAY), with the clock stopped at its noon.
pytestmark = pytest.mark.usefixtures("still_clock")

DAY = datetime.timedelta(days=1)
TODAY = datetime.date(2026, 6, 15)
LIMITS = safety.LiverLimits(alt_upper=40, ast_upper=35, multiple=3)
CALM = SimpleNamespace(liver_condition=False, liver_condition_note="")


def visit(days_ago: int, pk: int = 1, status: str = "completed", **findings: object) -> SimpleNamespace:
    values = {"phq9_item9": None, "alt_u_per_l": None, "ast_u_per_l": None, **findings}
    day = TODAY - days_ago * DAY
    return SimpleNamespace(pk=pk, status=status, completed_on=day, due_on=day, **values)


def titles(flags: list[safety.Flag]) -> list[str]:
    return [flag.title for flag in flags]


def test_the_rules_status_is_the_models():
    assert safety.COMPLETED == Visit.Status.COMPLETED


def test_a_result_inside_the_lookback_raises_its_flag_and_an_older_one_does_not():
    inside = visit(safety.SAFETY_LOOKBACK_DAYS, phq9_item9=1, alt_u_per_l=121)
    outside = visit(safety.SAFETY_LOOKBACK_DAYS + 1, phq9_item9=1, alt_u_per_l=121)
    assert titles(safety.safety_flags(CALM, [inside], today=TODAY, limits=LIMITS)) == [
        "PHQ-9 item 9 positive",
        "Liver tests above 3 times normal",
    ]
    assert safety.safety_flags(CALM, [outside], today=TODAY, limits=LIMITS) == []


def test_the_latest_result_decides_each_test_on_its_own():
    visits = [visit(20, pk=1, phq9_item9=2, ast_u_per_l=200), visit(10, pk=2, phq9_item9=0, alt_u_per_l=30)]
    assert titles(safety.safety_flags(CALM, visits, today=TODAY, limits=LIMITS)) == [
        "Liver tests above 3 times normal"
    ]


def test_a_liver_condition_without_a_test_in_the_lookback_is_flagged():
    patient = SimpleNamespace(liver_condition=True, liver_condition_note="")
    old_test = visit(safety.SAFETY_LOOKBACK_DAYS + 5, alt_u_per_l=30)
    flags = safety.safety_flags(patient, [old_test], today=TODAY, limits=LIMITS)
    assert titles(flags) == ["Liver condition", f"No liver test in {safety.SAFETY_LOOKBACK_DAYS} days"]
    recent_test = visit(3, alt_u_per_l=30)
    assert titles(safety.safety_flags(patient, [recent_test], today=TODAY, limits=LIMITS)) == ["Liver condition"]


def test_visits_not_completed_count_for_nothing():
    assert safety.safety_flags(CALM, [visit(3, status="missed", phq9_item9=3)], today=TODAY, limits=LIMITS) == []


@pytest.mark.django_db
def test_the_database_condition_agrees_with_the_pure_rule_on_the_same_histories(clinic, implant):
    rng = random.Random(20261203)
    today = clinic_today(clinic)
    patients = histories.patients(clinic, 60, rng=rng)
    for patient in patients[::3]:
        patient.liver_condition = True
    Patient.objects.bulk_update(patients[::3], ["liver_condition"])
    placements = histories.placements(patients, implant, today=today, rng=rng)
    histories.visits(placements, today=today, rng=rng)
    limits = liver_limits()

    by_pure = {
        patient.pk
        for patient in Patient.objects.filter(clinic=clinic).prefetch_related("visits")
        if safety.has_flags_to_act_on(safety.safety_flags(patient, patient.visits.all(), today=today, limits=limits))
    }
    by_database = set(
        with_safety_results(Patient.objects.filter(clinic=clinic), today=today)
        .filter(safety.flagged_to_act_on(limits))
        .values_list("pk", flat=True)
    )
    assert by_pure == by_database
    # The dashboard's list, which decides only on the patients who may have a flag, finds the same.
    listed = set(queries.safety_flagged(clinic, today=today).values_list("pk", flat=True))
    discharged = set(Patient.objects.filter(status=Patient.Status.DISCHARGED).values_list("pk", flat=True))
    assert listed == by_pure - discharged
    assert 5 < len(by_pure) < 55, "the histories should hold both kinds of patient"
