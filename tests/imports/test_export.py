"""A clinic's records written out in the import's columns: read back, they are the same records."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest

from patients import services
from patients.imports.columns import KINDS, template_csv
from patients.imports.export import export_csv, export_rows, export_xlsx
from patients.imports.files import read_table
from patients.imports.rows import Outcome
from patients.imports.run import import_table
from patients.models import ImportRun, Patient, Placement, Reminder, TherapySession, Visit
from tests.factories import INDUCTION, PatientFactory, ProductFactory, TherapyGroupFactory

pytestmark = pytest.mark.django_db

D = datetime.date

PATIENTS = (
    "Record number,First name,Last name,Date of birth,Email,Phone,Email consent,Email consent given on,Treats\n"
    "R001,Zoë,Ashworth,1980-01-15,zoe@example.org,+44 20 7946 0000,yes,2024-03-01,Opioids and alcohol\n"
    'R002,Ben,"O\'Neill, Jr",1981-02-15,,0700 000 002,no,,alcohol\n'
    "R003,Cy,Lee,1982-03-15,cy@example.org,,yes,,\n"
)
SESSIONS = (
    "Record number,Held on,Status,Note\n"
    "R001,2026-06-01,attended,\n"
    "R001,2026-06-08,Cancelled by clinic,Counsellor off sick\n"
    'R002,2026-05-25,missed,"Phoned, no answer"\n'
)


def placements(product_name: str) -> str:
    return (
        "Record number,Product,Placed on,Dose (mg),Lot number,Notes\n"
        f"R001,{product_name},2026-04-05,380.5,00124,\n"
        f'R001,{product_name},2026-01-10,1000,00123,"Left side, no problems"\n'
        f'R002,{product_name},2026-05-20,,,"Lot not recorded.\nPlaced by a locum."\n'
    )


@pytest.fixture(autouse=True)
def frozen_today(time_machine):
    time_machine.move_to("2026-06-15 12:00Z", tick=False)


def bring_in(clinic, kind: str, data: bytes, *, filename: str = "") -> list[str]:
    """What each row of the file became, once the whole file is saved."""
    filename = filename or f"{kind}.csv"
    run = ImportRun(clinic=clinic, kind=kind, filename=filename, date_order="iso", started_by=None)
    result = import_table(read_table(data, filename=filename), run=run)
    assert result.saved, result.refused
    return [row.outcome for row in result.rows]


def csv_bytes(kind: str, clinic) -> bytes:
    return "".join(export_csv(kind, clinic)).encode("utf-8")


def read_back(data: bytes, *, filename: str) -> list[tuple[str, ...]]:
    table = read_table(data, filename=filename)
    return [table.headers, *(row.cells for row in table.rows)]


def exported(kind: str, clinic) -> list[tuple[str, ...]]:
    header, rows = export_rows(kind, clinic)
    return [header, *rows]


def counts(clinic) -> tuple[int, int, int, int, int]:
    return (
        Patient.objects.filter(clinic=clinic).count(),
        Placement.objects.filter(patient__clinic=clinic).count(),
        Visit.objects.filter(patient__clinic=clinic).count(),
        TherapySession.objects.filter(patient__clinic=clinic).count(),
        Reminder.objects.filter(patient__clinic=clinic).count(),
    )


def test_it_exports_what_the_import_brought_in_and_the_export_imports_again_unchanged(clinic, implant, other_clinic):
    bring_in(clinic, "patients", PATIENTS.encode())
    bring_in(clinic, "placements", placements(implant.name).encode())
    bring_in(clinic, "sessions", SESSIONS.encode())

    assert exported("patients", clinic)[1:] == [
        (
            "R001",
            "Zoë",
            "Ashworth",
            "1980-01-15",
            "zoe@example.org",
            "+44 20 7946 0000",
            "yes",
            "2024-03-01",
            "Opioids and alcohol",
        ),
        ("R002", "Ben", "O'Neill, Jr", "1981-02-15", "", "0700 000 002", "no", "", "Alcohol"),
        # Consent given with no day was stamped the day it came in.
        ("R003", "Cy", "Lee", "1982-03-15", "cy@example.org", "", "yes", "2026-06-15", "Opioids"),
    ]
    assert exported("placements", clinic)[1:] == [
        ("R001", implant.name, "2026-01-10", "1000", "00123", "Left side, no problems", ""),
        ("R001", implant.name, "2026-04-05", "380.5", "00124", "", ""),
        ("R002", implant.name, "2026-05-20", "", "", "Lot not recorded.\nPlaced by a locum.", ""),
    ]
    assert exported("sessions", clinic)[1:] == [
        ("R001", "2026-06-01", "Attended", ""),
        ("R001", "2026-06-08", "Cancelled by clinic", "Counsellor off sick"),
        ("R002", "2026-05-25", "Missed", "Phoned, no answer"),
    ]

    files = {kind: csv_bytes(kind, clinic) for kind in KINDS}
    for kind, data in files.items():
        assert read_back(data, filename=f"{kind}.csv") == exported(kind, clinic)
    before = counts(clinic)
    for kind, data in files.items():
        assert set(bring_in(clinic, kind, data)) == {Outcome.UNCHANGED}
    assert counts(clinic) == before

    ProductFactory(clinic=other_clinic, name=implant.name, coverage_length=3)
    for kind, data in files.items():
        bring_in(other_clinic, kind, data)
    assert counts(other_clinic) == before
    for kind in KINDS:
        assert exported(kind, other_clinic) == exported(kind, clinic)


def test_it_exports_records_made_on_the_pages_so_that_they_import_back_unchanged(clinic, implant, time_machine):
    # Half past midnight in London, still the 14th in UTC: consent is dated by the clinic's calendar.
    time_machine.move_to("2026-06-14 23:30Z", tick=False)
    zoe = services.register_patient(
        clinic=clinic,
        record_number="S-1",
        first_name="Zoë",
        last_name="Ashworth",
        date_of_birth=D(1980, 1, 15),
        email="zoe@example.org",
        phone="+44 20 7946 0000",
        email_consent=True,
        treats=Patient.Treats.BOTH,
    )
    services.record_placement(
        patient=zoe,
        product=implant,
        placed_on=D(2026, 6, 1),
        dose_mg=Decimal("380.0"),
        lot_number="0042",
        notes="First implant.\nNo bleeding.",
        **INDUCTION,
    )
    services.log_therapy_session(patient=zoe, held_on=D(2026, 6, 10), status=TherapySession.Status.EXCUSED)

    assert exported("patients", clinic)[1] == (
        "S-1",
        "Zoë",
        "Ashworth",
        "1980-01-15",
        "zoe@example.org",
        "+44 20 7946 0000",
        "yes",
        "2026-06-15",
        "Opioids and alcohol",
    )
    assert exported("placements", clinic)[1] == (
        "S-1",
        implant.name,
        "2026-06-01",
        "380",
        "0042",
        "First implant.\nNo bleeding.",
        "",
    )
    assert exported("sessions", clinic)[1] == ("S-1", "2026-06-10", "Excused", "")
    before = counts(clinic)
    for kind in KINDS:
        assert bring_in(clinic, kind, csv_bytes(kind, clinic)) == [Outcome.UNCHANGED]
    assert counts(clinic) == before


def test_it_writes_the_templates_header_first_after_the_byte_order_mark(clinic, patient):
    for kind in KINDS:
        lines = list(export_csv(kind, clinic))
        assert lines[0] == "\ufeff" + template_csv(kind)
    data = csv_bytes("patients", clinic)
    assert data.startswith(b"\xef\xbb\xbf")
    table = read_table(data, filename="patients.csv")
    assert (table.encoding, table.headers[0]) == ("UTF-8", "Record number")


def test_it_exports_only_the_clinics_own_records(clinic, implant, patient, stranger, other_clinic):
    elsewhere = ProductFactory(clinic=other_clinic, name="Elsewhere implant")
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    services.record_placement(patient=stranger, product=elsewhere, placed_on=D(2026, 6, 2), **INDUCTION)
    services.log_therapy_session(patient=patient, held_on=D(2026, 6, 3), status=TherapySession.Status.ATTENDED)
    services.log_therapy_session(patient=stranger, held_on=D(2026, 6, 4), status=TherapySession.Status.ATTENDED)
    for kind in KINDS:
        rows = exported(kind, clinic)[1:]
        assert [row[0] for row in rows] == [patient.record_number]
        assert not any(stranger.record_number in cell or "Elsewhere" in cell for row in rows for cell in row)


def test_it_leaves_group_sessions_to_their_groups(clinic, patient):
    group = TherapyGroupFactory(clinic=clinic)
    services.log_group_attendance(
        group=group, held_on=D(2026, 6, 2), attendance={patient: TherapySession.Status.ATTENDED}
    )
    services.log_therapy_session(patient=patient, held_on=D(2026, 6, 3), status=TherapySession.Status.MISSED)
    assert exported("sessions", clinic)[1:] == [(patient.record_number, "2026-06-03", "Missed", "")]


def test_it_writes_the_same_rows_to_a_workbook_as_to_csv(clinic, implant):
    bring_in(clinic, "patients", PATIENTS.encode())
    bring_in(clinic, "placements", placements(implant.name).encode())
    bring_in(clinic, "sessions", SESSIONS.encode())
    for kind in KINDS:
        workbook = read_back(export_xlsx(kind, clinic), filename=f"{kind}.xlsx")
        assert workbook == read_back(csv_bytes(kind, clinic), filename=f"{kind}.csv") == exported(kind, clinic)
    # Lot numbers keep their leading zeros: every cell is text.
    assert read_back(export_xlsx("placements", clinic), filename="placements.xlsx")[1][4] == "00123"


def test_it_escapes_a_cell_a_spreadsheet_would_run_as_a_formula(clinic, implant):
    patient = PatientFactory(clinic=clinic, record_number="R-1", last_name="=HYPERLINK(0)", phone="+44 20 7946 0000")
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 1), notes="@SUM(1)", **INDUCTION)
    patients_csv = "".join(export_csv("patients", clinic))
    assert ",'=HYPERLINK(0)," in patients_csv
    # A phone number holds nothing to run, and comes back from the import as written.
    assert ",+44 20 7946 0000," in patients_csv
    assert "'@SUM(1)" in "".join(export_csv("placements", clinic))

    # In a workbook the cell is text, never a formula, and needs no escaping.
    sheet = openpyxl.load_workbook(io.BytesIO(export_xlsx("patients", clinic))).active
    name = sheet.cell(row=2, column=3)
    assert (name.value, name.data_type) == ("=HYPERLINK(0)", "s")


def make_records(clinic, product, *, first: int, count: int) -> None:
    for number in range(first, first + count):
        patient = PatientFactory(clinic=clinic, record_number=f"Q{number:03d}")
        services.record_placement(patient=patient, product=product, placed_on=D(2026, 6, 1), **INDUCTION)
        services.log_therapy_session(patient=patient, held_on=D(2026, 6, 2), status=TherapySession.Status.ATTENDED)


@pytest.mark.parametrize("kind", KINDS)
def test_it_reads_each_list_in_one_query_however_long(clinic, implant, kind, django_assert_num_queries):
    make_records(clinic, implant, first=1, count=2)
    with django_assert_num_queries(1):
        assert len(list(export_csv(kind, clinic))) == 3
    make_records(clinic, implant, first=3, count=20)
    with django_assert_num_queries(1):
        assert len(list(export_csv(kind, clinic))) == 23
    with django_assert_num_queries(1):
        export_xlsx(kind, clinic)
