"""One file brought in, all or nothing.

``import_table`` writes every row of a file in one transaction, each row in a savepoint of its own so
that a refused row is reported and the next one still tried: the coordinator sees every refusal of
the file at once. If any row was refused, or on a dry run, the whole transaction is rolled back, so
nothing of the file is saved; the result says what each row became, or would have become.
"""

import datetime
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from patients.imports import columns, rows, values
from patients.imports.files import Row, Table
from patients.models import Clinic, ImportRun
from patients.roles import Action, require


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
    table: Table,
    *,
    clinic: Clinic,
    kind: str,
    filename: str,
    date_order: str = "iso",
    dry_run: bool = False,
    by: User | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Write ``table``'s rows as records of ``kind`` for ``clinic``; see the module's docstring.

    Raises ``FileRefused`` when the file's columns do not fit the kind: then no row is tried.
    """
    require(by, Action.IMPORT_RECORDS, clinic)
    matched = columns.match_columns(table.headers, kind)
    labels = {column.name: column.label for column in columns.columns_of(kind)}
    result = ImportResult(kind=kind, date_order=date_order, ignored_columns=tuple(matched.ignored))
    duplicates = _repeated_rows(table, matched.fields, kind)
    with transaction.atomic():
        run = ImportRun.objects.create(
            clinic=clinic, kind=kind, filename=filename, started_by=by, rows=len(table.rows)
        )
        ctx = rows.context(clinic=clinic, run=run, date_order=date_order, by=by)
        write = rows.WRITERS[kind]
        for done, row in enumerate(_in_writing_order(table, matched.fields, kind, date_order), start=1):
            cells = {
                name: row.cells[index] if index < len(row.cells) else "" for name, index in matched.fields.items()
            }
            if row.number in duplicates:
                result.rows.append(_refused(row.number, {"record_number": [duplicates[row.number]]}, labels))
            else:
                try:
                    with transaction.atomic():
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


def _in_writing_order(table: Table, fields: dict[str, int], kind: str, date_order: str) -> list[Row]:
    """Rows in the order they must be written: by date for the kinds whose rows follow each other
    in time (a row whose date cannot be read goes first, to be refused with its reason)."""
    name = rows.ORDERED_BY.get(kind)
    if name is None or name not in fields:
        return list(table.rows)
    index = fields[name]

    def day(row: Row) -> datetime.date:
        try:
            return values.parse_date(row.cells[index] if index < len(row.cells) else "", order=date_order)
        except ValueError:
            return datetime.date.min

    return sorted(table.rows, key=day)


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
