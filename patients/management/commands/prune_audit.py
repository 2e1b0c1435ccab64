"""``manage.py prune_audit [--dry-run] [--batch-size N]``: delete audit rows past keeping.

Change history and the read log older than ``AUDIT_RETENTION_DAYS`` go, table by table, in
batches (``patients.audit.retention``). Beat runs the same once a day.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from patients import formats
from patients.audit.retention import DEFAULT_BATCH_SIZE, AuditTable, prune_audit_trail, retention_cutoff


class Command(BaseCommand):
    help = "Delete change history and read-log rows older than AUDIT_RETENTION_DAYS."
    batch_size = DEFAULT_BATCH_SIZE

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would go, delete nothing.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Rows deleted per transaction.")

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        now = timezone.now()
        cutoff = retention_cutoff(now)
        self.stdout.write(
            f"Keeping {settings.AUDIT_RETENTION_DAYS} days: rows from before {formats.day(cutoff)} "
            + ("would be deleted (dry run)." if dry_run else "are deleted.")
        )
        self.batch_size = max(batch_size, 1)
        counts = prune_audit_trail(now=now, dry_run=dry_run, batch_size=self.batch_size, progress=self._progress)
        for table, count in counts.items():
            self.stdout.write(f"{table}: {count:,} {'to delete' if dry_run else 'deleted'}")
        self.stdout.write(f"Total: {sum(counts.values()):,} {'to delete' if dry_run else 'deleted'}.")

    def _progress(self, table: AuditTable, deleted: int, total: int) -> None:
        if total > self.batch_size:  # a table done in one batch needs no progress: its total says enough
            self.stdout.write(f"  {table.label}: {deleted:,} of {total:,}")
