"""A notice's delivery list as a spreadsheet HR can open: CSV (Excel-friendly) or XLSX.

Times are the organisation's wall-clock time: real (time-zone-less) datetimes in
XLSX, ``YYYY-MM-DD HH:MM:SS`` text in CSV; the zone is named in the header.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from assessment.notices import DeliveryLine
from handlers.context import WorkledgerContext
from locales import N_
from storage.enums import DeliveryStatus

Cell = str | datetime | None

DELIVERY_NAMES: Mapping[DeliveryStatus, str] = MappingProxyType(
    {
        DeliveryStatus.PENDING: N_("waiting"),
        DeliveryStatus.SENDING: N_("sending"),
        DeliveryStatus.SENT: N_("delivered"),
        DeliveryStatus.FAILED: N_("failed"),
        DeliveryStatus.UNREACHABLE: N_("unreachable"),
    }
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# A spreadsheet runs a cell that starts like a formula; text from the roster never should.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MIN_WIDTH, MAX_WIDTH = 8, 60


def delivery_table(
    context: WorkledgerContext, lines: Sequence[DeliveryLine]
) -> tuple[list[str], list[list[Cell]]]:
    """The header (in the caller's language) and one row per recipient."""
    _ = context._
    zone = context.settings.zone
    header = [
        _("Employee no."),
        _("Name"),
        _("Department"),
        _("Delivery status"),
        _("Delivered at ({zone})").format(zone=zone.key),
        _("Error"),
        _("Read confirmed at ({zone})").format(zone=zone.key),
    ]
    rows: list[list[Cell]] = [
        [
            line.employee_no,
            line.name,
            line.department,
            _(DELIVERY_NAMES[line.status]) if line.status else None,
            _local(line.finished_at, zone) if line.status is DeliveryStatus.SENT else None,
            line.error,
            _local(line.acked_at, zone),
        ]
        for line in lines
    ]
    return header, rows


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


def as_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel shows Chinese names correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime(TIME_FORMAT)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def as_xlsx(header: Sequence[str], rows: Sequence[Sequence[Cell]], *, title: str) -> bytes:
    """One sheet: a bold, frozen header and columns wide enough to read."""
    # openpyxl (and PIL with it) only when HR asks for an XLSX, not at every start.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit for sheet names
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [_width(label) for label in header]
    for row in rows:
        sheet.append(list(row))
        for column, (value, written) in enumerate(zip(row, sheet[sheet.max_row], strict=True)):
            if isinstance(value, datetime):
                written.number_format = XLSX_TIME_FORMAT
                widths[column] = max(widths[column], len(XLSX_TIME_FORMAT) + 1)
            elif isinstance(value, str):
                written.data_type = "s"  # never a formula, whatever the text starts with
                widths[column] = max(widths[column], _width(value))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(1, column).column_letter].width = min(
            MAX_WIDTH, max(MIN_WIDTH, width)
        )
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _width(text: str) -> int:
    # Chinese characters take two columns.
    return 2 + sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
