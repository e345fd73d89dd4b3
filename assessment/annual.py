"""The annual roll-up's rules (年度考核), as pure functions over a year's routine results.

Under the Civil Servant Law the annual result rests on the routine ones, and the policy's
``[annual]`` section says how (``config.policy.AnnualRule``):

- **Score.** The mean of the year's published routine scores, rounded once as
  ``[assessment]`` rounds scores; fewer than ``min_periods`` published results: not graded.
- **Grade.** The best annual grade the score reaches, except that the top grade is barred
  by a routine grade of ``bars_top_grade`` that year (the grade that stood: HR's calibrated
  one if there is one), and limited by the annual quota, filled as the routine quota is
  (whole score levels, best first, while they fit). Whoever reaches the top grade by score
  but does not receive it gets the next grade.
- **Flags**, for HR only: a merit at every ``merit_streak`` consecutive annual top grades
  (3, 6, ...: a merit is earned once for the same years), a dismissal review after
  ``dismissal_streak`` or more consecutive bottom grades, a training need when an
  indicator of a catalogue entry scored below its ``below`` in at least its ``periods``
  routine periods of the year, and promotion eligibility when each of the last
  ``promotion.years`` annual grades is one of ``promotion.grades``.

The roll-up from the store, in batches, is ``assessment.annual_run``.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from config.policy import AnnualRule, Policy

__all__ = [
    "ORGANISATION",
    "AnnualScore",
    "Candidate",
    "Flag",
    "RoutineResult",
    "annual_score",
    "flags_for",
    "grade_after_quota",
    "scope_of",
    "streak",
    "top_receivers",
    "training_needs",
]

# The scope key of an organisation-wide quota; a department's is its id.
ORGANISATION = "organisation"
ScopeKey = int | str


class Flag(enum.StrEnum):
    """What HR is told about a person's annual result (and nobody else is)."""

    MERIT = "merit"
    DISMISSAL_REVIEW = "dismissal_review"
    PROMOTION = "promotion"
    TRAINING = "training"


@dataclass(frozen=True, slots=True)
class RoutineResult:
    """One published routine result of the year.

    Attributes:
        period_key: ``2026-11`` or ``2026-Q4``.
        score: The published score (0..100).
        grade_id: The routine grade that stood: HR's calibrated grade, else the quota's.
        indicator_scores: The score (0..100) of each indicator that counted that period.
    """

    period_key: str
    score: Decimal
    grade_id: str
    indicator_scores: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnnualScore:
    """A person's year before the quota: the score, the grade it earns, what bars the top.

    ``score`` and ``by_score_grade_id`` are ``None`` when the person has fewer published
    routine results than ``min_periods``.
    """

    periods: int
    score: Decimal | None
    by_score_grade_id: str | None
    barred_by: tuple[str, ...]
    trainings: tuple[str, ...]

    @property
    def graded(self) -> bool:
        """Whether the year has enough routine results to be graded."""
        return self.score is not None


@dataclass(frozen=True, slots=True)
class Candidate:
    """Someone whose annual score reaches the top grade, in one quota scope."""

    staff_id: int
    scope: ScopeKey
    score: Decimal
    barred: bool


def _rule(policy: Policy) -> AnnualRule:
    if policy.annual is None:
        raise ValueError("the policy has no [annual] section")
    return policy.annual


def training_needs(rule: AnnualRule, results: Sequence[RoutineResult]) -> tuple[str, ...]:
    """The trainings (ids, catalogue order) a year's shortfalls match.

    A training matches when one of its indicators scored below ``below`` in at least
    ``periods`` of the year's routine results; an indicator that did not count in a period
    (nothing to go on) is no shortfall of that period.
    """
    matched: list[str] = []
    for training in rule.trainings:
        for indicator_id in training.indicators:
            short = sum(
                1
                for result in results
                if (value := result.indicator_scores.get(indicator_id)) is not None
                and value < training.below
            )
            if short >= training.periods:
                matched.append(training.id)
                break
    return tuple(matched)


