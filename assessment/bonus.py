"""Bonus runs: computed from a published period, previewed by HR, published once.

A **run** is computed by the store (``storage.repositories.bonus``), a window of staff
ids per transaction (``RUN_BATCH``; bounded, as every big job: an interactive write waits for
one window at most), on whole numbers of rounding steps, the same arithmetic as
``assessment.bonus_rules`` (the service tests hold the two equal). It reads each
person's published result as it stands when the run is made: an appeal decided later
(HR's calibrated grade changed) is paid by a correction.

HR **previews** a run (totals by department and grade, and a spreadsheet of every line
with its factors), then **publishes** it. A published run is immutable. Run 1 pays the
period; every later run is a **correction**, with its reason: its lines are what each
person is entitled to now, what the runs before paid (``paid``), and the difference it
pays or recovers (``change``); someone no longer entitled gives back what they were paid.

**Never paid twice**: a draft records how many runs were published when it was computed
(``basis``); publishing it is a conditional UPDATE that gives it number basis + 1 only if
that is still the next number, and (period, number) is unique. A second press, a second
process, or another draft computed before the first was published: refused.

On publication each person with a line (a correction: each person it changes) is told
privately, in their language, through the outbox (``queue_notices``, in batches, once).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from assessment import access, results
from assessment.batches import BATCH_SIZE, Window, run_in_batches
from assessment.bonus_rules import DIFFICULTY_PLACES, PoolError, Units
from assessment.outbox import Outgoing, enqueue
from assessment.people import StaffMember
from config.policy import Policy
from storage.enums import BonusRunStatus
from storage.models import BonusRun
from storage.repositories.audit import Event
from storage.repositories.bonus import Arithmetic, LineRow, NoticeRow, Pool, RunTotal
from storage.uow import UnitOfWork

__all__ = [
    "MAX_REASON",
    "Assigned",
    "BonusError",
    "Computed",
    "LineRow",
    "NoticeRow",
    "PoolError",
    "Published",
    "RunTotal",
    "arithmetic",
    "assign_allowance",
    "compute",
    "discard",
    "lines",
    "publish",
    "queue_notices",
    "totals",
]

MAX_REASON = 500
# Whole numbers the store computes with stay below this (SQLite's integers are 64-bit
# and would turn to floating point past them).
_LARGEST = 2**62
# Lines read per query for the spreadsheet.
_PAGE = 5000
# Staff ids per window of a run's lines. A window is one INSERT ... SELECT in a
# transaction of its own, 6-13 ms on SQLite at 1,000 (bench/bonus_export.py): about what
# a quick log waits for behind one batch of the daily reminder at BATCH_SIZE (its p99
# measured 61 ms at 1,000). At 1,000 the run measured 1.55x its floor's CPU on SQLite and
# 1.70x on PostgreSQL; at 2,000 1.61x on PostgreSQL (README, Benchmarks).
RUN_BATCH = 1000


class BonusError(enum.StrEnum):
    """Why a bonus run (or an allowance) was refused."""

    NOT_HR = "not_hr"
    UNKNOWN_PERIOD = "unknown_period"
    NOT_PUBLISHED = "not_published"  # the period's results are not published
    PUBLISHING = "publishing"  # published, but not every score is published yet
    POOL_NEEDED = "pool_needed"  # pool mode: HR gives the total
    POOL_NOT_USED = "pool_not_used"  # formula mode: there is no total to give
    REASON_NEEDED = "reason_needed"  # a correction says why
    REASON_TOO_LONG = "reason_too_long"
    TOO_LARGE = "too_large"
    UNKNOWN_RUN = "unknown_run"
    PUBLISHED = "published"  # this run is published already
    DISCARDED = "discarded"  # a newer preview replaced it
    STALE = "stale"  # another run of the period was published since it was computed
    UNKNOWN_KIND = "unknown_kind"
    UNKNOWN_PERSON = "unknown_person"
    ASSIGNED = "assigned"  # the person has that allowance for the period already
    NO_ALLOWANCE = "no_allowance"  # no such allowance in force (withdrawn meanwhile)
    UNKNOWN_CHANGE = "unknown_change"  # no changed result of a case to correct
    CORRECTED = "corrected"  # a correction published since the change pays it


@dataclass(frozen=True, slots=True)
class Computed:
    """A run computed and waiting for HR's decision."""

    run_id: int
    period_key: str
    correction: bool
    people: int
    total: Decimal
    change: Decimal
    totals: list[RunTotal]


