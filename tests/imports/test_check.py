"""The preview says what the import does: a check reads the records once and saves nothing, the
import writes every row through the services, and for the same file each row comes out the same,
refusals and all, in the same words."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients import services
from patients.clinic_time import clinic_midnight, clinic_today
from patients.imports.files import read_table
from patients.imports.rows import Outcome
from patients.imports.run import import_table
from patients.models import ImportRun, Patient, Placement, Reminder, TherapySession, Visit
from tests.factories import PatientFactory, ProductFactory

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture(autouse=True)
def frozen_today(time_machine):
    time_machine.move_to("2026-06-15 12:00Z", tick=False)


@pytest.fixture
def records(clinic, implant, manager):
    """A clinic already keeping records: the file's rows meet them."""
    clinic.first_year = 2020
    clinic.save()
    ProductFactory(clinic=clinic, name="Withdrawn implant", is_active=False)
    ProductFactory(clinic=clinic, name="Monthly injection", formulation="injection", coverage_length=1)
    kept = PatientFactory(clinic=clinic, record_number="K-1", first_name="Kit", last_name="Hale", phone="0700 1")
    PatientFactory(clinic=clinic, record_number="K-2", first_name="Lou", last_name="Hale", email_consent=False)
    left = PatientFactory(clinic=clinic, record_number="K-3", first_name="Max", last_name="Hale")
    services.discharge_patient(patient=left, discharged_on=D(2026, 1, 10), by=manager)
    earlier = ImportRun.objects.create(clinic=clinic, kind="placements", filename="earlier.csv")
    services.record_placement(patient=kept, product=implant, placed_on=D(2026, 3, 1), imported_in=earlier, by=manager)
    for held_on, status in ((D(2026, 5, 4), "attended"), (D(2026, 5, 4), "missed"), (D(2026, 5, 11), "attended")):
        services.log_therapy_session(patient=kept, held_on=held_on, status=status, by=manager)
    return clinic


PATIENTS = (
    "record_number,first_name,last_name,date_of_birth,email,phone,email_consent,email_consent_at\n"
    "N-1,Ada,Porter,1980-01-15,ada@example.org,0700 000 001,yes,2024-03-01\n"
    "N-2,Ben,Porter,1981-02-31,,,no,\n"  # no 31 February
    "N-3,Cy,Porter,2031-03-15,,,no,\n"  # born in the future
    "N-4,,Porter,1982-03-15,,,maybe,\n"  # no first name; consent neither yes nor no
    "N-5,Di,Porter,1983-04-15,,,yes,\n"  # consent without an address
    "N-6,Ed,Porter,1984-05-15,not-an-address,,no,\n"
    "N-7,Flo,Porter,1899-12-31,,,no,\n"  # born before 1900
    "N-8,Gus,Porter,1985-06-15,gus@example.org,,yes,2027-01-01\n"  # consent dated in the future
    "N-9,Hal,Porter,1986-07-15,,,no,2024-01-01\n"  # a day of consent without consent
    f"N-10,{'L' * 101},Porter,1987-08-15,,,no,\n"  # longer than a name may be
    "N-12,Jo,Porter,1989-10-15,,,no,\n"
    "N-12,Jo,Porter,1989-10-15,,,no,\n"  # the same record number twice
    "K-1,Kit,Hale,1985-06-15,mrn-k-1@patients.example,0700 2,yes,\n"  # a new phone
    "K-2,Lou,Hale,1985-06-15,k-2@patients.example,,yes,2025-01-01\n"  # consent given on paper
    "K-3,Max,Hale,1985-06-15,,0700 3,no,\n"  # discharged: details updated all the same
)


def placements(implant) -> str:
    return (
        "record_number,product,placed_on,dose_mg,past_visits\n"
        f"N-1,{implant.name},2026-02-01,,missed\n"
        f"N-1,{implant.name},2026-05-01,1000,\n"
        f"N-1,Monthly injection,2026-05-01,,\n"  # another product the same day
        f"N-1,{implant.name},2026-05-01,,\n"  # the same placement twice
        f"N-2,{implant.name},2026-06-01,,unknown\n"
        f"N-2,{implant.name},2026-06-15,,\n"  # today
        "N-2,Old implant,2026-01-01,,\n"  # not in the catalogue
        "N-2,Withdrawn implant,2026-01-02,,\n"  # no longer in use
        f"N-2,{implant.name},2026-07-01,,\n"  # in the future
        f"N-2,{implant.name},2019-12-31,,\n"  # before the clinic's first year
        f"N-2,{implant.name},2026-01-03,-5,\n"  # a dose below nothing
        f"N-2,{implant.name},2026-01-04,,seen\n"
        f"N-9,{implant.name},2026-01-05,,\n"  # no such patient
        f"K-1,{implant.name},2026-02-01,,\n"  # before the placement the clinic already has
        f"K-1,{implant.name},2026-03-01,,\n"  # the one it has
        f"K-1,{implant.name},2026-06-10,,\n"  # a renewal
        f"K-3,{implant.name},2026-04-01,,\n"  # discharged
        f",{implant.name},,,\n"
    )


SESSIONS = (
    "record_number,held_on,status,note\n"
    "K-1,2026-05-04,attended,\n"  # matches one of the two that day
    "K-1,2026-05-04,attended,\n"  # the attended one is taken: the other was missed
    "K-1,2026-05-11,attended,\n"
    "K-1,2026-05-11,attended,\n"  # a second that day: logged
    "K-1,2026-05-18,missed,\n"
    "K-1,2026-07-01,attended,\n"  # in the future
    "K-1,2026-05-25,sleeping,\n"
    "N-1,2026-05-25,attended,\n"
    "K-9,2026-05-25,attended,\n"
    "K-2,2026-05-25,Cancelled by clinic,\n"
)


