"""Grades from scores, with the top grade capped by the quota.

Pure rules: no database, no Telegram. ``assign_grades`` is the one place grades are
assigned, and so the one place the quota is enforced:

1. Each person's grade by score is the best grade of ``[[grades]]`` whose ``min_score``
   the (rounded) score reaches (``Policy.grade_for``).
2. The top grade is capped per ``[quota]``: in each scope (a department, or the whole
   organisation) at most ``top_grade_cap(people in scope)`` people receive it, using the
   wider share where that scope has approval (``with_approval_max_share``, recorded per
   period and scope by an administrator: ``assessment.quota``). ``top_grade_cap`` is
   the quota's one definition: grading, calibration, publication and the cards use it.
3. A disqualified person (a rejection for misconduct, or a deduction marked disqualifying)
   never receives the top grade and takes no place under the cap.
4. The places go to the highest scores first. **Ties:** people with the same score get the
   same grade. If everyone at a score fits in the places left, they all receive the top
   grade; if not, none of them does, and neither does anyone with a lower score. The
   places that remain stay free for HR's calibration, which may award them with a reason
   (``calibration_problems`` checks that a calibrated set stays within the quota).
   Why: any other rule (staff id, time of sign-off, unrounded decimals nobody is shown)
   would give two people shown the same score different grades for a reason neither
   could check; a person is told their score, and equal scores must be explainable as
   equal grades. Leaving a place empty is the cost, and a human with a reason, not an
   arbitrary order, decides whether to fill it.
5. Whoever reaches the top grade by score but does not receive it gets the next grade.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, NamedTuple

from config.policy import Policy

__all__ = [
    "ORGANISATION",
    "Approval",
    "CalibrationProblem",
    "GradeAssignment",
    "QuotaStatus",
    "ScopeKey",
    "Scored",
    "approval_from",
    "assign_grades",
    "calibration_problems",
    "quota_status",
    "scope_key",
    "scope_of",
    "settled_grades",
    "top_grade_cap",
    "top_places_left",
    "withdrawal_problems",
]

ORGANISATION: Final = "organisation"
# A department id when the quota counts per department, else ORGANISATION.
ScopeKey = int | str
# Approval of the wider share: for every scope, or per scope key (unlisted: none).
Approval = bool | Mapping[ScopeKey, bool]


@dataclass(frozen=True, slots=True)
class Scored:
    """A person's rounded score for the period and whether a fact bars the top grade."""

    staff_id: int
    department_id: int
    score: Decimal
    disqualified: bool = False


class GradeAssignment(NamedTuple):
    """A person's grade, and why it may differ from the grade their score reaches.

    (A named tuple: a whole organisation's assignments are built in one run.)

    Attributes:
        grade_id: The grade given.
        by_score_grade_id: The grade the score reaches on its own.
        capped: The top grade was withheld because the quota was full (or the people tied
            at the score did not all fit).
        barred: The top grade was withheld because the person is disqualified.
        scope: The quota's scope the person was counted in.
    """

    staff_id: int
    grade_id: str
    by_score_grade_id: str
    capped: bool
    barred: bool
    scope: ScopeKey


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """The top-grade quota of one scope: its size, cap, places given and places left."""

    scope: ScopeKey
    people: int
    cap: int
    taken: int

    @property
    def left(self) -> int:
        return self.cap - self.taken


@dataclass(frozen=True, slots=True)
class CalibrationProblem:
    """Why a calibrated grade set is refused.

    ``kind`` is ``"over_quota"`` (more top grades in ``scope`` than ``cap``),
    ``"disqualified"`` (a disqualified person given the top grade), ``"unknown_grade"``,
    ``"unknown_person"`` (a grade for someone not assessed) or ``"missing"`` (someone
    assessed without a grade).
    """

    kind: Literal["over_quota", "disqualified", "unknown_grade", "unknown_person", "missing"]
    scope: ScopeKey | None
    staff_ids: tuple[int, ...]
    cap: int | None = None


def scope_of(policy: Policy, department_id: int) -> ScopeKey:
    """The quota scope a member of a department is counted in."""
    return department_id if policy.quota.scope == "department" else ORGANISATION


def scope_key(scope: ScopeKey) -> str:
    """A scope as stored (``quota_approvals.scope_key``): a department's id, or
    ``organisation``."""
    return str(scope)


def approval_from(keys: Iterable[str]) -> dict[ScopeKey, bool]:
    """The ``Approval`` of the scopes whose stored keys are given (``scope_key``)."""
    return {(ORGANISATION if key == ORGANISATION else int(key)): True for key in keys}


