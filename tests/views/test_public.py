"""The confirm and unsubscribe pages: open without signing in, changed only by POST, kind to bad links."""

import datetime
import uuid

import pytest
from django.test import Client

from patients import services
from patients.models import Reminder
from patients.reminders import links
from patients.reminders.message import find_banned_words
from tests.factories import INDUCTION, PatientFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=UTC)
APPOINTMENT = datetime.datetime(2026, 7, 14, 9, 30, tzinfo=UTC)  # 10:30 in London


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def patient(clinic, implant):
    patient = PatientFactory(
        clinic=clinic, first_name="Ada", last_name="Lovelace", record_number="RN-4321", email="ada@example.org"
    )
    services.record_placement(patient=patient, product=implant, placed_on=datetime.date(2026, 6, 15), **INDUCTION)
    return patient


@pytest.fixture
def visit(patient):
    return services.reschedule_visit(visit=patient.visits.order_by("due_on").first(), appointment_at=APPOINTMENT)


@pytest.fixture
def reminder(visit):
    return Reminder.objects.get(visit=visit, kind=Reminder.Kind.MONITORING_3_DAYS, status=Reminder.Status.PENDING)


@pytest.fixture
def token(reminder):
    return links.make_token(reminder)


@pytest.fixture
def strict_client():
    """A browser that, like a real one, must send the CSRF token the page gave it."""
    return Client(enforce_csrf_checks=True)


def confirm_url(token):
    return f"/r/{token}/confirm/"


def unsubscribe_url(token):
    return f"/r/{token}/unsubscribe/"


def csrf_from(response):
    return response.context["csrf_token"]


def assert_no_personal_data(response):
    page = response.content.decode()
    for private in ("Lovelace", "RN-4321", "ada@example.org", "1985"):
        assert private not in page


# Confirming


def test_it_shows_the_appointment_in_clinic_time_and_a_button(client, token, visit):
    response = client.get(confirm_url(token))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Riverside Clinic" in page
    assert "Tuesday 14 July 2026 at 10:30" in page
    assert '<form method="post">' in page
    assert "Confirm" in page
    assert "Hello Ada" in page
    assert_no_personal_data(response)


def test_it_does_not_confirm_on_get(client, token, visit):
    # Mail scanners and link previews open every link: that must change nothing.
    client.get(confirm_url(token))
    client.head(confirm_url(token))
    visit.refresh_from_db()
    assert visit.confirmed_at is None


def test_it_confirms_on_post(strict_client, token, visit):
    page = strict_client.get(confirm_url(token))
    response = strict_client.post(confirm_url(token), {"csrfmiddlewaretoken": csrf_from(page)})
    assert response.status_code == 200
    assert "Thank you, Ada" in response.content.decode()
    visit.refresh_from_db()
    assert visit.confirmed_at == NOW
    assert_no_personal_data(response)


def test_it_keeps_the_first_confirmation(client, token, visit, time_machine):
    client.post(confirm_url(token))
    time_machine.move_to(NOW + datetime.timedelta(hours=2), tick=False)
    response = client.post(confirm_url(token))
    assert response.status_code == 200
    visit.refresh_from_db()
    assert visit.confirmed_at == NOW
    assert "Thank you" in client.get(confirm_url(token)).content.decode()


def test_it_refuses_a_confirmation_without_the_csrf_token(strict_client, token, visit):
    response = strict_client.post(confirm_url(token))
    assert response.status_code == 403
    visit.refresh_from_db()
    assert visit.confirmed_at is None


def test_it_asks_to_call_when_the_visit_is_cancelled(client, token, visit):
    services.cancel_visit(visit=visit)
    for response in (client.get(confirm_url(token)), client.post(confirm_url(token))):
        assert response.status_code == 409
        page = response.content.decode()
        assert "020 7946 0000" in page
        assert "Confirm: I will come" not in page
    visit.refresh_from_db()
    assert visit.confirmed_at is None


