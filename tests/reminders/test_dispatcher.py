"""The dispatcher: each due reminder goes out once, in the daytime, and failures end somewhere visible."""

import datetime
import smtplib
import uuid

import pytest
from django.core import mail
from django.core.mail import get_connection
from django.core.management import call_command

from patients import services
from patients.models import PipelineHeartbeat, Reminder
from patients.reminders import claims, sending
from patients.reminders.dispatcher import RunClock, dispatch, dispatch_due_reminders
from tests.factories import INDUCTION, PatientFactory
from tests.helpers import LONDON, london

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scripted_mail")]

D = datetime.date


@pytest.fixture
def patient(clinic, implant, time_machine):
    time_machine.move_to(london(D(2026, 6, 1), 12), tick=False)
    patient = PatientFactory(clinic=clinic)
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    return patient  # first visit due 1 July: reminders at 10:00 on 28 and 30 June


def near(moment, expected, *, seconds=5):
    """A stamp made during a dispatch run: its start, moved on by the run's own short duration."""
    return expected <= moment < expected + datetime.timedelta(seconds=seconds)


def first_reminder(patient):
    return patient.reminders.get(kind="monitoring_3_days", visit__due_on=D(2026, 7, 1))


def test_it_sends_a_due_reminder_once_however_often_it_runs(patient):
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 9, 59)) == 0
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 10)) == 1
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 10)) == 0
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 10, 1)) == 0
    assert len(mail.outbox) == 1
    reminder = first_reminder(patient)
    assert (reminder.status, reminder.attempts) == ("sent", 1)
    assert near(reminder.sent_at, london(D(2026, 6, 28)))
    assert mail.outbox[0].to == [patient.email]
    assert mail.outbox[0].extra_headers["Message-ID"] == reminder.message_id


def test_a_reminder_due_at_night_waits_for_the_morning(patient):
    # The pipeline was down all of 28 June; at 03:00 on the 29th it is night in London.
    assert dispatch_due_reminders(now=london(D(2026, 6, 29), 3)) == 0
    assert first_reminder(patient).status == "pending"
    assert dispatch_due_reminders(now=london(D(2026, 6, 29), 8, 59)) == 0
    assert dispatch_due_reminders(now=london(D(2026, 6, 29), 9)) == 1


def test_it_keeps_to_each_clinics_own_daytime(patient):
    patient.clinic.reminder_daytime_start = datetime.time(11)
    patient.clinic.reminder_daytime_end = datetime.time(17)
    patient.clinic.save()
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 10, 30)) == 0
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 11)) == 1


def test_it_never_sends_a_reminder_whose_visit_has_passed(patient):
    assert dispatch_due_reminders(now=london(D(2026, 7, 2), 10)) == 0
    visit_reminders = patient.reminders.filter(visit__due_on=D(2026, 7, 1))
    assert set(visit_reminders.values_list("status", flat=True)) == {"expired"}
    assert mail.outbox == []


def test_a_booked_appointment_expires_its_reminders_at_the_appointment(patient):
    visit = first_reminder(patient).visit
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 6, 30), 9, 30))
    assert dispatch_due_reminders(now=london(D(2026, 6, 30), 9, 45)) == 0
    assert set(visit.reminders.exclude(status="cancelled").values_list("status", flat=True)) == {"expired"}


def test_a_passing_failure_is_retried_with_growing_waits_then_fails(patient, scripted_mail):
    scripted_mail.extend([smtplib.SMTPServerDisconnected("gone")] * 3)
    start = london(D(2026, 6, 28))
    assert dispatch_due_reminders(now=start) == 0
    reminder = first_reminder(patient)
    assert (reminder.status, reminder.attempts) == ("pending", 1)
    assert near(reminder.next_attempt_at, start + datetime.timedelta(minutes=1))
    assert dispatch_due_reminders(now=start + datetime.timedelta(seconds=59)) == 0  # still waiting
    second = start + datetime.timedelta(minutes=1, seconds=5)
    assert dispatch_due_reminders(now=second) == 0
    reminder.refresh_from_db()
    assert near(reminder.next_attempt_at, second + datetime.timedelta(minutes=2))  # waited 1, now 2 more
    assert dispatch_due_reminders(now=second + datetime.timedelta(minutes=2, seconds=5)) == 0
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("failed", 3)
    assert "SMTPServerDisconnected" in reminder.last_error


def test_a_passing_failure_then_success_sends_one_email_with_one_message_id(patient, scripted_mail):
    scripted_mail.append(smtplib.SMTPResponseException(451, b"try later"))
    start = london(D(2026, 6, 28))
    assert dispatch_due_reminders(now=start) == 0
    assert dispatch_due_reminders(now=start + datetime.timedelta(minutes=1, seconds=5)) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == first_reminder(patient).message_id


def test_a_permanent_refusal_fails_at_once(patient, scripted_mail):
    scripted_mail.append(smtplib.SMTPRecipientsRefused({patient.email: (550, b"no such user")}))
    assert dispatch_due_reminders(now=london(D(2026, 6, 28))) == 0
    reminder = first_reminder(patient)
    assert (reminder.status, reminder.attempts) == ("failed", 1)
    assert "550" in reminder.last_error


def test_a_server_that_is_down_hands_back_the_rest_of_the_batch(clinic, implant, patient, scripted_mail):
    second = PatientFactory(clinic=clinic)
    services.record_placement(patient=second, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    scripted_mail.append(ConnectionRefusedError("connection refused"))
    assert dispatch_due_reminders(now=london(D(2026, 6, 28))) == 0
    attempts = sorted(Reminder.objects.filter(send_at=london(D(2026, 6, 28))).values_list("status", "attempts"))
    assert attempts == [("pending", 0), ("pending", 1)]
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 10, 5)) == 2


