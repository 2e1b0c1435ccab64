"""No patient data where it does not belong: browsers keep no copy of a page, logs hold no search
and no error's words, Celery messages carry no data, and a day of the clinic with a patient called
Canary Zq7 leaves the name nowhere but in that patient's own reminders."""

import datetime
import inspect
import io
import logging
import smtplib

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from patients import services, tasks
from patients.models import Reminder, Visit
from patients.reminders import links
from tests.factories import INDUCTION, PatientFactory
from tests.helpers import london
from tracker.privacy import PatientDataFilter, without_query_strings

pytestmark = pytest.mark.django_db

D = datetime.date
NAME = ("Canary", "Zq7")
ADDRESS = "canary.zq7@example.org"
# What a mail server or a backend says when it refuses: often the address and the name.
REFUSAL = {ADDRESS: (550, b"Canary Zq7: no such mailbox")}
BACKEND_ERROR = f"Canary Zq7 <{ADDRESS}>: the address is refused"


def refuse(recipients):
    raise smtplib.SMTPRecipientsRefused(recipients)


@pytest.fixture
def log_output():
    """Everything the configured log handlers write, filters and all, while the test runs."""
    stream = io.StringIO()
    handlers = {
        handler
        for name in ("", "django", "django.server", "patients", "celery")
        for handler in logging.getLogger(name).handlers
        if any(isinstance(each, PatientDataFilter) for each in handler.filters)
    }
    assert handlers, "no log handler carries the patient data filter"
    previous = {handler: handler.setStream(stream) for handler in handlers}  # type: ignore[attr-defined]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.setLevel(level)
    for handler, old in previous.items():
        handler.setStream(old)


# Logs


def test_query_strings_are_cut_from_urls():
    line = "GET /patients/?q=Canary+Zq7&page=2 HTTP/1.1"
    assert without_query_strings(line) == "GET /patients/?… HTTP/1.1"
    assert without_query_strings("/reports/ and /patients/") == "/reports/ and /patients/"


def test_a_request_line_in_the_log_keeps_its_path_and_loses_its_search(log_output):
    # As runserver writes it: the request line is an argument of the record.
    logging.getLogger("django.server").info('"%s" %s %s', "GET /patients/?q=Canary+Zq7 HTTP/1.1", "200", "1234")
    written = log_output.getvalue()
    assert '"GET /patients/?… HTTP/1.1" 200 1234' in written
    assert "Zq7" not in written


def test_an_error_is_logged_with_its_place_but_without_its_words(log_output):
    try:
        refuse(REFUSAL)
    except smtplib.SMTPRecipientsRefused:
        logging.getLogger("patients.reminders.sending").exception("Reminder %s could not be sent", "abc")
    written = log_output.getvalue()
    assert "Reminder abc could not be sent" in written
    assert "test_an_error_is_logged_with_its_place_but_without_its_words" in written  # the frame
    assert "smtplib.SMTPRecipientsRefused (its message is left out of the log)" in written
    assert "Zq7" not in written
    assert "canary" not in written.lower()


# Pages


def test_no_page_may_be_kept_by_a_browser_or_a_proxy(client, clinician, clinic, patient, implant, time_machine):
    time_machine.move_to(london(D(2026, 6, 1), 12), tick=False)
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    reminder = patient.reminders.filter(status=Reminder.Status.PENDING).first()
    token = links.make_token(reminder)
    client.force_login(clinician)
    on_patient = (patient.uuid,)
    urls = [
        reverse("patients:dashboard"),
        reverse("patients:patient_list") + "?q=Byron",
        reverse("patients:patient_detail", args=on_patient),
        reverse("patients:patient_history", args=on_patient),
        reverse("patients:wallet_card", args=on_patient),
        reverse("patients:wallet_card_pdf", args=on_patient),
        reverse("patients:patients_csv") + f"?clinic={clinic.uuid}",
        reverse("patients:reports_csv") + f"?clinic={clinic.uuid}",
        reverse("admin:patients_patient_change", args=[patient.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    client.logout()
    login = client.get(reverse("login"))
    assert "no-store" in login["Cache-Control"]
    assert "no-store" in client.get(reverse("public:unsubscribe", args=[token]))["Cache-Control"]


# Celery


def test_celery_messages_carry_no_data():
    """Beat's messages name a task and nothing else; every task reads what it needs from the database."""
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert not entry.get("args"), name
        assert not entry.get("kwargs"), name
    for name, task in inspect.getmembers(tasks, lambda member: hasattr(member, "run") and hasattr(member, "delay")):
        assert not inspect.signature(task.run).parameters, f"{name} takes arguments a message would carry"


# A day of the clinic


def test_a_day_of_the_clinic_leaves_the_canary_patients_name_only_in_their_own_reminders(
    client, clinic, implant, coordinator, clinician, time_machine, scripted_mail, log_output, settings
):
    settings.DIGEST_SEND_TIME = datetime.time(7, 30)
    coordinator.email = "coordinator@example.org"
    coordinator.save()
    time_machine.move_to(london(D(2026, 6, 1), 12), tick=False)
    # Registered and placed through the pages, found by a search.
    client.force_login(coordinator)
    canary = PatientFactory(clinic=clinic, first_name=NAME[0], last_name=NAME[1], email=ADDRESS)
    assert client.get(reverse("patients:patient_list") + "?q=Zq7").status_code == 200
    client.force_login(clinician)
    response = client.post(
        reverse("patients:placement_create", args=[canary.uuid]),
        {"product": implant.pk, "placed_on": "2026-06-01", "placed_by": clinician.pk, **INDUCTION},
    )
    assert response.status_code == 302
    assert client.get(canary.get_absolute_url()).status_code == 200
    # The first reminder's send fails with a backend error that quotes the address and the name.
    scripted_mail.append(ValueError(BACKEND_ERROR))
    time_machine.move_to(london(D(2026, 6, 28), 10), tick=False)
    tasks.dispatch_due_reminders.apply().get()
    assert canary.reminders.filter(last_error__contains="Could not send").exists()
    time_machine.move_to(london(D(2026, 6, 28), 10, 30), tick=False)
    tasks.dispatch_due_reminders.apply().get()
    # The visit passes unattended; the next morning brings the digest.
    time_machine.move_to(london(D(2026, 7, 9), 8), tick=False)
    tasks.mark_missed_visits_everywhere.apply().get()
    assert canary.visits.filter(status=Visit.Status.MISSED).exists()
    tasks.send_coordinator_digests.apply().get()
    tasks.dispatch_due_reminders.apply().get()

    to_canary = [message for message in mail.outbox if message.to == [ADDRESS]]
    to_others = [message for message in mail.outbox if message.to != [ADDRESS]]
    assert to_canary, "the canary patient got no reminder"
    assert to_others, "nobody else got an email: the digest did not go out"
    for message in to_others:
        text = "\n".join([message.subject, message.body, *(str(part[0]) for part in message.alternatives)])
        assert "Zq7" not in text
        assert ADDRESS not in text
    written = log_output.getvalue()
    assert "could not be sent" in written  # the failure was logged
    assert "Zq7" not in written
    assert "canary" not in written.lower()
