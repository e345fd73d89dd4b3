"""Reading and checking a roster file: every way a file can be wrong, said cell by cell."""

from __future__ import annotations

import codecs
import functools
import io
import zipfile
from collections.abc import Sequence
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.roster import (
    COLUMNS,
    MAX_ROWS,
    ParsedRoster,
    ProblemCode,
    RosterProblem,
    RosterRejected,
    parse_roster,
)
from assessment.roster_cells import MAX_LENGTHS
from assessment.roster_read import cell_text
from assessment.roster_rows import role_names, supervisor_loops
from config.policy import Policy, load_policy
from storage.enums import Role, StaffStatus
from storage.models import Staff

HEADER = ",".join(COLUMNS)
CLERK = "Permits,Clerk,service,1.15"


@functools.cache
def _default_policy() -> Policy:
    return load_policy()


@pytest.fixture
def policy() -> Policy:
    return _default_policy()


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


def _problems(data: bytes, policy: Policy) -> list[tuple[int | None, str | None, ProblemCode]]:
    with pytest.raises(RosterRejected) as caught:
        parse_roster(data, "roster.csv", policy)
    return [(p.row, p.column, p.code) for p in caught.value.problems]


def _only(data: bytes, policy: Policy) -> RosterProblem:
    with pytest.raises(RosterRejected) as caught:
        parse_roster(data, "roster.csv", policy)
    (problem,) = caught.value.problems
    return problem


def _xlsx(rows: Sequence[Sequence[object]], *, extra_sheet_first: bool = False) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    if extra_sheet_first:
        other = workbook.create_sheet("Notes")
        other.append(["not", "the", "roster"])
        workbook.move_sheet(other, offset=-1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_good_file_becomes_typed_rows(policy: Policy) -> None:
    roster = parse_roster(
        _csv(
            f"E1,Li Wei,{CLERK},E2,,,",
            "E2,Wang Fang,Permits,Head,management,1.3,,staff;HR,zh_Hans,second_line",
        ),
        "roster.csv",
        policy,
    )
    assert roster.filename == "roster.csv"
    first, second = roster.rows
    assert first.row == 2
    assert first.employee_no == "E1"
    assert first.difficulty == Decimal("1.15")
    assert isinstance(first.difficulty, Decimal)
    assert first.supervisor_no == "E2"
    assert first.roles == Role.STAFF
    assert first.language is None
    assert first.status is StaffStatus.ACTIVE
    assert second.roles == Role.STAFF | Role.HR
    assert second.language == "zh_Hans"
    assert second.status is StaffStatus.SECOND_LINE


def test_byte_order_mark_blank_rows_and_spaces_are_ignored(policy: Policy) -> None:
    data = codecs.BOM_UTF8 + _csv("", f"  E1 , Li Wei ,{CLERK},,,,", ",,,,,,,,,", "   ")
    (row,) = parse_roster(data, "r.csv", policy).rows
    assert (row.row, row.employee_no, row.name) == (3, "E1", "Li Wei")


def test_columns_in_any_order_and_any_case(policy: Policy) -> None:
    header = " Status ,ROLES,Language,Supervisor No,difficulty,post_type,post,department,"
    header += "name,Employee_No"
    (row,) = parse_roster(
        _csv("left,admin,ZH-hant,,1.2,Service,Clerk,Permits,Li,E1", header=header), "r", policy
    ).rows
    assert (row.employee_no, row.status, row.roles) == ("E1", StaffStatus.LEFT, Role.ADMIN)
    assert (row.language, row.post_type, row.difficulty) == ("zh_Hant", "service", Decimal("1.2"))


def test_semicolon_separated_csv_is_read(policy: Policy) -> None:
    data = _csv("E1;Li;Permits;Clerk;service;1.15;;staff;;", header=HEADER.replace(",", ";"))
    assert parse_roster(data, "r.csv", policy).rows[0].roles == Role.STAFF


def test_full_width_role_separators(policy: Policy) -> None:
    (row,) = parse_roster(_csv(f"E1,Li,{CLERK},,Staff；Supervisor，hr,,"), "r", policy).rows
    assert row.roles == Role.STAFF | Role.SUPERVISOR | Role.HR


def test_wrong_header_names_each_missing_unknown_and_duplicate_column(policy: Policy) -> None:
    header = "employee_no,name,name,department,post,post_type,difficulty,boss,roles,language"
    with pytest.raises(RosterRejected) as caught:
        parse_roster(_csv("E1", header=header), "r.csv", policy)
    found = {(p.row, p.column, p.code, p.value, p.detail) for p in caught.value.problems}
    assert found == {
        (1, "name", ProblemCode.WRONG_HEADER, "name", "duplicate"),
        (1, None, ProblemCode.WRONG_HEADER, "boss", "unknown"),
        (1, "supervisor_no", ProblemCode.WRONG_HEADER, None, "missing"),
        (1, "status", ProblemCode.WRONG_HEADER, None, "missing"),
    }


def test_gbk_bytes_are_the_wrong_encoding(policy: Policy) -> None:
    data = (HEADER + f"\nE1,Li,{CLERK},,,,\nE2,李伟,{CLERK},,,,\n").encode("gbk")
    assert _problems(data, policy) == [(3, None, ProblemCode.WRONG_ENCODING)]


def test_utf16_is_the_wrong_encoding(policy: Policy) -> None:
    problem = _only(_csv(f"E1,Li,{CLERK},,,,").decode().encode("utf-16"), policy)
    assert (problem.code, problem.detail) == (ProblemCode.WRONG_ENCODING, "UTF-16")


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\n", codecs.BOM_UTF8, HEADER.encode(), _csv(",,,,", header=HEADER)],
    ids=["empty", "blank lines", "only a BOM", "header only", "header and blank row"],
)
def test_a_file_with_no_one_in_it_is_empty(data: bytes, policy: Policy) -> None:
    assert _only(data, policy).code is ProblemCode.EMPTY_FILE


