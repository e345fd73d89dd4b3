"""Approvals of the quota's wider top-grade share, per period and scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import aliased

from storage.models import QuotaApproval, Staff
from storage.repositories.base import Repository

_APPROVALS = cast(Table, QuotaApproval.__table__)


@dataclass(frozen=True, slots=True)
class StandingApproval:
    """An approval in force: its scope, who approved it, when and why."""

    scope_key: str
    department_id: int | None
    approved_by: str
    approved_at: datetime
    reason: str


class QuotaApprovalRepository(Repository):
    """Who approved the wider share where, and its withdrawal; never commits."""

    async def standing(self, period_id: int) -> dict[str, StandingApproval]:
        """The period's approvals in force, by scope key."""
        approver = aliased(Staff, name="approver")
        rows = await self.session.execute(
            select(
                _APPROVALS.c.scope_key,
                _APPROVALS.c.department_id,
                approver.name,
                _APPROVALS.c.approved_at,
                _APPROVALS.c.reason,
            )
            .join(approver, approver.id == _APPROVALS.c.approved_by_id)
            .where(_APPROVALS.c.period_id == period_id, _APPROVALS.c.withdrawn_at.is_(None))
        )
        return {row[0]: StandingApproval(*row) for row in rows}

    async def approve(
        self,
        period_id: int,
        scope_key: str,
        department_id: int | None,
        *,
        reason: str,
        by_id: int,
        now: datetime,
    ) -> bool:
        """Approve the wider share for the scope; False if an approval stands already.

        A withdrawn approval of the scope is replaced (its history is in the audit log)."""
        found = await self.session.scalar(
            select(QuotaApproval).where(
                QuotaApproval.period_id == period_id, QuotaApproval.scope_key == scope_key
            )
        )
        if found is None:
            self.session.add(
                QuotaApproval(
                    period_id=period_id,
                    scope_key=scope_key,
                    department_id=department_id,
                    reason=reason,
                    approved_by_id=by_id,
                    approved_at=now,
                )
            )
            await self.session.flush()
            return True
        result = await self.session.execute(
            update(_APPROVALS)
            .where(_APPROVALS.c.id == found.id, _APPROVALS.c.withdrawn_at.is_not(None))
            .values(
                reason=reason,
                approved_by_id=by_id,
                approved_at=now,
                withdrawn_at=None,
                withdrawn_by_id=None,
                withdrawal_reason=None,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def withdraw(
        self, period_id: int, scope_key: str, *, reason: str, by_id: int, now: datetime
    ) -> bool:
        """Withdraw the standing approval of the scope; False if none stands."""
        result = await self.session.execute(
            update(_APPROVALS)
            .where(
                _APPROVALS.c.period_id == period_id,
                _APPROVALS.c.scope_key == scope_key,
                _APPROVALS.c.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=now, withdrawn_by_id=by_id, withdrawal_reason=reason)
        )
        return bool(getattr(result, "rowcount", 0))
