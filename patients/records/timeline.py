"""The geometry of a patient's coverage timeline: dates in, coordinates out.

Pure like ``patients.records.schedule``: no database and no clock, ``today`` is passed in. The patient page
draws the result as an inline SVG, so the picture is server-rendered and needs no JavaScript.

The picture has three lanes over one date axis: placements as bars from the placement day to the
last protected day, with the days between one dose's end and the next dose (or today) in red; visits
as marks; therapy sessions as smaller marks. A line marks today and ticks mark each month.
"""

import datetime
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from patients import formats
from patients.records.schedule import add_months

DAY = datetime.timedelta(days=1)
# Long histories are cut here: a picture of years of monthly visits becomes an unreadable smear,
# and the tables below the picture hold every row.
MAX_PAST = datetime.timedelta(days=540)
MAX_FUTURE = datetime.timedelta(days=200)
# Room either side of the first and last dates, so that marks on them are not cut in half.
MARGIN = datetime.timedelta(days=10)
# A picture shorter than this makes a single dose fill the width and looks like a progress bar.
MIN_SPAN = datetime.timedelta(days=100)
# Beyond this many months the month names would overlap: only every third month is labelled.
MONTHS_LABELLED_EACH = 15

# The viewBox, in user units; the SVG scales to its container's width.
WIDTH = 1000
LABEL_WIDTH = 90  # the lane names on the left
RIGHT_PADDING = 15
BAR_Y, BAR_HEIGHT = 14, 26
VISIT_Y = 66  # centre line of the visit marks
SESSION_Y, SESSION_HEIGHT = 88, 12
AXIS_Y = 112
HEIGHT = 134


@dataclass(frozen=True)
class Span:
    """One placement: protected from ``placed_on`` through ``ends_on``."""

    placed_on: datetime.date
    ends_on: datetime.date
    label: str


@dataclass(frozen=True)
class Event:
    """A visit or a therapy session on one day, with its status value and words for a tooltip."""

    day: datetime.date
    status: str
    label: str


@dataclass(frozen=True)
class Box:
    x: float
    width: float
    label: str


@dataclass(frozen=True)
class Mark:
    x: float
    status: str
    label: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    starts_on: datetime.date
    ends_on: datetime.date
    today_x: float
    bars: list[Box]
    lapses: list[Box]
    visits: list[Mark]
    sessions: list[Mark]
    ticks: list[Tick]
    description: str
    # The geometry the template needs, so that it holds no numbers of its own.
    width: int = WIDTH
    height: int = HEIGHT
    label_width: int = LABEL_WIDTH
    bar_y: int = BAR_Y
    bar_height: int = BAR_HEIGHT
    visit_y: int = VISIT_Y
    session_y: int = SESSION_Y
    session_height: int = SESSION_HEIGHT
    axis_y: int = AXIS_Y

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT_PADDING


def lapses_between(
    spans: Sequence[Span], *, lapse_until: datetime.date | None
) -> list[tuple[datetime.date, datetime.date]]:
    """Unprotected days, first and last: between one dose's end and the next dose, and after the
    last dose up to ``lapse_until`` (today, unless the patient has left the programme)."""
    ordered = sorted(spans, key=lambda span: span.placed_on)
    gaps = []
    for earlier, later in itertools.pairwise(ordered):
        # Counted as a difference, so that a dose ending on the calendar's last day adds no day to it.
        if (later.placed_on - earlier.ends_on).days > 1:
            gaps.append((earlier.ends_on + DAY, later.placed_on - DAY))
    if ordered and lapse_until is not None and lapse_until > ordered[-1].ends_on:
        gaps.append((ordered[-1].ends_on + DAY, lapse_until))
    return gaps


