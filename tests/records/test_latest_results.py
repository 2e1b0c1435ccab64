"""The latest safety results kept for the dashboard's flags (patients.records.latest_results): they
follow every visit completed, a rebuild from the visits writes the same rows, and the safety list
read from them finds the same patients as the live rule over every result, on any day."""

import datetime
import random

import pytest

from patients import services
from patients.clinic_time import clinic_today
from patients.models import LatestResults, Patient
from patients.records import latest_results, safety
from patients.records.selectors import liver_limits, with_safety_results
from patients.worklists import queries
from tests import histories
from tests.factories import INDUCTION, PatientFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
COLUMNS = ("patient_id", "item9", "item9_on", "alt", "alt_on", "ast", "ast_on")


def kept(patient: Patient) -> tuple[object, ...] | None:
    row = LatestResults.objects.filter(patient=patient).values_list(*COLUMNS[1:]).first()
    return tuple(row) if row else None


def test_it_follows_each_visit_completed_the_latest_day_winning(still_clock, clinic, implant):
    patient = PatientFactory(clinic=clinic)
    today = clinic_today(clinic)
    placement = services.record_placement(patient=patient, product=implant, placed_on=today - 80 * DAY, **INDUCTION)
    first, second, *_ = placement.visits.order_by("due_on")
    assert kept(patient) is None
    services.complete_visit(visit=second, completed_on=today - 10 * DAY, phq9_total=9, phq9_item9=1, alt_u_per_l=30)
    assert kept(patient) == (1, today - 10 * DAY, 30, today - 10 * DAY, None, None)
    # A visit recorded late, for an earlier day, is history: only its AST is the latest AST.
    services.complete_visit(visit=first, completed_on=today - 40 * DAY, phq9_item9=0, ast_u_per_l=200)
    assert kept(patient) == (1, today - 10 * DAY, 30, today - 10 * DAY, 200, today - 40 * DAY)


def live_flagged(clinic, today):
    """The safety list as it was before the latest results were kept: every result of the lookback
    looked up for every patient not discharged."""
    patients = Patient.objects.filter(clinic=clinic).exclude(status=Patient.Status.DISCHARGED)
    flagged = with_safety_results(patients, today=today).filter(safety.flagged_to_act_on(liver_limits()))
    return set(flagged.values_list("pk", flat=True))


def test_the_list_from_kept_rows_is_the_live_rule_on_any_day_and_a_rebuild_agrees(still_clock, clinic, implant):
    rng = random.Random(20261203)
    today = clinic_today(clinic)
    patients = histories.patients(clinic, 90, rng=rng)
    for patient in patients[::4]:
        patient.liver_condition = True
    Patient.objects.bulk_update(patients[::4], ["liver_condition"])
    histories.visits(histories.placements(patients, implant, today=today, rng=rng), today=today, rng=rng)
    Patient.objects.filter(pk__in=[p.pk for p in patients[::7]]).update(
        status=Patient.Status.DISCHARGED, discharged_on=today
    )
    # Today, and later days as the lookback leaves results behind (its edge, one day past it).
    days = [today + n * DAY for n in (0, 1, 30, safety.SAFETY_LOOKBACK_DAYS - 40, safety.SAFETY_LOOKBACK_DAYS)]
    sizes = []
    for day in days:
        expected = live_flagged(clinic, day)
        assert set(queries.safety_flagged(clinic, today=day).values_list("pk", flat=True)) == expected, day
        sizes.append(len(expected))
    assert 5 < sizes[0] < 80, "the histories should hold both kinds of patient"
    assert len(set(sizes)) > 1, "the lookback should leave some results behind"
    before = set(LatestResults.objects.values_list(*COLUMNS))
    LatestResults.objects.all().delete()
    assert latest_results.keep_all() == len(before)
    assert set(LatestResults.objects.values_list(*COLUMNS)) == before
