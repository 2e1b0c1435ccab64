"""How long the audit trail is kept, and the pruning of what is older.

Change history (every ``Historical…`` table of this app, the group roster snapshots included) and
the read log (``RecordAccess``) and what each row of an imported file became (``ImportRow``, from the
day its import finished) are kept ``AUDIT_RETENTION_DAYS``; ``prune_audit_trail`` deletes the
rows older than that, in batches of their own short transactions so that a large first prune
does not hold the database for minutes. ``manage.py prune_audit`` and the daily beat task call it.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Model, QuerySet

from patients.models import ImportRow, RecordAccess

DEFAULT_BATCH_SIZE = 2000


@dataclass(frozen=True)
class AuditTable:
    """One table of the audit trail and its rows older than the cut-off."""

    label: str
    model: type[Model]
    expired: QuerySet[Any]


def retention_cutoff(now: datetime.datetime) -> datetime.datetime:
    """Rows from before this moment are past keeping."""
    return now - datetime.timedelta(days=settings.AUDIT_RETENTION_DAYS)


def audit_tables(*, cutoff: datetime.datetime) -> list[AuditTable]:
    """Every audit table of this app with its expired rows, each roster snapshot before the group
    version it belongs to (nothing in the database ties them: simple-history leaves no constraint)."""
    tables = []
    for model in apps.get_app_config("patients").get_models():
        manager_name = getattr(model._meta, "simple_history_manager_attribute", None)
        if manager_name is None:
            continue
        history_model = getattr(model, manager_name).model
        for relation in history_model._meta.related_objects:
            if relation.field.name == "history":  # a many-to-many snapshot of one version
                snapshots = relation.related_model
                tables.append(
                    AuditTable(
                        label=str(snapshots._meta.db_table),
                        model=snapshots,
                        expired=snapshots._default_manager.filter(history__history_date__lt=cutoff),
                    )
                )
        tables.append(
            AuditTable(
                label=str(history_model._meta.db_table),
                model=history_model,
                expired=history_model._default_manager.filter(history_date__lt=cutoff),
            )
        )
    # What each row of an imported file became: the record of who brought what in, kept as long.
    tables.append(
        AuditTable(
            label=str(ImportRow._meta.db_table),
            model=ImportRow,
            expired=ImportRow.objects.filter(run__finished_at__lt=cutoff),
        )
    )
    tables.append(
        AuditTable(
            label=str(RecordAccess._meta.db_table),
            model=RecordAccess,
            expired=RecordAccess.objects.filter(at__lt=cutoff),
        )
    )
    return tables


def prune_audit_trail(
    *,
    now: datetime.datetime,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[AuditTable, int, int], None] | None = None,
) -> dict[str, int]:
    """Delete the audit rows older than the retention period; returns how many per table.

    With ``dry_run`` it only counts. ``progress`` hears (table, deleted so far, total) after each
    batch. Running it twice deletes nothing the second time.
    """
    counts: dict[str, int] = {}
    for table in audit_tables(cutoff=retention_cutoff(now)):
        total = table.expired.count()
        counts[table.label] = total
        if dry_run or not total:
            continue
        deleted = 0
        while True:
            with transaction.atomic():
                ids = list(table.expired.values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                table.model._default_manager.filter(pk__in=ids).delete()
            deleted += len(ids)
            if progress is not None:
                progress(table, deleted, total)
        counts[table.label] = deleted
    return counts
