"""What a placement will create, called directly: its coverage end, its unsaved visits and their
reminders, the open visits it supersedes, and the days no plan can be made from.

The clock stands at noon on 15 June 2026, London time (the clinic's zone), whatever day the suite runs.
"""

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from patients import services
from patients.models import Placement, Product, Reminder, Visit
from patients.records.plan import placement_coverage_end, plan_placement, planned_coverage_end, unsaved_visits
from tests.factories import INDUCTION, PatientFactory

D = datetime.date
LONDON = zoneinfo.ZoneInfo("Europe/London")
TODAY = D(2026, 6, 15)
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


def ten_am(day: D) -> datetime.datetime:
    """When a reminder for ``day`` goes out: 10:00 in London, as UTC."""
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=LONDON).astimezone(datetime.UTC)


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


def refusal(call, field: str) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    assert list(caught.value.message_dict) == [field], caught.value.message_dict
    return " ".join(caught.value.message_dict[field])


# The coverage end (no database: the product is an unsaved row)


def months(length: int) -> Product:
    return Product(coverage_length=length, coverage_unit=Product.CoverageUnit.MONTHS, renewal_window_lead_days=14)


def test_a_product_in_months_covers_to_the_same_day_clamped_to_the_months_end():
    assert planned_coverage_end(product=months(3), placed_on=D(2026, 1, 31)) == D(2026, 4, 30)
    assert planned_coverage_end(product=months(3), placed_on=D(2027, 11, 30)) == D(2028, 2, 29)
    assert planned_coverage_end(product=months(3), placed_on=D(2026, 11, 30)) == D(2027, 2, 28)
    assert planned_coverage_end(product=months(6), placed_on=D(2026, 8, 31)) == D(2027, 2, 28)


def test_a_product_in_weeks_covers_seven_days_a_week():
    weeks = Product(coverage_length=4, coverage_unit=Product.CoverageUnit.WEEKS, renewal_window_lead_days=7)
    assert planned_coverage_end(product=weeks, placed_on=D(2028, 2, 10)) == D(2028, 3, 9)


@pytest.mark.django_db
def test_without_an_override_the_products_end_is_used(patient, implant):
    found = placement_coverage_end(patient=patient, product=implant, placed_on=D(2026, 3, 20), covers_until=None)
    assert found == (D(2026, 6, 20), False)


@pytest.mark.django_db
def test_typing_the_products_own_end_is_no_override(patient, implant):
    found = placement_coverage_end(
        patient=patient, product=implant, placed_on=D(2026, 3, 20), covers_until=D(2026, 6, 20)
    )
    assert found == (D(2026, 6, 20), False)


@pytest.mark.django_db
def test_another_end_is_an_override(patient, implant):
    found = placement_coverage_end(
        patient=patient, product=implant, placed_on=D(2026, 3, 20), covers_until=D(2026, 6, 10)
    )
    assert found == (D(2026, 6, 10), True)


@pytest.mark.django_db
def test_it_refuses_an_end_on_or_before_the_placement_day(patient, implant):
    for end in (D(2026, 3, 20), D(2026, 3, 19)):
        message = refusal(
            lambda end=end: placement_coverage_end(
                patient=patient, product=implant, placed_on=D(2026, 3, 20), covers_until=end
            ),
            "covers_until",
        )
        assert message == "Coverage must end after the placement day."


@pytest.mark.django_db
def test_it_refuses_an_end_more_than_twelve_months_on_and_takes_one_of_exactly_twelve(patient, implant):
    twelve = placement_coverage_end(
        patient=patient, product=implant, placed_on=D(2026, 6, 1), covers_until=D(2027, 6, 1)
    )
    assert twelve == (D(2027, 6, 1), True)
    message = refusal(
        lambda: placement_coverage_end(
            patient=patient, product=implant, placed_on=D(2026, 6, 1), covers_until=D(2027, 6, 2)
        ),
        "covers_until",
    )
    assert message == "Coverage can last at most 12 months: from this placement day, until 1 Jun 2027 at the latest."


