"""The moments time travel goes to: the next of each kind, by the policy and the calendar."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assessment.calendar import WorkCalendar
from assessment.moments import Moment, next_moment, period_in_check
from assessment.periods import Stage, stage_on
from config.policy import load_policy

MONTHLY = load_policy()
QUARTERLY = load_policy(Path(__file__).parents[2] / "config" / "policies" / "quarterly.toml")
SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar(MONTHLY)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(date(2025, 11, 20), 10), at(date(2025, 11, 20), 17, 30)),  # today, still to come
        (at(date(2025, 11, 20), 17, 30), at(date(2025, 11, 21), 17, 30)),  # passed: tomorrow
        (at(date(2025, 11, 21), 18), at(date(2025, 11, 24), 17, 30)),  # Friday: Monday's
        (at(date(2025, 9, 30), 18), at(date(2025, 10, 9), 17, 30)),  # over National Day
        (at(date(2025, 10, 10), 18), at(date(2025, 10, 11), 17, 30)),  # a make-up Saturday
    ],
)
def test_the_next_reminders_are_on_a_workday_at_the_policys_time(
    now: datetime, expected: datetime
) -> None:
    assert next_moment(Moment.REMINDERS, now, MONTHLY, CALENDAR, SHANGHAI) == expected


def test_the_next_workday_starts_at_nine() -> None:
    friday = at(date(2025, 11, 21), 8)
    assert next_moment(Moment.NEXT_WORKDAY, friday, MONTHLY, CALENDAR, SHANGHAI) == at(
        date(2025, 11, 24), 9
    )


def test_the_monthly_checks_days_come_from_the_period_rules() -> None:
    now = at(date(2025, 12, 1), 10)
    moments = {kind: next_moment(kind, now, MONTHLY, CALENDAR, SHANGHAI) for kind in Moment}
    assert moments[Moment.SELF_REVIEW] == at(date(2025, 12, 25), 9, 30)
    assert moments[Moment.REVIEW_DUE] == at(date(2025, 12, 7), 9, 30)
    assert moments[Moment.PUBLICATION] == at(date(2025, 12, 8), 9, 30)
    # Each is where the stage rule says that stage is.
    november = period_in_check(date(2025, 12, 1), MONTHLY)
    assert november.key == "2025-11"
    assert stage_on(november, date(2025, 12, 7), MONTHLY) is Stage.SUPERVISOR_REVIEW
    assert stage_on(november, date(2025, 12, 8), MONTHLY) is Stage.CALIBRATION


def test_every_moment_is_after_now_in_any_zone() -> None:
    # 23:00 in UTC is the next morning in Shanghai.
    now = datetime(2025, 12, 7, 23, 0, tzinfo=ZoneInfo("UTC"))
    for kind in Moment:
        assert next_moment(kind, now, MONTHLY, CALENDAR, SHANGHAI) > now


def test_the_period_in_check_is_the_latest_whose_self_assessment_opened() -> None:
    assert period_in_check(date(2025, 11, 24), MONTHLY).key == "2025-10"
    assert period_in_check(date(2025, 11, 25), MONTHLY).key == "2025-11"
    assert period_in_check(date(2025, 12, 20), MONTHLY).key == "2025-11"
    assert period_in_check(date(2025, 11, 30), QUARTERLY).key == "2025-Q3"
    assert period_in_check(date(2025, 12, 25), QUARTERLY).key == "2025-Q4"
    days = next_moment(Moment.REVIEW_DUE, at(date(2025, 12, 1), 10), QUARTERLY, CALENDAR, SHANGHAI)
    assert days == at(date(2026, 1, 7), 9, 30)
