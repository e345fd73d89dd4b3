"""Periods and their stages, on the right days (``assessment.periods``)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assessment.periods import (
    Period,
    Stage,
    closed_through,
    is_closed,
    milestones,
    parse_key,
    period_of,
    stage_on,
)
from config.clock import Clock
from config.policy import Policy, load_policy

MONTHLY = load_policy()
QUARTERLY = load_policy(Path(__file__).parents[2] / "config" / "policies" / "quarterly.toml")
ZONE = ZoneInfo("Asia/Shanghai")


def _days(policy: Policy, open_day: int, self_due: int, review_due: int) -> Policy:
    check = policy.monthly_check.model_copy(
        update={
            "self_review_open_day": open_day,
            "self_review_due_day": self_due,
            "supervisor_review_due_day": review_due,
        }
    )
    return policy.model_copy(update={"monthly_check": check})


def test_a_day_belongs_to_its_month_or_its_quarter() -> None:
    assert period_of(date(2026, 11, 30), MONTHLY) == Period(
        date(2026, 11, 1), date(2026, 11, 30), "2026-11"
    )
    assert period_of(date(2028, 2, 10), MONTHLY).ends_on == date(2028, 2, 29), "a leap year"
    assert period_of(date(2027, 2, 10), MONTHLY).ends_on == date(2027, 2, 28)
    quarter = period_of(date(2026, 11, 30), QUARTERLY)
    assert quarter == Period(date(2026, 10, 1), date(2026, 12, 31), "2026-Q4")
    assert len(quarter.days()) == 92
    assert quarter.next() == Period(date(2027, 1, 1), date(2027, 3, 31), "2027-Q1")
    assert period_of(date(2027, 1, 1), MONTHLY).previous().key == "2026-12"


def test_keys_name_periods_of_the_policy_kind() -> None:
    assert parse_key("2026-11", MONTHLY) == period_of(date(2026, 11, 1), MONTHLY)
    assert parse_key("2026-q4", QUARTERLY) == period_of(date(2026, 12, 1), QUARTERLY)
    assert parse_key("2026-11", QUARTERLY) == period_of(date(2026, 11, 1), QUARTERLY)
    for wrong in ("2026-13", "2026-00", "2026-Q4", "26-11", "November"):
        assert parse_key(wrong, MONTHLY) is None, wrong
    assert parse_key("2026-Q5", QUARTERLY) is None


def test_the_stages_of_a_month_fall_on_the_policy_days() -> None:
    november = period_of(date(2026, 11, 1), MONTHLY)
    days = milestones(november, MONTHLY)
    assert days.self_opens == date(2026, 11, 25)
    assert days.self_due == date(2026, 12, 3)
    assert days.review_starts == date(2026, 12, 4)
    assert days.review_due == date(2026, 12, 7)
    assert days.calibration_starts == date(2026, 12, 8)
    expected = {
        date(2026, 11, 1): Stage.OPEN,
        date(2026, 11, 24): Stage.OPEN,
        date(2026, 11, 25): Stage.SELF_ASSESSMENT,
        date(2026, 12, 3): Stage.SELF_ASSESSMENT,
        date(2026, 12, 4): Stage.SUPERVISOR_REVIEW,
        date(2026, 12, 7): Stage.SUPERVISOR_REVIEW,
        date(2026, 12, 8): Stage.CALIBRATION,
        date(2027, 3, 1): Stage.CALIBRATION,
    }
    for day, stage in expected.items():
        assert stage_on(november, day, MONTHLY) is stage, day


def test_hr_may_start_calibration_early_but_not_before_the_review_and_publishing_ends_it() -> None:
    november = period_of(date(2026, 11, 1), MONTHLY)
    early = date(2026, 12, 5)
    assert stage_on(november, early, MONTHLY, calibration_started_on=early) is Stage.CALIBRATION
    assert stage_on(november, date(2026, 12, 4), MONTHLY, calibration_started_on=early) is (
        Stage.SUPERVISOR_REVIEW
    )
    assert stage_on(november, date(2026, 12, 10), MONTHLY, published=True) is Stage.PUBLISHED
    # Results cannot be published before the self-assessment is over.
    assert stage_on(november, date(2026, 11, 26), MONTHLY, published=True) is (
        Stage.SELF_ASSESSMENT
    )


def test_a_quarter_is_checked_in_its_last_month_and_the_next() -> None:
    q4 = period_of(date(2026, 10, 15), QUARTERLY)
    days = milestones(q4, QUARTERLY)
    assert days.self_opens == date(2026, 12, 25)
    assert days.review_starts == date(2027, 1, 4), "over the year's end"
    assert stage_on(q4, date(2026, 11, 30), QUARTERLY) is Stage.OPEN
    assert stage_on(q4, date(2027, 1, 3), QUARTERLY) is Stage.SELF_ASSESSMENT
    assert stage_on(q4, date(2027, 1, 4), QUARTERLY) is Stage.SUPERVISOR_REVIEW
    # Within a quarter, its earlier months stay open until the quarter is checked.
    assert not is_closed(date(2026, 10, 1), date(2026, 12, 31), QUARTERLY)
    assert is_closed(date(2026, 10, 1), date(2027, 1, 4), QUARTERLY)
    assert not is_closed(date(2026, 10, 1), date(2027, 1, 3), QUARTERLY)


@pytest.mark.parametrize(
    ("today", "through"),
    [
        (date(2026, 12, 3), date(2026, 10, 31)),  # November in self-assessment
        (date(2026, 12, 4), date(2026, 11, 30)),  # November under review
        (date(2026, 12, 31), date(2026, 11, 30)),
        (date(2027, 1, 1), date(2026, 11, 30)),  # December not yet under review
        (date(2027, 1, 4), date(2026, 12, 31)),
        (date(2028, 3, 4), date(2028, 2, 29)),  # a leap February closes on the 4th
        (date(2028, 3, 3), date(2028, 1, 31)),
    ],
)
def test_what_is_closed_on_a_day(today: date, through: date) -> None:
    assert closed_through(today, MONTHLY) == through
    assert is_closed(through, today, MONTHLY)
    assert not is_closed(date.fromordinal(through.toordinal() + 1), today, MONTHLY)


def test_policy_days_move_the_stages() -> None:
    late = _days(MONTHLY, 20, 10, 20)
    october = period_of(date(2026, 10, 9), late)
    assert stage_on(october, date(2026, 10, 19), late) is Stage.OPEN
    assert stage_on(october, date(2026, 10, 20), late) is Stage.SELF_ASSESSMENT
    assert stage_on(october, date(2026, 11, 10), late) is Stage.SELF_ASSESSMENT
    assert stage_on(october, date(2026, 11, 11), late) is Stage.SUPERVISOR_REVIEW
    assert stage_on(october, date(2026, 11, 21), late) is Stage.CALIBRATION
    assert closed_through(date(2026, 11, 10), late) == date(2026, 9, 30)
    assert closed_through(date(2026, 11, 11), late) == date(2026, 10, 31)


def test_the_day_turns_at_midnight_in_the_organisations_time_zone() -> None:
    # 4 December starts at 16:00 UTC on the 3rd in Shanghai: November closes then.
    before = Clock.at(datetime.fromisoformat("2026-12-03T15:59:59+00:00"))
    after = Clock.at(datetime.fromisoformat("2026-12-03T16:00:00+00:00"))
    november_end = date(2026, 11, 30)
    assert not is_closed(november_end, before.today(ZONE), MONTHLY)
    assert is_closed(november_end, after.today(ZONE), MONTHLY)
    # The same moment in UTC is still the 3rd: the organisation's zone decides.
    assert not is_closed(november_end, after.today(ZoneInfo("UTC")), MONTHLY)
