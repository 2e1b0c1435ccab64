"""When reminders go out, without a database: local days and hours in each clinic's zone."""

import datetime
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patients.reminders.timing import (
    Daytime,
    ReminderKind,
    is_daytime,
    local_moment,
    next_daytime,
    plan_advance_reminders,
    plan_missed_visit_reminder,
    send_moment,
    visit_passes_at,
)

D = datetime.date
T = datetime.time
LONDON = zoneinfo.ZoneInfo("Europe/London")
DAYTIME = Daytime(start=T(9), end=T(19))
UTC = datetime.UTC
TEN = T(10)


def at(day, hour, minute=0, zone=LONDON):
    return datetime.datetime.combine(day, T(hour, minute), tzinfo=zone)


def plan(visit_kind, due_on, appointment_at=None, zone=LONDON, send_time=TEN):
    return plan_advance_reminders(
        visit_kind=visit_kind,
        due_on=due_on,
        appointment_at=appointment_at,
        send_time=send_time,
        daytime=DAYTIME,
        zone=zone,
    )


def test_it_announces_a_monitoring_visit_three_days_and_one_day_ahead_at_ten():
    reminders = plan("monitoring", D(2026, 6, 20))
    assert [(r.kind, r.send_at) for r in reminders] == [
        (ReminderKind.MONITORING_3_DAYS, at(D(2026, 6, 17), 10)),
        (ReminderKind.MONITORING_1_DAY, at(D(2026, 6, 19), 10)),
    ]
    assert all(r.send_at.tzinfo is UTC for r in reminders)


def test_it_announces_a_renewal_two_weeks_three_days_and_one_day_ahead():
    reminders = plan("renewal", D(2026, 7, 1))
    assert [(r.kind, r.send_at.astimezone(LONDON).date()) for r in reminders] == [
        (ReminderKind.RENEWAL_14_DAYS, D(2026, 6, 17)),
        (ReminderKind.RENEWAL_3_DAYS, D(2026, 6, 28)),
        (ReminderKind.RENEWAL_1_DAY, D(2026, 6, 30)),
    ]


def test_it_counts_from_the_appointment_day_when_one_is_booked():
    appointment = at(D(2026, 6, 24), 15, 30)
    reminders = plan("monitoring", D(2026, 6, 20), appointment_at=appointment)
    assert [r.send_at for r in reminders] == [at(D(2026, 6, 21), 10), at(D(2026, 6, 23), 10)]


def test_it_takes_the_appointment_day_in_the_clinic_zone():
    # 01:30 UTC on the 24th is still the 23rd in New York.
    new_york = zoneinfo.ZoneInfo("America/New_York")
    appointment = datetime.datetime(2026, 6, 24, 1, 30, tzinfo=UTC)
    reminders = plan("monitoring", D(2026, 6, 20), appointment_at=appointment, zone=new_york)
    assert reminders[-1].send_at == at(D(2026, 6, 22), 10, zone=new_york)


def test_it_keeps_ten_oclock_across_the_spring_change():
    # Clocks go forward on 29 March 2026 in London: UTC 10:00 before, 09:00 after.
    before, after = plan("monitoring", D(2026, 3, 30))
    assert before.send_at == datetime.datetime(2026, 3, 27, 10, tzinfo=UTC)
    assert after.send_at == datetime.datetime(2026, 3, 29, 9, tzinfo=UTC)


def test_it_keeps_ten_oclock_across_the_autumn_change():
    # Clocks go back on 25 October 2026 in London.
    before, after = plan("monitoring", D(2026, 10, 26))
    assert before.send_at == datetime.datetime(2026, 10, 23, 9, tzinfo=UTC)
    assert after.send_at == datetime.datetime(2026, 10, 25, 10, tzinfo=UTC)


