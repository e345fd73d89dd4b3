"""A roster file is read within limits, checked before anything is unpacked, and no cell
anywhere may hold a control character. Small limits here; the real ones, with the
real hostile files, in ``tests/service/test_roster_worker.py``."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import openpyxl
import pytest

from assessment.roster import (
    COLUMNS,
    LIMITS,
    Limits,
    ProblemCode,
    RosterProblem,
    RosterRejected,
    parse_roster,
)
from bench.roster_files import (
    csv_file,
    far_row,
    huge_shared_strings,
    person,
    styled_empty_rows,
    valid_rows,
    workbook,
    xlsx,
    xlsx_row,
    zip_bomb,
)
from config.policy import Policy, load_policy

SMALL = Limits(rows=50, columns=20, unpacked_bytes=1024 * 1024, shared_strings=200)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _refused(data: bytes, policy: Policy, limits: Limits = LIMITS) -> tuple[RosterProblem, ...]:
    with pytest.raises(RosterRejected) as caught:
        parse_roster(data, "roster", policy, limits=limits)
    return caught.value.problems


def _only(data: bytes, policy: Policy, limits: Limits = LIMITS) -> RosterProblem:
    (problem,) = _refused(data, policy, limits)
    return problem


def test_the_limits_read_the_largest_roster_they_allow(policy: Policy) -> None:
    rows = valid_rows(SMALL.rows)
    for data in (csv_file(rows), xlsx(rows)):
        assert len(parse_roster(data, "roster", policy, limits=SMALL).rows) == SMALL.rows


def test_blank_rows_count_towards_the_row_limit(policy: Policy) -> None:
    # 40 people and 20 blank rows: 60 rows scanned, over the 50 allowed.
    rows = [COLUMNS, *([""] * 10 for _ in range(20)), *(person(n) for n in range(40))]
    for data in (csv_file(rows), xlsx(rows)):
        problem = _only(data, policy, SMALL)
        assert (problem.code, problem.detail) == (ProblemCode.TOO_MANY_ROWS, "50")


def test_styled_empty_rows_are_refused_as_rows(policy: Policy) -> None:
    problem = _only(styled_empty_rows(1000), policy, SMALL)
    assert (problem.code, problem.detail) == (ProblemCode.TOO_MANY_ROWS, "50")


def test_one_cell_far_down_the_sheet_is_refused_at_once(policy: Policy) -> None:
    problem = _only(far_row(), policy)
    assert (problem.code, problem.detail) == (ProblemCode.TOO_MANY_ROWS, "100000")


def test_the_shared_strings_are_counted_not_taken_from_the_file(policy: Policy) -> None:
    # The table says it holds one string; it holds 201.
    data = huge_shared_strings(SMALL.shared_strings + 1)
    assert b'count="1"' in zipfile.ZipFile(io.BytesIO(data)).read("xl/sharedStrings.xml")
    problem = _only(data, policy, SMALL)
    assert (problem.code, problem.detail) == (ProblemCode.TOO_MANY_TEXTS, "200")
    assert _only(huge_shared_strings(SMALL.shared_strings), policy, SMALL).code is (
        ProblemCode.EMPTY_FILE
    )


def test_a_part_that_unpacks_too_far_is_refused_before_unpacking(policy: Policy) -> None:
    data = zip_bomb(2 * 1024 * 1024)
    problem = _only(data, policy, SMALL)
    assert (problem.code, problem.detail) == (ProblemCode.UNPACKED_TOO_LARGE, "1")


def test_a_part_bigger_than_it_says_is_not_a_workbook(policy: Policy) -> None:
    # The directory says the sheet unpacks to 100 bytes; zipfile stops it there.
    data = bytearray(xlsx(valid_rows(3)))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    assert info.file_size > 100
    declared = info.file_size.to_bytes(4, "little")
    at = data.index(b"xl/worksheets/sheet1.xml", data.index(b"PK\x01\x02"))
    sizes = data.rindex(declared, 0, at)
    data[sizes : sizes + 4] = (100).to_bytes(4, "little")
    assert _only(bytes(data), policy).code is ProblemCode.NOT_CSV_OR_XLSX


def test_too_many_columns(policy: Policy) -> None:
    wide = [*COLUMNS, *(f"extra{n}" for n in range(20))]
    problem = _only(csv_file([wide]), policy, SMALL)
    assert (problem.row, problem.code, problem.detail) == (1, ProblemCode.TOO_MANY_COLUMNS, "20")


def test_the_time_budget(policy: Policy) -> None:
    rows = valid_rows(3000)
    for data in (csv_file(rows), xlsx(rows)):
        problem = _only(data, policy, dataclasses.replace(LIMITS, seconds=0))
        assert (problem.code, problem.detail) == (ProblemCode.TOO_SLOW, "0")


def test_a_document_type_declaration_is_not_a_workbook(policy: Policy) -> None:
    # The "billion laughs": entities that expand to gigabytes. No workbook has a DTD.
    entities = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    source = zipfile.ZipFile(io.BytesIO(xlsx(valid_rows(2))))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in source.namelist():
            part = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                part = entities + part.replace(b"Person 1", b"&b;")
            archive.writestr(name, part)
    assert _only(buffer.getvalue(), policy).code is ProblemCode.NOT_CSV_OR_XLSX


# -- control characters ------------------------------------------------------------------


def test_a_control_character_past_the_first_8_kb_of_a_csv_is_refused(policy: Policy) -> None:
    rows = valid_rows(400)
    rows[300] = (*rows[300][:1], "Li\x00Wei", *rows[300][2:])
    data = csv_file(rows)
    assert data.index(b"\x00") > 8192
    problem = _only(data, policy)
    assert (problem.row, problem.column, problem.code) == (
        301,
        "name",
        ProblemCode.CONTROL_CHARACTER,
    )
    assert (problem.value, problem.detail) == ("Li\\x00Wei", "U+0000")


@pytest.mark.parametrize("character", ["\x01", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85"])
def test_every_control_character_is_refused_even_where_it_would_be_trimmed(
    character: str, policy: Policy
) -> None:
    rows = valid_rows(2)
    rows[2] = (*rows[2][:2], f"Permits{character}", *rows[2][3:])
    problem = _only(csv_file(rows), policy)
    assert (problem.row, problem.column, problem.code) == (
        3,
        "department",
        ProblemCode.CONTROL_CHARACTER,
    )
    assert problem.detail == f"U+{ord(character):04X}"


def test_every_control_character_is_listed_with_its_row_and_column(policy: Policy) -> None:
    rows = valid_rows(3)
    rows[1] = ("E\x02000", *rows[1][1:])
    rows[3] = (*rows[3][:3], "Clerk\x00", *rows[3][4:9], "active\x1f")
    problems = _refused(csv_file(rows), policy)
    assert [(p.row, p.column) for p in problems] == [
        (2, "employee_no"),
        (4, "post"),
        (4, "status"),
    ]


def test_control_characters_in_a_workbook_are_refused(policy: Policy) -> None:
    # XML cannot hold most controls: spreadsheets write them as _xHHHH_.
    shared = workbook(
        [
            xlsx_row(1, COLUMNS),
            '<row r="2"><c r="A2" t="inlineStr"><is><t>E1</t></is></c>'
            '<c r="B2" t="s"><v>0</v></c></row>',
        ],
        strings=["Li_x0000_Wei"],
    )
    problem = _only(shared, policy)
    assert (problem.row, problem.column, problem.value) == (2, "name", "Li\\x00Wei")
    inline = workbook([xlsx_row(1, COLUMNS), xlsx_row(2, ["E1", "Li", "Permits\x85"])])
    problem = _only(inline, policy)
    assert (problem.row, problem.column, problem.detail) == (2, "department", "U+0085")


def test_a_control_character_before_the_header_is_named_by_its_letter(policy: Policy) -> None:
    # With enough text around it: a file whose start is full of controls is binary.
    problem = _only(csv_file([("", "x\x00"), *valid_rows(20)]), policy)
    assert (problem.row, problem.column, problem.code) == (1, "B", ProblemCode.CONTROL_CHARACTER)


def test_tabs_and_line_breaks_inside_a_cell_are_kept(policy: Policy) -> None:
    rows = valid_rows(1)
    rows[1] = (*rows[1][:1], "Li\tWei", "Permits\nOffice", *rows[1][3:])
    (row,) = parse_roster(csv_file(rows), "roster.csv", policy).rows
    assert (row.name, row.department) == ("Li\tWei", "Permits\nOffice")


def test_escapes_a_spreadsheet_writes_are_read(policy: Policy) -> None:
    # _x005F_ is the underscore itself; openpyxl writes the workbook here.
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append(["E1", "Li_x005F_Wei", "Permits", "Clerk", "service", 1.15])
    buffer = io.BytesIO()
    book.save(buffer)
    (row,) = parse_roster(buffer.getvalue(), "roster.xlsx", policy).rows
    assert row.name == "Li_Wei"
