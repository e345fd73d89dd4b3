"""A person's score for one period, from the facts of that period, and its breakdown.

Pure rules: no database, no Telegram. The store aggregates a period's facts (approved
quantities, ratings, bonus and deduction points) in SQL and hands them in as
``PeriodFacts``; ``Scorer(policy).score(facts)`` returns the ``Score`` and the
``Breakdown`` that explains it, which the store keeps beside the score as JSON.

The formula is written once, with a worked example, in the README ("How a score is
computed") and in the comments of ``config/policies/default.toml``; ``Scorer._evaluate``
is the one place it is computed. In short: each indicator scores 0..100 (quantities by
points per unit, ratings as a share of ``rating_max``, rater kinds renormalised over those
present), indicator weights are renormalised over the indicators present, bonus and
deduction points are added within the per-period limits, and the total is clamped to
0..100 and rounded once. Arithmetic is ``Decimal`` in the default context (28 significant
digits, which nothing in workledger changes); before the one rounding the total is read at
18 decimal places, so that sevenths which cancel out give 29.5 and not 29.4999...9.
A disqualifying fact (a rejection for misconduct, a deduction marked disqualifying) does
not change the score; it bars the top grade (``assessment.grading``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any, Literal, NamedTuple

from config.policy import RATERS, Indicator, Policy, Rater

__all__ = [
    "BREAKDOWN_VERSION",
    "Breakdown",
    "IndicatorPart",
    "PeriodFacts",
    "PointsFact",
    "PointsLeft",
    "PointsTally",
    "QuantityFacts",
    "RaterPart",
    "RatingFacts",
    "Score",
    "Scorer",
    "points_left",
    "raters_for",
    "rating_scale",
    "score",
    "tally_points",
]

BREAKDOWN_VERSION = 1

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
# Decimal places a total is read at before its one rounding (see ``Scorer._evaluate``).
_GUARD = Decimal("1e-18")
_ROUNDING = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}


# --- facts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuantityFacts:
    """A period's approved quantities of one indicator: their total and how many entries."""

    total: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class RatingFacts:
    """One rater kind's ratings of one indicator in a period: their sum and how many."""

    sum: int
    count: int


@dataclass(frozen=True, slots=True)
class PointsFact:
    """A bonus (positive) or deduction (negative) given by the supervisor, with its reason.

    ``disqualifying`` marks a deduction that bars the top grade; a bonus cannot be one.
    """

    amount: Decimal
    reason: str
    disqualifying: bool = False


@dataclass(frozen=True, slots=True)
class PeriodFacts:
    """Everything a person's score for one period is computed from.

    Attributes:
        staff_id: The person.
        department_id: Their department (the quota's scope may be the department).
        post_type: The post type whose indicators and rater weights apply.
        quantities: Approved quantities by indicator id; indicators not listed had none.
        ratings: Ratings by (indicator id, rater kind); pairs not listed had none.
        points: The period's bonus and deduction points.
        misconduct: Whether an entry of the period was rejected for misconduct.
    """

    staff_id: int
    department_id: int
    post_type: str
    quantities: Mapping[str, QuantityFacts] = field(default_factory=dict)
    ratings: Mapping[tuple[str, Rater], RatingFacts] = field(default_factory=dict)
    points: Sequence[PointsFact] = ()
    misconduct: bool = False


# --- the breakdown ------------------------------------------------------------------------


class RaterPart(NamedTuple):
    """One rater kind's part in a qualitative indicator.

    ``sample_size`` is the number of ratings (0 for peers, whose number is never told);
    ``mean`` and ``effective_weight`` are ``None`` when the kind has not rated, or not
    enough peers have (it was renormalised away); ``weight`` is the policy's nominal weight.
    """

    rater: Rater
    sample_size: int
    mean: Decimal | None
    weight: Decimal
    effective_weight: Decimal | None


class IndicatorPart(NamedTuple):
    """One indicator's line of the breakdown (named tuples: a run explains 100,000 scores).

    ``raw`` is the sum or mean of the quantities (quantitative) or the combined mean rating
    (qualitative); ``sample_size`` the number of entries or ratings behind it. An absent
    indicator has ``raw``, ``score`` and ``effective_weight`` ``None``.
    """

    indicator_id: str
    kind: Literal["quantitative", "qualitative"]
    common: bool
    aggregate: Literal["sum", "mean"] | None
    points: Decimal
    sample_size: int
    raw: Decimal | None
    score: Decimal | None
    weight: Decimal
    effective_weight: Decimal | None
    raters: tuple[RaterPart, ...] = ()

    @property
    def present(self) -> bool:
        """Whether the indicator counted (it had entries or ratings to go on)."""
        return self.score is not None


