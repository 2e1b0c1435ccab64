"""The schedule rules: dates in, dates out.

Pure functions with no database and no clock: ``today`` is always passed in, so every rule can be
tested on any date. The defaults live in settings (README "How the schedule works"); the services
hand them over as a :class:`ScheduleRules`.

The rules, in words:

- A placement on day D of a product that covers N months is protective through D + N months (the
  renewal is due that day). Month arithmetic clamps to the end of the month, each date counted from
  D itself: placed 31 January, visits fall due 29 February (leap year), 31 March, 30 April.
  Products measured in weeks cover D + 7N days.
- Monitoring visits fall due every month after D for as long as they come before the renewal window
  opens; each may happen a set number of days either side of its due date. A four-week injection
  therefore has a single visit per dose: its renewal, which is also its monitoring visit.
- The renewal visit's window opens a product-specific number of days before coverage ends and
  closes on the last covered day.
- A patient's coverage on a day follows the newest placement on or before it: ``covered``, then
  ``renewal_window_open``, then ``lapsed`` after the last covered day, then
  ``reinduction_required`` once lapsed for more than the set number of days; ``none`` before any
  placement or after discharge.
"""

import calendar
import datetime
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q


@dataclass(frozen=True)
class ScheduleRules:
    monitoring_interval_months: int
    monitoring_window_days: int
    reinduction_after_lapse_days: int
    induction_min_opioid_free_days: int


class CoverageState(enum.StrEnum):
    """Where a patient stands on a day, from the most to the least protected."""

    COVERED = "covered"
    RENEWAL_WINDOW_OPEN = "renewal_window_open"
    LAPSED = "lapsed"
    REINDUCTION_REQUIRED = "reinduction_required"
    NONE = "none"

    @property
    def label(self) -> str:
        return _COVERAGE_LABELS[self]


_COVERAGE_LABELS = {
    CoverageState.COVERED: "Covered",
    CoverageState.RENEWAL_WINDOW_OPEN: "Renewal window open",
    CoverageState.LAPSED: "Coverage lapsed",
    CoverageState.REINDUCTION_REQUIRED: "Re-induction required",
    CoverageState.NONE: "No coverage",
}


class CoverageUnit(enum.StrEnum):
    MONTHS = "months"
    WEEKS = "weeks"


class VisitKind(enum.StrEnum):
    MONITORING = "monitoring"
    RENEWAL = "renewal"


@dataclass(frozen=True)
class PlannedVisit:
    kind: VisitKind
    due_on: datetime.date
    window_start: datetime.date
    window_end: datetime.date


@dataclass(frozen=True)
class CoverageSpan:
    """One placement as the coverage rules see it."""

    placed_on: datetime.date
    ends_on: datetime.date  # the last protected day (the planned end, or removal if earlier)
    renewal_lead_days: int

    @property
    def renewal_opens_on(self) -> datetime.date:
        return self.ends_on - datetime.timedelta(days=self.renewal_lead_days)


