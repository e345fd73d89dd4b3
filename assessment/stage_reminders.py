"""The monthly check's reminders: close your period, your team's reviews, reviews overdue.

Four reminders per period, each on its own day (``schedule``), organisation-local, at
the policy's ``reminders.monthly_check_time``:

- **self-open** (staff), when the self-assessment opens (``self_review_open_day``);
- **self-due** (staff), ``reminder_days_before_due`` before ``self_review_due_day``;
- **review-due** (supervisors), ``reminder_days_before_due`` before
  ``supervisor_review_due_day``;
- **review-overdue** (HR), ``escalate_after_days`` after ``supervisor_review_due_day``.

Days on the work calendar: a reminder *before* a due day that falls on a day off moves
to the workday before it (a reminder read after a weekend may come too late to act on;
earlier never gives less time), but never before its stage has begun; a notice that
something *has begun or is overdue* moves to the next workday instead (it cannot be
sent before its stage begins, nor escalate before the grace days are over). A span with
no workday at all keeps the policy's day.

Staff are reminded only if they have something to do: workdays of the period with no
entry (up to the day before), entries returned to them, or their self-assessment not
yet in. Entries waiting for approval are shown, but are their supervisor's to decide,
so they alone send nothing. On the day the self-assessment opens nearly everyone has
something to do (it has only just opened), so the opening notice reaches nearly
everyone; the reminder before the due day reaches only those still behind. Supervisors
are reminded of their team's reviews not yet signed off; HR once per period (and per
HR member) of the reviews still missing, per reviewer, and only if some are.

Recipients are linked people still at work (second-line staff too: they are still
assessed); left and unlinked people are never written to (an unlinked person is still
on their supervisor's list and in HR's counts: their review is due all the same).
People HR excluded from the period are not chased.

Done once, whatever restarts or extra processes: each reminder of each period is
claimed as ``monthly-check/<period>/<reminder>`` in batches of staff ids
(``assessment.batches``), and each message carries a dedup key of that and the
recipient (``.../staff/42``). A bot that was down at the reminder time sends late the
same day (at its first tick after it); a past day is never reminded.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from assessment.batches import BATCH_SIZE, Window, run_in_batches
from assessment.entry_rules import Workdays
from assessment.outbox import ROUTINE, Outgoing, enqueue
from assessment.periods import Period, milestones, period_of
from config.policy import Policy
from storage.repositories.calendar import Recipient
from storage.repositories.stage_reminders import CloseState, ReviewerCount, Unreviewed
from storage.uow import UnitOfWork

__all__ = [
    "CloseNotice",
    "OverdueReviews",
    "Reminder",
    "Renderers",
    "TeamReviews",
    "due_on",
    "run",
    "schedule",
]

log = logging.getLogger(__name__)

KEY = "monthly-check"
KIND = "monthly_check"
# A notice moved to the next workday looks this far ahead (past a golden week).
_AHEAD = timedelta(days=31)
# Texts rendered between two turns of the event loop (each names its own days).
_RENDERED_AT_ONCE = 50

UnitsOfWork = Callable[[], UnitOfWork]


class Reminder(enum.StrEnum):
    """The monthly check's reminders, in the order of their days."""

    SELF_OPEN = "self-open"
    SELF_DUE = "self-due"
    REVIEW_DUE = "review-due"
    REVIEW_OVERDUE = "review-overdue"


@dataclass(frozen=True, slots=True)
class CloseNotice:
    """A person's "close your period": what they still have to do, and by when."""

    reminder: Reminder  # SELF_OPEN or SELF_DUE
    period: Period
    due: date  # self_review_due_day
    state: CloseState


@dataclass(frozen=True, slots=True)
class TeamReviews:
    """A reviewer's team reviews not yet signed off."""

    period: Period
    due: date  # supervisor_review_due_day
    reviewer: Recipient
    people: tuple[Unreviewed, ...]


@dataclass(frozen=True, slots=True)
class OverdueReviews:
    """For one HR member: the period's reviews still missing, per reviewer (most first)."""

    period: Period
    due: date  # supervisor_review_due_day
    hr: Recipient
    by_reviewer: tuple[ReviewerCount, ...]

    @property
    def total(self) -> int:
        """How many reviews are missing in all."""
        return sum(row.count for row in self.by_reviewer)


@dataclass(frozen=True, slots=True)
class Renderers:
    """The texts of the reminders, each in its recipient's language (the adapter's)."""

    close: Callable[[CloseNotice], str]
    team: Callable[[TeamReviews], str]
    overdue: Callable[[OverdueReviews], str]


