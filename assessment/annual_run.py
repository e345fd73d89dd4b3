"""The annual roll-up of a year from the store, and HR's private report of its flags.

HR runs it (``/annual YYYY``, or ``workledger annual YYYY``); an administrator may run it
with the quota's wider share (``/annual YYYY wider``). It reads the year's published
routine results (``period_scores`` of the periods starting in the year) a bounded batch
of people at a time, and replaces the year's ``annual_results`` whole, in three passes:

1. each person's annual score, the grade it earns, what bars the top grade and the
   trainings their shortfalls match (``assessment.annual``), stored per batch;
2. the quota: only the people whose score reaches the top grade are read back, with the
   number graded per scope, and those who do not receive it get the next grade;
3. the flags, from each batch's stored grades and the earlier years' stored results.

It is one transaction, so a roll-up replaces the year atomically and two at once cannot
interleave (the second waits, or fails on the year's unique rows and changes nothing);
batches bound what is held in memory, not how long the write lasts. The flags go to
HR, and only to HR, privately: one message per HR person (split when long), queued in
the same transaction; nothing is sent to the people flagged, their colleagues or their
supervisors.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
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
from assessment.scoring import Breakdown
from config.policy import AnnualRule, Policy
from storage.enums import Role
from storage.repositories.annual import AnnualRow, PublishedRow
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

__all__ = ["BATCH", "AnnualError", "RollUp", "indicator_scores", "refusal", "roll_up"]

# Staff ids per window read: their year's routine results (at most 12 each) and history.
BATCH = 500
FIRST_YEAR, LAST_YEAR = 2000, 2100


class AnnualError(enum.StrEnum):
    """Why a roll-up was not run."""

    NO_ANNUAL_RULE = "no_annual_rule"
    NOT_HR = "not_hr"
    NOT_ADMIN = "not_admin"  # the wider share is approved from above HR
    BAD_YEAR = "bad_year"
    NOTHING_PUBLISHED = "nothing_published"


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


def indicator_scores(breakdown: dict[str, Any]) -> dict[str, Decimal]:
    """The score of each indicator that counted, from a stored breakdown (none from a
    breakdown of a format this version cannot read)."""
    try:
        parts = Breakdown.from_json(breakdown).indicators
    except (KeyError, ValueError):
        return {}
    return {part.indicator_id: part.score for part in parts if part.score is not None}


def _routine(policy: Policy, row: PublishedRow) -> RoutineResult:
    return RoutineResult(
        period_key=row.period_key,
        score=row.score,
        grade_id=row.calibrated_grade_id or row.grade_id,
        indicator_scores=indicator_scores(row.breakdown),
    )


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


async def _scores(
    uow: UnitOfWork, policy: Policy, year: int, *, by: int | None, wider: bool, now: datetime
) -> int:
    """Pass 1: every person's annual score, stored; how many people."""
    people = 0
    highest = await uow.staff.highest_id()
    # Fixed windows of staff ids: each read is a range of the (period, staff) index.
    for after in range(0, highest, BATCH):
        by_person: dict[int, list[PublishedRow]] = {}
        for row in await uow.annual.published(year, after, after + BATCH):
            by_person.setdefault(row.staff_id, []).append(row)
        rows = []
        for staff_id, published in by_person.items():
            scored = annual_score(policy, [_routine(policy, row) for row in published])
            rows.append(
                {
                    "year": year,
                    "staff_id": staff_id,
                    "department_id": published[-1].department_id,
                    "periods": scored.periods,
                    "score": scored.score,
                    "by_score_grade_id": scored.by_score_grade_id,
                    "grade_id": scored.by_score_grade_id,
                    "barred_by": list(scored.barred_by),
                    "trainings": list(scored.trainings),
                    "flags": [],
                    "with_approval": wider,
                    "computed_at": now,
                    "computed_by_id": by,
                }
            )
        await uow.annual.add_many(rows)
        people += len(rows)
    return people


async def _quota(uow: UnitOfWork, rule: AnnualRule, year: int, *, wider: bool) -> None:
    """Pass 2: the top grade within the quota; the rest who reached it get the next one."""
    graded: dict[int | str, int] = {}
    for department_id, count in (await uow.annual.graded_by_department(year)).items():
        scope = scope_of(rule, department_id)
        graded[scope] = graded.get(scope, 0) + count
    candidates = [
        Candidate(staff_id, scope_of(rule, department_id), score, barred)
        for staff_id, department_id, score, barred in await uow.annual.reaching(
            year, rule.top_grade.id
        )
    ]
    receivers = top_receivers(rule, candidates, graded, with_approval=wider)
    others = [c.staff_id for c in candidates if c.staff_id not in receivers]
    next_grade = grade_after_quota(rule, rule.top_grade.id, receives_top=False)
    await uow.annual.set_grade(year, others, next_grade)


async def _flags(uow: UnitOfWork, rule: AnnualRule, year: int) -> list[AnnualRow]:
    """Pass 3: each person's flags from this year and the stored earlier ones."""
    flagged: list[AnnualRow] = []
    after = 0
    while batch := await uow.annual.graded_after(year, after, BATCH):
        ids = [staff_id for staff_id, _, _ in batch]
        # Every earlier year: a merit is earned at each multiple of the streak.
        history = await uow.annual.history(ids, FIRST_YEAR, year)
        flags: dict[int, list[str]] = {}
        for staff_id, _grade, trainings in batch:
            found = flags_for(rule, year, history.get(staff_id, {}), trainings)
            if found:
                flags[staff_id] = [str(flag) for flag in found]
        await uow.annual.set_flags(year, flags)
        if flags:
            flagged.extend(await uow.annual.of_year(year, sorted(flags)))
        after = ids[-1]
    return flagged


async def roll_up(
    uow: UnitOfWork,
    policy: Policy,
    year: int,
    *,
    actor: StaffMember | None,
    now: datetime,
    wider: bool = False,
    report: Report | None = None,
) -> RollUp | AnnualError:
    """Roll ``year`` up afresh, in the caller's unit of work (it commits), and queue HR's
    private report of the flags.

    Args:
        actor: Who runs it (``None``: the command line, which anyone with the store runs);
            checked with ``refusal``.
        wider: Use the annual quota's wider, approved share.
        report: Renders HR's report per HR person; ``None`` queues nothing.
    """
    if actor is not None and (refused := refusal(actor, policy, year, wider=wider)):
        return refused
    rule = policy.annual
    if rule is None:
        return AnnualError.NO_ANNUAL_RULE
    await uow.annual.clear(year)
    by = None if actor is None else actor.id
    people = await _scores(uow, policy, year, by=by, wider=wider, now=now)
    if people == 0:
        return AnnualError.NOTHING_PUBLISHED
    await _quota(uow, rule, year, wider=wider)
    flagged = await _flags(uow, rule, year)
    _, graded = await uow.annual.counts(year)
    result = RollUp(year, people, graded, wider, tuple(flagged))
    await uow.audit.add(
        Event(
            action="annual.rolled_up",
            subject_type="annual",
            subject_id=year,
            at=now,
            actor_staff_id=by,
            details={"people": people, "graded": graded, "flagged": len(flagged), "wider": wider},
        )
    )
    if report is not None:
        await enqueue(uow, _report(await _hr(uow), result, report), now=now)
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
