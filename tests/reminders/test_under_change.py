"""Reminders stay true when plans change: while rows wait, while they are in flight, and after a
worker dies holding them. Each test drives the real services and the real dispatcher, with
Django's test outbox behind a backend that can fail or let something happen mid-send."""

import datetime
import logging
import re
import uuid

import icalendar
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from patients import services
from patients.models import Clinic, PipelineHeartbeat, Reminder, Visit
from patients.reminders import claims, outbox, sending
from patients.reminders.dispatcher import RunClock, dispatch
from tests.factories import INDUCTION, ClinicFactory, PatientFactory, ProductFactory
from tests.helpers import london
from tests.mail_backends import ScriptedBackend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scripted_mail")]

D = datetime.date
Reason = Reminder.CancelReason


@pytest.fixture
def start(time_machine):
    time_machine.move_to(london(D(2026, 6, 1), 12), tick=False)
    return time_machine


def placed(clinic, product, **details):
    patient = PatientFactory(clinic=clinic, **details)
    services.record_placement(patient=patient, product=product, placed_on=D(2026, 6, 1), **INDUCTION)
    return patient  # first monitoring visit due 1 July (window 24 June to 8 July)


@pytest.fixture
def patient(clinic, implant, start):
    return placed(clinic, implant)


def first_visit(patient):
    return patient.visits.get(kind=Visit.Kind.MONITORING, due_on=D(2026, 7, 1))


def to(patient):
    return [message for message in mail.outbox if patient.email in message.to]


def claim_due(clinic, moment):
    """A worker claims the clinic's due rows at ``moment``: what it holds when it dies."""
    return claims.claim_batch(clinic=clinic, due_at=moment, clock=RunClock(moment))


def calendar_event(message):
    (_, content, _) = next(a for a in message.attachments if a[2].startswith("text/calendar"))
    calendar = icalendar.Calendar.from_ical(content)
    return calendar, next(iter(calendar.walk("VEVENT")))


# 1. A visit is missed only when it is over.


def test_a_visit_booked_after_its_window_is_not_missed_before_its_appointment(patient, start):
    visit = first_visit(patient)
    late = london(visit.window_end + datetime.timedelta(days=3), 11)
    services.reschedule_visit(visit=visit, appointment_at=late, override_reason="Away until then")
    for day in range(1, 4):
        today = visit.window_end + datetime.timedelta(days=day)
        start.move_to(london(today, 0, 15))
        services.mark_missed_visits(today=today, now=london(today, 0, 15))
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SCHEDULED
    assert not visit.reminders.filter(kind=Reminder.Kind.MISSED_VISIT).exists()
    # Its reminders announce the appointment, and go out before it.
    assert set(
        visit.reminders.filter(status=Reminder.Status.PENDING).values_list("kind", "appointment_at", "send_at")
    ) == {
        (Reminder.Kind.MONITORING_3_DAYS, late, london(late.date() - datetime.timedelta(days=3))),
        (Reminder.Kind.MONITORING_1_DAY, late, london(late.date() - datetime.timedelta(days=1))),
    }
    # The day after the appointment, it is over.
    today = late.date() + datetime.timedelta(days=1)
    start.move_to(london(today, 0, 15))
    assert services.mark_missed_visits(today=today, now=london(today, 0, 15)) == 1
    missed = visit.reminders.get(kind=Reminder.Kind.MISSED_VISIT)
    assert missed.send_at > late


def test_a_renewal_booked_after_the_last_covered_day_is_not_missed_before_it(patient, start):
    renewal = patient.visits.get(kind=Visit.Kind.RENEWAL)
    late = london(renewal.window_end + datetime.timedelta(days=2), 9)
    services.reschedule_visit(visit=renewal, appointment_at=late, override_reason="Clinic closed that week")
    today = renewal.window_end + datetime.timedelta(days=2)
    services.mark_missed_visits(today=today, now=london(today, 0, 15))
    renewal.refresh_from_db()
    assert renewal.status == Visit.Status.SCHEDULED
    start.move_to(london(today, 8))
    dispatch(now=london(today, 8))
    assert not any("missed you" in message.subject for message in to(patient))


