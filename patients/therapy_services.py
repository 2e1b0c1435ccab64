"""Writes about therapy: individual sessions and whole group rosters."""

import datetime
from collections.abc import Mapping

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from patients.models import Clinic, Patient, TherapyGroup, TherapySession
from patients.selectors import clinic_today
from patients.service_base import save_checked


def _check_session_day(*, clinic: Clinic, held_on: datetime.date) -> None:
    if held_on > clinic_today(clinic):
        raise ValidationError({"held_on": "Attendance can only be logged for a session that has taken place."})


def log_therapy_session(
    *,
    patient: Patient,
    held_on: datetime.date,
    status: str,
    counsellor: User | None = None,
    note: str = "",
) -> TherapySession:
    """Log one individual session."""
    _check_session_day(clinic=patient.clinic, held_on=held_on)
    session = TherapySession(
        patient=patient,
        kind=TherapySession.Kind.INDIVIDUAL,
        held_on=held_on,
        status=status,
        counsellor=counsellor,
        note=note,
    )
    with transaction.atomic():
        save_checked(session)
    return session


def log_group_attendance(
    *,
    group: TherapyGroup,
    held_on: datetime.date,
    attendance: Mapping[Patient, str],
    counsellor: User | None = None,
) -> list[TherapySession]:
    """Log a group session for its whole roster at once; logging the same day again corrects it."""
    _check_session_day(clinic=group.clinic, held_on=held_on)
    valid = set(TherapySession.Status.values)
    wrong_clinic = [patient for patient in attendance if patient.clinic_id != group.clinic_id]
    if wrong_clinic:
        raise ValidationError(f"{wrong_clinic[0].full_name} is not a patient of this group's clinic.")
    bad_status = [status for status in attendance.values() if status not in valid]
    if bad_status:
        raise ValidationError(f"{bad_status[0]!r} is not an attendance status.")
    sessions = []
    with transaction.atomic():
        existing = {
            session.patient_id: session
            for session in TherapySession.objects.select_for_update().filter(group=group, held_on=held_on)
        }
        for patient, status in attendance.items():
            session = existing.get(patient.pk) or TherapySession(
                patient=patient, group=group, kind=TherapySession.Kind.GROUP, held_on=held_on
            )
            session.status = status
            session.counsellor = counsellor
            session.save()
            sessions.append(session)
    return sessions