def top_grade_cap(policy: Policy, people: int, *, approved: bool = False) -> int:
    """How many of ``people`` assessed in one scope may receive the top grade: the share
    of ``[quota]`` (the wider one where the scope has approval and the policy allows
    one), counted with its rounding. The quota's one definition."""
    return policy.quota.max_top_grade(people, with_approval=approved)


def _approved(with_approval: Approval, scope: ScopeKey) -> bool:
    if isinstance(with_approval, bool):
        return with_approval
    return with_approval.get(scope, False)


def _by_scope(policy: Policy, people: Iterable[Scored]) -> dict[ScopeKey, list[Scored]]:
    groups: dict[ScopeKey, list[Scored]] = defaultdict(list)
    per_department = policy.quota.scope == "department"
    count = 0
    for person in people:
        groups[person.department_id if per_department else ORGANISATION].append(person)
        count += 1
    if len({person.staff_id for group in groups.values() for person in group}) != count:
        seen: set[int] = set()
        for group in groups.values():
            for person in group:
                if person.staff_id in seen:
                    raise ValueError(f"staff member {person.staff_id} is listed twice")
                seen.add(person.staff_id)
    return groups


def _top_receivers(policy: Policy, group: Sequence[Scored], cap: int) -> set[int]:
    """Who in one scope receives the top grade: whole score levels, best first, while they fit."""
    threshold = policy.top_grade.min_score
    levels: dict[Decimal, list[int]] = defaultdict(list)
    for person in group:
        if not person.disqualified and person.score >= threshold:
            levels[person.score].append(person.staff_id)
    receivers: set[int] = set()
    for level in sorted(levels, reverse=True):
        tied = levels[level]
        if len(receivers) + len(tied) > cap:
            break
        receivers.update(tied)
    return receivers


def _grade_by_score(policy: Policy) -> Callable[[Decimal], str]:
    # Policy.grade_for, as one closure over the thresholds for a whole run.
    thresholds = tuple((grade.min_score, grade.id) for grade in policy.grades)
    hundred = Decimal(100)

    # Rounded scores take few values (10,001 at 0.01), so each is graded once per run.
    known: dict[Decimal, str] = {}

    def grade_of(score: Decimal) -> str:
        grade_id = known.get(score)
        if grade_id is not None:
            return grade_id
        if not score.is_finite() or not 0 <= score <= hundred:
            raise ValueError(f"a score must be from 0 to 100 (got {score})")
        for min_score, grade_id in thresholds:
            if score >= min_score:
                known[score] = grade_id
                return grade_id
        raise AssertionError("unreachable: the last grade starts at 0")

    return grade_of


def _settled(policy: Policy) -> Callable[[Scored, ScopeKey], GradeAssignment | None]:
    # The assignment of a person whose score does not reach the top grade: the quota
    # cannot change it (rule 1 alone), so it needs nobody else's score; None otherwise.
    grade_of = _grade_by_score(policy)
    top_id = policy.grades[0].id

    def settled(person: Scored, scope: ScopeKey) -> GradeAssignment | None:
        by_score = grade_of(person.score)
        if by_score == top_id:
            return None
        return GradeAssignment(person.staff_id, by_score, by_score, False, False, scope)

    return settled


def settled_grades(policy: Policy) -> Callable[[Scored], GradeAssignment | None]:
    """For a whole run: a person's assignment as ``assign_grades`` will give it, when it
    is settled by their score alone (it does not reach the top grade, so no quota can
    change it), else None (they wait for everyone in their scope).

    A whole period's run stores these people's results as it scores them, and the rest
    once everyone is graded. It is the same code ``assign_grades`` grades them with.

    Raises (from the returned function):
        ValueError: If a score is outside 0..100 (or not a number).
    """
    settled = _settled(policy)
    return lambda person: settled(person, scope_of(policy, person.department_id))


def assign_grades(
    policy: Policy,
    people: Sequence[Scored],
    *,
    with_approval: Approval = False,
    also_counted: Mapping[ScopeKey, int] | None = None,
) -> dict[int, GradeAssignment]:
    """Grade everyone assessed in a period, the top grade within the quota of each scope.

    Args:
        policy: The assessment policy.
        people: Everyone assessed in the period (every scope at once, or whole scopes:
            the cap of a scope counts the people given here).
        with_approval: Whether the wider, approved share applies: for every scope, or per
            scope key (a department id, or ``ORGANISATION``); scopes not listed have none.
        also_counted: By scope, how many more people its cap counts who are not given
            here: people whose grade ``settled_grades`` settled (their score does not
            reach the top grade, so they take no place; a whole period's run grades
            them as it stores them).

    Returns:
        Each person's assignment by staff id.

    Raises:
        ValueError: If a score is outside 0..100 (or not a number) or a person is listed
            twice.
    """
    settled = _settled(policy)
    top_id = policy.grades[0].id
    next_id = policy.grades[1].id
    result: dict[int, GradeAssignment] = {}
    for scope, group in _by_scope(policy, people).items():
        counted = len(group) + (also_counted or {}).get(scope, 0)
        cap = top_grade_cap(policy, counted, approved=_approved(with_approval, scope))
        receivers = _top_receivers(policy, group, cap)
        for person in group:
            staff_id = person.staff_id
            assignment = settled(person, scope)
            if assignment is None:  # the score reaches the top grade
                if staff_id in receivers:
                    assignment = GradeAssignment(staff_id, top_id, top_id, False, False, scope)
                else:
                    barred = person.disqualified
                    assignment = GradeAssignment(
                        staff_id, next_id, top_id, not barred, barred, scope
                    )
            result[staff_id] = assignment
    return result


