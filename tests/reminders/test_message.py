"""The email a patient gets: every kind says when, where and whom to call, and nothing about why."""

import datetime
import re
from dataclasses import dataclass
from email import utils as email_utils
from email.header import decode_header, make_header

import icalendar
import pytest
from django.conf import settings

from patients import services
from patients.models import Reminder, Visit
from patients.reminders import links
from patients.reminders.message import BANNED_WORDS, build_reminder_email, find_banned_words
from tests.factories import INDUCTION, ClinicFactory, PatientFactory, ProductFactory

pytestmark = pytest.mark.django_db

D = datetime.date
UTC = datetime.UTC
NOW = datetime.datetime(2026, 6, 15, 12, tzinfo=UTC)
# The first monitoring visit (due 15 July), booked for 10:30 London time.
MONITORING_APPOINTMENT = datetime.datetime(2026, 7, 14, 9, 30, tzinfo=UTC)
RENEWAL_APPOINTMENT = datetime.datetime(2026, 9, 14, 13, 0, tzinfo=UTC)
URL = re.compile(r"https?://[^\s\"'<>]+")


@dataclass
class Rendered:
    reminder: Reminder
    subject: str
    text: str
    html: str
    from_email: str
    headers: dict[str, str]
    calendars: list[icalendar.Calendar]
    raw_calendars: list[str]

    @property
    def everything(self) -> str:
        return "\n".join(
            [self.subject, self.text, self.html, self.from_email, *self.headers.values(), *self.raw_calendars]
        )

    @property
    def links(self) -> list[str]:
        return URL.findall(self.text) + URL.findall(self.html)


def render(reminder, *, now=NOW):
    reminder = Reminder.objects.select_related("patient__clinic", "visit").get(pk=reminder.pk)
    message = build_reminder_email(reminder, now=now)
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    raw = [
        content.decode() if isinstance(content, bytes) else content
        for filename, content, mimetype in message.attachments
        if mimetype.startswith("text/calendar")
    ]
    parsed = message.message()
    return Rendered(
        reminder=reminder,
        subject=message.subject,
        text=message.body,
        html=html,
        from_email=message.from_email,
        headers={name: str(parsed[name]) for name in ("Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")},
        calendars=[icalendar.Calendar.from_ical(text) for text in raw],
        raw_calendars=raw,
    )


@pytest.fixture(autouse=True)
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic, first_name="Ada", last_name="Lovelace", record_number="RN-4321")


@pytest.fixture
def visits(patient, implant):
    """Monitoring due 15 July and 15 August, renewal due 15 September, each with its reminders."""
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 15), **INDUCTION)
    first, second, renewal = patient.visits.order_by("due_on")
    assert (first.kind, second.kind, renewal.kind) == (
        Visit.Kind.MONITORING,
        Visit.Kind.MONITORING,
        Visit.Kind.RENEWAL,
    )
    return first, second, renewal


def live(visit, kind):
    return Reminder.objects.exclude(status=Reminder.Status.CANCELLED).get(visit=visit, kind=kind)


@pytest.fixture
def every_email(time_machine, visits):
    """One rendering of each reminder a patient can get, booked and not, missed and cancelled."""
    first, second, renewal = visits
    emails = [render(reminder) for reminder in Reminder.objects.filter(status=Reminder.Status.PENDING)]
    services.reschedule_visit(visit=first, appointment_at=MONITORING_APPOINTMENT)
    services.reschedule_visit(visit=renewal, appointment_at=RENEWAL_APPOINTMENT)
    emails += [render(reminder) for reminder in Reminder.objects.filter(status=Reminder.Status.PENDING)]
    # The renewal was announced, then moved a day later: the patient is told of the new time.
    Reminder.objects.filter(pk=live(renewal, Reminder.Kind.RENEWAL_14_DAYS).pk).update(
        status=Reminder.Status.SENT, sent_at=NOW
    )
    services.reschedule_visit(visit=renewal, appointment_at=RENEWAL_APPOINTMENT + datetime.timedelta(days=1))
    emails.append(render(live(renewal, Reminder.Kind.VISIT_MOVED)))
    # Then the clinic cancels it: the patient is told.
    services.cancel_visit(visit=renewal)
    emails.append(render(live(renewal, Reminder.Kind.VISIT_CANCELLED)))
    # Both monitoring visits go by unattended, the first booked, the second not.
    later = datetime.datetime(2026, 8, 23, 12, tzinfo=UTC)
    time_machine.move_to(later, tick=False)
    services.mark_missed_visits(today=D(2026, 8, 23))
    emails += [render(live(visit, Reminder.Kind.MISSED_VISIT), now=later) for visit in (first, second)]
    return emails


