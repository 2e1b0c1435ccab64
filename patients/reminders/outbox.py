"""Writing and withdrawing reminder rows, inside the transaction of the service that changed a visit.

Only ``patients.services`` (and the demo seeder, for bulk rows) call this module, and the dispatcher
for its last check before a send. Rows are planned with the pure rules in
``patients.reminders.timing``; the dispatcher in ``patients.reminders.dispatcher`` sends them.

A row announces one appointment: the visit as it was booked when the row was written
(``Reminder.appointment_at``, empty for a visit not booked). When the appointment moves, the rows
for the old time are withdrawn and rows for the new one written, so the outbox holds at most one
live row per visit, rule and appointment. ``why_not_send`` is the one rule for whether a row is
still true; services withdraw what they know to be stale, and the dispatcher checks every row
against it again right before sending, which catches what a service could not reach (a row a
worker held while the plan changed).
"""

import datetime
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import F, QuerySet

from patients.emails import site_domain
from patients.models import Clinic, Patient, Reminder, Visit
from patients.reminders import timing as reminder_timing

Reason = Reminder.CancelReason

# Rows that have not gone out and may still be withdrawn. A row being sent is left to finish; the
# dispatcher's own check stops it if it is no longer true.
WITHDRAWABLE = (Reminder.Status.PENDING, Reminder.Status.SKIPPED)
ADVANCE_KINDS = tuple(kind for kinds in reminder_timing.ADVANCE_REMINDERS.values() for kind, _ in kinds)
# Rows that tell the patient of a visit still to come, at the appointment they were written for.
ANNOUNCING_KINDS = (*ADVANCE_KINDS, Reminder.Kind.VISIT_MOVED)

# Why a row about a visit in this state must not go out.
_VISIT_GONE = {
    Visit.Status.COMPLETED: Reason.VISIT_COMPLETED,
    Visit.Status.CANCELLED: Reason.VISIT_CANCELLED,
    Visit.Status.MISSED: Reason.VISIT_MISSED,
    Visit.Status.SCHEDULED: Reason.VISIT_BOOKED,
}


def clinic_daytime(clinic: Clinic) -> reminder_timing.Daytime:
    return reminder_timing.Daytime(
        start=clinic.reminder_daytime_start or settings.REMINDER_DAYTIME_START,
        end=clinic.reminder_daytime_end or settings.REMINDER_DAYTIME_END,
    )


def new_message_id() -> tuple[uuid.UUID, str]:
    """A row's uuid and the Message-ID every copy of its email will carry."""
    row_uuid = uuid.uuid4()
    return row_uuid, f"<reminder.{row_uuid.hex}@{site_domain()}>"


def _skip_reason(patient: Patient) -> str:
    if not patient.email_consent:
        return Reminder.SkipReason.NO_CONSENT
    if not patient.email:
        return Reminder.SkipReason.NO_EMAIL
    return ""


def why_not_send(reminder: Reminder) -> str:
    """Why ``reminder`` is no longer true, as a cancel reason; empty while it may go out.

    Reads the patient and the visit as loaded on the row: the dispatcher loads them fresh right
    before a send. A cancellation notice is the one row that speaks of a visit no longer scheduled,
    and it still reaches a discharged patient, whose calendar would otherwise keep the entry.
    """
    patient, visit = reminder.patient, reminder.visit
    if reminder.kind == Reminder.Kind.VISIT_CANCELLED:
        expected_status = Visit.Status.CANCELLED
    else:
        if patient.status == Patient.Status.DISCHARGED:
            return Reason.DISCHARGED
        expected_status = (
            Visit.Status.MISSED if reminder.kind == Reminder.Kind.MISSED_VISIT else Visit.Status.SCHEDULED
        )
    if not patient.email_consent:
        return Reason.CONSENT_WITHDRAWN
    if not patient.email:
        return Reason.NO_EMAIL
    if visit.status != expected_status:
        return _VISIT_GONE[Visit.Status(visit.status)]
    if reminder.appointment_at != visit.appointment_at:
        return Reason.MOVED
    return ""


def new_reminder(*, visit: Visit, kind: str, send_at: datetime.datetime, now: datetime.datetime) -> Reminder:
    """An unsaved row for the visit as booked now. Its time already past: expired. No consent or
    address: skipped, to phone."""
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
        appointment_at=visit.appointment_at,
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
    """Write the advance reminders of scheduled visits for their appointments as booked now; a
    rule that already has a live row for that appointment is kept.

    A new placement records the reminders whose time has passed as expired, so the plan shows them;
    a change to an existing visit (``future_only``) writes only those still to come.
    """
    visits = [visit for visit in visits if visit.status == Visit.Status.SCHEDULED]
    current = {visit.pk: visit.appointment_at for visit in visits}
    live: dict[int, set[str]] = {}
    for visit_id, kind, appointment_at in (
        Reminder.objects.filter(visit__in=visits)
        .exclude(status=Reminder.Status.CANCELLED)
        .values_list("visit_id", "kind", "appointment_at")
    ):
        if appointment_at == current[visit_id]:
            live.setdefault(visit_id, set()).add(kind)
    rows = [row for visit in visits for row in plan_visit_reminders(visit, now=now, taken=live.get(visit.pk, ()))]
    if future_only:
        rows = [row for row in rows if row.send_at >= now]
    return Reminder.objects.bulk_create(rows)