@dataclass(frozen=True, slots=True)
class PointsTally:
    """A period's points, summed, against the policy's limits.

    ``bonus`` and ``deduction`` are what was given (both as positive amounts),
    ``counted_*`` what counts after the per-period limits.
    """

    bonus: Decimal
    deduction: Decimal
    bonus_limit: Decimal
    deduction_limit: Decimal

    @property
    def counted_bonus(self) -> Decimal:
        return min(self.bonus, self.bonus_limit)

    @property
    def counted_deduction(self) -> Decimal:
        return min(self.deduction, self.deduction_limit)

    @property
    def bonus_over_limit(self) -> Decimal:
        """Bonus points given beyond the limit, which do not count."""
        return self.bonus - self.counted_bonus

    @property
    def deduction_over_limit(self) -> Decimal:
        """Deduction points given beyond the limit, which do not count."""
        return self.deduction - self.counted_deduction


@dataclass(frozen=True, slots=True)
class Breakdown:
    """How a score came about, for the notice and the supervisor's card.

    Attributes:
        post_type: Whose indicators were used.
        indicators: Every indicator of the post type, in policy order, present or not.
        base: The weighted indicator scores (0..100), before points.
        points: The points as given, in the order given.
        tally: The points summed and limited.
        total: base + counted bonus - counted deductions, before clamping and rounding.
        value: The score: total clamped to 0..100 and rounded once.
        rounding: The step and mode it was rounded with, e.g. ("0.01", "half_up").
        misconduct: Whether an entry was rejected for misconduct.
    """

    post_type: str
    indicators: tuple[IndicatorPart, ...]
    base: Decimal
    points: tuple[PointsFact, ...]
    tally: PointsTally
    total: Decimal
    value: Decimal
    rounding: tuple[Decimal, str]
    misconduct: bool

    @property
    def missing_indicators(self) -> tuple[str, ...]:
        """Indicators without entries or ratings, whose weight went to the others."""
        return tuple(part.indicator_id for part in self.indicators if not part.present)

    @property
    def nothing_present(self) -> bool:
        """No indicator had anything to go on, so the base is 0."""
        return all(not part.present for part in self.indicators)

    @property
    def disqualified(self) -> bool:
        """Whether a fact of the period bars the top grade."""
        return self.misconduct or any(fact.disqualifying for fact in self.points)

    def to_json(self) -> dict[str, Any]:
        """The breakdown as plain JSON values (decimals as strings), for storing."""
        return {
            "version": BREAKDOWN_VERSION,
            "post_type": self.post_type,
            "indicators": [_part_to_json(part) for part in self.indicators],
            "missing_indicators": list(self.missing_indicators),
            "base": str(self.base),
            "points": [
                {
                    "amount": str(fact.amount),
                    "reason": fact.reason,
                    "disqualifying": fact.disqualifying,
                }
                for fact in self.points
            ],
            "bonus": {
                "given": str(self.tally.bonus),
                "limit": str(self.tally.bonus_limit),
                "counted": str(self.tally.counted_bonus),
            },
            "deduction": {
                "given": str(self.tally.deduction),
                "limit": str(self.tally.deduction_limit),
                "counted": str(self.tally.counted_deduction),
            },
            "total": str(self.total),
            "value": str(self.value),
            "rounding": {"step": str(self.rounding[0]), "mode": self.rounding[1]},
            "misconduct": self.misconduct,
            "disqualified": self.disqualified,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Breakdown:
        """Read a stored breakdown back.

        Raises:
            ValueError: If it was written by an unknown version of this format.
        """
        if data.get("version") != BREAKDOWN_VERSION:
            raise ValueError(f"unknown breakdown version {data.get('version')!r}")
        bonus, deduction = data["bonus"], data["deduction"]
        return cls(
            post_type=data["post_type"],
            indicators=tuple(_part_from_json(part) for part in data["indicators"]),
            base=Decimal(data["base"]),
            points=tuple(
                PointsFact(Decimal(fact["amount"]), fact["reason"], fact["disqualifying"])
                for fact in data["points"]
            ),
            tally=PointsTally(
                bonus=Decimal(bonus["given"]),
                deduction=Decimal(deduction["given"]),
                bonus_limit=Decimal(bonus["limit"]),
                deduction_limit=Decimal(deduction["limit"]),
            ),
            total=Decimal(data["total"]),
            value=Decimal(data["value"]),
            rounding=(Decimal(data["rounding"]["step"]), data["rounding"]["mode"]),
            misconduct=data["misconduct"],
        )


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _optional(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _part_to_json(part: IndicatorPart) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": part.indicator_id,
        "kind": part.kind,
        "common": part.common,
        "aggregate": part.aggregate,
        "points": str(part.points),
        "count": part.sample_size,
        "raw": _number(part.raw),
        "score": _number(part.score),
        "weight": str(part.weight),
        "effective_weight": _number(part.effective_weight),
        "present": part.present,
    }
    if part.kind == "qualitative":
        data["raters"] = [
            {
                "rater": rater.rater,
                "count": rater.sample_size,
                "mean": _number(rater.mean),
                "weight": str(rater.weight),
                "effective_weight": _number(rater.effective_weight),
            }
            for rater in part.raters
        ]
        data["missing_raters"] = [rater.rater for rater in part.raters if rater.mean is None]
    return data


def _part_from_json(data: Mapping[str, Any]) -> IndicatorPart:
    return IndicatorPart(
        indicator_id=data["id"],
        kind=data["kind"],
        common=data["common"],
        aggregate=data["aggregate"],
        points=Decimal(data["points"]),
        sample_size=data["count"],
        raw=_optional(data["raw"]),
        score=_optional(data["score"]),
        weight=Decimal(data["weight"]),
        effective_weight=_optional(data["effective_weight"]),
        raters=tuple(
            RaterPart(
                rater=rater["rater"],
                sample_size=rater["count"],
                mean=_optional(rater["mean"]),
                weight=Decimal(rater["weight"]),
                effective_weight=_optional(rater["effective_weight"]),
            )
            for rater in data.get("raters", ())
        ),
    )


class Score:
    """A person's score for a period: the rounded value and how it came about.

    The breakdown is worked out when first asked for, by the same code that computed the
    value, so scoring a whole organisation for its grades costs only the arithmetic.
    """

    __slots__ = ("_breakdown", "_facts", "_scorer", "department_id", "staff_id", "value")

    def __init__(self, scorer: Scorer, facts: PeriodFacts, value: Decimal) -> None:
        self.staff_id = facts.staff_id
        self.department_id = facts.department_id
        self.value = value
        self._scorer = scorer
        self._facts = facts
        self._breakdown: Breakdown | None = None

    @property
    def disqualified(self) -> bool:
        """Whether a fact of the period bars the top grade."""
        facts = self._facts
        return facts.misconduct or any(fact.disqualifying for fact in facts.points)

    @property
    def breakdown(self) -> Breakdown:
        """How the score came about (computed once, on first use)."""
        if self._breakdown is None:
            self._breakdown = self._scorer.explain(self._facts)
        return self._breakdown

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Score):
            return NotImplemented
        return (self.staff_id, self.department_id, self.value, self.breakdown) == (
            other.staff_id,
            other.department_id,
            other.value,
            other.breakdown,
        )

    def __hash__(self) -> int:
        return hash((self.staff_id, self.department_id, self.value))

    def __repr__(self) -> str:
        return f"Score(staff_id={self.staff_id}, value={self.value})"


