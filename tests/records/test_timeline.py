"""The coverage timeline's geometry: spans, the gaps between them in red, marks and month ticks.

Pure: no database and no clock. The picture below runs from 19 February to 25 June 2026 (the first
placement and today, ten days of margin either side): 127 days over the 895 units between the lane
names (90) and the right padding (15), so a day is 895/127 = 7.047 units wide.
"""

import datetime

from patients.records import timeline
from patients.records.timeline import Event, Span, build_timeline, date_range, lapses_between, month_ticks

D = datetime.date
DAY = datetime.timedelta(days=1)
TODAY = D(2026, 6, 15)
IMPLANT = "Three-month implant"
# Placed 1 March, protected through 1 June: without cover from 2 June to today.
LAPSING = Span(placed_on=D(2026, 3, 1), ends_on=D(2026, 6, 1), label=IMPLANT)


def picture(*spans: Span, visits=(), sessions=(), today=TODAY, lapse_until=TODAY) -> timeline.Timeline:
    return build_timeline(spans=spans, visits=visits, sessions=sessions, today=today, lapse_until=lapse_until)


# The gaps


def test_a_gap_runs_from_the_day_after_one_dose_ends_to_the_day_before_the_next():
    first = Span(D(2026, 1, 1), D(2026, 4, 1), IMPLANT)
    second = Span(D(2026, 4, 10), D(2026, 7, 10), IMPLANT)
    assert lapses_between([second, first], lapse_until=TODAY) == [(D(2026, 4, 2), D(2026, 4, 9))]


def test_doses_that_touch_or_overlap_leave_no_gap():
    first = Span(D(2026, 1, 1), D(2026, 4, 1), IMPLANT)
    next_day = Span(D(2026, 4, 2), D(2026, 7, 2), IMPLANT)
    early = Span(D(2026, 3, 20), D(2026, 6, 20), IMPLANT)
    assert lapses_between([first, next_day], lapse_until=TODAY) == []
    assert lapses_between([first, early], lapse_until=TODAY) == []


def test_a_dose_ending_on_the_last_day_of_the_calendar_gives_no_gap_and_no_error():
    last = Span(D(9999, 10, 1), D(9999, 12, 31), IMPLANT)
    before = Span(D(9999, 7, 1), D(9999, 9, 30), IMPLANT)
    assert lapses_between([last, before], lapse_until=D(9999, 12, 31)) == []


def test_a_lapse_still_going_runs_to_today():
    assert lapses_between([LAPSING], lapse_until=TODAY) == [(D(2026, 6, 2), TODAY)]


def test_nothing_is_a_lapse_while_the_last_dose_still_protects():
    assert lapses_between([LAPSING], lapse_until=D(2026, 6, 1)) == []
    assert lapses_between([LAPSING], lapse_until=D(2026, 5, 1)) == []


def test_after_discharge_the_gap_stops_at_the_discharge_day_and_without_one_at_the_last_dose():
    assert lapses_between([LAPSING], lapse_until=D(2026, 6, 5)) == [(D(2026, 6, 2), D(2026, 6, 5))]
    assert lapses_between([LAPSING], lapse_until=None) == []


def test_a_patient_never_placed_has_no_gap_to_show():
    assert lapses_between([], lapse_until=TODAY) == []


# The range of dates shown


def test_without_placements_the_picture_shows_the_hundred_days_up_to_ten_days_ahead():
    assert date_range([], [], today=TODAY) == (TODAY - 90 * DAY, TODAY + 10 * DAY)


def test_the_range_runs_from_the_first_placement_to_today_with_ten_days_either_side():
    assert date_range([LAPSING], [], today=TODAY) == (D(2026, 2, 19), D(2026, 6, 25))


def test_a_later_event_stretches_the_range_and_the_limits_cut_long_histories():
    renewal = Event(D(2026, 9, 1), "scheduled", "Renewal")
    assert date_range([LAPSING], [renewal], today=TODAY) == (D(2026, 2, 19), D(2026, 9, 11))
    ancient = Span(D(2020, 1, 1), D(2020, 4, 1), IMPLANT)
    far_ahead = Event(D(2030, 1, 1), "scheduled", "Renewal")
    assert date_range([ancient], [far_ahead], today=TODAY) == (TODAY - 540 * DAY, TODAY + 200 * DAY)


def test_rows_at_the_ends_of_the_calendar_still_give_a_picture():
    odd = Span(D(1, 1, 1), D(9999, 12, 31), IMPLANT)
    assert date_range([odd], [], today=TODAY) == (TODAY - 540 * DAY, TODAY + 200 * DAY)


# The picture


def test_a_placement_is_a_bar_from_its_day_to_the_end_of_its_last_protected_day():
    drawn = picture(LAPSING)
    assert (drawn.starts_on, drawn.ends_on) == (D(2026, 2, 19), D(2026, 6, 25))
    # 1 March is day 10 of the picture: 90 + 10 * 7.047; the bar ends where 2 June (day 103) begins.
    assert drawn.bars == [timeline.Box(x=160.5, width=655.4, label=f"{IMPLANT}: 1 Mar 2026 to 1 Jun 2026")]


