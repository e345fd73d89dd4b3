"""The quota's wider top-grade share, approved per period and scope, and withdrawn.

``[quota] with_approval_max_share`` is a wider share of the top grade that a scope (a
department, or the whole organisation, as ``[quota] scope`` counts) may have with
approval from above (DOMAIN.md: 优秀 at most 20% of those assessed, 25% with approval).
Here an **administrator** gives it: the head of the organisation's office, not HR, whose
calibration the wider share then allows; HR sees it in ``/results``. An approval is
recorded per period and scope with who approved it, when and why (``quota_approvals``),
audited (``quota.approved``), and from then on ``grading.assign_grades`` gives that
scope the wider cap, as do calibration's and publication's checks and the supervisor's
card (``approvals`` below is what they read).

**Withdrawing** (before publication, with a reason, audited ``quota.withdrawn``) grades
the scope again under the ordinary share, keeping HR's calibrated grades; it is refused
while those, with the grades given afresh, would hold more top grades than the ordinary
share allows (``grading.withdrawal_problems``): a calibrated grade is a decision with a
reason, which only HR may change, so HR calibrates first, and a grade is never quietly
taken away. Otherwise the period is scored afresh (the caller's ``results.refresh``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from assessment import access
from assessment.grading import (
    ORGANISATION,
    CalibrationProblem,
    ScopeKey,
    Scored,
    approval_from,
    scope_key,
    top_grade_cap,
    withdrawal_problems,
)
from assessment.people import StaffMember
from assessment.periods import Period, Stage, parse_key, stage_on
from config.policy import Policy
from storage.repositories.audit import Event
from storage.repositories.quota import StandingApproval
from storage.uow import UnitOfWork

__all__ = [
    "MAX_REASON",
    "QuotaChange",
    "QuotaError",
    "StandingApproval",
    "approvals",
    "approve",
    "standing",
    "withdraw",
]

MAX_REASON = 500


class QuotaError(enum.StrEnum):
    """Why an approval of the wider share was not given or withdrawn."""

    NOT_ADMIN = "not_admin"
    NO_WIDER_SHARE = "no_wider_share"  # the policy allows no exception
    UNKNOWN_PERIOD = "unknown_period"
    UNKNOWN_SCOPE = "unknown_scope"
    PUBLISHED = "published"
    APPROVED = "approved"  # approved already
    NOT_APPROVED = "not_approved"  # nothing to withdraw
    REASON_NEEDED = "reason_needed"
    REASON_TOO_LONG = "reason_too_long"


@dataclass(frozen=True, slots=True)
class QuotaChange:
    """An approval given (``approved``) or withdrawn, and the scope's cap now."""

    period: Period
    scope: ScopeKey
    approved: bool
    people: int
    cap: int


def _reason(text: str | None) -> str | QuotaError:
    cleaned = (text or "").strip()
    if not cleaned:
        return QuotaError.REASON_NEEDED
    if len(cleaned) > MAX_REASON:
        return QuotaError.REASON_TOO_LONG
    return cleaned


async def approvals(uow: UnitOfWork, period_id: int) -> dict[ScopeKey, bool]:
    """The period's approvals in force, as ``grading.assign_grades`` takes them."""
    return approval_from(await uow.quota.standing(period_id))


async def standing(uow: UnitOfWork, period_id: int) -> dict[str, StandingApproval]:
    """The period's approvals in force with who gave them, by stored scope key."""
    return await uow.quota.standing(period_id)


async def _period(
    uow: UnitOfWork, period_id: int, policy: Policy, today: date, zone: tzinfo
) -> Period | QuotaError:
    key = await uow.results.period_key(period_id)
    period = None if key is None else parse_key(key, policy)
    row = None if key is None else await uow.periods.by_key(key)
    if period is None or row is None:
        return QuotaError.UNKNOWN_PERIOD
    started = row.calibration_started_at
    stage = stage_on(
        period,
        today,
        policy,
        calibration_started_on=None if started is None else started.astimezone(zone).date(),
        published=row.published_at is not None,
    )
    if stage is Stage.PUBLISHED:
        return QuotaError.PUBLISHED
    return period


async def _scope_people(
    uow: UnitOfWork, period_id: int, scope: ScopeKey
) -> tuple[list[Scored], dict[int, str]]:
    """The scored people counted in a scope (not excluded) and HR's calibrated grades."""
    department = None if scope == ORGANISATION else int(scope)
    counted = [
        p
        for p in await uow.results.people(period_id, department_id=department)
        if p.score is not None and p.excluded_reason is None
    ]
    people = [
        Scored(p.staff_id, p.department_id if department is None else department, p.score,
               p.disqualified)
        for p in counted
        if p.score is not None
    ]  # fmt: skip
    calibrated = {p.staff_id: p.calibrated_grade_id for p in counted if p.calibrated_grade_id}
    return people, calibrated


