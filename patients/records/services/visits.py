"""Writes about visits: findings, bookings, cancellations, confirmations and missed visits.

Like ``patients.records.services.placements``: keyword-only arguments, one transaction or a
``ValidationError`` and nothing saved. A visit's reminders are rewritten in the same transaction
(``patients.reminders.outbox``).
"""

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from patients import formats
from patients.audit import services as audit
from patients.clinic_time import clinic_midnight, clinic_today
from patients.models import Clinic, Patient, Placement, Reminder, Visit
from patients.records import bounds, latest_results, schedule
from patients.records.services.base import cancel_visits, refuse_nul_characters, save_checked
from patients.reminders import outbox
from patients.roles import Action, may, require

# The moves a visit may make. Completed and cancelled visits are final; a missed visit may still be
# completed when the patient comes late, or booked again (scheduled) for a new appointment.
VISIT_TRANSITIONS: dict[str, frozenset[str]] = {
    Visit.Status.SCHEDULED: frozenset({Visit.Status.COMPLETED, Visit.Status.MISSED, Visit.Status.CANCELLED}),
    Visit.Status.MISSED: frozenset({Visit.Status.COMPLETED, Visit.Status.SCHEDULED}),
    Visit.Status.COMPLETED: frozenset(),
    Visit.Status.CANCELLED: frozenset(),
}

VISIT_FINDINGS = (
    "site_check",
    "alt_u_per_l",
    "ast_u_per_l",
    "phq9_total",
    "phq9_item9",
    "gad7_total",
    "urine_drug_screen",
    "cravings",
    "substance_use",
    "adverse_events",
    "notes",
)


def _check_visit_move(visit: Visit, target: str) -> None:
    if target not in VISIT_TRANSITIONS[visit.status]:
        raise ValidationError(
            f"This visit is {visit.get_status_display().lower()}; "
            f"it cannot become {Visit.Status(target).label.lower()}."
        )


# Visits


def complete_visit(
    *,
    visit: Visit,
    completed_on: datetime.date,
    seen_by: User | None = None,
    by: User | None = None,
    **findings: Any,
) -> Visit:
    """Record that a visit happened, with what was found."""
    unknown = set(findings) - set(VISIT_FINDINGS)
    if unknown:
        raise TypeError(f"complete_visit() has no finding called {', '.join(sorted(unknown))}")
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("placement", "patient__clinic")
            .get(pk=visit.pk)
        )
        require(by, Action.RECORD_FINDINGS, visit.patient.clinic)
        _check_visit_move(visit, Visit.Status.COMPLETED)
        if completed_on < visit.placement.placed_on:
            raise ValidationError(
                {
                    "completed_on": (
                        f"The visit cannot come before its placement on {formats.day(visit.placement.placed_on)}."
                    )
                }
            )
        bounds.check_happened(bounds.VISIT, day=completed_on, clinic=visit.patient.clinic, field="completed_on")
        for name, value in findings.items():
            setattr(visit, name, value)
        if visit.phq9_item9 is not None and visit.phq9_total is not None and visit.phq9_item9 > visit.phq9_total:
            raise ValidationError({"phq9_item9": "Item 9 is part of the PHQ-9 total, so it cannot be larger."})
        visit.status = Visit.Status.COMPLETED
        visit.completed_on = completed_on
        visit.seen_by = seen_by
        save_checked(visit)
        latest_results.keep([visit.patient_id])
        outbox.withdraw_for_visits([visit], reason=Reminder.CancelReason.VISIT_COMPLETED)
    return visit


