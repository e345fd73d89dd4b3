"""The one clock: every "now" of the bot, its jobs, the sender and the command line.

Real time by default. Started at a given moment (``WORKLEDGER_CLOCK_START``) it runs
on from there at normal speed, so a demo or a black-box test can act on a given day;
the sandbox moves it (``set``), and tests may stop it (``frozen``).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as time_of_day

__all__ = ["Clock", "parse_time_of_day"]

_TIME_OF_DAY = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def parse_time_of_day(text: str) -> time_of_day | None:
    """A 24-hour time of day as people type it (``17:30``, ``9:05``, full-width ``１７：３０``);
    None if it is not one. The one reader of times of day: policy files and chat alike."""
    match = _TIME_OF_DAY.fullmatch(unicodedata.normalize("NFKC", text).strip())
    return None if match is None else time_of_day(int(match[1]), int(match[2]))


class Clock:
    """Aware UTC moments from one place; ``now()`` and ``today(zone)`` are all it offers.

    It keeps an offset from the machine's time (and, frozen, a fixed moment), so
    moving it never affects timers that measure durations (``time.monotonic``).
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        frozen: bool = False,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if start is not None and start.utcoffset() is None:
            raise ValueError("the clock's start needs a time zone, e.g. 2026-11-30T17:29:00+08:00")
        if frozen and start is None:
            raise ValueError("a frozen clock needs a moment to stand at")
        self._wall = wall
        self._frozen: datetime | None = None
        self._offset = timedelta(0)
        if start is not None:
            self.set(start, frozen=frozen)

    @classmethod
    def at(cls, moment: datetime) -> Clock:
        """A clock stopped at ``moment`` (tests)."""
        return cls(moment, frozen=True)

    @property
    def is_real(self) -> bool:
        """Whether this is the machine's own time."""
        return self._frozen is None and not self._offset

    def _machine_now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def now(self) -> datetime:
        """The current moment, aware, in UTC."""
        if self._frozen is not None:
            return self._frozen
        return self._machine_now() + self._offset

    def today(self, zone: tzinfo) -> date:
        """The current day in ``zone`` (the organisation's time zone decides "today")."""
        return self.now().astimezone(zone).date()

    def set(self, moment: datetime, *, frozen: bool | None = None) -> None:
        """Move the clock to ``moment``; it keeps running (or stays stopped) from there.

        ``frozen`` stops it there (True) or lets it run on (False); None keeps how it was.
        """
        if moment.utcoffset() is None:
            raise ValueError("a moment needs a time zone")
        moment = moment.astimezone(UTC)
        stop = self._frozen is not None if frozen is None else frozen
        if stop:
            self._frozen = moment
            self._offset = moment - self._machine_now()
        else:
            self._frozen = None
            self._offset = moment - self._machine_now()

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative ``delta``)."""
        self.set(self.now() + delta)