def test_a_send_time_outside_the_day_waits_for_the_morning():
    assert send_moment(D(2026, 6, 1), send_time=T(7), daytime=DAYTIME, zone=LONDON) == at(D(2026, 6, 1), 9)
    assert send_moment(D(2026, 6, 1), send_time=T(21), daytime=DAYTIME, zone=LONDON) == at(D(2026, 6, 2), 9)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (at(D(2026, 6, 1), 3), at(D(2026, 6, 1), 9)),
        (at(D(2026, 6, 1), 9), at(D(2026, 6, 1), 9)),
        (at(D(2026, 6, 1), 18, 59), at(D(2026, 6, 1), 18, 59)),
        (at(D(2026, 6, 1), 19), at(D(2026, 6, 2), 9)),
        (at(D(2026, 12, 31), 23), at(D(2027, 1, 1), 9)),
    ],
)
def test_it_finds_the_next_daytime_moment(local, expected):
    assert next_daytime(local, daytime=DAYTIME, zone=LONDON) == expected


def test_a_visit_passes_at_its_appointment_or_at_the_end_of_its_day():
    assert visit_passes_at(due_on=D(2026, 6, 20), appointment_at=None, zone=LONDON) == at(D(2026, 6, 21), 0)
    appointment = at(D(2026, 6, 22), 11)
    assert visit_passes_at(due_on=D(2026, 6, 20), appointment_at=appointment, zone=LONDON) == appointment


def test_the_missed_visit_email_goes_the_day_after_the_window_closed():
    marked = at(D(2026, 6, 9), 0, 5)
    reminder = plan_missed_visit_reminder(
        window_end=D(2026, 6, 8), now=marked, send_time=T(10), daytime=DAYTIME, zone=LONDON
    )
    assert (reminder.kind, reminder.send_at) == (ReminderKind.MISSED_VISIT, at(D(2026, 6, 9), 10))


def test_a_late_missed_visit_email_goes_at_the_next_daytime_moment():
    late = at(D(2026, 6, 12), 20)
    reminder = plan_missed_visit_reminder(
        window_end=D(2026, 6, 8), now=late, send_time=T(10), daytime=DAYTIME, zone=LONDON
    )
    assert reminder.send_at == at(D(2026, 6, 13), 9)


def test_a_daytime_window_must_be_a_window():
    with pytest.raises(ValueError, match="start before it ends"):
        Daytime(start=T(19), end=T(9))


ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Pacific/Auckland", "America/Sao_Paulo", "UTC"]
# Dates either side of both daylight-saving changes in the northern and southern hemispheres.
AROUND_CHANGES = st.sampled_from(
    [D(2026, 3, 8), D(2026, 3, 29), D(2026, 4, 5), D(2026, 9, 27), D(2026, 10, 4), D(2026, 10, 25), D(2026, 11, 1)]
).flatmap(lambda day: st.integers(min_value=-16, max_value=16).map(lambda shift: day + datetime.timedelta(shift)))


@settings(max_examples=300)
@given(
    zone_name=st.sampled_from(ZONES),
    due_on=AROUND_CHANGES,
    visit_kind=st.sampled_from(["monitoring", "renewal"]),
    send_hour=st.integers(min_value=0, max_value=23),
    window=st.tuples(st.integers(min_value=6, max_value=11), st.integers(min_value=16, max_value=22)),
)
def test_no_reminder_falls_outside_the_day_moves_an_hour_or_doubles(zone_name, due_on, visit_kind, send_hour, window):
    zone = zoneinfo.ZoneInfo(zone_name)
    daytime = Daytime(start=T(window[0]), end=T(window[1]))
    reminders = plan_advance_reminders(
        visit_kind=visit_kind, due_on=due_on, appointment_at=None, send_time=T(send_hour), daytime=daytime, zone=zone
    )
    moments = [r.send_at for r in reminders]
    assert len(set(moments)) == len(moments)  # none doubled
    assert moments == sorted(moments)  # none out of order, so none skipped past the next
    for reminder in reminders:
        local = reminder.send_at.astimezone(zone)
        assert is_daytime(reminder.send_at, daytime=daytime, zone=zone)
        # The same wall-clock time every day: 10:00 stays 10:00 whatever the offset that day.
        expected_hour = min(max(send_hour, window[0]), window[1]) if send_hour < window[1] else window[0]
        assert (local.hour, local.minute) == (expected_hour, 0)
        assert local_moment(local.date(), local.time(), zone) == reminder.send_at
