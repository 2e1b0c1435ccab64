"""Every staff page finds its rows through these helpers, scoped to the clinics the user works for.

A row of another clinic is a 404, exactly like a row that does not exist: the page gives away
nothing about patients the user may not see.
"""

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from patients.models import Clinic, Membership, Patient, TherapyGroup, Visit

User = AbstractBaseUser | AnonymousUser


def member_clinics(user: User) -> QuerySet[Clinic]:
    if getattr(user, "is_superuser", False):
        return Clinic.objects.all()
    if user.pk is None:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user_id=user.pk)


# The roles that may read the audit trail: who changed and who opened a patient's records.
HISTORY_ROLES = (Membership.Role.CLINICIAN, Membership.Role.MANAGER)


def history_clinics(user: User) -> QuerySet[Clinic]:
    """The clinics whose audit trail the user may read: where they are a clinician or manager."""
    if getattr(user, "is_superuser", False):
        return Clinic.objects.all()
    if user.pk is None:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user_id=user.pk, memberships__role__in=HISTORY_ROLES)


def can_see_history(user: User, clinic: Clinic) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return history_clinics(user).filter(pk=clinic.pk).exists()


def patients_for(user: User) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic__in=member_clinics(user))


def get_patient_for(user: User, patient_uuid: uuid.UUID) -> Patient:
    return get_object_or_404(patients_for(user).select_related("clinic", "counsellor"), uuid=patient_uuid)


def get_visit_for(user: User, visit_uuid: uuid.UUID) -> Visit:
    visits = Visit.objects.filter(patient__clinic__in=member_clinics(user))
    return get_object_or_404(visits.select_related("patient__clinic", "placement__product"), uuid=visit_uuid)


def get_group_for(user: User, group_uuid: uuid.UUID) -> TherapyGroup:
    groups = TherapyGroup.objects.filter(clinic__in=member_clinics(user))
    return get_object_or_404(groups.select_related("clinic"), uuid=group_uuid)
