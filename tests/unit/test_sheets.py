"""Cells of the sheets the bot writes: real types, and text never taken for a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from assessment.exports import SheetWords
from assessment.sheets import (
    Cell,
    csv_bytes,
    csv_cell,
    formula_like,
    neutralised,
    xlsx_bytes,
)

HEADER = ["Text", "Number", "Decimal", "Day", "Time", "Empty"]
DANGEROUS = ["=1+1", "+41 79", "-3 complaints", "@SUM(A1)", "\tTab", "\rReturn"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_that_begins_like_a_formula_is_neutralised(text: str) -> None:
    assert formula_like(text)
    assert neutralised(text) == "'" + text
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Su Yi", "胡蓉", "", "1+1", "a=b", "'quoted", " =spaced"])
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert not formula_like(text)
    assert neutralised(text) == text


def test_csv_cells_are_plain_numbers_iso_days_and_times() -> None:
    assert csv_cell(None) == ""
    assert csv_cell(12) == "12"
    assert csv_cell(Decimal("-3.50")) == "-3.50", "a negative number is a number, not text"
    assert csv_cell(date(2026, 11, 3)) == "2026-11-03"
    assert csv_cell(datetime(2026, 11, 3, 9, 5, 7)) == "2026-11-03 09:05:07"


ROWS: list[list[Cell]] = [
    [text, 7, Decimal("-2.5"), date(2026, 11, 3), datetime(2026, 11, 3, 9, 30), None]
    for text in [*DANGEROUS, "Plain 胡蓉"]
]


def test_xlsx_keeps_real_types_and_writes_no_formula() -> None:
    content = xlsx_bytes(HEADER, ROWS, title="A sheet title longer than Excel allows")
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.active
    assert len(sheet.title) == 31
    assert sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[1]] == HEADER and all(c.font.bold for c in sheet[1])
    for row, expected in zip(sheet.iter_rows(min_row=2), ROWS, strict=True):
        text, number, decimal, day, moment, empty = row
        # Exactly what was typed (XML reads a carriage return back as a line feed).
        assert text.value == str(expected[0]).replace("\r", "\n")
        assert text.data_type == "s"
        assert text.quotePrefix is formula_like(str(expected[0]))
        assert (number.value, number.data_type) == (7, "n")
        assert (decimal.value, decimal.data_type) == (-2.5, "n")
        assert day.is_date and day.value == datetime(2026, 11, 3)
        assert day.number_format == "yyyy-mm-dd"
        assert moment.is_date and moment.value == datetime(2026, 11, 3, 9, 30)
        assert empty.value is None
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


def test_csv_bytes_have_a_byte_order_mark_and_neutralised_text() -> None:
    content = csv_bytes(HEADER, ROWS)
    assert content.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert header == HEADER
    assert [row[0] for row in rows] == ["'" + text for text in DANGEROUS] + ["Plain 胡蓉"]
    assert rows[0][1:] == ["7", "-2.5", "2026-11-03", "2026-11-03 09:30:00", ""]


def test_sheet_words_name_stored_values_or_show_them_as_stored() -> None:
    words = SheetWords("t", ["a"], {"entry:approved": "已通过"})
    assert words.word("entry", "approved") == "已通过"
    assert words.word("entry", "unheard_of") == "unheard_of"
    assert words.word("entry", None) is None
