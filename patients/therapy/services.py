"""Writes about therapy: individual sessions, groups and their members, and whole group rosters."""

import datetime
from collections.abc import Iterable, Mapping

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from patients.models import Clinic, Patient, TherapyGroup, TherapySession
from patients.records import bounds
from patients.records.services.base import check_unsaved, refuse_nul, save_checked
from patients.roles import Action, require
from patients.therapy import counts


def _check_session_day(*, clinic: Clinic, held_on: datetime.date) -> None:
    bounds.check_happened(bounds.SESSION, day=held_on, clinic=clinic, field="held_on")


def new_therapy_session(
    *, patient: Patient, held_on: datetime.date, status: str, counsellor: User | None = None, note: str = ""
) -> TherapySession:
    """The individual session ``log_therapy_session`` saves, unsaved, after every check that needs
    no query (an import's preview checks thousands of rows with it)."""
    _check_session_day(clinic=patient.clinic, held_on=held_on)
    session = TherapySession(
        patient=patient,
        kind=TherapySession.Kind.INDIVIDUAL,
        held_on=held_on,
        status=status,
        counsellor=counsellor,
        note=note,
    )
    check_unsaved(session)
    return session


def log_therapy_session(
    *,
    patient: Patient,
    held_on: datetime.date,
    status: str,
    counsellor: User | None = None,
    note: str = "",
    by: User | None = None,
) -> TherapySession:
    """Log one individual session."""
    require(by, Action.LOG_ATTENDANCE, patient.clinic)
    session = new_therapy_session(patient=patient, held_on=held_on, status=status, counsellor=counsellor, note=note)
    with transaction.atomic():
        save_checked(session)
        counts.count_patients([patient])
    return session


def log_group_attendance(
    *,
    group: TherapyGroup,
    held_on: datetime.date,
    attendance: Mapping[Patient, str],
    counsellor: User | None = None,
    by: User | None = None,
) -> list[TherapySession]:
    """Log a group session for its whole roster at once; logging the same day again corrects it."""
    require(by, Action.LOG_ATTENDANCE, group.clinic)
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
        counts.count_patients(attendance)
    return sessions


# Groups


def _check_group_name(*, clinic: Clinic, name: str, group: TherapyGroup | None = None) -> str:
    """The name, trimmed; two groups of one clinic may not share it (the database agrees)."""
    name = name.strip()
    refuse_nul("name", name)  # before the query below, which PostgreSQL would fail on
    if not name:
        raise ValidationError({"name": "Give the group a name."})
    namesakes = TherapyGroup.objects.filter(clinic=clinic, name=name)
    if group is not None:
        namesakes = namesakes.exclude(pk=group.pk)
    if namesakes.exists():
        raise ValidationError({"name": f"{clinic.name} already has a group called {name}."})
    return name


def create_therapy_group(
    *, clinic: Clinic, name: str, facilitator: str = "", meets: str = "", by: User | None = None
) -> TherapyGroup:
    """A new, active group with no members yet; members are chosen on the group's page."""
    require(by, Action.LOG_ATTENDANCE, clinic)
    with transaction.atomic():
        group = TherapyGroup(
            clinic=clinic,
            name=_check_group_name(clinic=clinic, name=name),
            facilitator=facilitator.strip(),
            meets=meets.strip(),
        )
        save_checked(group)
    return group


def update_therapy_group(
    *,
    group: TherapyGroup,
    name: str,
    facilitator: str = "",
    meets: str = "",
    is_active: bool = True,
    by: User | None = None,
) -> TherapyGroup:
    """Change a group's details. An inactive group keeps its members and its attendance history."""
    with transaction.atomic():
        group = TherapyGroup.objects.select_for_update().select_related("clinic").get(pk=group.pk)
        require(by, Action.LOG_ATTENDANCE, group.clinic)
        group.name = _check_group_name(clinic=group.clinic, name=name, group=group)
        group.facilitator = facilitator.strip()
        group.meets = meets.strip()
        group.is_active = is_active
        save_checked(group)
    return group


def set_group_members(*, group: TherapyGroup, patients: Iterable[Patient], by: User | None = None) -> TherapyGroup:
    """Make the roster exactly ``patients``.

    Only the group's clinic's patients may join, and a discharged patient only stays if already a
    member (the roster keeps them until someone takes them off); joining needs a readmission first.
    """
    patients = list(patients)
    with transaction.atomic():
        group = TherapyGroup.objects.select_for_update().select_related("clinic").get(pk=group.pk)
        require(by, Action.LOG_ATTENDANCE, group.clinic)
        strangers = [patient for patient in patients if patient.clinic_id != group.clinic_id]
        if strangers:
            raise ValidationError({"members": f"{strangers[0].full_name} is not a patient of {group.clinic.name}."})
        current = set(group.members.values_list("pk", flat=True))
        joining_discharged = [
            patient
            for patient in patients
            if patient.pk not in current and patient.status == Patient.Status.DISCHARGED
        ]
        if joining_discharged:
            raise ValidationError(
                {"members": f"{joining_discharged[0].full_name} is discharged; readmit them before they join."}
            )
        group.members.set(patients)
    return group
