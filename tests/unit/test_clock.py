"""The one clock: real time, started at a moment, moved, stopped."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.clock import Clock, parse_time_of_day
from config.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Wall:
    """A machine clock the test turns by hand."""

    def __init__(self, moment: datetime) -> None:
        self.seconds = moment.timestamp()

    def __call__(self) -> float:
        return self.seconds


def test_real_time_by_default() -> None:
    wall = Wall(datetime(2026, 12, 1, 0, 40, tzinfo=UTC))
    clock = Clock(wall=wall)
    assert clock.is_real
    assert clock.now() == datetime(2026, 12, 1, 0, 40, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_started_at_a_moment_it_runs_on_at_normal_speed() -> None:
    wall = Wall(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    clock = Clock(datetime(2026, 11, 30, 17, 29, tzinfo=SHANGHAI), wall=wall)
    assert not clock.is_real
    assert clock.now() == datetime(2026, 11, 30, 9, 29, tzinfo=UTC)
    assert clock.today(SHANGHAI) == date(2026, 11, 30)
    wall.seconds += 90
    assert clock.now().astimezone(SHANGHAI) == datetime(2026, 11, 30, 17, 30, 30, tzinfo=SHANGHAI)


def test_today_is_the_organisations_day() -> None:
    # 16:30 UTC on the 30th is already 00:30 on 1 December in Shanghai.
    clock = Clock.at(datetime(2026, 11, 30, 16, 30, tzinfo=UTC))
    assert clock.today(SHANGHAI) == date(2026, 12, 1)
    assert clock.today(UTC) == date(2026, 11, 30)


def test_a_frozen_clock_stands_still_and_moves_only_when_told() -> None:
    wall = Wall(datetime(2026, 12, 1, tzinfo=UTC))
    clock = Clock(datetime(2026, 11, 20, 9, 31, tzinfo=UTC), frozen=True, wall=wall)
    wall.seconds += 3600
    assert clock.now() == datetime(2026, 11, 20, 9, 31, tzinfo=UTC)
    clock.advance(timedelta(days=10))
    assert clock.now() == datetime(2026, 11, 30, 9, 31, tzinfo=UTC)
    clock.set(datetime(2026, 12, 31, 17, 0, tzinfo=SHANGHAI), frozen=False)
    wall.seconds += 60
    assert clock.now() == datetime(2026, 12, 31, 9, 1, tzinfo=UTC)


def test_moments_without_a_time_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Clock(datetime(2026, 11, 30, 17, 29))
    clock = Clock()
    with pytest.raises(ValueError, match="time zone"):
        clock.set(datetime(2026, 11, 30, 17, 29))


def test_clock_start_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKLEDGER_CLOCK_START", "2026-11-30T17:29:00+08:00")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.clock_start == datetime(2026, 11, 30, 17, 29, tzinfo=SHANGHAI)
    monkeypatch.setenv("WORKLEDGER_CLOCK_START", "2026-11-30T17:29:00")
    with pytest.raises(ValueError, match="time zone"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17:30", time(17, 30)),
        ("9:05", time(9, 5)),
        (" 09:05 ", time(9, 5)),
        ("１７：３０", time(17, 30)),
        ("23:59", time(23, 59)),
        ("0:00", time(0, 0)),
    ],
)
def test_times_of_day_as_people_type_them(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["24:00", "17:60", "1730", "17:3", "5pm", "", "17:30:00"])
def test_what_is_not_a_time_of_day(text: str) -> None:
    assert parse_time_of_day(text) is None
