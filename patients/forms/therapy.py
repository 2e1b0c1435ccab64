"""Therapy forms: an individual session, a group's details and members, and a group's roster.

Like the record forms (``patients.forms.base``), each form only reads what was typed; a view hands it to one service.
"""

import datetime
from collections.abc import Iterator, Mapping
from typing import Any

from crispy_forms.layout import Column, Row
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from patients.forms.base import (
    DATE_WIDGET,
    NOTE_WIDGET,
    BoundedModelMultipleChoiceField,
    ServiceArgumentsForm,
    StaffChoiceField,
    add_service_error,
    form_helper,
    use_staff_choices,
)
from patients.models import Clinic, Patient, TherapyGroup, TherapySession


class TherapySessionForm(ServiceArgumentsForm):
    """The arguments of ``log_therapy_session`` for one patient's individual session."""

    class Meta:
        model = TherapySession
        fields = ("held_on", "status", "counsellor", "note")
        widgets = {"held_on": DATE_WIDGET, "status": forms.RadioSelect, "note": NOTE_WIDGET}
        labels = {"held_on": "Held on"}
        field_classes = {"counsellor": StaffChoiceField}

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_staff_choices(self.fields["counsellor"], Clinic.objects.filter(pk=clinic.pk))
        self.helper = form_helper(Row(Column("held_on"), Column("counsellor")), "status", "note")


class TherapyGroupCreateForm(ServiceArgumentsForm):
    """The arguments of ``create_therapy_group``; members are chosen on the group's page."""

    class Meta:
        model = TherapyGroup
        fields = ("clinic", "name", "facilitator", "meets")

    def __init__(self, *args: Any, clinics: QuerySet[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        clinic = self.fields["clinic"]
        assert isinstance(clinic, forms.ModelChoiceField)
        clinic.queryset = clinics
        only = list(clinics[:2])
        if len(only) == 1:
            clinic.initial = only[0].pk
            clinic.widget = forms.HiddenInput()
        self.helper = form_helper("clinic", "name", Row(Column("facilitator"), Column("meets")))


class TherapyGroupDetailsForm(ServiceArgumentsForm):
    """The arguments of ``update_therapy_group``."""

    class Meta:
        model = TherapyGroup
        fields = ("name", "facilitator", "meets", "is_active")
        labels = {"is_active": "The group still meets"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "details")
        super().__init__(*args, **kwargs)
        self.helper = form_helper("name", Row(Column("facilitator"), Column("meets")), "is_active")


class PatientChoices(BoundedModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        label = f"{obj.last_name}, {obj.first_name} ({obj.record_number})"
        if obj.status != Patient.Status.ACTIVE:
            label += f" · {obj.get_status_display().lower()}"
        return label


class TherapyGroupMembersForm(ServiceArgumentsForm):
    """The roster for ``set_group_members``: the clinic's patients in care, and whoever is a member."""

    class Meta:
        model = TherapyGroup
        fields = ("members",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "members")
        super().__init__(*args, **kwargs)
        group = self.instance
        self.fields["members"] = PatientChoices(
            queryset=Patient.objects.filter(clinic=group.clinic_id)
            # A discharged member stays on the list so that saving does not drop them unseen.
            .filter(~Q(status=Patient.Status.DISCHARGED) | Q(therapy_groups=group))
            .distinct()
            .order_by("last_name", "first_name"),
            widget=forms.CheckboxSelectMultiple,
            required=False,
            label="Tick everyone who belongs to this group",
        )
        self.helper = form_helper("members")


class GroupAttendanceForm(forms.Form):
    """One group session for the whole roster: the day, and one status per patient.

    Not a ModelForm: it writes a row per patient. Its fields are named after the patients' UUIDs,
    the same identifiers the pages' addresses use.
    """

    held_on = forms.DateField(label="Session held on", widget=DATE_WIDGET)

    def __init__(
        self,
        *args: Any,
        roster: list[Patient],
        statuses: Mapping[int, str] | None = None,
        held_on: datetime.date,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.roster = roster
        self.fields["held_on"].initial = held_on
        statuses = statuses or {}
        for patient in roster:
            self.fields[self.field_name(patient)] = forms.ChoiceField(
                label=patient.full_name,
                choices=TherapySession.Status.choices,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                initial=statuses.get(patient.pk),
                error_messages={"required": f"Choose how {patient.full_name} attended."},
            )

    @staticmethod
    def field_name(patient: Patient) -> str:
        return f"patient-{patient.uuid}"

    def rows(self) -> Iterator[tuple[Patient, forms.BoundField]]:
        """The roster in order, each patient with their status field, for the page's table."""
        for patient in self.roster:
            yield patient, self[self.field_name(patient)]

    def attendance(self) -> dict[Patient, str]:
        """The argument of ``log_group_attendance``; only after ``is_valid()``."""
        return {patient: self.cleaned_data[self.field_name(patient)] for patient in self.roster}

    def add_service_error(self, error: ValidationError) -> None:
        add_service_error(self, error)
