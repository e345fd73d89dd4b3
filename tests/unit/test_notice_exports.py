"""A notice's delivery list as CSV and XLSX: encodings, types, widths, and no formulas."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import openpyxl

from handlers.notice_exports import Cell, as_csv, as_xlsx

HEADER = ["Employee no.", "Name", "Delivery status", "Delivered at"]
ROWS: list[list[Cell]] = [
    ["E001", "胡蓉", "delivered", datetime(2026, 11, 21, 9, 30, 5)],
    ["E002", '=HYPERLINK("http://x")', "failed", None],
]


def _csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_has_a_byte_order_mark_and_plain_times() -> None:
    content = as_csv(HEADER, ROWS)
    assert content.startswith(b"\xef\xbb\xbf")
    header, first, second = _csv_rows(content)
    assert header == HEADER
    assert first == ["E001", "胡蓉", "delivered", "2026-11-21 09:30:05"]
    assert second[1] == '\'=HYPERLINK("http://x")', "a formula is defused"
    assert second[3] == ""


def test_csv_without_recipients_is_just_the_header() -> None:
    assert _csv_rows(as_csv(HEADER, [])) == [HEADER]


def test_xlsx_has_a_bold_header_real_times_and_readable_widths() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx(HEADER, ROWS, title="Delivery list"))).active
    assert sheet.title == "Delivery list"
    assert [c.value for c in sheet[1]] == HEADER
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    delivered = sheet["D2"]
    assert delivered.value == datetime(2026, 11, 21, 9, 30, 5)
    assert delivered.is_date and delivered.number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet["B3"].data_type == "s" and sheet["B3"].value.startswith("=")
    assert sheet["D3"].value is None
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCD"}
    assert widths["D"] >= 20, "a timestamp shows whole"
    assert 8 <= widths["A"] <= 60 and widths["B"] > widths["A"]


def test_xlsx_without_recipients_is_just_the_header() -> None:
    content = as_xlsx(HEADER, [], title="A title longer than Excel allows for a sheet name")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet.max_row == 1 and len(sheet.title) == 31