def last_protected_day(*, covers_until: datetime.date, removed_on: datetime.date | None) -> datetime.date:
    """The planned end of a dose, or the day the implant came out if that was earlier."""
    return min(covers_until, removed_on or covers_until)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` moved by whole months, clamped to the last day of the target month."""
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last_day))


def coverage_end(*, placed_on: datetime.date, length: int, unit: CoverageUnit | str) -> datetime.date:
    """The last protected day of a dose placed on ``placed_on`` (its renewal is due that day)."""
    if length < 1:
        raise ValueError("A coverage length must be at least 1.")
    if CoverageUnit(unit) is CoverageUnit.WEEKS:
        return placed_on + datetime.timedelta(weeks=length)
    return add_months(placed_on, length)


def plan_visits(
    *, placed_on: datetime.date, covers_until: datetime.date, renewal_lead_days: int, rules: ScheduleRules
) -> list[PlannedVisit]:
    """Every visit a placement needs: monthly monitoring, then the renewal on its last covered day."""
    if covers_until <= placed_on:
        raise ValueError("Coverage must end after the placement day.")
    renewal_opens = max(covers_until - datetime.timedelta(days=renewal_lead_days), placed_on)
    spread = datetime.timedelta(days=rules.monitoring_window_days)
    visits = []
    step = 1
    while (due := add_months(placed_on, step * rules.monitoring_interval_months)) < renewal_opens:
        visits.append(
            PlannedVisit(
                kind=VisitKind.MONITORING,
                due_on=due,
                window_start=max(due - spread, placed_on + datetime.timedelta(days=1)),
                window_end=min(due + spread, covers_until),
            )
        )
        step += 1
    visits.append(
        PlannedVisit(kind=VisitKind.RENEWAL, due_on=covers_until, window_start=renewal_opens, window_end=covers_until)
    )
    return visits


def latest_span(spans: Sequence[CoverageSpan], today: datetime.date) -> CoverageSpan | None:
    """The newest placement on or before ``today``; coverage follows it alone."""
    started = [span for span in spans if span.placed_on <= today]
    return max(started, key=lambda span: span.placed_on, default=None)


def coverage_state(
    *, spans: Sequence[CoverageSpan], today: datetime.date, discharged: bool, rules: ScheduleRules
) -> CoverageState:
    span = latest_span(spans, today)
    if span is None or discharged:
        return CoverageState.NONE
    if today <= span.ends_on:
        return CoverageState.RENEWAL_WINDOW_OPEN if today >= span.renewal_opens_on else CoverageState.COVERED
    if (today - span.ends_on).days > rules.reinduction_after_lapse_days:
        return CoverageState.REINDUCTION_REQUIRED
    return CoverageState.LAPSED


def lapse_conditions(
    *, today: datetime.date, rules: ScheduleRules, ends_on: str = "ends_on"
) -> dict[CoverageState, Q]:
    """:func:`coverage_state`'s two lapsed states as database conditions, over the last protected
    day of each patient's newest placement (annotated as ``ends_on``), for patients not discharged.

    Lapsed for more than ``reinduction_after_lapse_days`` days, that is an end before ``today``
    minus those days, needs re-induction; any later end before ``today`` is a lapse.
    """
    threshold = today - datetime.timedelta(days=rules.reinduction_after_lapse_days)
    return {
        CoverageState.LAPSED: Q(**{f"{ends_on}__lt": today, f"{ends_on}__gte": threshold}),
        CoverageState.REINDUCTION_REQUIRED: Q(**{f"{ends_on}__lt": threshold}),
    }


def needs_induction(state: CoverageState) -> bool:
    """A first placement, or one after a long lapse, needs the opioid-free checklist."""
    return state in (CoverageState.NONE, CoverageState.REINDUCTION_REQUIRED)


def is_early_renewal(*, previous: CoverageSpan, placed_on: datetime.date) -> bool:
    """A new dose while the previous one still protects, before its renewal window has opened."""
    return placed_on < previous.renewal_opens_on


def is_inside_window(*, day: datetime.date, window_start: datetime.date, window_end: datetime.date) -> bool:
    return window_start <= day <= window_end


def induction_problems(
    *,
    opioid_free_days: int | None,
    urine_screen: str,
    naloxone_challenge: str,
    naloxone_waiver_reason: str,
    rules: ScheduleRules,
) -> dict[str, str]:
    """What the induction checklist still lacks, by field; empty when the placement may go ahead."""
    problems = {}
    minimum = rules.induction_min_opioid_free_days
    if opioid_free_days is None or opioid_free_days < minimum:
        problems["opioid_free_days"] = (
            f"The patient must have been opioid-free for at least {minimum} days before this placement "
            "(longer after long-acting opioids)."
        )
    if urine_screen != "negative":
        problems["urine_screen"] = "A negative urine drug screen is needed before this placement."
    if naloxone_challenge == "waived":
        if not naloxone_waiver_reason.strip():
            problems["naloxone_waiver_reason"] = "Say why the naloxone challenge was waived."
    elif naloxone_challenge != "negative":
        problems["naloxone_challenge"] = (
            "A negative naloxone challenge is needed before this placement, or a waiver with its reason."
        )
    return problems
