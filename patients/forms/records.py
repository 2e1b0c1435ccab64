"""The coordinators' record forms: each reads what was typed, and a view hands it to one service.

The forms check only what a field can check by itself (a date is a date, a choice is a choice).
Every rule about the records is the service's: a refusal comes back as a ``ValidationError`` and
``add_service_error`` puts each message beside the field it names, or on top of the form, so the
page shows it with everything that was typed and nothing saved.

Therapy forms are in ``patients.forms.therapy``.
"""

import datetime
import zoneinfo
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Fieldset, Layout, Row
from crispy_forms.utils import TEMPLATE_PACK
from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

from patients import formats
from patients.models import Clinic, FollowUpCall, Patient, Placement, Product, Visit
from patients.records import bounds
from patients.records.selectors import schedule_rules
from patients.services import PATIENT_DETAILS, VISIT_FINDINGS

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NOTE_WIDGET = forms.Textarea(attrs={"rows": 2})


def add_service_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Each message beside its field; one about a field the form does not show goes on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.error_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class ServiceModelForm(forms.ModelForm):
    """A ModelForm that never saves: its cleaned data are the keyword arguments of a service."""

    def _post_clean(self) -> None:
        # ModelForm would copy the values onto the instance and run the model's own checks here.
        # The service runs them (and every other rule) itself, so each rule is checked once, in one
        # place, and its refusal arrives through add_service_error in the service's own words.
        pass

    def add_service_error(self, error: ValidationError) -> None:
        add_service_error(self, error)

    def save(self, commit: bool = True) -> Any:
        raise NotImplementedError("Record forms save through patients.services, never by ModelForm.save().")


def form_helper(*layout: Any) -> FormHelper:
    """A crispy helper for a form whose page supplies the <form> tag and its buttons."""
    helper = FormHelper()
    helper.form_tag = False
    helper.layout = Layout(*layout)
    return helper


