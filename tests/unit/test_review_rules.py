"""The self-assessment's and the review's rules (``assessment.review``): who reviews whom,
which period, when, and what a points message may say."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessment.people import StaffMember
from assessment.periods import Period, Stage
from assessment.review import (
    MAX_REASON,
    MAX_SELF_TEXT,
    PointsError,
    Refusal,
    clean_text,
    parse_period,
    parse_points,
    point_decimals,
    rated_indicators,
    review_closed,
    review_period,
    reviews,
    self_closed,
    self_period,
)
from assessment.scoring import PointsFact, PointsLeft, points_left
from config.policy import Policy, load_policy
from storage.enums import Role, StaffStatus
from storage.models import Staff
from storage.repositories.reviews import ReviewRow

MONTHLY = load_policy()
QUARTERLY = load_policy(Path(__file__).parents[2] / "config" / "policies" / "quarterly.toml")
ROOM = PointsLeft(bonus=Decimal(10), deduction=Decimal(20))


def _member(staff_id: int, status: StaffStatus = StaffStatus.ACTIVE) -> StaffMember:
    return StaffMember(staff_id, f"E{staff_id}", "X", 1, Role.STAFF | Role.SUPERVISOR, status,
                       "en", 100 + staff_id)  # fmt: skip


def _person(
    staff_id: int, supervisor_id: int | None, status: StaffStatus = StaffStatus.ACTIVE
) -> Staff:
    return Staff(id=staff_id, employee_no=f"E{staff_id}", name="Y", department_id=1,
                 supervisor_id=supervisor_id, status=status)  # fmt: skip


def _review(signed_off: bool = False) -> ReviewRow:
    signed_off_at = datetime(2026, 12, 5, tzinfo=UTC) if signed_off else None
    return ReviewRow(1, 1, 2, "law_enforcement", 1, 1, None, None, signed_off_at, None, 3)


def test_a_person_is_reviewed_by_their_direct_supervisor_only() -> None:
    boss = _member(1)
    assert reviews(boss, _person(2, 1))
    assert not reviews(boss, _person(3, 9)), "someone else's report"
    assert not reviews(boss, _person(4, None))
    # Never oneself, even if the roster said so.
    assert not reviews(boss, _person(1, 1))
    # Nobody who has left, on either side.
    assert not reviews(boss, _person(2, 1, StaffStatus.LEFT))
    assert not reviews(_member(1, StaffStatus.LEFT), _person(2, 1))
    # Second-line staff are reviewed like anyone else, and may review.
    assert reviews(boss, _person(2, 1, StaffStatus.SECOND_LINE))
    assert reviews(_member(1, StaffStatus.SECOND_LINE), _person(2, 1))


@pytest.mark.parametrize(
    ("today", "key"),
    [
        (date(2026, 11, 24), "2026-10"),  # November's self-assessment opens on the 25th
        (date(2026, 11, 25), "2026-11"),
        (date(2026, 12, 3), "2026-11"),  # December's opens on 25 December
        (date(2026, 12, 24), "2026-11"),
        (date(2026, 12, 25), "2026-12"),
        (date(2027, 1, 1), "2026-12"),
    ],
)
def test_the_self_assessment_is_of_the_latest_period_whose_self_assessment_opened(
    today: date, key: str
) -> None:
    assert self_period(today, MONTHLY).key == key


@pytest.mark.parametrize(
    ("today", "key"),
    [
        (date(2026, 12, 3), "2026-10"),  # November's review starts on 4 December
        (date(2026, 12, 4), "2026-11"),
        (date(2026, 12, 31), "2026-11"),
        (date(2027, 1, 4), "2026-12"),
    ],
)
def test_the_review_is_of_the_latest_period_whose_review_started(today: date, key: str) -> None:
    assert review_period(today, MONTHLY).key == key


def test_quarters_too() -> None:
    assert self_period(date(2026, 12, 25), QUARTERLY).key == "2026-Q4"
    assert self_period(date(2026, 12, 24), QUARTERLY).key == "2026-Q3"
    assert review_period(date(2027, 1, 4), QUARTERLY).key == "2026-Q4"


def test_a_button_names_a_period_only_by_its_own_key() -> None:
    assert parse_period("2026-11", MONTHLY) == Period(date(2026, 11, 1), date(2026, 11, 30),
                                                      "2026-11")  # fmt: skip
    assert parse_period("2026-Q4", MONTHLY) is None
    # A month where periods are quarters names its quarter, but a button never does.
    assert parse_period("2026-11", QUARTERLY) is None
    assert parse_period("2026-Q4", QUARTERLY) is not None


def test_a_self_assessment_changes_until_the_sign_off_and_never_once_published() -> None:
    for stage in (Stage.SELF_ASSESSMENT, Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION):
        assert self_closed(stage, None) is None
        assert self_closed(stage, _review()) is None
        assert self_closed(stage, _review(signed_off=True)) is Refusal.SIGNED_OFF
    assert self_closed(Stage.PUBLISHED, _review()) is Refusal.PUBLISHED


def test_a_review_is_worked_on_from_its_stage_through_calibration_until_signed_off() -> None:
    for stage in (Stage.SUPERVISOR_REVIEW, Stage.CALIBRATION):
        assert review_closed(stage, _review()) is None
        assert review_closed(stage, _review(signed_off=True)) is Refusal.SIGNED_OFF
    assert review_closed(Stage.PUBLISHED, _review()) is Refusal.PUBLISHED
    # Before its stage a review is nobody's to work on (a forged press).
    for stage in (Stage.OPEN, Stage.SELF_ASSESSMENT):
        assert review_closed(stage, _review()) is Refusal.NOT_YOURS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Closed 12 cases.  ", "Closed 12 cases."),
        ("", Refusal.TEXT_EMPTY),
        (None, Refusal.TEXT_EMPTY),
        ("   \n\t", Refusal.TEXT_EMPTY),
        ("\u200b\u2060\ufeff \u3164", Refusal.TEXT_EMPTY),
        ("x" * MAX_SELF_TEXT, "x" * MAX_SELF_TEXT),
        ("x" * (MAX_SELF_TEXT + 1), Refusal.TEXT_TOO_LONG),
        ("结案十二件", "结案十二件"),
    ],
)
def test_a_self_assessment_text(text: str | None, expected: str | Refusal) -> None:
    assert clean_text(text, MAX_SELF_TEXT) == expected


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("2 Led the flood response", "bonus", (Decimal(2), "Led the flood response")),
        ("+2.5  Led it", "bonus", (Decimal("2.5"), "Led it")),
        ("3 Missed the inspection", "deduction", (Decimal(-3), "Missed the inspection")),
        ("-3 Missed", "deduction", (Decimal(-3), "Missed")),
        ("\u22123 Missed", "deduction", (Decimal(-3), "Missed")),  # a typographic minus
        ("1 Falsified", "disqualifying", (Decimal(-1), "Falsified")),
        ("２ 全角数字", "bonus", (Decimal(2), "全角数字")),  # full-width digits
        ("2.50 Trailing zeros", "bonus", (Decimal("2.5"), "Trailing zeros")),
        ("10 All of it", "bonus", (Decimal(10), "All of it")),
        ("many thanks", "bonus", PointsError.BAD_NUMBER),
        ("", "bonus", PointsError.BAD_NUMBER),
        ("1e3 Big", "bonus", PointsError.BAD_NUMBER),
        ("1,5 Comma", "bonus", PointsError.BAD_NUMBER),
        (".5 Bare", "bonus", PointsError.BAD_NUMBER),
        ("nan Not", "bonus", PointsError.BAD_NUMBER),
        ("-2 Signed", "bonus", PointsError.WRONG_SIGN),
        ("+2 Signed", "deduction", PointsError.WRONG_SIGN),
        ("0 Nothing", "bonus", PointsError.ZERO),
        ("0.00 Nothing", "deduction", PointsError.ZERO),
        ("1.234 Precise", "bonus", PointsError.TOO_PRECISE),
        ("10.01 Over", "bonus", PointsError.OVER_LIMIT),
        ("21 Over", "deduction", PointsError.OVER_LIMIT),
        ("2", "bonus", PointsError.REASON_NEEDED),
        ("2 \u200b", "bonus", PointsError.REASON_NEEDED),
        ("2 " + "r" * (MAX_REASON + 1), "bonus", PointsError.REASON_TOO_LONG),
    ],
)
def test_a_points_message(
    text: str, kind: str, expected: tuple[Decimal, str] | PointsError
) -> None:
    assert parse_points(text, kind, ROOM, MONTHLY) == expected  # type: ignore[arg-type]


def test_the_limit_counts_what_was_given_already() -> None:
    given = [PointsFact(Decimal(8), "a"), PointsFact(Decimal(-19), "b")]
    left = points_left(MONTHLY, given)
    assert parse_points("2 More", "bonus", left, MONTHLY) == (Decimal(2), "More")
    assert parse_points("2.01 More", "bonus", left, MONTHLY) is PointsError.OVER_LIMIT
    assert parse_points("1 More", "deduction", left, MONTHLY) == (Decimal(-1), "More")
    assert parse_points("1.5 More", "deduction", left, MONTHLY) is PointsError.OVER_LIMIT


def _rounded(step: str) -> Policy:
    assessment = MONTHLY.assessment.model_copy(update={"score_rounding": Decimal(step)})
    return MONTHLY.model_copy(update={"assessment": assessment})


def test_points_have_at_most_the_scores_decimals_and_the_stored_three() -> None:
    assert point_decimals(MONTHLY) == 2
    assert point_decimals(_rounded("1")) == 0
    assert point_decimals(_rounded("0.000001")) == 3
    assert parse_points("2.5 Half", "bonus", ROOM, _rounded("1")) is PointsError.TOO_PRECISE
    assert parse_points("2.0 Whole", "bonus", ROOM, _rounded("1")) == (Decimal(2), "Whole")


@given(st.text(max_size=40), st.sampled_from(["bonus", "deduction", "disqualifying"]))
def test_any_message_is_parsed_or_refused_and_what_is_parsed_counts(text: str, kind: str) -> None:
    result = parse_points(text, kind, ROOM, MONTHLY)  # type: ignore[arg-type]
    if isinstance(result, PointsError):
        return
    amount, reason = result
    assert amount != 0 and ROOM.allows(amount)
    assert (amount > 0) == (kind == "bonus")
    assert reason and len(reason) <= MAX_REASON


def test_who_rates_which_indicator() -> None:
    # Law enforcement: one qualitative indicator, rated by the supervisor and by oneself.
    assert [i.id for i in rated_indicators(MONTHLY, "law_enforcement", "self")] == [
        "enforcement_compliance"
    ]
    assert [i.id for i in rated_indicators(MONTHLY, "management", "supervisor")] == [
        "interdepartment_coordination",
        "risk_control",
    ]
    # Service's one rated indicator is citizen satisfaction (citizens rate it too); no post
    # type, or an unknown one: nothing.
    assert [i.id for i in rated_indicators(MONTHLY, "service", "supervisor")] == [
        "citizen_satisfaction"
    ]
    assert [i.id for i in rated_indicators(MONTHLY, "service", "service_recipient")] == [
        "citizen_satisfaction"
    ]
    assert rated_indicators(MONTHLY, None, "self") == ()
    assert rated_indicators(MONTHLY, "astronaut", "self") == ()