# --- who rates what, and the points limits ------------------------------------------------


def raters_for(policy: Policy, post_type: str, indicator: Indicator) -> tuple[Rater, ...]:
    """The rater kinds who rate an indicator of a post type, in the policy's rater order.

    A qualitative indicator is rated by every kind whose weight for the post type is above
    0 (so ``self`` rates each one where the self weight is above 0); a quantitative one by
    nobody.

    Raises:
        KeyError: If the policy has no such post type.
    """
    if indicator.kind != "qualitative":
        return ()
    weights = policy.raters[post_type]
    return tuple(rater for rater in RATERS if weights.weight_of(rater) > 0)


def rating_scale(policy: Policy) -> range:
    """The ratings a rater may give, 1 to ``[monthly_check] rating_max``: one button each."""
    return range(1, policy.monthly_check.rating_max + 1)


def tally_points(policy: Policy, points: Sequence[PointsFact]) -> PointsTally:
    """Sum a period's points and set them against the policy's per-period limits."""
    check = policy.monthly_check
    bonus = sum((fact.amount for fact in points if fact.amount > 0), _ZERO)
    deduction = -sum((fact.amount for fact in points if fact.amount < 0), _ZERO)
    return PointsTally(bonus, deduction, check.max_bonus_points, check.max_deduction_points)


