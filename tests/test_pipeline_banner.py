"""A silent reminder pipeline shows on every staff page: it is a safety failure, not a cosmetic one."""

import datetime

import pytest

from patients.models import PipelineHeartbeat

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC)
BANNER = "Reminders are not going out"


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def staff_client(client, coordinator):
    client.force_login(coordinator)
    return client


def beat(at):
    PipelineHeartbeat.objects.update_or_create(name=PipelineHeartbeat.DISPATCHER, defaults={"last_run_at": at})


def test_it_warns_when_the_dispatcher_has_never_run(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert BANNER in page
    assert "the dispatcher has never run" in page
    assert "Check the Celery worker and beat" in page


def test_it_warns_when_the_dispatcher_has_gone_quiet(staff_client):
    beat(NOW - datetime.timedelta(minutes=11))
    page = staff_client.get("/admin/").content.decode()
    assert BANNER in page
    assert "the dispatcher last ran at 15 Jun 2026, 11:49 UTC" in page


def test_it_is_quiet_while_the_dispatcher_runs(staff_client):
    beat(NOW)
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    assert BANNER not in response.content.decode()


def test_it_shows_on_every_admin_page(staff_client):
    assert BANNER in staff_client.get("/admin/patients/patient/").content.decode()


def test_it_tells_nobody_signed_out(client):
    assert BANNER not in client.get("/admin/login/").content.decode()
