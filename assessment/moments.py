"""The moments worth moving a clock to: when the next thing of each kind happens.

For the sandbox's time travel (``bot.sandbox.timetravel``): each moment is the next one
of its kind strictly after ``now``, so moving to it only ever moves forward, and is
computed from the rules that decide it (the policy's reminder times, the work calendar,
the period stages of ``assessment.periods``), never from a copy of them:

- **reminders**: the daily reminder's time (``reminders.daily_time``) today, if today is
  a workday and that time is still to come, else on the next workday;
- **next workday**: the next workday after today, when the office opens;
- **self-assessment**, **review due**, **calibration**: the next day a period's
  self-assessment opens, its supervisors' reviews are due, or its calibration (and so
  its publication) may begin, at the monthly check's reminder time
  (``reminders.monthly_check_time``), so that day's reminders fall due at once.

``period_in_check`` names the period the monthly check is about on a day: the latest
whose self-assessment has opened (on 1 December, November; on 26 December, December).
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timedelta, tzinfo

from assessment.entry_rules import Workdays
from assessment.periods import Milestones, Period, milestones, period_of
from config.policy import Policy

__all__ = ["OFFICE_OPENS", "Moment", "next_moment", "period_in_check"]

# The policy has no office hours; a public office opens at nine.
OFFICE_OPENS = time(9, 0)
# A workday lies within this many days (a policy declaring years of holidays aside).
_SEARCH = 3660


class Moment(enum.StrEnum):
    """A kind of moment to move to."""

    REMINDERS = "reminders"
    NEXT_WORKDAY = "next_workday"
    SELF_REVIEW = "self_review"
    REVIEW_DUE = "review_due"
    PUBLICATION = "publication"


def _at(day: date, when: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, when, tzinfo=zone)


def _next_workday(calendar: Workdays, after: date) -> date:
    for offset in range(1, _SEARCH):
        day = after + timedelta(days=offset)
        if calendar.is_workday(day):
            return day
    raise ValueError(f"no workday in the ten years after {after}")


def _milestone(kind: Moment, days: Milestones) -> date:
    if kind is Moment.SELF_REVIEW:
        return days.self_opens
    if kind is Moment.REVIEW_DUE:
        return days.review_due
    return days.calibration_starts


def next_moment(
    kind: Moment, now: datetime, policy: Policy, calendar: Workdays, zone: tzinfo
) -> datetime:
    """The next moment of ``kind`` strictly after ``now``, aware, in ``zone``."""
    local = now.astimezone(zone)
    today = local.date()
    if kind is Moment.REMINDERS:
        at = policy.reminders.daily_time
        if calendar.is_workday(today) and local < _at(today, at, zone):
            return _at(today, at, zone)
        return _at(_next_workday(calendar, today), at, zone)
    if kind is Moment.NEXT_WORKDAY:
        return _at(_next_workday(calendar, today), OFFICE_OPENS, zone)
    at = policy.reminders.monthly_check_time
    period: Period = period_of(today, policy).previous()
    # Each period's days come after the previous period's: the first one ahead is next.
    while True:
        moment = _at(_milestone(kind, milestones(period, policy)), at, zone)
        if moment > local:
            return moment
        period = period.next()


def period_in_check(today: date, policy: Policy) -> Period:
    """The period the monthly check is about on ``today``: the latest whose
    self-assessment has opened (its stage is never "open")."""
    period = period_of(today, policy)
    if today >= milestones(period, policy).self_opens:
        return period
    return period.previous()
