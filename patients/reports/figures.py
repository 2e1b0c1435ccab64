"""The reports' arithmetic, pure: plain dates in, monthly counts out. ``patients.reports.queries`` runs
the queries and explains the definitions."""

import bisect
import calendar
import datetime
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field, fields
from typing import Any, Self

from patients.records import schedule

DAY = datetime.timedelta(days=1)
RETENTION_DAYS = (90, 180)
# The stored values of Patient.Status the figures tell apart (a test checks they are the model's).
ACTIVE = "active"
DISCHARGED = "discharged"
IN_CARE = frozenset({ACTIVE, "paused", "lost_to_follow_up"})

Interval = tuple[int, int]  # first and last day as ordinals, both included


@dataclass(frozen=True)
class Month:
    first: datetime.date
    last: datetime.date  # the month's last day, or today in the current month

    @property
    def length(self) -> int:
        """Days in the whole calendar month: a patient in care all month is one patient-month."""
        return calendar.monthrange(self.first.year, self.first.month)[1]

    @property
    def is_complete(self) -> bool:
        return self.last.day == self.length


def months_between(first_month: datetime.date, last_month: datetime.date, *, today: datetime.date) -> list[Month]:
    """Each month from ``first_month`` to ``last_month``, none after today's, the current one to date."""
    months, first = [], first_month.replace(day=1)
    while first <= min(last_month, today):
        last = schedule.add_months(first, 1) - DAY
        months.append(Month(first=first, last=min(last, today)))
        first = last + DAY
    return months


@dataclass
class Share:
    """A part of a whole, counted up; its rate is unknown (None), not zero, when the whole is empty."""

    part: int = 0
    whole: int = 0

    @property
    def rate(self) -> float | None:
        return self.part / self.whole if self.whole else None

    def add(self, part: int, whole: int) -> None:
        self.part += part
        self.whole += whole


@dataclass
class MonthFigures:
    """One clinic's counts for one month; each figure is a count or a :class:`Share`."""

    month: Month
    active_patients: int = 0
    days_covered: Share = field(default_factory=Share)  # covered patient-days of those on treatment
    lapses: int = 0
    renewals_on_time: Share = field(default_factory=Share)
    monitoring_in_window: Share = field(default_factory=Share)
    therapy_attendance: Share = field(default_factory=Share)  # attended of attended + missed
    retention: dict[int, Share] = field(default_factory=lambda: {days: Share() for days in RETENTION_DAYS})

    @property
    def lapses_per_100_patient_months(self) -> float | None:
        patient_months = self.days_covered.whole / self.month.length
        return 100 * self.lapses / patient_months if patient_months else None

    def as_json(self) -> dict[str, Any]:
        """The counts as JSON values, a share as [part, whole]; the month is what they are kept under."""
        data: dict[str, Any] = {}
        for counted in fields(self):
            if counted.name == "month":
                continue
            value = getattr(self, counted.name)
            if isinstance(value, Share):
                value = [value.part, value.whole]
            elif isinstance(value, dict):
                value = {str(days): [share.part, share.whole] for days, share in value.items()}
            data[counted.name] = value
        return data

    @classmethod
    def from_json(cls, month: Month, data: dict[str, Any]) -> Self:
        """The figures ``as_json`` gave, for ``month``."""
        figures = cls(month=month)
        for counted in fields(cls):
            if counted.name == "month":
                continue
            value, empty = data[counted.name], getattr(figures, counted.name)
            if isinstance(empty, Share):
                value = Share(*value)
            elif isinstance(empty, dict):
                value = {int(days): Share(*share) for days, share in value.items()}
            setattr(figures, counted.name, value)
        return figures


# The pure part: plain dates in, counts out.


@dataclass(frozen=True)
class Dose:
    """One placement as the monthly figures see it."""

    placed_on: datetime.date
    ends_on: datetime.date  # the last protected day: covers_until, or the removal day if earlier
    renewal_due_on: datetime.date | None  # covers_until; None when removed early (no renewal expected)
    next_placed_on: datetime.date | None  # the patient's next placement, wherever it falls


@dataclass(frozen=True)
class StatusChange:
    from_day: datetime.date
    status: str


@dataclass(frozen=True)
class PatientHistory:
    registered_on: datetime.date  # the day care began: registration, or the first placement if earlier
    first_placed_on: datetime.date | None
    doses: Sequence[Dose]
    statuses: Sequence[StatusChange]  # from status_timeline()


def status_timeline(records: Iterable[tuple[datetime.date, str, datetime.date | None]]) -> list[StatusChange]:
    """Which status held from which day, from the record's saved versions, oldest first.

    Each version is (the day it was saved, its status, its discharge date). A discharge takes
    effect on its discharge date, which may be earlier than the day it was recorded; a later
    version overrides whatever earlier versions said about the days it covers. Before the first
    version the patient held the first status saved, or "active" if that was the discharge itself.
    """
    changes: list[StatusChange] = []
    for saved_on, status, discharged_on in records:
        starts = discharged_on if status == DISCHARGED and discharged_on else saved_on
        if not changes:
            earliest = ACTIVE if status == DISCHARGED else status
            changes.append(StatusChange(datetime.date.min, earliest))
        while len(changes) > 1 and changes[-1].from_day >= starts:
            changes.pop()
        if changes[-1].status != status:
            changes.append(StatusChange(max(starts, changes[-1].from_day + DAY), status))
    return changes


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The days of ``intervals`` as sorted, disjoint runs; touching runs join (no day between)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    """The days in both; each side sorted and disjoint."""
    both, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        start, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if start <= end:
            both.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return both