def reschedule_visit(
    *, visit: Visit, appointment_at: datetime.datetime, override_reason: str = "", by: User | None = None
) -> Visit:
    """Book (or move) a visit's appointment; outside the visit's window only with a reason.

    A missed visit may be booked again. The reminders not yet sent for the old time are withdrawn
    and the new time gets its own; a patient who was already told of another time is told of the
    change at once, and the calendar entry is updated in place.
    """
    if timezone.is_naive(appointment_at):
        raise ValueError("appointment_at must be timezone-aware.")
    with transaction.atomic():
        visit = Visit.objects.select_for_update(of=("self",)).select_related("patient__clinic").get(pk=visit.pk)
        require(by, Action.BOOK_VISITS, visit.patient.clinic)
        if visit.status not in (Visit.Status.SCHEDULED, Visit.Status.MISSED):
            raise ValidationError(
                f"This visit is {visit.get_status_display().lower()}; only scheduled or missed visits can be booked."
            )
        if visit.patient.status == Patient.Status.DISCHARGED:
            raise ValidationError("This patient is discharged. Readmit them before booking a visit.")
        now = timezone.now()
        if appointment_at <= now and visit.status == Visit.Status.MISSED:
            raise ValidationError({"appointment_at": "Book a missed visit again for a time still to come."})
        bounds.check_appointment(appointment_at=appointment_at, clinic=visit.patient.clinic)
        day = bounds.clinic_day(appointment_at, visit.patient.clinic)
        inside = schedule.is_inside_window(day=day, window_start=visit.window_start, window_end=visit.window_end)
        if not inside and not override_reason.strip():
            opens = "The renewal window opens" if visit.kind == Visit.Kind.RENEWAL else "This visit's window runs from"
            who = (
                "give the clinical reason"
                if may(by, Action.CLINICAL_OVERRIDE, visit.patient.clinic)
                else ("ask a clinician, who gives the clinical reason")
            )
            raise ValidationError(
                {
                    "appointment_at": (
                        f"{opens} {formats.day(visit.window_start)} until {formats.day(visit.window_end)}. "
                        f"To book outside it, {who}."
                    )
                }
            )
        if not inside:
            require(by, Action.CLINICAL_OVERRIDE, visit.patient.clinic)
        changed = appointment_at != visit.appointment_at or visit.status != Visit.Status.SCHEDULED
        if visit.status == Visit.Status.MISSED:
            outbox.withdraw_for_visits(
                [visit], kinds=[Reminder.Kind.MISSED_VISIT], reason=Reminder.CancelReason.VISIT_BOOKED
            )
            visit.status = Visit.Status.SCHEDULED
        visit.appointment_override_reason = "" if inside else override_reason.strip()
        refuse_nul_characters(visit)
        if changed:
            visit.appointment_at = appointment_at
            visit.confirmed_at = None  # a confirmation was for the old time
            visit.calendar_sequence += 1
        visit.save(
            update_fields=[
                "status",
                "appointment_at",
                "appointment_override_reason",
                "confirmed_at",
                "calendar_sequence",
            ]
        )
        if changed:
            outbox.withdraw_for_visits([visit], kinds=outbox.ANNOUNCING_KINDS, reason=Reminder.CancelReason.MOVED)
            outbox.write_visit_reminders([visit], now=now, future_only=True)
            outbox.write_change_notices([visit], now=now)
    return visit


def cancel_visit(*, visit: Visit, reason: str = Visit.CancelReason.CLINIC, by: User | None = None) -> Visit:
    if reason not in Visit.CancelReason.values:
        raise ValidationError({"cancel_reason": f"{reason!r} is not a reason to cancel a visit."})
    with transaction.atomic():
        visit = Visit.objects.select_for_update().select_related("patient__clinic").get(pk=visit.pk)
        require(by, Action.BOOK_VISITS, visit.patient.clinic)
        _check_visit_move(visit, Visit.Status.CANCELLED)
        cancel_visits(Visit.objects.filter(pk=visit.pk), reason=reason, by=by)
        visit.refresh_from_db()
    return visit


