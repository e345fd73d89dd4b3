"""Spreadsheets the bot writes, streamed: XLSX (openpyxl ``write_only``) and CSV.

A cell is a real value: numbers stay numbers (``int``, ``Decimal``), days and times stay
dates (time-zone-less, in the organisation's time, which the header names). Text that
begins like a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
neutralised, so a spreadsheet never runs what a person typed as their name or an entry:
``neutralised`` is the one definition, for every file the bot writes.

- XLSX: such text is written as a text cell marked with Excel's quote prefix (the cell
  shows ``=1+1``, and editing it keeps it text); its value is exactly what was typed.
- CSV, where a cell has no type: it gets a leading apostrophe, the usual defence.

Rows go to the file as they come; nothing holds the whole sheet (``write_only`` keeps
strings inline, with no shared-string table to grow).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Protocol

Cell = str | int | Decimal | date | datetime | None

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TIME = "%Y-%m-%d %H:%M:%S"
MIN_WIDTH, MAX_WIDTH = 8, 60
# Excel's limit for a sheet's name.
MAX_TITLE = 31


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` for a formula (or a sign-led one)."""
    return text.startswith(FORMULA_STARTS)


def neutralised(text: str) -> str:
    """``text`` safe in a cell that has no type (CSV): a leading apostrophe if it
    begins like a formula, otherwise unchanged."""
    return "'" + text if formula_like(text) else text


def csv_cell(cell: Cell) -> str:
    """A cell as CSV text: ISO days, ``YYYY-MM-DD HH:MM:SS`` times, plain numbers."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return neutralised(cell)
    if isinstance(cell, datetime):
        return cell.strftime(CSV_TIME)
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def width_of(text: str) -> int:
    """Columns ``text`` takes on screen: Chinese characters take two."""
    return 2 + sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class SheetWriter(Protocol):
    """Rows to one sheet, as they come; ``close`` finishes the file."""

    def write(self, rows: Iterable[Sequence[Cell]]) -> None:
        """Append rows."""

    def close(self) -> None:
        """Finish the file."""


class CsvSheet:
    """UTF-8 CSV with a byte-order mark (so Excel reads Chinese right), header first."""

    def __init__(self, target: Path | IO[bytes], header: Sequence[str]) -> None:
        self._own = isinstance(target, Path)
        self._binary: IO[bytes] = target.open("wb") if isinstance(target, Path) else target
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._text)
        self._csv.writerow(header)

    def write(self, rows: Iterable[Sequence[Cell]]) -> None:
        """Append rows, each cell as ``csv_cell`` writes it."""
        self._csv.writerows([csv_cell(cell) for cell in row] for row in rows)

    def close(self) -> None:
        """Flush; close the file if this sheet opened it."""
        self._text.flush()
        if self._own:
            self._text.close()
        else:
            self._text.detach()


class XlsxSheet:
    """One ``write_only`` sheet: a bold, frozen header, widths from the header and the
    ``widths`` hints, number ``formats`` by column (None: as it is), each row written to
    a temporary file as it comes."""

    def __init__(
        self,
        target: Path | IO[bytes],
        header: Sequence[str],
        *,
        title: str,
        widths: Sequence[int] | None = None,
        formats: Sequence[str | None] | None = None,
    ) -> None:
        # openpyxl only when a file is built, not at every start of the bot.
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        # Opened first, so a target that cannot be written fails before any row is read.
        self._own = isinstance(target, Path)
        self._target: IO[bytes] = target.open("wb") if isinstance(target, Path) else target
        self._cell = WriteOnlyCell
        self._book = Workbook(write_only=True)
        self._sheet: Any = self._book.create_sheet(title[:MAX_TITLE])
        self._sheet.freeze_panes = "A2"
        hints = widths or [0] * len(header)
        for column, (label, hint) in enumerate(zip(header, hints, strict=True), start=1):
            width = min(MAX_WIDTH, max(MIN_WIDTH, width_of(label), hint))
            self._sheet.column_dimensions[get_column_letter(column)].width = width
        bold = Font(bold=True)
        cells = []
        for label in header:
            cell = self._text_cell(label)
            cell.font = bold
            cells.append(cell)
        self._sheet.append(cells)
        # Number formats by column (money shown as money): the numbers stay numbers.
        self._formats = [(i, f) for i, f in enumerate(formats or ()) if f]

    def _number_cell(self, value: int | Decimal, number_format: str) -> Any:
        cell = self._cell(self._sheet, value=value)
        cell.number_format = number_format
        return cell

    def _text_cell(self, text: str) -> Any:
        cell = self._cell(self._sheet, value=text)
        # Text, whatever it starts with; Excel's quote prefix keeps it text when edited.
        cell.data_type = "s"
        if formula_like(text):
            cell.quotePrefix = True
        return cell

    def write(self, rows: Iterable[Sequence[Cell]]) -> None:
        """Append rows; text that begins like a formula goes in as quoted text."""
        append = self._sheet.append
        formats = self._formats
        for row in rows:
            if formats:
                row = list(row)
                for index, number_format in formats:
                    value = row[index]
                    if isinstance(value, int | Decimal) and not isinstance(value, bool):
                        row[index] = self._number_cell(value, number_format)
            if any(type(cell) is str and cell.startswith(FORMULA_STARTS) for cell in row):
                row = [
                    self._text_cell(cell) if type(cell) is str and formula_like(cell) else cell
                    for cell in row
                ]
            append(row)

    def close(self) -> None:
        """Write the workbook to its target (closed if this sheet opened it)."""
        try:
            self._book.save(self._target)
        finally:
            if self._own:
                self._target.close()


def xlsx_bytes(
    header: Sequence[str], rows: Iterable[Sequence[Cell]], *, title: str,
    widths: Sequence[int] | None = None,
) -> bytes:  # fmt: skip
    """A small sheet as XLSX bytes (a delivery list of one notice, a test's sheet)."""
    buffer = io.BytesIO()
    sheet = XlsxSheet(buffer, header, title=title, widths=widths)
    sheet.write(rows)
    sheet.close()
    return buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """A small sheet as CSV bytes."""
    buffer = io.BytesIO()
    sheet = CsvSheet(buffer, header)
    sheet.write(rows)
    sheet.close()
    return buffer.getvalue()
