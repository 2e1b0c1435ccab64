"""Writing and withdrawing reminder rows, inside the transaction of the service that changed a visit.

Only ``patients.services`` (and the demo seeder, for bulk rows) call this module. Rows are planned
with the pure rules in ``patients.reminder_timing``; the dispatcher in ``patients.reminders`` sends them.
"""

import datetime
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet

from patients import reminder_timing
from patients.models import Clinic, Patient, Reminder, Visit

# Rows that have not gone out and may still be withdrawn. A row being sent is left to finish.
WITHDRAWABLE = (Reminder.Status.PENDING, Reminder.Status.SKIPPED)
ADVANCE_KINDS = tuple(kind for kinds in reminder_timing.ADVANCE_REMINDERS.values() for kind, _ in kinds)


def clinic_daytime(clinic: Clinic) -> reminder_timing.Daytime:
    return reminder_timing.Daytime(
        start=clinic.reminder_daytime_start or settings.REMINDER_DAYTIME_START,
        end=clinic.reminder_daytime_end or settings.REMINDER_DAYTIME_END,
    )


def new_message_id() -> tuple[uuid.UUID, str]:
    """A row's uuid and the Message-ID every copy of its email will carry."""
    row_uuid = uuid.uuid4()
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return row_uuid, f"<reminder.{row_uuid.hex}@{domain}>"


def _skip_reason(patient: Patient) -> str:
    if not patient.email_consent:
        return Reminder.SkipReason.NO_CONSENT
    if not patient.email:
        return Reminder.SkipReason.NO_EMAIL
    return ""


def new_reminder(*, visit: Visit, kind: str, send_at: datetime.datetime, now: datetime.datetime) -> Reminder:
    """An unsaved row. Its time already past: expired. No consent or address: skipped, to phone."""
    patient = visit.patient
    skip_reason = _skip_reason(patient)
    if send_at < now and kind in ADVANCE_KINDS:
        status, skip_reason = Reminder.Status.EXPIRED, ""
    elif skip_reason:
        status = Reminder.Status.SKIPPED
    else:
        status = Reminder.Status.PENDING
    row_uuid, message_id = new_message_id()
    return Reminder(
        uuid=row_uuid,
        message_id=message_id,
        patient=patient,
        visit=visit,
        kind=kind,
        send_at=send_at,
        next_attempt_at=send_at,
        status=status,
        skip_reason=skip_reason,
    )


def plan_visit_reminders(visit: Visit, *, now: datetime.datetime, taken: Iterable[str] = ()) -> list[Reminder]:
    """Unsaved advance reminders for a scheduled visit, leaving out the kinds in ``taken``."""
    clinic = visit.patient.clinic
    planned = reminder_timing.plan_advance_reminders(
        visit_kind=visit.kind,
        due_on=visit.due_on,
        appointment_at=visit.appointment_at,
        send_time=settings.REMINDER_SEND_TIME,
        daytime=clinic_daytime(clinic),
        zone=clinic.zone,
    )
    skip = set(taken)
    return [
        new_reminder(visit=visit, kind=reminder.kind, send_at=reminder.send_at, now=now)
        for reminder in planned
        if reminder.kind not in skip
    ]


def write_visit_reminders(
    visits: Iterable[Visit], *, now: datetime.datetime, future_only: bool = False
) -> list[Reminder]:
    """Write the advance reminders of scheduled visits; kinds that already have a live row are kept.

    A new placement records the reminders whose time has passed as expired, so the plan shows them;
    a change to an existing visit (``future_only``) writes only those still to come.
    """
    visits = [visit for visit in visits if visit.status == Visit.Status.SCHEDULED]
    live: dict[int, set[str]] = {}
    for visit_id, kind in (
        Reminder.objects.filter(visit__in=visits)
        .exclude(status=Reminder.Status.CANCELLED)
        .values_list("visit_id", "kind")
    ):
        live.setdefault(visit_id, set()).add(kind)
    rows = [row for visit in visits for row in plan_visit_reminders(visit, now=now, taken=live.get(visit.pk, ()))]
    if future_only:
        rows = [row for row in rows if row.send_at >= now]
    return Reminder.objects.bulk_create(rows)


def write_missed_visit_reminders(visits: Iterable[Visit], *, now: datetime.datetime) -> int:
    """A "we missed you" row per missed visit; a second call for the same visit writes nothing."""
    rows = []
    for visit in visits:
        clinic = visit.patient.clinic
        planned = reminder_timing.plan_missed_visit_reminder(
            window_end=visit.window_end,
            now=now,
            send_time=settings.REMINDER_SEND_TIME,
            daytime=clinic_daytime(clinic),
            zone=clinic.zone,
        )
        rows.append(new_reminder(visit=visit, kind=planned.kind, send_at=planned.send_at, now=now))
    # Two sweeps racing over the same visits both try; the unique constraint keeps one row.
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def write_cancellation_notices(visits: Iterable[Visit], *, now: datetime.datetime) -> int:
    """Tell patients who were sent a reminder (with its calendar entry) that the visit is off."""
    announced = (
        Reminder.objects.filter(visit__in=list(visits), status=Reminder.Status.SENT, kind__in=ADVANCE_KINDS)
        .values_list("visit_id", flat=True)
        .distinct()
    )
    rows = []
    for visit in Visit.objects.filter(pk__in=announced).select_related("patient__clinic"):
        clinic = visit.patient.clinic
        send_at = reminder_timing.next_daytime(now, daytime=clinic_daytime(clinic), zone=clinic.zone)
        rows.append(new_reminder(visit=visit, kind=Reminder.Kind.VISIT_CANCELLED, send_at=send_at, now=now))
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def withdraw(reminders: QuerySet[Reminder]) -> int:
    """Cancel rows that have not gone out; returns how many."""
    return reminders.filter(status__in=WITHDRAWABLE).update(
        status=Reminder.Status.CANCELLED, skip_reason="", claim_token=None, lease_expires_at=None
    )


def withdraw_for_visits(visits: QuerySet[Visit] | Iterable[Visit], *, kinds: Iterable[str] | None = None) -> int:
    reminders = Reminder.objects.filter(visit__in=visits if isinstance(visits, QuerySet) else list(visits))
    if kinds is not None:
        reminders = reminders.filter(kind__in=list(kinds))
    return withdraw(reminders)
