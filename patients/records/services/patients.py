"""Writes about the person: registration, details, consent and status."""

import copy
import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from patients.clinic_time import clinic_today
from patients.models import Clinic, FollowUpCall, Patient, Reminder, Visit
from patients.records import bounds
from patients.records.services.base import cancel_visits, check_unsaved, locked_patient, save_checked
from patients.reminders import outbox
from patients.roles import Action, require

# The moves a patient's status may make; leaving discharge is a readmission.
PATIENT_TRANSITIONS: dict[str, frozenset[str]] = {
    Patient.Status.ACTIVE: frozenset(
        {Patient.Status.PAUSED, Patient.Status.LOST_TO_FOLLOW_UP, Patient.Status.DISCHARGED}
    ),
    Patient.Status.PAUSED: frozenset(
        {Patient.Status.ACTIVE, Patient.Status.LOST_TO_FOLLOW_UP, Patient.Status.DISCHARGED}
    ),
    Patient.Status.LOST_TO_FOLLOW_UP: frozenset(
        {Patient.Status.ACTIVE, Patient.Status.PAUSED, Patient.Status.DISCHARGED}
    ),
    Patient.Status.DISCHARGED: frozenset({Patient.Status.ACTIVE}),
}

PATIENT_DETAILS = (
    "record_number",
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "treats",
    "liver_condition",
    "liver_condition_note",
    "emergency_contact_name",
    "emergency_contact_phone",
    "counsellor",
)


def _consent_moment(given_at: datetime.datetime | None, *, clinic: Clinic) -> datetime.datetime:
    """When consent was given: now, or an earlier moment a record on paper gives."""
    if given_at is None:
        return timezone.now()
    bounds.check_moment_happened(bounds.CONSENT, moment=given_at, clinic=clinic, field="email_consent_at")
    return given_at


def _check_consent(*, email: str, email_consent: bool) -> None:
    if email_consent and not email:
        raise ValidationError({"email": "Add an email address to record consent to email reminders."})


def new_patient(
    *,
    clinic: Clinic,
    record_number: str,
    first_name: str,
    last_name: str,
    date_of_birth: datetime.date,
    email: str = "",
    phone: str = "",
    email_consent: bool = False,
    email_consent_at: datetime.datetime | None = None,
    treats: str = Patient.Treats.OPIOIDS,
    liver_condition: bool = False,
    liver_condition_note: str = "",
    emergency_contact_name: str = "",
    emergency_contact_phone: str = "",
    counsellor: User | None = None,
) -> Patient:
    """The patient ``register_patient`` saves, unsaved, after every check that needs no query (an
    import's preview checks thousands of rows with it); raises ``ValidationError``."""
    bounds.check_birth(born_on=date_of_birth, clinic=clinic)
    _check_consent(email=email, email_consent=email_consent)
    patient = Patient(
        clinic=clinic,
        record_number=record_number.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        email=email.strip(),
        phone=phone.strip(),
        email_consent=email_consent,
        email_consent_at=_consent_moment(email_consent_at, clinic=clinic) if email_consent else None,
        treats=treats,
        liver_condition=liver_condition,
        liver_condition_note=liver_condition_note,
        emergency_contact_name=emergency_contact_name,
        emergency_contact_phone=emergency_contact_phone,
        counsellor=counsellor,
    )
    check_unsaved(patient)
    return patient


def register_patient(*, clinic: Clinic, by: User | None = None, **details: Any) -> Patient:
    """Register a patient of ``clinic``: ``details`` are ``new_patient``'s."""
    require(by, Action.MANAGE_PATIENTS, clinic)
    patient = new_patient(clinic=clinic, **details)
    with transaction.atomic():
        save_checked(patient)
    return patient


def changed_patient(
    patient: Patient,
    *,
    email_consent: bool | None = None,
    email_consent_at: datetime.datetime | None = None,
    **details: Any,
) -> Patient:
    """A copy of ``patient`` with ``update_patient``'s changes, unsaved, after every check that
    needs no query; ``patient`` itself is left as it was."""
    unknown = set(details) - set(PATIENT_DETAILS)
    if unknown:
        raise TypeError(f"update_patient() cannot change {', '.join(sorted(unknown))}")
    patient = copy.copy(patient)
    for name, value in details.items():
        setattr(patient, name, value.strip() if isinstance(value, str) else value)
    if isinstance(details.get("date_of_birth"), datetime.date):
        bounds.check_birth(born_on=details["date_of_birth"], clinic=patient.clinic)
    if email_consent is not None and email_consent != patient.email_consent:
        patient.email_consent = email_consent
        patient.email_consent_at = _consent_moment(email_consent_at, clinic=patient.clinic) if email_consent else None
    _check_consent(email=patient.email, email_consent=patient.email_consent)
    check_unsaved(patient)
    return patient


