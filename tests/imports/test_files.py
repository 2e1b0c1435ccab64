"""Reading a clinic's spreadsheet into a table of text, without a database: bytes in, rows out."""

import codecs
import datetime
import io
import re
import zipfile

import openpyxl
import pytest

from patients.imports.files import FileRefused, Row, Table, read_table


def workbook(*rows: list[object], second_sheet: list[list[object]] | None = None) -> bytes:
    """An .xlsx file with these rows on its first sheet, as Excel would send it."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if second_sheet is not None:
        other = book.create_sheet("Second")
        for row in second_sheet:
            other.append(row)
        # The sheet open when the file was saved is not the one read: the first is.
        book.active = 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def naive(*parts: int) -> datetime.datetime:
    """A moment as a spreadsheet holds it: a wall-clock reading, in no time zone."""
    return datetime.datetime.combine(datetime.date(*parts[:3]), datetime.time(*parts[3:]))


def refusal(data: bytes, filename: str, **kwargs: object) -> str:
    with pytest.raises(FileRefused) as refused:
        read_table(data, filename=filename, **kwargs)
    return refused.value.message


# Text files: encodings


def test_it_reads_a_utf_8_csv():
    table = read_table("Record number,First name\nR-1,Zoë\nR-2,Łukasz\n".encode(), filename="patients.csv")

    assert table == Table(
        headers=("Record number", "First name"),
        rows=(Row(number=2, cells=("R-1", "Zoë")), Row(number=3, cells=("R-2", "Łukasz"))),
        encoding="UTF-8",
    )


def test_it_reads_utf_8_with_excels_byte_order_mark():
    table = read_table(codecs.BOM_UTF8 + "Record number,First name\nR-1,Zoë\n".encode(), filename="patients.csv")

    assert table.headers == ("Record number", "First name")
    assert table.rows[0].cells == ("R-1", "Zoë")
    assert table.encoding == "UTF-8"


def test_it_reads_windows_1252_names_and_the_euro_sign():
    # What Excel's plain "CSV" saves on Windows: ë is 0xEB, as in Latin-1, but € is 0x80.
    table = read_table(b"Record number,First name,Notes\r\nR-1,Zo\xeb,Paid \x8040\r\n", filename="patients.csv")

    assert table.rows[0].cells == ("R-1", "Zoë", "Paid €40")
    assert table.encoding == "Windows-1252"


def test_it_falls_back_to_latin_1_for_bytes_windows_1252_leaves_undefined():
    table = read_table(b"Record number,First name\nR-1,Zo\xeb\x8d\n", filename="patients.csv")

    assert table.rows[0].cells == ("R-1", "Zoë\x8d")
    assert table.encoding == "Latin-1"


def test_it_reads_excels_unicode_text():
    # Excel's "Unicode Text (*.txt)": UTF-16 with a byte-order mark, cells separated by tabs.
    data = "Record number\tFirst name\r\nR-1\tZoë\r\n".encode("utf-16")

    table = read_table(data, filename="patients.txt")

    assert table.rows == (Row(number=2, cells=("R-1", "Zoë")),)
    assert table.encoding == "UTF-16"


# Text files: separators, quotation marks, blank rows


def test_it_reads_semicolons_from_european_excel():
    table = read_table(b"Record number;Product;Dose (mg)\nR-1;Implant, 3 months;1000,5\n", filename="placements.csv")

    assert table.headers == ("Record number", "Product", "Dose (mg)")
    assert table.rows[0].cells == ("R-1", "Implant, 3 months", "1000,5")


@pytest.mark.parametrize("filename", ["patients.tsv", "patients.txt", "patients.csv"])
def test_it_reads_tabs(filename):
    table = read_table(b"Record number\tFirst name\nR-1\tAda, Countess\n", filename=filename)

    assert table.rows[0].cells == ("R-1", "Ada, Countess")


def test_it_finds_the_separator_outside_quotation_marks():
    table = read_table(b'"Name; as on file","Record number"\n"Byron; Ada",R-1\n', filename="patients.csv")

    assert table.headers == ("Name; as on file", "Record number")
    assert table.rows[0].cells == ("Byron; Ada", "R-1")


def test_it_reads_a_quoted_cell_over_several_lines_as_one_row():
    data = b'Record number,Notes\r\nR-1,"First line\r\nsecond line, with a comma"\r\nR-2,"She said ""fine"""\r\n'

    table = read_table(data, filename="placements.csv")

    assert table.rows == (
        Row(number=2, cells=("R-1", "First line\r\nsecond line, with a comma")),
        Row(number=3, cells=("R-2", 'She said "fine"')),
    )