def test_it_renders_every_kind_of_reminder(every_email):
    assert {email.reminder.kind for email in every_email} == set(Reminder.Kind.values)


def test_it_names_no_treatment_anywhere(every_email):
    for email in every_email:
        assert find_banned_words(email.everything) == [], (email.reminder.kind, email.everything)
        for link in email.links:
            assert find_banned_words(link) == [], link


def test_it_says_only_the_first_name_and_no_record(every_email):
    for email in every_email:
        assert "Hello Ada," in email.text
        # The random uuid and the link tokens may spell anything ("1985" too): look in the rest.
        rest = email.everything.replace(email.reminder.uuid.hex, "")
        for token in re.findall(r"/r/([^/]+)/", rest):
            rest = rest.replace(token, "")
        for private in ("Lovelace", "RN-4321", "1985"):
            assert private not in rest
        for link in email.links:
            # The token is the reminder's random uuid, a time and a signature: nothing of the person.
            # Its characters may spell anything, so the name is looked for in the rest of the link.
            (token,) = re.findall(r"/r/([^/]+)/", link)
            assert token.split(".")[0] == email.reminder.uuid.hex
            assert "ada" not in link.replace(token, "").lower()


def test_it_gives_the_clinic_the_place_and_the_phone(every_email):
    for email in every_email:
        assert "Riverside Clinic" in email.subject
        assert "020 7946 0000" in email.text
        assert "tel:02079460000" in email.html
        assert email.from_email == "Riverside Clinic <reminders@localhost>"
    upcoming = [email for email in every_email if email.reminder.kind.startswith(("monitoring", "renewal"))]
    assert all("1 High Street, London" in email.text for email in upcoming)


def test_it_shows_a_booked_appointment_in_clinic_time(every_email):
    booked = [
        email
        for email in every_email
        if email.reminder.kind == Reminder.Kind.MONITORING_1_DAY and "10:30" in email.text
    ]
    assert booked, "the booked monitoring visit was not rendered"
    email = booked[0]
    assert email.subject == "Your appointment at Riverside Clinic on Tue 14 July"
    assert "Tuesday 14 July at 10:30" in email.text
    assert "Tuesday 14 July at 10:30" in email.html
    assert "09:30" not in email.text


def test_it_uses_the_clinics_own_time_zone(other_clinic):
    product = ProductFactory(clinic=other_clinic, name="Three-month implant")
    patient = PatientFactory(clinic=other_clinic)
    services.record_placement(patient=patient, product=product, placed_on=D(2026, 6, 15), **INDUCTION)
    visit = patient.visits.order_by("due_on").first()
    # 01:30 UTC on 15 July is still the evening of 14 July in New York.
    services.reschedule_visit(visit=visit, appointment_at=datetime.datetime(2026, 7, 15, 1, 30, tzinfo=UTC))
    email = render(live(visit, Reminder.Kind.MONITORING_3_DAYS))
    assert "Tuesday 14 July at 21:30" in email.text
    assert "Tue 14 July" in email.subject


def test_it_asks_an_unbooked_patient_to_call_and_book(every_email):
    email = next(
        email
        for email in every_email
        if email.reminder.kind == Reminder.Kind.MONITORING_3_DAYS and "book a time" in email.text
    )
    assert email.subject == "Your next appointment at Riverside Clinic is due on Wed 15 July"
    assert "any day between" in email.text


def test_it_stresses_that_a_renewal_matters_without_saying_why(every_email):
    renewals = [email for email in every_email if email.reminder.kind.startswith("renewal")]
    monitoring = [email for email in every_email if email.reminder.kind.startswith("monitoring")]
    assert renewals
    assert monitoring
    assert all("This appointment is important. Please do not miss it" in email.text for email in renewals)
    assert not any("important" in email.text for email in monitoring)


def test_it_tells_a_patient_they_were_missed_and_to_call(every_email):
    missed = [email for email in every_email if email.reminder.kind == Reminder.Kind.MISSED_VISIT]
    assert len(missed) == 2
    assert all(email.subject == "We missed you at Riverside Clinic" for email in missed)
    assert all("call us on 020 7946 0000 to book a new time" in email.text for email in missed)
    assert any("on Tuesday 14 July at 10:30" in email.text for email in missed)