def test_a_missed_visit_can_be_booked_again(patient, start):
    visit = first_visit(patient)
    start.move_to(london(D(2026, 7, 9), 0, 15))
    services.mark_missed_visits(today=D(2026, 7, 9), now=london(D(2026, 7, 9), 0, 15))
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 14), 15), override_reason="Came back")
    visit.refresh_from_db()
    assert visit.status == Visit.Status.SCHEDULED
    withdrawn = visit.reminders.get(kind=Reminder.Kind.MISSED_VISIT)
    assert (withdrawn.status, withdrawn.cancel_reason) == (Reminder.Status.CANCELLED, Reason.VISIT_BOOKED)
    assert (
        visit.reminders.filter(status=Reminder.Status.PENDING, appointment_at=london(D(2026, 7, 14), 15)).count() == 2
    )


def test_a_discharged_patients_missed_visit_is_not_booked_again(patient, start):
    start.move_to(london(D(2026, 7, 9), 0, 15))
    services.mark_missed_visits(today=D(2026, 7, 9), now=london(D(2026, 7, 9), 0, 15))
    services.discharge_patient(patient=patient)
    with pytest.raises(ValidationError, match="discharged"):
        services.reschedule_visit(
            visit=first_visit(patient), appointment_at=london(D(2026, 7, 14), 15), override_reason="Came back"
        )
    assert first_visit(patient).status == Visit.Status.MISSED


# 2. Nothing goes out that is no longer true.

CHANGES = {
    "visit cancelled": (lambda patient: services.cancel_visit(visit=first_visit(patient)), Reason.VISIT_CANCELLED),
    "visit completed": (
        lambda patient: services.complete_visit(visit=first_visit(patient), completed_on=D(2026, 6, 28)),
        Reason.VISIT_COMPLETED,
    ),
    "appointment moved": (
        lambda patient: services.reschedule_visit(visit=first_visit(patient), appointment_at=london(D(2026, 7, 3), 9)),
        Reason.MOVED,
    ),
    "unsubscribed": (lambda patient: services.withdraw_email_consent(patient=patient), Reason.CONSENT_WITHDRAWN),
    "discharged": (lambda patient: services.discharge_patient(patient=patient), Reason.DISCHARGED),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_row_claimed_before_a_change_is_checked_right_before_it_is_sent(clinic, patient, start, change):
    make_change, reason = CHANGES[change]
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    claimed = claim_due(clinic, moment)
    assert [row.kind for row in claimed] == [Reminder.Kind.MONITORING_3_DAYS]
    make_change(patient)
    sending.send_batch(claimed, clock=RunClock(moment))
    assert to(patient) == []
    row = Reminder.objects.get(pk=claimed[0].pk)
    assert (row.status, row.cancel_reason) == (Reminder.Status.CANCELLED, reason)


@pytest.mark.parametrize("change", CHANGES)
def test_a_dead_workers_row_is_checked_before_it_goes_out_again(clinic, patient, start, change):
    make_change, reason = CHANGES[change]
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    (row,) = claim_due(clinic, moment)  # the worker dies holding it
    start.move_to(moment + datetime.timedelta(minutes=1))
    make_change(patient)
    for minutes in (6, 12, 30):
        start.move_to(moment + datetime.timedelta(minutes=minutes))
        dispatch(now=moment + datetime.timedelta(minutes=minutes))
    # The row itself never goes out; a notice of what changed may (the dead worker may have sent it).
    assert row.message_id not in [message.extra_headers["Message-ID"] for message in to(patient)]
    assert all(re.search("is cancelled|has moved to", message.subject) for message in to(patient))
    row.refresh_from_db()
    assert (row.status, row.cancel_reason) == (Reminder.Status.CANCELLED, reason)


def test_a_dead_workers_row_still_true_goes_out_with_its_attempt_counted(clinic, patient, start):
    moment = london(D(2026, 6, 28))
    (row,) = claim_due(clinic, moment)
    dispatch(now=moment + datetime.timedelta(minutes=6))
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Reminder.Status.SENT, 2)
    assert len(to(patient)) == 1


