"""The annual roll-up of a year from the store, and HR's private report of its flags.

HR runs it (``/annual YYYY``, or ``workledger annual YYYY``); an administrator may run it
with the quota's wider share (``/annual YYYY wider``). It reads the year's published
routine results (``period_scores`` of the periods starting in the year) a bounded batch
of people at a time, and writes a new generation of the year's ``annual_results`` (its
run, ``annual_runs``), in three passes:

1. each person's annual score, the grade it earns, what bars the top grade and the
   trainings their shortfalls match (``assessment.annual``), stored per batch;
2. the quota: only the people whose score reaches the top grade are read back, with the
   number graded per scope, and those who do not receive it get the next grade;
3. the flags, from each batch's stored grades and the earlier years' current results.

Every batch is its own short transaction, so on SQLite a staff member's log waits for
one batch at most, never for the whole run. What people see stays atomic: everyone
reads the year's *current* run, and the new one becomes current, with its audit event
and HR's report, in one small transaction at the end. Until then the previous result
stands: a run that fails between batches is marked failed and its rows are purged, in
batches, by the next run. One run per year at a time: a second is refused while the
first runs (a claim left by a process killed mid-run is taken over after ``STALE``).
The flags go to HR, and only to HR, privately: one message per HR person (split when
long); nothing is sent to the people flagged, their colleagues or their supervisors.

The stored breakdowns are read as text and parsed in a worker thread, only for the
indicators the training catalogue names (not at all when it names none).
"""

from __future__ import annotations

import asyncio
import decimal
import enum
import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from assessment import access
from assessment.annual import (
    Candidate,
    RoutineResult,
    annual_score,
    flags_for,
    grade_after_quota,
    scope_of,
    top_receivers,
)
from assessment.outbox import Outgoing, enqueue
from assessment.people import StaffMember
from assessment.scoring import BREAKDOWN_VERSION
from config.policy import AnnualRule, Policy
from storage.enums import Role
from storage.repositories.annual import AnnualRow, PublishedRow
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

__all__ = [
    "BATCH",
    "STALE",
    "AnnualError",
    "Between",
    "RollUp",
    "indicator_scores",
    "refusal",
    "roll_up",
]

# Staff ids per window read: their year's routine results (at most 12 each) and history;
# also the rows per transaction of the other passes and of purging old generations.
BATCH = 500
# A running claim this old is of a run whose process died mid-run: taken over.
STALE = timedelta(hours=1)
FIRST_YEAR, LAST_YEAR = 2000, 2100


class AnnualError(enum.StrEnum):
    """Why a roll-up was not run."""

    NO_ANNUAL_RULE = "no_annual_rule"
    NOT_HR = "not_hr"
    NOT_ADMIN = "not_admin"  # the wider share is approved from above HR
    BAD_YEAR = "bad_year"
    NOTHING_PUBLISHED = "nothing_published"
    RUNNING = "running"  # another roll-up of the year is running


@dataclass(frozen=True, slots=True)
class RollUp:
    """A year rolled up: how many people, how many graded, and everyone flagged."""

    year: int
    people: int
    graded: int
    with_approval: bool
    flagged: tuple[AnnualRow, ...]


# Renders HR's report for one HR recipient, in their language: the messages to queue.
Report = Callable[[StaffMember, RollUp], list[Outgoing]]
# Awaited after each batch is committed, with its pass ("scores", "quota", "flags") and
# the people done so far in it: a progress message, or a test's point between batches.
Between = Callable[[str, int], Awaitable[None]]
# A fresh unit of work (``Database.uow``, or a handler's ``context.uow``).
Units = Callable[[], UnitOfWork]


def indicator_scores(text: str | None, wanted: Collection[str]) -> dict[str, Decimal]:
    """The score of each ``wanted`` indicator that counted, from a stored breakdown's JSON
    text, as ``Breakdown.from_json`` reads it but without building the whole breakdown
    (none from a breakdown of a format this version cannot read)."""
    if not text or not wanted:
        return {}
    try:
        data = json.loads(text)
        if data.get("version") != BREAKDOWN_VERSION:
            return {}
        return {
            part["id"]: Decimal(part["score"])
            for part in data["indicators"]
            if part["id"] in wanted and part["score"] is not None
        }
    except (KeyError, TypeError, ValueError, AttributeError, decimal.InvalidOperation):
        return {}