def test_it_skips_blank_rows_yet_numbers_rows_as_the_spreadsheet_does():
    data = b"Record number,First name\nR-1,Ada\n\n , \nR-2,Mary\n,,\nR-3,Grace\n"

    table = read_table(data, filename="patients.csv")

    assert [row.number for row in table.rows] == [2, 5, 7]
    assert [row.cells[0] for row in table.rows] == ["R-1", "R-2", "R-3"]


def test_it_takes_the_first_row_with_anything_in_it_as_the_header():
    table = read_table(b"\n,,\nRecord number,First name\nR-1,Ada\n", filename="patients.csv")

    assert table.headers == ("Record number", "First name")
    assert table.rows == (Row(number=4, cells=("R-1", "Ada")),)


def test_it_strips_cells_pads_short_rows_and_drops_empty_columns_at_the_end():
    data = b"  Record number , First name ,Email,,\n  R-1  ,\xc2\xa0Ada\xc2\xa0\nR-2,Mary,m@example.org,,\n"

    table = read_table(data, filename="patients.csv")

    assert table.headers == ("Record number", "First name", "Email")
    assert table.rows == (
        Row(number=2, cells=("R-1", "Ada", "")),
        Row(number=3, cells=("R-2", "Mary", "m@example.org")),
    )


def test_it_reads_old_mac_line_endings_and_a_dos_end_of_file_mark():
    table = read_table(b"Record number,First name\rR-1,Ada\rR-2,Mary\r\x1a", filename="patients.csv")

    assert [row.cells for row in table.rows] == [("R-1", "Ada"), ("R-2", "Mary")]


def test_it_reads_a_file_of_one_column():
    table = read_table(b"Record number\nR-1\nR-2\n", filename="patients.csv")

    assert table.headers == ("Record number",)
    assert [row.cells for row in table.rows] == [("R-1",), ("R-2",)]


# Excel workbooks


def test_it_reads_an_excel_workbooks_cells_as_text():
    data = workbook(
        ["Record number", "Date of birth", "Placed at", "Dose (mg)", "Lot", "Count", "Consent", "Email", "Time"],
        [
            "  R-1 ",
            naive(1980, 2, 29),
            naive(2024, 3, 5, 14, 30, 15),
            1000.0,
            12.5,
            7,
            True,
            None,
            datetime.time(9, 5),
        ],
        ["R-2", datetime.date(1975, 12, 31), naive(2024, 3, 5), 0.1 + 0.2, 123456789012.0, -3, False],
    )

    table = read_table(data, filename="patients.xlsx")

    assert table.encoding == "Excel"
    assert table.rows == (
        Row(number=2, cells=("R-1", "1980-02-29", "2024-03-05 14:30", "1000", "12.5", "7", "yes", "", "09:05")),
        Row(number=3, cells=("R-2", "1975-12-31", "2024-03-05", "0.3", "123456789012", "-3", "no", "", "")),
    )


def test_it_skips_blank_workbook_rows_yet_numbers_rows_as_excel_does():
    data = workbook(["Record number", "First name"], ["R-1", "Ada"], [], [None, "  "], ["R-2", "Mary"])

    table = read_table(data, filename="patients.xlsx")

    assert [row.number for row in table.rows] == [2, 5]


def test_it_numbers_workbook_rows_from_the_top_when_the_sheet_starts_lower_and_further_right():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["B3"] = "Record number"
    sheet["C3"] = "First name"
    sheet["B5"] = "R-1"
    sheet["C5"] = "Ada"
    out = io.BytesIO()
    book.save(out)

    table = read_table(out.getvalue(), filename="patients.xlsx")

    # Column A is empty from top to bottom: it has no heading, and needs none.
    assert table.headers == ("Record number", "First name")
    assert table.rows == (Row(number=5, cells=("R-1", "Ada")),)


