"""What a placement will create: its coverage end and its visits, as unsaved rows.

``services.record_placement`` saves exactly these rows, and the placement form's preview shows
them (with their reminders) before anything is saved, so the two cannot drift apart. Both take the
coverage end from ``placement_coverage_end``, which refuses the days no plan can be made from.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from patients.models import Patient, Placement, Product, Reminder, Visit
from patients.records import bounds, schedule
from patients.records.selectors import schedule_rules
from patients.reminders import outbox


def planned_coverage_end(*, product: Product, placed_on: datetime.date) -> datetime.date:
    return schedule.coverage_end(placed_on=placed_on, length=product.coverage_length, unit=product.coverage_unit)


def placement_coverage_end(
    *, patient: Patient, product: Product, placed_on: datetime.date, covers_until: datetime.date | None
) -> tuple[datetime.date, bool]:
    """The last covered day, the product's or the clinician's override, and whether it is overridden.

    Refuses a placement day outside the clinic's bounds and a coverage end before the next day or
    beyond ``MAX_COVERAGE_MONTHS`` (``patients.records.bounds``): the plan's visits and reminders stay few.
    """
    bounds.check_happened(bounds.PLACEMENT, day=placed_on, clinic=patient.clinic, field="placed_on")
    planned_end = planned_coverage_end(product=product, placed_on=placed_on)
    if covers_until is None or covers_until == planned_end:
        bounds.check_coverage_end(covers_until=planned_end, placed_on=placed_on, field="product")
        return planned_end, False
    if covers_until <= placed_on:
        raise ValidationError({"covers_until": "Coverage must end after the placement day."})
    bounds.check_coverage_end(covers_until=covers_until, placed_on=placed_on, field="covers_until")
    return covers_until, True


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
) -> PlacementPlan:
    """What ``record_placement`` would write; nothing saved. A ``ValidationError`` when the days
    typed cannot give a plan (the service refuses them in the same words)."""
    end, overridden = placement_coverage_end(
        patient=patient, product=product, placed_on=placed_on, covers_until=covers_until
    )
    rows = [
        PlannedVisitRow(visit=visit, reminders=outbox.plan_visit_reminders(visit, now=now))
        for visit in unsaved_visits(patient=patient, product=product, placed_on=placed_on, covers_until=end)
    ]
    superseded = list(patient.visits.filter(status=Visit.Status.SCHEDULED, due_on__gte=placed_on).order_by("due_on"))
    return PlacementPlan(covers_until=end, overridden=overridden, visits=rows, superseded=superseded)