@dataclass(frozen=True, slots=True)
class Published:
    """A run published as the period's run ``number``."""

    run_id: int
    period_key: str
    number: int


@dataclass(frozen=True, slots=True)
class Assigned:
    """An allowance assigned; ``paid_by``: the number of the period's published run, if
    one is (only a correction pays the allowance then)."""

    staff_id: int
    kind: str
    amount: Decimal
    paid_by: int | None = None


def reason_of(text: str | None) -> str | BonusError | None:
    """A reason given, trimmed; None if none; too long, refused."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_REASON:
        return BonusError.REASON_TOO_LONG
    return cleaned


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def arithmetic(policy: Policy) -> Arithmetic:
    """The policy's bonus numbers as the whole numbers the store computes with.

    By the formula a share is base x coefficient x difficulty / step steps; with base as
    ``base x 10**b`` and weight (coefficient x difficulty) as a whole number of
    ``10**-(c + 3)``, that is ``base x 10**b x weight / 10**(b + c + 3) / step``.
    """
    units = Units.of(policy)
    rule = policy.bonus
    base_places = _places(rule.base)
    base = int(rule.base.scaleb(base_places))
    # step = 10**-s: divide by 10**(b + c + 3 - s) (or multiply when that is negative).
    exponent = base_places + units.coefficient_places + DIFFICULTY_PLACES - _places(units.step)
    numerator = base * 10 ** max(0, -exponent)
    denominator = 10 ** max(0, exponent)
    return Arithmetic(
        coefficients={grade.id: units.coefficient(grade.coefficient) for grade in policy.grades},
        allowances={kind: units.money(a.amount) for kind, a in rule.allowances.items()},
        difficulty_scale=10**DIFFICULTY_PLACES,
        numerator=numerator,
        denominator=denominator,
        rounding_mode=rule.rounding_mode,
    )


def _largest_weight(policy: Policy, numbers: Arithmetic) -> int:
    top = max(numbers.coefficients.values(), default=0)
    return top * int(policy.difficulty.max.scaleb(DIFFICULTY_PLACES))


def _factors(policy: Policy, pool: Decimal | None) -> dict[str, Any]:
    rule = policy.bonus
    return {
        "mode": rule.mode,
        "base": str(rule.base),
        "currency": rule.currency,
        "step": str(rule.rounding),
        "rounding_mode": rule.rounding_mode,
        "coefficients": {grade.id: str(grade.coefficient) for grade in policy.grades},
        "allowances": {kind: str(a.amount) for kind, a in rule.allowances.items()},
        "pool": None if pool is None else str(pool),
    }


async def compute(
    uows: Callable[[], UnitOfWork],
    member: StaffMember,
    period_key: str,
    policy: Policy,
    *,
    pool_total: Decimal | None,
    reason: str | None,
    now: datetime,
    size: int = RUN_BATCH,
) -> Computed | BonusError | PoolError:
    """Compute a draft run of a published period for HR to preview.

    ``pool_total`` is the pool in pool mode (and must be None otherwise); ``reason`` is
    required once a run of the period is published (this one corrects it). Older drafts
    of the period are set aside.
    """
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    mode = policy.bonus.mode
    if mode == "pool" and pool_total is None:
        return BonusError.POOL_NEEDED
    if mode == "formula" and pool_total is not None:
        return BonusError.POOL_NOT_USED
    why = reason_of(reason)
    if isinstance(why, BonusError):
        return why
    units = Units.of(policy)
    numbers = arithmetic(policy)
    async with uows() as uow:
        period = await uow.periods.by_key(period_key)
        if period is None:
            return BonusError.UNKNOWN_PERIOD
        if period.published_at is None:
            return BonusError.NOT_PUBLISHED
        # A publication publishes its scores in batches: a run before the last would
        # leave out everyone after it.
        if not await uow.claims.claimed(results.notices_key(period_key)):
            return BonusError.PUBLISHING
        paid = await uow.bonus.latest_published(period.id)
        basis = 0 if paid is None or paid.number is None else paid.number
        if basis and why is None:
            return BonusError.REASON_NEEDED
        pool: Pool | None = None
        pool_units: int | None = None
        if pool_total is not None:
            if pool_total < 0:
                return PoolError.NEGATIVE
            try:
                pool_units = units.money(pool_total)
            except ValueError:
                return PoolError.NOT_A_STEP
            _, weights, allowances = await uow.bonus.pool_weights(period.id, numbers)
            rest = pool_units - allowances
            if rest < 0:
                return PoolError.ALLOWANCES_EXCEED
            if rest and not weights:
                return PoolError.NOBODY_WEIGHTED
            if rest * _largest_weight(policy, numbers) >= _LARGEST:
                return BonusError.TOO_LARGE
            pool = Pool(rest, weights)
        elif numbers.numerator * _largest_weight(policy, numbers) * 2 >= _LARGEST:
            return BonusError.TOO_LARGE
        run_id = await uow.bonus.create(
            period.id,
            basis=basis,
            mode=mode,
            pool_units=pool_units,
            reason=why,
            factors=_factors(policy, pool_total),
            by_id=member.id,
            now=now,
        )
        await uow.audit.add(
            Event(
                "bonus.computed",
                "bonus_run",
                run_id,
                at=now,
                actor_staff_id=member.id,
                details={"period": period_key, "basis": basis, "mode": mode},
            )
        )
        await uow.commit()
        period_id = period.id
        highest = await uow.staff.highest_id()
        plan = uow.bonus.plan(
            run_id, period_id, numbers, paid_run_id=None if paid is None else paid.id, pool=pool
        )
    index = 0
    while index * size < highest or index == 0:
        async with uows() as uow:
            await uow.bonus.compute(plan, after=index * size, through=(index + 1) * size)
            await uow.commit()
        index += 1
        # What waits meanwhile (a quick log, a press) goes first.
        await asyncio.sleep(0)
    if pool is not None:
        await _share_what_is_left(uows, run_id, pool.rest, size)
    async with uows() as uow:
        found = await uow.bonus.totals(run_id)
        people, total, change = await uow.bonus.finish(run_id, now, found)
        if pool_units is not None and total != pool_units:
            # A result changed while the run was computed (an appeal decided): the shares
            # no longer add up to the pool. Set aside; HR runs it again.
            await uow.bonus.discard(run_id)
            await uow.commit()
            return BonusError.STALE
        await uow.commit()
    return Computed(
        run_id, period_key, basis > 0, people, units.amount(total), units.amount(change), found
    )


async def _share_what_is_left(
    uows: Callable[[], UnitOfWork], run_id: int, rest: int, size: int
) -> None:
    """The steps a pool's rounded-down shares leave: one each to the largest remainders."""
    async with uows() as uow:
        left = rest - await uow.bonus.shared(run_id)
        chosen = await uow.bonus.largest_remainders(run_id, left) if left > 0 else []
    for start in range(0, len(chosen), size):
        async with uows() as uow:
            await uow.bonus.add_a_step(run_id, chosen[start : start + size])
            await uow.commit()
        await asyncio.sleep(0)


