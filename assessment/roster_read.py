"""Reading a roster file into numbered rows of text: CSV in UTF-8, or an XLSX's first sheet.

Only the file's shape is judged here (format, encoding, size, control characters);
what the cells mean is judged in ``assessment.roster``.

Every file is read within ``LIMITS``, and an XLSX's are checked before anything is
unpacked: the sizes its zip directory declares (``zipfile`` stops a part at its
declared size, so a part cannot unpack to more than it claims), the count of shared
strings (counted while streaming, never trusting the ``count`` attribute), the rows
scanned, blank ones included, and a time budget. The sheet is streamed row by row;
openpyxl is not used here because its reader holds every shared string and takes
about ten seconds for 100,000 rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import posixpath
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as time_of_day
from typing import IO
from xml.parsers import expat
from xml.parsers.expat import XMLParserType

from assessment.roster_problems import ProblemCode, RosterProblem, RosterRejected, rejected

MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a roster file is read before it is refused as not a roster."""

    # Data rows, blank rows included (the header is on top of these).
    rows: int = MAX_ROWS
    columns: int = 64
    # The XLSX parts, unpacked, together; a 100,000-row roster takes about 55 MiB.
    unpacked_bytes: int = 128 * 1024 * 1024
    # Distinct texts in an XLSX (each name, number and department is one).
    shared_strings: int = 1_000_000
    zip_entries: int = 10_000
    # Reading and checking together, in CPU seconds of the reader.
    seconds: float = 4.5


LIMITS = Limits()

Row = tuple[int, tuple[str, ...]]
# A row as read, before trimming: its number in the file and its cells' text.
RawRow = tuple[int, tuple[str, ...]]
# Start, end and character handlers; no character handler if the start handler sets it.
Handlers = tuple[
    Callable[[str, dict[str, str]], None], Callable[[str], None], Callable[[str], None] | None
]

_ZIP_SIGNATURE = b"PK\x03\x04"
_XLS_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SNIFF_BYTES = 8192
# C0 controls other than tab, line feed, vertical tab, form feed, carriage return and
# escape: text in any encoding a roster could come in (UTF-8, GBK, Big5) has none. A
# file whose start is full of them is binary, not a roster with a stray character.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
# What no cell may hold: the C0 and C1 controls and DEL. Tab, line feed and carriage
# return stay (a cell may be written on several lines); the rest are invisible, break
# the XLSX export and PostgreSQL (NUL), and were never meant.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_DELIMITERS = (",", ";", "\t")
# A float carries about 15 significant decimal digits; more is binary noise (1.15 is
# stored as 1.149999...), so a spreadsheet's 1.15 reads back as "1.15".
_FLOAT_DIGITS = ".15g"
_EXACT_FLOAT_INTEGERS = 2**53
# How often (in rows or strings) the time budget is looked at.
_CHECK_EVERY = 1024
_MIB = 1024 * 1024


