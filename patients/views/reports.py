"""The reports page: each clinic's monthly figures with a small chart each, and two CSV downloads.

The figures come from ``patients.reports.queries``; this module picks the clinic and the months, draws the
charts as inline SVG (no JavaScript) and writes the CSV files.
"""

import csv
import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from patients.access import member_clinics
from patients.audit import services as audit
from patients.clinic_time import clinic_today
from patients.models import Clinic, RecordAccess
from patients.records import bounds
from patients.records.schedule import add_months
from patients.reports.figures import RETENTION_DAYS, Month, MonthFigures, Share
from patients.reports.queries import clinic_report, patient_rows

# The last 12 full months and the current month to date.
DEFAULT_MONTHS = 13
# Bounds the work one request can ask for; three years show any trend a clinic looks for.
MAX_MONTHS = 36
NO_VALUE = "\N{EN DASH}"  # nothing to count that month, which is not the same as zero
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
        oldest = min([chosen] if chosen else list(self.clinics), key=bounds.first_day, default=None)
        earliest = bounds.first_day(oldest) if oldest else None
        for name, month in (("start", start), ("end", end)):
            if earliest and month and month < earliest:
                self.add_error(name, f"Choose a month from {earliest.year} on, the clinic's first year.")
        if self.errors:
            return cleaned
        # Close enough to every clinic's today for a limit; each clinic's own today clips the months.
        this_month = timezone.localdate().replace(day=1)
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


# The figures, in the order the page shows them.


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    unit: str  # "percent", "count" or "rate": how the value is scaled and written
    value: Callable[[MonthFigures], float | None]
    detail: Callable[[MonthFigures], str]  # the counts behind the value, in words


def _share_figure(key: str, title: str, noun: str, share: Callable[[MonthFigures], Share]) -> Figure:
    """A figure that is a share of a count, with the count written beneath it."""
    return Figure(
        key,
        title,
        "percent",
        lambda month: share(month).rate,
        lambda m: f"{share(m).part:,} of {share(m).whole:,} {noun}",
    )


def _retained(days: int) -> Callable[[MonthFigures], Share]:
    return lambda month: month.retention[days]


FIGURES = (
    Figure("active_patients", "Active patients", "count", lambda month: month.active_patients, lambda month: ""),
    _share_figure("days_covered", "Proportion of days covered", "days", lambda month: month.days_covered),
    _share_figure("renewals_on_time", "Renewals on time", "renewals", lambda month: month.renewals_on_time),
    Figure(
        "lapses",
        "Lapses per 100 patient-months",
        "rate",
        lambda month: month.lapses_per_100_patient_months,
        lambda month: f"{month.lapses:,} lapse{'' if month.lapses == 1 else 's'}",
    ),
    _share_figure(
        "monitoring_in_window", "Monitoring visits in their window", "visits", lambda m: m.monitoring_in_window
    ),
    _share_figure("therapy_attendance", "Therapy attendance", "sessions", lambda month: month.therapy_attendance),
    *(_share_figure(f"retention_{d}", f"Retention at {d} days", "patients", _retained(d)) for d in RETENTION_DAYS),
)


def written(value: float | None, unit: str) -> str:
    if value is None:
        return NO_VALUE
    if unit == "percent":
        return f"{100 * value:.0f} %"
    if unit == "rate":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def month_label(month: Month) -> str:
    return f"{month.first:%b %Y}" + ("" if month.is_complete else f" (to {month.last.day} {month.last:%b})")


# The charts: bars over the months, drawn on the server.

CHART_WIDTH, CHART_HEIGHT = 320, 150
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 14, 124, 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    centre: float
    label: str  # the month's initial under the bar
    text: str  # month and value, for the bar's tooltip
    partial: bool  # the current month, still to date


@dataclass(frozen=True)
class Chart:
    figure: Figure
    bars: list[Bar]
    top: str  # the value at the top of the scale
    summary: str  # the text alternative: every month and its value
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    baseline: int = PLOT_BOTTOM
    label_y: int = CHART_HEIGHT - 8


