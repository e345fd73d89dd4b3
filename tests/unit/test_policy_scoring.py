"""The policy keys the score needs: aggregate, rating_max and the points limits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config.policy import DEFAULT_POLICY_PATH, QUARTERLY_POLICY_PATH, PolicyError, load_policy

MINIMAL = (Path(__file__).parent / "policy_cases" / "minimal.toml").read_text(encoding="utf-8")
ESCALATE = "escalate_after_days = 2\n"
CASES_COMMON = "points = 2\ncommon = false\n"
COMPLIANCE_COMMON = "points = 100\ncommon = true\n"


def _load(tmp_path: Path, old: str, new: str) -> Path:
    assert MINIMAL.count(old) == 1
    path = tmp_path / "policy.toml"
    path.write_text(MINIMAL.replace(old, new), encoding="utf-8")
    return path


def _problem(tmp_path: Path, old: str, new: str) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy(_load(tmp_path, old, new))
    return str(caught.value)


def test_defaults_when_the_keys_are_left_out() -> None:
    policy = load_policy(Path(__file__).parent / "policy_cases" / "minimal.toml")
    assert policy.monthly_check.rating_max == 5
    assert policy.monthly_check.max_bonus_points == Decimal(10)
    assert policy.monthly_check.max_deduction_points == Decimal(20)
    assert policy.indicator("cases_handled").aggregate is None
    assert policy.indicator("cases_handled").quantity_aggregate == "sum"


def test_keys_when_given(tmp_path: Path) -> None:
    path = _load(
        tmp_path,
        ESCALATE,
        ESCALATE + "rating_max = 10\nmax_bonus_points = 7.5\nmax_deduction_points = 0\n",
    )
    check = load_policy(path).monthly_check
    assert (check.rating_max, check.max_bonus_points, check.max_deduction_points) == (
        10,
        Decimal("7.5"),
        Decimal(0),
    )
    path = _load(tmp_path, CASES_COMMON, CASES_COMMON + 'aggregate = "mean"\n')
    assert load_policy(path).indicator("cases_handled").quantity_aggregate == "mean"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (ESCALATE, ESCALATE + "rating_max = 1\n", "monthly_check.rating_max: must be at least 2"),
        (ESCALATE, ESCALATE + "rating_max = 11\n", "monthly_check.rating_max: must be at most 10"),
        (
            ESCALATE,
            ESCALATE + "rating_max = 5.0\n",
            "monthly_check.rating_max: must be a whole number",
        ),
        (
            ESCALATE,
            ESCALATE + "max_bonus_points = -1\n",
            "monthly_check.max_bonus_points: must be at least 0",
        ),
        (
            ESCALATE,
            ESCALATE + 'max_bonus_points = "10"\n',
            "monthly_check.max_bonus_points: must be a number",
        ),
        (
            ESCALATE,
            ESCALATE + "max_deduction_points = 101\n",
            "monthly_check.max_deduction_points: must be at most 100",
        ),
        (
            CASES_COMMON,
            CASES_COMMON + 'aggregate = "median"\n',
            'indicators.law_enforcement[0].aggregate: must be "sum" or "mean"',
        ),
        (
            COMPLIANCE_COMMON,
            COMPLIANCE_COMMON + 'aggregate = "sum"\n',
            "indicators.law_enforcement[1].aggregate: only a quantitative indicator adds up",
        ),
    ],
    ids=[
        "rating-max-too-small",
        "rating-max-too-large",
        "rating-max-not-whole",
        "negative-bonus-limit",
        "bonus-limit-string",
        "deduction-limit-above-100",
        "unknown-aggregate",
        "aggregate-on-qualitative",
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert message in _problem(tmp_path, old, new)


@pytest.mark.parametrize("path", [DEFAULT_POLICY_PATH, QUARTERLY_POLICY_PATH], ids=["d", "q"])
def test_presets_average_their_rates(path: Path) -> None:
    policy = load_policy(path)
    for indicators in policy.indicators.values():
        for indicator in indicators:
            if indicator.kind == "quantitative":
                percent = indicator.unit is not None and indicator.unit.en == "%"
                assert indicator.quantity_aggregate == ("mean" if percent else "sum")
    check = policy.monthly_check
    assert (check.rating_max, check.max_bonus_points, check.max_deduction_points) == (5, 10, 20)
