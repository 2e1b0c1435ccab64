"""Visit forms: a visit's findings and its booking; a view hands each to one service."""

from typing import Any

from crispy_forms.layout import Column, Fieldset, Row
from django import forms

from patients.forms.base import (
    DATE_WIDGET,
    NOTE_WIDGET,
    ClinicDateTimeField,
    ServiceArgumentsForm,
    StaffChoiceField,
    form_helper,
    use_staff_choices,
)
from patients.models import Clinic, Visit
from patients.services import VISIT_FINDINGS


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


class VisitFindingsForm(ServiceArgumentsForm):
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


class RescheduleForm(ServiceArgumentsForm):
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