async def totals(uow: UnitOfWork, run_id: int) -> tuple[BonusRun, list[RunTotal]] | None:
    """A run and its totals by department and grade."""
    run = await uow.bonus.run(run_id)
    if run is None:
        return None
    return run, await uow.bonus.totals(run_id)


async def publish(
    uows: Callable[[], UnitOfWork], member: StaffMember, run_id: int, *, now: datetime
) -> Published | BonusError:
    """Publish a previewed run, once; refused if any run took its place meanwhile."""
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    async with uows() as uow:
        try:
            # The conditional UPDATE first: on SQLite a transaction that read first could
            # not wait for another writer.
            done = await uow.bonus.publish(run_id, by_id=member.id, now=now)
        except IntegrityError:
            # Another run took this number at the same moment (PostgreSQL, two processes).
            return BonusError.STALE
        run = await uow.bonus.run(run_id)
        if run is None:
            return BonusError.UNKNOWN_RUN
        if not done:
            if run.status is BonusRunStatus.PUBLISHED:
                return BonusError.PUBLISHED
            if run.status is BonusRunStatus.DISCARDED:
                return BonusError.DISCARDED
            return BonusError.STALE
        key = await uow.results.period_key(run.period_id)
        assert run.number is not None and key is not None
        await uow.audit.add(
            Event(
                "bonus.published",
                "bonus_run",
                run_id,
                at=now,
                actor_staff_id=member.id,
                details={
                    "period": key,
                    "number": run.number,
                    "people": run.people,
                    "total_units": run.total_units,
                    "change_units": run.change_units,
                    "reason": run.reason,
                },
            )
        )
        try:
            await uow.commit()
        except IntegrityError:
            return BonusError.STALE
        return Published(run_id, key, run.number)