def test_a_row_that_keeps_killing_its_worker_ends_failed(clinic, patient, start, settings):
    moment = london(D(2026, 6, 28))
    for attempt in range(settings.REMINDER_MAX_ATTEMPTS):
        now = moment + datetime.timedelta(minutes=10 * attempt)
        claims.return_abandoned(now=now)  # the previous worker's lease has run out
        assert len(claim_due(clinic, now)) == 1  # and this one dies too
    dispatch(now=moment + datetime.timedelta(hours=1))
    row = patient.reminders.get(kind=Reminder.Kind.MONITORING_3_DAYS, visit=first_visit(patient))
    assert (row.status, row.attempts) == (Reminder.Status.FAILED, settings.REMINDER_MAX_ATTEMPTS)
    assert "worker stopped" in row.last_error
    assert to(patient) == []


# 3. Every change reaches the patient once.


def test_an_appointment_moved_after_its_reminders_went_out_is_announced_again(patient, start):
    visit = first_visit(patient)
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 1), 11))
    for day in (28, 30):
        start.move_to(london(D(2026, 6, day)))
        dispatch(now=london(D(2026, 6, day)))
    told = len(to(patient))
    start.move_to(london(D(2026, 6, 30), 15))
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 7), 15))
    for moment in [london(D(2026, 6, 30), 15, 1)] + [london(D(2026, 7, day)) for day in range(1, 8)]:
        start.move_to(moment)
        dispatch(now=moment)
    emails = to(patient)
    assert told == 2
    new = emails[told:]
    assert [message.subject.split(" on ")[0].split(" has ")[0] for message in new] == [
        "Your appointment at Riverside Clinic",
        "Your appointment at Riverside Clinic",
        "Your appointment at Riverside Clinic",
    ]
    assert "has moved to Tue 7 July" in new[0].subject  # at once, then 3 days and 1 day before
    events = [calendar_event(message)[1] for message in emails]
    assert len({str(event["UID"]) for event in events}) == 1
    sequences = [int(event["SEQUENCE"]) for event in events]
    assert sequences == sorted(sequences)
    assert sequences[-1] > sequences[0]
    assert {event.decoded("DTSTART") for event in events[told:]} == {london(D(2026, 7, 7), 15)}


def test_a_move_is_announced_once_however_often_the_dispatcher_runs(patient, start):
    visit = first_visit(patient)
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 1), 11))
    start.move_to(london(D(2026, 6, 28)))
    dispatch(now=london(D(2026, 6, 28)))
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 2), 11))
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 2), 11))  # saved twice
    for minute in range(3):
        dispatch(now=london(D(2026, 6, 28), 10, minute))
    assert [message.subject for message in to(patient)].count(
        "Your appointment at Riverside Clinic has moved to Thu 2 July"
    ) == 1


def test_a_visit_cancelled_while_its_reminder_was_in_flight_gets_its_cancellation(clinic, patient, start):
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    # The coordinator cancels the visit while the reminder is on the wire.
    ScriptedBackend.script.append(lambda: services.cancel_visit(visit=first_visit(patient)))
    dispatch(now=moment)
    assert len(to(patient)) == 1
    notice = first_visit(patient).reminders.get(kind=Reminder.Kind.VISIT_CANCELLED)
    assert notice.status == Reminder.Status.PENDING
    dispatch(now=moment + datetime.timedelta(minutes=1))
    dispatch(now=moment + datetime.timedelta(minutes=2))
    emails = to(patient)
    assert len(emails) == 2
    assert "is cancelled" in emails[1].subject
    assert str(calendar_event(emails[1])[0]["METHOD"]) == "CANCEL"


def test_a_visit_moved_while_its_reminder_was_in_flight_is_announced_at_its_new_time(clinic, patient, start):
    visit = first_visit(patient)
    services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 1), 11))
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    ScriptedBackend.script.append(
        lambda: services.reschedule_visit(visit=visit, appointment_at=london(D(2026, 7, 6), 11))
    )
    dispatch(now=moment)
    dispatch(now=moment + datetime.timedelta(minutes=1))
    subjects = [message.subject for message in to(patient)]
    assert subjects == [
        "Your appointment at Riverside Clinic on Wed 1 July",
        "Your appointment at Riverside Clinic has moved to Mon 6 July",
    ]


