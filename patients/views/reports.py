"""The reports page: each clinic's monthly figures with a small chart each, and two CSV downloads.

The figures come from ``patients.reports.queries``, the page's table and charts from
``patients.reports.page`` and the files from ``patients.reports.exports``; this module reads the
request, records who downloaded what, and renders or streams.
"""

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from patients.access import member_clinics
from patients.audit import services as audit
from patients.forms.reports import ReportForm
from patients.models import Clinic, RecordAccess
from patients.reports import exports, page
from patients.reports.queries import clinic_report


def _report_form(request: HttpRequest) -> ReportForm:
    # Always bound: with nothing asked for yet, every field takes its default. The kept figures
    # come with each clinic, read before any record (patients.reports.kept).
    clinics = member_clinics(request.user).select_related("report_figures").order_by("name")
    return ReportForm(request.GET, clinics=clinics)


@login_required
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    """One clinic's figures by month, a chart each, and how they are counted."""
    form = _report_form(request)
    context: dict[str, Any] = {"form": form}
    if not form.is_valid():
        return render(request, "patients/reports/reports.html", context)
    clinic_list = list(form.clinics)
    clinic = form.cleaned_data.get("clinic") or (clinic_list[0] if clinic_list else None)
    if clinic is None:
        return render(request, "patients/reports/reports.html", context)
    first_month, last_month = form.months_for(clinic)
    report = clinic_report(clinic, first_month=first_month, last_month=last_month)
    context |= {
        "clinic": clinic,
        "several_clinics": len(clinic_list) > 1,
        "report": report,
        "figures": page.FIGURES,
        "charts": page.charts(report.months),
        "rows": page.table(report.months),
        "start_value": f"{first_month:%Y-%m}",
        "end_value": f"{last_month:%Y-%m}",
        "months": f"start={first_month:%Y-%m}&end={last_month:%Y-%m}",
    }
    return render(request, "patients/reports/reports.html", context)


def _chosen_clinics(request: HttpRequest) -> tuple[ReportForm, list[Clinic]]:
    """The clinic asked for, or every clinic of the user when none is (the form says if it was bad)."""
    form = _report_form(request)
    if not form.is_valid():
        return form, []
    chosen = form.cleaned_data.get("clinic")
    chosen_clinics = [chosen] if chosen else list(form.clinics)
    if not chosen_clinics:
        raise Http404("No clinic to report on.")
    return form, chosen_clinics


def _download(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def reports_csv(request: HttpRequest) -> HttpResponseBase:
    """The monthly table: one row per clinic and month."""
    form, clinics = _chosen_clinics(request)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain; charset=utf-8")
    reports = []
    for clinic in clinics:
        first_month, last_month = form.months_for(clinic)
        audit.record_access(
            request,
            what=RecordAccess.What.EXPORT_MONTHLY_CSV,
            clinic=clinic,
            detail=f"{first_month:%b %Y} to {last_month:%b %Y}",
        )
        reports.append(clinic_report(clinic, first_month=first_month, last_month=last_month))
    first_month, last_month = form.months_for(clinics[0])
    return _download(exports.monthly_lines(reports), exports.monthly_filename(first_month, last_month))


@login_required
@require_GET
def patients_csv(request: HttpRequest) -> HttpResponseBase:
    """The patient list with today's coverage: identifiers, dates and rates, no clinical notes."""
    form, clinics = _chosen_clinics(request)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain; charset=utf-8")
    for clinic in clinics:
        audit.record_access(request, what=RecordAccess.What.EXPORT_PATIENTS_CSV, clinic=clinic)
    return _download(exports.patient_lines(clinics), exports.patients_filename(clinics))
