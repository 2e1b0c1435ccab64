"""The monthly figures of the reports page, per clinic, and the patient list it exports.

:func:`tally` is pure (plain dates in, counts out). Around it sit a fixed handful of queries per
clinic, whatever the number of patients or months: never one per patient or per month. The
definitions, as the page gives them; days are the clinic's, and the current month counts to today:

- In care: registered (or placed, if that came first) and not discharged. Paused patients and those
  lost to follow-up are still followed, so still in care. On treatment: in care, from the first
  placement on.
- Covered: from a placement's day to its last protected day (``covers_until``, or the removal day if
  earlier); overlapping placements count a day once.
- Active patients: in care on a day of the month, and covered, or of status "active" (from the
  record's change history), on a day of it.
- Proportion of days covered: covered patient-days ÷ patient-days on treatment.
- Lapse: coverage ended and the next day went uncovered while the patient was in care; it counts in
  the month of that day. Per 100 patient-months: lapses ÷ patient-months on treatment, times 100,
  where a patient-month is as many patient-days as the month has days.
- Renewals on time: of the placements whose ``covers_until`` (the renewal visit's due day) fell in
  the month and has passed, the share followed by a new placement no later than the next day.
  Implants removed early, and patients discharged by the next day, are left out.
- Monitoring visits in their window: of those whose window closed in the month (cancelled ones left
  out), the share completed on a day inside the window.
- Therapy attendance: attended ÷ (attended + missed); excused and clinic-cancelled sessions left out.
- Retention at 90 (180) days: of the patients whose 90th (180th) day after their first placement
  fell in the month, the share still in care and covered on that day.
"""

import bisect
import calendar
import datetime
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from patients import schedule
from patients.models import Clinic, Patient, Placement, TherapySession, Visit
from patients.selectors import clinic_today, schedule_rules

DAY = datetime.timedelta(days=1)
RETENTION_DAYS = (90, 180)
# The patient list's attendance rate looks back as far as the dashboard's low-attendance list.
ATTENDANCE_DAYS = 90

IN_CARE = {status for status in Patient.Status.values if status != Patient.Status.DISCHARGED}

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
        starts = discharged_on if status == Patient.Status.DISCHARGED and discharged_on else saved_on
        if not changes:
            earliest = Patient.Status.ACTIVE if status == Patient.Status.DISCHARGED else status
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


def status_days(statuses: Sequence[StatusChange], wanted: set[str], *, until: int) -> list[Interval]:
    """The days on which the patient held one of the ``wanted`` statuses, up to ``until``."""
    days = []
    for change, following in zip(statuses, [*statuses[1:], None], strict=True):
        if change.status in wanted:
            end = following.from_day.toordinal() - 1 if following else until
            days.append((change.from_day.toordinal(), min(end, until)))
    return merge(interval for interval in days if interval[0] <= interval[1])


class _Months:
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
        by_day = _Months(figures)
        for history in histories:
            _tally_patient(history, by_day, today=today.toordinal())
        by_day.add_up()
    return figures


def _tally_patient(history: PatientHistory, months: _Months, *, today: int) -> None:
    # Only days from the first reported month to today count; the earliest status stretches back.
    care = intersect([(months.firsts[0], today)], [(history.registered_on.toordinal(), today)])
    in_care = intersect(care, status_days(history.statuses, IN_CARE, until=today))
    first = history.first_placed_on
    on_treatment = intersect(in_care, [(first.toordinal(), today)]) if first else []
    coverage = merge((dose.placed_on.toordinal(), dose.ends_on.toordinal()) for dose in history.doses)
    covered = intersect(on_treatment, coverage)
    months.count(months.on_treatment, on_treatment)
    months.count(months.covered, covered)
    active_status = intersect(in_care, status_days(history.statuses, {Patient.Status.ACTIVE}, until=today))
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


# The queries: a fixed handful per clinic.


@dataclass(frozen=True)
class ClinicReport:
    clinic: Clinic
    today: datetime.date
    months: list[MonthFigures]


