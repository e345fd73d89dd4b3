"""Roster files at and past the limits, built fast, and what reading each one costs.

    .venv/bin/python bench/roster_files.py [--json FILE]

Builds each file (the largest valid rosters the limits allow, and hostile ones: a
huge shared-strings table, a million styled empty rows, a zip bomb part, a row far
down the sheet, control characters deep in a CSV) and reads it the way the bot
does, in a worker process (``assessment.roster_worker``), printing for each the
outcome, the wall time from submitting the file to the answer, and the worker's
peak resident memory (``ru_maxrss`` of the children). Goal, printed, never
asserted: every file parsed or refused within 5 s and 300 MiB.

The builders are also what the roster tests and ``bench/responsiveness.py`` use.
They write the workbook's XML directly (openpyxl takes 8 s for 100,000 rows).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assessment.roster import COLUMNS, LIMITS, MAX_ROWS, RosterRejected, RosterRules
from assessment.roster_worker import RosterWorkers
from config.policy import load_policy

GOAL_SECONDS = 5.0
GOAL_MIB = 300

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/></Types>'
)
_STYLES = (
    f'<styleSheet xmlns="{_MAIN}"><fonts count="1"><font/></fonts><fills count="1"><fill>'
    '<patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf/>'
    '</cellStyleXfs><cellXfs count="2"><xf/><xf fillId="0"/></cellXfs></styleSheet>'
)


def person(index: int) -> tuple[str, ...]:
    """A valid roster row: everyone reports to the first person."""
    return (
        f"E{index:06d}",
        f"Person {index}",
        f"Department {index % 50}",
        f"Clerk {index % 7}",
        "service",
        "1.15",
        "E000000" if index else "",
        "staff",
        "en",
        "active",
    )


def valid_rows(count: int = MAX_ROWS) -> list[tuple[str, ...]]:
    """The header and ``count`` people (the limit by default)."""
    return [COLUMNS, *(person(index) for index in range(count))]


def column_name(index: int) -> str:
    """``A`` for 0, ``AA`` for 26."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def workbook(
    sheet_rows: Iterable[str],
    *,
    strings: Iterable[str] | None = None,
    strings_count: int | None = None,
    extra: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """An XLSX from the sheet's ``<row>`` elements (and shared strings' ``<si>`` items)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{_OFFICE_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE_RELS}"><sheets>'
            '<sheet name="Roster" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PACKAGE_RELS}">'
            f'<Relationship Id="rId1" Type="{_OFFICE_RELS}/worksheet" '
            'Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_OFFICE_RELS}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{_OFFICE_RELS}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>',
        )
        archive.writestr("xl/styles.xml", _STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
            _write_chunked(sheet, sheet_rows)
            sheet.write(b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            stated = "" if strings_count is None else f' count="{strings_count}"'
            table.write(f'<sst xmlns="{_MAIN}"{stated}>'.encode())
            _write_chunked(table, (f"<si><t>{escape(text)}</t></si>" for text in strings or ()))
            table.write(b"</sst>")
        for name, data in extra:
            archive.writestr(name, data)
    return buffer.getvalue()


def _write_chunked(stream: io.BufferedIOBase | object, parts: Iterable[str]) -> None:
    write: Callable[[bytes], object] = stream.write  # type: ignore[attr-defined]
    chunk: list[str] = []
    for part in parts:
        chunk.append(part)
        if len(chunk) >= 4096:
            write("".join(chunk).encode())
            chunk.clear()
    write("".join(chunk).encode())


def xlsx(rows: Sequence[Sequence[str]]) -> bytes:
    """A workbook as Excel writes one: every text in the shared-strings table."""
    index: dict[str, int] = {}

    def cell(number: int, column: int, text: str) -> str:
        reference = f"{column_name(column)}{number}"
        if not text:
            return ""
        position = index.setdefault(text, len(index))
        return f'<c r="{reference}" t="s"><v>{position}</v></c>'

    sheet = [
        f'<row r="{number}">'
        + "".join(cell(number, column, text) for column, text in enumerate(row))
        + "</row>"
        for number, row in enumerate(rows, start=1)
    ]
    return workbook(sheet, strings=list(index), strings_count=len(index))


def csv_file(rows: Sequence[Sequence[str]]) -> bytes:
    """A UTF-8 CSV of ``rows``."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def largest_xlsx() -> bytes:
    """The largest roster the limits allow, as an Excel workbook: 100,000 people."""
    return xlsx(valid_rows())


def largest_csv() -> bytes:
    """The largest roster the limits allow, as CSV: 100,000 people."""
    return csv_file(valid_rows())


def huge_shared_strings(count: int = 3 * LIMITS.shared_strings) -> bytes:
    """A small workbook whose shared-strings table holds ``count`` texts (it says one)."""
    header = "".join(
        f'<c r="{column_name(column)}1" t="s"><v>{column}</v></c>' for column in range(10)
    )
    texts = (*COLUMNS, *(f"s{index}" for index in range(count - len(COLUMNS))))
    return workbook([f'<row r="1">{header}</row>'], strings=texts, strings_count=1)


