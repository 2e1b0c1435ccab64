"""The shared reads' long-standing address; they live in ``patients.records.selectors`` (and a
clinic's today in ``patients.clinic_time``)."""

from patients.clinic_time import clinic_today
from patients.records.selectors import (
    coverage_span,
    coverage_spans,
    coverage_state,
    latest_placement,
    liver_limits,
    schedule_rules,
)

__all__ = [
    "clinic_today",
    "coverage_span",
    "coverage_spans",
    "coverage_state",
    "latest_placement",
    "liver_limits",
    "schedule_rules",
]
