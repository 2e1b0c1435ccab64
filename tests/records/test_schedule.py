"""The schedule rules, without a database: dates in, dates out."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients.records.schedule import (
    CoverageSpan,
    CoverageState,
    PlannedVisit,
    ScheduleRules,
    VisitKind,
    add_months,
    coverage_end,
    coverage_state,
    induction_problems,
    is_early_renewal,
    is_inside_window,
    last_protected_day,
    needs_induction,
    plan_visits,
)

D = datetime.date
RULES = ScheduleRules(
    monitoring_interval_months=1,
    monitoring_window_days=7,
    reinduction_after_lapse_days=7,
    induction_min_opioid_free_days=7,
)


def plan(placed_on: datetime.date, months: int = 3, lead: int = 14) -> list[PlannedVisit]:
    end = coverage_end(placed_on=placed_on, length=months, unit="months")
    return plan_visits(placed_on=placed_on, covers_until=end, renewal_lead_days=lead, rules=RULES)


def dues(visits: list[PlannedVisit]) -> list[tuple[datetime.date, str]]:
    return [(visit.due_on, str(visit.kind)) for visit in visits]


# Month arithmetic


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2027, 1, 31), 1, D(2027, 2, 28)),  # common year
        (D(2028, 1, 31), 2, D(2028, 3, 31)),  # counted from the placement, not the clamped month
        (D(2028, 1, 31), 3, D(2028, 4, 30)),
        (D(2026, 11, 30), 3, D(2027, 2, 28)),  # across the year boundary
        (D(2026, 12, 31), 1, D(2027, 1, 31)),
        (D(2026, 12, 15), 12, D(2027, 12, 15)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),  # leap day a year on
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
        (D(2026, 3, 31), -1, D(2026, 2, 28)),
    ],
)
def test_it_adds_months_clamping_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


@given(st.dates(min_value=D(1990, 1, 1), max_value=D(2090, 12, 31)), st.integers(min_value=0, max_value=36))
def test_it_never_moves_more_than_the_months_asked(day, months):
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day <= day.day
    assert moved >= day


# Coverage length


def test_it_covers_three_months_with_month_end_clamping():
    assert coverage_end(placed_on=D(2028, 1, 31), length=3, unit="months") == D(2028, 4, 30)


def test_it_counts_injections_in_weeks():
    assert coverage_end(placed_on=D(2026, 12, 20), length=4, unit="weeks") == D(2027, 1, 17)


def test_it_refuses_a_coverage_of_nothing():
    with pytest.raises(ValueError, match="at least 1"):
        coverage_end(placed_on=D(2026, 1, 1), length=0, unit="months")


# The visit plan


def test_it_plans_monthly_visits_and_the_renewal_from_the_placement_day():
    assert dues(plan(D(2028, 1, 31))) == [
        (D(2028, 2, 29), "monitoring"),
        (D(2028, 3, 31), "monitoring"),
        (D(2028, 4, 30), "renewal"),
    ]


def test_it_plans_five_monitoring_visits_for_a_six_month_implant():
    visits = plan(D(2026, 8, 31), months=6)
    assert dues(visits) == [
        (D(2026, 9, 30), "monitoring"),
        (D(2026, 10, 31), "monitoring"),
        (D(2026, 11, 30), "monitoring"),
        (D(2026, 12, 31), "monitoring"),
        (D(2027, 1, 31), "monitoring"),
        (D(2027, 2, 28), "renewal"),
    ]


def test_it_gives_a_four_week_injection_one_visit_its_renewal():
    placed_on = D(2027, 2, 1)  # February: one month later is exactly four weeks later
    end = coverage_end(placed_on=placed_on, length=4, unit="weeks")
    visits = plan_visits(placed_on=placed_on, covers_until=end, renewal_lead_days=7, rules=RULES)
    assert visits == [PlannedVisit(VisitKind.RENEWAL, D(2027, 3, 1), D(2027, 2, 22), D(2027, 3, 1))]


def test_it_gives_monitoring_visits_a_week_either_side():
    first = plan(D(2026, 1, 10))[0]
    assert (first.window_start, first.due_on, first.window_end) == (D(2026, 2, 3), D(2026, 2, 10), D(2026, 2, 17))


def test_it_opens_the_renewal_window_two_weeks_early_and_closes_it_on_the_last_covered_day():
    renewal = plan(D(2026, 1, 10))[-1]
    assert (renewal.window_start, renewal.due_on, renewal.window_end) == (
        D(2026, 3, 27),
        D(2026, 4, 10),
        D(2026, 4, 10),
    )


def test_it_keeps_monitoring_visits_out_of_a_short_overridden_coverage():
    visits = plan_visits(placed_on=D(2026, 1, 10), covers_until=D(2026, 2, 20), renewal_lead_days=14, rules=RULES)
    assert dues(visits) == [(D(2026, 2, 20), "renewal")]


def test_it_never_opens_a_renewal_window_before_the_placement():
    visits = plan_visits(placed_on=D(2026, 1, 10), covers_until=D(2026, 1, 15), renewal_lead_days=14, rules=RULES)
    assert visits[-1].window_start == D(2026, 1, 10)


@given(
    st.dates(min_value=D(2000, 1, 1), max_value=D(2080, 12, 31)),
    st.sampled_from([(3, "months"), (6, "months"), (4, "weeks"), (12, "weeks"), (9, "months")]),
    st.integers(min_value=0, max_value=28),
)
def test_every_plan_ends_in_one_renewal_with_windows_around_due_dates(placed_on, coverage, lead):
    length, unit = coverage
    end = coverage_end(placed_on=placed_on, length=length, unit=unit)
    visits = plan_visits(placed_on=placed_on, covers_until=end, renewal_lead_days=lead, rules=RULES)
    assert [v.kind for v in visits].count(VisitKind.RENEWAL) == 1
    assert visits[-1].kind == VisitKind.RENEWAL
    assert visits[-1].due_on == end
    assert all(placed_on < v.window_start <= v.due_on <= v.window_end <= end for v in visits[:-1])
    assert [v.due_on for v in visits] == sorted({v.due_on for v in visits})


# Coverage state


def span(placed_on: datetime.date, ends_on: datetime.date, lead: int = 14) -> CoverageSpan:
    return CoverageSpan(placed_on=placed_on, ends_on=ends_on, renewal_lead_days=lead)


PLACED = span(D(2024, 1, 31), D(2024, 4, 30))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (D(2024, 1, 30), CoverageState.NONE),  # before the first placement
        (D(2024, 1, 31), CoverageState.COVERED),
        (D(2024, 3, 1), CoverageState.COVERED),
        (D(2024, 4, 15), CoverageState.COVERED),
        (D(2024, 4, 16), CoverageState.RENEWAL_WINDOW_OPEN),  # 14 days before the end
        (D(2024, 4, 29), CoverageState.RENEWAL_WINDOW_OPEN),
        (D(2024, 4, 30), CoverageState.RENEWAL_WINDOW_OPEN),  # the last covered day
        (D(2024, 5, 1), CoverageState.LAPSED),
        (D(2024, 5, 7), CoverageState.LAPSED),  # lapsed 7 days
        (D(2024, 5, 8), CoverageState.REINDUCTION_REQUIRED),  # more than 7
        (D(2025, 1, 1), CoverageState.REINDUCTION_REQUIRED),
    ],
)
def test_it_moves_through_the_coverage_states(today, expected):
    assert coverage_state(spans=[PLACED], today=today, discharged=False, rules=RULES) is expected


def test_it_has_no_coverage_without_placements():
    assert coverage_state(spans=[], today=D(2026, 1, 1), discharged=False, rules=RULES) is CoverageState.NONE


def test_it_shows_no_coverage_after_discharge():
    assert coverage_state(spans=[PLACED], today=D(2024, 3, 1), discharged=True, rules=RULES) is CoverageState.NONE


def test_it_follows_the_newest_placement():
    renewed = span(D(2024, 4, 25), D(2024, 7, 25))
    assert coverage_state(spans=[renewed, PLACED], today=D(2024, 5, 10), discharged=False, rules=RULES) is (
        CoverageState.COVERED
    )
    # On the day before the renewal, the first placement still decides.
    assert coverage_state(spans=[PLACED, renewed], today=D(2024, 4, 24), discharged=False, rules=RULES) is (
        CoverageState.RENEWAL_WINDOW_OPEN
    )


def test_it_counts_the_lapse_from_a_removal():
    removed = span(D(2024, 1, 31), D(2024, 2, 10))
    assert coverage_state(spans=[removed], today=D(2024, 2, 11), discharged=False, rules=RULES) is CoverageState.LAPSED


def test_it_uses_the_configured_reinduction_threshold():
    strict = ScheduleRules(1, 7, reinduction_after_lapse_days=0, induction_min_opioid_free_days=7)
    assert coverage_state(spans=[PLACED], today=D(2024, 5, 1), discharged=False, rules=strict) is (
        CoverageState.REINDUCTION_REQUIRED
    )


def test_only_no_coverage_and_reinduction_need_the_checklist():
    assert {state for state in CoverageState if needs_induction(state)} == {
        CoverageState.NONE,
        CoverageState.REINDUCTION_REQUIRED,
    }


def test_every_state_has_a_label_a_coordinator_reads():
    assert CoverageState.REINDUCTION_REQUIRED.label == "Re-induction required"
    assert all(state.label for state in CoverageState)


# Booking checks


def test_it_calls_a_renewal_before_the_window_early():
    assert is_early_renewal(previous=PLACED, placed_on=D(2024, 4, 15))
    assert not is_early_renewal(previous=PLACED, placed_on=D(2024, 4, 16))
    assert not is_early_renewal(previous=PLACED, placed_on=D(2024, 5, 3))


@pytest.mark.parametrize(
    ("day", "inside"),
    [(D(2026, 2, 2), False), (D(2026, 2, 3), True), (D(2026, 2, 17), True), (D(2026, 2, 18), False)],
)
def test_it_checks_appointments_against_the_window(day, inside):
    assert is_inside_window(day=day, window_start=D(2026, 2, 3), window_end=D(2026, 2, 17)) is inside


# The induction checklist


def checklist(**changes):
    given_values = {
        "opioid_free_days": 10,
        "urine_screen": "negative",
        "naloxone_challenge": "negative",
        "naloxone_waiver_reason": "",
    }
    return induction_problems(**(given_values | changes), rules=RULES)


def test_a_complete_checklist_has_no_problems():
    assert checklist() == {}
    assert checklist(opioid_free_days=7) == {}
    assert checklist(naloxone_challenge="waived", naloxone_waiver_reason="Confirmed opioid-free in hospital") == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"opioid_free_days": None}, "opioid_free_days"),
        ({"opioid_free_days": 6}, "opioid_free_days"),
        ({"urine_screen": "positive"}, "urine_screen"),
        ({"urine_screen": "not_done"}, "urine_screen"),
        ({"naloxone_challenge": "positive"}, "naloxone_challenge"),
        ({"naloxone_challenge": "not_done"}, "naloxone_challenge"),
        ({"naloxone_challenge": "waived", "naloxone_waiver_reason": "  "}, "naloxone_waiver_reason"),
    ],
)
def test_it_names_what_the_checklist_lacks(changes, field):
    assert list(checklist(**changes)) == [field]


@pytest.mark.parametrize(
    ("removed_on", "expected"),
    [
        (None, D(2024, 4, 30)),
        (D(2024, 3, 1), D(2024, 3, 1)),
        (D(2024, 4, 30), D(2024, 4, 30)),
        (D(2024, 5, 3), D(2024, 4, 30)),
    ],
)
def test_the_last_protected_day_is_the_planned_end_or_an_earlier_removal(removed_on, expected):
    assert last_protected_day(covers_until=D(2024, 4, 30), removed_on=removed_on) == expected
