"""The score of one person's period: the worked example, each rule, and properties."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.scoring import (
    Breakdown,
    PeriodFacts,
    PointsFact,
    QuantityFacts,
    RatingFacts,
    Scorer,
    points_left,
    raters_for,
    rating_scale,
    score,
    tally_points,
)
from config.policy import RATERS, Policy, Rater, load_policy

D = Decimal
MINIMAL_PATH = Path(__file__).parent / "policy_cases" / "minimal.toml"
DEFAULT = load_policy()
MINIMAL = load_policy(MINIMAL_PATH)


def _with(policy: Policy, **monthly_check: object) -> Policy:
    return policy.model_copy(
        update={"monthly_check": policy.monthly_check.model_copy(update=monthly_check)}
    )


def _rounded(policy: Policy, step: str, mode: str) -> Policy:
    assessment = policy.assessment.model_copy(
        update={"score_rounding": D(step), "score_rounding_mode": mode}
    )
    return policy.model_copy(update={"assessment": assessment})


def _mean_permits(tmp_path: Path) -> Policy:
    # The minimal policy, its service quantity averaged: a post type that can lack everything.
    text = MINIMAL_PATH.read_text(encoding="utf-8").replace(
        "points = 0.5\ncommon = false\n", 'points = 0.5\ncommon = false\naggregate = "mean"\n'
    )
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def _service(
    permits: str | None = None,
    ratings: Mapping[Rater, tuple[int, int]] | None = None,
    points: tuple[PointsFact, ...] = (),
    *,
    permit_count: int = 1,
) -> PeriodFacts:
    return PeriodFacts(
        staff_id=7,
        department_id=1,
        post_type="service",
        quantities={}
        if permits is None
        else {"permits_processed": QuantityFacts(D(permits), permit_count)},
        ratings={
            ("satisfaction", rater): RatingFacts(total, count)
            for rater, (total, count) in (ratings or {}).items()
        },
        points=points,
    )


# --- the worked example of README.md and config/policies/default.toml ---------------------

WORKED = PeriodFacts(
    staff_id=1,
    department_id=10,
    post_type="law_enforcement",
    quantities={
        "case_closure_rate": QuantityFacts(D(90 + 96 + 99), 3),
        "complaint_rate": QuantityFacts(D(1), 1),
        "cases_handled": QuantityFacts(D(46), 9),
    },
    ratings={
        ("enforcement_compliance", "supervisor"): RatingFacts(4, 1),
        ("enforcement_compliance", "self"): RatingFacts(5, 1),
        ("enforcement_compliance", "service_recipient"): RatingFacts(3 + 4, 2),
    },
    points=(PointsFact(D(3), "Led the flood response"), PointsFact(D(-2), "Late report")),
)


def test_worked_example_digit_for_digit() -> None:
    result = score(DEFAULT, WORKED)
    assert str(result.value) == "91.66"
    breakdown = result.breakdown
    lines = {part.indicator_id: part for part in breakdown.indicators}
    closure = lines["case_closure_rate"]
    assert closure.aggregate == "mean"
    assert (closure.raw, closure.score, closure.sample_size) == (95, 95, 3)
    compliance = lines["enforcement_compliance"]
    assert str(compliance.raw) == "4.0625"
    assert compliance.score == D("81.25")
    assert [(r.rater, r.mean, r.weight, r.effective_weight) for r in compliance.raters] == [
        ("supervisor", D(4), D("0.6"), D("0.75")),
        ("self", D(5), D("0.1"), D("0.125")),
        ("peer", None, D("0.1"), None),
        ("service_recipient", D("3.5"), D("0.1"), D("0.125")),
        ("third_party", None, D("0.1"), None),
    ]
    assert lines["complaint_rate"].score == 95
    assert lines["cases_handled"].score == 92
    assert [part.effective_weight for part in breakdown.indicators] == [
        D("0.3"),
        D("0.25"),
        D("0.15"),
        D("0.3"),
    ]
    assert str(breakdown.base) == "90.6625"
    assert str(breakdown.total) == "91.6625"
    assert (breakdown.tally.counted_bonus, breakdown.tally.counted_deduction) == (3, 2)
    assert breakdown.missing_indicators == ()
    assert DEFAULT.grade_for(result.value).id == "excellent"
    stored = breakdown.to_json()
    assert stored["indicators"][1]["missing_raters"] == ["peer", "third_party"]
    assert stored["value"] == "91.66"


def test_breakdown_is_plain_json_and_reads_back() -> None:
    breakdown = score(DEFAULT, WORKED).breakdown
    text = json.dumps(breakdown.to_json())
    assert Breakdown.from_json(json.loads(text)) == breakdown
    # Decimals travel as strings, never as JSON numbers (floats when read back).
    assert not any(
        isinstance(value, float) for value in _leaves(json.loads(text, parse_float=float))
    )


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_unknown_breakdown_version_is_refused() -> None:
    stored = score(DEFAULT, WORKED).breakdown.to_json() | {"version": 99}
    with pytest.raises(ValueError, match="unknown breakdown version 99"):
        Breakdown.from_json(stored)


# --- indicators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [("0", "0"), ("20", "40"), ("49.5", "99"), ("50", "100"), ("80", "100")],
)
def test_personal_quantity_earns_points_up_to_full_marks(total: str, expected: str) -> None:
    facts = PeriodFacts(1, 1, "law_enforcement", {"cases_handled": QuantityFacts(D(total), 3)})
    line = score(DEFAULT, facts).breakdown.indicators[3]
    assert (line.indicator_id, line.score) == ("cases_handled", D(expected))


@pytest.mark.parametrize(
    ("complaints", "expected"), [(0, 100), (1, 95), (19, 5), (20, 0), (30, 0)]
)
def test_common_quantity_is_deduction_only(complaints: int, expected: int) -> None:
    facts = PeriodFacts(
        1, 1, "law_enforcement", {"complaint_rate": QuantityFacts(D(complaints), complaints)}
    )
    line = score(DEFAULT, facts).breakdown.indicators[2]
    assert (line.indicator_id, line.score) == ("complaint_rate", expected)


def test_a_sum_without_entries_is_zero_and_a_mean_without_entries_is_absent() -> None:
    facts = PeriodFacts(1, 1, "law_enforcement")
    lines = {part.indicator_id: part for part in score(DEFAULT, facts).breakdown.indicators}
    assert lines["cases_handled"].raw == 0
    assert lines["cases_handled"].score == 0
    assert lines["complaint_rate"].score == 100
    assert not lines["case_closure_rate"].present
    counted_zero = PeriodFacts(
        1, 1, "law_enforcement", {"case_closure_rate": QuantityFacts(D(0), 0)}
    )
    assert not score(DEFAULT, counted_zero).breakdown.indicators[0].present


def test_a_person_without_facts_gets_a_defined_score() -> None:
    # Nothing logged or rated: no cases (0), no upheld complaint (100); the closure rate and
    # compliance are absent, so 100 x 0.15 / (0.15 + 0.3) = 33.33.
    result = score(DEFAULT, PeriodFacts(1, 1, "law_enforcement"))
    assert result.value == D("33.33")
    assert result.breakdown.missing_indicators == ("case_closure_rate", "enforcement_compliance")


def test_nothing_present_scores_a_base_of_zero(tmp_path: Path) -> None:
    policy = _mean_permits(tmp_path)
    result = score(policy, _service())
    assert result.breakdown.nothing_present
    assert (result.breakdown.base, result.value) == (0, 0)
    assert all(part.effective_weight is None for part in result.breakdown.indicators)
    # Points still count on top of the base of 0.
    bonus = score(policy, _service(points=(PointsFact(D(4), "Helped out"),)))
    assert bonus.value == 4


def test_absent_indicator_gives_its_weight_to_the_others() -> None:
    result = score(MINIMAL, _service("150"))  # 0.5 x 150 = 75; satisfaction not rated
    assert result.value == 75
    permits, satisfaction = result.breakdown.indicators
    assert (permits.weight, permits.effective_weight) == (D("0.6"), 1)
    assert not satisfaction.present
    assert result.breakdown.missing_indicators == ("satisfaction",)
    assert result.breakdown.to_json()["missing_indicators"] == ["satisfaction"]


def test_raters_are_renormalised_over_those_present() -> None:
    # Service: supervisor 0.4, self 0.1, peer 0.1, service recipient 0.4.
    only_supervisor = score(MINIMAL, _service("100", {"supervisor": (3, 1)}))
    satisfaction = only_supervisor.breakdown.indicators[1]
    assert satisfaction.score == 60  # 100 x 3 / 5: rating_max, not the 50 points, is the scale
    assert [r.effective_weight for r in satisfaction.raters] == [1, None, None, None]
    # 0.6 x 50 + 0.4 x 60
    assert only_supervisor.value == 54
    both = score(MINIMAL, _service("100", {"supervisor": (3, 1), "service_recipient": (14, 3)}))
    satisfaction = both.breakdown.indicators[1]
    # (0.4 x 3 + 0.4 x 14/3) / 0.8 = 23/6; x 100 / 5 = 76.67; 0.6 x 50 + 0.4 x 76.666... = 60.67
    assert satisfaction.raw is not None
    assert satisfaction.raw.quantize(D("0.0001")) == D("3.8333")
    assert [r.effective_weight for r in satisfaction.raters] == [D("0.5"), None, None, D("0.5")]
    assert both.value == D("60.67")


def test_a_third_party_rating_enters_with_its_weight() -> None:
    # The worked example, plus one external evaluator's 5 on compliance: the kinds present
    # now weigh 0.6 + 0.1 + 0.1 + 0.1 = 0.9 (only the peers' 0.1 is spread over the rest).
    with_evaluator = dataclasses.replace(
        WORKED,
        ratings={**WORKED.ratings, ("enforcement_compliance", "third_party"): RatingFacts(5, 1)},
    )
    compliance = score(DEFAULT, with_evaluator).breakdown.indicators[1]
    assert compliance.raw is not None
    # (0.6 x 4 + 0.1 x 5 + 0.1 x 3.5 + 0.1 x 5) / 0.9 = 3.75 / 0.9 = 4.1666...
    assert compliance.raw.quantize(D("0.0001")) == D("4.1667")
    by_kind = {r.rater: r for r in compliance.raters}
    assert by_kind["third_party"].mean == 5
    assert by_kind["third_party"].effective_weight == D("0.1") / D("0.9")
    assert by_kind["peer"].effective_weight is None
    # base 28.5 + 0.25 x 83.333... + 14.25 + 27.6 = 91.1833...; +3 - 2 -> 92.18
    assert score(DEFAULT, with_evaluator).value == D("92.18")


def test_rating_scale_comes_from_the_policy() -> None:
    ten = _with(MINIMAL, rating_max=10)
    # No permits (0) x 0.6 + 100 x 7 / 10 x 0.4
    assert score(ten, _service(None, {"self": (7, 1)})).value == 28
    with pytest.raises(ValueError, match=r"cannot all lie in 1\.\.5"):
        score(MINIMAL, _service(None, {"self": (6, 1)}))
    with pytest.raises(ValueError, match="cannot all lie"):
        score(MINIMAL, _service(None, {"self": (1, 2)}))


def test_rating_scale_offers_one_button_per_rating() -> None:
    assert list(rating_scale(MINIMAL)) == [1, 2, 3, 4, 5]
    assert list(rating_scale(_with(MINIMAL, rating_max=3))) == [1, 2, 3]
    assert 0 not in rating_scale(MINIMAL)
    assert 6 not in rating_scale(MINIMAL)


def test_ratings_from_a_kind_without_weight_are_ignored() -> None:
    facts = PeriodFacts(
        1,
        1,
        "management",
        ratings={
            ("risk_control", "supervisor"): RatingFacts(5, 1),
            ("risk_control", "service_recipient"): RatingFacts(1, 1),
        },
    )
    risk = score(DEFAULT, facts).breakdown.indicators[2]
    assert risk.indicator_id == "risk_control"
    assert risk.score == 100
    assert [r.rater for r in risk.raters] == ["supervisor", "self", "peer"]


def test_raters_for() -> None:
    compliance = DEFAULT.indicator("enforcement_compliance")
    assert raters_for(DEFAULT, "law_enforcement", compliance) == RATERS
    coordination = DEFAULT.indicator("interdepartment_coordination")
    assert raters_for(DEFAULT, "management", coordination) == ("supervisor", "self", "peer")
    assert raters_for(DEFAULT, "law_enforcement", DEFAULT.indicator("cases_handled")) == ()


def test_negative_entry_count_is_refused() -> None:
    with pytest.raises(ValueError, match="entry count cannot be negative"):
        score(MINIMAL, _service("10", permit_count=-1))


def test_unknown_post_type_is_refused() -> None:
    with pytest.raises(KeyError):
        score(MINIMAL, PeriodFacts(1, 1, "astronaut"))


# --- points, clamping, rounding ------------------------------------------------------------


def test_points_beyond_the_limits_do_not_count() -> None:
    points = (
        PointsFact(D(6), "A"),
        PointsFact(D(9), "B"),
        PointsFact(D(-15), "C"),
        PointsFact(D(-10), "D"),
    )
    result = score(MINIMAL, _service("100", points=points))  # base 50
    tally = result.breakdown.tally
    assert (tally.bonus, tally.counted_bonus, tally.bonus_over_limit) == (15, 10, 5)
    assert (tally.deduction, tally.counted_deduction, tally.deduction_over_limit) == (25, 20, 5)
    assert result.value == 40
    stored = result.breakdown.to_json()
    assert stored["bonus"] == {"given": "15", "limit": "10", "counted": "10"}
    assert stored["deduction"] == {"given": "25", "limit": "20", "counted": "20"}
    assert [p["reason"] for p in stored["points"]] == ["A", "B", "C", "D"]


def test_points_left_for_the_input() -> None:
    given = (PointsFact(D(6), "A"), PointsFact(D(-19), "B"))
    left = points_left(MINIMAL, given)
    assert (left.bonus, left.deduction) == (4, 1)
    assert left.allows(D(4))
    assert not left.allows(D("4.5"))
    assert left.allows(D(-1))
    assert not left.allows(D(-2))
    over = points_left(_with(MINIMAL, max_bonus_points=D(5)), given)
    assert over.bonus == 0
    assert tally_points(MINIMAL, given).deduction == 19


@pytest.mark.parametrize(
    ("permits", "points", "total", "value"),
    [
        ("200", (PointsFact(D(5), "Extra"),), "105", "100"),
        ("0", (PointsFact(D(-3), "Lapse"),), "-3", "0"),
        ("200", (), "100", "100"),
        ("0", (), "0", "0"),
    ],
    ids=["above-100", "below-0", "exactly-100", "exactly-0"],
)
def test_total_is_clamped_to_0_and_100(
    permits: str, points: tuple[PointsFact, ...], total: str, value: str
) -> None:
    result = score(MINIMAL, _service(permits, points=points))
    assert (result.breakdown.total, result.value) == (D(total), D(value))


@pytest.mark.parametrize(
    ("step", "mode", "expected"),
    [
        ("0.01", "half_up", "80.13"),
        ("0.01", "half_even", "80.12"),
        ("0.01", "down", "80.12"),
        ("0.01", "up", "80.13"),
        ("1", "half_up", "80"),
        ("1", "up", "81"),
        ("0.1", "half_even", "80.1"),
        ("0.000001", "down", "80.125000"),
    ],
)
def test_each_rounding_mode(step: str, mode: str, expected: str) -> None:
    result = score(_rounded(MINIMAL, step, mode), _service("160.25"))  # 0.5 x 160.25 = 80.125
    assert str(result.breakdown.total) == "80.125"
    assert str(result.value) == expected


def test_sevenths_that_add_up_to_a_half_round_as_the_exact_half() -> None:
    # Closure rate 5/7 x 0.3 = 1.5/7; compliance rated 20 by 7 ratings, 100 x (20/7) / 5 x
    # 0.25 = 100/7; no upheld complaint 100 x 0.15 = 15; no cases 0. Exactly 14.5 + 15 =
    # 29.5, but 29.4999...99 at 28 digits, which half_up to whole points would make 29.
    facts = PeriodFacts(
        1,
        1,
        "law_enforcement",
        quantities={"case_closure_rate": QuantityFacts(D(5), 7)},
        ratings={("enforcement_compliance", "supervisor"): RatingFacts(20, 7)},
    )
    result = score(_rounded(DEFAULT, "1", "half_up"), facts)
    assert result.breakdown.total == D("29.49999999999999999999999999")
    assert result.value == 30
    assert score(_rounded(DEFAULT, "1", "down"), facts).value == 29


# --- disqualification ----------------------------------------------------------------------


def test_disqualifying_facts() -> None:
    plain = score(MINIMAL, _service("100", points=(PointsFact(D(-1), "Late"),)))
    assert not plain.disqualified
    deduction = PointsFact(D(-2), "Falsified a record", disqualifying=True)
    marked = score(MINIMAL, _service("100", points=(deduction,)))
    assert marked.disqualified
    assert marked.breakdown.disqualified
    assert marked.breakdown.to_json()["disqualified"] is True
    assert marked.value == 48  # the deduction counts as points too
    misconduct = score(MINIMAL, PeriodFacts(7, 1, "service", misconduct=True))
    assert misconduct.disqualified
    assert misconduct.breakdown.to_json()["misconduct"] is True
    with pytest.raises(ValueError, match="a bonus cannot be disqualifying"):
        score(MINIMAL, _service("1", points=(PointsFact(D(1), "x", disqualifying=True),)))


# --- properties ----------------------------------------------------------------------------

_amounts = st.decimals(min_value=-30, max_value=30, places=2, allow_nan=False)


@st.composite
def _facts(draw: st.DrawFn) -> PeriodFacts:
    post_type = draw(st.sampled_from(sorted(DEFAULT.post_types)))
    quantities = {}
    ratings = {}
    for indicator in DEFAULT.indicators_for(post_type):
        if indicator.kind == "quantitative":
            if draw(st.booleans()):
                count = draw(st.integers(0, 40))
                total = draw(st.decimals(min_value=0, max_value=5000, places=2))
                quantities[indicator.id] = QuantityFacts(total, count)
        else:
            for rater in raters_for(DEFAULT, post_type, indicator):
                if draw(st.booleans()):
                    count = draw(st.integers(1, 12))
                    total = draw(st.integers(count, count * 5))
                    ratings[(indicator.id, rater)] = RatingFacts(total, count)
    points = tuple(
        PointsFact(amount, f"reason {index}", disqualifying=amount <= 0 and draw(st.booleans()))
        for index, amount in enumerate(draw(st.lists(_amounts, max_size=5)))
    )
    return PeriodFacts(
        draw(st.integers(1, 10**6)),
        draw(st.integers(1, 50)),
        post_type,
        quantities,
        ratings,
        points,
        draw(st.booleans()),
    )


def _reference(policy: Policy, facts: PeriodFacts) -> Fraction:
    """The formula again, in exact rationals, written plainly from the README."""
    rating_max = policy.monthly_check.rating_max
    weights = policy.raters[facts.post_type]
    weighted = Fraction(0)
    present = Fraction(0)
    for indicator in policy.indicators_for(facts.post_type):
        value: Fraction | None = None
        if indicator.kind == "quantitative":
            quantity = facts.quantities.get(indicator.id, QuantityFacts(D(0), 0))
            if indicator.quantity_aggregate == "sum":
                raw: Fraction | None = Fraction(quantity.total)
            else:
                raw = Fraction(quantity.total) / quantity.count if quantity.count else None
            if raw is not None:
                earned = Fraction(indicator.points) * raw
                value = max(Fraction(0), 100 - earned) if indicator.common else min(100, earned)
        else:
            parts = [
                (Fraction(weights.weight_of(rater)), Fraction(rating.sum, rating.count))
                for rater in RATERS
                if weights.weight_of(rater) > 0
                and (rating := facts.ratings.get((indicator.id, rater))) is not None
                # Peers count from [peers] min_raters of them on.
                and (rater != "peer" or rating.count >= policy.peers.min_raters)
            ]
            if parts:
                mean = sum(w * m for w, m in parts) / sum(w for w, _ in parts)
                value = 100 * mean / rating_max
        if value is not None:
            weighted += Fraction(indicator.weight) * value
            present += Fraction(indicator.weight)
    base = weighted / present if present else Fraction(0)
    bonus = sum((Fraction(p.amount) for p in facts.points if p.amount > 0), Fraction(0))
    deduction = -sum((Fraction(p.amount) for p in facts.points if p.amount < 0), Fraction(0))
    check = policy.monthly_check
    total = (
        base
        + min(bonus, Fraction(check.max_bonus_points))
        - min(deduction, Fraction(check.max_deduction_points))
    )
    return min(Fraction(100), max(Fraction(0), total))


def _round(value: Fraction, step: Decimal, mode: str) -> Decimal:
    units = value / Fraction(step)
    low = math.floor(units)
    rest = units - low
    if mode == "down" or (mode in ("half_up", "half_even") and rest < Fraction(1, 2)):
        chosen = low
    elif mode == "up":
        chosen = low if rest == 0 else low + 1
    elif rest > Fraction(1, 2) or mode == "half_up":
        chosen = low + 1
    else:
        chosen = low if low % 2 == 0 else low + 1
    return (Decimal(chosen) * step).quantize(step)


@settings(max_examples=300, deadline=None)
@given(
    _facts(),
    st.sampled_from(["half_up", "half_even", "down", "up"]),
    st.sampled_from(["1", "0.01", "0.001"]),
)
def test_score_matches_the_exact_formula(facts: PeriodFacts, mode: str, step: str) -> None:
    policy = _rounded(DEFAULT, step, mode)
    result = Scorer(policy).score(facts)
    assert D(0) <= result.value <= D(100)
    assert result.value == _round(_reference(policy, facts), D(step), mode)
    assert result.value.as_tuple().exponent == D(step).as_tuple().exponent
    assert result.breakdown.value == result.value


@settings(max_examples=200, deadline=None)
@given(_facts(), st.randoms(use_true_random=False))
def test_recomputing_and_reordering_change_nothing(facts: PeriodFacts, rng: object) -> None:
    first = score(DEFAULT, facts)
    assert score(DEFAULT, facts) == first
    points = list(facts.points)
    rng.shuffle(points)  # type: ignore[attr-defined]
    shuffled = PeriodFacts(
        facts.staff_id,
        facts.department_id,
        facts.post_type,
        dict(reversed(list(facts.quantities.items()))),
        dict(reversed(list(facts.ratings.items()))),
        tuple(points),
        facts.misconduct,
    )
    again = score(DEFAULT, shuffled)
    assert again.value == first.value
    assert again.disqualified == first.disqualified
    assert again.breakdown.indicators == first.breakdown.indicators
    stored = json.loads(json.dumps(first.breakdown.to_json()))
    assert Breakdown.from_json(stored) == first.breakdown
    assert first.disqualified == (
        facts.misconduct or any(point.disqualifying for point in facts.points)
    )
