"""Each patient's latest safety results, kept in ``LatestResults`` for the dashboard's safety flags.

Written in the transaction of every visit completed (``patients.records.services.visits``), and for
each batch of the seeded demo; :func:`keep_all` rebuilds every row from the visits. A result is the
latest completed visit at which its test was recorded, in ``patients.records.safety``'s order
(completed on, then due on, then the row's key); the flags of a day then read it only when its day
falls in that day's lookback (``patients.records.selectors.with_latest_results``).
"""

from collections.abc import Callable, Iterable

from django.db.models import OuterRef, QuerySet, Subquery

from patients.models import LatestResults, Patient, Visit
from patients.records import rebuild, safety

# Patients written per statement when every row is rebuilt: bounded memory, and progress to show.
BATCH = 2000
# Each kept value and its day, by the Visit field that records it.
KEPT = {safety.ITEM9: ("item9", "item9_on"), safety.ALT: ("alt", "alt_on"), safety.AST: ("ast", "ast_on")}


def recorded(field: str, patient_ref: str = "pk") -> QuerySet[Visit]:
    """The completed visits of the patient ``patient_ref`` names at which ``field`` was recorded,
    latest first (a correlated subquery)."""
    return Visit.objects.filter(
        patient=OuterRef(patient_ref),
        status=safety.COMPLETED,
        completed_on__isnull=False,
        **{f"{field}__isnull": False},
    ).order_by("-completed_on", "-due_on", "-pk")


def keep(patient_pks: Iterable[int]) -> int:
    """Write these patients' latest results as they are now; how many patients have one."""
    pks = list(patient_pks)
    columns = {}
    for field, (value, day) in KEPT.items():
        columns[value] = Subquery(recorded(field).values(field)[:1])
        columns[day] = Subquery(recorded(field).values("completed_on")[:1])
    names = [name for pair in KEPT.values() for name in pair]
    found = Patient.objects.filter(pk__in=pks).annotate(**columns).order_by().values_list("pk", *names)
    rows = [
        LatestResults(patient_id=pk, **dict(zip(names, values, strict=True)))
        for pk, *values in found
        if any(value is not None for value in values)
    ]
    LatestResults.objects.filter(patient_id__in=pks).exclude(patient_id__in=[row.patient_id for row in rows]).delete()
    LatestResults.objects.bulk_create(rows, update_conflicts=True, unique_fields=["patient"], update_fields=names)
    return len(rows)


def keep_all(progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild every patient's row from the visits, a batch at a time."""
    pks = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    return rebuild.in_batches(pks, keep, batch=BATCH, progress=progress)
