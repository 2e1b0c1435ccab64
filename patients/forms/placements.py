"""The placement form: a dose, its induction checklist when one is needed, an early renewal's reason
and a coverage override; a view hands it to ``record_placement``."""

import datetime
from typing import Any

from crispy_forms.layout import HTML, Column, Fieldset, Row
from django import forms
from django.utils.html import conditional_escape, format_html

from patients import formats
from patients.forms.base import (
    DATE_WIDGET,
    NOTE_WIDGET,
    Details,
    ServiceArgumentsForm,
    StaffChoiceField,
    form_helper,
    use_staff_choices,
)
from patients.models import Clinic, Patient, Placement, Product
from patients.records.selectors import schedule_rules

INDUCTION_FIELDS = ("opioid_free_days", "urine_screen", "naloxone_challenge", "naloxone_waiver_reason")
# The arguments of ``record_placement`` a person types, each under its own name (the page's form
# and the admin's, which adds the patient).
PLACEMENT_FIELDS = (
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


class PlacementForm(ServiceArgumentsForm):
    """Every field is an argument of ``record_placement``, under the same name."""

    class Meta:
        model = Placement
        fields = PLACEMENT_FIELDS
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