def test_an_empty_workbook_is_empty(policy: Policy) -> None:
    assert _only(_xlsx([]), policy).code is ProblemCode.EMPTY_FILE


def test_more_than_the_row_limit_is_refused_without_checking_rows(policy: Policy) -> None:
    data = HEADER.encode() + b"\n" + b"E1,,,,,,,,,\n" * (MAX_ROWS + 1)
    problem = _only(data, policy)
    assert (problem.code, problem.detail) == (ProblemCode.TOO_MANY_ROWS, str(MAX_ROWS))


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", None),
        (_plain_zip(), None),
        (_xlsx([COLUMNS])[:300], None),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, None),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "xls"),
    ],
    ids=["png", "zip", "truncated xlsx", "pdf", "old xls"],
)
def test_neither_csv_nor_xlsx(data: bytes, detail: str | None, policy: Policy) -> None:
    problem = _only(data, policy)
    assert (problem.code, problem.detail) == (ProblemCode.NOT_CSV_OR_XLSX, detail)


def test_every_problem_in_every_row_is_listed_in_row_order(policy: Policy) -> None:
    data = _csv(
        "E1,,Permits,Clerk,service,1.15,,boss,,",
        "E2,Li,Permits,Clerk,servce,abc,E2,,fr,gone",
        f"E1,Wang,{CLERK},,,,",
    )
    assert _problems(data, policy) == [
        (2, "name", ProblemCode.MISSING_VALUE),
        (2, "roles", ProblemCode.UNKNOWN_ROLE),
        (3, "post_type", ProblemCode.UNKNOWN_POST_TYPE),
        (3, "difficulty", ProblemCode.BAD_COEFFICIENT),
        (3, "supervisor_no", ProblemCode.SELF_SUPERVISOR),
        (3, "language", ProblemCode.UNKNOWN_LANGUAGE),
        (3, "status", ProblemCode.UNKNOWN_STATUS),
        (4, "employee_no", ProblemCode.DUPLICATE_EMPLOYEE_NO),
    ]


@pytest.mark.parametrize(
    "column", ["employee_no", "name", "department", "post", "post_type", "difficulty"]
)
def test_required_values(column: str, policy: Policy) -> None:
    cells = dict(zip(COLUMNS, ["E1", "Li", "Permits", "Clerk", "service", "1.15"], strict=False))
    cells[column] = "  "
    row = ",".join(cells.get(name, "") for name in COLUMNS)
    problem = _only(_csv(row), policy)
    assert (problem.row, problem.column, problem.code) == (2, column, ProblemCode.MISSING_VALUE)