def clinic_staff(clinics: QuerySet[Clinic]) -> QuerySet[User]:
    """The people who work for these clinics: who may place, see, or counsel their patients."""
    return (
        User.objects.filter(memberships__clinic__in=clinics, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Several rows by their numbers; a number no row can have is refused before any query (SQLite
    cannot even compare a number past 64 bits with a column)."""

    def _check_values(self, value: Any) -> Any:
        if self.to_field_name is None and isinstance(value, list | tuple):
            for each in value:
                if not bounds.is_row_id(each):
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": each}
                    )
        return super()._check_values(value)  # type: ignore[misc]


class StaffChoiceField(forms.ModelChoiceField):
    """A member of staff, by the name colleagues know them by."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


def use_staff_choices(field: forms.Field, clinics: QuerySet[Clinic]) -> None:
    """Limit a ``StaffChoiceField`` (set in the form's ``Meta.field_classes``) to these clinics' staff."""
    assert isinstance(field, StaffChoiceField)
    field.queryset = clinic_staff(clinics)


class Details(Fieldset):
    """Optional fields folded into a ``<details>`` element, which opens and closes without JavaScript.

    It opens by itself when one of its fields holds an error or a changed value, so nothing typed
    or refused is ever hidden from the coordinator.
    """

    template = "patients/forms/layout/details.html"
    is_open = False

    def render(
        self, form: forms.BaseForm, context: Any, template_pack: str = TEMPLATE_PACK, **kwargs: Any
    ) -> SafeString:
        names = [name for name in self.fields if isinstance(name, str)]
        touched = form.is_bound and any(form.errors.get(name) or name in form.changed_data for name in names)
        self.is_open = touched
        return super().render(form, context, template_pack, **kwargs)


class ClinicDateTimeField(forms.DateTimeField):
    """A date and time typed, and shown, in the clinic's zone whatever zone the server runs in."""

    def __init__(self, *, zone: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        self.zone = zone
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime.datetime | None:
        with timezone.override(self.zone):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(self.zone):
            return super().prepare_value(value)


# Patients


def patient_layout() -> tuple[Any, ...]:
    return (
        Fieldset(
            "The patient",
            Row(Column("record_number"), Column("date_of_birth")),
            Row(Column("first_name"), Column("last_name")),
            "treats",
            "counsellor",
        ),
        Fieldset(
            "Contact",
            Row(Column("phone"), Column("email")),
            "email_consent",
            Row(Column("emergency_contact_name"), Column("emergency_contact_phone")),
        ),
        Fieldset("Liver", "liver_condition", "liver_condition_note"),
    )


class PatientForm(ServiceModelForm):
    """New patient: the arguments of ``register_patient``, the clinic among the user's own."""

    class Meta:
        model = Patient
        fields: tuple[str, ...] = ("clinic", *PATIENT_DETAILS, "email_consent")
        field_classes = {"counsellor": StaffChoiceField}
        widgets = {"date_of_birth": DATE_WIDGET, "liver_condition_note": NOTE_WIDGET}
        help_texts = {"email_consent": "The patient agreed to email reminders. Without it the clinic phones instead."}

    def __init__(self, *args: Any, clinics: QuerySet[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_staff_choices(self.fields["counsellor"], clinics)
        layout = patient_layout()
        if "clinic" in self.fields:
            clinic_field = self.fields["clinic"]
            assert isinstance(clinic_field, forms.ModelChoiceField)
            clinic_field.queryset = clinics
            only = list(clinics[:2])
            if len(only) == 1:
                # Most coordinators work for one clinic: no need to ask.
                clinic_field.initial = only[0].pk
                clinic_field.widget = forms.HiddenInput()
            layout = ("clinic", *layout)
        self.helper = form_helper(*layout)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The database refuses a second record number too, but as a message about the whole form;
        # said here, it lands beside the number.
        clinic = cleaned.get("clinic") or (self.instance.clinic if self.instance.clinic_id else None)
        record_number = (cleaned.get("record_number") or "").strip()
        if clinic and record_number:
            namesakes = Patient.objects.filter(clinic=clinic, record_number=record_number)
            if namesakes.exclude(pk=self.instance.pk).exists():
                self.add_error("record_number", "Another patient of this clinic already has this record number.")
        return cleaned


class PatientEditForm(PatientForm):
    """Edit a patient: the arguments of ``update_patient``; the clinic does not change."""

    class Meta(PatientForm.Meta):
        fields = (*PATIENT_DETAILS, "email_consent")


class DischargeForm(ServiceModelForm):
    class Meta:
        model = Patient
        fields = ("discharged_on",)
        widgets = {"discharged_on": DATE_WIDGET}
        labels = {"discharged_on": "Discharged on"}

    def __init__(self, *args: Any, today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["discharged_on"].required = True
        self.fields["discharged_on"].initial = today
        self.helper = form_helper(Row(Column("discharged_on", css_class="col-sm-6")))


# Placements

INDUCTION_FIELDS = ("opioid_free_days", "urine_screen", "naloxone_challenge", "naloxone_waiver_reason")


class PlacementForm(ServiceModelForm):
    """Every field is an argument of ``record_placement``, under the same name."""

    class Meta:
        model = Placement
        fields = (
            "product",
            "placed_on",
            "dose_mg",
            "lot_number",
            "body_site",
            "placed_by",
            *INDUCTION_FIELDS,
            "covers_until",
            "covers_until_override_reason",
            "early_renewal_reason",
            "notes",
        )
        widgets = {
            "placed_on": DATE_WIDGET,
            "covers_until": DATE_WIDGET,
            "naloxone_waiver_reason": NOTE_WIDGET,
            "covers_until_override_reason": NOTE_WIDGET,
            "early_renewal_reason": NOTE_WIDGET,
            "notes": NOTE_WIDGET,
        }
        labels = {"dose_mg": "Dose (mg)", "placed_by": "Placed or given by"}
        field_classes = {"placed_by": StaffChoiceField}

    def __init__(
        self,
        *args: Any,
        patient: Patient,
        induction_reason: str,
        early_until: datetime.date | None,
        **kwargs: Any,
    ) -> None:
        """``induction_reason`` says why the checklist is needed (a first placement, a long lapse),
        empty when it is not. ``early_until``: the day the current placement's renewal window opens,
        while that is still ahead."""
        super().__init__(*args, **kwargs)
        clinics = Clinic.objects.filter(pk=patient.clinic_id)
        product = self.fields["product"]
        assert isinstance(product, forms.ModelChoiceField)
        product.queryset = Product.objects.filter(clinic=patient.clinic, is_active=True)
        product.empty_label = None
        use_staff_choices(self.fields["placed_by"], clinics)
        self.fields["covers_until"].required = False
        self.fields["covers_until"].label = "Covers until (override)"
        self.fields["covers_until"].help_text = "Leave empty to use the product's coverage."
        self.fields["covers_until_override_reason"].label = "Clinical reason for a different end date"
        self.fields["early_renewal_reason"].help_text = "Needed only to renew before the renewal window opens."
        minimum = schedule_rules().induction_min_opioid_free_days
        self.fields["opioid_free_days"].label = "Opioid-free days"
        self.fields["opioid_free_days"].help_text = f"At least {minimum}; longer after long-acting opioids."
        self.fields["naloxone_waiver_reason"].help_text = "Needed only when the naloxone challenge is waived."
        if induction_reason:
            # Marked as required the way the other required fields are, yet left to the service to
            # refuse, so that every missing item of the checklist is named at once.
            self.fields["opioid_free_days"].label = format_html(
                '{}<span class="asteriskField">*</span>', "Opioid-free days"
            )
            self.fields["opioid_free_days"].widget.attrs["aria-required"] = "true"
            induction = Fieldset(
                "Induction checklist",
                HTML(
                    '<div class="alert alert-warning" role="note"><strong>Required before this placement.</strong> '
                    f"{conditional_escape(induction_reason)} Naltrexone given to someone with opioids "
                    "still in their body causes severe withdrawal: the patient must be opioid-free, with a "
                    "negative urine screen and a negative naloxone challenge (or a waiver with its reason).</div>"
                ),
                *INDUCTION_FIELDS,
                css_class="induction-required",
            )
        else:
            induction = Details(
                "Induction checklist (optional for a renewal while covered)", *INDUCTION_FIELDS, css_class="mb-3"
            )
        early = (
            Fieldset(
                "Early renewal",
                HTML(
                    '<p class="text-body-secondary">The renewal window opens on '
                    f"{formats.day(early_until)}. To renew earlier, give the clinical reason.</p>"
                ),
                "early_renewal_reason",
            )
            if early_until
            else Details("Early renewal reason", "early_renewal_reason", css_class="mb-3")
        )
        self.helper = form_helper(
            Fieldset(
                "The dose",
                Row(Column("product"), Column("placed_on")),
                Row(Column("dose_mg"), Column("lot_number"), Column("body_site")),
                "placed_by",
            ),
            induction,
            early,
            Details("Coverage override", "covers_until", "covers_until_override_reason", css_class="mb-3"),
            "notes",
        )


# Visits


def findings_widgets() -> dict[str, forms.Widget]:
    """Number boxes that tell the browser each score's range; the service still refuses the rest."""
    ranges = {"alt_u_per_l": 10000, "ast_u_per_l": 10000, "phq9_total": 27, "phq9_item9": 3, "gad7_total": 21}
    widgets: dict[str, forms.Widget] = {
        name: forms.NumberInput(attrs={"min": 0, "max": top}) for name, top in ranges.items()
    }
    widgets["cravings"] = forms.NumberInput(attrs={"min": 0, "max": 10})
    return {
        **widgets,
        "completed_on": DATE_WIDGET,
        "adverse_events": NOTE_WIDGET,
        "notes": NOTE_WIDGET,
    }


class VisitFindingsForm(ServiceModelForm):
    """The arguments of ``complete_visit``: when, who, and what was found."""

    class Meta:
        model = Visit
        fields = ("completed_on", "seen_by", *VISIT_FINDINGS)
        widgets = findings_widgets()
        labels = {"completed_on": "Seen on"}
        field_classes = {"seen_by": StaffChoiceField}

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["completed_on"].required = True
        use_staff_choices(self.fields["seen_by"], Clinic.objects.filter(pk=clinic.pk))
        self.helper = form_helper(
            Row(Column("completed_on"), Column("seen_by")),
            Fieldset("Implant site", "site_check"),
            Fieldset("Liver tests", Row(Column("alt_u_per_l"), Column("ast_u_per_l"))),
            Fieldset("Mood", Row(Column("phq9_total"), Column("phq9_item9"), Column("gad7_total"))),
            Fieldset("Substance use", Row(Column("urine_drug_screen"), Column("cravings"), Column("substance_use"))),
            Fieldset("Notes", "adverse_events", "notes"),
        )


class RescheduleForm(ServiceModelForm):
    """The arguments of ``reschedule_visit``; the time is the clinic's wall-clock time."""

    class Meta:
        model = Visit
        fields = ("appointment_at", "appointment_override_reason")
        widgets = {"appointment_override_reason": NOTE_WIDGET}

    def __init__(self, *args: Any, clinic: Clinic, may_override: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["appointment_at"] = ClinicDateTimeField(
            zone=clinic.zone,
            label="Appointment",
            help_text=f"Date and time at {clinic.name} ({clinic.time_zone}).",
        )
        if not may_override:
            # Booking outside the window is a clinical override (patients.roles): not offered.
            del self.fields["appointment_override_reason"]
            self.helper = form_helper("appointment_at")
            return
        self.fields["appointment_override_reason"].label = "Clinical reason to book outside the window"
        self.fields["appointment_override_reason"].help_text = "Needed only when the day falls outside the window."
        self.helper = form_helper("appointment_at", "appointment_override_reason")


class FollowUpCallForm(ServiceModelForm):
    """The arguments of ``log_follow_up_call`` that a coordinator types."""

    class Meta:
        model = FollowUpCall
        fields = ("outcome", "note", "try_again_on")
        widgets = {"outcome": forms.RadioSelect, "try_again_on": DATE_WIDGET, "note": NOTE_WIDGET}
        labels = {"try_again_on": "Try again on"}
        help_texts = {"try_again_on": "The worklist hides the patient until then."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = form_helper("outcome", "note", "try_again_on")
