"""The reports page's choice of clinic and months, shared by the page and its two downloads."""

import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet

from patients.clinic_time import clinic_today
from patients.models import Clinic
from patients.records import bounds
from patients.records.schedule import add_months

# The last 12 full months and the current month to date.
DEFAULT_MONTHS = 13
# Bounds the work one request can ask for; three years show any trend a clinic looks for.
MAX_MONTHS = 36
MONTH_WIDGET = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")


class ReportForm(forms.Form):
    """Which clinic and months; every field may be left out, and each then takes its default."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), to_field_name="uuid", required=False)
    start = forms.DateField(label="From", input_formats=["%Y-%m"], required=False, widget=MONTH_WIDGET)
    end = forms.DateField(label="To", input_formats=["%Y-%m"], required=False, widget=MONTH_WIDGET)

    def __init__(self, *args: Any, clinics: QuerySet[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinics = clinics
        self.fields["clinic"].queryset = clinics  # type: ignore[attr-defined]
        self.fields["clinic"].empty_label = None  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        # The clinic's records begin in its first year (patients.records.bounds), so its figures do too; with
        # every clinic asked for, the earliest of theirs.
        chosen = cleaned.get("clinic")
        concerned = [chosen] if chosen else list(self.clinics)
        oldest = min(concerned, key=bounds.first_day, default=None)
        earliest = bounds.first_day(oldest) if oldest else None
        for name, month in (("start", start), ("end", end)):
            if earliest and month and month < earliest:
                self.add_error(name, f"Choose a month from {earliest.year} on, the clinic's first year.")
        if self.errors:
            return cleaned
        # A month is in the future when it has begun in none of the clinics concerned; each clinic's
        # own today then clips the months (months_for). With no clinic at all, the settings' TIME_ZONE.
        today = max((clinic_today(clinic) for clinic in concerned), default=None) or clinic_today(settings.TIME_ZONE)
        this_month = today.replace(day=1)
        if start and start > this_month:
            self.add_error("start", "The first month cannot be in the future.")
        elif start and end and start > end:
            self.add_error("start", "The first month must come before the last.")
        elif start and add_months(start, MAX_MONTHS) <= min(end or this_month, this_month):
            self.add_error("start", f"Choose at most {MAX_MONTHS} months.")
        return cleaned

    def months_for(self, clinic: Clinic) -> tuple[datetime.date, datetime.date]:
        """The first and last month to report for ``clinic``, filling in the defaults."""
        this_month = clinic_today(clinic).replace(day=1)
        end = min(self.cleaned_data.get("end") or this_month, this_month)
        start = self.cleaned_data.get("start") or add_months(end, 1 - DEFAULT_MONTHS)
        return start, end