def test_unknown_role_names_the_role(policy: Policy) -> None:
    problem = _only(_csv(f"E1,Li,{CLERK},,staff;boss,,"), policy)
    assert (problem.row, problem.column, problem.code, problem.value) == (
        2,
        "roles",
        ProblemCode.UNKNOWN_ROLE,
        "boss",
    )


def test_duplicate_employee_number_names_both_rows(policy: Policy) -> None:
    data = _csv(f"E1,Li,{CLERK},,,,", f"E2,Wang,{CLERK},,,,", f"E1,Zhang,{CLERK},,,,")
    problem = _only(data, policy)
    assert (problem.row, problem.column, problem.code) == (
        4,
        "employee_no",
        ProblemCode.DUPLICATE_EMPLOYEE_NO,
    )
    assert (problem.value, problem.detail) == ("E1", "2")


@pytest.mark.parametrize(
    "difficulty", ["abc", "NaN", "Infinity", "0.1", "2.5", "0", "-1", "1.1234", "1,15"]
)
def test_bad_coefficient(difficulty: str, policy: Policy) -> None:
    problem = _only(_csv(f'E1,Li,Permits,Clerk,service,"{difficulty}",,,,'), policy)
    assert (problem.row, problem.column, problem.code) == (
        2,
        "difficulty",
        ProblemCode.BAD_COEFFICIENT,
    )
    assert (problem.value, problem.detail) == (difficulty, "0.5–2.0")


@pytest.mark.parametrize(
    ("written", "read"), [("0.5", "0.5"), ("2", "2"), ("1.1500", "1.150"), ("１.２", "1.2")]
)
def test_good_coefficients(written: str, read: str, policy: Policy) -> None:
    (row,) = parse_roster(_csv(f"E1,Li,Permits,Clerk,service,{written},,,,"), "r", policy).rows
    assert str(row.difficulty) == read


def test_unknown_post_type_lists_the_policys_types(policy: Policy) -> None:
    problem = _only(_csv("E1,Li,Permits,Clerk,clerical,1.0,,,,"), policy)
    assert (problem.row, problem.column, problem.code) == (
        2,
        "post_type",
        ProblemCode.UNKNOWN_POST_TYPE,
    )
    assert problem.detail == ", ".join(policy.post_types)


def test_one_post_cannot_have_two_types_or_difficulties(policy: Policy) -> None:
    data = _csv(
        f"E1,Li,{CLERK},,,,",
        "E2,Wang,Permits,Clerk,management,1.15,,,,",
        "E3,Zhang,Permits,Clerk,service,1.2,,,,",
        "E4,Zhao,Licences,Clerk,management,1.2,,,,",
    )
    assert _problems(data, policy) == [
        (3, "post_type", ProblemCode.CONFLICTING_POST),
        (4, "difficulty", ProblemCode.CONFLICTING_POST),
    ]


def test_a_supervisor_loop_names_every_row_in_it(policy: Policy) -> None:
    data = _csv(
        f"E0,Boss,{CLERK},,,,",
        f"E1,Li,{CLERK},E2,,,",
        f"E2,Wang,{CLERK},E3,,,",
        f"E3,Zhang,{CLERK},E1,,,",
        f"E4,Zhao,{CLERK},E1,,,",
    )
    with pytest.raises(RosterRejected) as caught:
        parse_roster(data, "r.csv", policy)
    problems = caught.value.problems
    assert [(p.row, p.column, p.code) for p in problems] == [
        (3, "supervisor_no", ProblemCode.SUPERVISOR_CYCLE),
        (4, "supervisor_no", ProblemCode.SUPERVISOR_CYCLE),
        (5, "supervisor_no", ProblemCode.SUPERVISOR_CYCLE),
    ]
    assert {p.detail for p in problems} == {"E1 → E2 → E3 → E1"}


def test_self_supervisor(policy: Policy) -> None:
    problem = _only(_csv(f"E1,Li,{CLERK},E1,,,"), policy)
    assert (problem.row, problem.column, problem.code, problem.value) == (
        2,
        "supervisor_no",
        ProblemCode.SELF_SUPERVISOR,
        "E1",
    )


def test_a_supervisor_outside_the_file_is_left_to_the_import(policy: Policy) -> None:
    (row,) = parse_roster(_csv(f"E1,Li,{CLERK},E99,,,"), "r", policy).rows
    assert row.supervisor_no == "E99"