def test_a_visit_cancelled_after_a_worker_died_mid_send_gets_its_cancellation(clinic, patient, start):
    """The dead worker may have sent the reminder before it died: the patient is told it is off."""
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    claim_due(clinic, moment)
    services.cancel_visit(visit=first_visit(patient))
    for minutes in (6, 7):
        start.move_to(moment + datetime.timedelta(minutes=minutes))
        dispatch(now=moment + datetime.timedelta(minutes=minutes))
    assert [message.subject for message in to(patient)] == [
        "Your appointment at Riverside Clinic on Wed 1 July is cancelled"
    ]


def test_a_visit_superseded_by_a_new_placement_is_cleared_from_the_calendar(patient, implant, start):
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    dispatch(now=moment)  # the 1 July visit is announced
    start.move_to(london(D(2026, 6, 29), 12))
    services.record_placement(
        patient=patient, product=implant, placed_on=D(2026, 6, 29), early_renewal_reason="Travelling"
    )
    dispatch(now=london(D(2026, 6, 29), 12))
    emails = to(patient)
    assert [message.subject for message in emails][-1] == (
        "Your appointment at Riverside Clinic on Wed 1 July is cancelled"
    )
    assert str(calendar_event(emails[-1])[0]["METHOD"]) == "CANCEL"


def test_a_visit_already_over_needs_no_cancellation(patient, start):
    visit = first_visit(patient)
    start.move_to(london(D(2026, 6, 28)))
    dispatch(now=london(D(2026, 6, 28)))
    start.move_to(london(D(2026, 7, 9), 12))  # the window closed yesterday
    services.cancel_visit(visit=visit)
    assert not visit.reminders.filter(kind=Reminder.Kind.VISIT_CANCELLED).exists()


def test_the_outbox_holds_one_live_row_per_visit_rule_and_appointment(patient):
    row = first_visit(patient).reminders.get(kind=Reminder.Kind.MONITORING_3_DAYS)
    appointment = london(D(2026, 7, 1), 11)

    def copy(**changes):
        fields = {
            "patient": patient,
            "visit": row.visit,
            "kind": row.kind,
            "send_at": row.send_at,
            "next_attempt_at": row.send_at,
            "message_id": f"<{uuid.uuid4().hex}@test>",
        }
        return Reminder.objects.create(**(fields | changes))

    with pytest.raises(IntegrityError), transaction.atomic():
        copy()  # the visit not booked: one live row per rule
    booked = copy(appointment_at=appointment)  # another appointment: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        copy(appointment_at=appointment)
    assert booked.pk


# 4. One clinic cannot stop the others.


@pytest.mark.parametrize(
    "hours", [{"reminder_daytime_start": datetime.time(8)}, {"reminder_daytime_end": datetime.time(20)}]
)
def test_a_clinic_sets_both_reminder_hours_or_neither(hours):
    clinic = ClinicFactory.build(name="Half Hours Clinic", **hours)
    with pytest.raises(ValidationError, match="Set both reminder hours"):
        clinic.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        clinic.save()


def test_the_admin_refuses_a_clinic_with_one_reminder_hour(client, admin_user_account, clinic):
    client.force_login(admin_user_account)
    response = client.post(
        f"/admin/patients/clinic/{clinic.pk}/change/",
        {
            "name": clinic.name,
            "time_zone": clinic.time_zone,
            "phone": clinic.phone,
            "address": clinic.address,
            "reply_to_email": clinic.reply_to_email,
            "reminder_daytime_start": "08:00",
            "reminder_daytime_end": "",
        },
    )
    assert response.status_code == 200
    assert "Set both reminder hours" in response.content.decode()
    clinic.refresh_from_db()
    assert clinic.reminder_daytime_start is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Riverside\r\nBcc: everyone@example.org"), ("phone", "020\n7946"), ("reply_to_email", "a@b.org\n")],
)
def test_text_that_travels_in_a_header_refuses_control_characters(clinic, field, value):
    setattr(clinic, field, value)
    with pytest.raises(ValidationError) as refused:
        clinic.full_clean()
    assert field in refused.value.message_dict


