"""What several services need: a model's own checks before saving (and text every database can
store), the patient row lock, and cancelling visits together with their reminders (and their
history rows, ``patients.audit.services``)."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils import timezone

from patients.audit import services as audit
from patients.models import Patient, Reminder, Visit
from patients.reminders import outbox


def save_checked(instance: Any, **clean_options: Any) -> None:
    """Run the model's own checks (field limits, constraints) before saving, for a clear message."""
    refuse_nul_characters(instance)
    instance.full_clean(**clean_options)
    instance.save()


def check_unsaved(instance: Model) -> None:
    """The model's own checks that need no query: each field's limits and choices, and text every
    database can store. ``save_checked`` runs them again with those that read the database (the
    rows it points to, uniqueness, constraints)."""
    refuse_nul_characters(instance)
    relations = [field.name for field in instance._meta.concrete_fields if field.is_relation]
    instance.full_clean(exclude=relations, validate_unique=False, validate_constraints=False)


def refuse_nul_characters(instance: Model) -> None:
    """PostgreSQL cannot store a NUL character in text, nor look one up, where SQLite can: refused
    on both, by field, before any query."""
    for field in instance._meta.concrete_fields:
        refuse_nul(field.name, getattr(instance, field.attname))


def refuse_nul(field: str, value: object) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError({field: "Remove the NUL character (\\0) from this text."})


def locked_patient(patient: Patient) -> Patient:
    """The patient row, locked for this transaction so two writes for one patient queue up."""
    return Patient.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=patient.pk)


def cancel_visits(visits: QuerySet[Visit], *, reason: str, by: AbstractBaseUser | None = None) -> int:
    """Cancel visits, withdraw their unsent reminders, and tell patients who had been reminded.

    ``by`` is who cancels them, for their history (the request's user when not given).
    """
    cancelled = list(visits.filter(status=Visit.Status.SCHEDULED).select_related("patient__clinic"))
    if not cancelled:  # most placements supersede nothing: no more queries for them
        return 0
    outbox.withdraw_for_visits(cancelled, reason=Reminder.CancelReason.VISIT_CANCELLED)
    count = audit.update_with_history(
        Visit.objects.filter(pk__in=[visit.pk for visit in cancelled]),
        user=by,
        reason=dict(Visit.CancelReason.choices).get(reason, reason),
        status=Visit.Status.CANCELLED,
        cancel_reason=reason,
        **outbox.calendar_entry_changed(),
    )
    outbox.write_cancellation_notices(cancelled, now=timezone.now())
    return count
