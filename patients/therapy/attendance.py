"""Therapy attendance and when it is low: one rule for the patient page, the dashboard, the digest
and the reports.

Attendance counts a patient's sessions of the last ``ATTENDANCE_DAYS`` days, today included;
excused sessions and sessions the clinic cancelled count for nothing. It is low when fewer than
``LOW_ATTENDANCE`` of the counted sessions were attended, or when no session at all was attended in
the last ``ATTENDANCE_RECENT_DAYS`` days (a patient who stopped coming has no sessions to count).

Pure: :func:`attendance` reads sessions already loaded and :func:`is_low` reads three counts.
:func:`low_attendance` is the same test as a condition for the database, over the three counts
annotated by ``patients.therapy.queries.with_attendance``; a test checks that the two agree.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from django.db.models import F, Q
from django.db.models.lookups import Exact, LessThan

# The stored values of TherapySession.Status that count (a test checks they match the model's).
ATTENDED = "attended"
MISSED = "missed"

ATTENDANCE_DAYS = 90
ATTENDANCE_RECENT_DAYS = 30
# Under this share of counted sessions attended, attendance is low.
LOW_ATTENDANCE = Fraction(3, 4)


class Session(Protocol):
    @property
    def held_on(self) -> datetime.date: ...

    @property
    def status(self) -> str: ...


def counted_since(today: datetime.date) -> datetime.date:
    """The first day whose sessions count on ``today``."""
    return today - datetime.timedelta(days=ATTENDANCE_DAYS)


def recent_since(today: datetime.date) -> datetime.date:
    """The first day of the stretch in which at least one session must have been attended."""
    return today - datetime.timedelta(days=ATTENDANCE_RECENT_DAYS)


def is_low(*, attended: int, missed: int, attended_recently: int) -> bool:
    """Whether attendance with these counts is low (see the module's docstring)."""
    counted = attended + missed
    return attended_recently == 0 or (counted > 0 and attended < LOW_ATTENDANCE * counted)


def low_attendance(
    attended: str = "attended", missed: str = "missed", attended_recently: str = "attended_recently"
) -> Q:
    """:func:`is_low` as a database condition over three annotated counts, in whole numbers:
    attended ÷ (attended + missed) < p/q  ⇔  attended * q < (attended + missed) * p."""
    share = LOW_ATTENDANCE
    return Q(Exact(F(attended_recently), 0)) | Q(
        LessThan(F(attended) * share.denominator, (F(attended) + F(missed)) * share.numerator)
    )


def percent(share: Fraction | float) -> int:
    return round(100 * share)


# How the lists and the page put the rule in words.
LOW_IN_WORDS = (
    f"under {percent(LOW_ATTENDANCE)} % attended in {ATTENDANCE_DAYS} days, or none in {ATTENDANCE_RECENT_DAYS}"
)


@dataclass(frozen=True)
class Attendance:
    attended: int
    missed: int
    not_counted: int  # excused, or cancelled by the clinic
    since: datetime.date
    attended_recently: int = 0

    @property
    def counted(self) -> int:
        return self.attended + self.missed

    @property
    def rate(self) -> float | None:
        """Attended ÷ (attended + missed); None when no session counts."""
        return self.attended / self.counted if self.counted else None

    @property
    def percent(self) -> int | None:
        return None if self.rate is None else percent(self.rate)

    @property
    def is_low(self) -> bool:
        return is_low(attended=self.attended, missed=self.missed, attended_recently=self.attended_recently)

    @property
    def why_low(self) -> str:
        """Why attendance is low, in words; empty when it is not."""
        if not self.attended_recently:
            return f"no session attended in {ATTENDANCE_RECENT_DAYS} days"
        return f"under {percent(LOW_ATTENDANCE)} % attended" if self.is_low else ""

    days = ATTENDANCE_DAYS


def attendance(sessions: Iterable[Session], *, today: datetime.date) -> Attendance:
    """Attendance on ``today`` from a patient's sessions (any number of them, of any day)."""
    since, recent = counted_since(today), recent_since(today)
    counted = [session for session in sessions if since <= session.held_on <= today]
    statuses = [session.status for session in counted]
    attended = statuses.count(ATTENDED)
    missed = statuses.count(MISSED)
    return Attendance(
        attended=attended,
        missed=missed,
        not_counted=len(statuses) - attended - missed,
        since=since,
        attended_recently=sum(1 for s in counted if s.status == ATTENDED and s.held_on >= recent),
    )