def test_it_tells_a_patient_their_appointment_is_cancelled(every_email):
    email = next(email for email in every_email if email.reminder.kind == Reminder.Kind.VISIT_CANCELLED)
    # It was moved to the next day before it was cancelled: the notice names the time it was for.
    assert email.subject == "Your appointment at Riverside Clinic on Tue 15 September is cancelled"
    assert "Tuesday 15 September at 14:00 has been cancelled" in email.text
    assert "call us on 020 7946 0000" in email.text


def test_it_offers_the_confirm_link_only_for_a_visit_to_come(every_email):
    for email in every_email:
        has_confirm = any(link.endswith("/confirm/") for link in email.links)
        announces = email.reminder.kind.startswith(("monitoring", "renewal", "visit_moved"))
        assert has_confirm == announces, email.reminder.kind


def test_it_signs_links_that_name_the_reminder_and_nothing_else(every_email):
    for email in every_email:
        for link in email.links:
            if "/r/" not in link:
                continue
            token = link.removeprefix(settings.SITE_URL + "/r/").split("/")[0]
            # The fixture's clock ends two months on, past the links' age limit.
            assert links.read_token(token, max_age_days=365) == email.reminder
            assert token.split(".")[0] == email.reminder.uuid.hex


def test_it_sets_the_one_click_unsubscribe_headers(every_email):
    for email in every_email:
        unsubscribe = email.headers["List-Unsubscribe"]
        assert re.fullmatch(rf"<{re.escape(settings.SITE_URL)}/r/[^/]+/unsubscribe/>", unsubscribe)
        assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe.strip("<>") in email.links


def test_message_ids_end_with_the_sites_domain(patient, implant, settings):
    """Not ``localhost``: receiving servers score such Message-IDs as spam."""
    settings.SITE_URL = "https://tracker.example.org/"
    services.record_placement(patient=patient, product=implant, placed_on=D(2026, 6, 15), **INDUCTION)
    ids = set(patient.reminders.values_list("message_id", flat=True))
    assert len(ids) == 7
    assert all(re.fullmatch(r"<reminder\.[0-9a-f]{32}@tracker\.example\.org>", id_) for id_ in ids), ids


def test_it_gives_every_copy_the_rows_message_id(visits):
    reminder = live(visits[0], Reminder.Kind.MONITORING_3_DAYS)
    first = render(reminder)
    again = render(reminder, now=NOW + datetime.timedelta(minutes=7))
    assert first.headers["Message-ID"] == again.headers["Message-ID"] == reminder.message_id


def test_it_replies_to_the_clinic_when_it_has_an_address(visits, clinic):
    reminder = Reminder.objects.select_related("patient__clinic", "visit").filter(visit=visits[0]).first()
    assert build_reminder_email(reminder, now=NOW).reply_to == ["front-desk@clinic.example"]
    clinic.reply_to_email = ""
    clinic.save()
    reminder.patient.clinic.reply_to_email = ""
    assert build_reminder_email(reminder, now=NOW).reply_to == []


def event_of(email):
    (calendar,) = email.calendars
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_it_attaches_one_calendar_entry_per_visit(every_email, visits):
    first, _, renewal = visits
    site_host = settings.SITE_URL.split("://", 1)[1].split(":", 1)[0].split("/", 1)[0]
    with_calendar = [email for email in every_email if email.calendars]
    assert len(with_calendar) == len(every_email)
    assert {email.reminder.kind for email in with_calendar} == set(Reminder.Kind.values)
    for email in with_calendar:
        calendar, event = event_of(email)
        assert str(event["UID"]) == f"{email.reminder.visit.uuid}@{site_host}"
        assert str(event["SUMMARY"]) == "Appointment at Riverside Clinic"
        assert str(event["LOCATION"]) == "1 High Street, London"
        assert find_banned_words(str(calendar["PRODID"])) == []
    first_uids = {str(event_of(email)[1]["UID"]) for email in with_calendar if email.reminder.visit == first}
    renewal_uids = {str(event_of(email)[1]["UID"]) for email in with_calendar if email.reminder.visit == renewal}
    assert len(first_uids) == 1
    assert len(renewal_uids) == 1
    assert first_uids != renewal_uids


