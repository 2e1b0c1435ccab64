"""Every write to the clinic's records.

Each service takes keyword-only arguments, checks the request, and either saves all of it in one
transaction or raises ``ValidationError`` (keyed by field where a field is at fault) and saves
nothing. The blocks are plain ``atomic`` rather than durable so that services compose: the demo
seeder records many placements inside one transaction of its own.

Placements and visits are written here; the person's records in ``patient_services`` and therapy in
``therapy_services``, both re-exported so that every write is ``patients.services.<verb>``. Reminder
rows change in the same transaction as the visits they announce (``patients.outbox``). A save
leaves its history row by itself; a bulk write goes through ``patients.audit`` so that it leaves one
too, for each row it changes.
"""

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from patients import audit, bounds, formats, outbox, reminder_timing, schedule
from patients.models import CheckResult, Clinic, NaloxoneChallenge, Patient, Placement, Product, Reminder, Visit
from patients.patient_services import (
    PATIENT_DETAILS,
    PATIENT_TRANSITIONS,
    change_patient_status,
    discharge_patient,
    log_follow_up_call,
    register_patient,
    update_patient,
    withdraw_email_consent,
)
from patients.placement_plan import placement_coverage_end, planned_coverage_end, unsaved_visits
from patients.roles import Action, may, require
from patients.selectors import coverage_spans, schedule_rules
from patients.service_base import cancel_visits, locked_patient, refuse_nul_characters, save_checked
from patients.therapy_services import (
    create_therapy_group,
    log_group_attendance,
    log_therapy_session,
    set_group_members,
    update_therapy_group,
)

__all__ = [
    "PATIENT_DETAILS",
    "PATIENT_TRANSITIONS",
    "VISIT_FINDINGS",
    "VISIT_TRANSITIONS",
    "cancel_visit",
    "change_patient_status",
    "complete_visit",
    "confirm_visit",
    "create_therapy_group",
    "discharge_patient",
    "log_follow_up_call",
    "log_group_attendance",
    "log_therapy_session",
    "mark_missed_visits",
    "record_placement",
    "record_removal",
    "register_patient",
    "reschedule_visit",
    "set_group_members",
    "update_patient",
    "update_therapy_group",
    "withdraw_email_consent",
]

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


# Placements


def record_placement(
    *,
    patient: Patient,
    product: Product,
    placed_on: datetime.date,
    dose_mg: Any = None,
    lot_number: str = "",
    body_site: str = "",
    placed_by: User | None = None,
    opioid_free_days: int | None = None,
    urine_screen: str = CheckResult.NOT_DONE,
    naloxone_challenge: str = NaloxoneChallenge.NOT_DONE,
    naloxone_waiver_reason: str = "",
    covers_until: datetime.date | None = None,
    covers_until_override_reason: str = "",
    early_renewal_reason: str = "",
    notes: str = "",
    by: User | None = None,
) -> Placement:
    """Record a dose and plan its visits; a renewal closes the previous cycle.

    The previous placement's scheduled visits due on or after ``placed_on`` are cancelled as
    superseded; earlier ones stay, to be completed or marked missed. A different coverage end, an
    early renewal and a naloxone waiver are clinical overrides.
    """
    with transaction.atomic():
        patient = locked_patient(patient)
        require(by, Action.RECORD_PLACEMENTS, patient.clinic)
        if naloxone_waiver_reason.strip() or early_renewal_reason.strip() or covers_until_override_reason.strip():
            require(by, Action.CLINICAL_OVERRIDE, patient.clinic)
        rules = schedule_rules()
        covers_until, overridden = placement_coverage_end(
            patient=patient, product=product, placed_on=placed_on, covers_until=covers_until
        )
        _check_placement(
            patient=patient,
            product=product,
            placed_on=placed_on,
            induction={
                "opioid_free_days": opioid_free_days,
                "urine_screen": urine_screen,
                "naloxone_challenge": naloxone_challenge,
                "naloxone_waiver_reason": naloxone_waiver_reason,
            },
            early_renewal_reason=early_renewal_reason,
            rules=rules,
        )
        if overridden and not covers_until_override_reason.strip():
            planned_end = planned_coverage_end(product=product, placed_on=placed_on)
            raise ValidationError(
                {
                    "covers_until_override_reason": (
                        f"{product.name} covers until {formats.day(planned_end)}; "
                        "give the clinical reason for a different end date."
                    )
                }
            )
        if not overridden:
            covers_until_override_reason = ""
        placement = Placement(
            patient=patient,
            product=product,
            placed_on=placed_on,
            dose_mg=dose_mg,
            lot_number=lot_number.strip(),
            body_site=body_site,
            placed_by=placed_by,
            opioid_free_days=opioid_free_days,
            urine_screen=urine_screen,
            naloxone_challenge=naloxone_challenge,
            naloxone_waiver_reason=naloxone_waiver_reason.strip(),
            covers_until=covers_until,
            covers_until_override_reason=covers_until_override_reason.strip(),
            early_renewal_reason=early_renewal_reason.strip(),
            notes=notes,
        )
        save_checked(placement)
        superseded = patient.visits.filter(status=Visit.Status.SCHEDULED, due_on__gte=placed_on).exclude(
            placement=placement
        )
        # A patient who was sent one of them is told it is off, so no stale entry stays in their calendar.
        cancel_visits(superseded, reason=Visit.CancelReason.SUPERSEDED, by=by)
        visits = audit.create_with_history(
            Visit,
            unsaved_visits(
                patient=patient, product=product, placed_on=placed_on, covers_until=covers_until, placement=placement
            ),
            user=by,
        )
        outbox.write_visit_reminders(visits, now=timezone.now())
    return placement


