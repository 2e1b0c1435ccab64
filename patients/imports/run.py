"""One file brought in, all or nothing.

``import_table`` writes every row of a file in one transaction, each row in a savepoint of its own so
that a refused row is reported and the next one still tried: the manager sees every refusal of the
file at once. If any row was refused, or on a dry run, the whole transaction is rolled back, so
nothing of the file is saved; the result says what each row became, or would have become.

The import page runs a file in two steps, each a Celery task: ``check`` tries it without saving and
keeps the preview (``ImportRow``); once the manager confirms, ``bring_in`` imports it. The
``import_records`` command does both at once.
"""

import contextlib
import datetime
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from patients.imports import columns, rows, values
from patients.imports.files import FileRefused, Row, Table, read_table
from patients.imports.progress import reporter
from patients.models import ImportRow, ImportRun
from patients.roles import Action, require

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """A reason a row was refused: the column's label, or "" for the row as a whole."""

    column: str
    message: str


@dataclass(frozen=True)
class RowResult:
    number: int  # the row's number in the spreadsheet (the header is row 1)
    outcome: str
    words: str
    problems: tuple[Problem, ...] = ()


@dataclass
class ImportResult:
    kind: str
    date_order: str
    rows: list[RowResult] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    saved: bool = False

    @property
    def refused(self) -> list[RowResult]:
        return [row for row in self.rows if row.problems]

    def counts(self) -> Counter[str]:
        return Counter(row.outcome for row in self.rows)

    def summary(self) -> str:
        """The rows by outcome, in words: "new patient: 3; already recorded: 1"."""
        counts = self.counts()
        return "; ".join(f"{outcome}: {count}" for outcome, count in counts.items()) or "no rows"


Progress = Callable[[int, int], None]


