"""Writes about placements: recording one (with its visits and reminders) and a removal.

Each service takes keyword-only arguments, checks the request, and either saves all of it in one
transaction or raises ``ValidationError`` (keyed by field where a field is at fault) and saves
nothing. The blocks are plain ``atomic`` rather than durable so that services compose: the demo
seeder records many placements inside one transaction of its own. Reminder rows change in the same
transaction as the visits they announce (``patients.reminders.outbox``); a bulk write goes through
``patients.audit.services`` so that it leaves a history row for each row it changes.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from patients import formats
from patients.audit import services as audit
from patients.clinic_time import clinic_midnight, clinic_today
from patients.models import CheckResult, ImportRun, NaloxoneChallenge, Patient, Placement, Product, Visit
from patients.records import bounds, newest, schedule
from patients.records.plan import placement_coverage_end, planned_coverage_end, unsaved_visits
from patients.records.selectors import coverage_spans, schedule_rules
from patients.records.services.base import (
    cancel_visits,
    check_unsaved,
    locked_patient,
    refuse_nul_characters,
    save_checked,
)
from patients.reminders import outbox
from patients.roles import Action, require

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
    imported_in: ImportRun | None = None,
    by: User | None = None,
) -> Placement:
    """Record a dose and plan its visits; a renewal closes the previous cycle.

    The previous placement's scheduled visits due on or after ``placed_on`` are cancelled as
    superseded; earlier ones stay, to be completed or marked missed. A different coverage end, an
    early renewal and a naloxone waiver are clinical overrides.

    A placement brought in from the clinic's earlier records (``imported_in``) is recorded as it
    happened: neither the induction checklist nor an early renewal's reason is asked for, since
    no one can go back and check them; every other rule holds. Its reminders whose time has
    passed are written expired, as for any placement, so none goes out late.
    """
    with transaction.atomic():
        patient = locked_patient(patient)
        require(by, Action.RECORD_PLACEMENTS, patient.clinic)
        if naloxone_waiver_reason.strip() or early_renewal_reason.strip() or covers_until_override_reason.strip():
            require(by, Action.CLINICAL_OVERRIDE, patient.clinic)
        if imported_in is not None and imported_in.clinic_id != patient.clinic_id:
            raise ValueError("A placement can only be imported by its own clinic's import.")
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
            imported=imported_in is not None,
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
        placement = _new_placement(
            patient=patient,
            product=product,
            placed_on=placed_on,
            covers_until=covers_until,
            imported_in=imported_in,
            dose_mg=dose_mg,
            lot_number=lot_number,
            body_site=body_site,
            placed_by=placed_by,
            opioid_free_days=opioid_free_days,
            urine_screen=urine_screen,
            naloxone_challenge=naloxone_challenge,
            naloxone_waiver_reason=naloxone_waiver_reason,
            covers_until_override_reason=covers_until_override_reason,
            early_renewal_reason=early_renewal_reason,
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
        newest.keep([patient.pk])
    return placement


def _check_placement(
    *,
    patient: Patient,
    product: Product,
    placed_on: datetime.date,
    induction: dict[str, Any],
    early_renewal_reason: str,
    rules: schedule.ScheduleRules,
    imported: bool = False,
) -> None:
    """Every refusal a placement can meet, gathered so the coordinator sees them all at once."""
    spans = coverage_spans(patient)
    previous = max(spans, key=lambda span: span.placed_on, default=None)
    check_placement_order(
        patient=patient, product=product, placed_on=placed_on, previous_on=previous.placed_on if previous else None
    )
    if imported:
        return
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


def _new_placement(**fields: Any) -> Placement:
    """The unsaved placement, its typed text trimmed."""
    for name in ("lot_number", "naloxone_waiver_reason", "covers_until_override_reason", "early_renewal_reason"):
        if name in fields:
            fields[name] = fields[name].strip()
    return Placement(**fields)


def check_placement_order(
    *, patient: Patient, product: Product, placed_on: datetime.date, previous_on: datetime.date | None
) -> None:
    """The refusals every placement meets, recorded or imported, that need no query: a discharged
    patient, a product not theirs or no longer in use, and a day not after their previous placement
    (``previous_on``)."""
    if patient.status == Patient.Status.DISCHARGED:
        raise ValidationError("This patient is discharged. Readmit them before recording a placement.")
    errors: dict[str, str] = {}
    if product.clinic_id != patient.clinic_id:
        errors["product"] = "This product is not in this clinic's catalogue."
    elif not product.is_active:
        errors["product"] = "This product is no longer in use; choose another."
    if previous_on and placed_on <= previous_on:
        errors["placed_on"] = (
            f"The previous placement was on {formats.day(previous_on)}; a new one must come after it."
        )
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True)
class ImportedPlacement:
    """What ``record_placement(imported_in=…)`` and ``settle_past_visits`` would save, unsaved."""

    placement: Placement
    visits: list[Visit]
    over: list[Visit]  # the visits already over, which settling marks missed or not recorded


def check_imported_placement(
    *,
    patient: Patient,
    product: Product,
    placed_on: datetime.date,
    previous_on: datetime.date | None,
    imported_in: ImportRun,
    **details: Any,
) -> ImportedPlacement:
    """A placement from a clinic's earlier records, checked as ``record_placement`` checks it, with
    only the checks that need no query: the patient's previous placement day (``previous_on``)
    comes from the caller, which reads a whole file's worth at once. The import's preview runs it
    for every row; the import itself goes through ``record_placement``. ``details`` are the
    placement's own fields that the file gives (dose, lot number, notes)."""
    covers_until, _ = placement_coverage_end(patient=patient, product=product, placed_on=placed_on, covers_until=None)
    check_placement_order(patient=patient, product=product, placed_on=placed_on, previous_on=previous_on)
    fields = {"patient": patient, "product": product, "placed_on": placed_on, "imported_in": imported_in}
    placement = _new_placement(covers_until=covers_until, **fields, **details)
    check_unsaved(placement)
    visits = unsaved_visits(
        patient=patient, product=product, placed_on=placed_on, covers_until=covers_until, placement=placement
    )
    today = clinic_today(patient.clinic)
    day_starts_at = clinic_midnight(today, patient.clinic)
    over = [visit for visit in visits if visit.is_over(today, day_starts_at=day_starts_at)]
    return ImportedPlacement(placement=placement, visits=visits, over=over)


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
        newest.keep([patient.pk])
    return placement
