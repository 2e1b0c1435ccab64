"""Reads that several pages, services and commands share, and the rules' settings."""

import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from patients.models import Patient, Placement, Visit
from patients.records import safety, schedule


def schedule_rules() -> schedule.ScheduleRules:
    """The schedule rules in force, from settings."""
    return schedule.ScheduleRules(
        monitoring_interval_months=settings.MONITORING_INTERVAL_MONTHS,
        monitoring_window_days=settings.MONITORING_WINDOW_DAYS,
        reinduction_after_lapse_days=settings.REINDUCTION_AFTER_LAPSE_DAYS,
        induction_min_opioid_free_days=settings.INDUCTION_MIN_OPIOID_FREE_DAYS,
    )


def liver_limits() -> safety.LiverLimits:
    """The liver limits in force, from settings."""
    return safety.LiverLimits(
        alt_upper=settings.ALT_UPPER_LIMIT_OF_NORMAL,
        ast_upper=settings.AST_UPPER_LIMIT_OF_NORMAL,
        multiple=settings.LIVER_FLAG_MULTIPLE,
    )


def with_safety_results(patients: QuerySet[Patient], *, today: datetime.date) -> QuerySet[Patient]:
    """Each patient with what ``safety.flagged_to_act_on`` reads: ``item9``, ``alt`` and ``ast`` (each the
    latest value recorded in the lookback) and ``liver_tested`` (any liver test in it)."""
    recent = Visit.objects.filter(
        patient=OuterRef("pk"), status=safety.COMPLETED, completed_on__gte=safety.lookback_start(today)
    )

    def latest(field: str) -> Subquery:
        newest_first = recent.filter(**{f"{field}__isnull": False}).order_by("-completed_on", "-due_on", "-pk")
        return Subquery(newest_first.values(field)[:1])

    liver_tested = recent.filter(Q(alt_u_per_l__isnull=False) | Q(ast_u_per_l__isnull=False))
    return patients.annotate(
        item9=latest(safety.ITEM9), alt=latest(safety.ALT), ast=latest(safety.AST), liver_tested=Exists(liver_tested)
    )


def may_have_safety_flags(patients: QuerySet[Patient], *, today: datetime.date) -> QuerySet[Patient]:
    """The patients who may have a flag to act on on ``today``: a known liver condition, or a
    completed visit of the lookback whose findings would call for action (``safety.visit_to_act_on``).

    A superset of the flagged, found from the visits of the lookback (visit_status_completed_idx)
    instead of from every patient's latest results: the flags are then decided on these alone.
    """
    to_act_on = Visit.objects.filter(status=safety.COMPLETED, completed_on__gte=safety.lookback_start(today)).filter(
        safety.visit_to_act_on(liver_limits())
    )
    # One list of keys, so that the database starts from these few patients (an OR of the two
    # conditions would have it read every patient to test them).
    liver_condition = Patient.objects.filter(liver_condition=True)
    candidates = to_act_on.order_by().values("patient_id").union(liver_condition.order_by().values("pk"))
    return patients.filter(pk__in=candidates)


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
