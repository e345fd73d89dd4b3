"""Workday reminders: to each person who has not logged today, and to supervisors about their team.

Jobs tick every minute; the work is named by a key of it and its day
(``daily-reminder/2026-11-20``) and done in batches of people, each claimed in the
transaction that queues its messages (``assessment.batches``), so a restart or a
second bot process never sends twice, and after a crash the next tick queues only
what is left. A bot that was down at the reminder time sends late the same day (at
its first tick after starting); a past day is never reminded.

"Remind me in an hour" queues one more reminder for later. The outbox cannot check
anything when it sends, so every tick withdraws queued reminders that are no longer
needed: those of people who have logged or taken the day off since, and any left
over from an earlier day. A reminder can therefore still arrive if the entry was
made in the minute before it fell due.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from assessment.batches import BATCH_SIZE, Window, run_in_batches
from assessment.calendar import WorkCalendar
from assessment.outbox import ROUTINE, Circular, Languages, Outgoing, circulate, enqueue
from storage.repositories.calendar import AbsentReport, Recipient
from storage.uow import UnitOfWork

__all__ = [
    "SNOOZE",
    "AbsentReport",
    "DayState",
    "Languages",
    "Recipient",
    "SnoozeOutcome",
    "TeamSummary",
    "daily_reminder",
    "due_day",
    "local_day",
    "run_daily",
    "run_team_summary",
    "snooze",
    "team_summary_message",
    "team_today",
]

log = logging.getLogger(__name__)

DAILY = "daily-reminder"
SNOOZED = "daily-reminder-snooze"
TEAM = "team-summary"
DAILY_KIND = "daily_reminder"
SNOOZED_KIND = "daily_reminder_snooze"
TEAM_KIND = "team_summary"
SNOOZE = timedelta(hours=1)

UnitsOfWork = Callable[[], UnitOfWork]


class DayState(enum.StrEnum):
    """Where a person's log for a day stands."""

    LOGGED = "logged"
    ON_LEAVE = "on_leave"
    NOT_YET = "not_yet"


class SnoozeOutcome(enum.StrEnum):
    """What "Remind me in an hour" did."""

    QUEUED = "queued"
    ALREADY_QUEUED = "already_queued"
    NOT_NEEDED = "not_needed"
    TOO_LATE = "too_late"


@dataclass(frozen=True, slots=True)
class TeamSummary:
    """A supervisor's day: the direct reports with no entry, and those of them on leave."""

    supervisor: Recipient
    day: date
    missing: tuple[AbsentReport, ...]
    on_leave: tuple[AbsentReport, ...]


def local_day(now: datetime, zone: tzinfo) -> date:
    """The organisation-local date at ``now``."""
    return now.astimezone(zone).date()


def due_day(calendar: WorkCalendar, at: time, now: datetime, zone: tzinfo) -> date | None:
    """Today (organisation time) if it is a workday and ``at`` has passed, else None."""
    local = now.astimezone(zone)
    if local.time() < at or not calendar.is_workday(local.date()):
        return None
    return local.date()


def _key(name: str, day: date) -> str:
    return f"{name}/{day.isoformat()}"


def daily_reminder(day: date, *, text: str, markup: dict[str, object] | None) -> Circular:
    """The daily reminder for everyone who reads one language (text already in it)."""
    return Circular(
        kind=DAILY_KIND,
        # Each person's copy: daily-reminder/2026-11-20/staff/42.
        key=f"{_key(DAILY, day)}/staff/",
        text=text,
        markup=markup,
        # Ahead of bulk notices: a reminder read tomorrow is no reminder.
        priority=ROUTINE,
    )


def team_summary_message(summary: TeamSummary, *, text: str) -> Outgoing:
    """The outbox row of one supervisor's team summary (text already in their language)."""
    supervisor = summary.supervisor
    return Outgoing(
        chat_id=supervisor.telegram_user_id,
        kind=TEAM_KIND,
        text=text,
        staff_id=supervisor.staff_id,
        dedup_key=f"{_key(TEAM, summary.day)}/staff/{supervisor.staff_id}",
        priority=ROUTINE,
    )


async def _tidy(uows: UnitsOfWork, today: date, size: int) -> None:
    kinds = [DAILY_KIND, SNOOZED_KIND, TEAM_KIND]
    async with uows() as uow:
        span = await uow.outbox.pending_span(kinds)
    if span is None:
        return
    # Right after 17:30 tens of thousands of reminders wait to go: looked at in one
    # transaction, they would hold the store for 60-80 ms every minute.
    first, last = span
    stale = settled = 0
    for after in range(first - 1, last, size):
        async with uows() as uow:
            stale += await uow.outbox.withdraw_stale(
                kinds, [f"{_key(name, today)}/" for name in (DAILY, SNOOZED, TEAM)], after, size
            )
            settled += await uow.outbox.withdraw_settled(
                [DAILY_KIND, SNOOZED_KIND], today, after, size
            )
            await uow.commit()
        await asyncio.sleep(0)
    if stale or settled:
        log.info("withdrew %d reminders of earlier days and %d no longer needed", stale, settled)