def test_it_pads_short_workbook_rows_and_drops_empty_columns_at_the_end():
    data = workbook(["Record number", "First name", "Email", None, None], ["R-1"], ["R-2", "Mary", None, None, ""])

    table = read_table(data, filename="patients.xlsx")

    assert table.headers == ("Record number", "First name", "Email")
    assert [row.cells for row in table.rows] == [("R-1", "", ""), ("R-2", "Mary", "")]


def test_it_reads_only_the_first_sheet():
    data = workbook(["Record number"], ["R-1"], second_sheet=[["Something else"], ["x"]])

    table = read_table(data, filename="patients.xlsx")

    assert table.headers == ("Record number",)
    assert table.rows == (Row(number=2, cells=("R-1",)),)


def test_it_reads_every_row_of_a_workbook_that_understates_its_size():
    # Some programs write "A1" as the size of a sheet of any size.
    data = workbook(["Record number", "First name"], ["R-1", "Ada"], ["R-2", "Mary"])
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                content = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', content)
            target.writestr(name, content)

    table = read_table(out.getvalue(), filename="patients.xlsx")

    assert [row.cells for row in table.rows] == [("R-1", "Ada"), ("R-2", "Mary")]


def test_it_reads_a_workbook_saved_under_a_csv_name_as_a_workbook():
    table = read_table(workbook(["Record number"], ["R-1"]), filename="patients.csv")

    assert table.rows == (Row(number=2, cells=("R-1",)),)
    assert table.encoding == "Excel"


# How many rows


def test_it_takes_as_many_rows_as_the_limit():
    table = read_table(b"Record number\nR-1\nR-2\n\nR-3\n", filename="patients.csv", max_rows=3)

    assert len(table.rows) == 3


def test_it_refuses_more_rows_than_the_limit_saying_how_many_and_to_split_the_file():
    data = b"Record number\n" + b"".join(b"R-%d\n" % number for number in range(1, 2502))

    message = refusal(data, "patients.csv", max_rows=2500)

    assert "2,501 rows" in message
    assert "at most 2,500" in message
    assert "Split" in message


def test_it_refuses_more_workbook_rows_than_the_limit():
    data = workbook(["Record number"], *[[f"R-{number}"] for number in range(5)])

    message = refusal(data, "patients.xlsx", max_rows=4)

    assert "5 rows" in message
    assert "at most 4" in message


def test_its_limit_is_the_setting_unless_given(settings):
    settings.IMPORT_MAX_ROWS = 2

    message = refusal(b"Record number\nR-1\nR-2\nR-3\n", "patients.csv")

    assert "3 rows" in message
    assert "at most 2" in message
    assert len(read_table(b"Record number\nR-1\nR-2\nR-3\n", filename="patients.csv", max_rows=3).rows) == 3


# Refusals


@pytest.mark.parametrize("filename", ["patients.pdf", "patients.docx", "patients.ods", "patients", "patients.csv.zip"])
def test_it_refuses_a_file_that_is_not_a_spreadsheet(filename):
    message = refusal(b"Record number\nR-1\n", filename)

    assert "save it as an Excel Workbook (.xlsx) or as CSV" in message


def test_it_refuses_a_pdf_named_as_a_spreadsheet():
    message = refusal(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "patients.csv")

    assert "not a spreadsheet" in message


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "patients.xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "patients.xlsx"),
        (b"Record number\nR-1\n", "patients.XLS"),
    ],
)
def test_it_refuses_old_excel_files_and_says_how_to_save_them(data, filename):
    message = refusal(data, filename)

    assert "old version of Excel (.xls)" in message
    assert "save it as an Excel Workbook (.xlsx) or as CSV" in message


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04 this is no zip archive",
        b"Record number,First name\nR-1,Ada\n",
    ],
)
def test_it_refuses_an_xlsx_that_is_not_really_one(data):
    message = refusal(data, "patients.xlsx")

    assert "cannot be opened as an Excel workbook" in message


def test_it_refuses_a_zip_archive_that_holds_no_workbook():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")

    message = refusal(out.getvalue(), "patients.xlsx")

    assert "cannot be opened as an Excel workbook" in message


