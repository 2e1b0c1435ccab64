"""An import through the real parts: the page queues the check and the import in Redis, a Celery
worker runs them against the test database, and the page follows the run by its progress in Redis.

Marked ``workers``: the worker runs in another process on the real clock, and so does this test.
"""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.clinic_time import clinic_today
from patients.imports.progress import progress_of
from patients.models import ImportRun, Patient, Placement, Reminder
from tests.factories import ClinicFactory, MembershipFactory, ProductFactory, UserFactory
from tests.integration.processes import wait_until

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]


def finished(run: ImportRun, *statuses: str) -> bool:
    run.refresh_from_db()
    return run.status in statuses


def test_the_worker_checks_and_imports_what_the_page_queued(stack, smtp_server):
    stack.worker(email_url=smtp_server().url)
    clinic = ClinicFactory(name="Import Clinic", time_zone="UTC")
    implant = ProductFactory(clinic=clinic, name="Three-month implant", coverage_length=3)
    manager = UserFactory()
    MembershipFactory(user=manager, clinic=clinic, role="manager")
    client = Client()
    client.force_login(manager)
    # The worker runs on the real clock (time-machine cannot reach it), so the days come from the
    # clinic's own today, as the pages count them.
    today = clinic_today(clinic)
    born = datetime.date(1980, 1, 15)
    rows = "".join(f"IMP-{n},Name{n},Porter,{born},imp{n}@example.org,,yes\n" for n in range(1, 301))
    patients = "record_number,first_name,last_name,date_of_birth,email,phone,email_consent\n" + rows
    placed = today - datetime.timedelta(days=40)

    def upload(name: str, kind: str, text: str) -> ImportRun:
        data = {"clinic": clinic.uuid, "kind": kind, "date_order": "iso"}
        response = client.post(
            reverse("patients:import_start"), data | {"file": SimpleUploadedFile(name, text.encode())}
        )
        assert response.status_code == 302, response.context["form"].errors
        return ImportRun.objects.get(filename=name)

    def confirm(run: ImportRun) -> None:
        client.post(reverse("patients:import_confirm", kwargs={"run_uuid": run.uuid}))
        wait_until(lambda: finished(run, *ImportRun.FINISHED), timeout=120, what="the worker imports", logs=stack.logs)
        assert run.status == ImportRun.Status.DONE, run.summary

    run = upload("patients.csv", "patients", patients)
    wait_until(
        lambda: finished(run, ImportRun.Status.PREVIEWED, *ImportRun.FINISHED),
        timeout=120,
        what="the worker checks the file",
        logs=stack.logs,
    )
    assert run.status == ImportRun.Status.PREVIEWED, run.summary
    # The worker counted its way through the rows where the page reads them.
    assert progress_of(run) == ("checking", 300, 300)
    assert not Patient.objects.exists()
    confirm(run)
    assert progress_of(run) == ("importing", 300, 300)
    assert Patient.objects.filter(clinic=clinic).count() == 300

    placements = "record_number,product,placed_on\n" + "".join(
        f"IMP-{n},{implant.name},{placed}\n" for n in range(1, 301)
    )
    run = upload("placements.csv", "placements", placements)
    wait_until(
        lambda: finished(run, ImportRun.Status.PREVIEWED, *ImportRun.FINISHED),
        timeout=120,
        what="the worker checks the placements",
        logs=stack.logs,
    )
    confirm(run)
    assert Placement.objects.filter(patient__clinic=clinic, imported_in=run).count() == 300
    # Nothing of the past is left to go out late.
    # The moment the worker saw: the real one, which this process shares (the test is marked workers).
    assert not Reminder.objects.filter(status=Reminder.Status.PENDING, send_at__lt=timezone.now()).exists()
