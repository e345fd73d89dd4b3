"""Reading a roster file into numbered rows of text: CSV in UTF-8, or an XLSX's first sheet.

Only the file's shape is judged here (format, encoding, size); what the cells
mean is judged in ``assessment.roster``.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time

import openpyxl

from assessment.roster_problems import ProblemCode, RosterRejected, rejected

MAX_ROWS = 100_000

Row = tuple[int, tuple[str, ...]]

_ZIP_SIGNATURE = b"PK\x03\x04"
_XLS_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SNIFF_BYTES = 8192
# C0 controls other than tab, line feed, vertical tab, form feed, carriage return and
# escape: text in any encoding a roster could come in (UTF-8, GBK, Big5) has none.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_DELIMITERS = (",", ";", "\t")
# A float carries about 15 significant decimal digits; more is binary noise (1.15 is
# stored as 1.149999...), so a spreadsheet's 1.15 reads back as "1.15".
_FLOAT_DIGITS = ".15g"
_EXACT_FLOAT_INTEGERS = 2**53


def read_rows(data: bytes) -> list[Row]:
    """The header and data rows of a roster file, blank rows left out, each with its number.

    Raises:
        RosterRejected: the file is not CSV or XLSX, not UTF-8, empty, or too long.
    """
    if data.startswith(_ZIP_SIGNATURE):
        rows = _collect(_xlsx_values(data))
    else:
        rows = _collect(_csv_values(data))
    if not rows:
        raise rejected(ProblemCode.EMPTY_FILE)
    return rows


def _collect(values: Iterable[tuple[object, ...]]) -> list[Row]:
    # Stops at the first row past the limit, so a huge file is never read in full.
    rows: list[Row] = []
    for number, raw in enumerate(values, start=1):
        cells = _trimmed(tuple(cell_text(value) for value in raw))
        if not cells:
            continue
        if len(rows) > MAX_ROWS:
            raise rejected(ProblemCode.TOO_MANY_ROWS, detail=str(MAX_ROWS))
        rows.append((number, cells))
    return rows


def _trimmed(cells: tuple[str, ...]) -> tuple[str, ...]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


def cell_text(value: object) -> str:
    """A cell as trimmed text; whole-number floats lose their ``.0`` (1001.0 -> ``1001``)."""
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_FLOAT_INTEGERS:
            return str(int(value))
        return format(value, _FLOAT_DIGITS)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _xlsx_values(data: bytes) -> Iterator[tuple[object, ...]]:
    # openpyxl fails on a damaged or foreign archive with almost any exception type
    # (KeyError, BadZipFile, XML errors...), when opening or later while reading rows.
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX) from error
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        # The stored dimensions are often wrong in files other programs wrote.
        sheet.reset_dimensions()
        yield from sheet.iter_rows(values_only=True)
    except RosterRejected:
        raise
    except Exception as error:
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX) from error
    finally:
        workbook.close()


def _csv_values(data: bytes) -> Iterator[tuple[object, ...]]:
    if data.startswith(_UTF16_BOMS):
        raise rejected(ProblemCode.WRONG_ENCODING, detail="UTF-16")
    head = data[:_SNIFF_BYTES]
    if data.startswith(_XLS_SIGNATURE):
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX, detail="xls")
    if b"\x00" in head or len(_CONTROL_BYTES.findall(head)) * 100 > len(head):
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX)
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    lines = _decoded_lines(data, start)
    records = 0
    try:
        first = next(lines, None)
        if first is None:
            return
        # Excel writes ";" or tabs instead of commas in some regional settings.
        delimiter = max(_DELIMITERS, key=first.count)
        for record in csv.reader(itertools.chain([first], lines), delimiter=delimiter):
            records += 1
            yield tuple(record)
    except UnicodeDecodeError as error:
        raise rejected(ProblemCode.WRONG_ENCODING, row=records + 1) from error
    except csv.Error as error:
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX, row=records + 1) from error


def _decoded_lines(data: bytes, start: int) -> Iterator[str]:
    # Line by line, so decoding stops with reading; exact for UTF-8, whose multi-byte
    # sequences never contain a CR or LF byte.
    for match in _LINE.finditer(data, start):
        yield match.group().decode("utf-8")