def write_change_notices(visits: Iterable[Visit], *, now: datetime.datetime, told: bool = False) -> int:
    """Tell patients who were sent another time for a visit (or, with ``told``, may have been) that
    it has moved, at the next daytime moment, before the new appointment. A second call for the
    same appointment writes nothing."""
    visits = [visit for visit in visits if visit.status == Visit.Status.SCHEDULED and visit.appointment_at]
    current = {visit.pk: visit.appointment_at for visit in visits}
    told_otherwise = (
        set(current)
        if told
        else {
            visit_id
            for visit_id, appointment_at in Reminder.objects.filter(
                visit__in=visits, status=Reminder.Status.SENT, kind__in=ANNOUNCING_KINDS, appointment_at__isnull=False
            ).values_list("visit_id", "appointment_at")
            if appointment_at != current[visit_id]
        }
    )
    rows = []
    for visit in visits:
        if visit.pk not in told_otherwise:
            continue
        clinic = visit.patient.clinic
        send_at = reminder_timing.next_daytime(now, daytime=clinic_daytime(clinic), zone=clinic.zone)
        if visit.appointment_at is not None and send_at < visit.appointment_at:
            rows.append(new_reminder(visit=visit, kind=Reminder.Kind.VISIT_MOVED, send_at=send_at, now=now))
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def new_missed_visit_reminder(visit: Visit, *, now: datetime.datetime) -> Reminder:
    """An unsaved "we missed you" row for a visit found missed at ``now``."""
    clinic = visit.patient.clinic
    planned = reminder_timing.plan_missed_visit_reminder(
        window_end=visit.window_end,
        now=now,
        send_time=settings.REMINDER_SEND_TIME,
        daytime=clinic_daytime(clinic),
        zone=clinic.zone,
    )
    return new_reminder(visit=visit, kind=planned.kind, send_at=planned.send_at, now=now)


def write_missed_visit_reminders(visits: Iterable[Visit], *, now: datetime.datetime) -> int:
    """A "we missed you" row per missed visit; a second call for the same visit writes nothing."""
    rows = [new_missed_visit_reminder(visit, now=now) for visit in visits]
    # Two sweeps racing over the same visits both try; the unique constraint keeps one row.
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def write_cancellation_notices(visits: Iterable[Visit], *, now: datetime.datetime, told: bool = False) -> int:
    """Tell patients who were sent a reminder (with its calendar entry) that the visit is off; with
    ``told``, every patient of ``visits`` (a reminder may have reached them). A visit already over
    needs no notice."""
    visits = list(visits)
    if told:
        candidates = [visit.pk for visit in visits]
    else:
        candidates = list(
            Reminder.objects.filter(visit__in=visits, status=Reminder.Status.SENT, kind__in=ANNOUNCING_KINDS)
            .values_list("visit_id", flat=True)
            .distinct()
        )
    rows = []
    for visit in Visit.objects.filter(pk__in=candidates, status=Visit.Status.CANCELLED).select_related(
        "patient__clinic"
    ):
        clinic = visit.patient.clinic
        over_at = reminder_timing.visit_passes_at(
            due_on=visit.window_end, appointment_at=visit.appointment_at, zone=clinic.zone
        )
        send_at = reminder_timing.next_daytime(now, daytime=clinic_daytime(clinic), zone=clinic.zone)
        if send_at < over_at:
            rows.append(new_reminder(visit=visit, kind=Reminder.Kind.VISIT_CANCELLED, send_at=send_at, now=now))
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def follow_up_sent(reminders: Iterable[Reminder], *, now: datetime.datetime) -> int:
    """After rows went out (or may have: a worker died before stamping them) while their visit
    changed: tell the patient what changed, once. A visit cancelled meanwhile gets its cancellation
    notice, a moved one its notice of the new time; rows still true need nothing."""
    reminders = [reminder for reminder in reminders if reminder.kind in ANNOUNCING_KINDS]
    if not reminders:
        return 0
    sent_for = {(reminder.visit_id, reminder.appointment_at) for reminder in reminders}
    visits = Visit.objects.filter(
        pk__in={visit_id for visit_id, _ in sent_for}, status__in=[Visit.Status.CANCELLED, Visit.Status.SCHEDULED]
    ).select_related("patient__clinic")
    cancelled = [visit for visit in visits if visit.status == Visit.Status.CANCELLED]
    moved = [
        visit
        for visit in visits
        if visit.status == Visit.Status.SCHEDULED and (visit.pk, visit.appointment_at) not in sent_for
    ]
    if not cancelled and not moved:
        return 0
    return write_cancellation_notices(cancelled, now=now, told=True) + write_change_notices(moved, now=now, told=True)


def calendar_entry_changed() -> dict[str, Any]:
    """The change to add to a bulk update of visits whose calendar entry now says something else
    (a cancellation, a missed visit): the next file for each must win."""
    return {"calendar_sequence": F("calendar_sequence") + 1}


def withdraw(reminders: QuerySet[Reminder], *, reason: str) -> int:
    """Cancel rows that have not gone out, keeping why; returns how many."""
    return reminders.filter(status__in=WITHDRAWABLE).update(
        status=Reminder.Status.CANCELLED, cancel_reason=reason, skip_reason="", claim_token=None, lease_expires_at=None
    )


def withdraw_for_visits(
    visits: QuerySet[Visit] | Iterable[Visit], *, reason: str, kinds: Iterable[str] | None = None
) -> int:
    reminders = Reminder.objects.filter(visit__in=visits if isinstance(visits, QuerySet) else list(visits))
    if kinds is not None:
        reminders = reminders.filter(kind__in=list(kinds))
    return withdraw(reminders, reason=reason)