def _latest_workday(calendar: Workdays, day: date, earliest: date, latest: date) -> date:
    # The last workday from ``earliest`` to ``day``; else the first one up to ``latest``;
    # else ``day`` itself.
    day = max(day, earliest)
    current = day
    while current >= earliest:
        if calendar.is_workday(current):
            return current
        current -= timedelta(days=1)
    return _first_workday(calendar, day, latest)


def _first_workday(calendar: Workdays, day: date, latest: date) -> date:
    # The first workday from ``day`` to ``latest``; else ``day`` itself.
    current = day
    while current <= latest:
        if calendar.is_workday(current):
            return current
        current += timedelta(days=1)
    return day


def schedule(period: Period, policy: Policy, calendar: Workdays) -> dict[Reminder, date]:
    """The day of each reminder of ``period`` (see the module's rule).

    The reminder before the self-assessment's due day is left out when it would fall
    on or before the opening notice's day: that notice says the same.
    """
    days = milestones(period, policy)
    check = policy.monthly_check
    before = timedelta(days=check.reminder_days_before_due)
    opens = _first_workday(calendar, days.self_opens, days.self_due)
    found = {Reminder.SELF_OPEN: opens}
    self_due = _latest_workday(calendar, days.self_due - before, days.self_opens, days.self_due)
    if self_due > opens:
        found[Reminder.SELF_DUE] = self_due
    found[Reminder.REVIEW_DUE] = _latest_workday(
        calendar, days.review_due - before, days.review_starts, days.review_due
    )
    overdue = days.review_due + timedelta(days=check.escalate_after_days)
    found[Reminder.REVIEW_OVERDUE] = _first_workday(calendar, overdue, overdue + _AHEAD)
    return found


def _periods_around(today: date, policy: Policy) -> Iterator[Period]:
    # Today's period and the earlier ones whose reminders may still fall on or after
    # today: the latest is escalation, in the month after the period plus its days.
    reach = timedelta(days=62 + policy.monthly_check.escalate_after_days) + _AHEAD
    period = period_of(today, policy)
    while period.ends_on + reach >= today:
        yield period
        period = period.previous()


def due_on(today: date, policy: Policy, calendar: Workdays) -> list[tuple[Period, Reminder]]:
    """The reminders whose day is ``today``, oldest period first."""
    found = [
        (period, reminder)
        for period in _periods_around(today, policy)
        for reminder, day in schedule(period, policy, calendar).items()
        if day == today
    ]
    return sorted(found, key=lambda item: (item[0], list(Reminder).index(item[1])))


def _key(period: Period, reminder: Reminder) -> str:
    return f"{KEY}/{period.key}/{reminder}"


def _message(key: str, recipient: Recipient, text: str) -> Outgoing:
    return Outgoing(
        chat_id=recipient.telegram_user_id,
        kind=KIND,
        text=text,
        staff_id=recipient.staff_id,
        # Each person's copy: monthly-check/2026-11/self-due/staff/42.
        dedup_key=f"{key}/staff/{recipient.staff_id}",
        priority=ROUTINE,
    )


async def _queue(uow: UnitOfWork, window: Window, messages: list[Outgoing], now: datetime) -> int:
    return await enqueue(uow, messages, now=now)


async def _close(
    uows: UnitsOfWork,
    key: str,
    notice: Callable[[CloseState], CloseNotice],
    render: Callable[[CloseNotice], str],
    period: Period,
    period_id: int,
    workdays: list[date],
    *,
    now: datetime,
    size: int,
) -> int | None:
    async def prepare(uow: UnitOfWork, window: Window) -> list[Outgoing] | None:
        states = await uow.stage_reminders.close_states(
            period_id, period.starts_on, period.ends_on, workdays, window.after, window.through
        )
        found = []
        for count, state in enumerate(state for state in states if state.has_work):
            found.append(_message(key, state.recipient, render(notice(state))))
            if count % _RENDERED_AT_ONCE == _RENDERED_AT_ONCE - 1:
                await asyncio.sleep(0)  # a batch's texts are made in Python: let others in
        return found or None

    async def write(uow: UnitOfWork, window: Window, messages: list[Outgoing]) -> int:
        return await _queue(uow, window, messages, now)

    return await run_in_batches(uows, key, prepare, write, now=now, size=size)