def test_it_refuses_a_workbook_cut_short():
    data = workbook(["Record number"], *[[f"R-{number}"] for number in range(500)])

    message = refusal(data[: len(data) // 2], "patients.xlsx")

    assert "cannot be opened as an Excel workbook" in message


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "patients.csv"),
        (b"  \r\n\r\n", "patients.csv"),
        (codecs.BOM_UTF8, "patients.csv"),
        (b",,,\n , ,\n", "patients.csv"),
        (b"", "patients.xlsx"),
    ],
)
def test_it_refuses_an_empty_file(data, filename):
    assert refusal(data, filename) == "This file is empty: there is nothing in it to import."


def test_it_refuses_an_empty_workbook():
    assert "empty" in refusal(workbook(), "patients.xlsx")


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"Record number,First name\n", "patients.csv"),
        (b"Record number,First name\n\n,\n", "patients.csv"),
        (workbook(["Record number", "First name"]), "patients.xlsx"),
    ],
)
def test_it_refuses_a_header_row_with_no_records_under_it(data, filename):
    assert refusal(data, filename) == "This file has a header row but no records under it."


def test_it_refuses_a_value_in_a_column_without_a_heading_among_named_ones():
    message = refusal(b"Record number,,First name\nR-1,,Ada\nR-2,x,Mary\n", "patients.csv")

    assert message == (
        "Row 3 has a value in column B, which has no heading. Give that column a heading in row 1, or delete it."
    )


def test_it_refuses_a_value_in_a_workbook_column_without_a_heading():
    data = workbook([None, "Record number"], ["x", "R-1"])

    assert refusal(data, "patients.xlsx").startswith("Row 2 has a value in column A, which has no heading.")


def test_it_leaves_out_a_column_without_a_heading_that_is_empty_from_top_to_bottom():
    table = read_table(b"Record number,,First name\nR-1,,Ada\nR-2, ,Mary\n", filename="patients.csv")

    assert table.headers == ("Record number", "First name")
    assert [row.cells for row in table.rows] == [("R-1", "Ada"), ("R-2", "Mary")]


def test_it_refuses_too_many_rows_before_a_value_without_a_heading():
    message = refusal(b"Record number\nR-1,x\nR-2\nR-3\n", "patients.csv", max_rows=2)

    assert message.startswith("This file has 3 rows of records")


def test_it_refuses_two_columns_with_the_same_heading():
    message = refusal(b"Record number,Email,First name,email\nR-1,a@example.org,Ada,b@example.org\n", "patients.csv")

    assert message == "Two columns have the heading 'email' (columns B and D). Rename or delete one of them."


def test_it_refuses_a_value_beyond_the_last_heading():
    message = refusal(b"Record number,First name\nR-1,Ada\nR-2,Mary,,checked\n", "patients.csv")

    assert (
        message
        == "Row 3 has a value in column D, which has no heading. Give that column a heading in row 1, or delete it."
    )


def test_it_refuses_a_file_that_is_not_text():
    message = refusal(b"Record number,First name\nR-1,\x00\x00\x01\x02\xff\n", "patients.csv")

    assert "does not hold text" in message


def test_it_refuses_a_quotation_mark_that_is_never_closed_naming_its_row():
    message = refusal(b'Record number,Notes\nR-1,fine\nR-2,"never closed\nR-3,lost\n', "patients.csv")

    assert message.startswith("Row 3 cannot be read: a quotation mark in it is not closed")


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "patients.csv"),
        (b"%PDF-1.4", "patients.csv"),
        (b"x", "patients.pdf"),
        (b"PK\x03\x04 broken", "patients.xlsx"),
        (b"a,b\n1,\x00\n", "patients.csv"),
        (b'a,b\n1,"2\n', "patients.csv"),
        (b"a,,b\n1,2,3\n", "patients.csv"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "patients.xls"),
    ],
)
def test_its_refusals_speak_no_programmers_words(data, filename):
    message = refusal(data, filename).casefold()

    for word in ("codec", "decode", "unicode", "utf", "zip", "sniff", "exception", "error", "openpyxl"):
        assert word not in message
