"""The reports page's charts, drawn on the server as inline SVG: values in, bar coordinates out.

Pure: it imports nothing of the app. What it needs of a month and of a figure is named below as a
protocol, so ``patients.reports.figures.Month`` and ``patients.reports.page.Figure`` fit without
this module knowing them.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

NO_VALUE = "\N{EN DASH}"  # nothing to count that month, which is not the same as zero

CHART_WIDTH, CHART_HEIGHT = 320, 150
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 14, 124, 4


class ChartedMonth(Protocol):
    @property
    def first(self) -> datetime.date: ...

    @property
    def last(self) -> datetime.date: ...  # the month's last day, or today in the current month

    @property
    def is_complete(self) -> bool: ...


class ChartedFigure(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def unit(self) -> str: ...  # "percent", "count" or "rate": how the value is scaled and written


def written(value: float | None, unit: str) -> str:
    if value is None:
        return NO_VALUE
    if unit == "percent":
        return f"{100 * value:.0f} %"
    if unit == "rate":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def month_label(month: ChartedMonth) -> str:
    return f"{month.first:%b %Y}" + ("" if month.is_complete else f" (to {month.last.day} {month.last:%b})")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    centre: float
    label: str  # the month's initial under the bar
    text: str  # month and value, for the bar's tooltip
    partial: bool  # the current month, still to date


@dataclass(frozen=True)
class Chart:
    figure: ChartedFigure
    bars: list[Bar]
    top: str  # the value at the top of the scale
    summary: str  # the text alternative: every month and its value
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    baseline: int = PLOT_BOTTOM
    label_y: int = CHART_HEIGHT - 8


def chart(figure: ChartedFigure, months: Sequence[ChartedMonth], values: Sequence[float | None]) -> Chart:
    """Bars over the months, one per value; a share is scaled to 100 %, anything else to its largest value."""
    known = [value for value in values if value is not None]
    top = 1.0 if figure.unit == "percent" else max(known, default=0.0) or 1.0
    slot = (CHART_WIDTH - 2 * PLOT_LEFT) / max(len(months), 1)
    bars = []
    for index, (month, value) in enumerate(zip(months, values, strict=True)):
        height = (PLOT_BOTTOM - PLOT_TOP) * (value or 0) / top
        bars.append(
            Bar(
                x=round(PLOT_LEFT + index * slot + slot * 0.15, 1),
                y=round(PLOT_BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                centre=round(PLOT_LEFT + (index + 0.5) * slot, 1),
                label=f"{month.first:%b}"[0],
                text=f"{month_label(month)}: {written(value, figure.unit)}",
                partial=not month.is_complete,
            )
        )
    summary = "; ".join(
        f"{month_label(month)}: {'no data' if value is None else written(value, figure.unit)}"
        for month, value in zip(months, values, strict=True)
    )
    return Chart(
        figure=figure, bars=bars, top=written(top, figure.unit), summary=f"{figure.title} by month. {summary}."
    )
