"""Each patient's newest placement, kept in ``NewestPlacement`` for the lapse lists.

Written in the transaction of every placement recorded or removed (``patients.records.services``),
and for each batch of the seeded demo; :func:`keep_all` rebuilds every row from the placements.
The newest placement is the one placed last (a patient has one placement a day at most), and
``ends_on`` is its last protected day, as ``PlacementQuerySet.with_ends_on`` computes it.
"""

from collections.abc import Callable, Iterable

from django.db.models import OuterRef, QuerySet, Subquery

from patients.models import NewestPlacement, Patient, Placement
from patients.records import rebuild

# Patients written per statement when every row is rebuilt: bounded memory, and progress to show.
BATCH = 2000


def newest_of(patient_ref: str = "pk") -> QuerySet[Placement]:
    """The placements of the patient ``patient_ref`` names, newest first (a correlated subquery)."""
    return Placement.objects.filter(patient=OuterRef(patient_ref)).order_by("-placed_on").with_ends_on()


def keep(patient_pks: Iterable[int]) -> int:
    """Write these patients' newest placements as they are now; how many patients have one."""
    newest = newest_of()
    found = (
        Patient.objects.filter(pk__in=list(patient_pks))
        .annotate(
            newest_pk=Subquery(newest.values("pk")[:1]),
            # ends_on is with_ends_on's annotation, which the type checker cannot see.
            newest_ends_on=Subquery(newest.values("ends_on")[:1]),  # type: ignore[misc]
        )
        .filter(newest_pk__isnull=False)
        .order_by()
        .values_list("pk", "newest_pk", "newest_ends_on")
    )
    rows = [
        NewestPlacement(patient_id=pk, placement_id=newest_pk, ends_on=ends_on) for pk, newest_pk, ends_on in found
    ]
    NewestPlacement.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["patient"], update_fields=["placement", "ends_on"]
    )
    return len(rows)


def keep_all(progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild every patient's row from the placements, a batch at a time."""
    pks = list(Patient.objects.filter(placements__isnull=False).distinct().order_by("pk").values_list("pk", flat=True))
    return rebuild.in_batches(pks, keep, batch=BATCH, progress=progress)
