"""Third-party evaluators' pure rules: their links' shape, whom and what they may rate,
and when."""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path

import pytest

from assessment import periods, third_parties
from assessment.invitations import new_code
from assessment.periods import period_of
from assessment.third_parties import Refusal
from config.policy import load_policy

POLICY = load_policy()
MINIMAL = load_policy(Path(__file__).parent / "policy_cases" / "minimal.toml")
NOVEMBER = period_of(date(2026, 11, 1), POLICY)


def test_a_link_never_looks_like_an_invitation() -> None:
    code = secrets.token_urlsafe(third_parties.CODE_BYTES)
    assert third_parties.is_payload("t_" + code)
    for _ in range(50):
        invitation = new_code()
        assert len(invitation) == 32
        # Even an invitation that happens to start with t_ is one.
        assert not third_parties.is_payload("t_" + invitation[2:])
        assert not third_parties.is_payload(invitation)
    assert not third_parties.is_payload("c_" + code)
    assert not third_parties.is_payload("t_" + code[:-1] + "!")
    assert not third_parties.is_payload("t_" + code + "A")


def test_rated_indicators_are_the_qualitative_ones_with_a_third_party_weight() -> None:
    assert [i.id for i in third_parties.rated_indicators(POLICY, "law_enforcement")] == [
        "enforcement_compliance"
    ]
    # Management's qualitative indicators have no third-party weight; service has none.
    assert third_parties.rated_indicators(POLICY, "management") == ()
    assert third_parties.rated_indicators(POLICY, "service") == ()
    assert third_parties.rated_indicators(POLICY, "no_such_post_type") == ()
    # A policy written before third parties gives them nothing to rate.
    for post_type in MINIMAL.post_types:
        assert third_parties.rated_indicators(MINIMAL, post_type) == ()


@pytest.mark.parametrize(
    ("department", "post_type", "indicator", "allowed"),
    [
        (1, "law_enforcement", "enforcement_compliance", True),
        (2, "law_enforcement", "enforcement_compliance", True),
        (3, "law_enforcement", "enforcement_compliance", False),  # not their department
        (1, "law_enforcement", "cases_handled", False),  # counted, not rated
        (1, "management", "risk_control", False),  # no third-party weight
        (1, "management", "enforcement_compliance", False),  # not that post type's
        (1, "unknown", "enforcement_compliance", False),
    ],
)
def test_who_an_evaluator_may_rate(
    department: int, post_type: str, indicator: str, allowed: bool
) -> None:
    assert third_parties.may_rate(POLICY, {1, 2}, department, post_type, indicator) is allowed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zhang San / City Law Firm", ("Zhang San", "City Law Firm")),
        ("张三／市律师事务所", ("张三", "市律师事务所")),
        ("  Zhang   San  ", ("Zhang San", "")),
        ("A / B / C", ("A", "B / C")),
        (" / Firm", None),
        ("", None),
        ("x" * 201, None),
        ("x / " + "y" * 201, None),
    ],
)
def test_who_is_a_name_and_an_organisation(text: str, expected: tuple[str, str] | None) -> None:
    assert third_parties.parse_who(text) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 20), Refusal.NOT_YET),  # the month is still open
        (date(2026, 11, 25), None),  # self-assessment opens: the work is done
        (date(2026, 12, 4), None),  # supervisor review
        (date(2026, 12, 8), None),  # calibration
    ],
)
def test_the_ratings_window(day: date, expected: Refusal | None) -> None:
    assert third_parties.ratings_window(periods.stage_on(NOVEMBER, day, POLICY)) is expected


def test_a_published_period_takes_no_more_ratings() -> None:
    stage = periods.stage_on(NOVEMBER, date(2026, 12, 9), POLICY, published=True)
    assert stage is periods.Stage.PUBLISHED
    assert third_parties.ratings_window(stage) is Refusal.CLOSED
