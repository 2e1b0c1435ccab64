"""The columns of each kind of import, how a file's headings find them, and the templates; no database."""

import csv
import io

import openpyxl
import pytest

from patients.forms.patients import PatientForm
from patients.forms.placements import PlacementForm
from patients.forms.therapy import TherapySessionForm
from patients.imports.columns import (
    KINDS,
    Matched,
    columns_of,
    heading_key,
    match_columns,
    template_csv,
    template_xlsx,
)
from patients.imports.files import FileRefused, read_table


def refusal(headers: list[str], kind: str) -> str:
    with pytest.raises(FileRefused) as refused:
        match_columns(headers, kind)
    return refused.value.message


def test_it_knows_three_kinds():
    assert KINDS == ("patients", "placements", "sessions")


def test_its_patient_columns():
    assert [(column.name, column.label, column.required) for column in columns_of("patients")] == [
        ("record_number", "Record number", True),
        ("first_name", "First name", True),
        ("last_name", "Last name", True),
        ("date_of_birth", "Date of birth", True),
        ("email", "Email", False),
        ("phone", "Phone", False),
        ("email_consent", "Email consent", False),
        ("email_consent_at", "Email consent given on", False),
        ("treats", "Treats", False),
    ]


def test_its_placement_columns():
    assert [(column.name, column.label, column.required) for column in columns_of("placements")] == [
        ("record_number", "Record number", True),
        ("product", "Product", True),
        ("placed_on", "Placed on", True),
        ("dose_mg", "Dose (mg)", False),
        ("lot_number", "Lot number", False),
        ("notes", "Notes", False),
        ("past_visits", "Past visits", False),
    ]


def test_its_session_columns():
    assert [(column.name, column.label, column.required) for column in columns_of("sessions")] == [
        ("record_number", "Record number", True),
        ("held_on", "Held on", True),
        ("status", "Status", True),
        ("note", "Note", False),
    ]


@pytest.mark.parametrize(
    ("kind", "form"), [("patients", PatientForm), ("placements", PlacementForm), ("sessions", TherapySessionForm)]
)
def test_its_labels_are_the_forms_own(kind, form):
    for column in columns_of(kind):
        if column.name in form.base_fields:
            assert column.label == form.base_fields[column.name].label
        elif column.name == "record_number":
            assert column.label == PatientForm.base_fields["record_number"].label
        else:
            assert column.name in ("email_consent_at", "past_visits")


