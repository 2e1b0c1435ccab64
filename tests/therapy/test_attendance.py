"""Low therapy attendance: the pure rule, and its database condition agreeing with it."""

import datetime
import random

import pytest

from patients.clinic_time import clinic_today
from patients.models import Patient, TherapySession
from patients.therapy import attendance
from patients.therapy.queries import with_attendance
from tests import histories

# The histories are built on the suite's day (TEST_TODAY), with the clock stopped at its noon.
pytestmark = pytest.mark.usefixtures("still_clock")

DAY = datetime.timedelta(days=1)
TODAY = datetime.date(2026, 6, 15)


class Session:
    def __init__(self, days_ago: int, status: str) -> None:
        self.held_on, self.status = TODAY - days_ago * DAY, status


def test_the_rules_statuses_are_the_models():
    assert attendance.ATTENDED == TherapySession.Status.ATTENDED
    assert attendance.MISSED == TherapySession.Status.MISSED


@pytest.mark.parametrize(
    ("attended", "missed", "recently", "low"),
    [
        (3, 1, 1, False),  # exactly three in four: not low
        (2, 1, 1, True),  # two in three
        (0, 0, 0, True),  # nothing attended in 30 days, nothing to count either
        (5, 0, 0, True),  # attended well, but not lately
        (1, 0, 1, False),
        (0, 1, 0, True),
    ],
)
def test_attendance_is_low_under_three_in_four_or_with_none_lately(attended, missed, recently, low):
    assert attendance.is_low(attended=attended, missed=missed, attended_recently=recently) is low


def test_it_counts_the_last_90_days_with_today_and_leaves_out_excused_and_cancelled():
    sessions = [
        Session(0, "attended"),
        Session(30, "attended"),  # the first day of the recent stretch
        Session(31, "missed"),
        Session(90, "missed"),  # the first day that counts
        Session(91, "missed"),  # too old
        Session(5, "excused"),
        Session(6, "cancelled"),
        Session(-1, "attended"),  # tomorrow's, logged ahead: not yet
    ]
    result = attendance.attendance(sessions, today=TODAY)
    assert (result.attended, result.missed, result.not_counted, result.attended_recently) == (2, 2, 2, 2)
    assert result.since == TODAY - 90 * DAY
    assert result.percent == 50
    assert result.is_low
    assert result.why_low == "under 75 % attended"


def test_it_says_why_when_nothing_was_attended_lately():
    result = attendance.attendance([Session(40, "attended")], today=TODAY)
    assert result.is_low
    assert result.why_low == "no session attended in 30 days"


@pytest.mark.django_db
def test_the_database_condition_agrees_with_the_pure_rule_on_the_same_histories(clinic):
    rng = random.Random(20261203)
    today = clinic_today(clinic)
    patients = histories.patients(clinic, 150, rng=rng)
    histories.sessions(patients, today=today, rng=rng)

    by_pure = {
        patient.pk
        for patient in Patient.objects.filter(clinic=clinic).prefetch_related("therapy_sessions")
        if attendance.attendance(patient.therapy_sessions.all(), today=today).is_low
    }
    by_database = set(
        with_attendance(Patient.objects.filter(clinic=clinic), today=today)
        .filter(attendance.low_attendance())
        .values_list("pk", flat=True)
    )
    assert by_pure == by_database
    assert 10 < len(by_pure) < 140, "the histories should hold both kinds of patient"