def test_an_error_in_one_clinic_leaves_the_others_served(
    clinic, patient, start, client, coordinator, caplog, monkeypatch
):
    broken = ClinicFactory(name="Broken Clinic")
    stranded = placed(broken, ProductFactory(clinic=broken, coverage_length=3))
    real_daytime = outbox.clinic_daytime

    def daytime(of: Clinic):
        if of.pk == broken.pk:
            raise LookupError("No time zone found with key Mars/Olympus_Mons")
        return real_daytime(of)

    monkeypatch.setattr(outbox, "clinic_daytime", daytime)
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    with caplog.at_level(logging.ERROR, logger="patients.reminders.dispatcher"):
        report = dispatch(now=moment)
    assert report.sent == 1
    assert report.clinics_failed == 1
    assert len(to(patient)) == 1
    assert to(stranded) == []
    assert PipelineHeartbeat.objects.get(name=PipelineHeartbeat.DISPATCHER).last_run_at == moment
    assert "Broken Clinic" in caplog.text
    assert PipelineHeartbeat.objects.get(clinic=broken).is_failing
    assert not PipelineHeartbeat.objects.get(clinic=clinic).is_failing
    # The broken clinic's coordinators see a red banner saying why; the others' pages do not.
    from tests.factories import MembershipFactory, UserFactory

    broken_coordinator = UserFactory(username="broken-coordinator", is_staff=True)
    MembershipFactory(user=broken_coordinator, clinic=broken)
    client.force_login(broken_coordinator)
    page = client.get("/").content.decode()
    assert "Reminders for Broken Clinic are not going out" in page
    assert "Mars/Olympus_Mons" in page
    client.force_login(coordinator)
    assert "Reminders for Broken Clinic" not in client.get("/").content.decode()


def test_clinics_are_served_in_turn(clinic, patient, start, settings, implant):
    settings.REMINDER_BATCH_SIZE = 1
    busy = [placed(clinic, implant) for _ in range(3)]
    other_clinic = ClinicFactory(name="Quiet Clinic")
    quiet = placed(other_clinic, ProductFactory(clinic=other_clinic, coverage_length=3))
    moment = london(D(2026, 6, 28))
    start.move_to(moment)
    dispatch(now=moment)
    order = [message.to[0] for message in mail.outbox]
    assert len(order) == 5
    # The quiet clinic's one reminder goes in the first round, not after the busy clinic's backlog.
    assert quiet.email in order[:2]
    assert set(order) == {p.email for p in [patient, *busy, quiet]}


def test_the_heartbeat_records_a_run_that_finished(patient, start):
    moment = london(D(2026, 6, 28))
    ScriptedBackend.script.append(SoftTimeLimitExceeded())
    with pytest.raises(SoftTimeLimitExceeded):
        dispatch(now=moment)
    assert not PipelineHeartbeat.objects.filter(name=PipelineHeartbeat.DISPATCHER).exists()
    dispatch(now=moment + datetime.timedelta(minutes=1))
    beat = PipelineHeartbeat.objects.get(name=PipelineHeartbeat.DISPATCHER)
    assert beat.last_run_at == moment + datetime.timedelta(minutes=1)


# 5. One row cannot hold its batch.


def test_any_error_with_one_row_is_recorded_on_it_and_the_batch_goes_on(clinic, implant, patient, start, settings):
    other = placed(clinic, implant)
    moment = london(D(2026, 6, 28))
    failures = [RuntimeError("the backend tripped over this one")] * settings.REMINDER_MAX_ATTEMPTS
    for attempt, failure in enumerate(failures):
        ScriptedBackend.script.append(failure)
        dispatch(now=moment + datetime.timedelta(hours=attempt))
    first = Reminder.objects.filter(kind=Reminder.Kind.MONITORING_3_DAYS, visit__due_on=D(2026, 7, 1))
    statuses = dict(first.values_list("patient_id", "status"))
    # Each run failed the oldest row and sent the other; the failing one ends failed with its reason.
    assert sorted(statuses.values()) == [Reminder.Status.FAILED, Reminder.Status.SENT]
    failed = first.get(status=Reminder.Status.FAILED)
    assert failed.attempts == settings.REMINDER_MAX_ATTEMPTS
    assert failed.last_error == "Could not send: RuntimeError: the backend tripped over this one"
    assert {patient.pk, other.pk} == set(statuses)


