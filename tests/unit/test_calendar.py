"""The work calendar: China's holidays and adjusted workdays (调休), the policy's own days."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from assessment.calendar import WorkCalendar
from config.policy import CalendarAdjustments, Policy, load_policy


def calendar(
    region: str = "CN",
    extra_holidays: tuple[date, ...] = (),
    extra_workdays: tuple[date, ...] = (),
) -> WorkCalendar:
    policy = load_policy()
    adjustments = CalendarAdjustments(
        region=region, extra_holidays=extra_holidays, extra_workdays=extra_workdays
    )
    return WorkCalendar(policy.model_copy(update={"calendar": adjustments}))


@pytest.fixture(scope="module")
def china() -> WorkCalendar:
    policy: Policy = load_policy()
    assert policy.calendar.region == "CN", "the default policy follows China's calendar"
    return WorkCalendar(policy)


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 1, 26),  # Sunday before the Spring Festival
        date(2025, 2, 8),  # Saturday after it
        date(2025, 4, 27),  # Sunday before Labour Day
        date(2025, 9, 28),  # Sunday before National Day
        date(2025, 10, 11),  # Saturday after it
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ],
)
def test_make_up_weekend_days_are_workdays(china: WorkCalendar, day: date) -> None:
    assert day.weekday() >= 5
    assert china.is_workday(day)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2025, 1, 28), date(2025, 2, 4)),  # Spring Festival
        (date(2025, 10, 1), date(2025, 10, 8)),  # National Day and Mid-Autumn
        (date(2026, 1, 1), date(2026, 1, 3)),  # New Year
        (date(2026, 2, 15), date(2026, 2, 23)),  # Spring Festival, nine days
        (date(2026, 10, 1), date(2026, 10, 7)),  # National Day
    ],
)
def test_public_holidays_and_bridged_days_are_off(
    china: WorkCalendar, start: date, end: date
) -> None:
    assert china.workdays(start, end) == []


def test_ordinary_weeks(china: WorkCalendar) -> None:
    assert china.is_workday(date(2026, 11, 20))  # a Friday
    assert not china.is_workday(date(2026, 11, 21))  # a Saturday
    assert not china.is_workday(date(2026, 11, 22))  # a Sunday
    assert china.is_workday(date(2025, 10, 9)), "back to work after the golden week"


def test_workdays_of_a_month_count_the_make_up_saturday(china: WorkCalendar) -> None:
    october = china.workdays(date(2025, 10, 1), date(2025, 10, 31))
    assert october[:3] == [date(2025, 10, 9), date(2025, 10, 10), date(2025, 10, 11)]
    assert len(october) == 18
    assert china.workdays(date(2025, 10, 9), date(2025, 10, 9)) == [date(2025, 10, 9)]
    assert china.workdays(date(2025, 10, 9), date(2025, 10, 8)) == []


def test_previous_workdays_skip_the_golden_week(china: WorkCalendar) -> None:
    assert china.previous_workdays(date(2025, 10, 9), 3) == [
        date(2025, 9, 28),
        date(2025, 9, 29),
        date(2025, 9, 30),
    ]
    assert china.previous_workdays(date(2025, 10, 13), 3) == [
        date(2025, 10, 9),
        date(2025, 10, 10),
        date(2025, 10, 11),
    ]
    assert china.previous_workdays(date(2025, 10, 13), 0) == []
    with pytest.raises(ValueError, match="negative"):
        china.previous_workdays(date(2025, 10, 13), -1)


def test_the_policy_overrides_the_region() -> None:
    adjusted = calendar(
        extra_holidays=(date(2025, 11, 20),),
        extra_workdays=(date(2025, 11, 22), date(2025, 10, 8)),
    )
    assert not adjusted.is_workday(date(2025, 11, 20)), "an organisation's own day off"
    assert adjusted.is_workday(date(2025, 11, 22)), "a Saturday worked by the organisation"
    assert adjusted.is_workday(date(2025, 10, 8)), "even a public holiday can be worked"
    assert adjusted.is_workday(date(2025, 11, 21))


def test_a_year_without_a_published_plan_keeps_statutory_holidays_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 2090: no State Council plan for a long time yet. National Day falls on Sunday to Tuesday.
    adjusted = calendar(extra_workdays=(date(2090, 10, 7),))
    with caplog.at_level(logging.WARNING, logger="assessment.calendar"):
        assert not adjusted.is_workday(date(2090, 10, 2)), "a statutory holiday is certain"
        assert not adjusted.is_workday(date(2090, 10, 3))
        assert adjusted.is_workday(date(2090, 10, 4)), "no guessed day off without the plan"
        assert not adjusted.is_workday(date(2090, 10, 8)), "a Sunday"
        assert adjusted.is_workday(date(2090, 10, 7)), "the policy can add the plan's days"
        assert adjusted.is_workday(date(2090, 10, 9))
    warnings = [r for r in caplog.records if "2090" in r.getMessage()]
    assert len(warnings) == 1
    assert "no official holiday plan of CN for 2090" in warnings[0].getMessage()


def test_a_region_the_package_does_not_know_has_weekends_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ascension = calendar("AC", extra_holidays=(date(2026, 11, 19),))
    with caplog.at_level(logging.WARNING, logger="assessment.calendar"):
        assert ascension.is_workday(date(2026, 11, 20))
        assert not ascension.is_workday(date(2026, 11, 21))
        assert not ascension.is_workday(date(2026, 11, 19))
        assert ascension.workdays(date(2026, 11, 16), date(2026, 11, 22)) == [
            date(2026, 11, 16),
            date(2026, 11, 17),
            date(2026, 11, 18),
            date(2026, 11, 20),
        ]
    assert any("does not know region AC" in r.getMessage() for r in caplog.records)


def test_other_countries_follow_their_own_holidays() -> None:
    britain = calendar("GB")
    assert not britain.is_workday(date(2025, 12, 25))
    assert not britain.is_workday(date(2025, 12, 26))
    assert britain.is_workday(date(2025, 10, 1)), "China's National Day is not Britain's"
    assert britain.is_workday(date(2025, 12, 29))