@pytest.mark.django_db
def test_a_product_longer_than_the_bound_is_refused_on_the_product(patient, clinic):
    too_long = Product(clinic=clinic, name="Odd", coverage_length=13, coverage_unit="months")
    message = refusal(
        lambda: placement_coverage_end(patient=patient, product=too_long, placed_on=D(2026, 6, 1), covers_until=None),
        "product",
    )
    assert "until 1 Jun 2027" in message


@pytest.mark.django_db
def test_it_refuses_a_placement_day_in_the_future_or_before_the_clinics_first_year(patient, implant):
    tomorrow = refusal(
        lambda: placement_coverage_end(patient=patient, product=implant, placed_on=D(2026, 6, 16), covers_until=None),
        "placed_on",
    )
    assert tomorrow == "A placement cannot be dated in the future. Record it on the day it is done."
    ancient = refusal(
        lambda: placement_coverage_end(patient=patient, product=implant, placed_on=D(1999, 12, 31), covers_until=None),
        "placed_on",
    )
    assert ancient == "A placement cannot be dated before 2000, the clinic's first year."
    today = placement_coverage_end(patient=patient, product=implant, placed_on=TODAY, covers_until=None)
    assert today == (D(2026, 9, 15), False)


# The visits


@pytest.mark.django_db
def test_the_unsaved_visits_are_the_placements_plan(patient, implant):
    visits = unsaved_visits(patient=patient, product=implant, placed_on=D(2026, 1, 31), covers_until=D(2026, 4, 30))
    assert [(v.kind, v.due_on, v.window_start, v.window_end, v.status) for v in visits] == [
        ("monitoring", D(2026, 2, 28), D(2026, 2, 21), D(2026, 3, 7), "scheduled"),
        ("monitoring", D(2026, 3, 31), D(2026, 3, 24), D(2026, 4, 7), "scheduled"),
        ("renewal", D(2026, 4, 30), D(2026, 4, 16), D(2026, 4, 30), "scheduled"),
    ]
    assert all(visit.pk is None and visit.placement_id is None and visit.patient == patient for visit in visits)
    assert not Visit.objects.exists()


@pytest.mark.django_db
def test_a_four_week_injection_has_only_its_renewal(patient, injection):
    visits = unsaved_visits(patient=patient, product=injection, placed_on=D(2026, 6, 1), covers_until=D(2026, 6, 29))
    assert [(v.kind, v.due_on, v.window_start, v.window_end) for v in visits] == [
        ("renewal", D(2026, 6, 29), D(2026, 6, 22), D(2026, 6, 29))
    ]


# The whole plan


@pytest.mark.django_db
def test_a_first_placement_today_plans_three_visits_and_their_reminders_and_saves_nothing(patient, implant):
    plan = plan_placement(patient=patient, product=implant, placed_on=TODAY, covers_until=None, now=NOW)
    assert (plan.covers_until, plan.overridden, plan.superseded) == (D(2026, 9, 15), False, [])
    assert [
        (row.visit.kind, row.visit.due_on, row.visit.window_start, row.visit.window_end) for row in plan.visits
    ] == [
        ("monitoring", D(2026, 7, 15), D(2026, 7, 8), D(2026, 7, 22)),
        ("monitoring", D(2026, 8, 15), D(2026, 8, 8), D(2026, 8, 22)),
        ("renewal", D(2026, 9, 15), D(2026, 9, 1), D(2026, 9, 15)),
    ]
    assert [[(r.kind, r.send_at, r.status) for r in row.reminders] for row in plan.visits] == [
        [
            ("monitoring_3_days", ten_am(D(2026, 7, 12)), "pending"),
            ("monitoring_1_day", ten_am(D(2026, 7, 14)), "pending"),
        ],
        [
            ("monitoring_3_days", ten_am(D(2026, 8, 12)), "pending"),
            ("monitoring_1_day", ten_am(D(2026, 8, 14)), "pending"),
        ],
        [
            ("renewal_14_days", ten_am(D(2026, 9, 1)), "pending"),
            ("renewal_3_days", ten_am(D(2026, 9, 12)), "pending"),
            ("renewal_1_day", ten_am(D(2026, 9, 14)), "pending"),
        ],
    ]
    assert not Placement.objects.exists()
    assert not Visit.objects.exists()
    assert not Reminder.objects.exists()