def test_a_reminder_that_cannot_be_rendered_fails_alone(clinic, implant, patient, monkeypatch):
    broken = PatientFactory(clinic=clinic)
    services.record_placement(patient=broken, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    real = sending.build_reminder_email

    def render(reminder, *, now):
        if reminder.patient_id == broken.pk:
            raise ValueError("template error")
        return real(reminder, now=now)

    monkeypatch.setattr(sending, "build_reminder_email", render)  # where the send looks it up
    moment = london(D(2026, 6, 28))
    sent = sum(dispatch_due_reminders(now=moment + datetime.timedelta(hours=hour)) for hour in range(4))
    assert sent == 1
    assert first_reminder(broken).status == "failed"
    assert first_reminder(broken).attempts == 3
    assert first_reminder(patient).status == "sent"


def test_a_row_left_sending_by_a_dead_worker_goes_out_after_its_lease(patient, settings):
    settings.REMINDER_LEASE_SECONDS = 300
    reminder = first_reminder(patient)
    crash = london(D(2026, 6, 28))
    Reminder.objects.filter(pk=reminder.pk).update(
        status="sending", attempts=1, lease_expires_at=crash + datetime.timedelta(minutes=5)
    )
    assert dispatch_due_reminders(now=crash + datetime.timedelta(minutes=4)) == 0
    assert dispatch_due_reminders(now=crash + datetime.timedelta(minutes=6)) == 1
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("sent", 2)


def test_a_dispatcher_that_lost_its_claim_does_not_stamp_the_row(clinic, patient):
    moment = london(D(2026, 6, 28))
    clock = RunClock(moment)
    (claim,) = claims.claim_batch(clinic=clinic, due_at=moment, clock=clock)
    batch = sending.Batch([claim], clock=clock, mail=get_connection())
    (reminder,) = batch.check([claim])
    # The lease ran out while the row waited, and another run took it over.
    taken_over = uuid.uuid4()
    Reminder.objects.filter(pk=claim.pk).update(claim_token=taken_over)
    assert batch.send(reminder)
    batch.stamp_decided()
    assert batch.outcome.sent == 0
    claim.refresh_from_db()
    assert (claim.status, claim.claim_token, claim.sent_at) == ("sending", taken_over, None)


def test_each_run_records_that_the_dispatcher_is_alive(patient):
    dispatch_due_reminders(now=london(D(2026, 6, 20), 3))
    assert PipelineHeartbeat.objects.get(name=PipelineHeartbeat.DISPATCHER).last_run_at == london(D(2026, 6, 20), 3)


def test_a_daylight_saving_weekend_moves_no_reminder_by_an_hour(clinic, implant, time_machine):
    time_machine.move_to(london(D(2026, 9, 28), 12), tick=False)
    patient = PatientFactory(clinic=clinic)
    # Visits due 27 October and 27 November: the first's reminders straddle the 25 October change.
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 9, 27), **INDUCTION)
    sent_at = []
    for day in (D(2026, 10, 24), D(2026, 10, 26)):
        assert dispatch_due_reminders(now=london(day, 9, 59)) == 0
        assert dispatch_due_reminders(now=london(day, 10)) == 1
        sent_at.append(patient.reminders.get(status="sent", sent_at__date=day).send_at)
    assert [moment.astimezone(LONDON).hour for moment in sent_at] == [10, 10]
    assert [moment.astimezone(datetime.UTC).hour for moment in sent_at] == [9, 10]


def test_the_command_runs_one_dispatch(patient, time_machine, capsys):
    time_machine.move_to(london(D(2026, 6, 28), 10, 30), tick=False)
    call_command("send_due_reminders")
    assert "Sent 1" in capsys.readouterr().out
    assert len(mail.outbox) == 1


def test_a_dispatch_reports_what_it_did(patient, scripted_mail):
    scripted_mail.append(smtplib.SMTPResponseException(421, b"busy"))
    report = dispatch(now=london(D(2026, 6, 28)))
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)


def test_a_batch_goes_out_oldest_due_first(clinic, implant, patient):
    """A reminder back for a retry must not go ahead of those waiting longer (it may hang again)."""
    later = PatientFactory(clinic=clinic)
    services.record_placement(patient=later, product=implant, placed_on=D(2026, 6, 1), **INDUCTION)
    start = london(D(2026, 6, 28))
    retried, waiting = first_reminder(patient), first_reminder(later)
    assert retried.pk < waiting.pk
    Reminder.objects.filter(pk=retried.pk).update(next_attempt_at=start + datetime.timedelta(minutes=2), attempts=1)
    assert dispatch_due_reminders(now=start + datetime.timedelta(minutes=3)) == 2
    assert [message.to[0] for message in mail.outbox] == [later.email, patient.email]


def test_a_run_stops_taking_batches_when_its_time_is_up(clinic, implant, patient, settings):
    settings.REMINDER_BATCH_SIZE = 1
    settings.REMINDER_RUN_SECONDS = 0  # a run with no time left takes no batch; the next one does
    services.record_placement(
        patient=PatientFactory(clinic=clinic), product=implant, placed_on=D(2026, 6, 1), **INDUCTION
    )
    assert dispatch_due_reminders(now=london(D(2026, 6, 28))) == 0
    settings.REMINDER_RUN_SECONDS = 120
    assert dispatch_due_reminders(now=london(D(2026, 6, 28), 10, 1)) == 2
