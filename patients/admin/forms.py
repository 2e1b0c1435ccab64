"""Admin forms whose saving is one call to ``patients.services``.

The admin builds each form with the fields its fieldsets leave editable. The form hands its cleaned
values to a service while it is validated, so that a refusal (a ``ValidationError``, by field or not)
lands beside the field it names, the typed values stay on the page, and nothing is saved.

Clinics and products are saved by the admin itself; their forms only add the bounds of
``patients.records.bounds`` (a clinic's first year, a product's longest coverage).
"""

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction

from patients import services
from patients.forms.base import add_service_error
from patients.forms.placements import PLACEMENT_FIELDS
from patients.models import Clinic, Patient, Placement, Product, TherapyGroup, TherapySession, Visit
from patients.records import bounds

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ServiceCallingForm(forms.ModelForm):
    """A ModelForm that saves by calling a service from ``call_service`` while it is validated, never by
    ``instance.save()``. The pages' forms leave that call to their view
    (``patients.forms.base.ServiceArgumentsForm``)."""

    # The admin sets this on the form class it builds afresh for each request.
    acting_user: ClassVar["User | None"] = None

    saved: models.Model | None = None

    def _post_clean(self) -> None:
        # ModelForm would copy the values onto ``self.instance`` and validate the model here. The
        # service validates the model itself (and more), so each rule is checked once, by the
        # service, and the unsaved instance never holds values the service refused.
        if self.errors:
            return
        if self.instance.pk and not self.has_changed():
            self.saved = self.instance
            return
        try:
            # A savepoint of its own: when one form makes two calls (book a visit, then complete
            # it), a refusal by the second undoes the first.
            with transaction.atomic():
                self.saved = self.call_service(self.cleaned_data)
        except ValidationError as error:
            add_service_error(self, error)
        except PermissionDenied as refusal:
            # The admin offers only what the user's role allows; a request made up all the same
            # is answered on the form, beside the typed values.
            self.add_error(None, str(refusal))

    def call_service(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def save(self, commit: bool = True) -> models.Model:
        if self.saved is None:
            raise ValueError(f"{type(self).__name__} did not validate, so nothing was saved.")
        return self.saved

    def save_m2m(self) -> None:
        """The service saved everything already; the admin calls this all the same."""


class PatientAddForm(ServiceCallingForm):
    class Meta:
        model = Patient
        fields = ("clinic", *services.PATIENT_DETAILS, "email_consent")

    def call_service(self, data: dict[str, Any]) -> Patient:
        return services.register_patient(**data, by=self.acting_user)


class PatientChangeForm(ServiceCallingForm):
    class Meta:
        model = Patient
        fields = (*services.PATIENT_DETAILS, "email_consent")

    def call_service(self, data: dict[str, Any]) -> Patient:
        return services.update_patient(patient=self.instance, **data, by=self.acting_user)


class PlacementAddForm(ServiceCallingForm):
    """Every field is an argument of ``record_placement``, under the same name."""

    class Meta:
        model = Placement
        fields = ("patient", *PLACEMENT_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "covers_until" in self.fields:
            # The product decides coverage; a date here is a clinician's override.
            self.fields["covers_until"].required = False
            self.fields[
                "covers_until"
            ].help_text = "Leave empty to use the product's coverage. A different end date needs a reason."

    def call_service(self, data: dict[str, Any]) -> Placement:
        return services.record_placement(**data, by=self.acting_user)


class PlacementRemovalForm(ServiceCallingForm):
    """A placement is read-only once recorded, except that an implant taken out early is recorded."""

    class Meta:
        model = Placement
        fields = ("removed_on", "removal_reason")

    def call_service(self, data: dict[str, Any]) -> Placement:
        if data.get("removed_on") is None:
            raise ValidationError({"removed_on": "Enter the day the implant was removed."})
        return services.record_removal(
            placement=self.instance,
            removed_on=data["removed_on"],
            reason=data.get("removal_reason", ""),
            by=self.acting_user,
        )


class VisitChangeForm(ServiceCallingForm):
    """Book the appointment (``reschedule_visit``) and record the outcome (``complete_visit``)."""

    class Meta:
        model = Visit
        fields = ("appointment_at", "appointment_override_reason", "completed_on", "seen_by", *services.VISIT_FINDINGS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "appointment_at" in self.fields and self.instance.pk:
            self.fields["appointment_at"].help_text = (
                f"In the clinic's time ({self.instance.patient.clinic.time_zone}). Outside the visit's "
                "window only with the clinical reason below."
            )

    def call_service(self, data: dict[str, Any]) -> Visit:
        visit = self.instance
        if {"appointment_at", "appointment_override_reason"} & set(self.changed_data):
            if data.get("appointment_at") is None:
                raise ValidationError(
                    {"appointment_at": "An appointment cannot be taken away; book another time or cancel the visit."}
                )
            visit = services.reschedule_visit(
                visit=visit,
                appointment_at=data["appointment_at"],
                override_reason=data.get("appointment_override_reason", ""),
                by=self.acting_user,
            )
        outcome = [name for name in ("completed_on", "seen_by", *services.VISIT_FINDINGS) if name in self.changed_data]
        if data.get("completed_on"):
            findings = {name: data[name] for name in services.VISIT_FINDINGS if name in self.fields}
            visit = services.complete_visit(
                visit=visit,
                completed_on=data["completed_on"],
                seen_by=data.get("seen_by") or self.acting_user,
                by=self.acting_user,
                **findings,
            )
        elif outcome:
            raise ValidationError({"completed_on": "Enter the day the visit took place to record what was found."})
        return visit


class TherapySessionAddForm(ServiceCallingForm):
    """An individual session; group attendance is logged for the whole roster elsewhere."""

    class Meta:
        model = TherapySession
        fields = ("patient", "held_on", "status", "counsellor", "note")

    def call_service(self, data: dict[str, Any]) -> TherapySession:
        return services.log_therapy_session(**data, by=self.acting_user)


class TherapyGroupForm(forms.ModelForm):
    class Meta:
        model = TherapyGroup
        fields = ("clinic", "name", "facilitator", "meets", "members", "is_active")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        clinic_id = cleaned["clinic"].pk if cleaned.get("clinic") else self.instance.clinic_id
        strangers = [patient for patient in cleaned.get("members", ()) if patient.clinic_id != clinic_id]
        if clinic_id and strangers:
            self.add_error("members", f"{strangers[0]} is not a patient of this group's clinic.")
        return cleaned


class ClinicForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = (
            "name",
            "time_zone",
            "first_year",
            "phone",
            "address",
            "reply_to_email",
            "reminder_daytime_start",
            "reminder_daytime_end",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("first_year") is not None:
            try:
                bounds.check_first_year(first_year=cleaned["first_year"], clinic=self.instance)
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


class ProductForm(forms.ModelForm):
    """A product may not cover longer than a placement may (``MAX_COVERAGE_MONTHS``)."""

    class Meta:
        model = Product
        fields = (
            "clinic",
            "name",
            "formulation",
            "coverage_length",
            "coverage_unit",
            "renewal_window_lead_days",
            "is_active",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        length, unit = cleaned.get("coverage_length"), cleaned.get("coverage_unit")
        if length and unit:
            try:
                bounds.check_coverage_length(length=length, unit=unit)
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned
