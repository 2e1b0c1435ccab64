"""A clinic's spreadsheet read into a table of text: CSV (or tab-separated text) and Excel workbooks.

Every cell comes back as stripped text and every row with the number the clinic's spreadsheet shows
beside it, so that a message about row 14 points at row 14 on the coordinator's screen. A file that
cannot be read at all is refused whole with ``FileRefused``, in words a coordinator can act on. What
the cells mean is not decided here: ``columns`` names them, ``values`` reads them.
"""

import codecs
import csv
import datetime
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from openpyxl import load_workbook  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from patients.reports.exports import unescaped


class FileRefused(ValidationError):  # noqa: N818 (named for what befalls the file, as the page says it)
    """A whole file that cannot be imported, with the reason in a clinic coordinator's words."""


@dataclass(frozen=True)
class Row:
    """One row of records: ``number`` is the row number the spreadsheet shows (the header is row 1)."""

    number: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """The header and the rows under it, each row exactly as wide as the header."""

    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    encoding: str  # how the file was read, for the preview: "UTF-8", "Windows-1252", "Excel", ...


TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
WORKBOOK_SUFFIXES = (".xlsx",)

# The first bytes of a file tell its kind whatever it is named: every .xlsx is a zip archive, every
# old Excel .xls (and Word .doc) an OLE2 compound file.
ZIP_START = b"PK\x03\x04"
OLE2_START = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PDF_START = b"%PDF"

SAVE_AGAIN = "Open it in Excel (or the program that made it) and save it as an Excel Workbook (.xlsx) or as CSV."
NOT_A_SPREADSHEET = f"This file is not a spreadsheet this import can read. {SAVE_AGAIN}"
OLD_EXCEL = (
    "This file was saved by an old version of Excel (.xls), which this import cannot read. "
    "Open it in Excel and save it as an Excel Workbook (.xlsx) or as CSV."
)
DAMAGED_WORKBOOK = (
    f"This file cannot be opened as an Excel workbook: it may be damaged, or not a workbook. {SAVE_AGAIN}"
)
NOT_TEXT = f"This file does not hold text that a spreadsheet saves as CSV. {SAVE_AGAIN}"
EMPTY = "This file is empty: there is nothing in it to import."
NO_RECORDS = "This file has a header row but no records under it."


def read_table(data: bytes, *, filename: str, max_rows: int | None = None) -> Table:
    """The file's first sheet (or its only table of text), or ``FileRefused`` saying why not.

    ``max_rows`` is the most rows of records one import takes, ``IMPORT_MAX_ROWS`` unless given.
    """
    limit = settings.IMPORT_MAX_ROWS if max_rows is None else max_rows
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xls" or data.startswith(OLE2_START):
        raise FileRefused(OLD_EXCEL)
    if suffix not in TEXT_SUFFIXES + WORKBOOK_SUFFIXES or data.startswith(PDF_START):
        raise FileRefused(NOT_A_SPREADSHEET)
    if not data.strip():
        raise FileRefused(EMPTY)
    # A workbook saved under a .csv name is still a workbook: read it as what it is.
    if data.startswith(ZIP_START):
        return _read_workbook(data, max_rows=limit)
    if suffix in WORKBOOK_SUFFIXES:
        raise FileRefused(DAMAGED_WORKBOOK)
    return _read_text(data, suffix=suffix, max_rows=limit)