def confirm_visit(*, visit: Visit, now: datetime.datetime | None = None, by: User | None = None) -> Visit:
    """The patient confirmed (from their email, without ``by``, or by phone to staff, with it).

    A second confirmation keeps the first time.
    """
    with transaction.atomic():
        visit = Visit.objects.select_for_update().select_related("patient__clinic").get(pk=visit.pk)
        require(by, Action.BOOK_VISITS, visit.patient.clinic)
        if visit.status != Visit.Status.SCHEDULED:
            raise ValidationError(f"This visit is {visit.get_status_display().lower()}; there is nothing to confirm.")
        if visit.confirmed_at is None:
            visit.confirmed_at = now or timezone.now()
            visit.save(update_fields=["confirmed_at"])
    return visit


def mark_missed_visits(
    *,
    today: datetime.date,
    clinic: Clinic | None = None,
    now: datetime.datetime | None = None,
    by: User | None = None,
) -> int:
    """Visits that are over on ``today`` become missed; returns how many.

    A visit is over once its window has closed and its appointment, if booked later than that, is
    on an earlier day. Each gets a "we missed you" reminder. The visits are locked while they
    change, so one completed at the same moment is never marked missed nor sent that email; the
    reminder is unique per visit and appointment, so running it twice, or in two workers at once,
    changes nothing more.
    """
    now = now or timezone.now()
    marked = 0
    if by is not None and clinic is None:
        raise ValueError("A user marks the visits of one clinic at a time: pass clinic= with by=.")
    if clinic is not None:
        require(by, Action.BOOK_VISITS, clinic)
    clinics = [clinic] if clinic is not None else Clinic.objects.all()
    for each in clinics:
        with transaction.atomic():
            day_starts_at = clinic_midnight(today, each)
            over = Visit.objects.overdue(today, day_starts_at=day_starts_at).filter(patient__clinic=each)
            visits = list(over.select_for_update(of=("self",)).select_related("patient__clinic"))
            marked += audit.update_with_history(
                Visit.objects.filter(pk__in=[visit.pk for visit in visits]),
                user=by,
                reason="Its window closed with no visit recorded",
                status=Visit.Status.MISSED,
                **outbox.calendar_entry_changed(),
            )
            outbox.withdraw_for_visits(
                visits, kinds=outbox.ANNOUNCING_KINDS, reason=Reminder.CancelReason.VISIT_MISSED
            )
            outbox.write_missed_visit_reminders(visits, now=now)
    return marked


def settle_past_visits(*, placement: Placement, missed: bool, by: User | None = None) -> int:
    """The visits of a placement brought in from earlier records that were over before it came in:
    missed, where the records say so, or else closed as not recorded; returns how many.

    Either way nothing is sent about them: their "we missed you" rows are written expired, as the
    placement's past advance reminders were, and a visit closed as not recorded was announced to
    no one. Left open, the missed-visit sweep would have emailed the patient about each.
    """
    if placement.imported_in_id is None:
        raise ValueError("Only a placement brought in from earlier records has visits to settle at once.")
    with transaction.atomic():
        clinic = placement.patient.clinic
        require(by, Action.IMPORT_RECORDS, clinic)
        today, now = clinic_today(clinic), timezone.now()
        day_starts_at = clinic_midnight(today, clinic)
        over = placement.visits.overdue(today, day_starts_at=day_starts_at).select_for_update(of=("self",))
        if not missed:
            return cancel_visits(over, reason=Visit.CancelReason.NOT_RECORDED, by=by)
        visits = list(over.select_related("patient__clinic"))
        if not visits:
            return 0
        count = audit.update_with_history(
            Visit.objects.filter(pk__in=[visit.pk for visit in visits]),
            user=by,
            reason="Missed, as the clinic's earlier records say",
            status=Visit.Status.MISSED,
            **outbox.calendar_entry_changed(),
        )
        outbox.withdraw_for_visits(visits, kinds=outbox.ANNOUNCING_KINDS, reason=Reminder.CancelReason.VISIT_MISSED)
        rows = [outbox.new_missed_visit_reminder(visit, now=now) for visit in visits]
        for row in rows:
            row.status, row.skip_reason = Reminder.Status.EXPIRED, ""
        Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return count
