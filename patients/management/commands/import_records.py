"""``manage.py import_records FILE --clinic NAME --kind patients|placements|sessions [--dry-run]``.

Brings a clinic's earlier records in from a CSV or Excel file (``patients.imports``): every row
through the services, all or nothing. It prints what each refused row's problem is and a summary;
with ``--dry-run`` it only says what the file would do. It exits non-zero when the file or any of
its rows is refused, and then nothing is saved.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from patients.imports import values
from patients.imports.files import read_table
from patients.imports.run import import_table, keep_result
from patients.models import Clinic, ImportRun

# A file of up to this many rows is done before progress would tell anything.
QUIET_ROWS = 200


class Command(BaseCommand):
    help = "Bring a clinic's earlier records in from a CSV or Excel (.xlsx) file, all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The .csv or .xlsx file.")
        parser.add_argument("--clinic", required=True, help="The clinic's name, as the admin shows it.")
        parser.add_argument("--kind", required=True, choices=list(ImportRun.Kind.values), help="What the rows are.")
        parser.add_argument(
            "--date-order",
            default="iso",
            choices=list(values.DATE_ORDERS),
            help="How the file writes dates that are not YYYY-MM-DD (default: iso).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what the file would do; save nothing.")

    def handle(
        self, *args: Any, file: Path, clinic: str, kind: str, date_order: str, dry_run: bool, **options: Any
    ) -> None:
        try:
            found = Clinic.objects.get(name=clinic)
        except Clinic.DoesNotExist:
            names = ", ".join(Clinic.objects.order_by("name").values_list("name", flat=True)) or "none"
            raise CommandError(f"No clinic is called {clinic!r}. Clinics: {names}.") from None
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            table = read_table(data, filename=file.name)
            self.stdout.write(f"{file.name}: {len(table.rows):,} rows ({table.encoding}).")
            run = ImportRun(clinic=found, kind=kind, filename=file.name, date_order=date_order)
            progress = self._progress if len(table.rows) > QUIET_ROWS else None
            with transaction.atomic():
                result = import_table(table, run=run, dry_run=dry_run, progress=progress)
                if result.saved:
                    keep_result(run, result, status=ImportRun.Status.DONE)
        except ValidationError as refused:
            raise CommandError(" ".join(refused.messages)) from None
        if result.ignored_columns:
            self.stdout.write(f"Columns not read: {', '.join(result.ignored_columns)}.")
        for row in result.refused:
            self.stdout.write(f"Row {row.number}: {row.words}")
        if result.refused:
            raise CommandError(
                f"{len(result.refused)} of {len(result.rows)} rows refused; nothing was saved. "
                "Correct the rows above and run the import again."
            )
        if verbosity := options.get("verbosity", 1):
            for row in result.rows if verbosity > 1 else ():
                self.stdout.write(f"Row {row.number}: {row.outcome}: {row.words}")
        said = "would be" if dry_run else "were"
        self.stdout.write(f"{result.summary()} ({len(result.rows)} rows {said} brought in).")
        if dry_run:
            self.stdout.write("Dry run: nothing was saved.")

    def _progress(self, done: int, total: int) -> None:
        if done % QUIET_ROWS == 0 or done == total:
            self.stdout.write(f"Rows: {done:,}/{total:,}")
            self.stdout.flush()
