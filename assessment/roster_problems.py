"""What can be wrong with a roster file, said precisely enough to point at the cell.

A problem carries codes and raw values, never prose: the adapters (chat, command
line) render it in the reader's language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ProblemCode(enum.StrEnum):
    """Why a roster, or one cell of it, was refused.

    What ``RosterProblem.detail`` holds depends on the code:

    - ``not_csv_or_xlsx``: ``"xls"`` for an old binary Excel file, otherwise None
    - ``wrong_encoding``: ``"UTF-16"`` when the file is UTF-16, otherwise None
    - ``wrong_header``: ``"missing"``, ``"unknown"`` or ``"duplicate"``
    - ``too_many_rows``, ``too_many_columns``, ``value_too_long``, ``too_many_texts``:
      the limit, as digits
    - ``unpacked_too_large``, ``out_of_memory``: the limit in MiB, as digits
    - ``too_slow``: the time allowed, in seconds
    - ``control_character``: the first such character, as ``U+0000``; the value shows
      each control character written out (``\\x00``)
    - ``duplicate_employee_no``, ``conflicting_post``: the earlier row's number, as digits
    - ``unknown_post_type``, ``unknown_role``, ``unknown_language``, ``unknown_status``:
      the allowed values, comma-separated
    - ``bad_coefficient``: the allowed range, ``min–max``
    - ``supervisor_cycle``: the loop of employee numbers, ``A → B → A``
    """

    NOT_CSV_OR_XLSX = "not_csv_or_xlsx"
    WRONG_ENCODING = "wrong_encoding"
    EMPTY_FILE = "empty_file"
    WRONG_HEADER = "wrong_header"
    TOO_MANY_ROWS = "too_many_rows"
    MISSING_VALUE = "missing_value"
    VALUE_TOO_LONG = "value_too_long"
    DUPLICATE_EMPLOYEE_NO = "duplicate_employee_no"
    UNKNOWN_ROLE = "unknown_role"
    UNKNOWN_POST_TYPE = "unknown_post_type"
    BAD_COEFFICIENT = "bad_coefficient"
    UNKNOWN_LANGUAGE = "unknown_language"
    UNKNOWN_STATUS = "unknown_status"
    CONFLICTING_POST = "conflicting_post"
    MISSING_SUPERVISOR = "missing_supervisor"
    SELF_SUPERVISOR = "self_supervisor"
    SUPERVISOR_CYCLE = "supervisor_cycle"
    TOO_MANY_COLUMNS = "too_many_columns"
    UNPACKED_TOO_LARGE = "unpacked_too_large"
    TOO_MANY_TEXTS = "too_many_texts"
    TOO_SLOW = "too_slow"
    OUT_OF_MEMORY = "out_of_memory"
    CONTROL_CHARACTER = "control_character"
    FILE_CHANGED = "file_changed"


@dataclass(frozen=True, slots=True)
class RosterProblem:
    """One thing wrong with a roster: where (row as a person sees it, header = 1) and what."""

    row: int | None
    column: str | None
    code: ProblemCode
    value: str | None = None
    detail: str | None = None


class RosterRejected(Exception):  # noqa: N818 - a rejection, not a fault: the name says so
    """The roster cannot be imported; ``problems`` lists every reason, not just the first."""

    def __init__(self, problems: tuple[RosterProblem, ...]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the roster")
        self.problems = problems


def rejected(
    code: ProblemCode, *, row: int | None = None, detail: str | None = None
) -> RosterRejected:
    """A rejection for one problem with the whole file."""
    return RosterRejected((RosterProblem(row, None, code, detail=detail),))