def _score_batch(
    policy: Policy, published: Sequence[PublishedRow], wanted: Collection[str]
) -> list[tuple[int, int, Any]]:
    """(staff id, department id, annual score) of each person of a batch; pure, so it
    runs in a worker thread, off the event loop."""
    by_person: dict[int, list[PublishedRow]] = {}
    for row in published:
        by_person.setdefault(row.staff_id, []).append(row)
    return [
        (
            staff_id,
            rows[-1].department_id,
            annual_score(
                policy,
                [
                    RoutineResult(
                        period_key=row.period_key,
                        score=row.score,
                        grade_id=row.calibrated_grade_id or row.grade_id,
                        indicator_scores=indicator_scores(row.breakdown, wanted),
                    )
                    for row in rows
                ],
            ),
        )
        for staff_id, rows in by_person.items()
    ]


def refusal(member: StaffMember, policy: Policy, year: int, *, wider: bool) -> AnnualError | None:
    """Why ``member`` may not roll ``year`` up, if they may not."""
    if policy.annual is None:
        return AnnualError.NO_ANNUAL_RULE
    if access.check(member, access.HR) is not None:
        return AnnualError.NOT_HR
    if wider and access.check(member, access.QUOTA_APPROVERS) is not None:
        return AnnualError.NOT_ADMIN
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return AnnualError.BAD_YEAR
    return None


@dataclass(frozen=True, slots=True)
class _Run:
    """One run's constants, handed to each pass."""

    units: Units
    policy: Policy
    rule: AnnualRule
    year: int
    run_id: int
    by: int | None
    wider: bool
    now: datetime
    between: Between | None

    async def done(self, phase: str, count: int) -> None:
        if self.between is not None:
            await self.between(phase, count)


async def _scores(run: _Run) -> int:
    """Pass 1: every person's annual score, stored a batch per transaction; how many."""
    people = 0
    wanted = frozenset(i for training in run.rule.trainings for i in training.indicators)
    async with run.units() as uow:
        highest = await uow.staff.highest_id()
    # Fixed windows of staff ids: each read is a range of the (period, staff) index.
    for after in range(0, highest, BATCH):
        async with run.units() as uow:
            published = await uow.annual.published(
                run.year, after, after + BATCH, breakdowns=bool(wanted)
            )
            if not published:
                continue
            scored = await asyncio.to_thread(_score_batch, run.policy, published, wanted)
            await uow.annual.add_many(
                [
                    {
                        "run_id": run.run_id,
                        "year": run.year,
                        "staff_id": staff_id,
                        "department_id": department_id,
                        "periods": score.periods,
                        "score": score.score,
                        "by_score_grade_id": score.by_score_grade_id,
                        "grade_id": score.by_score_grade_id,
                        "barred_by": list(score.barred_by),
                        "trainings": list(score.trainings),
                        "flags": [],
                        "with_approval": run.wider,
                        "computed_at": run.now,
                        "computed_by_id": run.by,
                    }
                    for staff_id, department_id, score in scored
                ]
            )
            await uow.commit()
        people += len(scored)
        await run.done("scores", people)
    return people


async def _quota(run: _Run) -> None:
    """Pass 2: the top grade within the quota; the rest who reached it get the next one."""
    rule = run.rule
    async with run.units() as uow:
        graded: dict[int | str, int] = {}
        for department_id, count in (await uow.annual.graded_by_department(run.run_id)).items():
            scope = scope_of(rule, department_id)
            graded[scope] = graded.get(scope, 0) + count
        candidates = [
            Candidate(staff_id, scope_of(rule, department_id), score, barred)
            for staff_id, department_id, score, barred in await uow.annual.reaching(
                run.run_id, rule.top_grade.id
            )
        ]
    receivers = top_receivers(rule, candidates, graded, with_approval=run.wider)
    others = [c.staff_id for c in candidates if c.staff_id not in receivers]
    next_grade = grade_after_quota(rule, rule.top_grade.id, receives_top=False)
    for start in range(0, len(others), BATCH):
        async with run.units() as uow:
            await uow.annual.set_grade(run.run_id, others[start : start + BATCH], next_grade)
            await uow.commit()
        await run.done("quota", min(start + BATCH, len(others)))


