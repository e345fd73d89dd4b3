"""The pure rules of a work entry: text, typed numbers and dates, the backdating window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from assessment.calendar import WorkCalendar
from assessment.entry_rules import (
    EntryError,
    Evidence,
    TooMany,
    check_date,
    check_evidence,
    clean_text,
    date_choices,
    day_bounds,
    earliest_date,
    not_editable,
    parse_day,
    parse_hours,
    parse_quantity,
    too_many,
)
from config.policy import EntryLimits, Policy, load_policy
from storage.enums import EntryStatus


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def limits(policy: Policy) -> EntryLimits:
    return policy.entries


@pytest.fixture(scope="module")
def calendar(policy: Policy) -> WorkCalendar:
    return WorkCalendar(policy)


def test_text_is_trimmed_and_limited(limits: EntryLimits) -> None:
    assert clean_text("  Counter duty\nand filing  ", limits) == "Counter duty\nand filing"
    assert clean_text(" \n\t ", limits) is EntryError.EMPTY_TEXT
    assert clean_text(None, limits) is EntryError.EMPTY_TEXT
    assert clean_text("\u200b\u200b \u200d\ufeff\u200e", limits) is EntryError.EMPTY_TEXT
    assert clean_text("\u200bOK\u200b", limits) == "\u200bOK\u200b"
    assert clean_text("x" * limits.max_text_length, limits) == "x" * limits.max_text_length
    assert clean_text("x" * (limits.max_text_length + 1), limits) is EntryError.TEXT_TOO_LONG


@pytest.mark.parametrize(
    ("typed", "hours"),
    [
        ("1.5", Decimal("1.5")),
        ("１．５", Decimal("1.5")),
        ("2", Decimal("2")),
        ("2h", Decimal("2")),
        ("3 小时", Decimal("3")),
        ("0.5", Decimal("0.5")),
        ("24", Decimal("24")),
        (".75", Decimal("0.75")),
        ("10.00", Decimal("10")),
    ],
)
def test_hours_are_read_leniently(typed: str, hours: Decimal, limits: EntryLimits) -> None:
    parsed = parse_hours(typed, limits)
    assert parsed == hours
    assert str(parsed) == str(hours), "no exponent notation such as 1E+1"


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("0.25", EntryError.HOURS_OUT_OF_RANGE),
        ("24.5", EntryError.HOURS_OUT_OF_RANGE),
        ("1.555", EntryError.HOURS_OUT_OF_RANGE),
        ("two", EntryError.NOT_A_NUMBER),
        ("1,5", EntryError.NOT_A_NUMBER),
        ("2 apples", EntryError.NOT_A_NUMBER),
        ("-1", EntryError.NOT_A_NUMBER),
        ("", EntryError.NOT_A_NUMBER),
    ],
)
def test_hours_are_checked_strictly(typed: str, error: EntryError, limits: EntryLimits) -> None:
    assert parse_hours(typed, limits) is error


def test_quantities() -> None:
    assert parse_quantity("12") == Decimal(12)
    assert parse_quantity("１２件") == Decimal(12)
    assert parse_quantity("3.5 km") == Decimal("3.5")
    assert parse_quantity("0") == Decimal(0)
    assert parse_quantity("12 or 13") is EntryError.NOT_A_NUMBER
    assert parse_quantity("1.2345") is EntryError.QUANTITY_OUT_OF_RANGE
    assert parse_quantity("1000000000") is EntryError.QUANTITY_OUT_OF_RANGE


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("2026-11-20", date(2026, 11, 20)),
        ("2026/11/20", date(2026, 11, 20)),
        ("２０２６－１１－２０", date(2026, 11, 20)),
        ("11-20", date(2026, 11, 20)),
        ("11/2", date(2026, 11, 2)),
        ("11月20日", date(2026, 11, 20)),
        ("2025年12月31日", date(2025, 12, 31)),
        ("１１月２０号", date(2026, 11, 20)),
        ("2026-02-30", None),
        ("yesterday", None),
        ("20", None),
    ],
)
def test_typed_dates(typed: str, day: date | None) -> None:
    assert parse_day(typed, date(2026, 11, 23)) == day


def test_a_date_to_come_without_a_year_is_the_next_one() -> None:
    today = date(2026, 12, 20)
    assert parse_day("1-5", today, ahead=True) == date(2027, 1, 5)
    assert parse_day("12-28", today, ahead=True) == date(2026, 12, 28)
    assert parse_day("12-20", today, ahead=True) == today
    assert parse_day("2026-01-05", today, ahead=True) == date(2026, 1, 5), "a year given stays"
    assert parse_day("1-5", today) == date(2026, 1, 5)


# The window alone: no period closed.
OPEN = date.min


def test_the_window_skips_weekends(calendar: WorkCalendar, limits: EntryLimits) -> None:
    monday = date(2025, 11, 17)
    # Three workdays back from Monday: Fri 14, Thu 13, Wed 12; the weekend lies within.
    assert earliest_date(monday, calendar, 3) == date(2025, 11, 12)
    assert check_date(date(2025, 11, 12), monday, calendar, limits, closed_through=OPEN) is None
    assert check_date(date(2025, 11, 15), monday, calendar, limits, closed_through=OPEN) is None, (
        "a worked Saturday"
    )
    assert (
        check_date(date(2025, 11, 11), monday, calendar, limits, closed_through=OPEN)
        is EntryError.TOO_FAR_BACK
    )
    assert (
        check_date(date(2025, 11, 18), monday, calendar, limits, closed_through=OPEN)
        is EntryError.FUTURE_DATE
    )
    assert date_choices(monday, calendar, limits, closed_through=OPEN) == [
        date(2025, 11, day) for day in (17, 16, 15, 14, 13, 12)
    ]


def test_the_window_skips_holidays(calendar: WorkCalendar, limits: EntryLimits) -> None:
    # National Day 2025: 1-8 October off; Sunday 28 September was a make-up workday.
    after = date(2025, 10, 9)
    assert earliest_date(after, calendar, 3) == date(2025, 9, 28)
    assert check_date(date(2025, 9, 28), after, calendar, limits, closed_through=OPEN) is None
    assert check_date(date(2025, 10, 4), after, calendar, limits, closed_through=OPEN) is None
    assert (
        check_date(date(2025, 9, 27), after, calendar, limits, closed_through=OPEN)
        is EntryError.TOO_FAR_BACK
    )


def test_today_only_without_a_window(calendar: WorkCalendar, limits: EntryLimits) -> None:
    today_only = limits.model_copy(update={"backdate_workdays": 0})
    today = date(2025, 11, 17)
    assert date_choices(today, calendar, today_only, closed_through=OPEN) == [today]
    assert (
        check_date(date(2025, 11, 14), today, calendar, today_only, closed_through=OPEN)
        is EntryError.TOO_FAR_BACK
    )


def test_a_closed_period_is_refused_even_within_the_window(
    calendar: WorkCalendar, limits: EntryLimits
) -> None:
    wide = limits.model_copy(update={"backdate_workdays": 30})
    today = date(2025, 11, 3)
    closed = date(2025, 9, 30)  # September under review (assessment.periods.closed_through)
    assert check_date(date(2025, 10, 1), today, calendar, wide, closed_through=closed) is None
    assert (
        check_date(date(2025, 9, 30), today, calendar, wide, closed_through=closed)
        is EntryError.CLOSED_PERIOD
    )
    assert min(date_choices(today, calendar, wide, closed_through=closed)) == date(2025, 10, 1)


def test_evidence_count_and_size(limits: EntryLimits) -> None:
    small = Evidence("photo", "f1", "u1", None, 1024)
    huge = Evidence("document", "f2", "u2", "scan.pdf", int(limits.max_attachment_mb) * 2**20 + 1)
    unknown_size = Evidence("photo", "f3", "u3")
    assert check_evidence(0, small, limits) is None
    assert check_evidence(0, unknown_size, limits) is None
    assert check_evidence(limits.max_attachments, small, limits) is EntryError.TOO_MANY_ATTACHMENTS
    assert check_evidence(0, huge, limits) is EntryError.ATTACHMENT_TOO_LARGE
    assert Evidence.of(huge.stored()) == huge


def test_only_undecided_entries_are_editable() -> None:
    assert not_editable(EntryStatus.SUBMITTED) is None
    assert not_editable(EntryStatus.RETURNED) is None
    assert not_editable(EntryStatus.APPROVED) is EntryError.DECIDED
    assert not_editable(EntryStatus.REJECTED) is EntryError.DECIDED
    assert not_editable(EntryStatus.DELETED) is EntryError.DELETED


# --- flood control ---------------------------------------------------------------------


def test_the_organisations_day_starts_at_its_own_midnight() -> None:
    start, end = day_bounds(date(2025, 11, 17), ZoneInfo("Asia/Shanghai"))
    assert (start, end) == (
        datetime(2025, 11, 16, 16, tzinfo=UTC),
        datetime(2025, 11, 17, 16, tzinfo=UTC),
    )
    # A day with a clock change is 25 hours long.
    start, end = day_bounds(date(2025, 10, 26), ZoneInfo("Europe/Berlin"))
    assert end - start == timedelta(hours=25)


def test_one_more_entry_is_allowed_below_both_limits_and_the_later_lift_is_told(
    policy: Policy,
) -> None:
    limits = policy.entries  # 10 a minute, 100 a day
    tomorrow = datetime(2025, 11, 17, 16, tzinfo=UTC)
    tenth = datetime(2025, 11, 17, 2, 30, tzinfo=UTC)
    assert too_many(99, None, limits, tomorrow=tomorrow) is None
    assert too_many(100, None, limits, tomorrow=tomorrow) == TooMany("day", 100, tomorrow)
    assert too_many(5, tenth, limits, tomorrow=tomorrow) == TooMany(
        "minute", 10, tenth + timedelta(minutes=1)
    )
    late = tomorrow - timedelta(seconds=10)
    assert too_many(100, late, limits, tomorrow=tomorrow) == TooMany(
        "minute", 10, late + timedelta(minutes=1)
    )
    assert too_many(100, tenth, limits, tomorrow=tomorrow) == TooMany("day", 100, tomorrow)
