"""The monthly check's reminders: their days on the work calendar, their time, their texts'
limits."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from assessment.calendar import WorkCalendar
from assessment.periods import Period, parse_key
from assessment.stage_reminders import (
    CloseNotice,
    OverdueReviews,
    Reminder,
    TeamReviews,
    due_on,
    schedule,
)
from config.policy import QUARTERLY_POLICY_PATH, Policy, PolicyError, load_policy
from handlers.formatting import MAX_TEXT, telegram_length
from handlers.stage_reminders import close_text, overdue_text, team_text
from storage.repositories.calendar import Recipient
from storage.repositories.stage_reminders import CloseState, ReviewerCount, Unreviewed

POLICY = load_policy()
CALENDAR = WorkCalendar(POLICY)
MINIMAL = Path(__file__).parent / "policy_cases" / "minimal.toml"


def _with(policy: Policy, **check: int) -> Policy:
    return policy.model_copy(
        update={"monthly_check": policy.monthly_check.model_copy(update=check)}
    )


def _period(key: str, policy: Policy = POLICY) -> Period:
    period = parse_key(key, policy)
    assert period is not None
    return period


def test_november_2026_by_the_default_policy() -> None:
    assert schedule(_period("2026-11"), POLICY, CALENDAR) == {
        Reminder.SELF_OPEN: date(2026, 11, 25),
        Reminder.SELF_DUE: date(2026, 12, 1),
        # 5 December is a Saturday: the Friday before, the review's first day.
        Reminder.REVIEW_DUE: date(2026, 12, 4),
        Reminder.REVIEW_OVERDUE: date(2026, 12, 9),
    }


def test_days_off_move_reminders_before_a_due_day_earlier_and_notices_later() -> None:
    days = schedule(_period("2026-09"), POLICY, CALENDAR)
    # 25 September 2026 is the Mid-Autumn Festival, then a weekend: opened on the Monday.
    assert days[Reminder.SELF_OPEN] == date(2026, 9, 28)
    # 3 October less 2 is National Day: the last workday before, 30 September.
    assert days[Reminder.SELF_DUE] == date(2026, 9, 30)
    # The whole supervisor review (4 to 7 October) is the golden week: no workday to move
    # to, so the policy's day.
    assert days[Reminder.REVIEW_DUE] == date(2026, 10, 5)
    assert days[Reminder.REVIEW_OVERDUE] == date(2026, 10, 9)


def test_on_the_due_day_itself_when_reminder_days_before_due_is_0() -> None:
    days = schedule(_period("2026-11"), _with(POLICY, reminder_days_before_due=0), CALENDAR)
    assert days[Reminder.SELF_DUE] == date(2026, 12, 3)
    assert days[Reminder.REVIEW_DUE] == date(2026, 12, 7)


def test_a_reminder_never_comes_before_its_stage() -> None:
    days = schedule(_period("2026-11"), _with(POLICY, reminder_days_before_due=20), CALENDAR)
    # Before the opening notice, which says the same: left out.
    assert Reminder.SELF_DUE not in days
    # The supervisor review begins on 4 December.
    assert days[Reminder.REVIEW_DUE] == date(2026, 12, 4)


def test_escalation_after_many_days_still_finds_its_period() -> None:
    policy = _with(POLICY, escalate_after_days=40)
    day = schedule(_period("2026-11"), policy, CALENDAR)[Reminder.REVIEW_OVERDUE]
    assert day == date(2027, 1, 18)  # 16 January is a Saturday
    assert (_period("2026-11"), Reminder.REVIEW_OVERDUE) in due_on(day, policy, CALENDAR)


def test_nothing_is_due_on_the_days_between() -> None:
    found = []
    day = date(2026, 11, 1)
    while day < date(2027, 1, 1):
        found += [
            (day, period.key, reminder) for period, reminder in due_on(day, POLICY, CALENDAR)
        ]
        day += timedelta(days=1)
    assert found == [
        (date(2026, 11, 5), "2026-10", Reminder.REVIEW_DUE),
        (date(2026, 11, 9), "2026-10", Reminder.REVIEW_OVERDUE),
        (date(2026, 11, 25), "2026-11", Reminder.SELF_OPEN),
        (date(2026, 12, 1), "2026-11", Reminder.SELF_DUE),
        (date(2026, 12, 4), "2026-11", Reminder.REVIEW_DUE),
        (date(2026, 12, 9), "2026-11", Reminder.REVIEW_OVERDUE),
        (date(2026, 12, 25), "2026-12", Reminder.SELF_OPEN),
        # 3 January less 2 is New Year's Day: the last workday of December.
        (date(2026, 12, 31), "2026-12", Reminder.SELF_DUE),
    ]


def test_a_quarter_is_reminded_only_around_its_end() -> None:
    quarterly = load_policy(QUARTERLY_POLICY_PATH)
    calendar = WorkCalendar(quarterly)
    seen = [
        (day, reminder)
        for day in (date(2026, 10, 1) + timedelta(days=n) for n in range(92))
        for period, reminder in due_on(day, quarterly, calendar)
        if period.key == "2026-Q4"
    ]
    assert seen == [
        (date(2026, 12, 25), Reminder.SELF_OPEN),
        (date(2026, 12, 31), Reminder.SELF_DUE),
    ]


def test_the_time_is_optional_and_checked(tmp_path: Path) -> None:
    assert load_policy(MINIMAL).reminders.monthly_check_time == time(9, 30)
    assert POLICY.reminders.monthly_check_time == time(9, 30)
    text = MINIMAL.read_text(encoding="utf-8")
    path = tmp_path / "policy.toml"
    old = 'team_summary_time = "18:30"\n'
    path.write_text(text.replace(old, old + 'monthly_check_time = "08:05"\n'), encoding="utf-8")
    assert load_policy(path).reminders.monthly_check_time == time(8, 5)
    path.write_text(text.replace(old, old + 'monthly_check_time = "9:3"\n'), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"reminders\.monthly_check_time"):
        load_policy(path)


def _recipient(language: str, name: str = "Reader") -> Recipient:
    return Recipient(1, 100, name, language, None)


@pytest.mark.parametrize("language", ["en", "zh_Hans", "zh_Hant"])
def test_a_quarter_of_missing_days_fits_one_message(language: str) -> None:
    quarter = _period("2026-Q4", load_policy(QUARTERLY_POLICY_PATH))
    missing = tuple(CALENDAR.workdays(quarter.starts_on, quarter.ends_on))
    assert len(missing) > 60
    state = CloseState(_recipient(language), missing, 12, 7, self_submitted=False)
    text = close_text("zh_Hans", CloseNotice(Reminder.SELF_OPEN, quarter, date(2027, 1, 3), state))
    assert telegram_length(text) <= MAX_TEXT
    # 30 days by date, then how many more.
    more = {"en": f"and {len(missing) - 30} more", "zh_Hans": "等", "zh_Hant": "等"}[language]
    assert more in text
    assert "2026-Q4" in text and "/log" in text and "/self" in text and "/month" in text


@pytest.mark.parametrize("language", ["en", "zh_Hans", "zh_Hant"])
def test_long_team_and_hr_lists_fit_one_message(language: str) -> None:
    november = _period("2026-11")
    reader = _recipient(language)
    people = tuple(Unreviewed(reader, f"E{n:05}", "名" * 60 + f" {n}") for n in range(3000))
    team = team_text("en", TeamReviews(november, date(2026, 12, 7), reader, people))
    assert telegram_length(team) <= MAX_TEXT and "/review" in team and "3000" in team
    rows = tuple(ReviewerCount(n, "名" * 60, f"E{n:05}", 3) for n in range(2000))
    rows += (ReviewerCount(None, None, None, 5),)
    overdue = overdue_text("en", OverdueReviews(november, date(2026, 12, 7), reader, rows))
    assert telegram_length(overdue) <= MAX_TEXT and "6005" in overdue
