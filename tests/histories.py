"""Random but repeatable patient histories, written straight to the database, for the tests that
check a rule's pure function against its database condition on the same rows.

Rows are built with the models' own constructors and ``bulk_create``: the services would refuse
much of what a rule must still judge (results from years ago, sessions on every kind of day), and
would be slow at the hundreds of histories a comparison needs. Every row passes the models' checks.
"""

import datetime
import random

from patients.models import Clinic, Patient, Placement, Product, TherapySession, Visit
from patients.records import latest_results, newest
from tests.factories import PatientFactory

DAY = datetime.timedelta(days=1)


def patients(clinic: Clinic, count: int, *, rng: random.Random, **fields: object) -> list[Patient]:
    return [PatientFactory(clinic=clinic, record_number=f"H-{number:04d}", **fields) for number in range(count)]


def placements(
    patients: list[Patient], product: Product, *, today: datetime.date, rng: random.Random, per_patient: int = 3
) -> list[Placement]:
    """Each patient's placements (none for some), the newest ending anywhere from three weeks ago to
    a month ahead and so often near the edges of lapse, the earlier ones before it; some removed early."""
    rows = []
    for patient in patients:
        ends_on = today + rng.randint(-20, 30) * DAY
        for _ in range(rng.randint(0, per_patient)):
            length = rng.choice([1, 28, 90, 91, 92, 180]) * DAY
            placed_on = min(ends_on - length, today)
            removed_on = placed_on + rng.randint(0, 100) * DAY if rng.random() < 0.2 else None
            rows.append(
                Placement(
                    patient=patient,
                    product=product,
                    placed_on=placed_on,
                    covers_until=placed_on + length,
                    removed_on=removed_on,
                )
            )
            ends_on = placed_on - rng.randint(1, 60) * DAY
    created = Placement.objects.bulk_create(rows)
    # As the services would have: the newest placements kept for the lapse lists.
    newest.keep({placement.patient_id for placement in created})
    return created


def visits(placements: list[Placement], *, today: datetime.date, rng: random.Random, per_placement: int = 4) -> None:
    """Visits of each placement, some completed (on any day of the last year) with findings or without."""
    rows = []
    for placement in placements:
        for number in range(rng.randint(0, per_placement)):
            due_on = placement.placed_on + (number + 1) * 30 * DAY
            completed = rng.random() < 0.7
            completed_on = min(today, due_on + rng.randint(-3, 3) * DAY) if completed else None
            finding = lambda top: rng.choice([None, None, 0, top, rng.randint(0, top)])  # noqa: E731
            rows.append(
                Visit(
                    patient=placement.patient,
                    placement=placement,
                    kind=Visit.Kind.MONITORING,
                    due_on=due_on,
                    window_start=due_on - 7 * DAY,
                    window_end=due_on + 7 * DAY,
                    status=Visit.Status.COMPLETED
                    if completed
                    else rng.choice([Visit.Status.SCHEDULED, Visit.Status.MISSED]),
                    completed_on=completed_on,
                    phq9_item9=finding(3) if completed else None,
                    alt_u_per_l=rng.choice([None, 30, 119, 120, 121, 400]) if completed else None,
                    ast_u_per_l=rng.choice([None, 30, 104, 105, 106, 300]) if completed else None,
                )
            )
    Visit.objects.bulk_create(rows)
    # As the services would have: the latest safety results kept for the dashboard's flags.
    latest_results.keep({visit.patient_id for visit in rows})


def sessions(patients: list[Patient], *, today: datetime.date, rng: random.Random, per_patient: int = 12) -> None:
    """Individual sessions on days from four months ago to today, in every status."""
    rows = [
        TherapySession(
            patient=patient,
            kind=TherapySession.Kind.INDIVIDUAL,
            held_on=today - rng.choice([0, 1, 29, 30, 31, 60, 89, 90, 91, 120]) * DAY,
            status=rng.choice(list(TherapySession.Status.values)),
        )
        for patient in patients
        for _ in range(rng.randint(0, per_patient))
    ]
    TherapySession.objects.bulk_create(rows)