def test_values_too_long(policy: Policy) -> None:
    data = _csv(
        f"{'E' * 41},Li,{CLERK},,,,",
        f"E2,{'名' * 201},{CLERK},,,,",
        f"E3,Li,{'D' * 201},Clerk,service,1.15,,,,",
        f"E4,Li,Permits,{'P' * 201},service,1.15,,,,",
        f"E5,{'名' * 200},{CLERK},,,,",
    )
    with pytest.raises(RosterRejected) as caught:
        parse_roster(data, "r.csv", policy)
    assert [(p.row, p.column, p.code, p.detail) for p in caught.value.problems] == [
        (2, "employee_no", ProblemCode.VALUE_TOO_LONG, "40"),
        (3, "name", ProblemCode.VALUE_TOO_LONG, "200"),
        (4, "department", ProblemCode.VALUE_TOO_LONG, "200"),
        (5, "post", ProblemCode.VALUE_TOO_LONG, "200"),
    ]


def test_length_limits_match_the_store() -> None:
    columns = Staff.__table__.c
    assert MAX_LENGTHS["employee_no"] == columns.employee_no.type.length
    assert MAX_LENGTHS["name"] == columns.name.type.length
    assert MAX_LENGTHS["supervisor_no"] == columns.employee_no.type.length


def test_xlsx_numbers_read_as_a_person_sees_them(policy: Policy) -> None:
    data = _xlsx(
        [
            COLUMNS,
            (1001, "李伟", "Permits", "Clerk", "service", 1.15, 1002, None, None, None),
            (),
            (1002.0, "Wang", "Permits", "Head", "management", 1.3, None, "staff;hr", "en", None),
        ]
    )
    first, second = parse_roster(data, "roster.xlsx", policy).rows
    assert (first.row, first.employee_no, first.supervisor_no) == (2, "1001", "1002")
    assert first.difficulty == Decimal("1.15")
    assert (second.row, second.employee_no, second.difficulty) == (4, "1002", Decimal("1.3"))


def test_xlsx_problems_point_at_sheet_rows(policy: Policy) -> None:
    data = _xlsx([(), COLUMNS, (1001, "Li", "Permits", "Clerk", "service", 7, None, None)])
    problem = _only(data, policy)
    assert (problem.row, problem.column, problem.code, problem.value) == (
        3,
        "difficulty",
        ProblemCode.BAD_COEFFICIENT,
        "7",
    )


def test_only_the_first_sheet_is_read(policy: Policy) -> None:
    data = _xlsx([COLUMNS, ("E1", "Li", "Permits", "Clerk", "service", "1.15")])
    assert parse_roster(data, "r.xlsx", policy).rows[0].employee_no == "E1"
    other_first = _xlsx([COLUMNS], extra_sheet_first=True)
    assert {code for _, _, code in _problems(other_first, policy)} == {ProblemCode.WRONG_HEADER}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1001, "1001"),
        (1001.0, "1001"),
        (1.15, "1.15"),
        (0.1 + 0.2, "0.3"),
        (1.1500000000000001, "1.15"),
        (None, ""),
        ("  E1 ", "E1"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_supervisor_loops() -> None:
    chain = {"a": "b", "b": "c", "c": "a", "d": "a", "e": None, "f": "x", "g": "g"}
    assert sorted(supervisor_loops(chain)) == [("a", "b", "c"), ("g",)]


def test_role_names() -> None:
    assert role_names(Role.STAFF | Role.HR) == ["staff", "hr"]
    assert role_names(Role.NONE) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_read_or_rejected(data: bytes) -> None:
    _parse_or_reject(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_arbitrary_zip_like_bytes_are_read_or_rejected(data: bytes) -> None:
    _parse_or_reject(b"PK\x03\x04" + data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=12), st.text(max_size=200))
def test_arbitrary_text_under_a_header_is_read_or_rejected(cells: list[str], rest: str) -> None:
    _parse_or_reject(_csv(",".join(cells), rest))


def _parse_or_reject(data: bytes) -> None:
    try:
        result = parse_roster(data, "fuzz", _default_policy())
    except RosterRejected as rejection:
        problems = rejection.problems
    else:
        assert isinstance(result, ParsedRoster)
        return
    assert problems
    assert all(isinstance(problem.code, ProblemCode) for problem in problems)
