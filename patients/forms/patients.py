"""Patient forms: a new patient, a patient's details, and a discharge; a view hands each to one service."""

import datetime
from typing import Any

from crispy_forms.layout import Column, Fieldset, Row
from django import forms
from django.db.models import QuerySet

from patients.forms.base import (
    DATE_WIDGET,
    NOTE_WIDGET,
    ServiceArgumentsForm,
    StaffChoiceField,
    form_helper,
    use_staff_choices,
)
from patients.models import Clinic, Patient
from patients.services import PATIENT_DETAILS


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


class PatientForm(ServiceArgumentsForm):
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


class DischargeForm(ServiceArgumentsForm):
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
