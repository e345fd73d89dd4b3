"""What changes a period's bonus after HR set it: an allowance withdrawn, a result changed
on review or appeal.

**Withdrawing an allowance** (HR, with a reason, audited ``bonus.allowance_withdrawn``):
the period's previews are set aside (what they would pay no longer stands) and the next
run pays without it. Before any run of its period is published that is all. After, a
published run paid it: the withdrawal is allowed all the same, and the next correction
(``/bonus YYYY-MM REASON``), which pays only the allowances in force, recovers it from the
person, exactly its amount in formula mode; in pool mode the correction shares the same
pool again, so the amount goes back into the rest shared by weight (the person gives back
the allowance less their share of it, everyone else gains a little, nothing more is paid
in all). An allowance assigned after publication is paid by the next correction the same
way. A withdrawal and a publication at the same moment: the withdrawal sets the drafts
aside as its first write, so either it goes first and that publication is refused, or
the publication goes first and the next correction recovers the allowance.

**A changed result after payment**: when a review or appeal decision changes the grade a
published run paid (``appeals.decide``), HR, who run bonuses, are told once each, through
the outbox in the decision's transaction (``prompt_correction``), who and which period
changed, with a button that computes the correction's preview (``correction_of`` then
``bonus.compute``, the same correction ``/bonus YYYY-MM REASON`` makes). The person hears
of money only when HR publishes the correction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from assessment import access
from assessment.bonus import BonusError, reason_of
from assessment.outbox import Outgoing, enqueue
from assessment.people import StaffMember
from config.policy import Policy
from storage.enums import Role
from storage.models import BonusRun
from storage.repositories.audit import Event
from storage.repositories.bonus import AllowanceRow
from storage.repositories.calendar import Recipient
from storage.uow import UnitOfWork

__all__ = [
    "AllowanceRow",
    "Allowances",
    "ChangedResult",
    "Correction",
    "Person",
    "Withdrawn",
    "changed_after_payment",
    "correction_key",
    "correction_of",
    "person_allowances",
    "prompt_correction",
    "withdraw_allowance",
    "withdrawable",
]

# Who runs bonuses (``access``: ``/bonus`` is HR's).
BONUS_RUNNERS = Role.HR


@dataclass(frozen=True, slots=True)
class Person:
    """Who an allowance is for."""

    staff_id: int
    employee_no: str
    name: str


@dataclass(frozen=True, slots=True)
class Allowances:
    """A person's allowances in force for a period, and the published run that paid them
    (its number), if one is."""

    person: Person
    period_key: str
    rows: list[AllowanceRow]
    paid_by: int | None


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """An allowance withdrawn; ``paid_by``: the number of the published run that paid it,
    if one did (the next correction recovers it), and ``pool`` that run's pool in pool
    mode (the one the correction shares again)."""

    allowance: AllowanceRow
    person: Person
    reason: str
    amount: Decimal | None
    paid_by: int | None = None
    pool: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChangedResult:
    """A published result a decision changed after a bonus run paid it: the case, whose
    and which period, the grade before and after, and the run that paid (its number)."""

    case_id: int
    kind: str
    period_id: int
    period_key: str
    staff_id: int
    employee_no: str
    name: str
    grade_before: str | None
    grade_after: str | None
    paid_by: int


@dataclass(frozen=True, slots=True)
class Correction:
    """What a correction prompted by a changed result is computed with: the period, and in
    pool mode the pool of the run it corrects (the same pool, shared again)."""

    period_key: str
    pool_total: Decimal | None


# How a changed result becomes an HR member's message: the adapter renders it.
CorrectionPrompt = Callable[[Recipient, ChangedResult], Outgoing]


def correction_key(case_id: int, staff_id: int) -> str:
    """The outbox's key of one HR member's prompt about one case's change."""
    return f"bonus-correction/{case_id}/staff/{staff_id}"


async def _person(uow: UnitOfWork, staff_id: int) -> Person | None:
    found = await uow.staff.get(staff_id)
    return None if found is None else Person(found.id, found.employee_no, found.name)


async def _paid_by(uow: UnitOfWork, period_id: int) -> int | None:
    run = await uow.bonus.latest_published(period_id)
    return None if run is None else run.number


def _pool_of(run: BonusRun) -> Decimal | None:
    """A pool run's pool as money; None for a run by the formula."""
    if run.pool_units is None:
        return None
    return Decimal(run.pool_units) * Decimal(str(run.factors["step"]))


async def _paid_allowances(uow: UnitOfWork, allowance: AllowanceRow) -> BonusRun | None:
    """The period's latest published run, if it paid the person allowances (one assigned
    after it was published, and withdrawn before a correction paid it, it did not)."""
    run = await uow.bonus.latest_published(allowance.period_id)
    if run is None:
        return None
    line = await uow.bonus.line_of(run.id, allowance.staff_id)
    return run if line is not None and line.allowance > 0 else None