def test_an_ongoing_lapse_is_red_from_the_day_after_coverage_to_the_end_of_today():
    drawn = picture(LAPSING)
    # 2 June is day 103 (815.9), the end of 15 June is where day 117 begins (914.5).
    assert drawn.lapses == [timeline.Box(x=815.9, width=98.6, label="No coverage: 2 Jun 2026 to 15 Jun 2026")]
    assert drawn.today_x == 907.5  # today, day 116


def test_a_discharged_patient_shows_no_lapse_after_the_day_they_left():
    drawn = picture(LAPSING, lapse_until=D(2026, 6, 1))
    assert drawn.lapses == []
    assert "No gaps in coverage." in drawn.description


def test_a_patient_never_placed_has_an_empty_lane_and_says_so():
    drawn = picture()
    assert (drawn.bars, drawn.lapses, drawn.visits, drawn.sessions) == ([], [], [], [])
    assert drawn.description == (
        "From 17 Mar 2026; today is 15 Jun 2026. No placement yet. No gaps in coverage. "
        "Visits: none. Therapy sessions: none."
    )


def test_marks_sit_in_the_middle_of_their_day_in_date_order_and_outside_the_range_are_left_out():
    visits = [
        Event(D(2026, 4, 1), "completed", "Monitoring, completed"),
        Event(D(2026, 3, 2), "missed", "Monitoring, missed"),
        Event(D(2026, 2, 18), "completed", "Before the picture"),
    ]
    drawn = picture(LAPSING, visits=visits[:2], sessions=[Event(TODAY, "attended", "Individual session")])
    # 2 March is day 11 (167.5), 1 April day 41 (378.9), today day 116 (907.5); half a day is 3.5.
    assert [(mark.x, mark.status) for mark in drawn.visits] == [(171.0, "missed"), (382.4, "completed")]
    assert [(mark.x, mark.status) for mark in drawn.sessions] == [(911.0, "attended")]
    # An earlier visit widens the picture (from 8 February) rather than falling off it.
    wider = picture(LAPSING, visits=visits)
    assert wider.starts_on == D(2026, 2, 8)
    assert [mark.label for mark in wider.visits] == [
        "Before the picture",
        "Monitoring, missed",
        "Monitoring, completed",
    ]
    far = picture(LAPSING, visits=[Event(TODAY - 600 * DAY, "completed", "Too old")])
    assert far.visits == []


def test_the_description_counts_what_the_picture_shows():
    second = Span(D(2026, 6, 10), D(2026, 9, 10), IMPLANT)
    visits = [
        Event(D(2026, 4, 1), "completed", ""),
        Event(D(2026, 5, 1), "completed", ""),
        Event(D(2026, 6, 1), "missed", ""),
    ]
    sessions = [Event(D(2026, 6, 1), "cancelled", ""), Event(D(2026, 6, 8), "attended", "")]
    drawn = picture(LAPSING, second, visits=visits, sessions=sessions)
    assert drawn.description == (
        "From 19 Feb 2026; today is 15 Jun 2026. 2 placements; the newest on 10 Jun 2026, "
        "protecting through 10 Sep 2026. Without coverage: 2 Jun 2026 to 9 Jun 2026. "
        "Visits: 2 completed, 1 missed. Therapy sessions: 1 attended, 1 cancelled."
    )


# Month ticks


def test_ticks_mark_each_first_of_the_month_the_first_tick_and_january_with_the_year():
    assert month_ticks(D(2025, 11, 19), D(2026, 2, 25)) == [
        (D(2025, 12, 1), "Dec 2025"),
        (D(2026, 1, 1), "Jan 2026"),
        (D(2026, 2, 1), "Feb"),
    ]
    assert month_ticks(D(2026, 3, 1), D(2026, 4, 30))[0] == (D(2026, 3, 1), "Mar 2026")


def test_beyond_fifteen_months_only_every_third_month_is_labelled():
    ticks = month_ticks(D(2025, 1, 5), D(2026, 6, 25))
    assert ticks == [
        (D(2025, 4, 1), "Apr 2025"),
        (D(2025, 7, 1), "Jul"),
        (D(2025, 10, 1), "Oct"),
        (D(2026, 1, 1), "Jan 2026"),
        (D(2026, 4, 1), "Apr"),
    ]


def test_the_picture_places_its_ticks_at_the_start_of_each_month():
    drawn = picture(LAPSING)
    # 1 March, April, May and June are days 10, 41, 71 and 102 of the picture.
    assert drawn.ticks == [
        timeline.Tick(x=160.5, label="Mar 2026"),
        timeline.Tick(x=378.9, label="Apr"),
        timeline.Tick(x=590.4, label="May"),
        timeline.Tick(x=808.8, label="Jun"),
    ]
