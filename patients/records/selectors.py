"""Reads that several pages, services and commands share."""

import datetime

from django.conf import settings

from patients.models import Patient, Placement
from patients.records import schedule


def schedule_rules() -> schedule.ScheduleRules:
    """The schedule rules in force, from settings."""
    return schedule.ScheduleRules(
        monitoring_interval_months=settings.MONITORING_INTERVAL_MONTHS,
        monitoring_window_days=settings.MONITORING_WINDOW_DAYS,
        reinduction_after_lapse_days=settings.REINDUCTION_AFTER_LAPSE_DAYS,
        induction_min_opioid_free_days=settings.INDUCTION_MIN_OPIOID_FREE_DAYS,
    )


def coverage_span(placement: Placement) -> schedule.CoverageSpan:
    return schedule.CoverageSpan(
        placed_on=placement.placed_on,
        ends_on=placement.coverage_ends_on,
        renewal_lead_days=placement.product.renewal_window_lead_days,
    )


def coverage_spans(patient: Patient) -> list[schedule.CoverageSpan]:
    placements = patient.placements.select_related("product").order_by("placed_on")
    return [coverage_span(placement) for placement in placements]


def coverage_state(patient: Patient, *, today: datetime.date) -> schedule.CoverageState:
    """The patient's coverage on ``today``, computed from the placement dates."""
    return schedule.coverage_state(
        spans=coverage_spans(patient),
        today=today,
        discharged=patient.status == Patient.Status.DISCHARGED,
        rules=schedule_rules(),
    )


def latest_placement(patient: Patient, *, on_or_before: datetime.date | None = None) -> Placement | None:
    placements = patient.placements.select_related("product").order_by("-placed_on")
    if on_or_before is not None:
        placements = placements.filter(placed_on__lte=on_or_before)
    return placements.first()