async def person_allowances(
    uow: UnitOfWork, member: StaffMember, period_key: str, employee_no: str
) -> Allowances | BonusError:
    """A person's allowances in force for a period, as HR withdraws them."""
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    period = await uow.periods.by_key(period_key)
    if period is None:
        return BonusError.UNKNOWN_PERIOD
    found = await uow.staff.by_employee_nos([employee_no])
    if not found:
        return BonusError.UNKNOWN_PERSON
    staff = found[0]
    rows = await uow.bonus.allowances(period.id, staff.id)
    person = Person(staff.id, staff.employee_no, staff.name)
    return Allowances(person, period_key, rows, await _paid_by(uow, period.id))


async def withdrawable(
    uow: UnitOfWork, member: StaffMember, allowance_id: int
) -> tuple[AllowanceRow, Person] | BonusError:
    """An allowance HR may withdraw now (the press's check; the withdrawal checks again)."""
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    allowance = await uow.bonus.allowance(allowance_id)
    if allowance is None or allowance.withdrawn_at is not None:
        return BonusError.NO_ALLOWANCE
    person = await _person(uow, allowance.staff_id)
    if person is None:
        return BonusError.NO_ALLOWANCE
    return allowance, person


async def withdraw_allowance(
    uow: UnitOfWork,
    member: StaffMember,
    allowance_id: int,
    reason: str | None,
    policy: Policy,
    *,
    now: datetime,
) -> Withdrawn | BonusError:
    """Withdraw an allowance with a reason; the period's previews set aside; audited;
    commit. If a published run paid it, the next correction recovers it (``paid_by``)."""
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    why = reason_of(reason)
    if why is None:
        return BonusError.REASON_NEEDED
    if isinstance(why, BonusError):
        return why
    # The conditional UPDATE first (on SQLite a transaction that read first could not
    # wait for another writer); nothing is written unless it took.
    if not await uow.bonus.withdraw(allowance_id, now=now):
        return BonusError.NO_ALLOWANCE
    allowance = await uow.bonus.allowance(allowance_id)
    assert allowance is not None
    person = await _person(uow, allowance.staff_id)
    assert person is not None
    paid = await _paid_allowances(uow, allowance)
    await uow.audit.add(
        Event(
            "bonus.allowance_withdrawn",
            "staff",
            allowance.staff_id,
            at=now,
            actor_staff_id=member.id,
            details={
                "period": allowance.period_key,
                "kind": allowance.kind,
                "reason": why,
                "assigned_reason": allowance.reason,
                "paid_by": None if paid is None else paid.number,
            },
        )
    )
    await uow.commit()
    kind = policy.bonus.allowances.get(allowance.kind)
    return Withdrawn(
        allowance,
        person,
        why,
        None if kind is None else kind.amount,
        None if paid is None else paid.number,
        None if paid is None else _pool_of(paid),
    )


async def prompt_correction(
    uow: UnitOfWork, change: ChangedResult | None, render: CorrectionPrompt, *, now: datetime
) -> int:
    """Tell HR, once each, that a result a published run paid has changed (in the caller's
    transaction; the person changed is never among them): how many were told."""
    if change is None:
        return 0
    recipients = [
        recipient
        for recipient in await uow.appeals.deciders(BONUS_RUNNERS)
        if recipient.staff_id != change.staff_id
    ]
    return await enqueue(uow, [render(recipient, change) for recipient in recipients], now=now)


async def changed_after_payment(
    uow: UnitOfWork,
    *,
    case_id: int,
    kind: str,
    period_id: int,
    period_key: str,
    staff_id: int,
    employee_no: str,
    name: str,
    grade_before: str | None,
    grade_after: str | None,
) -> ChangedResult | None:
    """The change to tell HR of, if a published run paid the grade a decision changed."""
    if grade_before == grade_after:
        return None
    paid_by = await _paid_by(uow, period_id)
    if paid_by is None:
        return None
    return ChangedResult(
        case_id,
        kind,
        period_id,
        period_key,
        staff_id,
        employee_no,
        name,
        grade_before,
        grade_after,
        paid_by,
    )


async def correction_of(
    uow: UnitOfWork, member: StaffMember, case_id: int, paid_by: int
) -> Correction | BonusError:
    """What the correction of a case's changed result is computed with, the change having
    been told when run ``paid_by`` was the period's latest; unless a correction published
    since pays it already (``CORRECTED``)."""
    if access.check(member, access.HR) is not None:
        return BonusError.NOT_HR
    case = await uow.appeals.get(case_id)
    if case is None or case.outcome != "changed":
        return BonusError.UNKNOWN_CHANGE
    if (case.before or {}).get("grade") == (case.after or {}).get("grade"):
        return BonusError.UNKNOWN_CHANGE
    run = await uow.bonus.latest_published(case.period_id)
    if run is None or run.number is None or run.number < paid_by:
        return BonusError.UNKNOWN_CHANGE
    if run.number > paid_by:
        return BonusError.CORRECTED
    return Correction(case.period_key, _pool_of(run))