async def _flags(run: _Run) -> list[int]:
    """Pass 3: each person's flags from this year and the earlier years' current results;
    the staff ids flagged."""
    flagged: list[int] = []
    after = 0
    while True:
        async with run.units() as uow:
            batch = await uow.annual.graded_after(run.run_id, after, BATCH)
            if not batch:
                break
            ids = [staff_id for staff_id, _, _ in batch]
            # Every earlier year: a merit is earned at each multiple of the streak.
            history = await uow.annual.history(ids, FIRST_YEAR, run.year - 1)
            flags: dict[int, list[str]] = {}
            for staff_id, grade, trainings in batch:
                years = dict(history.get(staff_id, {}))
                if grade is not None:
                    years[run.year] = grade
                found = flags_for(run.rule, run.year, years, trainings)
                if found:
                    flags[staff_id] = [str(flag) for flag in found]
            await uow.annual.set_flags(run.run_id, flags)
            await uow.commit()
        flagged.extend(sorted(flags))
        after = ids[-1]
        await run.done("flags", len(flagged))
    return flagged


async def _purge(units: Units, year: int) -> None:
    """Delete the rows of the year's superseded and failed runs, a batch per transaction."""
    while True:
        async with units() as uow:
            gone = await uow.annual.purge_some(year, BATCH)
            await uow.commit()
        if gone < BATCH:
            return


async def roll_up(
    units: Units,
    policy: Policy,
    year: int,
    *,
    actor: StaffMember | None,
    now: datetime,
    wider: bool = False,
    report: Report | None = None,
    last: Units | None = None,
    between: Between | None = None,
) -> RollUp | AnnualError:
    """Roll ``year`` up afresh, a batch per unit of work from ``units`` (each committed
    here), and switch it in, queuing HR's private report of the flags, in one unit of work
    from ``last`` (``units`` if not given: a handler passes its own, which records the
    update as handled with the switch).

    Args:
        actor: Who runs it (``None``: the command line, which anyone with the store runs);
            checked with ``refusal``.
        wider: Use the annual quota's wider, approved share.
        report: Renders HR's report per HR person; ``None`` queues nothing.
        between: Awaited after each batch is committed (see ``Between``).

    An exception between batches marks the run failed and is raised again; the year's
    previous result stands.
    """
    if actor is not None and (refused := refusal(actor, policy, year, wider=wider)):
        return refused
    rule = policy.annual
    if rule is None:
        return AnnualError.NO_ANNUAL_RULE
    by = None if actor is None else actor.id
    await _purge(units, year)
    async with units() as uow:
        run_id = await uow.annual.start_run(
            year, by=by, wider=wider, now=now, stale_before=now - STALE
        )
        if run_id is None:
            return AnnualError.RUNNING
        await uow.commit()
    run = _Run(units, policy, rule, year, run_id, by, wider, now, between)
    try:
        result = await _run(run, last or units, report)
    except BaseException:
        async with units() as uow:
            await uow.annual.fail(run_id, now=now)
            await uow.commit()
        raise
    if isinstance(result, RollUp):
        await _purge(units, year)
    return result


async def _run(run: _Run, last: Units, report: Report | None) -> RollUp | AnnualError:
    people = await _scores(run)
    if people == 0:
        async with run.units() as uow:
            await uow.annual.fail(run.run_id, now=run.now)
            await uow.commit()
        return AnnualError.NOTHING_PUBLISHED
    await _quota(run)
    flagged_ids = await _flags(run)
    async with last() as uow:
        if not await uow.annual.switch_to(run.run_id, now=run.now):
            return AnnualError.RUNNING  # taken over as stale meanwhile: the newer one counts
        _, graded = await uow.annual.counts(run.run_id)
        flagged = await uow.annual.of_run(run.run_id, flagged_ids)
        result = RollUp(run.year, people, graded, run.wider, tuple(flagged))
        await uow.audit.add(
            Event(
                action="annual.rolled_up",
                subject_type="annual",
                subject_id=run.year,
                at=run.now,
                actor_staff_id=run.by,
                details={
                    "people": people,
                    "graded": graded,
                    "flagged": len(flagged),
                    "wider": run.wider,
                },
            )
        )
        if report is not None:
            await enqueue(uow, _report(await _hr(uow), result, report), now=run.now)
        await uow.commit()
    return result


async def _hr(uow: UnitOfWork) -> list[StaffMember]:
    """HR people on staff with a Telegram account: the only readers of the flags."""
    return [
        StaffMember.of(staff)
        for staff in await uow.staff.on_staff_holding(Role.HR)
        if staff.telegram_user_id is not None
    ]


def _report(hr: Sequence[StaffMember], result: RollUp, report: Report) -> list[Outgoing]:
    return [message for member in hr for message in report(member, result)]