def update_patient(
    *,
    patient: Patient,
    email_consent: bool | None = None,
    email_consent_at: datetime.datetime | None = None,
    by: User | None = None,
    **details: Any,
) -> Patient:
    """Change a patient's details; consent keeps the moment it was given (now, unless
    ``email_consent_at`` says when it was given on paper before).

    Withdrawing consent cancels every reminder not yet sent; giving it, or a new address, brings
    back the reminders still to come.
    """
    with transaction.atomic():
        patient = locked_patient(patient)
        require(by, Action.MANAGE_PATIENTS, patient.clinic)
        reachable_before = (patient.email_consent, patient.email)
        patient = changed_patient(patient, email_consent=email_consent, email_consent_at=email_consent_at, **details)
        save_checked(patient)
        if (patient.email_consent, patient.email) != reachable_before:
            _replan_reminders(patient)
    return patient


def withdraw_email_consent(*, patient: Patient, by: User | None = None) -> Patient:
    """The patient's one-click unsubscribe: no more email, every unsent reminder cancelled at once.

    The patient's own link calls it without ``by``; a member of staff recording it passes ``by``.
    """
    with transaction.atomic():
        patient = locked_patient(patient)
        require(by, Action.MANAGE_PATIENTS, patient.clinic)
        if patient.email_consent:
            patient.email_consent = False
            patient.email_consent_at = None
            patient.save(update_fields=["email_consent", "email_consent_at"])
        outbox.withdraw(patient.reminders.all(), reason=Reminder.CancelReason.CONSENT_WITHDRAWN)
    return patient


def _replan_reminders(patient: Patient) -> None:
    """Reminders still to come, written again for the patient's consent and address as they are now."""
    now = timezone.now()
    if not patient.email_consent:
        outbox.withdraw(patient.reminders.all(), reason=Reminder.CancelReason.CONSENT_WITHDRAWN)
        return
    open_visits = list(patient.visits.filter(status=Visit.Status.SCHEDULED).select_related("patient__clinic"))
    outbox.withdraw(
        patient.reminders.filter(visit__in=open_visits, send_at__gte=now), reason=Reminder.CancelReason.REPLANNED
    )
    outbox.write_visit_reminders(open_visits, now=now, future_only=True)


def change_patient_status(*, patient: Patient, status: str, by: User | None = None) -> Patient:
    """Pause, mark lost to follow-up, or readmit a patient; discharge has its own service."""
    if status == Patient.Status.DISCHARGED:
        raise ValueError("Use discharge_patient() to discharge, so that open visits are cancelled.")
    if status not in Patient.Status.values:
        raise ValidationError({"status": f"{status!r} is not a patient status."})
    with transaction.atomic():
        patient = locked_patient(patient)
        require(by, Action.MANAGE_PATIENTS, patient.clinic)
        if status not in PATIENT_TRANSITIONS[patient.status]:
            raise ValidationError(
                f"A patient who is {patient.get_status_display().lower()} cannot become "
                f"{Patient.Status(status).label.lower()}."
            )
        patient.status = status
        patient.discharged_on = None
        patient.save(update_fields=["status", "discharged_on"])
    return patient


def discharge_patient(
    *, patient: Patient, discharged_on: datetime.date | None = None, by: User | None = None
) -> Patient:
    """Discharge a patient and cancel every visit still scheduled for them."""
    with transaction.atomic():
        patient = locked_patient(patient)
        require(by, Action.MANAGE_PATIENTS, patient.clinic)
        today = clinic_today(patient.clinic)
        discharged_on = discharged_on or today
        if patient.status == Patient.Status.DISCHARGED:
            raise ValidationError("This patient is already discharged.")
        bounds.check_happened(bounds.DISCHARGE, day=discharged_on, clinic=patient.clinic, field="discharged_on")
        patient.status = Patient.Status.DISCHARGED
        patient.discharged_on = discharged_on
        patient.save(update_fields=["status", "discharged_on"])
        cancel_visits(patient.visits.all(), reason=Visit.CancelReason.DISCHARGED, by=by)
        outbox.withdraw(
            patient.reminders.exclude(kind=Reminder.Kind.VISIT_CANCELLED), reason=Reminder.CancelReason.DISCHARGED
        )
    return patient


def log_follow_up_call(
    *,
    patient: Patient,
    outcome: str,
    called_by: User | None = None,
    visit: Visit | None = None,
    note: str = "",
    try_again_on: datetime.date | None = None,
    called_at: datetime.datetime | None = None,
    by: User | None = None,
) -> FollowUpCall:
    """Record a phone call about a missed visit or a lapse; the worklist shows its outcome."""
    require(by, Action.LOG_CALLS, patient.clinic)
    called_at = called_at or timezone.now()
    if visit is not None and visit.patient_id != patient.pk:
        raise ValidationError({"visit": "That visit belongs to another patient."})
    if called_at > timezone.now():  # to the minute: later today has not happened yet either
        raise ValidationError({"called_at": bounds.CALL.in_future})
    bounds.check_moment_happened(bounds.CALL, moment=called_at, clinic=patient.clinic, field="called_at")
    if try_again_on is not None:
        bounds.check_try_again(day=try_again_on, clinic=patient.clinic)
    call = FollowUpCall(
        patient=patient,
        visit=visit,
        outcome=outcome,
        called_by=called_by,
        note=note.strip(),
        try_again_on=try_again_on,
        called_at=called_at,
    )
    with transaction.atomic():
        save_checked(call)
    return call