async def _check(
    uow: UnitOfWork,
    admin: StaffMember,
    period_id: int,
    scope: ScopeKey,
    reason: str | None,
    policy: Policy,
    today: date,
    zone: tzinfo,
) -> tuple[Period, str] | QuotaError:
    if access.check(admin, access.QUOTA_APPROVERS) is not None:
        return QuotaError.NOT_ADMIN
    if policy.quota.with_approval_max_share is None:
        return QuotaError.NO_WIDER_SHARE
    cleaned = _reason(reason)
    if isinstance(cleaned, QuotaError):
        return cleaned
    if (scope == ORGANISATION) != (policy.quota.scope == "organisation"):
        return QuotaError.UNKNOWN_SCOPE
    period = await _period(uow, period_id, policy, today, zone)
    if isinstance(period, QuotaError):
        return period
    if scope != ORGANISATION and not any(d.id == scope for d in await uow.departments.all()):
        return QuotaError.UNKNOWN_SCOPE
    return period, cleaned


async def approve(
    uow: UnitOfWork,
    admin: StaffMember,
    period_id: int,
    scope: ScopeKey,
    reason: str | None,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> QuotaChange | QuotaError:
    """Approve the wider share for a period's scope, with a reason (an administrator,
    before publication); audited; commit. The caller scores the period afresh."""
    checked = await _check(uow, admin, period_id, scope, reason, policy, today, zone)
    if isinstance(checked, QuotaError):
        return checked
    period, cleaned = checked
    # The period first, as every change of its results: Publish buttons shown before
    # carry the old version, and changes of the period happen one after another.
    if await uow.results.lock_period(period_id) is None:
        return QuotaError.PUBLISHED
    department = None if scope == ORGANISATION else int(scope)
    if not await uow.quota.approve(
        period_id, scope_key(scope), department, reason=cleaned, by_id=admin.id, now=now
    ):
        return QuotaError.APPROVED
    people, _ = await _scope_people(uow, period_id, scope)
    share = policy.quota.with_approval_max_share
    await _audit(
        uow,
        "quota.approved",
        admin,
        period_id,
        period,
        scope,
        now,
        reason=cleaned,
        share=str(share),
    )
    await uow.commit()
    cap = top_grade_cap(policy, len(people), approved=True)
    return QuotaChange(period, scope, True, len(people), cap)


async def withdraw(
    uow: UnitOfWork,
    admin: StaffMember,
    period_id: int,
    scope: ScopeKey,
    reason: str | None,
    policy: Policy,
    *,
    today: date,
    zone: tzinfo,
    now: datetime,
) -> QuotaChange | QuotaError | tuple[CalibrationProblem, ...]:
    """Withdraw a scope's approval before publication, with a reason; audited; commit.

    Refused (the problems) while HR's calibrated grades need the wider share (see the
    module); the caller scores the period afresh."""
    checked = await _check(uow, admin, period_id, scope, reason, policy, today, zone)
    if isinstance(checked, QuotaError):
        return checked
    period, cleaned = checked
    if await uow.results.lock_period(period_id) is None:
        return QuotaError.PUBLISHED
    if scope_key(scope) not in await uow.quota.standing(period_id):
        return QuotaError.NOT_APPROVED
    people, calibrated = await _scope_people(uow, period_id, scope)
    problems = withdrawal_problems(policy, people, calibrated)
    if problems:
        return problems
    if not await uow.quota.withdraw(
        period_id, scope_key(scope), reason=cleaned, by_id=admin.id, now=now
    ):
        return QuotaError.NOT_APPROVED
    await _audit(uow, "quota.withdrawn", admin, period_id, period, scope, now, reason=cleaned)
    await uow.commit()
    return QuotaChange(period, scope, False, len(people), top_grade_cap(policy, len(people)))


async def _audit(
    uow: UnitOfWork,
    kind: str,
    admin: StaffMember,
    period_id: int,
    period: Period,
    scope: ScopeKey,
    now: datetime,
    **details: str,
) -> None:
    """The audit event of an approval's change: who, which period and scope, and why."""
    await uow.audit.add(
        Event(
            kind,
            "period",
            period_id,
            at=now,
            actor_staff_id=admin.id,
            actor_telegram_id=admin.telegram_user_id,
            details={"period": period.key, "scope": scope_key(scope), **details},
        )
    )