def date_range(
    spans: Sequence[Span], events: Sequence[Event], *, today: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """From the first placement (or three months back) to past the last date that matters.

    Each date is held inside the picture's limits before the margins are added, so that a row dated
    at either end of the calendar (saved before dates were bounded) still gives a picture."""
    earliest, latest = today - MAX_PAST, today + MAX_FUTURE
    days = [today, *(span.placed_on for span in spans), *(span.ends_on for span in spans)]
    days = [min(max(day, earliest), latest) for day in [*days, *(event.day for event in events)]]
    starts_on = max(min(days) - MARGIN, earliest)
    ends_on = min(max(days) + MARGIN, latest)
    if ends_on - starts_on < MIN_SPAN:
        starts_on = min(starts_on, ends_on - MIN_SPAN)
    return starts_on, ends_on


def build_timeline(
    *,
    spans: Sequence[Span],
    visits: Sequence[Event],
    sessions: Sequence[Event],
    today: datetime.date,
    lapse_until: datetime.date | None,
) -> Timeline:
    starts_on, ends_on = date_range(spans, [*visits, *sessions], today=today)
    total_days = (ends_on - starts_on).days + 1
    plot_width = WIDTH - LABEL_WIDTH - RIGHT_PADDING

    def x(day: datetime.date) -> float:
        """The left edge of ``day``, kept inside the plot."""
        offset = min(max((day - starts_on).days, 0), total_days)
        return round(LABEL_WIDTH + offset * plot_width / total_days, 1)

    def box(first: datetime.date, last: datetime.date, label: str) -> Box | None:
        if last < starts_on or first > ends_on:
            return None
        left, right = x(first), x(min(last, ends_on) + DAY)
        return Box(x=left, width=round(max(right - left, 1.0), 1), label=label)

    def marks(events: Sequence[Event]) -> list[Mark]:
        return [
            Mark(x=round(x(event.day) + plot_width / total_days / 2, 1), status=event.status, label=event.label)
            for event in sorted(events, key=lambda event: event.day)
            if starts_on <= event.day <= ends_on
        ]

    gaps = lapses_between(spans, lapse_until=lapse_until)
    bars = [
        box(
            span.placed_on, span.ends_on, f"{span.label}: {formats.day(span.placed_on)} to {formats.day(span.ends_on)}"
        )
        for span in sorted(spans, key=lambda span: span.placed_on)
    ]
    lapses = [box(first, last, f"No coverage: {formats.day(first)} to {formats.day(last)}") for first, last in gaps]
    return Timeline(
        starts_on=starts_on,
        ends_on=ends_on,
        today_x=x(today),
        bars=[bar for bar in bars if bar],
        lapses=[lapse for lapse in lapses if lapse],
        visits=marks(visits),
        sessions=marks(sessions),
        ticks=[Tick(x=x(day), label=label) for day, label in month_ticks(starts_on, ends_on)],
        description=describe(spans, gaps, visits, sessions, starts_on=starts_on, today=today),
    )


def month_ticks(starts_on: datetime.date, ends_on: datetime.date) -> list[tuple[datetime.date, str]]:
    """The first day of each month in the range, named; January and the first tick carry the year."""
    day = add_months(starts_on.replace(day=1), 1) if starts_on.day > 1 else starts_on
    firsts = []
    while day <= ends_on:
        firsts.append(day)
        day = add_months(day, 1)
    every = 3 if len(firsts) > MONTHS_LABELLED_EACH else 1
    ticks = []
    for index, first in enumerate(firsts):
        if (first.month - 1) % every:
            continue
        ticks.append((first, f"{first:%b %Y}" if first.month == 1 or index < every else f"{first:%b}"))
    return ticks


def _counted(events: Sequence[Event], starts_on: datetime.date) -> str:
    counts = Counter(event.status for event in events if event.day >= starts_on)
    return ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in sorted(counts.items())) or "none"


def describe(
    spans: Sequence[Span],
    gaps: Sequence[tuple[datetime.date, datetime.date]],
    visits: Sequence[Event],
    sessions: Sequence[Event],
    *,
    starts_on: datetime.date,
    today: datetime.date,
) -> str:
    """The picture in words, for screen readers and for anyone who cannot tell the colours apart."""
    parts = [f"From {formats.day(starts_on)}; today is {formats.day(today)}."]
    if spans:
        newest = max(spans, key=lambda span: span.placed_on)
        parts.append(
            f"{len(spans)} placement{'s' if len(spans) != 1 else ''}; the newest on {formats.day(newest.placed_on)}, "
            f"protecting through {formats.day(newest.ends_on)}."
        )
    else:
        parts.append("No placement yet.")
    shown = [(first, last) for first, last in gaps if last >= starts_on]
    if shown:
        parts.append(
            "Without coverage: "
            + "; ".join(f"{formats.day(first)} to {formats.day(last)}" for first, last in shown)
            + "."
        )
    else:
        parts.append("No gaps in coverage.")
    parts.append(f"Visits: {_counted(visits, starts_on)}.")
    parts.append(f"Therapy sessions: {_counted(sessions, starts_on)}.")
    return " ".join(parts)
