"""The files brought in, in the admin: their clinic's managers read them; nobody writes them."""

import pytest
from django.urls import reverse

from patients.models import ImportRun, Membership
from tests.factories import ClinicFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to("2026-06-15 12:00Z", tick=False)


@pytest.fixture
def runs(clinic):
    ours = ImportRun.objects.create(
        clinic=clinic, kind="patients", filename="ours.csv", status=ImportRun.Status.PREVIEWED, content=b"x"
    )
    theirs = ImportRun.objects.create(clinic=ClinicFactory(name="Far Clinic"), kind="patients", filename="theirs.csv")
    return ours, theirs


def test_a_manager_reads_their_clinics_files_and_cannot_change_them(client, manager, runs):
    ours, theirs = runs
    client.force_login(manager)
    listing = client.get(reverse("admin:patients_importrun_changelist"))
    assert listing.status_code == 200
    assert "ours.csv" in listing.text
    assert "theirs.csv" not in listing.text
    page = client.get(reverse("admin:patients_importrun_change", args=[ours.pk]))
    assert page.status_code == 200
    assert reverse("patients:import_detail", kwargs={"run_uuid": ours.uuid}) in page.text
    assert 'name="_save"' not in page.text
    assert client.get(reverse("admin:patients_importrun_change", args=[theirs.pk])).status_code == 302
    assert client.get(reverse("admin:patients_importrun_add")).status_code == 403
    assert client.post(reverse("admin:patients_importrun_delete", args=[ours.pk]), {"post": "yes"}).status_code == 403
    assert ImportRun.objects.filter(pk=ours.pk).exists()


@pytest.mark.parametrize("role", [Membership.Role.COORDINATOR, Membership.Role.CLINICIAN])
def test_other_staff_do_not_see_the_files_brought_in(client, clinic, runs, role):
    user = UserFactory(username=f"staff-{role}", is_staff=True)
    MembershipFactory(user=user, clinic=clinic, role=role)
    client.force_login(user)
    assert client.get(reverse("admin:patients_importrun_changelist")).status_code == 403
    assert "importrun" not in client.get(reverse("admin:index")).text