def test_it_says_what_each_column_accepts_in_words():
    accepted = {column.name: column.accepted for column in columns_of("patients")}
    assert accepted["date_of_birth"] == "a date"
    assert accepted["email_consent"] == "yes or no (empty is no)"
    assert accepted["treats"] == "one of 'Opioids', 'Alcohol', 'Opioids and alcohol'"
    assert {column.name: column.accepted for column in columns_of("placements")}["product"] == (
        "a product's name in this clinic's catalogue"
    )
    assert {column.name: column.accepted for column in columns_of("sessions")}["status"] == (
        "one of 'Attended', 'Missed', 'Excused', 'Cancelled by clinic'"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_no_two_columns_of_a_kind_answer_to_the_same_heading(kind):
    keys = [key for column in columns_of(kind) for key in {heading_key(column.name), heading_key(column.label)}]

    assert len(keys) == len(set(keys))


def test_it_refuses_a_kind_it_does_not_know():
    with pytest.raises(ValueError, match="Unknown kind of import 'visits'"):
        columns_of("visits")


# Matching headings


def test_it_matches_headings_by_label():
    matched = match_columns(["Record number", "First name", "Last name", "Date of birth"], "patients")

    assert matched == Matched(
        fields={"record_number": 0, "first_name": 1, "last_name": 2, "date_of_birth": 3}, ignored=()
    )


def test_it_matches_headings_by_field_name():
    matched = match_columns(["held_on", "record_number", "status", "note"], "sessions")

    assert matched.fields == {"record_number": 1, "held_on": 0, "status": 2, "note": 3}


@pytest.mark.parametrize(
    ("heading", "name"),
    [
        ("RECORD NUMBER", "record_number"),
        ("  record   number ", "record_number"),
        ("Record-Number", "record_number"),
        ("RecordNumber", "record_number"),
        ("Record number *", "record_number"),
        ("Record number*", "record_number"),
        ("Record number (required)", "record_number"),
        ("record_number (Required)", "record_number"),
        ("date-of-birth", "date_of_birth"),
        ("DATE_OF_BIRTH", "date_of_birth"),
        ("Email consent given on", "email_consent_at"),
        ("EMAIL_CONSENT_AT", "email_consent_at"),
        ("E-mail", "email"),
    ],
)
def test_it_matches_headings_whatever_their_case_spacing_underscores_hyphens_or_required_mark(heading, name):
    headers = ["Record number", "First name", "Last name", "Date of birth"]
    headers = [each for each in headers if heading_key(each) != heading_key(heading)] + [heading]

    matched = match_columns(headers, "patients")

    assert matched.fields[name] == len(headers) - 1


def test_it_matches_the_placement_dose_by_label_and_by_name():
    required = ["Record number", "Product", "Placed on"]

    assert match_columns([*required, "dose (MG)"], "placements").fields["dose_mg"] == 3
    assert match_columns([*required, "Dose mg"], "placements").fields["dose_mg"] == 3


def test_it_lists_headings_that_match_no_column_as_ignored():
    matched = match_columns(["Record number", "Held on", "Counsellor", "Status", "Room"], "sessions")

    assert matched.fields == {"record_number": 0, "held_on": 1, "status": 3}
    assert matched.ignored == ("Counsellor", "Room")


def test_it_names_every_missing_required_column_by_label_and_shows_the_files_headings():
    message = refusal(["record_number", "Name", "DOB", "Email"], "patients")

    assert message == (
        "This file has no column for 'First name', 'Last name' and 'Date of birth': every patient needs them. "
        "The file's column headings are: 'record_number', 'Name', 'DOB', 'Email'. Name the columns as the "
        "template does."
    )


def test_it_names_a_single_missing_column():
    message = refusal(["Record number", "Held on", "Note"], "sessions")

    assert message.startswith("This file has no column for 'Status': every session needs it.")


def test_it_refuses_two_headings_for_the_same_column():
    message = refusal(["Record number", "Product", "Placed on", "Notes", "notes *"], "placements")

    assert message == "Two columns are both 'Notes': 'Notes' and 'notes *'. Rename or delete one of them."


def test_it_refuses_a_column_named_once_by_label_and_once_by_name():
    message = refusal(["Record number", "Held on", "status", "held_on"], "sessions")

    assert message.startswith("Two columns are both 'Held on': 'Held on' and 'held_on'.")


# Templates


@pytest.mark.parametrize("kind", KINDS)
def test_its_csv_template_is_the_header_row_of_labels(kind):
    rows = list(csv.reader(io.StringIO(template_csv(kind))))

    assert rows == [[column.label for column in columns_of(kind)]]


@pytest.mark.parametrize("kind", KINDS)
def test_its_csv_template_filled_in_matches_back_to_every_column(kind):
    columns = columns_of(kind)
    filled = template_csv(kind) + ",".join("x" for _ in columns) + "\r\n"

    table = read_table(filled.encode(), filename=f"{kind}.csv")
    matched = match_columns(table.headers, kind)

    assert matched == Matched(fields={column.name: index for index, column in enumerate(columns)}, ignored=())


@pytest.mark.parametrize("kind", KINDS)
def test_its_excel_template_filled_in_matches_back_to_every_column(kind):
    columns = columns_of(kind)
    book = openpyxl.load_workbook(io.BytesIO(template_xlsx(kind)))
    book.worksheets[0].append(["x"] * len(columns))
    out = io.BytesIO()
    book.save(out)

    table = read_table(out.getvalue(), filename=f"{kind}.xlsx")
    matched = match_columns(table.headers, kind)

    assert table.headers == tuple(column.label for column in columns)
    assert matched == Matched(fields={column.name: index for index, column in enumerate(columns)}, ignored=())


def test_its_excel_template_explains_each_column_on_a_second_sheet():
    book = openpyxl.load_workbook(io.BytesIO(template_xlsx("sessions")))

    assert book.sheetnames == ["Sessions", "Columns"]
    assert [list(row) for row in book["Columns"].iter_rows(values_only=True)] == [
        ["Column", "Field name", "Required", "What to write"],
        ["Record number", "record_number", "yes", "the record number of a patient of this clinic"],
        ["Held on", "held_on", "yes", "a date"],
        ["Status", "status", "yes", "one of 'Attended', 'Missed', 'Excused', 'Cancelled by clinic'"],
        ["Note", "note", "no", "text"],
    ]


def test_its_excel_template_keeps_record_numbers_and_phones_as_typed():
    sheet = openpyxl.load_workbook(io.BytesIO(template_xlsx("patients"))).worksheets[0]
    letters = {cell.value: cell.column_letter for cell in sheet[1]}

    # As text, 00123 keeps its zeros where a General cell would make it the number 123.
    assert sheet.column_dimensions[letters["Record number"]].number_format == "@"
    assert sheet.column_dimensions[letters["Phone"]].number_format == "@"
    assert sheet.column_dimensions[letters["Date of birth"]].number_format == "General"
    assert sheet.freeze_panes == "A2"
