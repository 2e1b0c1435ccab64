"""The import page: upload, the check's preview, confirmation, the finished import, templates and
exports; for a clinic's managers only.

The check and the import are the worker's (``patients.tasks``); here the tests call what the tasks
call (``patients.imports.run``), and ``tests/integration/test_imports.py`` runs them in a real worker.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from patients import tasks
from patients.imports import run as imports
from patients.imports.rows import Outcome
from patients.models import ImportRun, Patient, Placement, RecordAccess
from tests.factories import MembershipFactory, ProductFactory, UserFactory
from tests.helpers import flashed

pytestmark = pytest.mark.django_db

PATIENTS = (
    "Record number,First name,Last name,Date of birth,Email,Phone,Email consent\n"
    "IMP-1,Ada,Porter,1980-01-15,ada@example.org,0700 000 001,yes\n"
    "IMP-2,Ben,Porter,15/02/1981,,0700 000 002,no\n"
)


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to("2026-06-15 12:00Z", tick=False)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def upload(client, text: str, *, kind: str = "patients", name: str = "patients.csv", date_order: str = "day-first"):
    # The clinic travels in a hidden field: the page's form holds the manager's only clinic.
    clinic = client.get(reverse("patients:import_start")).context["form"]["clinic"].value()
    data = {"clinic": clinic, "kind": kind, "date_order": date_order}
    return client.post(reverse("patients:import_start"), data | {"file": SimpleUploadedFile(name, text.encode())})


def imported(client, text: str, **options) -> ImportRun:
    """A file uploaded, checked, confirmed and imported, as the page and the worker do it."""
    upload(client, text, **options)
    run = ImportRun.objects.latest("started_at", "pk")
    imports.check_waiting()
    client.post(reverse("patients:import_confirm", kwargs={"run_uuid": run.uuid}))
    imports.import_waiting()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.DONE, run.summary
    return run


def detail(run: ImportRun) -> str:
    return reverse("patients:import_detail", kwargs={"run_uuid": run.uuid})


def test_it_asks_for_a_sign_in_and_refuses_all_but_managers(client, coordinator, clinician):
    start = reverse("patients:import_start")
    assert client.get(start).status_code == 302
    for user in (coordinator, clinician):
        client.force_login(user)
        assert client.get(start).status_code == 403
    template = reverse("patients:import_template", kwargs={"kind": "patients", "extension": "csv"})
    client.logout()
    assert client.get(template).status_code == 302


def test_the_page_lists_every_column_with_its_templates(manager_client):
    page = manager_client.get(reverse("patients:import_start")).content.decode()
    for label in ("Record number", "Date of birth", "Placed on", "Held on", "Email consent given on"):
        assert label in page
    assert reverse("patients:import_template", kwargs={"kind": "placements", "extension": "xlsx"}) in page
    response = manager_client.get(reverse("patients:import_template", kwargs={"kind": "sessions", "extension": "csv"}))
    assert response["Content-Disposition"] == 'attachment; filename="sessions-template.csv"'
    assert "Record number" in response.content.decode("utf-8-sig")


def test_a_file_that_cannot_be_read_is_refused_on_the_form_and_nothing_is_kept(manager_client, clinic):
    pdf = manager_client.post(
        reverse("patients:import_start"),
        {
            "clinic": clinic.uuid,
            "kind": "patients",
            "date_order": "iso",
            "file": SimpleUploadedFile("notes.pdf", b"%PDF-1.7 ..."),
        },
    )
    assert pdf.status_code == 200
    assert pdf.context["form"].errors["file"]
    missing = upload(manager_client, "record_number,placed_on\nIMP-1,2026-05-01\n", kind="placements")
    assert "Product" in " ".join(missing.context["form"].errors["file"])
    assert not ImportRun.objects.exists()


def test_a_file_is_checked_shown_confirmed_and_imported(manager_client, manager, clinic):
    response = upload(manager_client, PATIENTS)
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail(run)
    assert (run.status, run.rows, run.started_by, run.date_order) == ("checking", 2, manager, "day-first")
    page = manager_client.get(detail(run)).content.decode()
    assert "Checking the file: nothing is saved yet." in page
    imports.check_waiting()  # what the worker runs (tasks.check_waiting_imports)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.PREVIEWED
    assert not Patient.objects.exists()
    page = manager_client.get(detail(run)).content.decode()
    assert "Nothing is saved yet." in page
    assert "New patient Ben Porter." in page
    assert "Day first: 31/12/2024" in page
    assert RecordAccess.objects.filter(what=RecordAccess.What.IMPORT_PREVIEW, clinic=clinic).exists()
    confirm = reverse("patients:import_confirm", kwargs={"run_uuid": run.uuid})
    assert manager_client.post(confirm).status_code == 302
    run.refresh_from_db()
    assert run.status == ImportRun.Status.IMPORTING
    # A second click finds it on its way: nothing is queued twice.
    again = manager_client.post(confirm, follow=True)
    assert flashed(again) == ["This file is not waiting to be confirmed."]
    imports.import_waiting()  # what the worker runs (tasks.import_confirmed_files)
    run.refresh_from_db()
    assert (run.status, run.content, run.summary) == ("done", None, "new patient: 2")
    assert sorted(Patient.objects.values_list("record_number", flat=True)) == ["IMP-1", "IMP-2"]
    assert "Imported." in manager_client.get(detail(run)).content.decode()
    # Run again, the task finds the run finished and does nothing.
    imports.import_waiting()
    assert Patient.objects.count() == 2


def test_refused_rows_are_shown_first_and_the_file_cannot_be_confirmed(manager_client, clinic):
    ProductFactory(clinic=clinic, name="Three-month implant")
    imported(manager_client, PATIENTS)
    text = "record_number,product,placed_on\nIMP-1,Three-month implant,01/05/2026\nIMP-1,Nothing,2026-05-02\n"
    upload(manager_client, text, kind="placements", name="placements.csv")
    run = ImportRun.objects.get(kind="placements")
    imports.check_waiting()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.REFUSED
    response = manager_client.get(detail(run))
    rows = list(response.context["results"])
    assert [(row.number, row.refused) for row in rows] == [(3, True), (2, False)]
    assert "Nothing is not in Riverside Clinic's catalogue" in rows[0].words
    page = response.content.decode()
    assert "cannot be brought in, so nothing was saved" in page
    assert reverse("patients:import_confirm", kwargs={"run_uuid": run.uuid}) not in page
    manager_client.post(reverse("patients:import_confirm", kwargs={"run_uuid": run.uuid}))
    run.refresh_from_db()
    assert run.status == ImportRun.Status.REFUSED
    assert not Placement.objects.exists()


def test_the_progress_follows_the_run_and_the_page_reloads_when_it_ends(manager_client):
    upload(manager_client, PATIENTS)
    run = ImportRun.objects.get()
    polled = manager_client.get(detail(run), headers={"HX-Request": "true"})
    assert polled.templates[0].name == "patients/imports/_progress.html"
    imports.check_waiting()
    finished = manager_client.get(detail(run), headers={"HX-Request": "true"})
    assert finished["HX-Refresh"] == "true"


def test_another_clinics_run_is_a_404(manager_client, other_clinic):
    other_manager = UserFactory()
    MembershipFactory(user=other_manager, clinic=other_clinic, role="manager")
    run = ImportRun.objects.create(
        clinic=other_clinic, kind="patients", filename="theirs.csv", started_by=other_manager
    )
    assert manager_client.get(detail(run)).status_code == 404
    confirm = reverse("patients:import_confirm", kwargs={"run_uuid": run.uuid})
    assert manager_client.post(confirm).status_code == 404


def test_the_export_is_logged_and_holds_the_clinics_records_in_the_import_columns(manager_client, clinic):
    run = imported(manager_client, PATIENTS)
    response = manager_client.get(reverse("patients:import_export", kwargs={"kind": "patients", "extension": "csv"}))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Record number,First name,Last name,Date of birth")
    assert "IMP-2,Ben,Porter,1981-02-15" in text
    assert RecordAccess.objects.filter(
        what=RecordAccess.What.EXPORT_RECORDS, clinic=clinic, detail="patients"
    ).exists()
    assert [row.outcome for row in run.results.all()] == [Outcome.NEW_PATIENT, Outcome.NEW_PATIENT]


def test_the_patient_page_says_a_placement_was_brought_in(manager_client, clinic):
    ProductFactory(clinic=clinic, name="Three-month implant")
    imported(manager_client, PATIENTS)
    imported(
        manager_client,
        "record_number,product,placed_on\nIMP-1,Three-month implant,01/05/2026\n",
        kind="placements",
        name="old.csv",
    )
    ada = Patient.objects.get(record_number="IMP-1")
    page = manager_client.get(ada.get_absolute_url()).content.decode()
    assert "Brought in from old.csv on 15 Jun 2026; no induction checklist recorded" in page


def test_an_unknown_kind_or_extension_is_a_404(manager_client):
    for name in ("import_template", "import_export"):
        assert (
            manager_client.get(reverse(f"patients:{name}", kwargs={"kind": "visits", "extension": "csv"})).status_code
            == 404
        )
        assert (
            manager_client.get(
                reverse(f"patients:{name}", kwargs={"kind": "patients", "extension": "xls"})
            ).status_code
            == 404
        )


def test_a_preview_left_unconfirmed_is_let_go_with_its_file(manager_client, manager, clinic, time_machine, settings):
    settings.IMPORT_CONFIRM_DAYS = 7
    upload(manager_client, PATIENTS)
    run = ImportRun.objects.get()
    imports.check_waiting()
    run.refresh_from_db()
    assert (run.status, bool(run.content), run.results.count()) == (ImportRun.Status.PREVIEWED, True, 2)

    time_machine.move_to("2026-06-22 11:59Z", tick=False)  # a minute short of seven days
    tasks.check_waiting_imports()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.PREVIEWED

    time_machine.move_to("2026-06-22 12:01Z", tick=False)
    tasks.check_waiting_imports()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.EXPIRED
    assert run.content is None
    assert not run.results.exists()
    manager_client.force_login(manager)  # a week on: signed in again
    page = manager_client.get(detail(run))
    assert "Not confirmed in time: nothing saved" in page.text
    assert "Not confirmed within 7 days" in page.text
    assert "Upload the file again" in page.text
    # Too late to confirm: nothing is imported.
    manager_client.post(reverse("patients:import_confirm", kwargs={"run_uuid": run.uuid}))
    imports.import_waiting()
    assert not Patient.objects.filter(clinic=clinic).exists()


def test_what_an_import_did_is_kept_as_long_as_the_audit_trail(manager_client, clinic, time_machine, settings):
    run = imported(manager_client, PATIENTS)
    assert run.results.count() == 2
    time_machine.move_to("2027-06-15 12:00Z", tick=False)
    settings.AUDIT_RETENTION_DAYS = 366
    tasks.prune_audit_trail()
    assert run.results.count() == 2
    settings.AUDIT_RETENTION_DAYS = 364
    tasks.prune_audit_trail()
    assert not run.results.exists()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.DONE  # the run itself stays: its placements point to it