def chart(figure: Figure, months: list[MonthFigures]) -> Chart:
    values = [figure.value(month) for month in months]
    known = [value for value in values if value is not None]
    top = 1.0 if figure.unit == "percent" else max(known, default=0.0) or 1.0
    slot = (CHART_WIDTH - 2 * PLOT_LEFT) / max(len(months), 1)
    bars = []
    for index, (month, value) in enumerate(zip(months, values, strict=True)):
        height = (PLOT_BOTTOM - PLOT_TOP) * (value or 0) / top
        bars.append(
            Bar(
                x=round(PLOT_LEFT + index * slot + slot * 0.15, 1),
                y=round(PLOT_BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                centre=round(PLOT_LEFT + (index + 0.5) * slot, 1),
                label=f"{month.month.first:%b}"[0],
                text=f"{month_label(month.month)}: {written(value, figure.unit)}",
                partial=not month.month.is_complete,
            )
        )
    summary = "; ".join(
        f"{month_label(month.month)}: {'no data' if value is None else written(value, figure.unit)}"
        for month, value in zip(months, values, strict=True)
    )
    return Chart(
        figure=figure, bars=bars, top=written(top, figure.unit), summary=f"{figure.title} by month. {summary}."
    )


def _cell(figure: Figure, month: MonthFigures) -> tuple[str, str]:
    """The value as written, and the counts behind it (none under a dash: there were none)."""
    value = figure.value(month)
    return written(value, figure.unit), "" if value is None else figure.detail(month)


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[tuple[str, str]]  # each figure's value and the counts behind it


@login_required
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    """One clinic's figures by month, a chart each, and how they are counted."""
    clinics = member_clinics(request.user).order_by("name")
    # Always bound: with nothing asked for yet, every field takes its default.
    form = ReportForm(request.GET, clinics=clinics)
    context: dict[str, Any] = {"form": form}
    if not form.is_valid():
        return render(request, "patients/reports/reports.html", context)
    clinic_list = list(clinics)
    clinic = form.cleaned_data.get("clinic") or (clinic_list[0] if clinic_list else None)
    if clinic is None:
        return render(request, "patients/reports/reports.html", context)
    first_month, last_month = form.months_for(clinic)
    report = clinic_report(clinic, first_month=first_month, last_month=last_month)
    context |= {
        "clinic": clinic,
        "several_clinics": len(clinic_list) > 1,
        "report": report,
        "figures": FIGURES,
        "charts": [chart(figure, report.months) for figure in FIGURES],
        "rows": [
            Row(label=month_label(month.month), cells=[_cell(figure, month) for figure in FIGURES])
            for month in report.months
        ],
        "start_value": f"{first_month:%Y-%m}",
        "end_value": f"{last_month:%Y-%m}",
        "months": f"start={first_month:%Y-%m}&end={last_month:%Y-%m}",
    }
    return render(request, "patients/reports/reports.html", context)


# The downloads. Numbers are left unformatted (rates as fractions of 1, dates as YYYY-MM-DD) for
# spreadsheets, and the file names say what and when, never whom.

MONTHLY_COLUMNS = (
    "clinic",
    "month",
    "days_counted",
    "active_patients",
    "patient_days_on_treatment",
    "covered_patient_days",
    "proportion_of_days_covered",
    "lapses",
    "lapses_per_100_patient_months",
    "renewals_due",
    "renewals_on_time",
    "renewals_on_time_rate",
    "monitoring_visits_due",
    "monitoring_visits_in_window",
    "monitoring_in_window_rate",
    "therapy_sessions_attended_or_missed",
    "therapy_sessions_attended",
    "therapy_attendance_rate",
    *(f"retention_{days}_{part}" for days in RETENTION_DAYS for part in ("patients", "retained", "rate")),
)
PATIENT_COLUMNS = (
    "clinic",
    "record_number",
    "name",
    "status",
    "coverage_state_today",
    "covers_until",
    "last_placement",
    "next_visit_due",
    "therapy_attendance_rate_90_days",
)


def _number(value: float | None) -> float | str:
    return "" if value is None else round(value, 4)


def _share_cells(share: Share) -> list[Any]:
    return [share.whole, share.part, _number(share.rate)]


def monthly_row(clinic: Clinic, month: MonthFigures) -> list[Any]:
    return [
        clinic.name,
        f"{month.month.first:%Y-%m}",
        month.month.last.day,
        month.active_patients,
        month.days_covered.whole,
        month.days_covered.part,
        _number(month.days_covered.rate),
        month.lapses,
        _number(month.lapses_per_100_patient_months),
        *_share_cells(month.renewals_on_time),
        *_share_cells(month.monitoring_in_window),
        *_share_cells(month.therapy_attendance),
        *(cell for days in RETENTION_DAYS for cell in _share_cells(month.retention[days])),
    ]


def _safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=, +, -, @) is written as plain text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class _Echo:
    """A file that hands back what is written to it, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe(cell) for cell in row])


def _chosen_clinics(request: HttpRequest) -> tuple[ReportForm, list[Clinic]]:
    """The clinic asked for, or every clinic of the user when none is (the form says if it was bad)."""
    clinics = member_clinics(request.user).order_by("name")
    form = ReportForm(request.GET, clinics=clinics)
    if not form.is_valid():
        return form, []
    chosen = form.cleaned_data.get("clinic")
    chosen_clinics = [chosen] if chosen else list(clinics)
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
    rows = []
    for clinic in clinics:
        first_month, last_month = form.months_for(clinic)
        audit.record_access(
            request,
            what=RecordAccess.What.EXPORT_MONTHLY_CSV,
            clinic=clinic,
            detail=f"{first_month:%b %Y} to {last_month:%b %Y}",
        )
        report = clinic_report(clinic, first_month=first_month, last_month=last_month)
        rows += [monthly_row(clinic, month) for month in report.months]
    first_month, last_month = form.months_for(clinics[0])
    return _download(
        _csv_lines(MONTHLY_COLUMNS, rows), f"monthly-figures-{first_month:%Y-%m}-to-{last_month:%Y-%m}.csv"
    )


@login_required
@require_GET
def patients_csv(request: HttpRequest) -> HttpResponseBase:
    """The patient list with today's coverage: identifiers, dates and rates, no clinical notes."""
    form, clinics = _chosen_clinics(request)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain; charset=utf-8")

    for clinic in clinics:
        audit.record_access(request, what=RecordAccess.What.EXPORT_PATIENTS_CSV, clinic=clinic)

    def rows() -> Iterator[list[Any]]:
        for clinic in clinics:
            for row in patient_rows(clinic, today=clinic_today(clinic)):
                yield [
                    clinic.name,
                    row.record_number,
                    row.name,
                    row.status,
                    row.coverage_state.label,
                    row.covers_until or "",
                    row.last_placed_on or "",
                    row.next_visit_due_on or "",
                    _number(row.therapy_attendance.rate),
                ]

    return _download(_csv_lines(PATIENT_COLUMNS, rows()), f"patients-{timezone.localdate():%Y-%m-%d}.csv")
