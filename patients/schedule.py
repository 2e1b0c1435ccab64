"""The schedule rules' long-standing address; they live in ``patients.records.schedule``."""

from patients.records.schedule import (
    CoverageSpan,
    CoverageState,
    CoverageUnit,
    PlannedVisit,
    ScheduleRules,
    VisitKind,
    add_months,
    coverage_end,
    coverage_state,
    plan_visits,
)

__all__ = [
    "CoverageSpan",
    "CoverageState",
    "CoverageUnit",
    "PlannedVisit",
    "ScheduleRules",
    "VisitKind",
    "add_months",
    "coverage_end",
    "coverage_state",
    "plan_visits",
]
