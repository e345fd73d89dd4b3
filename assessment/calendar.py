"""The work calendar: which days are workdays, and the days a person is on leave.

A region's public holidays and adjusted workdays come from the ``holidays`` package;
the policy's ``calendar.extra_holidays`` and ``calendar.extra_workdays`` override them.
China rearranges its rest days every year (调休): the State Council publishes the
next year's plan in the autumn, bridging holidays to weekends and making some
Saturdays and Sundays workdays. For a year whose plan the package does not have yet
the calendar keeps the statutory holidays (fixed by law) and the weekends, without
any adjusted day, and logs a warning once; the organisation can add the plan's days
to its policy until the package is upgraded. A region the package does not know at
all has Monday to Friday as workdays, plus the policy's own days.

Leave is per person and lives in the store: ``set_leave`` records it.

Typical use::

    calendar = WorkCalendar(policy)
    if calendar.is_workday(today): ...
    window = calendar.previous_workdays(today, policy.entries.backdate_workdays)
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import holidays

from config.policy import Policy
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

__all__ = ["WorkCalendar", "clear_leave", "leave_days", "set_leave"]

log = logging.getLogger(__name__)

# Regions whose rest days follow a yearly government plan with make-up workdays. Every
# published Chinese plan (2001 onwards) has some; a year without any has no plan yet.
_YEARLY_PLAN_REGIONS = frozenset({"CN"})
_SATURDAY_SUNDAY = frozenset({5, 6})
# A policy could in theory declare every day a holiday; searching stops after ten years.
_SEARCH_LIMIT = timedelta(days=3660)


@dataclass(frozen=True, slots=True)
class _RegionYear:
    """One region's rest days for one year, as far as the holidays package knows them."""

    holidays: frozenset[date]
    make_up_workdays: frozenset[date]
    weekend: frozenset[int]


@functools.cache
def _region_year(region: str, year: int) -> _RegionYear:
    # Cached per process: built once per region and year, so each warning is logged once.
    try:
        known = holidays.country_holidays(region, years=year)
    except NotImplementedError:
        log.warning(
            "the holidays package does not know region %s: in %d only weekends and the "
            "policy's calendar.extra_holidays are days off",
            region,
            year,
        )
        return _RegionYear(frozenset(), frozenset(), _SATURDAY_SUNDAY)
    make_up = frozenset(day for day in known.weekend_workdays if day.year == year)
    if region in _YEARLY_PLAN_REGIONS and not make_up:
        log.warning(
            "the holidays package has no official holiday plan of %s for %d yet: using the "
            "statutory holidays and weekends without adjusted days (调休); list the plan's "
            "days in the policy's calendar.extra_holidays and calendar.extra_workdays, or "
            "upgrade the holidays package",
            region,
            year,
        )
        # The package would otherwise move holidays that fall on a weekend to Monday, a
        # rule China does not have: without the plan, only the statutory days are certain.
        known = holidays.country_holidays(region, years=year, observed=False)
    return _RegionYear(frozenset(known), make_up, frozenset(known.weekend))


class WorkCalendar:
    """Workdays of the organisation: the region's calendar with the policy's own changes."""

    def __init__(self, policy: Policy) -> None:
        calendar = policy.calendar
        self.region = calendar.region
        self._extra_holidays = frozenset(calendar.extra_holidays)
        self._extra_workdays = frozenset(calendar.extra_workdays)

    def is_workday(self, day: date) -> bool:
        """Whether people are expected to work on ``day`` (leave aside)."""
        if day in self._extra_workdays:
            return True
        if day in self._extra_holidays:
            return False
        year = _region_year(self.region, day.year)
        if day in year.make_up_workdays:
            return True
        return day not in year.holidays and day.weekday() not in year.weekend

    def workdays(self, start: date, end: date) -> list[date]:
        """The workdays from ``start`` to ``end``, both included, in order."""
        days = (start + timedelta(days=offset) for offset in range((end - start).days + 1))
        return [day for day in days if self.is_workday(day)]

    def previous_workdays(self, day: date, n: int) -> list[date]:
        """The ``n`` workdays before ``day`` (``day`` itself excluded), oldest first.

        The backdating window of an entry made on ``day`` is these days plus ``day``.

        Raises:
            ValueError: If ``n`` is negative, or no ``n`` workdays lie in the ten years
                before ``day`` (a policy that declares nearly every day a holiday).
        """
        if n < 0:
            raise ValueError(f"n must not be negative (got {n})")
        found: list[date] = []
        current = day
        while len(found) < n:
            current -= timedelta(days=1)
            if day - current > _SEARCH_LIMIT:
                raise ValueError(f"fewer than {n} workdays in the ten years before {day}")
            if self.is_workday(current):
                found.append(current)
        return found[::-1]


async def set_leave(
    uow: UnitOfWork,
    staff_id: int,
    day: date,
    *,
    by: int | None,
    now: datetime,
    kind: str = "leave",
) -> bool:
    """Record that a person is on leave on ``day``; returns False if it was already recorded.

    Args:
        uow: The unit of work; committed here.
        staff_id: Who is on leave.
        day: The organisation-local day.
        by: Who recorded it (the person themselves, their supervisor or HR).
        now: When (UTC).
        kind: What sort of leave, for reports (``"leave"`` by default).
    """
    added = await uow.leave.record(staff_id, day, kind=kind, recorded_by_id=by)
    if added:
        await uow.audit.add(
            Event(
                "leave.recorded",
                "staff",
                staff_id,
                at=now,
                actor_staff_id=by,
                details={"day": day.isoformat(), "kind": kind},
            )
        )
    await uow.commit()
    return added


async def clear_leave(
    uow: UnitOfWork, staff_id: int, day: date, *, by: int | None, now: datetime
) -> bool:
    """Remove a recorded leave day; returns False if there was none."""
    removed = await uow.leave.remove(staff_id, day)
    if removed:
        await uow.audit.add(
            Event(
                "leave.removed",
                "staff",
                staff_id,
                at=now,
                actor_staff_id=by,
                details={"day": day.isoformat()},
            )
        )
    await uow.commit()
    return removed


async def leave_days(uow: UnitOfWork, staff_id: int, start: date, end: date) -> list[date]:
    """A person's leave days from ``start`` to ``end``, both included, in order."""
    return await uow.leave.days_of(staff_id, start, end)
