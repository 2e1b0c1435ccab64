"""Reads that several pages, services and commands share, and the rules' settings."""

import datetime

from django.conf import settings
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When

from patients.models import Clinic, LatestResults, Patient, Placement, Visit
from patients.records import latest_results, safety, schedule


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
    since = safety.lookback_start(today)
    recent = Visit.objects.filter(patient=OuterRef("pk"), status=safety.COMPLETED, completed_on__gte=since)

    def latest(field: str) -> Subquery:
        return Subquery(latest_results.recorded(field).filter(completed_on__gte=since).values(field)[:1])

    liver_tested = recent.filter(Q(alt_u_per_l__isnull=False) | Q(ast_u_per_l__isnull=False))
    return patients.annotate(
        item9=latest(safety.ITEM9), alt=latest(safety.ALT), ast=latest(safety.AST), liver_tested=Exists(liver_tested)
    )


def with_latest_results(patients: QuerySet[Patient], *, today: datetime.date) -> QuerySet[Patient]:
    """:func:`with_safety_results`' annotations read from each patient's kept ``LatestResults``
    (``patients.records.latest_results``): one row per patient instead of a lookup of every result.

    A kept result is the latest of the lookback when its day falls in the lookback; otherwise the
    lookback has none. A liver test in the lookback is a latest ALT or AST of the lookback.
    """
    since = safety.lookback_start(today)

    def in_lookback(value: str, day: str) -> Case:
        return Case(When(**{f"latest_results__{day}__gte": since}, then=F(f"latest_results__{value}")), default=None)

    liver_tested = Q(latest_results__alt_on__gte=since) | Q(latest_results__ast_on__gte=since)
    return patients.annotate(
        item9=in_lookback("item9", "item9_on"),
        alt=in_lookback("alt", "alt_on"),
        ast=in_lookback("ast", "ast_on"),
        # A patient without a kept row has had no liver test: false, not unknown.
        liver_tested=Case(When(liver_tested, then=Value(True)), default=Value(False), output_field=BooleanField()),
    )


def may_have_safety_flags(patients: QuerySet[Patient], *, clinic: Clinic, today: datetime.date) -> QuerySet[Patient]:
    """The patients of ``clinic`` among ``patients`` who may have a flag to act on: a known liver
    condition, or a kept latest result that would call for action were it of the lookback
    (``safety.latest_to_act_on``).

    A superset of the flagged on any day, found from the kept rows' indexes (latest_results_*_idx)
    and the clinic's known liver conditions (patient_liver_condition_idx), instead of from every
    patient's latest results: the flags are then decided on these alone. ``today`` is the day the
    flags are decided for.
    """
    del today  # the superset is the same on every day: the flags of the day are decided after
    # One list of keys, so that the database starts from these few patients: each test's results to
    # act on from its own index, and the known liver conditions (an OR of the conditions would have
    # it read every kept row, or every patient, to test them).
    to_act_on = [
        LatestResults.objects.filter(condition).order_by().values("patient_id")
        for condition in safety.latest_to_act_on(liver_limits())
    ]
    liver_condition = Patient.objects.filter(clinic=clinic, liver_condition=True).order_by().values("pk")
    return patients.filter(pk__in=liver_condition.union(*to_act_on))


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


def of_clinic(clinic: Clinic, *conditions: Q) -> Exists:
    """The row's patient is the clinic's (and meets ``conditions``): checked row by row, so that
    the database starts from the list's own index. Joined instead, the patient's clinic is an
    equality on an index, which SQLite's planner (without statistics) rates above any range: it
    would start from every patient of the clinic."""
    return Exists(Patient.objects.filter(*conditions, pk=OuterRef("patient_id"), clinic=clinic))
