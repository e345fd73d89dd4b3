"""A person's own record of a day or a month: entries, the workdays left empty, leave."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from assessment.calendar import leave_days
from assessment.entries import EntryView
from assessment.entry_rules import Workdays
from storage.uow import UnitOfWork

__all__ = ["DayRecord", "MonthRecord", "day_record", "month_of", "month_record"]


@dataclass(frozen=True, slots=True)
class DayRecord:
    """One day of a person's record."""

    day: date
    workday: bool
    on_leave: bool
    entries: tuple[EntryView, ...] = ()
    # Only a day that has begun can be missing an entry.
    past: bool = True

    @property
    def missing(self) -> bool:
        """A workday, not on leave, begun, and still without any entry."""
        return self.workday and self.past and not self.on_leave and not self.entries


@dataclass(frozen=True, slots=True)
class MonthRecord:
    """A month of a person's record: the days worth listing, in order."""

    month: date
    today: date
    days: tuple[DayRecord, ...]

    @property
    def entries(self) -> list[EntryView]:
        """Every entry of the month, by date."""
        return [entry for record in self.days for entry in record.entries]

    @property
    def missing(self) -> list[date]:
        """Workdays so far without an entry (leave aside)."""
        return [record.day for record in self.days if record.missing]

    @property
    def leave(self) -> list[date]:
        """Days on leave."""
        return [record.day for record in self.days if record.on_leave]

    @property
    def previous(self) -> date:
        """The first day of the month before."""
        return month_of(self.month - timedelta(days=1))

    @property
    def next(self) -> date | None:
        """The first day of the month after, unless that is still to come."""
        following = month_of(self.month + timedelta(days=31))
        return following if following <= self.today else None


def month_of(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def _month_end(month: date) -> date:
    return month_of(month + timedelta(days=31)) - timedelta(days=1)


def _grouped(entries: Iterable[EntryView]) -> dict[date, tuple[EntryView, ...]]:
    grouped: dict[date, list[EntryView]] = {}
    for entry in entries:
        grouped.setdefault(entry.work_date, []).append(entry)
    return {day: tuple(items) for day, items in grouped.items()}


async def _entries(uow: UnitOfWork, staff_id: int, start: date, end: date) -> list[EntryView]:
    return [
        EntryView.of(entry, attachments)
        for entry, attachments in await uow.entries.of_staff(staff_id, start, end)
    ]


async def day_record(
    uow: UnitOfWork, staff_id: int, day: date, *, calendar: Workdays
) -> DayRecord:
    """A person's entries of one day (deleted ones left out), and whether they owe one."""
    entries = await _entries(uow, staff_id, day, day)
    on_leave = bool(await leave_days(uow, staff_id, day, day))
    return DayRecord(day, calendar.is_workday(day), on_leave, tuple(entries))


async def month_record(
    uow: UnitOfWork, staff_id: int, month: date, *, today: date, calendar: Workdays
) -> MonthRecord:
    """A person's month: days with entries, workdays without one so far, and leave days.

    Two queries: the month's entries (with their attachment counts) and leave days.
    """
    start = month_of(month)
    end = _month_end(start)
    by_day = _grouped(await _entries(uow, staff_id, start, end))
    leave = set(await leave_days(uow, staff_id, start, end))
    workdays = set(calendar.workdays(start, end))
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        record = DayRecord(
            day, day in workdays, day in leave, by_day.get(day, ()), past=day <= today
        )
        if record.entries or record.on_leave or record.missing:
            days.append(record)
    return MonthRecord(start, today, tuple(days))
