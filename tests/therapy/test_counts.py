"""Kept attendance counts (patients.therapy.counts): the low-attendance list read from them finds
the same patients as counting every session, they follow each session logged, and they move on
with the day through the hourly task, the dashboard saying so until it has run.

The clock stands at noon of the suite's day; the next day is reached with ``shift``.
"""

import datetime
import random

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
from django.test.utils import CaptureQueriesContext

from patients import services
from patients.clinic_time import clinic_today
from patients.models import AttendanceCount, Clinic, Patient, Placement, TherapySession
from patients.tasks import count_attendance_everywhere
from patients.therapy import attendance, counts
from patients.therapy import services as therapy
from patients.therapy.queries import with_attendance
from patients.worklists import queries
from patients.worklists.dashboard import dashboard
from tests import histories
from tests.factories import INDUCTION, PatientFactory, TherapyGroupFactory
from tests.pinned_day import suite_noon
from tracker.celery import app

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
ATTENDED, MISSED = TherapySession.Status.ATTENDED, TherapySession.Status.MISSED


def counted_live(clinic: Clinic, today: datetime.date) -> set[int]:
    """The low-attendance list by counting every session, as before the counts were kept."""
    patients = Patient.objects.filter(clinic=clinic, status__in=queries.IN_THERAPY).filter(
        Exists(Placement.objects.filter(patient=OuterRef("pk")))
    )
    return set(with_attendance(patients, today=today).filter(attendance.low_attendance()).values_list("pk", flat=True))


def placed(patient: Patient, product, today: datetime.date) -> None:
    services.record_placement(patient=patient, product=product, placed_on=today - 20 * DAY, **INDUCTION)


def listed(clinic: Clinic, today: datetime.date) -> set[int]:
    return set(queries.low_attendance(clinic, today=today).values_list("pk", flat=True))


def test_the_list_from_kept_counts_is_the_list_from_every_session(still_clock, clinic, implant):
    rng = random.Random(20261203)
    today = clinic_today(clinic)
    patients = histories.patients(clinic, 90, rng=rng)
    histories.placements(patients, implant, today=today, rng=rng)
    histories.sessions(patients, today=today, rng=rng)
    expected = counted_live(clinic, today)
    assert 10 < len(expected) < 80, "the histories should hold both kinds of patient"
    # Never counted: judged on the live counts.
    assert listed(clinic, today) == expected
    # Counted for some (a third), then for all.
    counts.count(Patient.objects.filter(pk__in=[p.pk for p in patients[::3]]), today=today)
    assert listed(clinic, today) == expected
    assert counts.count_stale(clinic) == len(patients) - len(patients[::3])
    assert AttendanceCount.objects.filter(counted_on=today).count() == len(patients)
    assert listed(clinic, today) == expected


def test_a_session_logged_is_counted_at_once(still_clock, clinic, implant, patient, coordinator):
    today = clinic_today(clinic)
    placed(patient, implant, today)
    therapy.log_therapy_session(patient=patient, held_on=today - 40 * DAY, status=ATTENDED, by=coordinator)
    assert listed(clinic, today) == {patient.pk}  # nothing attended in 30 days
    therapy.log_therapy_session(patient=patient, held_on=today - 2 * DAY, status=ATTENDED, by=coordinator)
    kept = AttendanceCount.objects.get(patient=patient)
    assert (kept.counted_on, kept.attended, kept.missed, kept.attended_recently) == (today, 2, 0, 1)
    assert listed(clinic, today) == set()


def test_the_days_move_on_with_the_hourly_task_and_the_dashboard_says_when_it_has_not(
    request, still_clock, clinic, implant, coordinator
):
    next_noon = suite_noon(request.config) + DAY  # the suite's day (TEST_TODAY), then the next
    today = clinic_today(clinic)
    patient = PatientFactory(clinic=clinic)
    placed(patient, implant, today)
    # Attended 30 days ago: not low today, low from tomorrow, when that session leaves the 30 days.
    therapy.log_therapy_session(patient=patient, held_on=today - 30 * DAY, status=ATTENDED, by=coordinator)
    assert listed(clinic, today) == set()
    still_clock.shift(datetime.timedelta(days=1))
    tomorrow = clinic_today(clinic)
    assert tomorrow == today + DAY
    assert counted_live(clinic, tomorrow) == {patient.pk}
    # Until the task has run on the new day, the list is the day before's, and the dashboard says so.
    assert listed(clinic, tomorrow) == set()
    assert attendance_card(clinic, now=next_noon).note == counts.stale_in_words(1)
    assert count_attendance_everywhere() == 1
    assert count_attendance_everywhere() == 0  # a second run on the same day counts no one
    assert listed(clinic, tomorrow) == {patient.pk}
    card = attendance_card(clinic, now=next_noon)
    assert (card.note, card.count, [row.patient for row in card.rows]) == ("", 1, [patient])


def attendance_card(clinic: Clinic, *, now: datetime.datetime):
    lists = dashboard(Clinic.objects.filter(pk=clinic.pk), now=now).worklists
    return next(worklist for worklist in lists if worklist.key == "attendance")


def test_the_note_counts_in_words():
    assert counts.stale_in_words(1).startswith("1 patient's attendance count is from an earlier day")
    assert counts.stale_in_words(1200).startswith("1,200 patients' attendance counts are from an earlier day")


@pytest.mark.parametrize("members", [3, 12])
def test_a_group_roster_is_counted_in_the_same_queries_whatever_its_size(still_clock, clinic, coordinator, members):
    group = TherapyGroupFactory(clinic=clinic)
    roster = {PatientFactory(clinic=clinic): ATTENDED for _ in range(members)}
    today = clinic_today(clinic)
    therapy.log_group_attendance(group=group, held_on=today - DAY, attendance=roster, by=coordinator)
    patients = list(Patient.objects.filter(pk__in=[p.pk for p in roster]))  # as a view would load them
    with CaptureQueriesContext(connection) as queries:
        therapy.log_group_attendance(
            group=group, held_on=today, attendance=dict.fromkeys(patients, MISSED), by=coordinator
        )
    # The roster's sessions are saved one by one; the counting costs the same for any roster.
    counting = [q for q in queries.captured_queries if "attendancecount" in q["sql"] or "patients_clinic" in q["sql"]]
    assert len(counting) <= 3
    assert AttendanceCount.objects.filter(patient__in=patients, counted_on=today, missed=1).count() == members


def test_beat_recounts_every_clinic_at_least_hourly(settings):
    """A clinic's day turns at its own midnight: the beat entry that recounts must run at least
    hourly and name the task the worker has, or the list stays a day behind."""
    entries = [
        entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == count_attendance_everywhere.name
    ]
    assert len(entries) == 1
    assert entries[0]["task"] in app.tasks
    assert entries[0]["schedule"] <= 60 * 60