# How a line becomes its person's notice: the adapter layer renders it in their language.
NoticeRenderer = Callable[[BonusRun, str, NoticeRow], Outgoing]


def notices_key(run_id: int) -> str:
    """The claim of a run's notices being queued."""
    return f"bonus-notices/{run_id}"


async def queue_notices(
    uows: Callable[[], UnitOfWork],
    run_id: int,
    render: NoticeRenderer,
    *,
    now: datetime,
    size: int = BATCH_SIZE,
) -> int | None:
    """Queue a published run's notices, a batch of staff ids per transaction, once: to
    everyone with a line of run 1, to everyone a correction changes. How many queued."""
    async with uows() as uow:
        run = await uow.bonus.run(run_id)
        key = None if run is None else await uow.results.period_key(run.period_id)
    if run is None or key is None or run.status is not BonusRunStatus.PUBLISHED:
        return None
    published, period_key = run, key

    async def prepare(uow: UnitOfWork, window: Window) -> list[NoticeRow] | None:
        rows = await uow.bonus.to_tell(
            run_id, window.after, window.through, everyone=published.number == 1
        )
        return rows or None

    async def write(uow: UnitOfWork, window: Window, rows: list[NoticeRow]) -> int:
        return await enqueue(uow, [render(published, period_key, row) for row in rows], now=now)

    return await run_in_batches(uows, notices_key(run_id), prepare, write, now=now, size=size)


async def unfinished_notices(uow: UnitOfWork, period_id: int) -> list[int]:
    """The period's published runs whose notices were not all queued (the bot stopped)."""
    return [
        run.id
        for run in await uow.bonus.runs(period_id)
        if run.status is BonusRunStatus.PUBLISHED
        and not await uow.claims.claimed(notices_key(run.id))
    ]


async def lines(uows: Callable[[], UnitOfWork], run_id: int) -> list[LineRow]:
    """Every line of a run with who it is, read a page at a time."""
    found: list[LineRow] = []
    after = 0
    while True:
        async with uows() as uow:
            page = await uow.bonus.lines(run_id, after=after, limit=_PAGE)
        found.extend(page)
        if len(page) < _PAGE:
            return found
        after = page[-1].staff_id
        await asyncio.sleep(0)


async def discard(
    uow: UnitOfWork, member: StaffMember, run_id: int, *, now: datetime
) -> BonusError | None:
    """Set a previewed run aside; a published run stays as it is."""
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    run = await uow.bonus.run(run_id)
    if run is None:
        return BonusError.UNKNOWN_RUN
    if run.status is BonusRunStatus.PUBLISHED:
        return BonusError.PUBLISHED
    await uow.bonus.discard(run_id)
    await uow.audit.add(
        Event("bonus.discarded", "bonus_run", run_id, at=now, actor_staff_id=member.id)
    )
    await uow.commit()
    return None


async def assign_allowance(
    uow: UnitOfWork,
    member: StaffMember,
    period_key: str,
    employee_no: str,
    kind: str,
    reason: str | None,
    policy: Policy,
    *,
    now: datetime,
) -> Assigned | BonusError:
    """HR assigns a person an allowance of the policy's kind for a period, with a reason."""
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    allowance = policy.bonus.allowances.get(kind)
    if allowance is None:
        return BonusError.UNKNOWN_KIND
    why = reason_of(reason)
    if why is None:
        return BonusError.REASON_NEEDED
    if isinstance(why, BonusError):
        return why
    period = await uow.periods.by_key(period_key)
    if period is None:
        return BonusError.UNKNOWN_PERIOD
    found = await uow.staff.by_employee_nos([employee_no])
    if not found:
        return BonusError.UNKNOWN_PERSON
    person = found[0]
    if not await uow.bonus.assign(period.id, person.id, kind, why, by_id=member.id, now=now):
        return BonusError.ASSIGNED
    # A preview computed before would not pay it: set aside, previewed again.
    await uow.bonus.set_drafts_aside(period.id)
    await uow.audit.add(
        Event(
            "bonus.allowance_assigned",
            "staff",
            person.id,
            at=now,
            actor_staff_id=member.id,
            details={"period": period_key, "kind": kind, "reason": why},
        )
    )
    paid = await uow.bonus.latest_published(period.id)
    await uow.commit()
    return Assigned(person.id, kind, allowance.amount, None if paid is None else paid.number)