async def run_daily(
    uows: UnitsOfWork,
    calendar: WorkCalendar,
    at: time,
    zone: tzinfo,
    render: Callable[[Languages, date], Circular],
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> int | None:
    """The daily reminder job at ``now``: tidy the queue, then remind everyone owing today's entry.

    Args:
        uows: Makes a fresh unit of work (each step is its own transaction).
        calendar: Decides whether today is a workday.
        at: The policy's reminder time, organisation-local.
        zone: The organisation's time zone.
        render: The reminder for one language (see ``daily_reminder``).
        now: The current moment (aware).
        batch_size: Staff ids per batch (see ``assessment.batches``).

    Returns:
        How many reminders were queued; None if none were due at ``now`` (not a workday,
        too early, or already done by this or another process).
    """
    await _tidy(uows, local_day(now, zone), batch_size)
    day = due_day(calendar, at, now, zone)
    if day is None:
        return None
    key = _key(DAILY, day)
    queued = await circulate(
        uows,
        key,
        lambda uow: uow.leave.owing(day),
        lambda languages: render(languages, day),
        now=now,
        size=batch_size,
    )
    if queued is not None:
        log.info("%s: queued %d messages", key, queued)
    return queued


async def run_team_summary(
    uows: UnitsOfWork,
    calendar: WorkCalendar,
    at: time,
    zone: tzinfo,
    render: Callable[[TeamSummary], Outgoing],
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> int | None:
    """The team summary job at ``now``: each supervisor learns who of their team has not logged.

    Supervisors are linked, working people with working direct reports; one whose
    reports all logged (or are on leave) gets nothing. Each summary names people, so
    it is rendered in Python: a batch's supervisors at a time.

    Returns:
        How many summaries were queued; None if none were due at ``now``.
    """
    day = due_day(calendar, at, now, zone)
    if day is None:
        return None

    async def summaries(uow: UnitOfWork, window: Window) -> list[Outgoing] | None:
        absent = await uow.leave.absent_reports(day, window.after, window.through)
        found = []
        for _, group in itertools.groupby(absent, key=lambda row: row.supervisor.staff_id):
            reports = list(group)
            missing = tuple(row for row in reports if not row.on_leave)
            if missing:
                on_leave = tuple(row for row in reports if row.on_leave)
                found.append(render(TeamSummary(reports[0].supervisor, day, missing, on_leave)))
        return found or None

    async def queue(uow: UnitOfWork, window: Window, messages: list[Outgoing]) -> int:
        return await enqueue(uow, messages, now=now)

    key = _key(TEAM, day)
    queued = await run_in_batches(uows, key, summaries, queue, now=now, size=batch_size)
    if queued is not None:
        log.info("%s: queued %d messages", key, queued)
    return queued


async def snooze(
    uow: UnitOfWork,
    staff_id: int,
    chat_id: int,
    day: date,
    *,
    text: str,
    markup: dict[str, object] | None,
    now: datetime,
    zone: tzinfo,
) -> tuple[SnoozeOutcome, datetime]:
    """Queue one more reminder of ``day`` for ``SNOOZE`` from now, once a day per person.

    Returns:
        What happened, and when the reminder is (or would have been) due.
    """
    due = now + SNOOZE
    if local_day(due, zone) != day:
        return SnoozeOutcome.TOO_LATE, due
    logged, on_leave = await uow.leave.day_of(staff_id, day)
    if logged or on_leave:
        return SnoozeOutcome.NOT_NEEDED, due
    message = Outgoing(
        chat_id=chat_id,
        kind=SNOOZED_KIND,
        text=text,
        markup=markup,
        staff_id=staff_id,
        dedup_key=f"{_key(SNOOZED, day)}/staff/{staff_id}",
        priority=ROUTINE,
        not_before=due,
    )
    queued = await enqueue(uow, [message], now=now)
    await uow.commit()
    return (SnoozeOutcome.QUEUED if queued else SnoozeOutcome.ALREADY_QUEUED), due


async def team_today(uow: UnitOfWork, supervisor_id: int, day: date) -> dict[str, DayState]:
    """Each working direct report's state on ``day``, by employee number."""
    return {
        row.employee_no: DayState.LOGGED
        if row.logged
        else DayState.ON_LEAVE
        if row.on_leave
        else DayState.NOT_YET
        for row in await uow.leave.team_day(supervisor_id, day)
    }