def styled_empty_rows(count: int = 1_000_000) -> bytes:
    """A header and ``count`` rows of styled but empty cells, as a sheet formatted to the end."""
    header = "".join(
        f'<c r="{column_name(column)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for column, name in enumerate(COLUMNS)
    )
    rows = (
        f'<row r="{number}"><c r="A{number}" s="1"/><c r="B{number}" s="1"/></row>'
        for number in range(2, count + 2)
    )
    return workbook([f'<row r="1">{header}</row>', *rows])


def zip_bomb(unpacked: int = 1024 * 1024 * 1024) -> bytes:
    """A valid small roster with one more part that unpacks to ``unpacked`` bytes of zeros."""
    block = bytes(1024 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc = 0
    parts = []
    for _ in range(unpacked // len(block)):
        parts.append(compressor.compress(block))
        crc = zlib.crc32(block, crc)
    parts.append(compressor.flush())
    return _with_deflated_part(
        xlsx(valid_rows(3)), "xl/media/image1.png", b"".join(parts), unpacked, crc
    )


def _with_deflated_part(data: bytes, name: str, deflated: bytes, size: int, crc: int) -> bytes:
    """``data`` (a zip) with one more part, whose deflated bytes are written as they are."""
    end_at = data.rindex(b"PK\x05\x06")
    entries, directory_size, directory_at = struct.unpack("<HII", data[end_at + 10 : end_at + 20])
    body, directory = data[:directory_at], data[directory_at : directory_at + directory_size]
    encoded = name.encode()
    sizes = struct.pack("<III", crc, len(deflated), size)
    local = struct.pack("<4sHHHI", b"PK\x03\x04", 20, 0, 8, 0) + sizes
    local += struct.pack("<HH", len(encoded), 0) + encoded
    entry = struct.pack("<4sHHHHI", b"PK\x01\x02", 20, 20, 0, 8, 0) + sizes
    entry += struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, len(body)) + encoded
    directory += entry
    directory_at = len(body) + len(local) + len(deflated)
    end = struct.pack(
        "<4sHHHHIIH",
        b"PK\x05\x06",
        0,
        0,
        entries + 1,
        entries + 1,
        len(directory),
        directory_at,
        0,
    )
    return body + local + deflated + directory + end


def far_row(number: int = 1_048_576) -> bytes:
    """A header and one cell in the sheet's last row: a million blank rows between."""
    return workbook(
        [
            xlsx_row(1, COLUMNS),
            f'<row r="{number}"><c r="A{number}" t="inlineStr"><is><t>x</t></is></c></row>',
        ]
    )


def xlsx_row(number: int, cells: Sequence[str]) -> str:
    """A ``<row>`` of inline strings."""
    return (
        f'<row r="{number}">'
        + "".join(
            f'<c r="{column_name(column)}{number}" t="inlineStr">'
            f"<is><t>{escape(text)}</t></is></c>"
            for column, text in enumerate(cells)
            if text
        )
        + "</row>"
    )


def all_files() -> dict[str, Callable[[], bytes]]:
    """Every file the measurement reads, by name."""
    return {
        "largest CSV (100,000 people)": largest_csv,
        "largest XLSX (100,000 people)": largest_xlsx,
        "huge shared strings (3,000,000)": huge_shared_strings,
        "1,000,000 styled empty rows": styled_empty_rows,
        "zip bomb part (1 GiB of zeros)": zip_bomb,
        "one cell in row 1,048,576": far_row,
        "100,001 people (CSV)": lambda: csv_file(valid_rows(MAX_ROWS + 1)),
    }


async def measure() -> list[dict[str, object]]:
    """Read every file in a worker; the outcome, seconds and the workers' peak memory."""
    rules = RosterRules.of(load_policy())
    results: list[dict[str, object]] = []
    for name, build in all_files().items():
        data = build()
        workers = RosterWorkers()
        started = time.monotonic()
        try:
            roster = await workers.parse(data, "roster", rules)
            outcome = f"parsed: {len(roster.rows)} people"
        except RosterRejected as rejection:
            first = rejection.problems[0]
            outcome = f"refused: {first.code.value} (row {first.row}, detail {first.detail})"
        seconds = time.monotonic() - started
        workers.close()
        peak = (workers.last_peak_bytes or 0) / 1024 / 1024
        child = workers.last_seconds or 0.0
        results.append(
            {
                "file": name,
                "bytes": len(data),
                "outcome": outcome,
                "seconds": round(seconds, 2),
                "reader_seconds": round(child, 2),
                "reader_peak_rss_mib": round(peak, 1),
            }
        )
        print(
            f"{name:36} {len(data) / 1e6:6.2f} MB {seconds:5.2f} s (reader {child:4.2f} s)"
            f" {peak:6.1f} MiB  {outcome}"
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print; with ``--json FILE`` also write the figures there."""
    parser = argparse.ArgumentParser(
        prog="bench/roster_files.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = asyncio.run(measure())
    met = all(
        float(str(row["seconds"])) <= GOAL_SECONDS
        and float(str(row["reader_peak_rss_mib"])) <= GOAL_MIB
        for row in results
    )
    print(f"every file parsed or refused within {GOAL_SECONDS:g} s and {GOAL_MIB} MiB: {met}")
    print("(seconds from handing the file over to the answer; memory: the reader's peak RSS)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