class Budget:
    """The time a file may take to read and check; ``check`` refuses it once spent.

    Counted in CPU seconds of the reading process, so what a file may cost does not
    depend on how busy the machine is; the bot's worker is also killed on the wall
    clock (``assessment.roster_worker``).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.process_time() + seconds

    def check(self) -> None:
        """Refuse the file if its time is up.

        Raises:
            RosterRejected: ``too_slow``.
        """
        if time.process_time() > self.deadline:
            raise rejected(ProblemCode.TOO_SLOW, detail=f"{self.seconds:g}")


def read_rows(data: bytes, *, limits: Limits = LIMITS, budget: Budget | None = None) -> list[Row]:
    """The header and data rows of a roster file, blank rows left out, each with its number.

    Raises:
        RosterRejected: the file is not CSV or XLSX, not UTF-8, empty, beyond ``limits``,
            or has control characters in cells (each one listed).
    """
    budget = budget or Budget(limits.seconds)
    if data.startswith(_ZIP_SIGNATURE):
        rows = _collect(_xlsx_values(data, limits, budget), limits, budget)
    else:
        rows = _collect(_csv_values(data), limits, budget)
    if not rows:
        raise rejected(ProblemCode.EMPTY_FILE)
    return rows


def _collect(values: Iterable[RawRow], limits: Limits, budget: Budget) -> list[Row]:
    # Stops at the first row past the limit, so a huge file is never read in full.
    rows: list[Row] = []
    controls: list[RosterProblem] = []
    last_row = limits.rows + 1
    for scanned, (number, raw) in enumerate(values, start=1):
        if number > last_row:
            raise rejected(ProblemCode.TOO_MANY_ROWS, detail=str(limits.rows))
        if not scanned % _CHECK_EVERY:
            budget.check()
        if CONTROL_CHARACTERS.search("".join(raw)):
            controls.extend(_controls(number, raw, rows[0][1] if rows else ()))
        cells = tuple(map(str.strip, raw))
        if cells and not cells[-1]:
            cells = _trimmed(cells)
        if not cells:
            continue
        if len(cells) > limits.columns:
            raise rejected(ProblemCode.TOO_MANY_COLUMNS, row=number, detail=str(limits.columns))
        rows.append((number, cells))
    if controls:
        raise RosterRejected(tuple(controls))
    return rows


def _controls(number: int, raw: tuple[str, ...], header: tuple[str, ...]) -> list[RosterProblem]:
    problems = []
    for index, value in enumerate(raw):
        found = CONTROL_CHARACTERS.search(value)
        if found is None:
            continue
        named = header[index] if index < len(header) and header[index] else None
        problems.append(
            RosterProblem(
                number,
                named or column_letter(index),
                ProblemCode.CONTROL_CHARACTER,
                visible(value),
                f"U+{ord(found.group()):04X}",
            )
        )
    return problems


def visible(text: str) -> str:
    """``text`` with its control characters written out (``Li\\x00Wei`` -> ``Li\\\\x00Wei``)."""
    return CONTROL_CHARACTERS.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def column_letter(index: int) -> str:
    """The spreadsheet name of the column at ``index`` (0 -> ``A``, 26 -> ``AA``)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


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
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    return str(value).strip()


# -- CSV ---------------------------------------------------------------------------------


def _csv_values(data: bytes) -> Iterator[RawRow]:
    if data.startswith(_UTF16_BOMS):
        raise rejected(ProblemCode.WRONG_ENCODING, detail="UTF-16")
    head = data[:_SNIFF_BYTES]
    if data.startswith(_XLS_SIGNATURE):
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX, detail="xls")
    if len(_CONTROL_BYTES.findall(head)) * 100 > len(head):
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
            yield records, tuple(record)
    except UnicodeDecodeError as error:
        raise rejected(ProblemCode.WRONG_ENCODING, row=records + 1) from error
    except csv.Error as error:
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX, row=records + 1) from error


def _decoded_lines(data: bytes, start: int) -> Iterator[str]:
    # Line by line, so decoding stops with reading; exact for UTF-8, whose multi-byte
    # sequences never contain a CR or LF byte.
    for match in _LINE.finditer(data, start):
        yield match.group().decode("utf-8")


# -- XLSX --------------------------------------------------------------------------------

_MAIN = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_RELATIONSHIPS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"


_RELATIONSHIP_ID = frozenset(f"{{{namespace}}}id" for namespace in _RELATIONSHIPS)
_RELATIONSHIP = f"{{{_PACKAGE_RELATIONSHIPS}}}Relationship"
_SHEET = frozenset(f"{{{namespace}}}sheet" for namespace in _MAIN)
# OOXML writes characters XML cannot hold (controls) as _xHHHH_; _x005F_ is "_" itself.
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DIGITS = "0123456789"
# Parts read whole (relationships, the workbook) are small in any real file.
_SMALL_PART = 4 * _MIB
_CHUNK = 1 << 16


class _NotXlsxError(Exception):
    """The archive is not a workbook this reader understands."""


def _xlsx_values(data: bytes, limits: Limits, budget: Budget) -> Iterator[RawRow]:
    # A damaged or foreign archive fails in many ways (BadZipFile, XML errors, a bad
    # index...), when opening or later while reading rows; each means "not a workbook".
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX) from error
    with archive:
        _check_sizes(archive, limits)
        try:
            sheet, strings_part = _first_sheet(archive)
            strings = (
                _shared_strings(archive, strings_part, limits, budget) if strings_part else []
            )
            with archive.open(sheet) as stream:
                yield from _sheet_rows(stream, strings, budget)
        except RosterRejected:
            raise
        except (
            _NotXlsxError,
            zipfile.BadZipFile,
            expat.ExpatError,
            KeyError,
            IndexError,
            ValueError,
            OSError,
            EOFError,
            NotImplementedError,
        ) as error:
            raise rejected(ProblemCode.NOT_CSV_OR_XLSX) from error


