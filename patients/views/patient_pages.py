"""The Patients list, the patient page and the wallet card (HTML to print, and PDF).

Every patient is found through ``patients.access``: another clinic's patient is a 404. Opening a
patient's page or card is logged (``patients.audit.services.record_access``); the list, which shows only
names and coverage, is not.
"""

import uuid
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from patients import roles
from patients.access import can_see_history, get_patient_for, member_clinics, patients_for
from patients.audit import services as audit
from patients.clinic_time import clinic_today
from patients.models import Patient, Product, RecordAccess
from patients.records import queries as patient_reads
from patients.records.schedule import CoverageState
from patients.records.selectors import latest_placement

IN_CARE = "in_care"
NO_COUNSELLOR = "none"
SORT_CHOICES = [
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("record", "Record number"),
    ("-record", "Record number, descending"),
    ("covers_until", "Coverage ends, soonest first"),
    ("-covers_until", "Coverage ends, latest first"),
]
# The columns whose headers sort the table, by their ascending sort key.
SORTABLE_COLUMNS = ("name", "record", "covers_until")
SELECT = forms.Select(attrs={"class": "form-select"})


class PatientFilters(forms.Form):
    """The list's search and filters, read from the query string so that a filtered list has a URL."""

    q = forms.CharField(
        label="Name or record number",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "class": "form-control", "placeholder": "e.g. Lovelace"}),
    )
    state = forms.ChoiceField(
        label="Coverage",
        required=False,
        choices=[("", "Any coverage"), *((state.value, state.label) for state in CoverageState)],
        widget=SELECT,
    )
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), (IN_CARE, "In care (not discharged)"), *Patient.Status.choices],
        widget=SELECT,
    )
    counsellor = forms.ChoiceField(label="Counsellor", required=False, widget=SELECT)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES, widget=SELECT)

    def __init__(self, *args: Any, counsellors: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["counsellor"]).choices = [
            ("", "Any counsellor"),
            (NO_COUNSELLOR, "No counsellor"),
            *counsellors,
        ]

    def valid_data(self) -> dict[str, Any]:
        """The fields with valid values: a bad one (a stale link, an edited URL) is ignored, not an error page."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return self.cleaned_data

    def filter(self, patients: QuerySet[Patient]) -> QuerySet[Patient]:
        data = self.valid_data()
        if data.get("q"):
            patients = patient_reads.search(patients, data["q"])
        status = data.get("status")
        if status == IN_CARE:
            patients = patients.exclude(status=Patient.Status.DISCHARGED)
        elif status:
            patients = patients.filter(status=status)
        counsellor = data.get("counsellor")
        if counsellor == NO_COUNSELLOR:
            patients = patients.filter(counsellor__isnull=True)
        elif counsellor:
            patients = patients.filter(counsellor_id=int(counsellor))
        return patients

    def value(self, name: str) -> str:
        return str(self.valid_data().get(name) or "")


def _counsellor_choices(patients: QuerySet[Patient]) -> list[tuple[str, str]]:
    """The staff who counsel at least one of these patients, by name."""
    users = (
        get_user_model()
        .objects.filter(counselled_patients__in=patients)
        .distinct()
        .order_by("first_name", "last_name", "username")
        .values_list("pk", "first_name", "last_name", "username")
    )
    return [(str(pk), f"{first} {last}".strip() or username) for pk, first, last, username in users]


def _sort_headers(current: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the sort its header link asks for next, and its aria-sort value."""
    headers = {}
    for key in SORTABLE_COLUMNS:
        ascending, descending = current == key, current == f"-{key}"
        headers[key] = {
            "next": f"-{key}" if ascending else key,
            "aria_sort": "ascending" if ascending else "descending" if descending else "none",
        }
    return headers


@login_required
@require_safe
def patient_list(request: HttpRequest) -> HttpResponse:
    patients = patients_for(request.user)
    filters = PatientFilters(request.GET or None, counsellors=_counsellor_choices(patients))
    filtered = filters.filter(patients)
    sort = filters.value("sort") or "name"
    state = filters.value("state")
    page, rows = patient_reads.patient_list_page(
        filtered,
        sort=sort,
        state=CoverageState(state) if state else None,
        page_number=request.GET.get("page"),
    )
    context = {
        "filters": filters,
        "page": page,
        "rows": rows,
        "sort_headers": _sort_headers(sort),
        "sort_label": dict(SORT_CHOICES)[sort],
        "is_filtered": any(filters.value(name) for name in ("q", "state", "status", "counsellor")),
        # Record numbers are unique only within a clinic: name the clinic when there are several.
        # The user's roles, read once, say how many clinics they work for, and whether they may
        # bring records in (a superuser works for every clinic, and may).
        "show_clinic": member_clinics(request.user).count() > 1
        if request.user.is_superuser
        else len(roles.clinic_roles(request.user)) > 1,
        "may_import": roles.may(request.user, roles.Action.IMPORT_RECORDS),
    }
    # htmx asks for the results alone while the coordinator types; a plain request gets the page.
    htmx = getattr(request, "htmx", False)  # set by django-htmx's middleware
    template = "patients/partials/patient_list_results.html" if htmx else "patients/patient_list.html"
    return render(request, template, context)


@login_required
@require_safe
def patient_detail(request: HttpRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    audit.record_access(request, what=RecordAccess.What.PATIENT_PAGE, patient=patient)
    context = {
        "patient": patient,
        "page": patient_reads.patient_page(patient),
        "can_see_history": can_see_history(request.user, patient.clinic),
    }
    return render(request, "patients/patient_detail.html", context)


def _wallet_card_context(patient: Patient, *, for_pdf: bool) -> dict[str, Any]:
    """The card always shows the newest placement, so a card printed after a renewal is current."""
    placement = latest_placement(patient)
    return {
        "patient": patient,
        "clinic": patient.clinic,
        "placement": placement,
        "is_injection": placement is not None and placement.product.formulation == Product.Formulation.INJECTION,
        "has_run_out": placement is not None and placement.coverage_ends_on < clinic_today(patient.clinic),
        "for_pdf": for_pdf,
    }


@login_required
@require_safe
def wallet_card(request: HttpRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    audit.record_access(request, what=RecordAccess.What.WALLET_CARD, patient=patient)
    return render(request, "patients/wallet_card.html", _wallet_card_context(patient, for_pdf=False))


@login_required
@require_safe
@never_cache  # the file names a patient's treatment: no copy should stay in a shared cache
def wallet_card_pdf(request: HttpRequest, patient_uuid: uuid.UUID) -> HttpResponse:
    patient = get_patient_for(request.user, patient_uuid)
    context = _wallet_card_context(patient, for_pdf=True)
    if context["placement"] is None:
        # Nothing to print yet: the HTML page says so in words, which a PDF viewer would not.
        return redirect("patients:wallet_card", patient_uuid=patient.uuid)
    audit.record_access(request, what=RecordAccess.What.WALLET_CARD_PDF, patient=patient)
    # Imported here so that the site starts, and every other page works, even where the PDF
    # libraries (Pango) are missing.
    import weasyprint  # type: ignore[import-untyped]

    html = render_to_string("patients/wallet_card.html", context)
    # The page links its stylesheet; the PDF is handed the same file, read from disk.
    stylesheet = weasyprint.CSS(filename=finders.find("css/wallet-card.css"))
    pdf = weasyprint.HTML(string=html).write_pdf(stylesheets=[stylesheet])
    response = HttpResponse(pdf, content_type="application/pdf")
    # No name in the file name: downloads folders and print queues are seen by others.
    response["Content-Disposition"] = 'attachment; filename="wallet-card.pdf"'
    return response
