"""A clinic's patients, placements or therapy sessions written out in the import's own columns, so
that a clinic can take its records out as easily as it brought them in.

Each value is written the way the import reads it back: days as YYYY-MM-DD, yes or no, a choice by
its label, a product by its name. A file exported here and imported again into the same clinic is
already recorded, row by row; imported into another clinic, it gives the same list again. However
long the list, it is read in one query per file, row by row as the file is written.
"""

import csv
import datetime
import decimal
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

from patients.clinic_time import clinic_today, zone_of
from patients.imports.columns import columns_of
from patients.models import Clinic, Patient, Placement, TherapySession, Visit
from patients.reports.exports import _Echo, _safe

# Rows fetched from the database at a time: a long list is never held in memory whole.
CHUNK_SIZE = 2000

# Excel reads a CSV file as UTF-8 only when it starts with the byte-order mark; without it "Zoë"
# opens as "ZoÃ«". The import reads past the mark (``files.read_table``).
BYTE_ORDER_MARK = "\ufeff"

# The reports' rule against formulas (``_safe``) puts a "'" before a cell that starts with =, +, -,
# @, a tab or a carriage return, so that a spreadsheet shows it rather than runs it. A cell of
# digits and the signs a number or a phone number is written with is left as it is: "+44 20 7946
# 0000" names no function, cell or other file, so a spreadsheet can at most do sums with it; and the
# import keeps a "'" as part of the text, so an escaped phone number would come back changed (and
# change the patient).
NUMBER_LIKE = re.compile(r"[0-9 ().+-]*[0-9][0-9 ().+-]*")

Cells = Mapping[str, str]


def export_rows(kind: str, clinic: Clinic) -> tuple[tuple[str, ...], Iterator[tuple[str, ...]]]:
    """The header (the template's labels) and one row of text per record of ``clinic`` of this kind
    (``patients``, ``placements`` or ``sessions``), read from the database as the rows are taken."""
    columns = columns_of(kind)
    header = tuple(column.label for column in columns)
    records = {"patients": _patients, "placements": _placements, "sessions": _sessions}[kind](clinic)
    return header, (tuple(cells[column.name] for column in columns) for cells in records)


def export_csv(kind: str, clinic: Clinic) -> Iterator[str]:
    """The export as lines of CSV text, the header first, for a streaming response (UTF-8)."""
    header, rows = export_rows(kind, clinic)
    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK + writer.writerow(header)
    for row in rows:
        yield writer.writerow([_csv_cell(cell) for cell in row])


def export_xlsx(kind: str, clinic: Clinic) -> bytes:
    """The export as an Excel workbook: one sheet, the header row in bold, every cell text."""
    header, rows = export_rows(kind, clinic)
    # Write-only: each row goes to the file as it is appended, so a long list is not kept twice.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(kind.capitalize())
    sheet.freeze_panes = "A2"
    sheet.append(_text_cells(sheet, header, bold=True))
    for row in rows:
        sheet.append(_text_cells(sheet, row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _csv_cell(text: str) -> str:
    return text if NUMBER_LIKE.fullmatch(text) else str(_safe(text))


def _text_cells(sheet: Any, texts: Iterable[str], *, bold: bool = False) -> list[Cell | None]:
    """Cells stored as text whatever they hold: openpyxl would store "=..." as a formula, and Excel
    would read 00123 as the number 123. Being text, no cell needs the CSV's "'", and each one reads
    back exactly as written."""
    cells: list[Cell | None] = []
    for text in texts:
        if not text:
            cells.append(None)
            continue
        # The few control characters a workbook cannot hold at all (a note pasted with a form
        # feed, say) are left out rather than refusing the whole file.
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", text))
        cell.data_type = "s"
        cell.number_format = "@"
        if bold:
            cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _patients(clinic: Clinic) -> Iterator[Cells]:
    zone = zone_of(clinic)
    treats = _labels(Patient.Treats)
    found = (
        Patient.objects.filter(clinic=clinic)
        .order_by("record_number")
        # Each column is a field of the patient's, under the same name.
        .values(*(column.name for column in columns_of("patients")))
    )
    for patient in found.iterator(chunk_size=CHUNK_SIZE):
        consent_at: datetime.datetime | None = patient["email_consent_at"]
        yield {
            "record_number": patient["record_number"],
            "first_name": patient["first_name"],
            "last_name": patient["last_name"],
            "date_of_birth": patient["date_of_birth"].isoformat(),
            "email": patient["email"],
            "phone": patient["phone"],
            "email_consent": "yes" if patient["email_consent"] else "no",
            # The day on the clinic's calendar: the import stamps consent at that day's midnight in
            # the clinic, so the same day comes back out.
            "email_consent_at": clinic_today(zone, now=consent_at).isoformat()
            if patient["email_consent"] and consent_at
            else "",
            "treats": treats[patient["treats"]],
        }


def _placements(clinic: Clinic) -> Iterator[Cells]:
    found = (
        Placement.objects.filter(patient__clinic=clinic)
        .order_by("patient__record_number", "placed_on")
        .annotate(missed=Exists(Visit.objects.filter(placement=OuterRef("pk"), status=Visit.Status.MISSED)))
        .values("patient__record_number", "product__name", "placed_on", "dose_mg", "lot_number", "notes", "missed")
    )
    for placement in found.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "record_number": placement["patient__record_number"],
            "product": placement["product__name"],
            "placed_on": placement["placed_on"].isoformat(),
            "dose_mg": _dose(placement["dose_mg"]),
            "lot_number": placement["lot_number"],
            "notes": placement["notes"],
            # A placement with a missed visit comes back with its past visits missed; the others'
            # past visits come back as not recorded (the visits' own findings are not exported).
            "past_visits": "missed" if placement["missed"] else "",
        }


def _sessions(clinic: Clinic) -> Iterator[Cells]:
    statuses = _labels(TherapySession.Status)
    # Individual sessions only: a group session is logged from its group's roster, and the sessions
    # import logs individual ones, so a group session written here would come back as a second,
    # individual session.
    found = (
        TherapySession.objects.filter(patient__clinic=clinic, kind=TherapySession.Kind.INDIVIDUAL)
        .order_by("patient__record_number", "held_on", "pk")
        .values("patient__record_number", "held_on", "status", "note")
    )
    for session in found.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "record_number": session["patient__record_number"],
            "held_on": session["held_on"].isoformat(),
            "status": statuses[session["status"]],
            "note": session["note"],
        }


def _dose(dose: decimal.Decimal | None) -> str:
    # Stored with one decimal place: 380.0 is written 380, and "f" keeps 1000 from becoming 1E+3.
    return "" if dose is None else format(dose.normalize(), "f")


def _labels(choices: type[models.TextChoices]) -> dict[str, str]:
    return {choice.value: str(choice.label) for choice in choices}
