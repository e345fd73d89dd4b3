"""A notice's delivery list as a spreadsheet HR can open: CSV (Excel-friendly) or XLSX.

Times are the organisation's wall-clock time: real (time-zone-less) datetimes in
XLSX, ``YYYY-MM-DD HH:MM:SS`` text in CSV; the zone is named in the header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from assessment.notices import DeliveryLine
from assessment.sheets import csv_cell, formula_like, width_of
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
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
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
    # Text that begins like a formula is neutralised as in every sheet the bot writes.
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


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
    widths = [width_of(label) for label in header]
    for row in rows:
        sheet.append(list(row))
        for column, (value, written) in enumerate(zip(row, sheet[sheet.max_row], strict=True)):
            if isinstance(value, datetime):
                written.number_format = XLSX_TIME_FORMAT
                widths[column] = max(widths[column], len(XLSX_TIME_FORMAT) + 1)
            elif isinstance(value, str):
                written.data_type = "s"  # never a formula, whatever the text starts with
                # Excel's quote prefix keeps it text when edited (``assessment.sheets``).
                written.quotePrefix = formula_like(value)
                widths[column] = max(widths[column], width_of(value))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(1, column).column_letter].width = min(
            MAX_WIDTH, max(MIN_WIDTH, width)
        )
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
