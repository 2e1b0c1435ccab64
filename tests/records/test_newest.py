"""The newest placement kept for the lapse lists (patients.records.newest): it follows every
placement recorded and removed, a rebuild from the placements writes the same rows, and the lapse
lists read from it find the same patients as looking up every patient's newest placement."""

import datetime
import random

import pytest
from django.db.models import OuterRef, Subquery

from patients import services
from patients.clinic_time import clinic_today
from patients.models import NewestPlacement, Patient, Placement
from patients.records import newest
from patients.worklists import queries
from tests import histories
from tests.factories import INDUCTION, PatientFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def kept(patient: Patient) -> tuple[int, datetime.date] | None:
    row = NewestPlacement.objects.filter(patient=patient).first()
    return (row.placement_id, row.ends_on) if row else None


def test_it_follows_each_placement_recorded_and_removed(still_clock, clinic, implant, clinician):
    patient = PatientFactory(clinic=clinic)
    today = clinic_today(clinic)
    assert kept(patient) is None
    first = services.record_placement(patient=patient, product=implant, placed_on=today - 100 * DAY, **INDUCTION)
    assert kept(patient) == (first.pk, first.coverage_ends_on)
    second = services.record_placement(patient=patient, product=implant, placed_on=today - 10 * DAY, **INDUCTION)
    assert kept(patient) == (second.pk, second.coverage_ends_on)
    removed_on = today - 2 * DAY
    services.record_removal(placement=second, removed_on=removed_on, reason="Infection at the site", by=clinician)
    assert kept(patient) == (second.pk, removed_on)


def live_lapses(clinic, today):
    """The lapse lists as they were before the newest placements were kept: every patient's newest
    placement looked up."""
    newest_pk = Placement.objects.filter(patient=OuterRef("patient"), placed_on__lte=today).order_by("-placed_on")
    ended = (
        Placement.objects.filter(patient__clinic=clinic, placed_on__lte=today, pk=Subquery(newest_pk.values("pk")[:1]))
        .exclude(patient__status=Patient.Status.DISCHARGED)
        .with_ends_on()
        .filter(ends_on__lt=today)
    )
    return set(ended.values_list("pk", flat=True))


def test_the_lists_from_kept_rows_are_the_lists_from_every_placement_and_a_rebuild_agrees(
    still_clock, clinic, implant
):
    rng = random.Random(20261203)
    today = clinic_today(clinic)
    patients = histories.patients(clinic, 80, rng=rng)
    histories.placements(patients, implant, today=today, rng=rng)
    Patient.objects.filter(pk__in=[p.pk for p in patients[::7]]).update(
        status=Patient.Status.DISCHARGED, discharged_on=today
    )
    expected = live_lapses(clinic, today)
    assert 5 < len(expected) < 70, "the histories should hold both kinds of patient"
    assert set(queries.newest_placements_ended(clinic, today=today).values_list("pk", flat=True)) == expected
    before = set(NewestPlacement.objects.values_list("patient_id", "placement_id", "ends_on"))
    NewestPlacement.objects.all().delete()
    assert newest.keep_all() == len(before)
    assert set(NewestPlacement.objects.values_list("patient_id", "placement_id", "ends_on")) == before