def clinic_report(clinic: Clinic, *, first_month: datetime.date, last_month: datetime.date) -> ClinicReport:
    """The clinic's figures for each month from ``first_month`` to ``last_month`` (to date)."""
    today = clinic_today(clinic)
    months = months_between(first_month, last_month, today=today)
    if not months:  # a month that has not begun yet in the clinic's time zone
        return ClinicReport(clinic=clinic, today=today, months=[])
    figures = tally(patient_histories(clinic, since=months[0].first, today=today), months, today=today)
    _add_visit_and_therapy_counts(clinic, figures, today=today)
    return ClinicReport(clinic=clinic, today=today, months=figures)


def patient_histories(clinic: Clinic, *, since: datetime.date, today: datetime.date) -> list[PatientHistory]:
    """Every patient of the clinic as plain dates: three queries, whatever the number of patients.

    Placements that ended before ``since`` are not loaded: they cannot cover a reported day, and
    each loaded placement brings its next placement's date along (a correlated subquery on the
    placement index), wherever that one falls.
    """
    zone = clinic.zone
    patients = (
        Patient.objects.filter(clinic=clinic)
        .annotate(first_placed_on=Min("placements__placed_on"))
        .order_by()
        .values_list("pk", "created_at", "status", "discharged_on", "first_placed_on")
    )
    following = Placement.objects.filter(patient=OuterRef("patient"), placed_on__gt=OuterRef("placed_on"))
    placements = (
        Placement.objects.filter(patient__clinic=clinic, covers_until__gte=since - DAY, placed_on__lte=today)
        .annotate(next_placed_on=Subquery(following.order_by("placed_on").values("placed_on")[:1]))
        .order_by("patient_id", "placed_on")
        .values_list("patient_id", "placed_on", "covers_until", "removed_on", "next_placed_on")
    )
    doses: dict[int, list[Dose]] = defaultdict(list)
    for patient_id, placed_on, covers_until, removed_on, next_placed_on in placements:
        ends_on = _coverage_end(covers_until, removed_on)
        renewal_due_on = covers_until if ends_on == covers_until else None
        doses[patient_id].append(Dose(placed_on, ends_on, renewal_due_on, next_placed_on))
    versions = (
        Patient.history.filter(clinic_id=clinic.pk)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "history_date", "status", "discharged_on")
    )
    saved: dict[int, list[tuple[datetime.date, str, datetime.date | None]]] = defaultdict(list)
    for patient_id, saved_at, status, discharged_on in versions:
        saved[patient_id].append((timezone.localdate(saved_at, zone), status, discharged_on))
    histories = []
    for patient_id, created_at, status, discharged_on, first_placed_on in patients:
        registered_on = min(timezone.localdate(created_at, zone), first_placed_on or datetime.date.max)
        # A record saved without its history (a raw import) has only its present status.
        versions_of = saved.get(patient_id) or [(registered_on, status, discharged_on)]
        histories.append(
            PatientHistory(registered_on, first_placed_on, doses.get(patient_id, []), status_timeline(versions_of))
        )
    return histories


def _add_visit_and_therapy_counts(clinic: Clinic, figures: list[MonthFigures], *, today: datetime.date) -> None:
    """Monitoring visits and therapy sessions, counted by the database in two queries.

    Grouped by day rather than by month: at most a row per day of the range, and no date function
    for the database to run on every row (on SQLite that is a Python call per row).
    """
    months = _Months(figures)
    first, last = figures[0].month.first, figures[-1].month.last
    completed_in_window = Q(
        status=Visit.Status.COMPLETED, completed_on__gte=F("window_start"), completed_on__lte=F("window_end")
    )
    # A window that closes today may still be kept today: it is judged tomorrow.
    visits = (
        Visit.objects.filter(
            patient__clinic=clinic,
            kind=Visit.Kind.MONITORING,
            window_end__gte=first,
            window_end__lte=min(last, today - DAY),
        )
        .exclude(status=Visit.Status.CANCELLED)
        .order_by()
        .values("window_end")
        .annotate(due=Count("pk"), kept=Count("pk", filter=completed_in_window))
    )
    for row in visits:
        if month := months.on(row["window_end"].toordinal()):
            month.monitoring_in_window.add(row["kept"], row["due"])
    sessions = TherapySession.objects.filter(patient__clinic=clinic, held_on__gte=first, held_on__lte=last)
    for held_on, attendance in _attendance(sessions, by="held_on"):
        if month := months.on(held_on.toordinal()):
            month.therapy_attendance.add(attendance.part, attendance.whole)


