"""How far from today a date that a person types may reach: one home for every such bound.

The services call these checks before they write, so the pages, the admin, the placement preview
and any command meet the same refusal in the same words; a form may call them too, for a message
beside its field, but the service is the authority. The bounds:

- a birth: from 1 January 1900 up to the clinic's today;
- what has happened (a placement, a removal, a visit's findings, a therapy session, a discharge, a
  phone call): from 1 January of the clinic's first year (``Clinic.first_year``) up to its today;
- what is planned: a coverage end at most ``MAX_COVERAGE_MONTHS`` months after its placement day;
  an appointment and a day to phone again at most that many months after the clinic's today (an
  appointment not before the clinic's first year either).

Beyond them a date is a typing mistake (0202 for 2026), and one that reaches the ends of the
calendar breaks every page that counts days from it. Each check raises ``ValidationError`` keyed by
the field at fault, in the coordinator's words, and saves nothing.

Numbers in addresses are bounded here too: ``is_row_id`` tells an id a row could have from one
that no table can hold, which the pages answer with a 404 or a form error rather than a query.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Min
from django.utils import timezone

from patients import formats
from patients.clinic_time import clinic_today
from patients.models import Clinic, FollowUpCall, Patient, Placement, Product, TherapySession, Visit
from patients.records.schedule import add_months

EARLIEST_BIRTH = datetime.date(1900, 1, 1)
# The largest number a 64-bit id column holds; SQLite refuses a larger one in a query outright.
LARGEST_ID = 2**63 - 1


@dataclass(frozen=True)
class Happened:
    """Something that has taken place, as its refusals name it."""

    what: str  # "A session": the subject of "… cannot be dated before 2015"
    in_future: str  # the refusal of a day still to come


PLACEMENT = Happened("A placement", "A placement cannot be dated in the future. Record it on the day it is done.")
REMOVAL = Happened("A removal", "The removal date cannot be in the future.")
VISIT = Happened("A visit", "A visit cannot be recorded as done in the future.")
SESSION = Happened("A session", "Attendance can only be logged for a session that has taken place.")
DISCHARGE = Happened("A discharge", "The discharge date cannot be in the future.")
CALL = Happened("A call", "A call cannot be logged before it happens.")
CONSENT = Happened("Consent", "Consent cannot be dated in the future.")


def first_day(clinic: Clinic) -> datetime.date:
    """The first day a clinic's records may be dated: 1 January of its first year."""
    return datetime.date(clinic.first_year, 1, 1)


def earliest_record_year(clinic: Clinic) -> int | None:
    """The year of the clinic's earliest dated record, which its first year may not come after."""
    found = [
        *Placement.objects.filter(patient__clinic=clinic).aggregate(Min("placed_on"), Min("removed_on")).values(),
        *Visit.objects.filter(patient__clinic=clinic).aggregate(Min("completed_on")).values(),
        *TherapySession.objects.filter(patient__clinic=clinic).aggregate(Min("held_on")).values(),
        *Patient.objects.filter(clinic=clinic).aggregate(Min("discharged_on")).values(),
        *FollowUpCall.objects.filter(patient__clinic=clinic).aggregate(Min("called_at")).values(),
    ]
    return min((day.year for day in found if day is not None), default=None)


def check_first_year(*, first_year: int, clinic: Clinic, field: str = "first_year") -> None:
    """A clinic's first year: not after this year, nor after the year of a record it already keeps."""
    this_year = clinic_today(clinic).year
    if first_year > this_year:
        raise ValidationError({field: f"The first year cannot be after this year, {this_year}."})
    earliest = earliest_record_year(clinic) if clinic.pk else None
    if earliest is not None and first_year > earliest:
        raise ValidationError(
            {field: f"The clinic has records from {earliest}: its first year cannot come after that."}
        )