def both_ways(clinic, kind: str, text: str, by) -> tuple[list, list]:
    """The file checked, then imported (and, with a refusal, rolled back): what each row became."""
    found = []
    for dry_run in (True, False):
        run = ImportRun(clinic=clinic, kind=kind, filename=f"{kind}.csv", started_by=by)
        result = import_table(read_table(text.encode(), filename=f"{kind}.csv"), run=run, dry_run=dry_run)
        found.append([(row.number, row.outcome, row.words, row.problems) for row in result.rows])
    return found[0], found[1]


def test_a_patients_file_previews_as_it_imports(records, manager):
    checked, imported = both_ways(records, "patients", PATIENTS, manager)
    assert checked == imported
    outcomes = {number: outcome for number, outcome, _, _ in checked}
    assert [number for number, outcome in outcomes.items() if outcome == Outcome.REFUSED] == list(range(3, 14))
    assert outcomes[2] == Outcome.NEW_PATIENT
    assert outcomes[14] == outcomes[15] == outcomes[16] == Outcome.UPDATED


def test_a_placements_file_previews_as_it_imports(records, implant, manager):
    for record_number, first_name in (("N-1", "Ada"), ("N-2", "Ben")):
        PatientFactory(clinic=records, record_number=record_number, first_name=first_name, last_name="Porter")
    before = Placement.objects.count(), Visit.objects.count(), Reminder.objects.count()
    checked, imported = both_ways(records, "placements", placements(implant), manager)
    assert checked == imported
    assert (Placement.objects.count(), Visit.objects.count(), Reminder.objects.count()) == before
    outcomes = [outcome for _, outcome, _, _ in checked]
    assert outcomes.count(Outcome.PLACEMENT) == 5
    assert outcomes.count(Outcome.UNCHANGED) == 2
    assert outcomes.count(Outcome.REFUSED) == 11


def test_a_sessions_file_previews_as_it_imports(records, manager):
    checked, imported = both_ways(records, "sessions", SESSIONS, manager)
    assert checked == imported
    assert [outcome for _, outcome, _, _ in checked] == [
        Outcome.UNCHANGED,
        Outcome.REFUSED,
        Outcome.UNCHANGED,
        Outcome.SESSION,
        Outcome.SESSION,
        Outcome.REFUSED,
        Outcome.REFUSED,
        Outcome.REFUSED,
        Outcome.REFUSED,
        Outcome.SESSION,
    ]
    assert TherapySession.objects.count() == 3


def test_the_clean_files_preview_as_they_import_and_save(records, implant, manager):
    """Without refusals the import saves; the preview had said so, row for row."""
    good_patients = "\n".join(line for n, line in enumerate(PATIENTS.splitlines()) if n in (0, 1, 13, 14, 15)) + "\n"
    checked, imported = both_ways(records, "patients", good_patients, manager)
    assert checked == imported
    assert Patient.objects.filter(record_number="N-1").exists()
    good_placements = "\n".join(line for n, line in enumerate(placements(implant).splitlines()) if n in (0, 1, 2, 16))
    checked, imported = both_ways(records, "placements", good_placements + "\n", manager)
    assert checked == imported
    assert Placement.objects.filter(patient__record_number="N-1").count() == 2
    assert not any(outcome == Outcome.REFUSED for _, outcome, _, _ in checked)


def test_a_check_reads_the_records_once_whatever_the_files_length(records, implant, manager):
    """Thousands of rows are checked in seconds: the queries do not grow with the rows."""
    people = "".join(f"P-{n},Name{n},Family,1980-01-15,p{n}@example.org,,yes,\n" for n in range(60))
    header = PATIENTS.splitlines()[0] + "\n"
    services_run = ImportRun(clinic=records, kind="patients", filename="people.csv", started_by=manager)
    import_table(read_table((header + people).encode(), filename="people.csv"), run=services_run)
    doses = "record_number,product,placed_on\n" + "".join(
        f"P-{n},{implant.name},{D(2026, 1, 1) + datetime.timedelta(days=n)}\n" for n in range(60)
    )
    for kind, text in (("patients", header + people), ("placements", doses), ("sessions", SESSIONS)):
        queries = []
        for size in (5, 60):
            lines = text.splitlines()
            run = ImportRun(clinic=records, kind=kind, filename=f"{kind}.csv", started_by=manager)
            table = read_table(("\n".join(lines[: size + 1]) + "\n").encode(), filename=f"{kind}.csv")
            with CaptureQueriesContext(connection) as captured:
                import_table(table, run=run, dry_run=True)
            queries.append(len(captured))
        assert queries[0] == queries[1], kind


def test_a_visit_is_over_in_memory_as_the_database_says(records, implant, manager):
    kept = Patient.objects.get(record_number="K-1")
    today = clinic_today(records)
    day_starts_at = clinic_midnight(today, records)
    visits = list(Visit.objects.filter(patient=kept))
    visits[0].appointment_at = day_starts_at + datetime.timedelta(hours=3)
    visits[0].save()
    over = set(Visit.objects.overdue(today, day_starts_at=day_starts_at).values_list("pk", flat=True))
    assert over
    in_memory = Visit.objects.filter(patient=kept)
    assert {visit.pk for visit in in_memory if visit.is_over(today, day_starts_at=day_starts_at)} == over
