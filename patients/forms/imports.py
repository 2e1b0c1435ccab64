"""The import page's form: which clinic, what the rows are, how the file writes dates, and the file."""

from typing import Any

from django import forms
from django.db.models import QuerySet

from patients.imports.values import DATE_ORDERS
from patients.models import Clinic, ImportRun

# Larger than any clinic's spreadsheet of IMPORT_MAX_ROWS rows, small enough to read in memory.
MAX_UPLOAD_MB = 20


class ImportForm(forms.Form):
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), to_field_name="uuid", empty_label=None)
    kind = forms.ChoiceField(label="The rows are", choices=ImportRun.Kind.choices, widget=forms.RadioSelect)
    date_order = forms.ChoiceField(
        label="Dates not written YYYY-MM-DD are",
        choices=list(DATE_ORDERS.items()),
        initial="iso",
        help_text="Chosen once for the whole file; the check shows how each date was read.",
    )
    file = forms.FileField(
        label="Spreadsheet",
        help_text=f"A .csv or .xlsx file of at most {MAX_UPLOAD_MB} MB; its first row holds the column headings.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt,.tsv"}),
    )

    def __init__(self, *args: Any, clinics: QuerySet[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        clinic_field = self.fields["clinic"]
        assert isinstance(clinic_field, forms.ModelChoiceField)
        clinic_field.queryset = clinics
        only = list(clinics[:2])
        if len(only) == 1:
            # Most managers run one clinic: no need to ask.
            clinic_field.initial = only[0].uuid
            clinic_field.widget = forms.HiddenInput()

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(
                f"This file is {upload.size / 1024 / 1024:.0f} MB; at most {MAX_UPLOAD_MB} MB can be brought "
                "in at once. Split it into smaller files."
            )
        return upload
