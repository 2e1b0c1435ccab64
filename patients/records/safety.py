"""Safety flags: the results a clinician must act on before anything else, one rule for the patient
page and the dashboard.

A flag rests on the latest result recorded at a completed visit in the last
``SAFETY_LOOKBACK_DAYS`` days, each test on its own latest value (a visit may record ALT without
AST): PHQ-9 item 9 above 0; ALT or AST above ``LiverLimits.multiple`` times its upper limit of
normal; and a known liver condition with no liver test in that time. An older result raises
nothing: it is history, shown with its visit.

The patient page shows every flag, a known liver condition among them as a standing reminder; the
dashboard lists the patients with a flag to act on. Pure: :func:`safety_flags` reads rows already
loaded. :func:`flagged_to_act_on` is :func:`has_flags_to_act_on` as a database condition over the
values ``patients.records.selectors.with_safety_results`` annotates (or ``with_latest_results``,
from the kept latest results); tests check that they agree.
"""

import datetime
import functools
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import Q

from patients import formats

# The stored value of Visit.Status for a visit that took place (a test checks it matches the model's).
COMPLETED = "completed"
SAFETY_LOOKBACK_DAYS = 90
# The findings the flags read, each a Visit field.
ITEM9, ALT, AST = "phq9_item9", "alt_u_per_l", "ast_u_per_l"


@dataclass(frozen=True)
class LiverLimits:
    """Upper limits of normal (U/L) and the multiple of them that raises a flag; from settings."""

    alt_upper: int
    ast_upper: int
    multiple: int

    @property
    def alt_flag_above(self) -> int:
        return self.alt_upper * self.multiple

    @property
    def ast_flag_above(self) -> int:
        return self.ast_upper * self.multiple


@dataclass(frozen=True)
class Flag:
    title: str
    detail: str
    # False for what the page shows as a standing reminder (a known liver condition) rather than a
    # result to act on; the dashboard lists a patient for the flags to act on only.
    to_act_on: bool = True


class PatientFacts(Protocol):
    @property
    def liver_condition(self) -> bool: ...

    @property
    def liver_condition_note(self) -> str: ...


def lookback_start(today: datetime.date) -> datetime.date:
    """The first day whose results can raise a flag on ``today``."""
    return today - datetime.timedelta(days=SAFETY_LOOKBACK_DAYS)


def latest_result(visits: Iterable[Any], field: str, *, today: datetime.date) -> Any | None:
    """The latest completed visit of the lookback at which ``field`` was recorded (the database
    orders the same way: completed on, then due on, then the row's key, newest first)."""
    since = lookback_start(today)
    done = [
        visit
        for visit in visits
        if visit.status == COMPLETED
        and visit.completed_on is not None
        and visit.completed_on >= since
        and getattr(visit, field) is not None
    ]
    return max(done, key=lambda visit: (visit.completed_on, visit.due_on, visit.pk), default=None)


def liver_values_high(visit: Any, limits: LiverLimits) -> bool:
    alt, ast = visit.alt_u_per_l, visit.ast_u_per_l
    return (alt is not None and alt > limits.alt_flag_above) or (ast is not None and ast > limits.ast_flag_above)


def _day(day: datetime.date | None) -> str:
    return formats.day(day) if day else "an unknown day"


def safety_flags(
    patient: PatientFacts, visits: Iterable[Any], *, today: datetime.date, limits: LiverLimits
) -> list[Flag]:
    """The flags of one patient on ``today``, most pressing first."""
    visits = list(visits)
    flags = []
    mood = latest_result(visits, ITEM9, today=today)
    if mood is not None and mood.phq9_item9:
        flags.append(
            Flag(
                "PHQ-9 item 9 positive",
                f"Scored {mood.phq9_item9} of 3 at the visit on {_day(mood.completed_on)} "
                "(thoughts of being better off dead or of self-harm). Check the safety plan.",
            )
        )
    high, tested_on = [], []
    for name, field, above in (("ALT", ALT, limits.alt_flag_above), ("AST", AST, limits.ast_flag_above)):
        latest = latest_result(visits, field, today=today)
        if latest is None:
            continue
        tested_on.append(latest.completed_on)
        value = getattr(latest, field)
        if value > above:
            high.append(f"{name} {value} U/L on {_day(latest.completed_on)}")
    if high:
        flags.append(
            Flag(
                f"Liver tests above {limits.multiple} times normal",
                f"{'; '.join(high)} (upper limits of normal: ALT {limits.alt_upper}, AST {limits.ast_upper} U/L).",
            )
        )
    if patient.liver_condition:
        flags.append(
            Flag("Liver condition", patient.liver_condition_note.strip() or "No note recorded.", to_act_on=False)
        )
        if not tested_on:
            ever = [
                visit.completed_on
                for visit in visits
                if visit.status == COMPLETED
                and visit.completed_on
                and (visit.alt_u_per_l, visit.ast_u_per_l) != (None, None)
            ]
            last = max(ever, default=None)
            detail = f"Last liver test on {_day(last)}." if last else "No liver test recorded."
            flags.append(Flag(f"No liver test in {SAFETY_LOOKBACK_DAYS} days", detail))
    return flags


def has_flags_to_act_on(flags: Iterable[Flag]) -> bool:
    """Whether the dashboard lists the patient: a flag to act on, not only the standing ones."""
    return any(flag.to_act_on for flag in flags)


def _each_result_to_act_on(limits: LiverLimits, *, item9: str, alt: str, ast: str) -> list[Q]:
    """Each test's result that calls for action, over the fields or annotations that hold them."""
    return [
        Q(**{f"{item9}__gt": 0}),
        Q(**{f"{alt}__gt": limits.alt_flag_above}),
        Q(**{f"{ast}__gt": limits.ast_flag_above}),
    ]


def _results_to_act_on(limits: LiverLimits, *, item9: str, alt: str, ast: str) -> Q:
    """Results that call for action, over the fields or annotations that hold them."""
    return functools.reduce(operator.or_, _each_result_to_act_on(limits, item9=item9, alt=alt, ast=ast))


def flagged_to_act_on(limits: LiverLimits) -> Q:
    """:func:`has_flags_to_act_on` of :func:`safety_flags`, as a database condition over the
    annotations ``item9``, ``alt``, ``ast`` (the lookback's latest values) and ``liver_tested``, and
    the patient's ``liver_condition``."""
    return _results_to_act_on(limits, item9="item9", alt="alt", ast="ast") | Q(
        liver_condition=True, liver_tested=False
    )


def latest_to_act_on(limits: LiverLimits) -> list[Q]:
    """:func:`visit_to_act_on` over a patient's kept latest results (``LatestResults``' ``item9``,
    ``alt``, ``ast``, whatever their day), one condition per test, each for its own index: every
    patient :func:`flagged_to_act_on` holds has a liver condition or such a latest result, so these
    rows find the few patients worth the full test."""
    return _each_result_to_act_on(limits, item9="item9", alt="alt", ast="ast")


def visit_to_act_on(limits: LiverLimits) -> Q:
    """A visit's own findings that would call for action, were they the latest: a condition over a
    Visit. Every patient :func:`flagged_to_act_on` holds has a liver condition or such a completed
    visit in the lookback (the dashboard now finds them from the kept rows, :func:`latest_to_act_on`)."""
    return _results_to_act_on(limits, item9=ITEM9, alt=ALT, ast=AST)
