"""The reports' two CSV downloads, as lines of text for a streaming response: the monthly figures and
the patient list.

Numbers are left unformatted (rates as fractions of 1, dates as YYYY-MM-DD) for spreadsheets, and
the file names say what and when, never whom.
"""

import csv
import datetime
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.conf import settings

from patients.clinic_time import clinic_today
from patients.models import Clinic
from patients.reports.figures import RETENTION_DAYS, MonthFigures, Share
from patients.reports.queries import ClinicReport, ExportedPatient, exported_patients

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


def patient_row(clinic: Clinic, patient: ExportedPatient) -> list[Any]:
    return [
        clinic.name,
        patient.record_number,
        patient.name,
        patient.status,
        patient.coverage_state.label,
        patient.covers_until or "",
        patient.last_placed_on or "",
        patient.next_visit_due_on or "",
        _number(patient.therapy_attendance.rate),
    ]


# What a spreadsheet would take a text cell starting with for a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=, +, -, @) is written as plain text."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def unescaped(text: str) -> str:
    """A cell as it was before ``_safe`` marked it as text: what a file written here says when it
    comes back (the import reads the clinic's own exports)."""
    if text[:1] == "'" and text[1:2] in FORMULA_STARTS:
        return text[1:]
    return text


class _Echo:
    """A file that hands back what is written to it, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe(cell) for cell in row])


def monthly_lines(reports: Iterable[ClinicReport]) -> Iterator[str]:
    """One row per clinic and month, from reports already counted."""
    rows = (monthly_row(report.clinic, month) for report in reports for month in report.months)
    return _csv_lines(MONTHLY_COLUMNS, rows)


def monthly_filename(first_month: datetime.date, last_month: datetime.date) -> str:
    return f"monthly-figures-{first_month:%Y-%m}-to-{last_month:%Y-%m}.csv"


def patient_lines(clinics: Iterable[Clinic]) -> Iterator[str]:
    """Each clinic's patients with its own today's coverage, read clinic by clinic as the lines are sent."""
    rows = (
        patient_row(clinic, patient)
        for clinic in clinics
        for patient in exported_patients(clinic, today=clinic_today(clinic))
    )
    return _csv_lines(PATIENT_COLUMNS, rows)


def patients_filename(clinics: Sequence[Clinic]) -> str:
    # Dated by the clinic's calendar; clinics in several zones may not share a day, so a file of
    # several is dated in the settings' TIME_ZONE, the site's own.
    day = clinic_today(clinics[0] if len(clinics) == 1 else settings.TIME_ZONE)
    return f"patients-{day:%Y-%m-%d}.csv"
