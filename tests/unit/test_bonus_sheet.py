"""The bonus run's spreadsheet: a frozen header, real numbers, no formulas from names."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl

from assessment.bonus import sheet


def test_numbers_stay_numbers_and_names_never_run_as_formulas() -> None:
    content = sheet(
        ["Employee no.", "Name", "Bonus"],
        [["E1", '=HYPERLINK("http://x")', Decimal("1380.00")], ["E2", "@Li", Decimal("0.00")]],
    )
    book = openpyxl.load_workbook(io.BytesIO(content))
    page = book.active
    assert page is not None
    assert page.freeze_panes == "A2"
    rows = list(page.iter_rows(values_only=True))
    assert rows[0] == ("Employee no.", "Name", "Bonus")
    assert rows[1] == ("E1", '\'=HYPERLINK("http://x")', 1380)
    assert page["B2"].data_type == "s" and page["C2"].data_type == "n"
    assert rows[2][1] == "'@Li"