def test_it_offers_no_confirmation_from_a_missed_visit_email(client, patient, visit, time_machine):
    time_machine.move_to("2026-07-25 12:00Z", tick=False)
    services.mark_missed_visits(today=datetime.date(2026, 7, 25))
    missed = Reminder.objects.get(visit=visit, kind=Reminder.Kind.MISSED_VISIT)
    response = client.post(confirm_url(links.make_token(missed)))
    assert response.status_code == 409
    visit.refresh_from_db()
    assert visit.confirmed_at is None


def test_it_offers_no_confirmation_once_the_appointment_has_passed(client, token, visit, time_machine):
    time_machine.move_to(APPOINTMENT + datetime.timedelta(minutes=1), tick=False)
    assert client.post(confirm_url(token)).status_code == 409
    visit.refresh_from_db()
    assert visit.confirmed_at is None


# Unsubscribing


def test_it_asks_before_unsubscribing(client, token, patient):
    response = client.get(unsubscribe_url(token))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<form method="post">' in page
    assert "Stop the emails" in page
    assert_no_personal_data(response)
    patient.refresh_from_db()
    assert patient.email_consent is True


def test_it_unsubscribes_on_post_and_cancels_pending_reminders(strict_client, token, patient):
    assert patient.reminders.filter(status=Reminder.Status.PENDING).exists()
    response = strict_client.post(unsubscribe_url(token))
    assert response.status_code == 200
    assert "no more appointment emails" in response.content.decode()
    assert_no_personal_data(response)
    patient.refresh_from_db()
    assert patient.email_consent is False
    assert not patient.reminders.filter(status=Reminder.Status.PENDING).exists()


def test_it_accepts_the_one_click_post_from_a_mail_provider_twice(strict_client, token, patient):
    # RFC 8058: the provider posts this body, with no cookie and no CSRF token.
    for _ in range(2):
        response = strict_client.post(
            unsubscribe_url(token), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.email_consent is False
    assert not patient.reminders.filter(status=Reminder.Status.PENDING).exists()


def test_it_answers_only_get_and_post(client, token):
    assert client.put(unsubscribe_url(token)).status_code == 405
    assert client.delete(confirm_url(token)).status_code == 405


# Bad links


def forged(token):
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def unknown_reminder_token():
    return links._signer().sign(uuid.uuid4().hex)


@pytest.mark.parametrize("make_bad", [forged, lambda token: "garbage", lambda token: unknown_reminder_token()])
@pytest.mark.parametrize("url", [confirm_url, unsubscribe_url])
def test_it_shows_a_friendly_page_for_a_bad_link(client, token, patient, visit, make_bad, url):
    for response in (client.get(url(make_bad(token))), client.post(url(make_bad(token)))):
        assert response.status_code == 404
        page = response.content.decode()
        assert "This link does not work" in page
        assert "call your clinic" in page
        assert "Traceback" not in page
    patient.refresh_from_db()
    visit.refresh_from_db()
    assert patient.email_consent is True
    assert visit.confirmed_at is None


@pytest.mark.parametrize("url", [confirm_url, unsubscribe_url])
def test_it_refuses_an_expired_link(client, token, patient, time_machine, settings, url):
    settings.REMINDER_LINK_MAX_AGE_DAYS = 60
    time_machine.move_to(NOW + datetime.timedelta(days=59), tick=False)
    assert client.get(url(token)).status_code in (200, 409)
    time_machine.move_to(NOW + datetime.timedelta(days=61), tick=False)
    response = client.post(url(token))
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    patient.refresh_from_db()
    assert patient.email_consent is True


# Who may open what


def test_these_are_the_only_pages_open_without_signing_in(client, token):
    assert client.get(confirm_url(token)).status_code == 200
    assert client.get(unsubscribe_url(token)).status_code == 200
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_pages_show_no_staff_navigation_and_no_treatment_words(client, token):
    for response in (client.get(confirm_url(token)), client.get(unsubscribe_url(token))):
        page = response.content.decode()
        assert "/admin/" not in page
        assert "<script" not in page
        assert find_banned_words(page) == []
        assert response["Cache-Control"].startswith("max-age=0")


def test_the_bad_link_page_names_no_treatment(client):
    assert find_banned_words(client.get(confirm_url("garbage")).content.decode()) == []