def _read_workbook(data: bytes, *, max_rows: int) -> Table:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # whatever the damage, the coordinator can only save the file again
        raise FileRefused(DAMAGED_WORKBOOK) from error
    try:
        if not workbook.worksheets:
            raise FileRefused(f"This workbook has no sheet of rows and columns to import. {SAVE_AGAIN}")
        sheet = workbook.worksheets[0]
        # The size a workbook declares is not always true (some programs write "A1"); reading it
        # as unknown makes the reader go through every row the sheet really holds.
        sheet.reset_dimensions()
        return _table(
            ([_cell_text(value) for value in values] for values in sheet.iter_rows(min_row=1, values_only=True)),
            encoding="Excel",
            max_rows=max_rows,
        )
    except FileRefused:
        raise
    except Exception as error:  # the sheet is read lazily: damage shows wherever the reader meets it
        raise FileRefused(DAMAGED_WORKBOOK) from error
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """A cell as the text a coordinator typed: days as YYYY-MM-DD, whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # Excel keeps 15 significant digits and shows no more: 0.1 + 0.2 reads 0.3, as on screen.
        return format(value, ".15g")
    return str(value).strip()


def _read_text(data: bytes, *, suffix: str, max_rows: int) -> Table:
    text, encoding = _decode(data)
    # A DOS end-of-file mark, still written by some old exports.
    text = text.rstrip("\x1a")
    if not text.strip():
        raise FileRefused(EMPTY)
    delimiter = _delimiter(_first_line(text), tab_first=suffix == ".tsv")
    # strict: a quotation mark that is never closed would otherwise swallow the rest of the file
    # into one cell without a word.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    return _table(_records(reader), encoding=encoding, max_rows=max_rows)


def _decode(data: bytes) -> tuple[str, str]:
    """The file's text and the name of its encoding in words.

    UTF-8 first (with or without Excel's byte-order mark): bytes that decode as UTF-8 are almost never
    anything else. Then Windows-1252, what Excel's plain "CSV" saves on Windows, which agrees with
    Latin-1 except for the euro sign, curly quotation marks and a few more. Latin-1 reads any bytes, so it comes last.
    """
    # Excel's "Unicode Text" saves UTF-16 with a byte-order mark, whose text is half NUL bytes.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise FileRefused(NOT_TEXT) from None
    if b"\x00" in data:
        raise FileRefused(NOT_TEXT)
    for codec, name in (("utf-8-sig", "UTF-8"), ("cp1252", "Windows-1252")):
        try:
            return data.decode(codec), name
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "Latin-1"


def _first_line(text: str) -> str:
    """The header line: the first that is not blank."""
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def _delimiter(line: str, *, tab_first: bool) -> str:
    """The character that separates the header's cells: a comma, a semicolon (Excel's CSV where a
    comma writes decimals, as in much of Europe) or a tab; the most frequent outside quotation marks."""
    candidates = "\t,;" if tab_first else ",;\t"
    counts = dict.fromkeys(candidates, 0)
    quoted = False
    for character in line:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in counts:
            counts[character] += 1
    # A file of one column has none of them; max() keeps the first of equal counts.
    return max(candidates, key=lambda candidate: counts[candidate])


def _records(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    number = 0
    while True:
        number += 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise FileRefused(
                f"Row {number} cannot be read: a quotation mark in it is not closed, or is followed by more "
                "text in the same cell. Check that row in the spreadsheet, or save the file as CSV again."
            ) from None
        # A cell a CSV export marked as text (``'=...``, ``'-Smith``) reads as it was.
        yield [unescaped(cell.strip()) for cell in record]


def _table(raw_rows: Iterable[list[str]], *, encoding: str, max_rows: int) -> Table:
    """The rows of the file, numbered from 1 with blank rows counted, as a table under its header.

    A column without a heading may stay in the file as long as it is empty from top to bottom (a
    spacer, or a sheet that starts in column B); a value in one is refused, since no one can say
    which column it belongs to.
    """
    numbered = enumerate(raw_rows, start=1)
    # The header is the first row with anything in it: rows above it are blank, yet counted.
    first = next(((number, cells) for number, cells in numbered if any(cells)), None)
    if first is None:
        raise FileRefused(EMPTY)
    header_number, header = first
    named = [index for index, heading in enumerate(header) if heading]
    _check_headings_differ(header, named)
    width = named[-1] + 1
    unnamed = [index for index in range(width) if not header[index]]
    rows: list[Row] = []
    count = 0
    stray: tuple[int, int] | None = None
    for number, cells in numbered:
        if not any(cells):
            continue
        count += 1
        if count > max_rows:
            # Counted on, without keeping them, so that the refusal says how many there are.
            continue
        if stray is None and (index := _value_without_heading(cells, unnamed, width)) is not None:
            stray = (number, index)
        cells = cells[:width] + [""] * (width - len(cells))
        rows.append(Row(number=number, cells=tuple(cells[index] for index in named) if unnamed else tuple(cells)))
    if count > max_rows:
        raise FileRefused(
            f"This file has {count:,} rows of records; one import takes at most {max_rows:,}. Split it into "
            f"files of {max_rows:,} rows or fewer and import them one after another."
        )
    if stray is not None:
        number, index = stray
        raise FileRefused(
            f"Row {number} has a value in column {get_column_letter(index + 1)}, which has no heading. "
            f"Give that column a heading in row {header_number}, or delete it."
        )
    if not rows:
        raise FileRefused(NO_RECORDS)
    return Table(headers=tuple(header[index] for index in named), rows=tuple(rows), encoding=encoding)


def _value_without_heading(cells: Sequence[str], unnamed: Sequence[int], width: int) -> int | None:
    """The index of the first cell with a value in a column that has no heading, if any."""
    for index in unnamed:
        if index < len(cells) and cells[index]:
            return index
    if any(cells[width:]):
        return next(index for index in range(width, len(cells)) if cells[index])
    return None


def _check_headings_differ(header: Sequence[str], named: Sequence[int]) -> None:
    seen: dict[str, int] = {}
    for index in named:
        key = header[index].casefold()
        if key in seen:
            raise FileRefused(
                f"Two columns have the heading {header[index]!r} (columns {get_column_letter(seen[key] + 1)} and "
                f"{get_column_letter(index + 1)}). Rename or delete one of them."
            )
        seen[key] = index
