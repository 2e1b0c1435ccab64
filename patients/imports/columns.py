"""The columns each kind of import reads, how a file's headings find them, and the blank templates.

A column is named twice: by the field it fills (``date_of_birth``) and by the label the coordinators
see on the form that fills it ("Date of birth"). A heading may be either, written with any case,
spacing, underscores or hyphens, and with the ``*`` or "(required)" some templates add.
"""

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django import forms
from django.db import models
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from patients.imports.files import FileRefused
from patients.imports.values import folded
from patients.models import Patient, TherapySession

KINDS = ("patients", "placements", "sessions")

# Cells Excel must keep as typed: in a General cell it drops the leading zeros of 00123 and turns
# 0044 20 7946 0000 into a number.
TEXT_COLUMNS = frozenset({"record_number", "phone", "lot_number"})
REQUIRED_MARK = re.compile(r"\s*(\*|\(required\))\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    name: str  # the field it fills, and a heading the file may use
    label: str  # the heading in the templates: the form's label
    required: bool
    accepted: str  # what a cell may hold, in words


@dataclass(frozen=True)
class Matched:
    fields: dict[str, int]  # column name → the index of its cell in each row, in the kind's column order
    ignored: tuple[str, ...]  # headings that are no column of this kind: read past, shown in the preview


def columns_of(kind: str) -> tuple[Column, ...]:
    """The columns of one kind of import, required ones first, in the templates' order."""
    # Imported here, not at the top: the forms import patients.services, so a service importing
    # this module at load time would close a circle of imports.
    from patients.forms.patients import PatientForm
    from patients.forms.placements import PlacementForm
    from patients.forms.therapy import TherapySessionForm

    record_number = _label(PatientForm, "record_number")
    a_patient = "the record number of a patient of this clinic"
    if kind == "patients":
        return (
            Column("record_number", record_number, True, "the clinic's own record number, one per patient"),
            Column("first_name", _label(PatientForm, "first_name"), True, "text"),
            Column("last_name", _label(PatientForm, "last_name"), True, "text"),
            Column("date_of_birth", _label(PatientForm, "date_of_birth"), True, "a date"),
            Column("email", _label(PatientForm, "email"), False, "an email address"),
            Column("phone", _label(PatientForm, "phone"), False, "a phone number"),
            Column("email_consent", _label(PatientForm, "email_consent"), False, "yes or no (empty is no)"),
            # Not on the form: the page stamps consent with the moment it is ticked, where an import
            # brings the day it was given. The field's own name, "email consent at", reads as a time.
            Column("email_consent_at", "Email consent given on", False, "a date, the day the patient agreed"),
            Column("treats", _label(PatientForm, "treats"), False, _one_of(Patient.Treats)),
        )
    if kind == "placements":
        return (
            # The patient's record number, under the label the patient's own form gives it.
            Column("record_number", record_number, True, a_patient),
            Column("product", _label(PlacementForm, "product"), True, "a product's name in this clinic's catalogue"),
            Column("placed_on", _label(PlacementForm, "placed_on"), True, "a date"),
            Column("dose_mg", _label(PlacementForm, "dose_mg"), False, "a number of milligrams"),
            Column("lot_number", _label(PlacementForm, "lot_number"), False, "text"),
            Column("notes", _label(PlacementForm, "notes"), False, "text"),
            # Not on the form: a placement recorded on the day has no past. Its visits already over
            # when it is brought in are missed, where the records say so, or else closed as not
            # recorded; nothing is sent about either (patients.services.settle_past_visits).
            Column(
                "past_visits",
                "Past visits",
                False,
                "missed, or unknown (empty is unknown): what became of the visits already over",
            ),
        )
    if kind == "sessions":
        return (
            Column("record_number", record_number, True, a_patient),
            Column("held_on", _label(TherapySessionForm, "held_on"), True, "a date"),
            Column("status", _label(TherapySessionForm, "status"), True, _one_of(TherapySession.Status)),
            Column("note", _label(TherapySessionForm, "note"), False, "text"),
        )
    raise ValueError(f"Unknown kind of import {kind!r}: one of {', '.join(KINDS)}.")


def _label(form: type[forms.ModelForm], name: str) -> str:
    return str(form.base_fields[name].label)


def _one_of(choices: type[models.TextChoices]) -> str:
    return "one of " + ", ".join(repr(str(choice.label)) for choice in choices)


def heading_key(heading: str) -> str:
    """A heading as matching reads it: no required mark, and case, spacing, "_" and "-" ignored."""
    return folded(REQUIRED_MARK.sub("", heading))


def match_columns(headers: Sequence[str], kind: str) -> Matched:
    """Which cell of each row fills which column, or ``FileRefused`` naming every required column
    the file lacks (by label) and showing the headings it has."""
    columns = columns_of(kind)
    by_key: dict[str, Column] = {}
    for column in columns:
        by_key[heading_key(column.name)] = column
        by_key[heading_key(column.label)] = column
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, heading in enumerate(headers):
        match = by_key.get(heading_key(heading)) if heading.strip() else None
        if match is None:
            if heading.strip():
                ignored.append(heading)
            continue
        if match.name in found:
            raise FileRefused(
                f"Two columns are both {match.label!r}: {headers[found[match.name]]!r} and {heading!r}. "
                "Rename or delete one of them."
            )
        found[match.name] = index
    missing = [column.label for column in columns if column.required and column.name not in found]
    if missing:
        has = ", ".join(repr(heading) for heading in headers if heading.strip()) or "none"
        raise FileRefused(
            f"This file has no column for {_and(missing)}: every {_singular(kind)} needs "
            f"{'it' if len(missing) == 1 else 'them'}. The file's column headings are: {has}. Name the "
            "columns as the template does."
        )
    return Matched(
        fields={column.name: found[column.name] for column in columns if column.name in found},
        ignored=tuple(ignored),
    )


def _and(labels: Sequence[str]) -> str:
    quoted = [repr(label) for label in labels]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _singular(kind: str) -> str:
    return {"patients": "patient", "placements": "placement", "sessions": "session"}[kind]


def template_csv(kind: str) -> str:
    """A blank CSV for this kind: the labels as its header row, nothing under them."""
    out = io.StringIO()
    csv.writer(out).writerow([column.label for column in columns_of(kind)])
    return out.getvalue()


def template_xlsx(kind: str) -> bytes:
    """A blank workbook for this kind: its first sheet the header row of labels, its second sheet,
    "Columns", what each column is for."""
    columns = columns_of(kind)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = kind.capitalize()
    sheet.append([column.label for column in columns])
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = Font(bold=True)
        sheet.column_dimensions[letter].width = max(14, len(column.label) + 4)
        if column.name in TEXT_COLUMNS:
            sheet.column_dimensions[letter].number_format = "@"
    # The headings stay in sight while a long list is typed under them.
    sheet.freeze_panes = "A2"
    guide = workbook.create_sheet("Columns")
    guide.append(["Column", "Field name", "Required", "What to write"])
    for column in columns:
        guide.append([column.label, column.name, "yes" if column.required else "no", column.accepted])
    for letter, width in zip("ABCD", (28, 20, 10, 60), strict=True):
        guide[f"{letter}1"].font = Font(bold=True)
        guide.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
