"""What a placement will create: its coverage end and its visits, as unsaved rows.

``services.record_placement`` saves exactly these rows, and the placement form's preview shows
them (with their reminders) before anything is saved, so the two cannot drift apart.
"""

import datetime
from dataclasses import dataclass

from patients import outbox, schedule
from patients.models import Patient, Placement, Product, Reminder, Visit
from patients.selectors import schedule_rules


def planned_coverage_end(*, product: Product, placed_on: datetime.date) -> datetime.date:
    return schedule.coverage_end(placed_on=placed_on, length=product.coverage_length, unit=product.coverage_unit)


def unsaved_visits(
    *,
    patient: Patient,
    product: Product,
    placed_on: datetime.date,
    covers_until: datetime.date,
    placement: Placement | None = None,
) -> list[Visit]:
    return [
        Visit(
            patient=patient,
            placement=placement,
            kind=planned.kind,
            due_on=planned.due_on,
            window_start=planned.window_start,
            window_end=planned.window_end,
            status=Visit.Status.SCHEDULED,
        )
        for planned in schedule.plan_visits(
            placed_on=placed_on,
            covers_until=covers_until,
            renewal_lead_days=product.renewal_window_lead_days,
            rules=schedule_rules(),
        )
    ]


@dataclass(frozen=True)
class PlannedVisitRow:
    """A visit the placement will create (unsaved), with the reminder rows it will write."""

    visit: Visit
    reminders: list[Reminder]


@dataclass(frozen=True)
class PlacementPlan:
    covers_until: datetime.date
    overridden: bool
    visits: list[PlannedVisitRow]
    superseded: list[Visit]  # the open visits of the current placement that saving cancels


def plan_placement(
    *,
    patient: Patient,
    product: Product,
    placed_on: datetime.date,
    covers_until: datetime.date | None,
    now: datetime.datetime,
) -> PlacementPlan | None:
    """What ``record_placement`` would write; nothing saved. None when the end date typed cannot
    give a plan (the service would refuse it)."""
    planned_end = planned_coverage_end(product=product, placed_on=placed_on)
    overridden = covers_until is not None and covers_until != planned_end
    end = covers_until if covers_until is not None and overridden else planned_end
    if end <= placed_on:
        return None
    rows = [
        PlannedVisitRow(visit=visit, reminders=outbox.plan_visit_reminders(visit, now=now))
        for visit in unsaved_visits(patient=patient, product=product, placed_on=placed_on, covers_until=end)
    ]
    superseded = list(patient.visits.filter(status=Visit.Status.SCHEDULED, due_on__gte=placed_on).order_by("due_on"))
    return PlacementPlan(covers_until=end, overridden=overridden, visits=rows, superseded=superseded)