def import_table(
    table: Table, *, run: ImportRun, dry_run: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Write ``table``'s rows as records of ``run.kind`` for ``run.clinic``, on behalf of
    ``run.started_by``; see the module's docstring. A run not yet saved is saved with the rows
    (and, on a dry run or a refusal, rolled back with them).

    Raises ``FileRefused`` when the file's columns do not fit the kind: then no row is tried.
    """
    require(run.started_by, Action.IMPORT_RECORDS, run.clinic)
    kind, date_order = run.kind, run.date_order
    matched = columns.match_columns(table.headers, kind)
    labels = {column.name: column.label for column in columns.columns_of(kind)}
    result = ImportResult(kind=kind, date_order=date_order, ignored_columns=tuple(matched.ignored))
    duplicates = _repeated_rows(table, matched.fields, kind)
    ordered = _in_writing_order(table, matched.fields, kind, date_order)
    days = [day for _, day in ordered if day is not None]
    with transaction.atomic():
        run.rows = len(table.rows)
        run.save()
        ctx = rows.context(
            clinic=run.clinic,
            run=run,
            date_order=date_order,
            by=run.started_by,
            saving=not dry_run,
            days=(min(days), max(days)) if days else None,
        )
        write = rows.WRITERS[kind]
        # Saving, each row is written in a savepoint of its own, so that a refused row leaves nothing
        # behind and the next is still tried; a check saves nothing and needs none.
        each_row = transaction.atomic if not dry_run else contextlib.nullcontext
        for done, (row, _) in enumerate(ordered, start=1):
            cells = {
                name: row.cells[index] if index < len(row.cells) else "" for name, index in matched.fields.items()
            }
            if row.number in duplicates:
                result.rows.append(_refused(row.number, {"record_number": [duplicates[row.number]]}, labels))
            else:
                try:
                    with each_row():
                        written = write(cells, ctx)
                except ValidationError as error:
                    result.rows.append(_refused(row.number, _by_field(error), labels))
                else:
                    result.rows.append(RowResult(row.number, written.outcome, written.words))
            if progress is not None:
                progress(done, len(table.rows))
        result.rows.sort(key=lambda row_result: row_result.number)
        result.saved = not dry_run and not result.refused
        if not result.saved:
            transaction.set_rollback(True)
    return result


def keep_result(run: ImportRun, result: ImportResult, *, status: str) -> None:
    """Keep what each row became (the preview, or the record of the import) and the run's new
    status; a finished run lets go of its file."""
    if status not in ImportRun.TRANSITIONS.get(run.status, ()):
        raise ValueError(f"An import {run.get_status_display().lower()} cannot become {status}.")
    with transaction.atomic():
        run.results.all().delete()
        ImportRow.objects.bulk_create(
            ImportRow(run=run, number=row.number, outcome=row.outcome, words=row.words, refused=bool(row.problems))
            for row in result.rows
        )
        run.status = status
        run.summary = result.summary()
        if status in ImportRun.FINISHED:
            run.content = None
            run.finished_at = timezone.now()
        run.save()


def check(run: ImportRun, *, progress: Progress | None = None) -> ImportResult:
    """Try the run's file without saving it, and keep the preview: checked, or refused."""
    table = read_table(bytes(run.content or b""), filename=run.filename)
    result = import_table(table, run=run, dry_run=True, progress=progress)
    keep_result(run, result, status=ImportRun.Status.REFUSED if result.refused else ImportRun.Status.PREVIEWED)
    return result


def bring_in(run: ImportRun, *, progress: Progress | None = None) -> ImportResult:
    """Import a confirmed run's file, all or nothing, with the record of each row in the same
    transaction; a row refused since the check (the records changed meanwhile) refuses the file."""
    table = read_table(bytes(run.content or b""), filename=run.filename)
    with transaction.atomic():
        result = import_table(table, run=run, progress=progress)
        if result.saved:
            keep_result(run, result, status=ImportRun.Status.DONE)
    if not result.saved:
        keep_result(run, result, status=ImportRun.Status.REFUSED)
    return result


def check_waiting() -> int:
    """Check every uploaded file waiting for its check, oldest first; returns how many.

    The worker runs this when a file is uploaded, and beat every minute, so that a file whose
    message was lost is still checked. Each run is taken under a row lock its check holds (on
    SQLite, the write lock), so two workers never check one file.
    """
    return _work_through(ImportRun.Status.CHECKING, lambda run: check(run, progress=reporter(run, step="checking")))


def import_waiting() -> int:
    """Import every file a manager confirmed, oldest first, all or nothing each; returns how many."""
    return _work_through(
        ImportRun.Status.IMPORTING, lambda run: bring_in(run, progress=reporter(run, step="importing"))
    )


def let_go_unconfirmed(*, now: datetime.datetime) -> int:
    """Let go of the checked files no one confirmed within ``IMPORT_CONFIRM_DAYS``: their file and
    their preview (patients' names among it) are deleted, and nothing of them is saved; returns how
    many. The run stays, to say so."""
    cutoff = now - datetime.timedelta(days=settings.IMPORT_CONFIRM_DAYS)
    with transaction.atomic():
        # Locked, so that a manager confirming one of them meanwhile finds it let go, not half gone.
        stale = list(
            ImportRun.objects.select_for_update(skip_locked=True)
            .filter(status=ImportRun.Status.PREVIEWED, started_at__lt=cutoff)
            .values_list("pk", flat=True)
        )
        if not stale:
            return 0
        ImportRow.objects.filter(run__in=stale).delete()
        summary = f"Not confirmed within {settings.IMPORT_CONFIRM_DAYS} days: upload the file again to import it."
        return _finish(
            ImportRun.objects.filter(pk__in=stale), ImportRun.Status.PREVIEWED, ImportRun.Status.EXPIRED, summary
        )


def _work_through(status: str, work: Callable[[ImportRun], ImportResult]) -> int:
    done = 0
    while True:
        run: ImportRun | None = None
        try:
            with transaction.atomic():
                run = (
                    ImportRun.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("clinic", "started_by")
                    .filter(status=status)
                    .order_by("pk")
                    .first()
                )
                if run is None:
                    return done
                try:
                    work(run)
                except FileRefused as refused:
                    _finish(_only(run), status, ImportRun.Status.REFUSED, " ".join(refused.messages))
        except BaseException:
            if run is not None:
                logger.exception("Import %s (%s) stopped", run.uuid, run.filename)
                _finish(
                    _only(run),
                    status,
                    ImportRun.Status.FAILED,
                    "The import stopped on an error; nothing was saved. Try again later.",
                )
            raise
        done += 1


def _finish(runs: QuerySet[ImportRun], was: str, status: str, summary: str) -> int:
    """Finish ``runs`` still ``was`` (another worker may have finished one meanwhile), letting go of
    their files; returns how many."""
    return runs.filter(status=was).update(status=status, summary=summary, content=None, finished_at=timezone.now())


def _only(run: ImportRun) -> QuerySet[ImportRun]:
    return ImportRun.objects.filter(pk=run.pk)


def _in_writing_order(
    table: Table, fields: dict[str, int], kind: str, date_order: str
) -> list[tuple[Row, datetime.date | None]]:
    """Rows in the order they must be written, each with its day: by date for the kinds whose rows
    follow each other in time (a row whose date cannot be read goes first, to be refused with its
    reason)."""
    name = rows.ORDERED_BY.get(kind)
    if name is None or name not in fields:
        return [(row, None) for row in table.rows]
    index = fields[name]

    def day(row: Row) -> datetime.date | None:
        try:
            return values.parse_date(row.cells[index] if index < len(row.cells) else "", order=date_order)
        except ValueError:
            return None

    return sorted(((row, day(row)) for row in table.rows), key=lambda pair: pair[1] or datetime.date.min)


def _repeated_rows(table: Table, fields: dict[str, int], kind: str) -> dict[int, str]:
    """Rows of a patients file whose record number another row has too, with the refusal of each:
    the file cannot say which of them is right."""
    if kind != ImportRun.Kind.PATIENTS or "record_number" not in fields:
        return {}
    index = fields["record_number"]
    seen: dict[str, list[int]] = {}
    for row in table.rows:
        number = row.cells[index].strip() if index < len(row.cells) else ""
        if number:
            seen.setdefault(number, []).append(row.number)
    refusals = {}
    for number, found_on in seen.items():
        for row_number in found_on if len(found_on) > 1 else ():
            others = ", ".join(str(other) for other in found_on if other != row_number)
            refusals[row_number] = f"Record number {number} is also on row {others}: keep one row per patient."
    return refusals


def _by_field(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            name: [message for found in errors for message in found.messages]
            for name, errors in error.error_dict.items()
        }
    return {NON_FIELD_ERRORS: list(error.messages)}


def _refused(number: int, problems: dict[str, list[str]], labels: dict[str, str]) -> RowResult:
    found = tuple(
        Problem(labels.get(name, ""), message) for name, messages in problems.items() for message in messages
    )
    words = "; ".join(
        f"{problem.column}: {problem.message}" if problem.column else problem.message for problem in found
    )
    return RowResult(number, rows.Outcome.REFUSED, words, found)
