"""The beat task that turns closed windows into missed visits, clinic by clinic."""

import datetime

import pytest

from patients import services
from patients.models import Visit
from patients.tasks import mark_missed_visits_everywhere
from tests.factories import INDUCTION, PatientFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_it_uses_each_clinics_own_calendar_day(time_machine, clinic, other_clinic):
    time_machine.move_to("2026-03-01 12:00Z", tick=False)
    for place in (clinic, other_clinic):
        # Visit windows: 1 Feb ± 7 days, so the first visit closes at the end of 8 February.
        services.record_placement(
            patient=PatientFactory(clinic=place),
            product=ProductFactory(clinic=place),
            placed_on=datetime.date(2026, 1, 1),
            **INDUCTION,
        )
    # 02:00 UTC on 9 February: past midnight in London, still the 8th in New York.
    time_machine.move_to("2026-02-09 02:00Z", tick=False)
    assert mark_missed_visits_everywhere() == 1
    assert Visit.objects.get(status="missed").patient.clinic == clinic
    assert mark_missed_visits_everywhere() == 0
    time_machine.move_to("2026-02-09 06:00Z", tick=False)
    assert mark_missed_visits_everywhere() == 1
    assert Visit.objects.filter(status="missed").count() == 2
