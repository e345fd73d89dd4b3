"""The roster: HR's list of everyone assessed, read from CSV or XLSX and checked cell by cell.

``parse_roster`` is pure: it reads and checks a file against the policy and either
returns a ``ParsedRoster`` or raises ``RosterRejected`` listing every problem found.
``import_roster`` (in ``assessment.roster_import``, re-exported here) applies it to
the store. Typical use::

    roster = parse_roster(data, "roster.xlsx", policy)
    async with database.uow() as uow:
        summary = await import_roster(uow, roster, actor_staff_id=hr.id, now=clock.now())
"""

from __future__ import annotations

from collections.abc import Mapping

from assessment.roster_cells import COLUMNS, Cells, RosterRules, RowChecker, key_of
from assessment.roster_import import (
    ImportStopped,
    ImportSummary,
    MarkedLeft,
    import_roster,
    leaving,
    mark_left,
)
from assessment.roster_problems import ProblemCode, RosterProblem, RosterRejected
from assessment.roster_read import LIMITS, MAX_ROWS, Budget, Limits, read_rows
from assessment.roster_rows import ParsedRoster, RosterRow, loop_problems
from config.policy import Policy

__all__ = [
    "COLUMNS",
    "LIMITS",
    "MAX_ROWS",
    "ImportStopped",
    "ImportSummary",
    "Limits",
    "MarkedLeft",
    "ParsedRoster",
    "ProblemCode",
    "RosterProblem",
    "RosterRejected",
    "RosterRow",
    "RosterRules",
    "import_roster",
    "leaving",
    "mark_left",
    "parse_roster",
]


def parse_roster(
    data: bytes, filename: str, policy: Policy | RosterRules, *, limits: Limits = LIMITS
) -> ParsedRoster:
    """Read and check a roster file against ``policy``, within ``limits``; nothing is stored.

    CPU-bound for seconds on a big file: the bot calls it in a worker process
    (``assessment.roster_worker``), never on its event loop.

    Raises:
        RosterRejected: with every problem found, in row order.
    """
    budget = Budget(limits.seconds)
    rows = read_rows(data, limits=limits, budget=budget)
    (header_row, header), body = rows[0], rows[1:]
    positions = _columns(header_row, header)
    if not body:
        raise RosterRejected((RosterProblem(None, None, ProblemCode.EMPTY_FILE),))
    checker = RowChecker(positions, RosterRules.of(policy))
    parsed: list[RosterRow] = []
    for index, (number, cells) in enumerate(body, start=1):
        if not index % 1024:
            budget.check()
        row = checker.check(number, cells)
        if row is not None:
            parsed.append(row)
    problems = checker.problems + _cross_row_problems(body, positions, parsed)
    if problems:
        problems.sort(key=_position)
        raise RosterRejected(tuple(problems))
    return ParsedRoster(filename=filename, rows=tuple(parsed))


def _position(problem: RosterProblem) -> tuple[int, int]:
    column = COLUMNS.index(problem.column) if problem.column in COLUMNS else len(COLUMNS)
    return problem.row or 0, column


def _columns(row: int, header: Cells) -> dict[str, int]:
    positions: dict[str, int] = {}
    problems: list[RosterProblem] = []
    for index, cell in enumerate(header):
        name = key_of(cell)
        if not name:
            continue
        if name not in COLUMNS:
            problems.append(RosterProblem(row, None, ProblemCode.WRONG_HEADER, cell, "unknown"))
        elif name in positions:
            problems.append(RosterProblem(row, name, ProblemCode.WRONG_HEADER, cell, "duplicate"))
        else:
            positions[name] = index
    problems.extend(
        RosterProblem(row, column, ProblemCode.WRONG_HEADER, detail="missing")
        for column in COLUMNS
        if column not in positions
    )
    if problems:
        raise RosterRejected(tuple(problems))
    return positions


def _cross_row_problems(
    body: list[tuple[int, Cells]], positions: Mapping[str, int], parsed: list[RosterRow]
) -> list[RosterProblem]:
    problems = _duplicates(body, positions["employee_no"])
    problems.extend(_post_conflicts(parsed))
    problems.extend(_loops(parsed))
    return problems


def _duplicates(body: list[tuple[int, Cells]], index: int) -> list[RosterProblem]:
    # Judged on every row with a number, valid or not, so no duplicate hides behind a typo.
    first_row: dict[str, int] = {}
    problems: list[RosterProblem] = []
    for number, cells in body:
        employee_no = cells[index] if index < len(cells) else ""
        if not employee_no:
            continue
        if employee_no in first_row:
            problems.append(
                RosterProblem(
                    number,
                    "employee_no",
                    ProblemCode.DUPLICATE_EMPLOYEE_NO,
                    employee_no,
                    str(first_row[employee_no]),
                )
            )
        else:
            first_row[employee_no] = number
    return problems


def _post_conflicts(rows: list[RosterRow]) -> list[RosterProblem]:
    # A post is one record per department: every row naming it must agree on what it is.
    first: dict[tuple[str, str], RosterRow] = {}
    problems: list[RosterProblem] = []
    for row in rows:
        earlier = first.setdefault((row.department, row.post), row)
        if earlier.post_type != row.post_type:
            problems.append(
                RosterProblem(
                    row.row,
                    "post_type",
                    ProblemCode.CONFLICTING_POST,
                    row.post_type,
                    str(earlier.row),
                )
            )
        elif earlier.difficulty != row.difficulty:
            problems.append(
                RosterProblem(
                    row.row,
                    "difficulty",
                    ProblemCode.CONFLICTING_POST,
                    str(row.difficulty),
                    str(earlier.row),
                )
            )
    return problems


def _loops(rows: list[RosterRow]) -> list[RosterProblem]:
    by_no: dict[str, RosterRow] = {}
    for row in rows:
        by_no.setdefault(row.employee_no, row)
    return loop_problems(
        {row.employee_no: row.supervisor_no for row in by_no.values()},
        {employee_no: row.row for employee_no, row in by_no.items()},
    )
