"""TEST_TODAY pins the day every in-process test runs on; tests with real workers keep the real clock."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from patients.clinic_time import clinic_today
from tests import pinned_day


def test_it_reads_a_day_written_yyyy_mm_dd():
    assert pinned_day.read_test_today("2028-02-29") == datetime.date(2028, 2, 29)


def test_it_leaves_the_clock_alone_when_unset_or_empty():
    assert pinned_day.read_test_today("") is None


@pytest.mark.parametrize("value", ["2028-11-5", "20281105", "2028-W45-7", "05/11/2028", "tomorrow", " 2028-11-05"])
def test_it_refuses_a_day_written_otherwise(value):
    with pytest.raises(pytest.UsageError, match="YYYY-MM-DD"):
        pinned_day.read_test_today(value)


@pytest.mark.parametrize("value", ["2027-02-29", "2028-13-01", "2028-04-31"])
def test_it_refuses_a_day_that_does_not_exist(value):
    with pytest.raises(pytest.UsageError, match="not a day of the calendar"):
        pinned_day.read_test_today(value)


@pytest.mark.django_db
def test_the_clock_stands_at_noon_in_london_on_the_pinned_day(request, clinic):
    day = request.config.stash[pinned_day.day_key]
    if day is None:
        assert not time_machine.escape_hatch.is_travelling()
        return
    noon = datetime.datetime(day.year, day.month, day.day, 12, tzinfo=pinned_day.PINNED_ZONE)
    assert timezone.now() == noon
    assert clinic_today(clinic) == day


def test_a_test_that_moves_the_clock_itself_still_can(time_machine):
    time_machine.move_to(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC), tick=False)
    assert timezone.now() == datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC)


@pytest.mark.workers
def test_tests_with_real_workers_keep_the_real_clock():
    assert not time_machine.escape_hatch.is_travelling()