def latest_ahead(start: datetime.date) -> datetime.date:
    """The last day a plan made on ``start`` may reach: ``MAX_COVERAGE_MONTHS`` months later."""
    return add_months(start, settings.MAX_COVERAGE_MONTHS)


def check_birth(*, born_on: datetime.date, clinic: Clinic, field: str = "date_of_birth") -> None:
    if born_on < EARLIEST_BIRTH:
        raise ValidationError({field: f"The date of birth cannot be before {EARLIEST_BIRTH.year}; check the year."})
    if born_on > clinic_today(clinic):
        raise ValidationError({field: "The date of birth cannot be in the future."})


def check_happened(event: Happened, *, day: datetime.date, clinic: Clinic, field: str) -> None:
    """``day`` lies between the clinic's first day and its today."""
    if day < first_day(clinic):
        raise ValidationError(
            {field: f"{event.what} cannot be dated before {clinic.first_year}, the clinic's first year."}
        )
    if day > clinic_today(clinic):
        raise ValidationError({field: event.in_future})


def check_moment_happened(event: Happened, *, moment: datetime.datetime, clinic: Clinic, field: str) -> None:
    """``check_happened`` for a moment, on the clinic's calendar."""
    check_happened(event, day=clinic_day(moment, clinic), clinic=clinic, field=field)


def check_coverage_end(*, covers_until: datetime.date, placed_on: datetime.date, field: str) -> None:
    """A coverage end at most ``MAX_COVERAGE_MONTHS`` after its placement day (``placed_on`` bounded first)."""
    limit = latest_ahead(placed_on)
    if covers_until > limit:
        raise ValidationError(
            {
                field: (
                    f"Coverage can last at most {settings.MAX_COVERAGE_MONTHS} months: from this placement day, "
                    f"until {formats.day(limit)} at the latest."
                )
            }
        )


def check_coverage_length(*, length: int, unit: str, field: str = "coverage_length") -> None:
    """A product covers no longer than a placement may, from whichever day it is placed (a month has
    at least 28 days, so the bound in weeks is four a month)."""
    months = settings.MAX_COVERAGE_MONTHS
    longest = months if unit == Product.CoverageUnit.MONTHS else 4 * months
    if length > longest:
        raise ValidationError({field: f"A product can cover at most {months} months ({4 * months} weeks)."})


def check_appointment(*, appointment_at: datetime.datetime, clinic: Clinic, field: str = "appointment_at") -> None:
    day = clinic_day(appointment_at, clinic)
    if day < first_day(clinic):
        raise ValidationError(
            {field: f"An appointment cannot be before {clinic.first_year}, the clinic's first year."}
        )
    limit = latest_ahead(clinic_today(clinic))
    if day > limit:
        raise ValidationError(
            {
                field: (
                    f"An appointment can be booked at most {settings.MAX_COVERAGE_MONTHS} months ahead, "
                    f"until {formats.day(limit)}."
                )
            }
        )


def check_try_again(*, day: datetime.date, clinic: Clinic, field: str = "try_again_on") -> None:
    today = clinic_today(clinic)
    if day <= today:
        raise ValidationError({field: "The day to try again must be after today."})
    limit = latest_ahead(today)
    if day > limit:
        raise ValidationError(
            {field: f"Choose a day at most {settings.MAX_COVERAGE_MONTHS} months ahead, until {formats.day(limit)}."}
        )


def clinic_day(moment: datetime.datetime, clinic: Clinic) -> datetime.date:
    """The day of ``moment`` on the clinic's calendar. At the very ends of the calendar, where the
    zone's offset would leave it, the day as written: out of every bound either way."""
    try:
        return timezone.localtime(moment, clinic.zone).date()
    except OverflowError:
        return moment.date()


def is_row_id(value: object) -> bool:
    """Whether ``value``, read from an address or a form, could be the number of a row."""
    try:
        number = int(str(value))
    except ValueError:
        return False
    return 0 < number <= LARGEST_ID
