"""What the reports page shows of a clinic's months: the figures in its order, a row of the table per
month, and a chart per figure (drawn by ``patients.reports.charts``)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from patients.reports.charts import Chart, chart, month_label, written
from patients.reports.figures import RETENTION_DAYS, MonthFigures, Share


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    unit: str  # "percent", "count" or "rate": how the value is scaled and written
    value: Callable[[MonthFigures], float | None]
    detail: Callable[[MonthFigures], str]  # the counts behind the value, in words


def _share_figure(key: str, title: str, noun: str, share: Callable[[MonthFigures], Share]) -> Figure:
    """A figure that is a share of a count, with the count written beneath it."""
    return Figure(
        key,
        title,
        "percent",
        lambda month: share(month).rate,
        lambda m: f"{share(m).part:,} of {share(m).whole:,} {noun}",
    )


def _retained(days: int) -> Callable[[MonthFigures], Share]:
    return lambda month: month.retention[days]


FIGURES = (
    Figure("active_patients", "Active patients", "count", lambda month: month.active_patients, lambda month: ""),
    _share_figure("days_covered", "Proportion of days covered", "days", lambda month: month.days_covered),
    _share_figure("renewals_on_time", "Renewals on time", "renewals", lambda month: month.renewals_on_time),
    Figure(
        "lapses",
        "Lapses per 100 patient-months",
        "rate",
        lambda month: month.lapses_per_100_patient_months,
        lambda month: f"{month.lapses:,} lapse{'' if month.lapses == 1 else 's'}",
    ),
    _share_figure(
        "monitoring_in_window", "Monitoring visits in their window", "visits", lambda m: m.monitoring_in_window
    ),
    _share_figure("therapy_attendance", "Therapy attendance", "sessions", lambda month: month.therapy_attendance),
    *(_share_figure(f"retention_{d}", f"Retention at {d} days", "patients", _retained(d)) for d in RETENTION_DAYS),
)


@dataclass(frozen=True)
class MonthRow:
    """A month's line of the page's table: its label, then each figure as written."""

    label: str
    cells: list[tuple[str, str]]  # each figure's value and the counts behind it


def _cell(figure: Figure, month: MonthFigures) -> tuple[str, str]:
    """The value as written, and the counts behind it (none under a dash: there were none)."""
    value = figure.value(month)
    return written(value, figure.unit), "" if value is None else figure.detail(month)


def table(months: Sequence[MonthFigures]) -> list[MonthRow]:
    return [MonthRow(label=month_label(month.month), cells=[_cell(f, month) for f in FIGURES]) for month in months]


def charts(months: Sequence[MonthFigures]) -> list[Chart]:
    shown = [month.month for month in months]
    return [chart(figure, shown, [figure.value(month) for month in months]) for figure in FIGURES]
