"""Time where the clinic is: the one home of "today in the clinic" and "midnight in the clinic".

A clinic's patients live in its time zone, so every day the tracker reasons about (what is due,
what has lapsed, what the digest reports) is a day on the clinic's wall calendar, never the
server's. These take a moment (``now``, an aware datetime) or read the clock once when none is
given; pass ``now`` down where one run must see a single instant.
"""

import datetime
import zoneinfo
from typing import Protocol

from django.utils import timezone


class HasZone(Protocol):
    @property
    def zone(self) -> zoneinfo.ZoneInfo: ...


Where = HasZone | zoneinfo.ZoneInfo | str


def zone_of(where: Where) -> zoneinfo.ZoneInfo:
    """A clinic's zone, from the clinic, its zone, or the zone's name."""
    if isinstance(where, zoneinfo.ZoneInfo):
        return where
    if isinstance(where, str):
        return zoneinfo.ZoneInfo(where)
    return where.zone


def clinic_today(where: Where, *, now: datetime.datetime | None = None) -> datetime.date:
    """The date on the clinic's calendar at ``now`` (the clock's now when not given)."""
    return timezone.localtime(now or timezone.now(), zone_of(where)).date()


def clinic_midnight(day: datetime.date, where: Where) -> datetime.datetime:
    """The moment ``day`` begins in the clinic, as an aware datetime.

    On a day that starts in a daylight-saving gap (none of the zones in use; some have had one),
    the first moment that exists.
    """
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=zone_of(where))


class ClinicDays:
    """Today in each clinic's zone at one moment, worked out once per zone: for pages that list
    patients of several clinics."""

    def __init__(self, *, now: datetime.datetime | None = None) -> None:
        self._now = now or timezone.now()
        self._days: dict[str, datetime.date] = {}

    def today(self, time_zone: str) -> datetime.date:
        if time_zone not in self._days:
            self._days[time_zone] = clinic_today(time_zone, now=self._now)
        return self._days[time_zone]