def annual_score(policy: Policy, results: Sequence[RoutineResult]) -> AnnualScore:
    """A person's annual score from the year's published routine results.

    Raises:
        ValueError: If the policy has no ``[annual]`` section, or a score is outside 0..100.
    """
    rule = _rule(policy)
    trainings = training_needs(rule, results)
    barring = set(rule.bars_top_grade)
    barred_by = tuple(sorted(r.period_key for r in results if r.grade_id in barring))
    if len(results) < rule.min_periods:
        return AnnualScore(len(results), None, None, barred_by, trainings)
    mean = sum((r.score for r in results), Decimal(0)) / len(results)
    score = policy.assessment.round_score(mean)
    grade = rule.grade_for(score)
    return AnnualScore(len(results), score, grade.id, barred_by, trainings)


def scope_of(rule: AnnualRule, department_id: int) -> ScopeKey:
    """The quota scope a person is counted in: their department, or the organisation."""
    return department_id if rule.quota.scope == "department" else ORGANISATION


def top_receivers(
    rule: AnnualRule,
    candidates: Sequence[Candidate],
    graded: Mapping[ScopeKey, int],
    *,
    with_approval: bool = False,
) -> set[int]:
    """Who receives the annual top grade: per scope, whole score levels, best first, while
    they fit the cap of the people graded there; nobody barred.

    Args:
        candidates: Everyone whose annual score reaches the top grade.
        graded: How many people are graded in each scope (the quota's base).
        with_approval: The wider, approved share.
    """
    levels: dict[ScopeKey, dict[Decimal, list[int]]] = defaultdict(lambda: defaultdict(list))
    for candidate in candidates:
        if not candidate.barred:
            levels[candidate.scope][candidate.score].append(candidate.staff_id)
    receivers: set[int] = set()
    for scope, by_score in levels.items():
        cap = rule.quota.max_top_grade(graded.get(scope, 0), with_approval=with_approval)
        given = 0
        for level in sorted(by_score, reverse=True):
            tied = by_score[level]
            if given + len(tied) > cap:
                break
            receivers.update(tied)
            given += len(tied)
    return receivers


def grade_after_quota(rule: AnnualRule, by_score_grade_id: str, *, receives_top: bool) -> str:
    """The annual grade given: the score's, but the next one for a top grade not received."""
    if by_score_grade_id == rule.top_grade.id and not receives_top:
        return rule.grades[1].id
    return by_score_grade_id


def streak(history: Mapping[int, str], year: int, grade_id: str) -> int:
    """How many consecutive years, ending with ``year``, have the annual grade ``grade_id``."""
    count = 0
    while history.get(year - count) == grade_id:
        count += 1
    return count


def flags_for(
    rule: AnnualRule, year: int, history: Mapping[int, str], trainings: Sequence[str] = ()
) -> tuple[Flag, ...]:
    """The HR flags of a person's year.

    Args:
        year: The year rolled up.
        history: The person's annual grade by year, ``year`` included (a year without a
            grade breaks every streak).
        trainings: The trainings the year's shortfalls matched.
    """
    flags: list[Flag] = []
    if year not in history:
        return (Flag.TRAINING,) if trainings else ()
    tops = streak(history, year, rule.top_grade.id)
    if tops and tops % rule.merit_streak == 0:
        flags.append(Flag.MERIT)
    if streak(history, year, rule.bottom_grade.id) >= rule.dismissal_streak:
        flags.append(Flag.DISMISSAL_REVIEW)
    promotion = rule.promotion
    if promotion is not None and all(
        history.get(year - back) in promotion.grades for back in range(promotion.years)
    ):
        flags.append(Flag.PROMOTION)
    if trainings:
        flags.append(Flag.TRAINING)
    return tuple(flags)
