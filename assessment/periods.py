"""Assessment periods, their stages, and the rule that closes a period under review.

A period is a calendar month (key ``2026-11``), or a calendar quarter (``2026-Q4``)
where the policy's ``assessment.period`` says ``quarter``. Its stages follow from the
policy's ``[monthly_check]`` days, counted in the last month of the period (L) and the
month after it (F), all organisation-local days:

- **open** until the day before ``self_review_open_day`` of L;
- **self-assessment** from ``self_review_open_day`` of L through ``self_review_due_day``
  of F (entries may still be added and changed);
- **supervisor review** from the day after ``self_review_due_day`` of F: from this day
  the period is **closed**: its entries can no longer be added, edited, deleted or
  decided, by anyone, on any path;
- **calibration** from the day after ``supervisor_review_due_day`` of F, or earlier
  when HR starts it (never before the supervisor review);
- **published** once HR has published the results.

Example (default policy, days 25, 3 and 7): November 2026 is open through 24 November,
in self-assessment 25 November to 3 December, under supervisor review from 4 December,
in calibration from 8 December. A quarter Q4 2026 (October to December) has the same
days in December and January.

The closed-period rule is ``closed_through``: the last day of the latest period whose
supervisor review has started; every entry dated on or before it is closed, unless HR
reopened its author's period (``reopen``) and the reviewer has not signed it off again.
The store applies it inside each statement that writes or decides an entry
(``storage.repositories.periods.entry_open``), with ``closed_through`` as its parameter.

Periods are stored lazily: ``ensure_period`` creates a period's row the first time it
is needed, safely when two processes do it at once.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from assessment import access
from assessment.entry_rules import Workdays
from assessment.people import StaffMember
from config.policy import Policy
from storage.repositories.audit import Event
from storage.repositories.periods import PeriodRow
from storage.uow import UnitOfWork

__all__ = [
    "MAX_REASON",
    "Milestones",
    "Period",
    "ReopenError",
    "Reopened",
    "Stage",
    "closed_through",
    "current_stage",
    "ensure_period",
    "is_closed",
    "is_entry_closed",
    "milestones",
    "missing_workdays",
    "parse_key",
    "period_of",
    "reopen",
    "stage_on",
]

MAX_REASON = 500
_MONTH_KEY = re.compile(r"(\d{4})-(\d{2})")
_QUARTER_KEY = re.compile(r"(\d{4})-Q([1-4])")


class Stage(enum.StrEnum):
    """Where a period stands on a given day."""

    OPEN = "open"
    SELF_ASSESSMENT = "self_assessment"
    SUPERVISOR_REVIEW = "supervisor_review"
    CALIBRATION = "calibration"
    PUBLISHED = "published"


def _month_start(year: int, month: int) -> date:
    # Months counted from 1 onwards may run past December.
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, 1)


def _month_end(start: date) -> date:
    return _month_start(start.year, start.month + 1) - timedelta(days=1)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One assessment period: its key and its first and last day."""

    starts_on: date
    ends_on: date
    key: str

    @property
    def quarterly(self) -> bool:
        """A quarter rather than a month."""
        return "Q" in self.key

    def days(self) -> list[date]:
        """Every day of the period, in order."""
        return [
            self.starts_on + timedelta(days=n)
            for n in range((self.ends_on - self.starts_on).days + 1)
        ]

    def previous(self) -> Period:
        """The period before this one (of the same length)."""
        return _span(self.starts_on - timedelta(days=1), quarterly=self.quarterly)

    def next(self) -> Period:
        """The period after this one."""
        return _span(self.ends_on + timedelta(days=1), quarterly=self.quarterly)


def _span(day: date, *, quarterly: bool) -> Period:
    if quarterly:
        quarter = (day.month - 1) // 3 + 1
        start = date(day.year, 3 * quarter - 2, 1)
        end = _month_end(_month_start(day.year, 3 * quarter))
        return Period(start, end, f"{day.year}-Q{quarter}")
    start = day.replace(day=1)
    return Period(start, _month_end(start), f"{day.year}-{day.month:02d}")


def period_of(day: date, policy: Policy) -> Period:
    """The period that holds ``day``: its month, or its quarter per ``assessment.period``."""
    return _span(day, quarterly=policy.assessment.period == "quarter")