def test_a_soft_time_limit_stops_the_run_and_hands_back_the_rest(clinic, implant, patient, start):
    others = [placed(clinic, implant) for _ in range(3)]
    moment = london(D(2026, 6, 28))
    ScriptedBackend.script.extend([None, SoftTimeLimitExceeded()])
    with pytest.raises(SoftTimeLimitExceeded):
        dispatch(now=moment)
    due = Reminder.objects.filter(kind=Reminder.Kind.MONITORING_3_DAYS, visit__due_on=D(2026, 7, 1))
    assert sorted(due.values_list("status", "attempts")) == [
        ("pending", 0),
        ("pending", 0),
        ("pending", 1),  # the one on the wire: back, with its attempt counted
        ("sent", 1),
    ]
    assert len(mail.outbox) == 1
    dispatch(now=moment + datetime.timedelta(minutes=5))
    assert len(mail.outbox) == 1 + len(others)


# 6. Withdrawn is not forgotten.


def reminders_section(page):
    """The dashboard's "Reminders that did not reach the patient" list; empty when it is not shown."""
    _, found, rest = page.partition('<section id="reminders"')
    return rest.split("</section>")[0] if found else ""


def test_an_unsubscribed_patients_visits_stay_on_the_phone_list_until_over(client, coordinator, patient, start):
    start.move_to(london(D(2026, 6, 25), 12))
    services.withdraw_email_consent(patient=patient)
    assert set(first_visit(patient).reminders.values_list("status", "cancel_reason")) == {
        (Reminder.Status.CANCELLED, Reason.CONSENT_WITHDRAWN)
    }
    client.force_login(coordinator)
    section = reminders_section(client.get("/").content.decode())
    assert patient.record_number in section
    assert "Stopped email reminders: monitoring visit due 1 Jul" in section
    # The patient's page keeps why each reminder was withdrawn.
    assert "The patient stopped email reminders" in client.get(patient.get_absolute_url()).content.decode()
    # Once every visit of the placement is over, the patient leaves the list.
    start.move_to(london(D(2026, 9, 2), 12))
    for visit in patient.visits.filter(status=Visit.Status.SCHEDULED):
        services.complete_visit(visit=visit, completed_on=D(2026, 9, 1))
    assert patient.record_number not in reminders_section(client.get("/").content.decode())


# 7. Races, and ticks that piled up.


def test_every_periodic_task_expires_before_its_next_tick(settings):
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert 0 < entry["options"]["expires"] < entry["schedule"], name


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_visit_completed_while_missed_visits_are_marked_gets_no_we_missed_you(clinic, implant, start):
    """Marking locks the visits it changes: a completion that holds the row first wins, cleanly."""
    import threading

    from django.db import connection

    patient = placed(clinic, implant)
    visit = first_visit(patient)
    today = D(2026, 7, 9)
    start.move_to(london(today, 0, 15))
    locked, release = threading.Event(), threading.Event()

    def coordinator_completes() -> None:
        try:
            with transaction.atomic():
                Visit.objects.select_for_update().get(pk=visit.pk)
                locked.set()
                release.wait(5)
                services.complete_visit(visit=visit, completed_on=D(2026, 7, 8))
        finally:
            connection.close()

    worker = threading.Thread(target=coordinator_completes)
    worker.start()
    assert locked.wait(5)
    threading.Timer(0.5, release.set).start()
    services.mark_missed_visits(today=today, now=london(today, 0, 15))
    worker.join(5)
    visit.refresh_from_db()
    assert visit.status == Visit.Status.COMPLETED
    assert not visit.reminders.filter(kind=Reminder.Kind.MISSED_VISIT).exists()
