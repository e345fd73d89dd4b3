"""A career record as an XLSX workbook: one sheet per part, header frozen, real numbers.

Built off the event loop (the caller runs ``record_xlsx`` in a thread) with openpyxl's
``write_only`` mode. Text cells are written as text: a name or a reason that starts like a
formula (``=``, ``+``, ``-``, ``@``; ``notice_exports.FORMULA_STARTS``) is never run by a
spreadsheet.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from handlers.notice_exports import FORMULA_STARTS

Value = str | int | Decimal | date | None


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet: its title, localized header and rows."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Value]]


def neutral(value: Value) -> Value:
    """A value as a cell may hold it; text that looks like a formula stays text (see
    ``record_xlsx``, which also writes every text cell as text)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def record_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """The workbook's bytes."""
    # openpyxl only when HR asks for a file, not at every start.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for part in sheets:
        sheet = book.create_sheet(part.title[:31])  # Excel's limit for sheet names
        sheet.freeze_panes = "A2"
        header = []
        for label in part.header:
            cell = WriteOnlyCell(sheet, value=label)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in part.rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=neutral(value))
                if isinstance(value, str):
                    cell.data_type = "s"
                elif isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
