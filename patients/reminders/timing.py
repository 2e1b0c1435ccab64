"""When reminders go out: dates and clinic-local times in, UTC moments out.

Pure functions like ``patients.records.schedule``: no database, no clock. Local-time arithmetic is done
here with the clinic's IANA zone, never by Celery, so a daylight-saving change cannot move a
reminder by an hour: 10:00 in London is 10:00 on both sides of the change.

The rules, in words (defaults are settings; README "Reminders"):

- A monitoring visit is announced 3 days and 1 day before; a renewal 14 days, 3 days and 1 day
  before. "Before" counts from the booked appointment's day when there is one, else the due day.
- A reminder goes out at a set local time on its day (default 10:00, clinic time), and only inside
  the clinic's daytime window (default 09:00 to 19:00): one that falls due at night waits for the
  morning.
- A "we missed you" email goes out on the day after a visit's window closed, when it is marked missed.
- A reminder for a visit that has passed (its appointment, or the end of its due day) is never sent.
"""

import datetime
import enum
import zoneinfo
from dataclasses import dataclass


class ReminderKind(enum.StrEnum):
    MONITORING_3_DAYS = "monitoring_3_days"
    MONITORING_1_DAY = "monitoring_1_day"
    RENEWAL_14_DAYS = "renewal_14_days"
    RENEWAL_3_DAYS = "renewal_3_days"
    RENEWAL_1_DAY = "renewal_1_day"
    MISSED_VISIT = "missed_visit"


# Which reminders announce which kind of visit, and how many days ahead.
ADVANCE_REMINDERS: dict[str, tuple[tuple[ReminderKind, int], ...]] = {
    "monitoring": ((ReminderKind.MONITORING_3_DAYS, 3), (ReminderKind.MONITORING_1_DAY, 1)),
    "renewal": ((ReminderKind.RENEWAL_14_DAYS, 14), (ReminderKind.RENEWAL_3_DAYS, 3), (ReminderKind.RENEWAL_1_DAY, 1)),
}


@dataclass(frozen=True)
class Daytime:
    """The hours in which a clinic's patients may be emailed, in clinic time."""

    start: datetime.time
    end: datetime.time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("The daytime window must start before it ends.")


@dataclass(frozen=True)
class PlannedReminder:
    kind: ReminderKind
    send_at: datetime.datetime  # aware, UTC


def local_moment(day: datetime.date, at: datetime.time, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """``at`` o'clock on ``day`` in ``zone``, as a UTC moment."""
    return datetime.datetime.combine(day, at, tzinfo=zone).astimezone(datetime.UTC)


def is_daytime(moment: datetime.datetime, *, daytime: Daytime, zone: zoneinfo.ZoneInfo) -> bool:
    local = moment.astimezone(zone).time()
    return daytime.start <= local < daytime.end


def next_daytime(moment: datetime.datetime, *, daytime: Daytime, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """The first moment at or after ``moment`` inside the daytime window."""
    local = moment.astimezone(zone)
    if local.time() < daytime.start:
        return local_moment(local.date(), daytime.start, zone)
    if local.time() >= daytime.end:
        return local_moment(local.date() + datetime.timedelta(days=1), daytime.start, zone)
    return moment.astimezone(datetime.UTC)


def send_moment(
    day: datetime.date, *, send_time: datetime.time, daytime: Daytime, zone: zoneinfo.ZoneInfo
) -> datetime.datetime:
    """When a reminder for ``day`` goes out: the set local time, moved into the daytime window."""
    return next_daytime(local_moment(day, send_time, zone), daytime=daytime, zone=zone)


def visit_passes_at(
    *, due_on: datetime.date, appointment_at: datetime.datetime | None, zone: zoneinfo.ZoneInfo
) -> datetime.datetime:
    """The moment after which announcing the visit is pointless."""
    if appointment_at is not None:
        return appointment_at.astimezone(datetime.UTC)
    return local_moment(due_on + datetime.timedelta(days=1), datetime.time(0), zone)


def plan_advance_reminders(
    *,
    visit_kind: str,
    due_on: datetime.date,
    appointment_at: datetime.datetime | None,
    send_time: datetime.time,
    daytime: Daytime,
    zone: zoneinfo.ZoneInfo,
) -> list[PlannedReminder]:
    """The reminders that announce one visit, oldest first."""
    anchor = appointment_at.astimezone(zone).date() if appointment_at is not None else due_on
    return [
        PlannedReminder(
            kind=kind,
            send_at=send_moment(
                anchor - datetime.timedelta(days=days), send_time=send_time, daytime=daytime, zone=zone
            ),
        )
        for kind, days in ADVANCE_REMINDERS[visit_kind]
    ]


def plan_missed_visit_reminder(
    *,
    window_end: datetime.date,
    now: datetime.datetime,
    send_time: datetime.time,
    daytime: Daytime,
    zone: zoneinfo.ZoneInfo,
) -> PlannedReminder:
    """The day after the window closed at the set time; if that has passed, the next daytime moment."""
    planned = send_moment(window_end + datetime.timedelta(days=1), send_time=send_time, daytime=daytime, zone=zone)
    return PlannedReminder(
        kind=ReminderKind.MISSED_VISIT, send_at=max(planned, next_daytime(now, daytime=daytime, zone=zone))
    )