@pytest.mark.django_db
def test_reminders_whose_moment_has_passed_are_planned_expired_and_without_consent_skipped(clinic, implant):
    # Placed 20 March: the renewal is due 20 June, its 14-day reminder went by on 6 June.
    patient = PatientFactory(clinic=clinic, email_consent=False, email_consent_at=None)
    plan = plan_placement(patient=patient, product=implant, placed_on=D(2026, 3, 20), covers_until=None, now=NOW)
    renewal = plan.visits[-1]
    assert renewal.visit.due_on == D(2026, 6, 20)
    assert [(r.kind, r.status, r.skip_reason) for r in renewal.reminders] == [
        ("renewal_14_days", "expired", ""),
        ("renewal_3_days", "skipped", "no_consent"),
        ("renewal_1_day", "skipped", "no_consent"),
    ]


@pytest.mark.django_db
def test_an_override_moves_the_renewal_to_the_day_typed(patient, implant):
    plan = plan_placement(patient=patient, product=implant, placed_on=TODAY, covers_until=D(2026, 8, 31), now=NOW)
    assert (plan.covers_until, plan.overridden) == (D(2026, 8, 31), True)
    # The renewal window opens 17 August: the monitoring visit due 15 August still comes before it.
    assert [(row.visit.kind, row.visit.due_on, row.visit.window_start) for row in plan.visits] == [
        ("monitoring", D(2026, 7, 15), D(2026, 7, 8)),
        ("monitoring", D(2026, 8, 15), D(2026, 8, 8)),
        ("renewal", D(2026, 8, 31), D(2026, 8, 17)),
    ]


@pytest.mark.django_db
def test_an_early_renewal_lists_the_open_visits_it_would_supersede_and_cancels_none(patient, implant):
    # Placed 15 May: visits due 15 June, 15 July and the renewal on 15 August (window from 1 August).
    first = place(patient, implant, D(2026, 5, 15))
    plan = plan_placement(patient=patient, product=implant, placed_on=TODAY, covers_until=None, now=NOW)
    assert [(visit.kind, visit.due_on) for visit in plan.superseded] == [
        ("monitoring", D(2026, 6, 15)),
        ("monitoring", D(2026, 7, 15)),
        ("renewal", D(2026, 8, 15)),
    ]
    assert plan.covers_until == D(2026, 9, 15)
    assert set(first.visits.values_list("status", flat=True)) == {"scheduled"}
    assert Placement.objects.count() == 1


@pytest.mark.django_db
def test_a_visit_due_before_the_new_placement_or_no_longer_open_is_not_superseded(patient, implant):
    first = place(patient, implant, D(2026, 4, 16))  # visits due 16 May, 16 June, 16 July
    services.complete_visit(visit=first.visits.get(due_on=D(2026, 6, 16)), completed_on=TODAY)
    plan = plan_placement(patient=patient, product=implant, placed_on=D(2026, 5, 20), covers_until=None, now=NOW)
    assert [visit.due_on for visit in plan.superseded] == [D(2026, 7, 16)]


@pytest.mark.django_db
def test_the_plan_is_what_record_placement_then_saves(patient, implant):
    plan = plan_placement(patient=patient, product=implant, placed_on=D(2026, 5, 15), covers_until=None, now=NOW)
    placement = place(patient, implant, D(2026, 5, 15))
    saved = placement.visits.order_by("due_on")
    assert [
        (row.visit.kind, row.visit.due_on, row.visit.window_start, row.visit.window_end) for row in plan.visits
    ] == [(visit.kind, visit.due_on, visit.window_start, visit.window_end) for visit in saved]
    planned_reminders = sorted((r.kind, r.send_at, r.status) for row in plan.visits for r in row.reminders)
    assert planned_reminders == sorted(
        Reminder.objects.filter(patient=patient).values_list("kind", "send_at", "status")
    )
    assert placement.covers_until == plan.covers_until
