"""Rebuilding kept rows from the records (``patients.records.newest``, ``latest_results``)."""

from collections.abc import Callable, Sequence

from django.db import transaction


def in_batches(
    pks: Sequence[int],
    keep: Callable[[Sequence[int]], int],
    *,
    batch: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Call ``keep`` on ``pks`` a batch at a time, each batch in a transaction of its own, so a large
    rebuild holds neither the memory nor the database for long; ``progress`` hears (done, total)
    after each batch. Returns the sum of what ``keep`` returned."""
    done = 0
    for start in range(0, len(pks), batch):
        with transaction.atomic():
            done += keep(pks[start : start + batch])
        if progress:
            progress(min(start + batch, len(pks)), len(pks))
    return done