def _check_placement(
    *,
    patient: Patient,
    product: Product,
    placed_on: datetime.date,
    induction: dict[str, Any],
    early_renewal_reason: str,
    rules: schedule.ScheduleRules,
) -> None:
    """Every refusal a placement can meet, gathered so the coordinator sees them all at once."""
    if patient.status == Patient.Status.DISCHARGED:
        raise ValidationError("This patient is discharged. Readmit them before recording a placement.")
    errors: dict[str, str] = {}
    if product.clinic_id != patient.clinic_id:
        errors["product"] = "This product is not in this clinic's catalogue."
    elif not product.is_active:
        errors["product"] = "This product is no longer in use; choose another."
    spans = coverage_spans(patient)
    previous = max(spans, key=lambda span: span.placed_on, default=None)
    if previous and placed_on <= previous.placed_on:
        errors["placed_on"] = (
            f"The previous placement was on {formats.day(previous.placed_on)}; a new one must come after it."
        )
    if errors:
        raise ValidationError(errors)
    state = schedule.coverage_state(spans=spans, today=placed_on, discharged=False, rules=rules)
    if schedule.needs_induction(state):
        problems = schedule.induction_problems(**induction, rules=rules)
        if problems:
            why = "a first placement" if state is schedule.CoverageState.NONE else "re-induction after a lapse"
            problems.setdefault(NON_FIELD_ERRORS, f"The induction checklist is required for {why}.")
            raise ValidationError(problems)
    elif (
        previous
        and schedule.is_early_renewal(previous=previous, placed_on=placed_on)
        and not early_renewal_reason.strip()
    ):
        raise ValidationError(
            {
                "early_renewal_reason": (
                    f"The renewal window opens on {formats.day(previous.renewal_opens_on)}. "
                    "To renew earlier, give the clinical reason."
                )
            }
        )


def record_removal(
    *, placement: Placement, removed_on: datetime.date, reason: str, by: User | None = None
) -> Placement:
    """An implant taken out early: coverage ends that day and its later visits are cancelled."""
    with transaction.atomic():
        patient = locked_patient(placement.patient)
        require(by, Action.RECORD_PLACEMENTS, patient.clinic)
        placement = Placement.objects.select_for_update().get(pk=placement.pk)
        if placement.removed_on is not None:
            raise ValidationError(f"This placement was already removed on {formats.day(placement.removed_on)}.")
        if removed_on < placement.placed_on:
            raise ValidationError({"removed_on": "The removal cannot come before the placement."})
        bounds.check_happened(bounds.REMOVAL, day=removed_on, clinic=patient.clinic, field="removed_on")
        if not reason.strip():
            raise ValidationError({"removal_reason": "Say why the implant was removed."})
        placement.removed_on = removed_on
        placement.removal_reason = reason.strip()
        refuse_nul_characters(placement)
        placement.save(update_fields=["removed_on", "removal_reason"])
        cancel_visits(
            placement.visits.filter(status=Visit.Status.SCHEDULED, due_on__gt=removed_on),
            reason=Visit.CancelReason.REMOVED,
            by=by,
        )
    return placement


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
            day_starts_at = reminder_timing.local_moment(today, datetime.time(0), each.zone)
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
