"""Time travel for the sandbox: move the bot's one clock, and run what falls due then.

Each move goes to the next moment of its kind after the clock's now
(``assessment.moments``): to the daily reminder's time, the next workday's morning,
the day a period's self-assessment opens, the supervisors' due day, or the day
calibration and publication may begin. Moves only go forward, so nothing the bot did
is ever in its own future; the store's job keys make a job that runs twice for one
day do its work once.

The leases of the messages the outbox sender holds move on with the clock, so that
none of them looks abandoned and is sent twice. The bot's jobs are ticks that read the
clock (``bot.app``): after the move each one is run at once (PTB's public
``Job.run``), so what is due at the new moment (reminders, the monthly check's
reminders, scheduled publications) is queued without waiting for the next tick, and
the outbox sender, which reads the same clock, sends it.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import datetime
from typing import Any

from assessment.calendar import WorkCalendar
from assessment.moments import Moment, next_moment, period_in_check
from assessment.periods import milestones, period_of, stage_on
from handlers.context import BotData, WorkledgerApplication

__all__ = ["MOVES", "clock_status", "move_clock"]

MOVES: tuple[str, ...] = ("reminders", "next_workday", "self_review", "review_due", "publication")

# Each bot's moves, one at a time.
_moving: weakref.WeakKeyDictionary[WorkledgerApplication, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _target(data: BotData, move: str, now: datetime) -> datetime:
    if move not in MOVES:
        raise ValueError(f"unknown move {move!r}: one of {', '.join(MOVES)}")
    return next_moment(
        Moment(move),
        now,
        data.policy,
        WorkCalendar(data.policy),
        data.settings.zone,
    )


async def move_clock(application: WorkledgerApplication, move: str) -> datetime:
    """Set the bot's clock to the next moment ``move`` names (one of ``MOVES``), then run
    every job of the bot at once; the moment, aware, in the organisation's zone.

    A running clock runs on from there; a stopped one (tests) stays stopped there.

    Raises:
        ValueError: ``move`` is not one of ``MOVES``.
    """
    data = application.bot_data
    # One move at a time: a second one (another tab) starts from where this one went.
    async with _moving.setdefault(application, asyncio.Lock()):
        now = data.clock.now()
        moment = _target(data, move, now)
        # The leases first: the sender, reading the clock moved, finds its own still held.
        async with data.database.uow() as uow:
            await uow.outbox.carry_leases(moment - now)
            await uow.commit()
        data.clock.set(moment)
        if application.job_queue is not None:
            for job in application.job_queue.jobs():
                await job.run(application)
    return moment


def clock_status(data: BotData) -> dict[str, Any]:
    """JSON-ready: the clock's now in the organisation's zone, its weekday, whether it is a
    workday, the period the monthly check is about and its stage, today's own period,
    and where each move would go.

    The stage is the calendar's (``assessment.periods.stage_on``): HR starting
    calibration early or publishing shows only in what the bot says, not here.
    """
    zone = data.settings.zone
    policy = data.policy
    calendar = WorkCalendar(policy)
    now = data.clock.now().astimezone(zone)
    today = now.date()
    period = period_in_check(today, policy)
    days = milestones(period, policy)
    current = period_of(today, policy)
    return {
        "now": now.isoformat(),
        "zone": data.settings.timezone,
        "weekday": _WEEKDAYS[today.weekday()],
        "workday": calendar.is_workday(today),
        "period": period.key,
        "stage": stage_on(period, today, policy).value,
        "stages": {
            "self_assessment": days.self_opens.isoformat(),
            "supervisor_review": days.review_starts.isoformat(),
            "review_due": days.review_due.isoformat(),
            "calibration": days.calibration_starts.isoformat(),
        },
        "today_period": current.key,
        "today_period_stage": stage_on(current, today, policy).value,
        "moves": {
            move: next_moment(Moment(move), now, policy, calendar, zone).isoformat()
            for move in MOVES
        },
    }
