"""The email a patient gets for one reminder: when, where, the phone, and what to do. Nothing else.

The treatment is never named. Substance-use treatment records have stricter privacy rules than most
health data, and an email is read on shared screens and lock screens: a subject line that names a
drug can out a patient. ``BANNED_WORDS`` lists what must never appear, and the tests render every
kind of reminder against it. The clinic's own name comes from its record: that is the clinic's
choice, not something this module censors.
"""

import datetime
import email.utils
import re
from typing import Any

import icalendar
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import dateformat

from patients.clinic_time import clinic_today
from patients.emails import build_email, site_domain
from patients.models import Clinic, Reminder, Visit
from patients.reminders import links

# Matched at the start of a word, case-insensitively, so plurals and other endings count too
# ("implants", "addicted", "monitored"). Words in capitals are acronyms, matched case-sensitively
# as whole words, since "mat" and "aud" are ordinary words. "renewal", "monitoring", "placement" and
# "coverage" are the clinic's own words for the schedule: a patient would read them as clues.
BANNED_WORDS: tuple[str, ...] = (
    "naltrexone",
    "vivitrol",
    "revia",
    "naloxone",
    "narcan",
    "nalmefene",
    "suboxone",
    "subutex",
    "sublocade",
    "buprenorphine",
    "methadone",
    "disulfiram",
    "antabuse",
    "acamprosate",
    "implant",
    "inject",
    "dose",
    "opioid",
    "opiate",
    "heroin",
    "fentanyl",
    "narcotic",
    "alcohol",
    "addict",
    "overdos",
    "withdrawal",
    "recover",
    "relapse",
    "detox",
    "rehab",
    "sober",
    "sobriety",
    "abstinen",
    "substance",
    "drug",
    "dependen",
    "craving",
    "treat",
    "therap",
    "counsel",
    "medicat",
    "prescri",
    "diagnos",
    "disorder",
    "psychiatr",
    "liver",
    "urine",
    "renew",
    "monitor",
    "placement",
    "induction",
    "coverage",
    "lapse",
    "MAT",
    "MOUD",
    "OUD",
    "AUD",
    "SUD",
    "NTX",
)

_BANNED_PATTERNS = [
    (word, re.compile(rf"\b{word}\b") if word.isupper() else re.compile(rf"\b{word}", re.IGNORECASE))
    for word in BANNED_WORDS
]

# Reminders that announce a visit still to come; the others report a missed or cancelled one.
UPCOMING_KINDS = frozenset(
    {
        Reminder.Kind.MONITORING_3_DAYS,
        Reminder.Kind.MONITORING_1_DAY,
        Reminder.Kind.RENEWAL_14_DAYS,
        Reminder.Kind.RENEWAL_3_DAYS,
        Reminder.Kind.RENEWAL_1_DAY,
        Reminder.Kind.VISIT_MOVED,
    }
)
APPOINTMENT_MINUTES = 30
CALENDAR_FILENAME = "appointment.ics"
CALENDAR_PRODUCT = "-//Appointment reminders//EN"


def find_banned_words(text: str) -> list[str]:
    """The entries of ``BANNED_WORDS`` that occur in ``text``."""
    return [word for word, pattern in _BANNED_PATTERNS if pattern.search(text)]


def _long_day(day: datetime.date, today: datetime.date) -> str:
    """The day as "Tuesday 14 July", with the year only when it is not this year."""
    return dateformat.format(day, "l j F" if day.year == today.year else "l j F Y")


def _short_day(day: datetime.date, today: datetime.date) -> str:
    return dateformat.format(day, "D j F" if day.year == today.year else "D j F Y")


def _tel_uri(phone: str) -> str:
    return "tel:" + "".join(character for character in phone if character.isdigit() or character == "+")


def _link(name: str, token: str) -> str:
    return settings.SITE_URL + reverse(name, args=[token])


def _from_address() -> str:
    return email.utils.parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def _sender(clinic: Clinic) -> str:
    """The clinic's name before the project's sending address: the name the patient knows."""
    return email.utils.formataddr((clinic.name, _from_address()))


