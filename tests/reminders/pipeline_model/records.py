"""What the pipeline model remembers of the clinic: its own record of each patient and visit,
and what was true of them when an email went out. Clinic time is Europe/London."""

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

from patients.models import Patient, Placement, Reminder, Visit

LONDON = zoneinfo.ZoneInfo("Europe/London")
# The hours in which patients may be emailed: the settings' default, which the clinic keeps.
DAYTIME = (datetime.time(9), datetime.time(19))


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON)


def is_daytime(moment: datetime.datetime) -> bool:
    return DAYTIME[0] <= moment.astimezone(LONDON).time() < DAYTIME[1]


def passes_at(*, appointment_at: datetime.datetime | None, due_on: datetime.date) -> datetime.datetime:
    """After this, announcing a visit is pointless: its appointment, or the end of its due day."""
    if appointment_at is not None:
        return appointment_at
    return local(due_on + datetime.timedelta(days=1), 0)


@dataclass
class PatientRecord:
    pk: int
    email: str
    consents: bool = True
    discharged: bool = False
    # The last time consent was given again, and the last readmission; None: never.
    consent_given_at: datetime.datetime | None = None
    readmitted_at: datetime.datetime | None = None
    placed_on: datetime.date | None = None


@dataclass
class VisitRecord:
    pk: int
    uuid: str
    patient_pk: int
    kind: str
    due_on: datetime.date
    window_start: datetime.date
    window_end: datetime.date
    status: str = Visit.Status.SCHEDULED
    appointment_at: datetime.datetime | None = None
    # When the current appointment was set; None: the visit has kept the plan of its placement.
    booked_at: datetime.datetime | None = None

    @property
    def day(self) -> datetime.date:
        return self.appointment_at.astimezone(LONDON).date() if self.appointment_at else self.due_on


@dataclass(frozen=True)
class Moment:
    """What was true of one visit and its patient at one moment, as the machine recorded it."""

    visit_id: int
    visit_uuid: str
    visit_status: str
    appointment_at: datetime.datetime | None
    due_on: datetime.date
    email: str
    consents: bool
    discharged: bool


def moment_of(visit: VisitRecord, patient: PatientRecord) -> Moment:
    return Moment(
        visit_id=visit.pk,
        visit_uuid=visit.uuid,
        visit_status=visit.status,
        appointment_at=visit.appointment_at,
        due_on=visit.due_on,
        email=patient.email,
        consents=patient.consents,
        discharged=patient.discharged,
    )


def fingerprint() -> tuple[list[Any], ...]:
    """What a service may write, to prove that a refusal wrote nothing."""
    return (
        list(Placement.objects.order_by("pk").values_list("pk", "placed_on")),
        list(Visit.objects.order_by("pk").values_list("pk", "status", "appointment_at", "calendar_sequence")),
        list(Reminder.objects.order_by("pk").values_list("pk", "status", "attempts")),
        list(Patient.objects.order_by("pk").values_list("pk", "status", "email_consent")),
    )
