"""The rules for each cell of a roster row: required, lengths, post types, coefficients..."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from assessment.roster_problems import ProblemCode, RosterProblem
from assessment.roster_rows import RosterRow
from config.policy import DifficultyBounds, Policy
from storage.enums import Role, StaffStatus

COLUMNS = (
    "employee_no",
    "name",
    "department",
    "post",
    "post_type",
    "difficulty",
    "supervisor_no",
    "roles",
    "language",
    "status",
)
REQUIRED = ("employee_no", "name", "department", "post", "post_type", "difficulty")
# The widths of the matching columns in storage.models (a unit test keeps them equal).
MAX_LENGTHS: Mapping[str, int] = {
    "employee_no": 40,
    "name": 200,
    "department": 200,
    "post": 200,
    "supervisor_no": 40,
}
# posts.difficulty keeps three decimals; more would be rounded silently by the store.
DIFFICULTY_PLACES = 3
ROLES: Mapping[str, Role] = {
    "staff": Role.STAFF,
    "supervisor": Role.SUPERVISOR,
    "hr": Role.HR,
    "admin": Role.ADMIN,
}
LANGUAGES: Mapping[str, str] = {"en": "en", "zh_hans": "zh_Hans", "zh_hant": "zh_Hant"}
STATUSES: Mapping[str, StaffStatus] = {status.value: status for status in StaffStatus}

# Chinese keyboards type full-width separators; they mean the same thing here.
_ROLE_SEPARATORS = re.compile(r"[;,；，]")
_SEPARATORS = re.compile(r"[\s\-]+")
_DIFFICULTY_STEP = Decimal(1).scaleb(-DIFFICULTY_PLACES)

Cells = tuple[str, ...]
T = TypeVar("T")


def key_of(text: str) -> str:
    """The lookup form of a header or a choice: ``Second line`` -> ``second_line``."""
    # A byte-order mark survives in a header cell some spreadsheet programs write.
    return _SEPARATORS.sub("_", text.replace("\ufeff", "").strip().lower())


@dataclass(frozen=True, slots=True)
class RosterRules:
    """What of the policy a roster is checked against, small enough to hand to a worker."""

    post_types: tuple[str, ...]
    difficulty: DifficultyBounds

    @classmethod
    def of(cls, policy: Policy | RosterRules) -> RosterRules:
        """The rules of ``policy`` (rules are their own)."""
        if isinstance(policy, RosterRules):
            return policy
        return cls(tuple(policy.post_types), policy.difficulty)


class RowChecker:
    """Checks rows one at a time, gathering every problem rather than stopping at one."""

    def __init__(self, positions: Mapping[str, int], rules: RosterRules) -> None:
        self.positions = positions
        self.policy = rules
        self.problems: list[RosterProblem] = []
        self.post_types = ", ".join(rules.post_types)
        bounds = rules.difficulty
        self.difficulty_range = f"{bounds.min}–{bounds.max}"
        # The columns' cells in COLUMNS order, from a row padded to the widest position.
        self._width = max(positions[column] for column in COLUMNS) + 1
        self._pick = operator.itemgetter(*(positions[column] for column in COLUMNS))
        # Choices a roster repeats on every row, as read once without a problem.
        self._read: dict[tuple[str, str], object] = {}

    def check(self, number: int, cells: Cells) -> RosterRow | None:
        """The row, typed, or None after recording what is wrong with it."""
        found = len(self.problems)
        if len(cells) < self._width:
            cells = cells + ("",) * (self._width - len(cells))
        value = dict(zip(COLUMNS, self._pick(cells), strict=True))
        for column in REQUIRED:
            if not value[column]:
                self._problem(number, column, ProblemCode.MISSING_VALUE)
        for column, limit in MAX_LENGTHS.items():
            if len(value[column]) > limit:
                self._problem(
                    number, column, ProblemCode.VALUE_TOO_LONG, value[column], str(limit)
                )
        post_type = value["post_type"].lower()
        if post_type and post_type not in self.policy.post_types:
            self._problem(
                number,
                "post_type",
                ProblemCode.UNKNOWN_POST_TYPE,
                value["post_type"],
                self.post_types,
            )
        difficulty = self._once("difficulty", value["difficulty"], number, self._difficulty)
        supervisor_no = value["supervisor_no"] or None
        if supervisor_no is not None and supervisor_no == value["employee_no"]:
            self._problem(number, "supervisor_no", ProblemCode.SELF_SUPERVISOR, supervisor_no)
        roles = self._once("roles", value["roles"], number, self._roles)
        language = self._once(
            "language",
            value["language"],
            number,
            lambda row, text: self._choice(
                row, "language", text, LANGUAGES, ProblemCode.UNKNOWN_LANGUAGE
            ),
        )
        status = self._once(
            "status",
            value["status"],
            number,
            lambda row, text: self._choice(
                row, "status", text, STATUSES, ProblemCode.UNKNOWN_STATUS
            ),
        )
        if len(self.problems) > found or difficulty is None:
            return None
        return RosterRow(
            row=number,
            employee_no=value["employee_no"],
            name=value["name"],
            department=value["department"],
            post=value["post"],
            post_type=post_type,
            difficulty=difficulty,
            supervisor_no=supervisor_no,
            roles=roles,
            language=LANGUAGES[language] if language else None,
            status=STATUSES[status] if status else StaffStatus.ACTIVE,
        )

    def _once(self, column: str, text: str, number: int, read: Callable[[int, str], T]) -> T:
        """``read(number, text)``, remembered for the next rows when it found no problem."""
        key = (column, text)
        if key in self._read:
            return self._read[key]  # type: ignore[return-value]
        found = len(self.problems)
        result = read(number, text)
        if len(self.problems) == found:
            self._read[key] = result
        return result

    def _problem(
        self,
        row: int,
        column: str,
        code: ProblemCode,
        value: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.problems.append(RosterProblem(row, column, code, value, detail))

    def _difficulty(self, number: int, text: str) -> Decimal | None:
        if not text:
            return None
        coefficient = self._coefficient(text)
        if coefficient is None:
            self._problem(
                number, "difficulty", ProblemCode.BAD_COEFFICIENT, text, self.difficulty_range
            )
        return coefficient

    def _coefficient(self, text: str) -> Decimal | None:
        try:
            coefficient = Decimal(text)
        except InvalidOperation:
            return None
        if not coefficient.is_finite() or not self.policy.difficulty.allows(coefficient):
            return None
        places = coefficient.normalize().as_tuple().exponent
        if not isinstance(places, int) or -places > DIFFICULTY_PLACES:
            return None
        written = coefficient.as_tuple().exponent
        if isinstance(written, int) and -written > DIFFICULTY_PLACES:
            # Only trailing zeros (1.1500) reach here: exact at the store's scale.
            return coefficient.quantize(_DIFFICULTY_STEP)
        return coefficient

    def _roles(self, number: int, text: str) -> Role:
        roles = Role.NONE
        for token in _ROLE_SEPARATORS.split(text):
            name = token.strip().lower()
            if not name:
                continue
            if name in ROLES:
                roles |= ROLES[name]
            else:
                self._problem(
                    number, "roles", ProblemCode.UNKNOWN_ROLE, token.strip(), ", ".join(ROLES)
                )
        return roles or Role.STAFF

    def _choice(
        self,
        number: int,
        column: str,
        text: str,
        allowed: Mapping[str, object],
        code: ProblemCode,
    ) -> str | None:
        if not text:
            return None
        key = key_of(text)
        if key not in allowed:
            self._problem(number, column, code, text, ", ".join(map(str, allowed.values())))
            return None
        return key