def quota_status(
    policy: Policy, scope_people: Sequence[Scored], *, with_approval: bool = False
) -> QuotaStatus:
    """The top-grade quota of one scope as ``assign_grades`` would fill it now.

    Args:
        scope_people: Everyone assessed in one scope (a department, or the organisation),
            with their current scores.

    Raises:
        ValueError: If the people belong to more than one scope.
    """
    groups = _by_scope(policy, scope_people)
    if len(groups) > 1:
        raise ValueError(f"people from {len(groups)} quota scopes given; give one scope")
    scope: ScopeKey = next(iter(groups), ORGANISATION)
    cap = top_grade_cap(policy, len(scope_people), approved=with_approval)
    taken = len(_top_receivers(policy, scope_people, cap))
    return QuotaStatus(scope, len(scope_people), cap, taken)


def top_places_left(
    policy: Policy, scope_people: Sequence[Scored], *, with_approval: bool = False
) -> int:
    """Top-grade places still free in one scope (for the supervisor's card)."""
    return quota_status(policy, scope_people, with_approval=with_approval).left


def calibration_problems(
    policy: Policy,
    people: Sequence[Scored],
    grades: Mapping[int, str],
    *,
    with_approval: Approval = False,
) -> tuple[CalibrationProblem, ...]:
    """Check a calibrated grade set (HR's changes applied) against the quota; empty if fine.

    Args:
        people: Everyone assessed in the scopes concerned, as given to ``assign_grades``.
        grades: The proposed grade id of every one of them, by staff id.
    """
    known = {grade.id for grade in policy.grades}
    top_id = policy.top_grade.id
    problems: list[CalibrationProblem] = []
    assessed = {person.staff_id for person in people}
    strangers = tuple(sorted(staff_id for staff_id in grades if staff_id not in assessed))
    if strangers:
        problems.append(CalibrationProblem("unknown_person", None, strangers))
    for scope, group in sorted(_by_scope(policy, people).items(), key=lambda item: str(item[0])):
        missing = tuple(sorted(p.staff_id for p in group if p.staff_id not in grades))
        if missing:
            problems.append(CalibrationProblem("missing", scope, missing))
        unknown = tuple(
            sorted(
                p.staff_id
                for p in group
                if p.staff_id in grades and grades[p.staff_id] not in known
            )
        )
        if unknown:
            problems.append(CalibrationProblem("unknown_grade", scope, unknown))
        top = [p for p in group if grades.get(p.staff_id) == top_id]
        barred = tuple(sorted(p.staff_id for p in top if p.disqualified))
        if barred:
            problems.append(CalibrationProblem("disqualified", scope, barred))
        cap = top_grade_cap(policy, len(group), approved=_approved(with_approval, scope))
        if len(top) > cap:
            problems.append(
                CalibrationProblem(
                    "over_quota", scope, tuple(sorted(p.staff_id for p in top)), cap
                )
            )
    return tuple(problems)


def withdrawal_problems(
    policy: Policy, people: Sequence[Scored], calibrated: Mapping[int, str]
) -> tuple[CalibrationProblem, ...]:
    """Whether one scope's approval of the wider share may be withdrawn: the problems of
    the grades it would then have, empty if none.

    Withdrawn, the scope is graded again under the ordinary share (``assign_grades``);
    HR's calibrated grades (``calibrated``, by staff id) stay, since they are decisions
    with reasons that only HR may change. If those, with the grades given afresh, give
    more top grades than the ordinary share allows (calibration used the wider share),
    withdrawing is refused with the cap, and HR calibrates first.

    Args:
        people: Everyone assessed in the scope, as given to ``assign_grades``.
        calibrated: HR's grade of those it calibrated.
    """
    fresh = assign_grades(policy, people)
    grades = {
        person.staff_id: calibrated.get(person.staff_id) or fresh[person.staff_id].grade_id
        for person in people
    }
    return tuple(
        problem
        for problem in calibration_problems(policy, people, grades)
        if problem.kind == "over_quota"
    )
