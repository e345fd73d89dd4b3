"""The words for roster problems and import summaries, as the operator and HR read them."""

from __future__ import annotations

import dataclasses
import gettext

import pytest

from assessment.roster import ImportSummary, ProblemCode, RosterProblem
from handlers.roster_text import describe_problem, describe_rejection, describe_summary
from storage.enums import Role

ENGLISH = gettext.NullTranslations()
_ = ENGLISH.gettext
ngettext = ENGLISH.ngettext

DETAILS: dict[ProblemCode, list[str | None]] = {
    ProblemCode.NOT_CSV_OR_XLSX: [None, "xls"],
    ProblemCode.WRONG_ENCODING: [None, "UTF-16"],
    ProblemCode.WRONG_HEADER: ["missing", "unknown", "duplicate"],
    ProblemCode.TOO_MANY_ROWS: ["100000"],
    ProblemCode.VALUE_TOO_LONG: ["200"],
    ProblemCode.DUPLICATE_EMPLOYEE_NO: ["2"],
    ProblemCode.CONFLICTING_POST: ["2"],
    ProblemCode.UNKNOWN_ROLE: ["staff, supervisor, hr, admin"],
    ProblemCode.UNKNOWN_POST_TYPE: ["service, management"],
    ProblemCode.UNKNOWN_LANGUAGE: ["en, zh_Hans, zh_Hant"],
    ProblemCode.UNKNOWN_STATUS: ["active, second_line, left"],
    ProblemCode.BAD_COEFFICIENT: ["0.5–2.0"],
    ProblemCode.SUPERVISOR_CYCLE: ["E1 → E2 → E1"],
}


@pytest.mark.parametrize(
    ("code", "detail"),
    [(code, detail) for code in ProblemCode for detail in DETAILS.get(code, [None])],
)
def test_every_problem_has_words(code: ProblemCode, detail: str | None) -> None:
    text = describe_problem(RosterProblem(5, "difficulty", code, "x", detail), _)
    assert text.startswith("row 5, column difficulty: ")
    assert "{" not in text
    if detail is not None and code not in (ProblemCode.WRONG_HEADER, ProblemCode.WRONG_ENCODING):
        assert detail in text or code is ProblemCode.NOT_CSV_OR_XLSX


def test_problem_lines() -> None:
    coefficient = RosterProblem(5, "difficulty", ProblemCode.BAD_COEFFICIENT, "9", "0.5–2.0")
    assert describe_problem(coefficient, _) == (
        "row 5, column difficulty: not a valid difficulty coefficient (9); "
        "use a number from 0.5–2.0 with at most three decimals"
    )
    encoding = RosterProblem(3, None, ProblemCode.WRONG_ENCODING)
    assert describe_problem(encoding, _) == (
        "row 3: the file is not UTF-8 text: save it as CSV UTF-8"
    )
    empty = RosterProblem(None, None, ProblemCode.EMPTY_FILE)
    assert describe_problem(empty, _) == "the file lists no one"
    unknown = RosterProblem(1, None, ProblemCode.WRONG_HEADER, "boss", "unknown")
    assert describe_problem(unknown, _) == "row 1: unknown column (boss)"


def test_a_long_value_is_shortened() -> None:
    problem = RosterProblem(2, "name", ProblemCode.VALUE_TOO_LONG, "名" * 500, "200")
    text = describe_problem(problem, _)
    assert text.endswith("…)")
    assert len(text) < 120


def test_rejection_heading_counts_problems() -> None:
    one = [RosterProblem(None, None, ProblemCode.EMPTY_FILE)]
    assert describe_rejection(one, _, ngettext).splitlines() == [
        "The roster was not imported: 1 problem.",
        "the file lists no one",
    ]


BASE = ImportSummary(
    file_name="roster.csv",
    created=("E1",),
    updated=("E2", "E3"),
    unchanged=(),
    missing=(),
    marked_left=(),
    departments_created=(),
    posts_created=(),
    posts_updated=(),
    role_changes={},
    dry_run=False,
)


def test_summary_counts_in_the_right_number() -> None:
    assert describe_summary(BASE, _, ngettext).splitlines() == [
        "1 person added",
        "2 people updated",
        "0 people unchanged",
    ]


def test_summary_of_everything() -> None:
    summary = dataclasses.replace(
        BASE,
        departments_created=("Permits",),
        posts_created=(("Permits", "Clerk"), ("Permits", "Head")),
        posts_updated=(("Permits", "Clerk"),),
        role_changes={"E2": (Role.STAFF, Role.HR)},
        missing=tuple(f"E{n}" for n in range(100, 125)),
        marked_left=("E100",),
        dry_run=True,
    )
    lines = describe_summary(summary, _, ngettext).splitlines()
    assert lines[0] == "Dry run: nothing was written. Importing would make these changes."
    assert lines[4:] == [
        "1 department created: Permits",
        "2 posts created",
        "1 post changed its type or difficulty",
        "roles changed for 1 person: E2",
        "25 people on the roster are not in the file: "
        + ", ".join(f"E{n}" for n in range(100, 120))
        + ", …",
        "1 person marked as having left",
    ]


def test_summary_names_the_people_left_as_they_were() -> None:
    summary = dataclasses.replace(BASE, left_out=tuple(f"E{n}" for n in range(100_000)))
    [line] = [
        line for line in describe_summary(summary, _, ngettext).splitlines() if "left" in line
    ]
    assert line == (
        "100000 people left as they were: someone changed them while the import wrote; "
        "send the file again to bring them in line: "
        + ", ".join(f"E{n}" for n in range(20))
        + ", …"
    )