@dataclass(frozen=True, slots=True)
class PointsLeft:
    """How many more bonus and deduction points would still count this period."""

    bonus: Decimal
    deduction: Decimal

    def allows(self, amount: Decimal) -> bool:
        """Whether all of a new signed amount would count (for the points input)."""
        if amount > 0:
            return amount <= self.bonus
        return -amount <= self.deduction


def points_left(policy: Policy, points: Sequence[PointsFact]) -> PointsLeft:
    """The room left under the per-period limits, given the points already given."""
    tally = tally_points(policy, points)
    return PointsLeft(
        bonus=max(_ZERO, tally.bonus_limit - tally.bonus),
        deduction=max(_ZERO, tally.deduction_limit - tally.deduction),
    )


# --- the scorer ----------------------------------------------------------------------------

# An indicator, ready to score: id, qualitative?, common?, mean?, points, weight, raters.
_Spec = tuple[
    str, bool, bool, bool, Decimal, Decimal, tuple[tuple[Rater, Decimal, tuple[str, Rater]], ...]
]
# An indicator's result: raw, score (both None when absent), count, rater parts.
_Result = tuple[Decimal | None, Decimal | None, int, tuple[RaterPart, ...]]


class Scorer:
    """Scores people under one policy; build it once per run, then call ``score`` per person.

    The per-post-type tables (indicators, weights, raters) are read from the policy once,
    so scoring a person does no validation and no look-ups beyond its own facts.

    Peers are anonymous (``[peers] min_raters``): an indicator's peer ratings count only
    once at least ``min_raters`` peers have rated it, and below that the result is exactly
    as if none had (the part is renormalised away). Their number is in no result: a
    rater part of peers has ``sample_size`` 0 and an indicator's ``sample_size`` leaves
    them out, so nothing shown changes when one more peer rates, but their average.
    """

    def __init__(self, policy: Policy) -> None:
        check = policy.monthly_check
        self._rating_max = check.rating_max
        self._peer_min = policy.peers.min_raters
        self._bonus_limit = check.max_bonus_points
        self._deduction_limit = check.max_deduction_points
        self._step = policy.assessment.score_rounding
        self._mode = policy.assessment.score_rounding_mode
        self._decimal_mode = _ROUNDING[self._mode]
        self._indicators: dict[str, tuple[Indicator, ...]] = {}
        self._specs: dict[str, tuple[_Spec, ...]] = {}
        for post_type in policy.post_types:
            weights = policy.raters[post_type]
            indicators = policy.indicators_for(post_type)
            self._indicators[post_type] = indicators
            self._specs[post_type] = tuple(
                (
                    indicator.id,
                    indicator.kind == "qualitative",
                    indicator.common,
                    indicator.kind == "quantitative" and indicator.quantity_aggregate == "mean",
                    indicator.points,
                    indicator.weight,
                    tuple(
                        (rater, weights.weight_of(rater), (indicator.id, rater))
                        for rater in raters_for(policy, post_type, indicator)
                    ),
                )
                for indicator in indicators
            )

    def score(self, facts: PeriodFacts) -> Score:
        """Score one person's period.

        Raises:
            KeyError: If the policy has no such post type.
            ValueError: If a rating lies outside 1..rating_max, an entry count is negative,
                or a bonus is marked disqualifying.
        """
        return Score(self, facts, self._evaluate(facts, None)[2])

    def explain(self, facts: PeriodFacts) -> Breakdown:
        """The breakdown of one person's score (what ``Score.breakdown`` returns)."""
        results: list[_Result] = []
        base, total, value, bonus, deduction = self._evaluate(facts, results)
        present_weight = sum(
            (
                spec[5]
                for spec, result in zip(self._specs[facts.post_type], results, strict=True)
                if result[1] is not None
            ),
            _ZERO,
        )
        parts = tuple(
            IndicatorPart(
                indicator_id=indicator.id,
                kind=indicator.kind,
                common=indicator.common,
                aggregate=(
                    indicator.quantity_aggregate if indicator.kind == "quantitative" else None
                ),
                points=indicator.points,
                sample_size=count,
                raw=raw,
                score=indicator_score,
                weight=indicator.weight,
                effective_weight=(
                    None if indicator_score is None else indicator.weight / present_weight
                ),
                raters=raters,
            )
            for indicator, (raw, indicator_score, count, raters) in zip(
                self._indicators[facts.post_type], results, strict=True
            )
        )
        return Breakdown(
            post_type=facts.post_type,
            indicators=parts,
            base=base,
            points=tuple(facts.points),
            tally=PointsTally(bonus, deduction, self._bonus_limit, self._deduction_limit),
            total=total,
            value=value,
            rounding=(self._step, self._mode),
            misconduct=facts.misconduct,
        )

    def _evaluate(
        self, facts: PeriodFacts, results: list[_Result] | None
    ) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        # The one place the formula is computed; ``results`` collects the parts to explain.
        quantities = facts.quantities
        weighted = _ZERO
        present_weight = _ZERO
        for spec in self._specs[facts.post_type]:
            if spec[1]:
                result = self._rated(spec, facts.ratings, results is not None)
            else:
                result = _counted(spec, quantities.get(spec[0]))
            if result[1] is not None:
                weighted += spec[5] * result[1]
                present_weight += spec[5]
            if results is not None:
                results.append(result)
        base = weighted / present_weight if present_weight else _ZERO
        bonus = _ZERO
        deduction = _ZERO
        for fact in facts.points:
            amount = fact.amount
            if amount > 0:
                if fact.disqualifying:
                    raise ValueError(f"a bonus cannot be disqualifying (got {amount})")
                bonus += amount
            else:
                deduction -= amount
        bonus_limit = self._bonus_limit
        deduction_limit = self._deduction_limit
        total = (
            base
            + (bonus if bonus < bonus_limit else bonus_limit)
            - (deduction if deduction < deduction_limit else deduction_limit)
        )
        clamped = _ZERO if total < 0 else _HUNDRED if total > _HUNDRED else total
        # A third of a rating, times three, comes back as 25.999...9 at 28 digits; read at
        # 18 places (finer than any score step, coarser than the noise) it is 26 again, so
        # the one rounding to the step below sees the exact value.
        exact = clamped.quantize(_GUARD, rounding=ROUND_HALF_EVEN)
        value = exact.quantize(self._step, rounding=self._decimal_mode)
        return base, total, value, bonus, deduction

    def _rated(
        self, spec: _Spec, ratings: Mapping[tuple[str, Rater], RatingFacts], explain: bool
    ) -> _Result:
        rating_max = self._rating_max
        weighted = _ZERO
        present_weight = _ZERO
        total_count = 0
        for rater, weight, key in spec[6]:
            facts = ratings.get(key)
            if facts is None:
                continue
            count = facts.count
            if not count:
                continue
            if not count <= facts.sum <= count * rating_max:
                raise ValueError(
                    f"{spec[0]}: {count} ratings by {rater} summing to "
                    f"{facts.sum} cannot all lie in 1..{rating_max}"
                )
            if rater == "peer":
                if count < self._peer_min:
                    continue  # too few to be anonymous: as if no peer had rated
            else:
                total_count += count  # never the peers': a count that moves by one
            weighted += weight * facts.sum / count
            present_weight += weight
        if not present_weight:
            raw = score = None
        else:
            raw = weighted / present_weight
            score = _HUNDRED * raw / rating_max
        if not explain:
            return raw, score, total_count, ()
        parts = []
        for rater, weight, key in spec[6]:
            facts = ratings.get(key)
            peer = rater == "peer"
            if facts is None or not facts.count or (peer and facts.count < self._peer_min):
                parts.append(RaterPart(rater, 0, None, weight, None))
            else:
                mean = Decimal(facts.sum) / facts.count
                # The peers' number is never told, only their average (see ``Scorer``).
                shown = 0 if peer else facts.count
                parts.append(RaterPart(rater, shown, mean, weight, weight / present_weight))
        return raw, score, total_count, tuple(parts)


def _counted(spec: _Spec, quantity: QuantityFacts | None) -> _Result:
    if quantity is None:
        count = 0
        raw: Decimal | None = None if spec[3] else _ZERO
    else:
        count = quantity.count
        if count < 0:
            raise ValueError(f"{spec[0]}: an entry count cannot be negative (got {count})")
        mean_of_none = spec[3] and not count
        raw = None if mean_of_none else quantity.total / count if spec[3] else quantity.total
    if raw is None:
        return None, None, count, ()
    earned = spec[4] * raw
    if spec[2]:
        earned = _HUNDRED - earned
    score = _HUNDRED if earned > _HUNDRED else _ZERO if earned < 0 else earned
    return raw, score, count, ()


def score(policy: Policy, facts: PeriodFacts) -> Score:
    """Score one person's period; to score many, build one ``Scorer`` and reuse it."""
    return Scorer(policy).score(facts)