def test_it_puts_a_booked_appointment_in_the_calendar_for_half_an_hour(every_email):
    email = next(email for email in every_email if email.reminder.kind == "monitoring_1_day" and "10:30" in email.text)
    calendar, event = event_of(email)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == MONITORING_APPOINTMENT
    assert event.decoded("DTEND") == MONITORING_APPOINTMENT + datetime.timedelta(minutes=30)
    assert event.decoded("DTSTAMP") == NOW


def test_it_puts_an_unbooked_visit_in_the_calendar_as_its_due_day(visits):
    email = render(live(visits[1], Reminder.Kind.MONITORING_3_DAYS))
    _, event = event_of(email)
    assert event.decoded("DTSTART") == D(2026, 8, 15)
    assert event.decoded("DTEND") == D(2026, 8, 16)


@pytest.mark.parametrize("kind", [Reminder.Kind.VISIT_CANCELLED, Reminder.Kind.MISSED_VISIT])
def test_it_clears_the_calendar_entry_of_a_visit_that_will_not_happen(every_email, kind):
    email = next(email for email in every_email if email.reminder.kind == kind)
    calendar, event = event_of(email)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    message = build_reminder_email(email.reminder, now=NOW)
    assert message.attachments[0].mimetype == "text/calendar; method=CANCEL"


def test_it_numbers_later_calendar_updates_higher(visits):
    """Booking, moving and cancelling each raise the entry's SEQUENCE; copies of one message keep it."""
    visit = visits[0]
    unbooked = live(visit, Reminder.Kind.MONITORING_3_DAYS)
    sequences = [event_of(render(unbooked))[1]["SEQUENCE"]]
    assert event_of(render(unbooked, now=NOW + datetime.timedelta(days=2)))[1]["SEQUENCE"] == sequences[0]
    services.reschedule_visit(visit=visit, appointment_at=MONITORING_APPOINTMENT)
    sequences.append(event_of(render(live(visit, Reminder.Kind.MONITORING_3_DAYS)))[1]["SEQUENCE"])
    Reminder.objects.filter(visit=visit, kind=Reminder.Kind.MONITORING_3_DAYS, status="pending").update(
        status=Reminder.Status.SENT, sent_at=NOW
    )
    services.reschedule_visit(visit=visit, appointment_at=MONITORING_APPOINTMENT + datetime.timedelta(hours=2))
    sequences.append(event_of(render(live(visit, Reminder.Kind.VISIT_MOVED)))[1]["SEQUENCE"])
    services.cancel_visit(visit=visit)
    sequences.append(event_of(render(live(visit, Reminder.Kind.VISIT_CANCELLED)))[1]["SEQUENCE"])
    assert sequences == sorted(set(sequences)), sequences


def test_it_keeps_the_plain_text_unescaped_and_the_html_escaped(visits):
    clinic = ClinicFactory(name="Smith & Jones Santé")
    product = ProductFactory(clinic=clinic, name="Three-month implant")
    patient = PatientFactory(clinic=clinic, first_name="Zoë")
    services.record_placement(patient=patient, product=product, placed_on=D(2026, 6, 15), **INDUCTION)
    email = render(patient.reminders.first())
    assert "Smith & Jones Santé" in email.subject
    assert "Smith & Jones Santé" in email.text
    assert "Smith &amp; Jones Santé" in email.html
    assert "Hello Zoë," in email.text
    # The name travels in the From header, encoded as the standard says.
    message = build_reminder_email(email.reminder, now=NOW).message()
    assert email_utils.parseaddr(str(make_header(decode_header(message["From"]))))[0] == "Smith & Jones Santé"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Your naltrexone implant is due", ["naltrexone", "implant"]),
        ("Implants and INJECTIONS", ["implant", "inject"]),
        ("opioid recovery programme", ["opioid", "recover"]),
        ("Alcoholics, addiction, addicts", ["alcohol", "addict"]),
        ("your renewal and monitoring visit", ["renew", "monitor"]),
        ("MAT programme", ["MAT"]),
        ("Wipe your feet on the mat", []),
        ("Your appointment at Riverside Clinic on Tue 14 July", []),
    ],
)
def test_it_finds_banned_words(text, found):
    assert find_banned_words(text) == found


def test_its_list_names_the_words_the_issue_names():
    for word in ("naltrexone", "implant", "opioid", "alcohol", "addict", "withdrawal", "relapse", "detox", "MAT"):
        assert word in BANNED_WORDS