def contains(intervals: Sequence[Interval], day: int) -> bool:
    index = bisect.bisect_right(intervals, day, key=lambda interval: interval[0]) - 1
    return index >= 0 and day <= intervals[index][1]


def status_days(statuses: Sequence[StatusChange], wanted: Set[str], *, until: int) -> list[Interval]:
    """The days on which the patient held one of the ``wanted`` statuses, up to ``until``."""
    days = []
    for change, following in zip(statuses, [*statuses[1:], None], strict=True):
        if change.status in wanted:
            end = following.from_day.toordinal() - 1 if following else until
            days.append((change.from_day.toordinal(), min(end, until)))
    return merge(interval for interval in days if interval[0] <= interval[1])


class MonthCounters:
    """The figures of each month, found by day by bisection. Patient-days go into per-day difference
    arrays (+1 on a run's first day, -1 after its last), summed per month once all patients are in."""

    def __init__(self, figures: Sequence[MonthFigures]) -> None:
        self.figures = figures
        self.firsts = [figure.month.first.toordinal() for figure in figures]
        self.lasts = [figure.month.last.toordinal() for figure in figures]
        self.on_treatment = [0] * (self.lasts[-1] - self.firsts[0] + 2)
        self.covered = [0] * (self.lasts[-1] - self.firsts[0] + 2)

    def on(self, day: int) -> MonthFigures | None:
        index = bisect.bisect_left(self.lasts, day)
        return self.figures[index] if index < len(self.lasts) and self.firsts[index] <= day else None

    def touched(self, intervals: Iterable[Interval]) -> set[int]:
        """The indexes of the months that any of the runs of days meets."""
        indexes: set[int] = set()
        for start, end in intervals:
            indexes.update(range(bisect.bisect_left(self.lasts, start), bisect.bisect_left(self.lasts, end) + 1))
        return {index for index in indexes if index < len(self.figures)}

    def count(self, deltas: list[int], intervals: Iterable[Interval]) -> None:
        for start, end in intervals:
            if start <= self.lasts[-1]:
                deltas[start - self.firsts[0]] += 1
                deltas[min(end, self.lasts[-1]) - self.firsts[0] + 1] -= 1

    def add_up(self) -> None:
        """Each month's patient-days on treatment and covered, from the per-day counts."""
        treated = covered = 0
        for day, (treated_change, covered_change) in enumerate(zip(self.on_treatment, self.covered, strict=True)):
            treated, covered = treated + treated_change, covered + covered_change
            if month := self.on(self.firsts[0] + day):
                month.days_covered.add(covered, treated)


def tally(histories: Iterable[PatientHistory], months: Sequence[Month], *, today: datetime.date) -> list[MonthFigures]:
    """The figures drawn from placements and statuses, per month (see the module's definitions)."""
    figures = [MonthFigures(month=month) for month in months]
    if figures:
        by_day = MonthCounters(figures)
        for history in histories:
            _tally_patient(history, by_day, today=today.toordinal())
        by_day.add_up()
    return figures


def _tally_patient(history: PatientHistory, months: MonthCounters, *, today: int) -> None:
    # Only days from the first reported month to today count; the earliest status stretches back.
    care = intersect([(months.firsts[0], today)], [(history.registered_on.toordinal(), today)])
    in_care = intersect(care, status_days(history.statuses, IN_CARE, until=today))
    first = history.first_placed_on
    on_treatment = intersect(in_care, [(first.toordinal(), today)]) if first else []
    coverage = merge((dose.placed_on.toordinal(), dose.ends_on.toordinal()) for dose in history.doses)
    covered = intersect(on_treatment, coverage)
    months.count(months.on_treatment, on_treatment)
    months.count(months.covered, covered)
    active_status = intersect(in_care, status_days(history.statuses, {ACTIVE}, until=today))
    for index in months.touched([*covered, *active_status]):
        months.figures[index].active_patients += 1
    for _, last_covered in coverage:
        if contains(on_treatment, last_covered + 1) and (lapsed_in := months.on(last_covered + 1)):
            lapsed_in.lapses += 1
    for dose in history.doses:
        due = dose.renewal_due_on
        # Judged on the day after the coverage end, and only for a patient still in care then.
        if due and contains(on_treatment, due.toordinal() + 1) and (due_in := months.on(due.toordinal())):
            due_in.renewals_on_time.add(bool(dose.next_placed_on and dose.next_placed_on <= due + DAY), 1)
    if first is None:
        return
    for horizon in RETENTION_DAYS:
        anniversary = first.toordinal() + horizon
        if anniversary <= today and (reached_in := months.on(anniversary)):
            reached_in.retention[horizon].add(contains(covered, anniversary), 1)
