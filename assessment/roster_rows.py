"""A roster that passed every check on its own: typed rows, and the supervisor chain rule."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from assessment.roster_problems import ProblemCode, RosterProblem
from storage.enums import Role, StaffStatus


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One person as the roster states them; ``roles`` as written, without implied ones."""

    row: int
    employee_no: str
    name: str
    department: str
    post: str
    post_type: str
    difficulty: Decimal
    supervisor_no: str | None
    roles: Role
    language: str | None
    status: StaffStatus


@dataclass(frozen=True, slots=True)
class ParsedRoster:
    """A whole roster file, read and checked, ready to import."""

    filename: str
    rows: tuple[RosterRow, ...]


def supervisor_loops(supervisor_of: Mapping[str, str | None]) -> list[tuple[str, ...]]:
    """Each loop in the supervisor chain (A reports to B, B to A), once, in chain order."""
    return [loop for loop in walk_supervisors(supervisor_of) if loop is not None]


def walk_supervisors(supervisor_of: Mapping[str, str | None]) -> Iterator[tuple[str, ...] | None]:
    """The walk behind ``supervisor_loops``: for each person in turn, the loop found from
    them (once, in chain order), or None; a caller may pause between people.

    Everyone has at most one supervisor, so following the chain from each person
    either ends or enters a loop; every person is walked once.
    """
    done: set[str] = set()
    for start in supervisor_of:
        path: list[str] = []
        on_path: set[str] = set()
        person: str | None = start
        while person is not None and person not in done and person not in on_path:
            path.append(person)
            on_path.add(person)
            person = supervisor_of.get(person)
        done.update(path)
        yield (
            tuple(path[path.index(person) :]) if person is not None and person in on_path else None
        )


def loop_problems(
    supervisor_of: Mapping[str, str | None], row_of: Mapping[str, int]
) -> list[RosterProblem]:
    """A problem on each roster row caught in a supervisor loop, naming the whole loop."""
    problems: list[RosterProblem] = []
    for loop in supervisor_loops(supervisor_of):
        chain = " → ".join((*loop, loop[0]))
        problems.extend(
            RosterProblem(
                row_of[employee_no],
                "supervisor_no",
                ProblemCode.SUPERVISOR_CYCLE,
                supervisor_of[employee_no],
                chain,
            )
            for employee_no in loop
            if employee_no in row_of
        )
    return problems


def role_names(roles: Role) -> list[str]:
    """The roles as the roster spells them (``staff``, ``supervisor``, ``hr``, ``admin``)."""
    return [role.name.lower() for role in Role if role & roles and role.name]
