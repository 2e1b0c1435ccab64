"""Every staff page finds its rows through these helpers, scoped to the clinics the user works for.

A row of another clinic is a 404, exactly like a row that does not exist: the page gives away
nothing about patients the user may not see.
"""

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from patients import roles
from patients.models import Clinic, Patient, TherapyGroup, Visit
from patients.roles import remember, viewer_role

User = AbstractBaseUser | AnonymousUser


def member_clinics(user: User) -> QuerySet[Clinic]:
    if getattr(user, "is_superuser", False):
        return Clinic.objects.all()
    if user.pk is None:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user_id=user.pk)


# The roles that may read the audit trail: who changed and who opened a patient's records.


def history_clinics(user: User) -> QuerySet[Clinic]:
    """The clinics whose audit trail the user may read (``patients.roles.Action.SEE_HISTORY``)."""
    return Clinic.objects.filter(pk__in=roles.clinics_where(user, roles.Action.SEE_HISTORY))


def can_see_history(user: User, clinic: Clinic) -> bool:
    return roles.may(user, roles.Action.SEE_HISTORY, clinic)


def patients_for(user: User) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic__in=member_clinics(user))


def get_patient_for(user: User, patient_uuid: uuid.UUID) -> Patient:
    """The patient, if the user works for their clinic; the user's role there is read alongside."""
    patients = (
        patients_for(user).select_related("clinic", "counsellor").annotate(viewer_role=viewer_role(user, "clinic"))
    )
    patient = get_object_or_404(patients, uuid=patient_uuid)
    remember(user, patient.clinic_id, patient.viewer_role)  # type: ignore[attr-defined]
    return patient


def get_visit_for(user: User, visit_uuid: uuid.UUID) -> Visit:
    """The visit, if the user works for its patient's clinic; the user's role there is read alongside."""
    visits = Visit.objects.filter(patient__clinic__in=member_clinics(user)).annotate(
        viewer_role=viewer_role(user, "patient__clinic")
    )
    visit = get_object_or_404(visits.select_related("patient__clinic", "placement__product"), uuid=visit_uuid)
    remember(user, visit.patient.clinic_id, visit.viewer_role)
    return visit


def get_group_for(user: User, group_uuid: uuid.UUID) -> TherapyGroup:
    groups = TherapyGroup.objects.filter(clinic__in=member_clinics(user))
    return get_object_or_404(groups.select_related("clinic"), uuid=group_uuid)