async def _team(
    uows: UnitsOfWork,
    key: str,
    period: Period,
    period_id: int,
    due: date,
    render: Callable[[TeamReviews], str],
    *,
    now: datetime,
    size: int,
) -> int | None:
    async def prepare(uow: UnitOfWork, window: Window) -> list[Outgoing] | None:
        rows = await uow.stage_reminders.unreviewed(period_id, window.after, window.through)
        found = []
        for _, group in itertools.groupby(rows, key=lambda row: row.reviewer.staff_id):
            people = tuple(group)
            reviewer = people[0].reviewer
            found.append(
                _message(key, reviewer, render(TeamReviews(period, due, reviewer, people)))
            )
        return found or None

    async def write(uow: UnitOfWork, window: Window, messages: list[Outgoing]) -> int:
        return await _queue(uow, window, messages, now)

    return await run_in_batches(uows, key, prepare, write, now=now, size=size)


async def _overdue(
    uows: UnitsOfWork,
    key: str,
    period: Period,
    period_id: int,
    due: date,
    render: Callable[[OverdueReviews], str],
    *,
    now: datetime,
    size: int,
) -> int | None:
    async with uows() as uow:
        if await uow.claims.claimed(key):
            return None
        highest = await uow.staff.highest_id()
    # Counted a window of people at a time (each a short read), added up here.
    counts: dict[int | None, ReviewerCount] = {}
    for after in range(0, highest, size):
        async with uows() as uow:
            rows = await uow.stage_reminders.unreviewed_counts(period_id, after, after + size)
        for row in rows:
            known = counts.get(row.reviewer_id)
            counts[row.reviewer_id] = (
                row
                if known is None
                else ReviewerCount(
                    row.reviewer_id, row.name, row.employee_no, known.count + row.count
                )
            )
        await asyncio.sleep(0)
    by_reviewer = tuple(
        sorted(
            counts.values(),
            key=lambda row: (-row.count, row.reviewer_id is None, row.employee_no or ""),
        )
    )
    messages = []
    if by_reviewer:
        # Read first: finding HR reads the whole staff table, which the transaction
        # that writes should not wait for.
        async with uows() as uow:
            people = await uow.stage_reminders.hr()
        for hr in people:
            notice = OverdueReviews(period, due, hr, by_reviewer)
            messages.append(_message(key, hr, render(notice)))
    async with uows() as uow:
        # The claim first (see ``assessment.batches``); HR are few: one transaction.
        if not await uow.claims.claim(key, now):
            return None
        queued = await enqueue(uow, messages, now=now)
        await uow.commit()
    return queued


async def run(
    uows: UnitsOfWork,
    policy: Policy,
    calendar: Workdays,
    zone: tzinfo,
    render: Renderers,
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int | None]:
    """The monthly check's reminders due at ``now``, each queued once.

    Args:
        uows: Makes a fresh unit of work (each step is its own transaction).
        policy: Its ``[monthly_check]`` days and ``reminders.monthly_check_time``.
        calendar: Decides which days are workdays.
        zone: The organisation's time zone.
        render: The reminders' texts.
        now: The current moment (aware).
        batch_size: Staff ids per batch (see ``assessment.batches``).

    Returns:
        Each reminder due today by its key (``monthly-check/2026-11/self-due``), with
        how many messages this run queued, or None if another run did it already.
        Empty if nothing is due at ``now``.
    """
    local = now.astimezone(zone)
    if local.time() < policy.reminders.monthly_check_time:
        return {}
    today = local.date()
    done: dict[str, int | None] = {}
    for period, reminder in due_on(today, policy, calendar):
        key = _key(period, reminder)
        async with uows() as uow:
            stored = await uow.periods.by_key(period.key)
        if stored is not None and stored.published_at is not None:
            continue  # nothing left to remind of
        # A period not stored yet has no reviews: nobody's self-assessment is in.
        period_id = 0 if stored is None else stored.id
        days = milestones(period, policy)
        if reminder in (Reminder.SELF_OPEN, Reminder.SELF_DUE):
            # Up to yesterday: today's entry is not missing yet at the reminder time.
            through = min(period.ends_on, today - timedelta(days=1))
            workdays = list(calendar.workdays(period.starts_on, through))

            notice = functools.partial(CloseNotice, reminder, period, days.self_due)
            queued = await _close(
                uows,
                key,
                notice,
                render.close,
                period,
                period_id,
                workdays,
                now=now,
                size=batch_size,
            )
        elif reminder is Reminder.REVIEW_DUE:
            queued = await _team(
                uows,
                key,
                period,
                period_id,
                days.review_due,
                render.team,
                now=now,
                size=batch_size,
            )
        else:
            queued = await _overdue(
                uows,
                key,
                period,
                period_id,
                days.review_due,
                render.overdue,
                now=now,
                size=batch_size,
            )
        if queued is not None:
            log.info("%s: queued %d messages", key, queued)
        done[key] = queued
    return done
