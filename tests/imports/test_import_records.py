"""Bringing a clinic's records in: what each row becomes, all or nothing, and again without change."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from patients import formats, services
from patients.clinic_time import clinic_midnight
from patients.imports.export import export_rows
from patients.imports.files import FileRefused, read_table
from patients.imports.rows import Outcome
from patients.imports.run import import_table
from patients.models import ImportRun, Patient, Placement, Reminder, TherapySession, Visit
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 6, 15)

PATIENTS = (
    "Record number,First name,Last name,Date of birth,Email,Phone,Email consent,email_consent_at\n"
    "IMP-1,Ada,Porter,1980-01-15,ada@example.org,0700 000 001,yes,2024-03-01\n"
    "IMP-2,Ben,Porter,1981-02-15,,0700 000 002,no,\n"
    "IMP-3,Cy,Porter,1982-03-15,cy@example.org,,yes,\n"
)


@pytest.fixture(autouse=True)
def frozen_today(time_machine):
    time_machine.move_to("2026-06-15 12:00Z", tick=False)


def csv(text: str) -> bytes:
    return text.encode("utf-8")


def bring_in(clinic, kind: str, text: str, *, dry_run: bool = False, by=None, date_order: str = "iso"):
    run = ImportRun(clinic=clinic, kind=kind, filename=f"{kind}.csv", date_order=date_order, started_by=by)
    return import_table(read_table(csv(text), filename=f"{kind}.csv"), run=run, dry_run=dry_run)


def placements_of(implant, *rows: tuple[str, D]) -> str:
    return "record_number,product,placed_on\n" + "".join(f"{number},{implant.name},{day}\n" for number, day in rows)


def counts(clinic) -> tuple[int, int, int, int]:
    return (
        Patient.objects.filter(clinic=clinic).count(),
        Placement.objects.filter(patient__clinic=clinic).count(),
        Visit.objects.filter(patient__clinic=clinic).count(),
        Reminder.objects.filter(patient__clinic=clinic).count(),
    )


def test_it_registers_new_patients_with_consent_only_where_the_file_gives_it(clinic):
    result = bring_in(clinic, "patients", PATIENTS)
    assert result.saved
    assert not result.refused
    assert [row.outcome for row in result.rows] == [Outcome.NEW_PATIENT] * 3
    ada, ben, cy = Patient.objects.filter(clinic=clinic).order_by("record_number")
    assert (ada.email_consent, ada.email_consent_at) == (True, clinic_midnight(D(2024, 3, 1), clinic))
    assert (ben.email_consent, ben.email_consent_at) == (False, None)
    # Consent given with no day: recorded from the day it was brought in.
    assert cy.email_consent
    assert cy.email_consent_at == datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC)
    assert ada.phone == "0700 000 001"
    assert ben.email == ""


def test_a_dry_run_says_what_each_row_would_become_and_saves_nothing(clinic):
    result = bring_in(clinic, "patients", PATIENTS, dry_run=True)
    assert not result.saved
    assert [(row.number, row.outcome) for row in result.rows] == [
        (2, Outcome.NEW_PATIENT),
        (3, Outcome.NEW_PATIENT),
        (4, Outcome.NEW_PATIENT),
    ]
    assert counts(clinic) == (0, 0, 0, 0)
    assert not ImportRun.objects.exists()


def test_bringing_the_same_file_in_again_changes_nothing(clinic, implant):
    bring_in(clinic, "patients", PATIENTS)
    text = placements_of(implant, ("IMP-1", D(2026, 5, 26)), ("IMP-2", D(2026, 4, 26)), ("IMP-3", D(2026, 2, 15)))
    bring_in(clinic, "placements", text)
    before = counts(clinic)
    again = bring_in(clinic, "patients", PATIENTS), bring_in(clinic, "placements", text)
    assert [row.outcome for result in again for row in result.rows] == [Outcome.UNCHANGED] * 6
    assert counts(clinic) == before


def test_a_changed_detail_updates_the_patient_and_a_no_never_withdraws_consent(clinic):
    bring_in(clinic, "patients", PATIENTS)
    changed = PATIENTS.replace("0700 000 001,yes,2024-03-01", "0711 111 111,no,")
    result = bring_in(clinic, "patients", changed)
    assert (result.rows[0].outcome, result.rows[0].words) == (Outcome.UPDATED, "Ada Porter: phone updated.")
    ada = Patient.objects.get(record_number="IMP-1")
    assert ada.phone == "0711 111 111"
    assert ada.email_consent


def test_past_placements_are_history_without_the_induction_checklist_and_send_nothing_late(clinic, implant):
    bring_in(clinic, "patients", PATIENTS)
    result = bring_in(
        clinic, "placements", placements_of(implant, ("IMP-1", D(2026, 5, 26)), ("IMP-3", D(2026, 2, 15)))
    )
    assert result.saved, result.refused
    placement = Placement.objects.get(patient__record_number="IMP-1")
    assert placement.imported_in == ImportRun.objects.get(kind="placements")
    assert placement.opioid_free_days is None
    assert result.rows[0].words == (
        f"Ada Porter: {implant.name} on {formats.day(D(2026, 5, 26))}, covers until "
        f"{formats.day(placement.covers_until)}, 3 visits planned."
    )
    # Nothing due before now is left to go out: what was due is expired, as for any placement.
    now = datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC)
    assert not Reminder.objects.filter(status=Reminder.Status.PENDING, send_at__lt=now).exists()
    assert Reminder.objects.filter(patient__record_number="IMP-3", status=Reminder.Status.EXPIRED).exists()


def test_a_patients_placements_are_written_oldest_first_whatever_the_files_order(clinic, implant):
    bring_in(clinic, "patients", PATIENTS)
    result = bring_in(
        clinic, "placements", placements_of(implant, ("IMP-1", D(2026, 5, 26)), ("IMP-1", D(2026, 2, 20)))
    )
    assert result.saved, result.refused
    assert [row.number for row in result.rows] == [2, 3]
    assert list(Placement.objects.filter(patient__record_number="IMP-1").values_list("placed_on", flat=True)) == [
        D(2026, 5, 26),
        D(2026, 2, 20),
    ]


def test_one_refused_row_refuses_the_whole_file_and_every_refusal_is_reported(clinic, implant):
    bring_in(clinic, "patients", PATIENTS)
    bring_in(clinic, "placements", placements_of(implant, ("IMP-2", D(2026, 5, 1))))
    before = counts(clinic)
    text = (
        "record_number,product,placed_on\n"
        f"IMP-1,{implant.name},2026-05-26\n"
        "IMP-9,No Such Product,2020-13-45\n"
        f"IMP-3,{implant.name},2026-07-01\n"
        f"IMP-2,{implant.name},2026-04-01\n"
    )
    result = bring_in(clinic, "placements", text)
    assert not result.saved
    assert counts(clinic) == before
    refused = {row.number: row for row in result.refused}
    assert sorted(refused) == [3, 4, 5]
    columns = {problem.column for problem in refused[3].problems}
    assert columns == {"Record number", "Product", "Placed on"}
    assert "No patient of Riverside Clinic has record number IMP-9" in refused[3].words
    assert "cannot be dated in the future" in refused[4].words
    assert f"The previous placement was on {formats.day(D(2026, 5, 1))}" in refused[5].words
    # The row that was fine says what it would have become.
    assert result.rows[0].outcome == Outcome.PLACEMENT


def test_two_rows_with_one_record_number_are_both_refused(clinic):
    text = PATIENTS + "IMP-1,Ada,Portman,1980-01-15,,,no,\n"
    result = bring_in(clinic, "patients", text)
    assert [row.number for row in result.refused] == [2, 5]
    assert result.refused[0].words == "Record number: Record number IMP-1 is also on row 5: keep one row per patient."
    assert counts(clinic) == (0, 0, 0, 0)


def test_sessions_are_logged_once(clinic):
    bring_in(clinic, "patients", PATIENTS)
    text = "Record number,Held on,Status\nIMP-1,2026-06-01,attended\nIMP-1,2026-06-08,Missed\n"
    first = bring_in(clinic, "sessions", text)
    assert [row.outcome for row in first.rows] == [Outcome.SESSION, Outcome.SESSION]
    again = bring_in(clinic, "sessions", text)
    assert [row.outcome for row in again.rows] == [Outcome.UNCHANGED, Outcome.UNCHANGED]
    assert list(TherapySession.objects.order_by("held_on").values_list("status", flat=True)) == ["attended", "missed"]
    changed = bring_in(clinic, "sessions", text.replace("Missed", "attended"))
    assert changed.refused[0].words == "Status: A session that day is already logged as missed."


def test_a_file_without_a_required_column_is_refused_before_any_row(clinic):
    with pytest.raises(FileRefused):
        bring_in(clinic, "placements", "record_number,placed_on\nIMP-1,2026-05-26\n")


def test_only_a_manager_brings_records_in(clinic, coordinator, manager):
    with pytest.raises(PermissionDenied):
        bring_in(clinic, "patients", PATIENTS, by=coordinator)
    result = bring_in(clinic, "patients", PATIENTS, by=manager)
    assert result.saved
    assert ImportRun.objects.get().started_by == manager


def test_the_command_shows_its_progress_through_a_long_file(clinic, tmp_path, capsys):
    from patients.management.commands.import_records import QUIET_ROWS

    count = QUIET_ROWS * 2 + 50
    people = tmp_path / "people.csv"
    people.write_text(
        "record_number,first_name,last_name,date_of_birth\n"
        + "".join(f"L-{n},Name{n},Long,1980-01-15\n" for n in range(count))
    )
    for dry_run in (True, False):
        call_command("import_records", str(people), clinic=clinic.name, kind="patients", dry_run=dry_run)
        lines = capsys.readouterr().out.splitlines()
        steps = [f"Rows: {done:,}/{count:,}" for done in (QUIET_ROWS, QUIET_ROWS * 2, count)]
        assert [line for line in lines if line.startswith("Rows: ")] == steps
    assert counts(clinic)[0] == count


def test_the_command_refuses_a_bad_file_and_saves_nothing(clinic, implant, tmp_path, capsys):
    patients = tmp_path / "patients.csv"
    patients.write_bytes(b"\xef\xbb\xbf" + csv(PATIENTS))
    call_command("import_records", str(patients), clinic=clinic.name, kind="patients", dry_run=True)
    assert "Dry run: nothing was saved." in capsys.readouterr().out
    assert counts(clinic) == (0, 0, 0, 0)
    call_command("import_records", str(patients), clinic=clinic.name, kind="patients")
    assert "new patient: 3" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(placements_of(implant, ("IMP-1", D(2026, 5, 26))) + "IMP-9,No Such Product,2020-13-45\n")
    with pytest.raises(CommandError, match="1 of 2 rows refused; nothing was saved"):
        call_command("import_records", str(bad), clinic=clinic.name, kind="placements")
    assert "Row 3: " in capsys.readouterr().out
    assert counts(clinic)[1] == 0
    with pytest.raises(CommandError, match="No clinic is called 'Nowhere'"):
        call_command("import_records", str(bad), clinic="Nowhere", kind="placements")


def test_two_sessions_of_one_day_are_two_rows_each_matched_once(clinic):
    bring_in(clinic, "patients", PATIENTS)
    text = "record_number,held_on,status\nIMP-1,2026-06-03,attended\nIMP-1,2026-06-03,Cancelled by clinic\n"
    assert [row.outcome for row in bring_in(clinic, "sessions", text).rows] == [Outcome.SESSION, Outcome.SESSION]
    assert [row.outcome for row in bring_in(clinic, "sessions", text).rows] == [Outcome.UNCHANGED] * 2
    assert TherapySession.objects.filter(held_on=D(2026, 6, 3)).count() == 2


def test_a_cell_the_export_marked_as_text_reads_as_it_was(clinic):
    text = PATIENTS.replace("IMP-2,Ben,Porter", "IMP-2,Ben,'-Porter").replace("0700 000 002", "'=1+1")
    bring_in(clinic, "patients", text)
    ben = Patient.objects.get(record_number="IMP-2")
    assert (ben.last_name, ben.phone) == ("-Porter", "=1+1")


def test_visits_over_before_the_import_are_missed_or_not_recorded_as_the_file_says_and_nothing_is_sent(
    clinic, implant
):
    bring_in(clinic, "patients", PATIENTS)
    text = (
        "record_number,product,placed_on,past_visits\n"
        f"IMP-1,{implant.name},2026-02-01,missed\n"
        f"IMP-2,{implant.name},2026-02-01,\n"
        f"IMP-3,{implant.name},2026-02-01,Unknown\n"
    )
    result = bring_in(clinic, "placements", text)
    assert result.saved, result.refused
    # Placed 1 February: visits due 1 March and 1 April are over on 15 June, the renewal of 1 May too.
    assert result.rows[0].words.endswith("3 visits planned (3 already over: missed).")
    assert result.rows[1].words.endswith("3 visits planned (3 already over: not recorded).")
    missed = Visit.objects.filter(patient__record_number="IMP-1")
    assert set(missed.values_list("status", flat=True)) == {Visit.Status.MISSED}
    unknown = Visit.objects.filter(patient__record_number__in=["IMP-2", "IMP-3"])
    assert set(unknown.values_list("status", "cancel_reason")) == {
        (Visit.Status.CANCELLED, Visit.CancelReason.NOT_RECORDED)
    }
    # Nothing about them goes out: the "we missed you" rows are history, written expired.
    assert not Reminder.objects.filter(status=Reminder.Status.PENDING).exists()
    assert Reminder.objects.filter(kind="missed_visit", status=Reminder.Status.EXPIRED).count() == 3
    # The missed-visit sweep finds nothing left to mark or to send.
    assert services.mark_missed_visits(today=TODAY) == 0
    assert not Reminder.objects.filter(status=Reminder.Status.PENDING).exists()
    # Taken out again, each placement says what became of its past visits.
    _header, rows = export_rows("placements", clinic)
    assert [row[-1] for row in rows] == ["missed", "", ""]


def test_past_visits_takes_missed_or_unknown_only(clinic, implant):
    bring_in(clinic, "patients", PATIENTS)
    result = bring_in(
        clinic, "placements", f"record_number,product,placed_on,past_visits\nIMP-1,{implant.name},2026-02-01,seen\n"
    )
    assert result.refused[0].words == "Past visits: “seen” is not missed or unknown."


def test_a_clinics_spreadsheet_with_every_kind_of_refusal_is_refused_whole_then_comes_in_once(clinic, implant):
    """Day-first dates, saved by Excel on Windows (Windows-1252): every refusal at once, keyed to
    its row and column; corrected, it comes in; again, it changes nothing."""
    ProductFactory(clinic=clinic, name="Monthly injection", formulation="injection")
    people = (
        "Record number;First name;Last name;Date of birth;Email;Phone;Email consent;Email consent given on\n"
        "RC-1;Zoë;Ashworth;15/01/1980;zoe@example.org;020 7946 0001;yes;01/03/2024\n"
        "RC-2;Ben;O'Neill;31/02/1981;;020 7946 0002;no;\n"  # no 31 February
        "RC-3;Cy;Lee;15/03/2031;;;no;\n"  # born in the future
        "RC-4;;Lee;15/03/1982;;;maybe;\n"  # no first name, consent neither yes nor no
        "RC-5;Di;Moss;15/04/1983;;;yes;\n"  # consent without an address
        "RC-1;Zoe;Ashworth;15/01/1980;;;no;\n"  # the same record number twice
    )
    run = ImportRun(clinic=clinic, kind="patients", filename="people.csv", date_order="day-first")
    result = import_table(read_table(people.encode("cp1252"), filename="people.csv"), run=run)
    assert not result.saved
    columns = {row.number: sorted(problem.column for problem in row.problems) for row in result.refused}
    assert columns == {
        2: ["Record number"],
        3: ["Date of birth"],
        4: ["Date of birth"],
        5: ["Email consent", "First name"],
        6: ["Email"],
        7: ["Record number"],
    }
    assert counts(clinic) == (0, 0, 0, 0)

    fixed = "\n".join(people.splitlines()[:2]) + "\n"
    fixed += "RC-2;Ben;O'Neill;28/02/1981;;020 7946 0002;no;\nRC-3;Cy;Lee;15/03/1982;;;no;\n"
    run = ImportRun(clinic=clinic, kind="patients", filename="people.csv", date_order="day-first")
    result = import_table(read_table(fixed.encode("cp1252"), filename="people.csv"), run=run)
    assert result.saved, result.refused
    assert Patient.objects.get(record_number="RC-1").first_name == "Zoë"

    doses = (
        "Record number,Product,Placed on,Past visits\n"
        f"RC-1,{implant.name},10/01/2026,\n"
        f"RC-1,{implant.name},05/04/2026,missed\n"
        "RC-2,Naltrexone implant (old),01/05/2026,\n"  # not in the catalogue
        f"RC-3,{implant.name},01/07/2026,\n"  # in the future
        f"RC-9,{implant.name},01/05/2026,\n"  # no such patient
        "RC-2,Monthly injection,01/06/2026,\n"
    )
    run = ImportRun(clinic=clinic, kind="placements", filename="doses.csv", date_order="day-first")
    result = import_table(read_table(doses.encode(), filename="doses.csv"), run=run)
    assert {row.number: [problem.column for problem in row.problems] for row in result.refused} == {
        4: ["Product"],
        5: ["Placed on"],
        6: ["Record number"],
    }
    assert counts(clinic)[1] == 0
    good = "\n".join(line for n, line in enumerate(doses.splitlines()) if n not in (3, 4, 5)) + "\n"
    before_latest = good + f"RC-1,{implant.name},01/03/2026,\n"  # before RC-1's placement of 5 April
    run = ImportRun(clinic=clinic, kind="placements", filename="doses.csv", date_order="day-first")
    result = import_table(read_table(good.encode(), filename="doses.csv"), run=run)
    assert result.saved, result.refused
    assert counts(clinic)[:2] == (3, 3)
    run = ImportRun(clinic=clinic, kind="placements", filename="late.csv", date_order="day-first")
    late = import_table(read_table(before_latest.encode(), filename="late.csv"), run=run)
    assert [row.words for row in late.refused] == [
        f"Placed on: The previous placement was on {formats.day(D(2026, 4, 5))}; a new one must come after it."
    ]
    before = counts(clinic)
    for kind, text in (("patients", fixed), ("placements", good)):
        run = ImportRun(clinic=clinic, kind=kind, filename=f"{kind}.csv", date_order="day-first")
        again = import_table(read_table(text.encode("cp1252"), filename=f"{kind}.csv"), run=run)
        assert {row.outcome for row in again.rows} == {Outcome.UNCHANGED}
    assert counts(clinic) == before


def test_the_worker_takes_every_waiting_file_in_turn_and_an_error_stops_only_its_own(clinic, monkeypatch):
    from patients.imports import run as imports

    waiting = [
        ImportRun.objects.create(clinic=clinic, kind="patients", filename=f"{n}.csv", content=csv(PATIENTS))
        for n in range(2)
    ]
    assert imports.check_waiting() == 2
    assert [run.status for run in ImportRun.objects.order_by("pk")] == ["previewed", "previewed"]
    assert imports.check_waiting() == 0  # nothing waits: nothing is done twice

    broken = ImportRun.objects.create(clinic=clinic, kind="patients", filename="broken.csv", content=csv(PATIENTS))
    monkeypatch.setattr(imports, "check", lambda run, progress=None: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        imports.check_waiting()
    broken.refresh_from_db()
    assert (broken.status, broken.content) == ("failed", None)
    assert "nothing was saved" in broken.summary
    assert [run.status for run in ImportRun.objects.filter(pk__in=[run.pk for run in waiting])] == ["previewed"] * 2
