"""Attendance counts annotated in the database, called directly on sessions made by hand around the
edges of the 90-day and 30-day windows. The day is the clinic's today on the suite's clock."""

import datetime

import pytest

from patients.clinic_time import clinic_today
from patients.models import Patient, TherapySession
from patients.therapy import attendance
from patients.therapy.queries import with_attendance
from tests.factories import PatientFactory, TherapyGroupFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
ATTENDED, MISSED = TherapySession.Status.ATTENDED, TherapySession.Status.MISSED
EXCUSED, CANCELLED = TherapySession.Status.EXCUSED, TherapySession.Status.CANCELLED


def sessions(patient: Patient, today: datetime.date, *days_ago_and_status: tuple[int, str], group=None) -> None:
    TherapySession.objects.bulk_create(
        TherapySession(
            patient=patient,
            kind=TherapySession.Kind.GROUP if group else TherapySession.Kind.INDIVIDUAL,
            group=group,
            held_on=today - days_ago * DAY,
            status=status,
        )
        for days_ago, status in days_ago_and_status
    )


def counts(patients) -> dict[str, tuple[int, int, int]]:
    return {
        patient.record_number: (patient.attended, patient.missed, patient.attended_recently) for patient in patients
    }


@pytest.fixture
def today(clinic, still_clock):
    """The clinic's today on the suite's day (TEST_TODAY), the clock stopped at its noon."""
    return clinic_today(clinic)


def test_it_counts_the_last_90_days_with_today_and_30_days_for_recent_attendance(clinic, today):
    edges = PatientFactory(clinic=clinic, record_number="EDGES")
    sessions(
        edges,
        today,
        (0, ATTENDED),  # today
        (30, ATTENDED),  # the first day of the recent stretch
        (31, MISSED),
        (90, MISSED),  # the first day that counts
        (91, MISSED),  # too old
        (91, ATTENDED),
        (-1, ATTENDED),  # tomorrow's, logged ahead: not yet
    )
    found = with_attendance(Patient.objects.filter(pk=edges.pk), today=today)
    assert counts(found) == {"EDGES": (2, 2, 2)}


def test_an_attended_session_31_days_ago_counts_but_not_as_recent(clinic, today):
    lapsed = PatientFactory(clinic=clinic, record_number="LAPSED")
    sessions(lapsed, today, (31, ATTENDED), (90, ATTENDED))
    assert counts(with_attendance(Patient.objects.filter(pk=lapsed.pk), today=today)) == {"LAPSED": (2, 0, 0)}


def test_excused_and_cancelled_sessions_count_for_nothing(clinic, today):
    excused = PatientFactory(clinic=clinic, record_number="EXCUSED")
    sessions(excused, today, (1, EXCUSED), (2, CANCELLED), (3, EXCUSED), (40, CANCELLED))
    assert counts(with_attendance(Patient.objects.filter(pk=excused.pk), today=today)) == {"EXCUSED": (0, 0, 0)}


def test_group_sessions_count_like_individual_ones(clinic, today):
    member = PatientFactory(clinic=clinic, record_number="GROUP")
    group = TherapyGroupFactory(clinic=clinic)
    sessions(member, today, (7, ATTENDED), (14, MISSED), (95, ATTENDED), group=group)
    sessions(member, today, (8, ATTENDED))
    assert counts(with_attendance(Patient.objects.filter(pk=member.pk), today=today)) == {"GROUP": (2, 1, 2)}


def test_each_patient_has_their_own_counts_and_other_clinics_patients_are_unaffected(
    clinic, other_clinic, stranger, today
):
    steady = PatientFactory(clinic=clinic, record_number="STEADY")
    PatientFactory(clinic=clinic, record_number="NEVER")
    sessions(steady, today, (1, ATTENDED), (8, ATTENDED), (15, ATTENDED), (22, MISSED))
    sessions(stranger, today, (2, MISSED), (3, MISSED), (4, ATTENDED))
    ours = with_attendance(Patient.objects.filter(clinic=clinic), today=today)
    assert counts(ours) == {"STEADY": (3, 1, 3), "NEVER": (0, 0, 0)}
    theirs = with_attendance(Patient.objects.filter(clinic=other_clinic), today=today)
    assert counts(theirs) == {"H-1": (1, 2, 1)}


def test_the_counts_feed_the_low_attendance_condition(clinic, today):
    three_in_four = PatientFactory(clinic=clinic, record_number="3-IN-4")
    two_in_three = PatientFactory(clinic=clinic, record_number="2-IN-3")
    stopped = PatientFactory(clinic=clinic, record_number="STOPPED")
    sessions(three_in_four, today, (1, ATTENDED), (2, ATTENDED), (3, ATTENDED), (4, MISSED))
    sessions(two_in_three, today, (1, ATTENDED), (2, ATTENDED), (3, MISSED))
    sessions(stopped, today, (31, ATTENDED), (32, ATTENDED))
    low = with_attendance(Patient.objects.filter(clinic=clinic), today=today).filter(attendance.low_attendance())
    assert sorted(low.values_list("record_number", flat=True)) == ["2-IN-3", "STOPPED"]


@pytest.mark.parametrize("patients", [3, 30])
def test_it_costs_one_query_however_many_patients_and_sessions(clinic, today, patients, django_assert_num_queries):
    for number in range(patients):
        patient = PatientFactory(clinic=clinic, record_number=f"P-{number:03d}")
        sessions(patient, today, *[(days, ATTENDED if days % 2 else MISSED) for days in range(0, 95, 5)])
    with django_assert_num_queries(1):
        found = counts(with_attendance(Patient.objects.filter(clinic=clinic), today=today))
    # Days 0 to 90 in fives: 19 sessions, the odd ones attended (5, 15, ... 85: nine) and ten missed;
    # of days 0 to 30, 5, 15 and 25 attended.
    assert set(found.values()) == {(9, 10, 3)}
    assert len(found) == patients
