"""The day the suite runs on: TEST_TODAY=YYYY-MM-DD freezes every in-process test's clock on that day.

A failure that shows only on some days (the 1st to the 9th of a month, the 29th of February, a
daylight-saving change) can be run again on that day: `make test TEST_TODAY=2028-02-29`. Without
the variable, tests run on the real clock. tests/conftest.py reads the variable when pytest starts
and uses ``pinned_clock`` for every test.
"""

import datetime
import re
import zoneinfo
from collections.abc import Iterator

import pytest
import time_machine

TEST_TODAY = "TEST_TODAY"
PINNED_ZONE = zoneinfo.ZoneInfo("Europe/London")
PINNED_TIME = datetime.time(12)
day_key = pytest.StashKey[datetime.date | None]()


def read_test_today(value: str) -> datetime.date | None:
    """The day TEST_TODAY names; None when it is unset or empty. Anything but a real YYYY-MM-DD is an error."""
    if not value:
        return None
    # date.fromisoformat alone would also take 20281105 and 2028-W45-7.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise pytest.UsageError(f"{TEST_TODAY}={value!r} is not a day written YYYY-MM-DD, for instance 2028-11-05.")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise pytest.UsageError(f"{TEST_TODAY}={value!r} is not a day of the calendar: {error}.") from None


def header(day: datetime.date | None) -> str:
    """The line pytest's header shows, so that a run's output says which day it ran on."""
    if day is None:
        return f"{TEST_TODAY}: unset, tests run on the real clock"
    return (
        f"{TEST_TODAY}: clock frozen at {day.isoformat()} {PINNED_TIME:%H:%M} {PINNED_ZONE.key} "
        "(tests marked workers run on the real clock)"
    )


@pytest.fixture(autouse=True)
def pinned_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Freezes the clock at noon of TEST_TODAY, London time, for the whole test; does nothing without it.

    time-machine patches the clock of the whole process, threads included, so the live server of
    the browser tests runs on that day too. The clock stands still (tick=False) rather than ticking
    from noon: nothing in the suite waits for the wall clock to move (timeouts run on the monotonic
    clock, which time-machine leaves alone, and Chromium ages cookies by their Max-Age on its own
    clock), and a frozen clock gives every run of a test the same moments. Tests that set the time
    themselves (``time_machine.move_to``) travel on from here and come back on teardown.

    Tests marked ``workers`` run real workers in other processes, which no patch reaches: they keep
    the real clock and build their data from it.
    """
    day = request.config.stash[day_key]
    if day is None or request.node.get_closest_marker("workers"):
        yield
        return
    noon = datetime.datetime.combine(day, PINNED_TIME, tzinfo=PINNED_ZONE)
    # A timestamp rather than the zoned datetime: time-machine would also set the process's TZ
    # variable to the datetime's zone, and Django's TIME_ZONE already chose it.
    with time_machine.travel(noon.timestamp(), tick=False):
        yield


def suite_noon(config: pytest.Config) -> datetime.datetime:
    """Noon, London time, of the suite's day: TEST_TODAY's, or the real date's when it is unset."""
    day = config.stash[day_key] or datetime.datetime.now(PINNED_ZONE).date()
    return datetime.datetime.combine(day, PINNED_TIME, tzinfo=PINNED_ZONE)


@pytest.fixture
def still_clock(
    request: pytest.FixtureRequest, time_machine: time_machine.TimeMachineFixture
) -> time_machine.TimeMachineFixture:
    """The clock stopped at noon of the suite's day, for a test to move on with ``shift``.

    For tests that compare a stored moment with the clock, or wait out a duration: they never read
    the wall clock, so they give the same moments on every run (the hour never matters), and under
    TEST_TODAY they run on that day like the rest of the suite.
    """
    time_machine.move_to(suite_noon(request.config).timestamp(), tick=False)
    return time_machine
