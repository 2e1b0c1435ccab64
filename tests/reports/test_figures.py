"""The reports' monthly arithmetic on small cases worked out by hand: month boundaries, leap
February, lapses per 100 patient-months, renewals, retention, and the interval helpers under them.

tests/reports/test_reports.py covers the figures of an ordinary spring; these are the edges.
"""

import datetime

from patients.reports.figures import (
    Dose,
    Month,
    PatientHistory,
    Share,
    StatusChange,
    contains,
    intersect,
    merge,
    months_between,
    status_days,
    tally,
)

D = datetime.date
TODAY = D(2028, 4, 15)
ACTIVE = [StatusChange(datetime.date.min, "active")]


def dose(placed_on: D, ends_on: D, next_placed_on: D | None = None, *, removed: bool = False) -> Dose:
    return Dose(
        placed_on=placed_on,
        ends_on=ends_on,
        renewal_due_on=None if removed else ends_on,
        next_placed_on=next_placed_on,
    )


def patient(*doses: Dose, statuses=ACTIVE) -> PatientHistory:
    first = min(item.placed_on for item in doses)
    return PatientHistory(registered_on=first, first_placed_on=first, doses=doses, statuses=statuses)


def figures_for(*histories: PatientHistory, first: D, last: D, today: D = TODAY) -> dict:
    months = months_between(first, last, today=today)
    return {f"{figures.month.first:%Y-%m}": figures for figures in tally(histories, months, today=today)}


def share(value: Share) -> tuple[int, int]:
    return value.part, value.whole


# Months


def test_months_run_from_the_first_of_the_first_month_across_the_new_year():
    months = months_between(D(2027, 12, 15), D(2028, 2, 3), today=TODAY)
    assert months == [
        Month(first=D(2027, 12, 1), last=D(2027, 12, 31)),
        Month(first=D(2028, 1, 1), last=D(2028, 1, 31)),
        Month(first=D(2028, 2, 1), last=D(2028, 2, 29)),
    ]


def test_a_leap_february_has_29_days_and_an_ordinary_one_28():
    leap, ordinary = Month(D(2028, 2, 1), D(2028, 2, 29)), Month(D(2027, 2, 1), D(2027, 2, 28))
    assert (leap.length, leap.is_complete) == (29, True)
    assert (ordinary.length, ordinary.is_complete) == (28, True)
    assert Month(D(2028, 2, 1), D(2028, 2, 28)).is_complete is False


def test_the_current_month_ends_today_and_is_not_complete_until_its_last_day():
    [february] = months_between(D(2028, 2, 1), D(2028, 2, 1), today=D(2028, 2, 28))
    assert (february.last, february.length, february.is_complete) == (D(2028, 2, 28), 29, False)
    [leap_day] = months_between(D(2028, 2, 1), D(2028, 2, 1), today=D(2028, 2, 29))
    assert leap_day.is_complete


# Shares and runs of days


def test_a_share_of_nothing_has_no_rate_rather_than_zero():
    empty = Share()
    assert empty.rate is None
    empty.add(1, 4)
    empty.add(2, 4)
    assert (empty.part, empty.whole, empty.rate) == (3, 8, 0.375)


def test_merge_joins_runs_that_overlap_or_touch_and_keeps_gaps():
    assert merge([(5, 7), (1, 3), (4, 4), (10, 12), (11, 15), (17, 17)]) == [(1, 7), (10, 15), (17, 17)]
    assert merge([]) == []


def test_intersect_keeps_the_days_in_both_and_contains_finds_a_day():
    runs = [(1, 7), (10, 15)]
    assert intersect(runs, [(3, 11), (14, 20)]) == [(3, 7), (10, 11), (14, 15)]
    assert intersect(runs, [(8, 9)]) == []
    assert [day for day in range(0, 17) if contains(runs, day)] == [1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15]
    assert contains([], 5) is False


def test_status_days_are_the_days_a_status_held_up_to_the_limit():
    statuses = [
        StatusChange(datetime.date.min, "active"),
        StatusChange(D(2028, 1, 10), "paused"),
        StatusChange(D(2028, 1, 20), "active"),
        StatusChange(D(2028, 2, 1), "discharged"),
    ]
    until = D(2028, 3, 1).toordinal()
    assert status_days(statuses, {"active"}, until=until) == [
        (datetime.date.min.toordinal(), D(2028, 1, 9).toordinal()),
        (D(2028, 1, 20).toordinal(), D(2028, 1, 31).toordinal()),
    ]
    assert status_days(statuses, {"active", "paused"}, until=until) == [
        (datetime.date.min.toordinal(), D(2028, 1, 31).toordinal())
    ]
    assert status_days(statuses, {"discharged"}, until=until) == [(D(2028, 2, 1).toordinal(), until)]


# The monthly figures at the edges


def test_no_months_give_no_figures():
    assert tally([patient(dose(D(2028, 1, 1), D(2028, 4, 1)))], [], today=TODAY) == []


