"""Today and midnight where the clinic is, whatever the server's zone and the hour."""

import datetime
import zoneinfo

from patients.clinic_time import ClinicDays, clinic_midnight, clinic_today
from tests.factories import ClinicFactory

UTC = datetime.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def test_today_is_the_date_on_the_clinics_calendar():
    late_evening_in_new_york = datetime.datetime(2028, 11, 5, 3, 30, tzinfo=UTC)
    assert clinic_today(LONDON, now=late_evening_in_new_york) == datetime.date(2028, 11, 5)
    assert clinic_today(NEW_YORK, now=late_evening_in_new_york) == datetime.date(2028, 11, 4)
    assert clinic_today("America/New_York", now=late_evening_in_new_york) == datetime.date(2028, 11, 4)


def test_a_clinic_row_gives_its_own_zone():
    clinic = ClinicFactory.build(time_zone="America/New_York")
    assert clinic_today(clinic, now=datetime.datetime(2028, 11, 5, 3, 59, tzinfo=UTC)) == datetime.date(2028, 11, 4)
    assert clinic_today(clinic, now=datetime.datetime(2028, 11, 5, 4, 0, tzinfo=UTC)) == datetime.date(2028, 11, 5)


def test_midnight_follows_daylight_saving_time():
    # London keeps GMT in winter and BST (UTC+1) in summer; New York leaves EDT on 5 November 2028.
    assert clinic_midnight(datetime.date(2028, 1, 10), LONDON).astimezone(UTC).hour == 0
    assert clinic_midnight(datetime.date(2028, 7, 10), LONDON).astimezone(UTC) == datetime.datetime(
        2028, 7, 9, 23, 0, tzinfo=UTC
    )
    assert clinic_midnight(datetime.date(2028, 11, 5), NEW_YORK).astimezone(UTC) == datetime.datetime(
        2028, 11, 5, 4, 0, tzinfo=UTC
    )
    assert clinic_midnight(datetime.date(2028, 11, 6), NEW_YORK).astimezone(UTC) == datetime.datetime(
        2028, 11, 6, 5, 0, tzinfo=UTC
    )


def test_a_day_of_a_clinic_runs_from_its_midnight_to_the_next():
    now = datetime.datetime(2028, 11, 5, 12, 0, tzinfo=UTC)
    for zone in (LONDON, NEW_YORK):
        today = clinic_today(zone, now=now)
        assert clinic_midnight(today, zone) <= now < clinic_midnight(today + datetime.timedelta(days=1), zone)


def test_clinic_days_read_the_clock_once_for_every_zone():
    now = datetime.datetime(2028, 11, 5, 3, 30, tzinfo=UTC)
    days = ClinicDays(now=now)
    assert days.today("Europe/London") == datetime.date(2028, 11, 5)
    assert days.today("America/New_York") == datetime.date(2028, 11, 4)