def _check_sizes(archive: zipfile.ZipFile, limits: Limits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.zip_entries:
        raise rejected(ProblemCode.NOT_CSV_OR_XLSX)
    if sum(info.file_size for info in infos) > limits.unpacked_bytes:
        raise rejected(ProblemCode.UNPACKED_TOO_LARGE, detail=str(limits.unpacked_bytes // _MIB))


def _small(archive: zipfile.ZipFile, name: str) -> list[tuple[str, dict[str, str]]]:
    """A small part's elements in order: each name (``{namespace}local``) and attributes."""
    if archive.getinfo(name).file_size > _SMALL_PART:
        raise _NotXlsxError(name)
    elements: list[tuple[str, dict[str, str]]] = []

    def qualified(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attributes: dict[str, str]) -> None:
        elements.append(
            (qualified(name), {qualified(key): value for key, value in attributes.items()})
        )

    parser = _parser(namespaces=True)
    parser.StartElementHandler = start
    parser.Parse(archive.read(name), True)
    return elements


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """The part's relationships: id -> (type's last word, target part name)."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels not in archive.NameToInfo:
        return {}
    found = {}
    for tag, relationship in _small(archive, rels):
        if tag != _RELATIONSHIP:
            continue
        target = relationship.get("Target", "")
        if relationship.get("TargetMode") == "External":
            continue
        path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
        kind = relationship.get("Type", "").rsplit("/", 1)[-1]
        found[relationship.get("Id", "")] = (kind, posixpath.normpath(path))
    return found


def _first_sheet(archive: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet's part, and the shared strings' part if there is one."""
    package = _relationships(archive, "")
    books = [target for kind, target in package.values() if kind == "officeDocument"]
    book = books[0] if books else "xl/workbook.xml"
    linked = _relationships(archive, book)
    strings = next((target for kind, target in linked.values() if kind == "sharedStrings"), None)
    for tag, attributes in _small(archive, book):
        if tag not in _SHEET:
            continue
        ids = [value for key, value in attributes.items() if key in _RELATIONSHIP_ID]
        if ids and ids[0] in linked and linked[ids[0]][0] == "worksheet":
            return linked[ids[0]][1], strings if strings in archive.NameToInfo else None
    raise _NotXlsxError("no worksheet")


def _unescaped(text: str) -> str:
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda found: chr(int(found.group(1), 16)), text)


def _refuse_doctype(*_arguments: object) -> None:
    # No workbook part has a DTD; refusing them rules out entity expansion attacks.
    raise _NotXlsxError("a document type declaration")


def _parser(*, namespaces: bool = False) -> XMLParserType:
    # The sheet is read without namespace processing: it is faster, and all its names
    # are in one namespace (only their prefix, if any, differs between programs).
    parser = expat.ParserCreate(namespace_separator="}" if namespaces else None)
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    return parser


def _stream(parser: XMLParserType, stream: IO[bytes]) -> Iterator[None]:
    """Feed ``stream`` to ``parser`` a chunk at a time, pausing after each chunk."""
    while chunk := stream.read(_CHUNK):
        parser.Parse(chunk, False)
        yield
    parser.Parse(b"", True)
    yield


def _on_root(parser: XMLParserType, handlers: Callable[[str], Handlers]) -> None:
    """Set ``parser``'s handlers once its root element shows the names' prefix."""

    def root(name: str, _attributes: dict[str, str]) -> None:
        prefix = name[: name.index(":") + 1] if ":" in name else ""
        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = (
            handlers(prefix)
        )

    parser.StartElementHandler = root


def _shared_strings(
    archive: zipfile.ZipFile, part: str, limits: Limits, budget: Budget
) -> list[str]:
    """The workbook's strings, in order: each item's text, or its runs' (no phonetic hints)."""
    strings: list[str] = []
    text: list[str] = []

    def handlers(prefix: str) -> Handlers:
        # As in ``_sheet_rows``: a run's text goes straight to ``text.append``.
        item, run_text, hint = prefix + "si", prefix + "t", prefix + "rPh"
        append = text.append
        phonetic = False

        def start(name: str, _attributes: dict[str, str]) -> None:
            nonlocal phonetic
            if name == run_text:
                if not phonetic:
                    parser.CharacterDataHandler = append
            elif name == hint:
                phonetic = True

        def end(name: str) -> None:
            nonlocal phonetic
            if name == run_text:
                parser.CharacterDataHandler = None
            elif name == item:
                strings.append(_unescaped("".join(text)))
                text.clear()
            elif name == hint:
                phonetic = False

        return start, end, None

    parser = _parser()
    _on_root(parser, handlers)
    with archive.open(part) as stream:
        for _ in _stream(parser, stream):
            # Counted as they are read: the count the file states is not trusted.
            if len(strings) > limits.shared_strings:
                raise rejected(ProblemCode.TOO_MANY_TEXTS, detail=str(limits.shared_strings))
            budget.check()
    return strings


def _number_text(text: str) -> str:
    if "." in text or "e" in text or "E" in text:
        return cell_text(float(text))
    return str(int(text))


def _sheet_rows(stream: IO[bytes], strings: list[str], budget: Budget) -> Iterator[RawRow]:
    """Each row as the sheet numbers it, gaps and styled empty rows included, as text."""
    rows: list[RawRow] = []
    values: dict[int, str] = {}
    text: list[str] = []
    columns: dict[str, int] = {}

    def column_of(reference: str) -> int:
        letters = reference.rstrip(_DIGITS)
        index = columns.get(letters)
        if index is None:
            index = 0
            for letter in letters:
                if not "A" <= letter <= "Z":
                    raise _NotXlsxError(reference)
                index = index * 26 + ord(letter) - ord("A") + 1
            columns[letters] = index = index - 1
        return index

    def value(kind: str, text: str) -> str:
        if kind == "s":
            return strings[int(text)]
        if kind == "n":
            return _number_text(text)
        if kind == "b":
            return str(text.strip() in ("1", "true"))
        # inlineStr, str (a formula's text), e (an error such as #N/A), d (an ISO date).
        return _unescaped(text)

    def handlers(prefix: str) -> Handlers:
        # Closures over locals rather than methods: two million calls for 100,000 rows.
        # A value's text goes straight to ``text.append`` (no Python call per piece):
        # the character handler is set at a ``<v>`` or ``<t>`` to be read and unset at
        # its end (setting it first hands expat's buffered text to the old handler).
        cell, number_tag, text_tag, row_tag, hint = (
            prefix + name for name in ("c", "v", "t", "row", "rPh")
        )
        value_tags = frozenset((number_tag, text_tag))
        append = text.append
        known_column = columns.get
        number = 0
        column = -1
        kind = "n"
        in_cell = phonetic = False

        def start(name: str, attributes: dict[str, str]) -> None:
            nonlocal number, column, kind, in_cell, phonetic
            if name == cell:
                reference = attributes.get("r")
                if reference:
                    index = known_column(reference.rstrip(_DIGITS))
                    column = column_of(reference) if index is None else index
                else:
                    column += 1
                kind = attributes.get("t", "n")
                in_cell = True
            elif name in value_tags:
                if in_cell and not phonetic:
                    parser.CharacterDataHandler = append
            elif name == row_tag:
                reference = attributes.get("r")
                number = max(number + 1, int(reference)) if reference else number + 1
                values.clear()
                column = -1
            elif name == hint:
                phonetic = True

        def end(name: str) -> None:
            nonlocal in_cell, phonetic
            if name in value_tags:
                parser.CharacterDataHandler = None
            elif name == cell:
                if text:
                    joined = "".join(text)
                    values[column] = strings[int(joined)] if kind == "s" else value(kind, joined)
                    text.clear()
                in_cell = False
            elif name == row_tag:
                width = max(values) + 1 if values else 0
                cells = map(values.get, range(width), itertools.repeat("", width))
                rows.append((number, tuple(cells)))
            elif name == hint:
                phonetic = False

        return start, end, None

    parser = _parser()
    _on_root(parser, handlers)
    for _ in _stream(parser, stream):
        # Also here: one row can hold millions of (empty) cells.
        budget.check()
        yield from rows
        rows.clear()