def reminder_context(reminder: Reminder, *, now: datetime.datetime) -> dict[str, Any]:
    """What the templates may say: the clinic, the day and time in clinic time, the place, the phone."""
    patient, visit = reminder.patient, reminder.visit
    clinic = patient.clinic
    zone = clinic.zone
    today = clinic_today(zone, now=now)
    token = links.make_token(reminder)
    if reminder.kind in UPCOMING_KINDS:
        purpose = "upcoming"
    elif reminder.kind == Reminder.Kind.MISSED_VISIT:
        purpose = "missed"
    else:
        purpose = "cancelled"
    context: dict[str, Any] = {
        "purpose": purpose,
        # The appointment moved after the patient was told another time: say so first.
        "moved": reminder.kind == Reminder.Kind.VISIT_MOVED,
        "first_name": patient.first_name,
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "clinic_phone_uri": _tel_uri(clinic.phone),
        "clinic_address_lines": [line.strip() for line in clinic.address.splitlines() if line.strip()],
        # Why it matters is deliberately left unsaid: only that it does.
        "important": visit.kind == Visit.Kind.RENEWAL and purpose != "cancelled",
        "booked": visit.appointment_at is not None,
        "due_day": _long_day(visit.due_on, today),
        "subject_day": _short_day(visit.due_on, today),
        "last_day": _long_day(visit.window_end, today),
        "unsubscribe_url": _link("public:unsubscribe", token),
        "confirm_url": "",
    }
    if visit.appointment_at is not None:
        local = visit.appointment_at.astimezone(zone)
        context |= {
            "appointment_day": _long_day(local.date(), today),
            "appointment_time": dateformat.format(local, "H:i"),
            "subject_day": _short_day(local.date(), today),
        }
    else:
        # Days already gone are no use to the patient: the choice runs from today.
        first_day = max(visit.window_start, today)
        context["first_day"] = _long_day(first_day, today) if first_day < visit.window_end else ""
    if purpose == "upcoming" and visit.status == Visit.Status.SCHEDULED:
        context["confirm_url"] = _link("public:confirm", token)
    return context


# Kinds whose calendar file removes the visit's entry: it will not happen, or has gone by unattended.
WITHDRAWING_KINDS = frozenset({Reminder.Kind.VISIT_CANCELLED, Reminder.Kind.MISSED_VISIT})


def appointment_calendar(reminder: Reminder, *, now: datetime.datetime) -> icalendar.Calendar:
    """The visit as a calendar entry: a request, or a cancellation that clears a stale entry.

    The UID is the visit's, so every reminder for one visit updates one entry, and a cancellation
    removes it; SEQUENCE is the visit's, raised whenever the entry's content changes (a new time, a
    cancellation, a missed visit), so the newest message wins whatever order they arrive in.
    """
    patient, visit = reminder.patient, reminder.visit
    clinic = patient.clinic
    cancelled = reminder.kind in WITHDRAWING_KINDS
    calendar = icalendar.Calendar()
    calendar.add("prodid", CALENDAR_PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = icalendar.Event()
    event.add("uid", f"{visit.uuid}@{site_domain()}")
    event.add("sequence", visit.calendar_sequence)
    event.add("dtstamp", now.astimezone(datetime.UTC))
    event.add("summary", f"Appointment at {clinic.name}")
    event.add("location", ", ".join(line.strip() for line in clinic.address.splitlines() if line.strip()))
    event.add("description", f"To change or cancel this appointment, call {clinic.name} on {clinic.phone}.")
    if visit.appointment_at is not None:
        start = visit.appointment_at.astimezone(datetime.UTC)
        event.add("dtstart", start)
        event.add("dtend", start + datetime.timedelta(minutes=APPOINTMENT_MINUTES))
    else:
        # Not booked yet: a whole-day note on the due day that does not block the patient's time.
        event.add("dtstart", visit.due_on)
        event.add("dtend", visit.due_on + datetime.timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    organizer = icalendar.vCalAddress(f"mailto:{clinic.reply_to_email or _from_address()}")
    organizer.params["cn"] = icalendar.vText(clinic.name)
    event.add("organizer", organizer)
    if patient.email:
        # Calendar programs only apply a request or a cancellation addressed to their owner.
        attendee = icalendar.vCalAddress(f"mailto:{patient.email}")
        attendee.params["rsvp"] = icalendar.vText("FALSE")
        event.add("attendee", attendee)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar


def build_reminder_email(reminder: Reminder, *, now: datetime.datetime) -> EmailMultiAlternatives:
    """The unsent email for ``reminder`` (loaded with ``select_related("patient__clinic", "visit")``).

    Every copy carries the row's Message-ID, so a retry after a lost connection is the same message
    to the receiving server and to the patient's mail program.
    """
    clinic = reminder.patient.clinic
    context = reminder_context(reminder, now=now)
    message = build_email(
        "reminder",
        context,
        to=[reminder.patient.email],
        from_email=_sender(clinic),
        reply_to=[clinic.reply_to_email] if clinic.reply_to_email else [],
        headers={
            "Message-ID": reminder.message_id,
            # RFC 8058: a mail provider's "unsubscribe" button posts to this address, no page shown.
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    method = "CANCEL" if reminder.kind in WITHDRAWING_KINDS else "REQUEST"
    message.attach(
        CALENDAR_FILENAME, appointment_calendar(reminder, now=now).to_ical(), f"text/calendar; method={method}"
    )
    return message