def test_a_dose_through_the_leap_day_renewed_on_1_march_covers_february_whole_and_is_on_time():
    months = figures_for(
        patient(dose(D(2027, 11, 29), D(2028, 2, 29), D(2028, 3, 1)), dose(D(2028, 3, 1), D(2028, 6, 1))),
        first=D(2028, 2, 1),
        last=D(2028, 4, 1),
    )
    assert share(months["2028-02"].days_covered) == (29, 29)
    assert share(months["2028-02"].renewals_on_time) == (1, 1)
    assert months["2028-02"].lapses == months["2028-03"].lapses == 0
    assert share(months["2028-03"].days_covered) == (31, 31)
    assert share(months["2028-04"].days_covered) == (15, 15)  # to today, 15 April


def test_a_renewal_on_2_march_after_the_leap_day_is_late_and_its_lapse_counts_in_march():
    months = figures_for(
        patient(dose(D(2027, 11, 29), D(2028, 2, 29), D(2028, 3, 2)), dose(D(2028, 3, 2), D(2028, 6, 2))),
        first=D(2028, 2, 1),
        last=D(2028, 4, 1),
    )
    assert share(months["2028-02"].renewals_on_time) == (0, 1)
    assert months["2028-02"].lapses == 0
    assert months["2028-03"].lapses == 1
    assert share(months["2028-03"].days_covered) == (30, 31)
    assert months["2028-03"].lapses_per_100_patient_months == 100.0  # 31 patient-days: one patient-month


def test_lapses_per_100_patient_months_count_a_leap_february_as_29_days():
    # Two patients on treatment all February: 58 patient-days, two patient-months. One of them is
    # without cover from 15 to 19 February.
    steady = patient(dose(D(2028, 1, 1), D(2028, 4, 1)))
    gap = patient(dose(D(2027, 11, 14), D(2028, 2, 14), D(2028, 2, 20)), dose(D(2028, 2, 20), D(2028, 5, 20)))
    february = figures_for(steady, gap, first=D(2028, 2, 1), last=D(2028, 2, 1))["2028-02"]
    assert share(february.days_covered) == (29 + 24, 58)
    assert february.lapses == 1
    assert february.lapses_per_100_patient_months == 50.0
    assert february.active_patients == 2


def test_half_a_month_on_treatment_is_half_a_patient_month():
    # First placed 15 February 2027: on treatment 14 of February's 28 days; a week's dose, then a lapse.
    short = patient(dose(D(2027, 2, 15), D(2027, 2, 21)))
    february = figures_for(short, first=D(2027, 2, 1), last=D(2027, 2, 1), today=D(2027, 3, 31))["2027-02"]
    assert share(february.days_covered) == (7, 14)
    assert february.lapses == 1
    assert february.lapses_per_100_patient_months == 200.0


def test_a_lapse_on_the_first_reported_day_counts_and_a_renewal_due_before_the_report_is_not_judged():
    ended = patient(dose(D(2027, 9, 30), D(2027, 12, 31)))
    months = figures_for(ended, first=D(2028, 1, 1), last=D(2028, 2, 1))
    assert months["2028-01"].lapses == 1
    assert all(figures.renewals_on_time.whole == 0 for figures in months.values())
    assert share(months["2028-01"].days_covered) == (0, 31)


def test_an_implant_removed_early_expects_no_renewal_but_its_lapse_counts():
    removed = patient(dose(D(2028, 1, 10), D(2028, 2, 10), removed=True))
    months = figures_for(removed, first=D(2028, 1, 1), last=D(2028, 3, 1))
    assert sum(figures.renewals_on_time.whole for figures in months.values()) == 0
    assert (months["2028-01"].lapses, months["2028-02"].lapses, months["2028-03"].lapses) == (0, 1, 0)
    assert share(months["2028-02"].days_covered) == (10, 29)


def test_retention_at_90_days_can_fall_on_the_leap_day():
    # First placed 1 December 2027: the 90th day after it is 29 February 2028 (30 + 31 + 29).
    retained = patient(dose(D(2027, 12, 1), D(2028, 3, 1)))
    uncovered_that_day = patient(
        dose(D(2027, 12, 1), D(2028, 2, 28), D(2028, 3, 1)), dose(D(2028, 3, 1), D(2028, 6, 1))
    )
    a_day_later = patient(dose(D(2027, 12, 2), D(2028, 3, 2)))  # its 90th day is 1 March
    months = figures_for(retained, uncovered_that_day, a_day_later, first=D(2028, 1, 1), last=D(2028, 4, 1))
    assert share(months["2028-02"].retention[90]) == (1, 2)
    assert share(months["2028-03"].retention[90]) == (1, 1)
    assert all(figures.retention[180].whole == 0 for figures in months.values())  # 28 May is after today


def test_retention_counts_a_patient_discharged_before_the_day_as_not_retained():
    discharged = [StatusChange(datetime.date.min, "active"), StatusChange(D(2028, 2, 20), "discharged")]
    left = patient(dose(D(2027, 12, 1), D(2028, 3, 1)), statuses=discharged)
    february = figures_for(left, first=D(2028, 2, 1), last=D(2028, 2, 1))["2028-02"]
    assert share(february.retention[90]) == (0, 1)
    assert share(february.days_covered) == (19, 19)  # in care 1 to 19 February