def _attendance(sessions: QuerySet[TherapySession], *, by: str) -> Iterator[tuple[Any, Share]]:
    """Attended of attended + missed sessions, grouped by ``by``; excused and cancelled left out."""
    attended, missed = TherapySession.Status.ATTENDED, TherapySession.Status.MISSED
    rows = (
        sessions.filter(status__in=[attended, missed])
        .order_by()
        .values(by)
        .annotate(attended=Count("pk", filter=Q(status=attended)), missed=Count("pk", filter=Q(status=missed)))
    )
    for row in rows:
        yield row[by], Share(part=row["attended"], whole=row["attended"] + row["missed"])


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list export: identifiers, dates and counts, never clinical notes."""

    record_number: str
    name: str
    status: str
    coverage_state: schedule.CoverageState
    covers_until: datetime.date | None
    last_placed_on: datetime.date | None
    next_visit_due_on: datetime.date | None
    therapy_attendance: Share  # attended of attended + missed, in the last ATTENDANCE_DAYS days


def patient_rows(clinic: Clinic, *, today: datetime.date) -> Iterator[PatientRow]:
    """The clinic's patients by record number, with today's coverage: four queries in all."""
    newest = Placement.objects.filter(patient=OuterRef("patient"), placed_on__lte=today).order_by("-placed_on")
    latest = {
        patient_id: schedule.CoverageSpan(placed_on, _coverage_end(covers_until, removed_on), lead_days)
        for patient_id, placed_on, covers_until, removed_on, lead_days in Placement.objects.filter(
            patient__clinic=clinic, pk=Subquery(newest.values("pk")[:1])
        ).values_list("patient_id", "placed_on", "covers_until", "removed_on", "product__renewal_window_lead_days")
    }
    next_due = dict(
        # A window that has closed is a missed visit waiting to be marked, not the next one due.
        Visit.objects.filter(patient__clinic=clinic, status=Visit.Status.SCHEDULED, window_end__gte=today)
        .order_by()
        .values("patient_id")
        .annotate(next_due=Min("due_on"))
        .values_list("patient_id", "next_due")
    )
    recent = TherapySession.objects.filter(
        patient__clinic=clinic, held_on__gt=today - datetime.timedelta(days=ATTENDANCE_DAYS), held_on__lte=today
    )
    attendance = dict(_attendance(recent, by="patient_id"))
    rules, labels = schedule_rules(), dict(Patient.Status.choices)
    patients = Patient.objects.filter(clinic=clinic).order_by("record_number")
    for pk, record_number, first_name, last_name, status in patients.values_list(
        "pk", "record_number", "first_name", "last_name", "status"
    ).iterator():
        span = latest.get(pk)
        discharged = status == Patient.Status.DISCHARGED
        yield PatientRow(
            record_number=record_number,
            name=f"{first_name} {last_name}",
            status=labels[status],
            coverage_state=schedule.coverage_state(
                spans=[span] if span else [], today=today, discharged=discharged, rules=rules
            ),
            covers_until=span.ends_on if span else None,
            last_placed_on=span.placed_on if span else None,
            next_visit_due_on=next_due.get(pk),
            therapy_attendance=attendance.get(pk, Share()),
        )


def _coverage_end(covers_until: datetime.date, removed_on: datetime.date | None) -> datetime.date:
    """``Placement.coverage_ends_on`` for a placement read as plain values."""
    return min(covers_until, removed_on or covers_until)
