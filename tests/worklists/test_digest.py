"""The coordinators' morning digest: once per clinic per day, in clinic time, counting the right people and
naming none."""

import datetime
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from patients import services
from patients.models import DigestRun, Membership, Reminder
from patients.worklists.digest import send_coordinator_digests
from tests.factories import INDUCTION, MembershipFactory, PatientFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

D = datetime.date
UTC = datetime.UTC
TODAY = D(2026, 6, 15)
# 07:45 in London (digest time 07:30), 02:45 in New York.
NOW = datetime.datetime(2026, 6, 15, 6, 45, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(time_machine, settings):
    settings.DIGEST_SEND_TIME = datetime.time(7, 30)
    time_machine.move_to(NOW, tick=False)


def patient_placed(clinic, product, placed_on, *, record_number, **extra):
    patient = PatientFactory(
        clinic=clinic, record_number=record_number, first_name="Pat", last_name=record_number, **extra
    )
    services.record_placement(patient=patient, product=product, placed_on=placed_on, **INDUCTION)
    return patient


@pytest.fixture
def cast(clinic, implant, coordinator, clinician, other_coordinator):
    """One patient in each situation the digest reports, and one it does not."""
    patients = {
        # Covered until 10 June: five days without cover.
        "lapsed": patient_placed(clinic, implant, D(2026, 3, 10), record_number="RN-LAPSED"),
        # Covered until 5 April: far beyond the re-induction limit.
        "reinduction": patient_placed(clinic, implant, D(2026, 1, 5), record_number="RN-REINDUCT"),
        # Covered until 20 June: renewal window open since 6 June, nothing booked.
        "unbooked": patient_placed(clinic, implant, D(2026, 3, 20), record_number="RN-UNBOOKED"),
        # Covered until 25 June, renewal booked: nothing to do.
        "booked": patient_placed(clinic, implant, D(2026, 3, 25), record_number="RN-BOOKED"),
        # Placed this month: covered, nothing due.
        "covered": patient_placed(clinic, implant, D(2026, 6, 1), record_number="RN-COVERED"),
        # No email consent, monitoring visit due 18 June: today's reminder is skipped, to phone.
        "no_consent": patient_placed(
            clinic, implant, D(2026, 5, 18), record_number="RN-NOCONSENT", email_consent=False, email_consent_at=None
        ),
    }
    renewal = patients["booked"].visits.get(kind="renewal")
    services.reschedule_visit(visit=renewal, appointment_at=datetime.datetime(2026, 6, 18, 9, tzinfo=UTC))
    services.mark_missed_visits(today=TODAY)
    return patients


def digests_to(address):
    return [message for message in mail.outbox if message.to == [address]]


def test_it_sends_each_coordinator_one_digest_a_day(cast, coordinator, clinic):
    second = UserFactory(username="second-coordinator", is_staff=True)
    MembershipFactory(user=second, clinic=clinic, role=Membership.Role.COORDINATOR)
    assert send_coordinator_digests(now=NOW) == 2
    assert send_coordinator_digests(now=NOW + datetime.timedelta(minutes=5)) == 0
    assert send_coordinator_digests(now=NOW + datetime.timedelta(hours=1)) == 0
    assert sorted(message.to[0] for message in mail.outbox) == [
        "coordinator@clinic.example",
        "second-coordinator@clinic.example",
    ]
    run = DigestRun.objects.get(clinic=clinic)
    assert (run.day, run.sent_at) == (TODAY, NOW)


def test_it_sends_again_the_next_day(cast, coordinator):
    send_coordinator_digests(now=NOW)
    send_coordinator_digests(now=NOW + datetime.timedelta(days=1))
    assert len(digests_to(coordinator.email)) == 2


def test_it_waits_for_the_digest_time_in_clinic_time(cast, coordinator, other_coordinator, other_clinic):
    # 07:29 in London.
    assert send_coordinator_digests(now=datetime.datetime(2026, 6, 15, 6, 29, tzinfo=UTC)) == 0
    assert not DigestRun.objects.exists()
    # 07:45 in London is 02:45 in New York: only London's coordinators hear.
    assert send_coordinator_digests(now=NOW) == 1
    assert digests_to(coordinator.email)
    assert not digests_to(other_coordinator.email)
    # 07:31 in New York.
    assert send_coordinator_digests(now=datetime.datetime(2026, 6, 15, 11, 31, tzinfo=UTC)) == 1
    assert len(digests_to(other_coordinator.email)) == 1
    assert DigestRun.objects.get(clinic=other_clinic).day == TODAY


def test_it_goes_to_active_coordinators_with_an_address_only(cast, clinic, coordinator):
    for username, email, active in (("left", "left@clinic.example", False), ("no-address", "", True)):
        user = UserFactory(username=username, email=email, is_active=active, is_staff=True)
        MembershipFactory(user=user, clinic=clinic, role=Membership.Role.COORDINATOR)
    send_coordinator_digests(now=NOW)
    assert [message.to for message in mail.outbox] == [[coordinator.email]]  # not the clinician either


def test_it_leaves_the_day_to_the_worker_that_claimed_it(cast, clinic):
    DigestRun.objects.create(clinic=clinic, day=TODAY)
    assert send_coordinator_digests(now=NOW) == 0
    assert mail.outbox == []


def test_it_takes_over_a_day_whose_worker_died_before_sending(cast, clinic, coordinator):
    DigestRun.objects.create(clinic=clinic, day=TODAY, claimed_at=NOW - datetime.timedelta(minutes=10))
    assert send_coordinator_digests(now=NOW) == 0  # the claim is recent: its worker may still be sending
    later = NOW + datetime.timedelta(minutes=25)
    assert send_coordinator_digests(now=later) == 1
    assert send_coordinator_digests(now=later) == 0
    assert DigestRun.objects.get(clinic=clinic, day=TODAY).sent_at == later


def test_it_tries_again_when_no_email_could_go_out(cast, coordinator, monkeypatch):
    def refused(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("connection dropped")

    with monkeypatch.context() as patched:
        patched.setattr(EmailMultiAlternatives, "send", refused)
        assert send_coordinator_digests(now=NOW) == 0
    assert not DigestRun.objects.exists()
    assert send_coordinator_digests(now=NOW + datetime.timedelta(minutes=5)) == 1


def body_of(coordinator):
    (message,) = digests_to(coordinator.email)
    return message.subject, message.body, message.alternatives[0][0]


def count_in(body, title):
    """The count given for one list in the plain-text digest."""
    return int(body.split(f"\n{title}: ", 1)[1].split("\n", 1)[0])


def test_it_counts_the_right_patients_in_each_list(cast, coordinator):
    send_coordinator_digests(now=NOW)
    subject, body, html = body_of(coordinator)
    assert subject == "Riverside Clinic digest for Mon 15 Jun: 7 to follow up"
    assert count_in(body, "Coverage lapsed") == 1  # RN-LAPSED
    assert count_in(body, "Re-induction required") == 1  # RN-REINDUCT
    assert count_in(body, "Renewal window open, no appointment") == 1  # RN-UNBOOKED, not RN-BOOKED
    # RN-LAPSED's renewal (10 Jun), RN-UNBOOKED's (20 May) and RN-BOOKED's (25 May) monitoring;
    # RN-REINDUCT's April renewal is older than 30 days, a lapse listed above.
    assert count_in(body, "Missed visits (last 30 days)") == 3
    assert count_in(body, "Reminders that did not go out (phone instead)") == 1  # RN-NOCONSENT
    assert "http://" in body or "https://" in body
    assert ">1</td>" in html


def test_it_names_no_patient(cast, coordinator):
    send_coordinator_digests(now=NOW)
    (message,) = digests_to(coordinator.email)
    everything = "\n".join([message.subject, message.body, message.alternatives[0][0]])
    for patient in cast.values():
        for detail in (patient.record_number, patient.first_name, patient.last_name, patient.email):
            assert detail not in everything
    for word in ("covered", "lapsed", "naltrexone", "implant"):
        assert f"{word}" not in everything.replace("Coverage lapsed", "")


def test_it_counts_yesterdays_failed_reminders(cast, coordinator):
    reminder = cast["covered"].reminders.filter(status=Reminder.Status.PENDING).first()
    Reminder.objects.filter(pk=reminder.pk).update(
        status=Reminder.Status.FAILED,
        send_at=datetime.datetime(2026, 6, 14, 9, tzinfo=UTC),
        last_error="550 mailbox unavailable",
    )
    send_coordinator_digests(now=NOW)
    assert count_in(body_of(coordinator)[1], "Reminders that did not go out (phone instead)") == 2


def test_it_counts_only_the_clinics_own_patients(cast, coordinator, other_coordinator, other_clinic):
    product = ProductFactory(clinic=other_clinic, name="Three-month implant")
    patient_placed(other_clinic, product, D(2026, 3, 10), record_number="RN-ELSEWHERE")
    send_coordinator_digests(now=NOW)
    send_coordinator_digests(now=datetime.datetime(2026, 6, 15, 12, tzinfo=UTC))
    assert count_in(body_of(coordinator)[1], "Coverage lapsed") == 1
    elsewhere = body_of(other_coordinator)[1]
    assert count_in(elsewhere, "Coverage lapsed") == 1
    assert count_in(elsewhere, "Re-induction required") == 0


def many_patients(clinic, implant, count):
    situations = (D(2026, 3, 10), D(2026, 1, 5), D(2026, 3, 20), D(2026, 6, 1))
    for number in range(count):
        patient_placed(clinic, implant, situations[number % len(situations)], record_number=f"RN-{number:03d}")
    services.mark_missed_visits(today=TODAY)


@pytest.mark.parametrize("count", [5, 30])
def test_it_takes_the_same_queries_for_five_or_thirty_patients(
    clinic, implant, coordinator, count, django_assert_num_queries
):
    many_patients(clinic, implant, count)
    # Clinics; then for the clinic: the claim (check, savepoint, insert, release), coordinators,
    # one count per list, the dashboard's own queries (lapsed, re-induction, renewals, missed,
    # reminders, visits of patients who stopped emails), and the stamp.
    with django_assert_num_queries(13):
        assert send_coordinator_digests(now=NOW) == 1
    assert count_in(mail.outbox[0].body, "Re-induction required") == count // 4 + (count % 4 > 1)
