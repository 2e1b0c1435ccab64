"""Reminder rows are written and withdrawn by the services, with the visits they announce."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from patients import services
from patients.models import Reminder, Visit
from patients.reminders.outbox import new_message_id
from tests.factories import INDUCTION, PatientFactory
from tests.helpers import london

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(london(D(2026, 6, 15), 12), tick=False)


def place(patient, product, placed_on, **extra):
    return services.record_placement(patient=patient, product=product, placed_on=placed_on, **(INDUCTION | extra))


def rows(patient, **filters):
    return list(patient.reminders.filter(**filters).order_by("send_at").values_list("kind", "send_at", "status"))


def test_a_placement_writes_every_reminder_of_its_plan_at_ten_clinic_time(patient, implant):
    place(patient, implant, D(2026, 6, 10))  # visits 10 Jul, 10 Aug, renewal 10 Sep
    assert rows(patient) == [
        ("monitoring_3_days", london(D(2026, 7, 7)), "pending"),
        ("monitoring_1_day", london(D(2026, 7, 9)), "pending"),
        ("monitoring_3_days", london(D(2026, 8, 7)), "pending"),
        ("monitoring_1_day", london(D(2026, 8, 9)), "pending"),
        ("renewal_14_days", london(D(2026, 8, 27)), "pending"),
        ("renewal_3_days", london(D(2026, 9, 7)), "pending"),
        ("renewal_1_day", london(D(2026, 9, 9)), "pending"),
    ]
    assert len({row.message_id for row in patient.reminders.all()}) == 7


def test_a_placement_recorded_late_marks_the_reminders_already_due_as_expired(patient, implant):
    place(patient, implant, D(2026, 5, 12))  # the first visit is due 12 June, three days ago
    assert rows(patient)[:3] == [
        ("monitoring_3_days", london(D(2026, 6, 9)), "expired"),
        ("monitoring_1_day", london(D(2026, 6, 11)), "expired"),
        ("monitoring_3_days", london(D(2026, 7, 9)), "pending"),
    ]


@pytest.mark.parametrize(
    ("details", "reason"),
    [({"email_consent": False, "email_consent_at": None}, "no_consent"), ({"email": ""}, "no_email")],
)
def test_a_patient_who_cannot_be_emailed_gets_skipped_rows_with_the_reason(clinic, implant, details, reason):
    patient = PatientFactory(clinic=clinic, **details)
    place(patient, implant, D(2026, 6, 10))
    assert set(patient.reminders.values_list("status", "skip_reason")) == {("skipped", reason)}


def test_booking_an_appointment_moves_the_reminders_not_yet_sent(patient, implant):
    visit = place(patient, implant, D(2026, 6, 10)).visits.get(due_on=D(2026, 7, 10))
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 14), 15))
    assert rows(patient, visit=visit, status="pending") == [
        ("monitoring_3_days", london(D(2026, 7, 11)), "pending"),
        ("monitoring_1_day", london(D(2026, 7, 13)), "pending"),
    ]
    assert patient.reminders.filter(visit=visit, status="cancelled").count() == 2


def test_booking_after_a_reminder_went_out_announces_the_appointment_again(patient, implant):
    """The outbox's uniqueness follows the appointment: a new time gets every rule's reminder again.
    (Before, a rule sent once for the visit was never sent again, whatever the new time.)"""
    visit = place(patient, implant, D(2026, 6, 10)).visits.get(due_on=D(2026, 7, 10))
    first = visit.reminders.get(kind="monitoring_3_days")
    Reminder.objects.filter(pk=first.pk).update(status="sent", sent_at=london(D(2026, 7, 7)))
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 16), 9, 30))
    assert rows(patient, visit=visit) == [
        ("monitoring_3_days", london(D(2026, 7, 7)), "sent"),
        ("monitoring_1_day", london(D(2026, 7, 9)), "cancelled"),
        ("monitoring_3_days", london(D(2026, 7, 13)), "pending"),
        ("monitoring_1_day", london(D(2026, 7, 15)), "pending"),
    ]
    assert visit.reminders.get(status="cancelled").cancel_reason == Reminder.CancelReason.MOVED


def test_completing_a_visit_withdraws_its_reminders(patient, implant):
    visit = place(patient, implant, D(2026, 5, 20)).visits.get(due_on=D(2026, 6, 20))
    services.complete_visit(visit=visit, completed_on=D(2026, 6, 15))
    assert set(visit.reminders.values_list("status", flat=True)) == {"cancelled"}


def test_a_new_placement_withdraws_the_superseded_reminders(patient, implant):
    first = place(patient, implant, D(2026, 3, 20))  # renewal due 20 June, window from 6 June
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 15))
    renewal = first.visits.get(kind="renewal")
    assert set(renewal.reminders.exclude(status="expired").values_list("status", flat=True)) == {"cancelled"}


def test_cancelling_a_visit_after_a_reminder_went_out_sends_a_cancellation(patient, implant):
    visit = place(patient, implant, D(2026, 6, 10)).visits.get(due_on=D(2026, 7, 10))
    Reminder.objects.filter(visit=visit, kind="monitoring_3_days").update(status="sent", sent_at=london(D(2026, 7, 7)))
    services.cancel_visit(visit=visit)
    notice = visit.reminders.get(kind="visit_cancelled")
    assert (notice.status, notice.send_at) == ("pending", london(D(2026, 6, 15), 12))
    assert visit.reminders.get(kind="monitoring_1_day").status == "cancelled"


def test_cancelling_a_visit_nobody_was_told_about_sends_nothing(patient, implant):
    visit = place(patient, implant, D(2026, 6, 10)).visits.get(due_on=D(2026, 7, 10))
    services.cancel_visit(visit=visit)
    assert not visit.reminders.filter(kind="visit_cancelled").exists()


def test_discharge_withdraws_every_pending_reminder(patient, implant):
    place(patient, implant, D(2026, 6, 10))
    services.discharge_patient(patient=patient)
    assert set(patient.reminders.values_list("status", flat=True)) == {"cancelled"}


def test_withdrawing_consent_cancels_every_pending_reminder_at_once(patient, implant):
    place(patient, implant, D(2026, 6, 10))
    services.update_patient(patient=patient, email_consent=False)
    assert set(patient.reminders.values_list("status", flat=True)) == {"cancelled"}


def test_unsubscribing_cancels_every_pending_reminder_and_consent(patient, implant):
    place(patient, implant, D(2026, 6, 10))
    services.withdraw_email_consent(patient=patient)
    patient.refresh_from_db()
    assert (patient.email_consent, patient.email_consent_at) == (False, None)
    assert set(patient.reminders.values_list("status", flat=True)) == {"cancelled"}


def test_giving_consent_brings_back_the_reminders_still_to_come(clinic, implant):
    patient = PatientFactory(clinic=clinic, email_consent=False, email_consent_at=None)
    place(patient, implant, D(2026, 6, 10))
    services.update_patient(patient=patient, email_consent=True)
    assert patient.reminders.filter(status="pending").count() == 7
    assert set(patient.reminders.exclude(status="pending").values_list("status", flat=True)) == {"cancelled"}


def test_a_missed_visit_gets_one_we_missed_you_reminder_the_next_morning(patient, implant):
    place(patient, implant, D(2026, 5, 1))  # first visit due 1 June, window to 8 June
    services.mark_missed_visits(today=D(2026, 6, 9), now=london(D(2026, 6, 9), 0, 15))
    services.mark_missed_visits(today=D(2026, 6, 9), now=london(D(2026, 6, 9), 0, 30))
    visit = Visit.objects.get(status="missed")
    assert rows(patient, visit=visit, kind="missed_visit") == [("missed_visit", london(D(2026, 6, 9)), "pending")]


def test_a_second_live_copy_of_a_reminder_is_impossible(patient, implant):
    reminder = place(patient, implant, D(2026, 6, 10)).visits.first().reminders.first()
    row_uuid, message_id = new_message_id()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(
            uuid=row_uuid,
            message_id=message_id,
            patient=patient,
            visit=reminder.visit,
            kind=reminder.kind,
            send_at=reminder.send_at,
            next_attempt_at=reminder.send_at,
        )
    # Once the first is cancelled, the rule may write it again.
    Reminder.objects.filter(pk=reminder.pk).update(status="cancelled", cancel_reason="moved")
    Reminder.objects.create(
        uuid=row_uuid,
        message_id=message_id,
        patient=patient,
        visit=reminder.visit,
        kind=reminder.kind,
        send_at=reminder.send_at,
        next_attempt_at=reminder.send_at,
    )