def parse_key(text: str, policy: Policy) -> Period | None:
    """The period a key names (``2026-11``, ``2026-Q4``) in the policy's kind of period;
    None if it is not one. A month given where periods are quarters names its quarter."""
    text = text.strip().upper()
    if match := _MONTH_KEY.fullmatch(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12 or year < 2000:
            return None
        return period_of(date(year, month, 1), policy)
    if (match := _QUARTER_KEY.fullmatch(text)) and policy.assessment.period == "quarter":
        year, quarter = int(match[1]), int(match[2])
        if year < 2000:
            return None
        return period_of(date(year, 3 * quarter, 1), policy)
    return None


@dataclass(frozen=True, slots=True)
class Milestones:
    """The days a period's stages begin (organisation-local)."""

    self_opens: date
    self_due: date
    review_starts: date
    review_due: date
    calibration_starts: date


def milestones(period: Period, policy: Policy) -> Milestones:
    """When each stage of ``period`` begins, by the policy's ``[monthly_check]`` days."""
    check = policy.monthly_check
    last = period.ends_on.replace(day=1)
    following = _month_start(last.year, last.month + 1)
    self_due = following.replace(day=check.self_review_due_day)
    review_due = following.replace(day=check.supervisor_review_due_day)
    return Milestones(
        self_opens=last.replace(day=check.self_review_open_day),
        self_due=self_due,
        review_starts=self_due + timedelta(days=1),
        review_due=review_due,
        calibration_starts=review_due + timedelta(days=1),
    )


def stage_on(
    period: Period,
    today: date,
    policy: Policy,
    *,
    calibration_started_on: date | None = None,
    published: bool = False,
) -> Stage:
    """The stage of ``period`` on ``today`` (see the module's rule).

    Args:
        period: The period.
        today: The organisation-local day.
        policy: Whose ``[monthly_check]`` days count.
        calibration_started_on: The day HR started calibration early, if they did.
        published: Whether HR has published the period's results.
    """
    days = milestones(period, policy)
    if today < days.self_opens:
        return Stage.OPEN
    if today < days.review_starts:
        return Stage.SELF_ASSESSMENT
    if published:
        return Stage.PUBLISHED
    early = calibration_started_on is not None and calibration_started_on <= today
    if today >= days.calibration_starts or early:
        return Stage.CALIBRATION
    return Stage.SUPERVISOR_REVIEW


def closed_through(today: date, policy: Policy) -> date:
    """The last day of the latest period under review (or later) on ``today``: entries
    dated on or before it are closed, unless their author's period was reopened.

    The period before today's closes during today's period's first month; the one
    before that is always closed by then.
    """
    previous = period_of(today, policy).previous()
    if today >= milestones(previous, policy).review_starts:
        return previous.ends_on
    return previous.previous().ends_on


def is_closed(day: date, today: date, policy: Policy) -> bool:
    """Whether ``day``'s period is closed on ``today`` (reopening aside)."""
    return day <= closed_through(today, policy)


async def is_entry_closed(
    uow: UnitOfWork, staff_id: int, day: date, today: date, policy: Policy
) -> bool:
    """Whether an entry of ``staff_id`` dated ``day`` is closed on ``today``, reopening
    counted: the answer the store's statements give (``entry_open``), asked on its own
    to explain a refusal."""
    if not is_closed(day, today, policy):
        return False
    return not await uow.periods.is_reopened(staff_id, day)


async def current_stage(
    uow: UnitOfWork, period: Period, today: date, policy: Policy, zone: tzinfo
) -> Stage:
    """The stage of ``period`` on ``today``, with what HR did to it (started calibration
    early, published) as stored; a period not stored yet has had nothing done to it."""
    return stored_stage(period, await uow.periods.by_key(period.key), today, policy, zone)


def stored_stage(
    period: Period, stored: PeriodRow | None, today: date, policy: Policy, zone: tzinfo
) -> Stage:
    """``current_stage`` of a period whose stored row (``None``: not stored) the caller
    has just read."""
    started = None if stored is None else stored.calibration_started_at
    return stage_on(
        period,
        today,
        policy,
        calibration_started_on=None if started is None else started.astimezone(zone).date(),
        published=stored is not None and stored.published_at is not None,
    )


async def ensure_period(uow: UnitOfWork, period: Period, *, now: datetime) -> int:
    """The stored id of ``period``, created now if it is not stored yet (no commit)."""
    return await uow.periods.get_or_create(period.key, period.starts_on, period.ends_on, now)


async def missing_workdays(
    uow: UnitOfWork,
    staff_id: int,
    period: Period,
    calendar: Workdays,
    *,
    through: date,
) -> list[date]:
    """The workdays of ``period`` up to ``through`` on which ``staff_id`` has no entry that
    stands (submitted, approved or returned) and is not on leave, in order."""
    end = min(period.ends_on, through)
    if end < period.starts_on:
        return []
    covered = await uow.periods.covered_days(staff_id, period.starts_on, end)
    leave = set(await uow.leave.days_of(staff_id, period.starts_on, end))
    return [
        day
        for day in calendar.workdays(period.starts_on, end)
        if day not in covered and day not in leave
    ]


class ReopenError(enum.Enum):
    """Why HR could not reopen a person's period."""

    NOT_HR = "not_hr"
    UNKNOWN_PERSON = "unknown_person"
    BAD_PERIOD = "bad_period"
    NOT_CLOSED = "not_closed"  # still open: nothing to reopen
    PUBLISHED = "published"  # published results change only through an appeal
    REASON_NEEDED = "reason_needed"
    REASON_TOO_LONG = "reason_too_long"
    ALREADY_REOPENED = "already_reopened"


@dataclass(frozen=True, slots=True)
class Reopened:
    """A person's period reopened by HR."""

    employee_no: str
    name: str
    period: Period
    was_signed_off: bool


async def reopen(
    uow: UnitOfWork,
    hr: StaffMember,
    employee_no: str,
    period: Period | None,
    reason: str,
    policy: Policy,
    *,
    today: date,
    now: datetime,
) -> Reopened | ReopenError:
    """Reopen one person's period under review, and commit: their review is withdrawn
    (sign-off cleared, computed score removed) and their entries of the period may be
    added, changed and decided again until the reviewer signs off again. Audited.

    Args:
        uow: The unit of work; committed here when the period is reopened.
        hr: Who asks; only HR (or an administrator) may, checked here, whatever the
            caller checked.
        employee_no: The person's employee number.
        period: The period; None: the latest one closed on ``today``.
        reason: Why, for the audit log and the person.
        policy: The policy (kind of period, stage days).
        today: The organisation-local day.
        now: When (UTC).
    """
    if access.check(hr, access.HR) is not None:
        return ReopenError.NOT_HR
    cleaned = reason.strip()
    if not cleaned:
        return ReopenError.REASON_NEEDED
    if len(cleaned) > MAX_REASON:
        return ReopenError.REASON_TOO_LONG
    people = await uow.staff.by_employee_nos([employee_no.strip()])
    if not people:
        return ReopenError.UNKNOWN_PERSON
    person = people[0]
    if period is None:
        period = period_of(closed_through(today, policy), policy)
    if not is_closed(period.ends_on, today, policy):
        return ReopenError.NOT_CLOSED
    stored = await uow.periods.by_key(period.key)
    if stored is not None and stored.published_at is not None:
        return ReopenError.PUBLISHED
    period_id = stored.id if stored is not None else await ensure_period(uow, period, now=now)
    review_id = await uow.reviews.ensure(
        period_id,
        person.id,
        department_id=person.department_id,
        reviewer_id=person.supervisor_id,
        now=now,
    )
    review = await uow.periods.review(review_id)
    assert review is not None
    was_signed_off = review.signed_off_at is not None
    if not await uow.periods.reopen(review_id, reason=cleaned, by_id=hr.id, now=now):
        return ReopenError.ALREADY_REOPENED
    score_dropped = await uow.periods.drop_score(period_id, person.id)
    details: dict[str, Any] = {
        "period": period.key,
        "employee_no": person.employee_no,
        "reason": cleaned,
        "was_signed_off": was_signed_off,
        "score_dropped": score_dropped,
    }
    await uow.audit.add(
        Event(
            "period.reopened",
            "period_review",
            review_id,
            at=now,
            actor_staff_id=hr.id,
            actor_telegram_id=hr.telegram_user_id,
            details=details,
        )
    )
    await uow.commit()
    return Reopened(person.employee_no, person.name, period, was_signed_off)
