"""Third-party evaluators: their invitations, bindings, scopes and ratings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, func, select, update

from storage.enums import RaterKind, StaffStatus
from storage.models import (
    Department,
    Post,
    Rating,
    Staff,
    ThirdPartyEvaluator,
    ThirdPartyScope,
)
from storage.repositories.base import Repository
from storage.repositories.reviews import ReviewRepository

_RATINGS = cast(Table, Rating.__table__)
_EVALUATORS = cast(Table, ThirdPartyEvaluator.__table__)


@dataclass(frozen=True, slots=True)
class RatedPerson:
    """Someone an evaluator may see: name and post only (and what the post is assessed on)."""

    staff_id: int
    name: str
    post: str
    post_type: str
    department: str


class ThirdPartyRepository(Repository):
    """Evaluators, their departments and their ratings; never commits."""

    async def add(
        self, period_id: int, name: str, organisation: str, *, by_id: int, now: datetime
    ) -> ThirdPartyEvaluator:
        """A new evaluator, drafted (no departments, no link yet)."""
        evaluator = ThirdPartyEvaluator(
            period_id=period_id,
            name=name,
            organisation=organisation,
            created_by_id=by_id,
            created_at=now,
        )
        self.session.add(evaluator)
        await self.session.flush()
        return evaluator

    async def get(self, evaluator_id: int, *, lock: bool = False) -> ThirdPartyEvaluator | None:
        """An evaluator, by id (read afresh: the row may have changed since). ``lock``
        holds the row until the transaction ends (PostgreSQL; SQLite has one writer), so
        a revocation cannot slip between a rating's check and its write."""
        query = (
            select(ThirdPartyEvaluator)
            .where(ThirdPartyEvaluator.id == evaluator_id)
            .execution_options(populate_existing=True)
        )
        if lock:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def by_hash(self, code_hash: str) -> ThirdPartyEvaluator | None:
        """The evaluator whose link's code hashes to ``code_hash``, if any."""
        return await self.session.scalar(
            select(ThirdPartyEvaluator).where(ThirdPartyEvaluator.code_hash == code_hash)
        )

    async def of_period(self, period_id: int) -> list[ThirdPartyEvaluator]:
        """A period's evaluators, in the order HR invited them."""
        return list(
            await self.session.scalars(
                select(ThirdPartyEvaluator)
                .where(ThirdPartyEvaluator.period_id == period_id)
                .order_by(ThirdPartyEvaluator.id)
            )
        )

    async def department_ids(self, evaluator_id: int) -> list[int]:
        """The departments an evaluator rates, by id."""
        return list(
            await self.session.scalars(
                select(ThirdPartyScope.department_id)
                .where(ThirdPartyScope.evaluator_id == evaluator_id)
                .order_by(ThirdPartyScope.department_id)
            )
        )

    async def toggle_department(self, evaluator_id: int, department_id: int) -> bool:
        """Add the department to the evaluator's scope, or take it out; True if added."""
        removed = await self.session.execute(
            delete(ThirdPartyScope).where(
                ThirdPartyScope.evaluator_id == evaluator_id,
                ThirdPartyScope.department_id == department_id,
            )
        )
        if getattr(removed, "rowcount", 0):
            return False
        self.session.add(ThirdPartyScope(evaluator_id=evaluator_id, department_id=department_id))
        await self.session.flush()
        return True

    async def issue(
        self, evaluator_id: int, code_hash: str, *, now: datetime, expires_at: datetime
    ) -> bool:
        """Give a drafted evaluator its link, once; False if issued already or revoked."""
        result = await self.session.execute(
            update(_EVALUATORS)
            .where(
                _EVALUATORS.c.id == evaluator_id,
                _EVALUATORS.c.code_hash.is_(None),
                _EVALUATORS.c.revoked_at.is_(None),
            )
            .values(code_hash=code_hash, issued_at=now, expires_at=expires_at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def bind(self, evaluator_id: int, telegram_user_id: int, now: datetime) -> bool:
        """Bind the evaluator to a Telegram account, once; False if an account (this one or
        another, in a race) is bound already, or the evaluator was revoked."""
        result = await self.session.execute(
            update(_EVALUATORS)
            .where(
                _EVALUATORS.c.id == evaluator_id,
                _EVALUATORS.c.telegram_user_id.is_(None),
                _EVALUATORS.c.revoked_at.is_(None),
            )
            .values(telegram_user_id=telegram_user_id, bound_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke(self, evaluator_id: int, *, by_id: int, now: datetime) -> bool:
        """Revoke the evaluator, once; False if revoked already."""
        result = await self.session.execute(
            update(_EVALUATORS)
            .where(_EVALUATORS.c.id == evaluator_id, _EVALUATORS.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by_id=by_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def people(self, department_ids: Sequence[int]) -> list[RatedPerson]:
        """The people of these departments still on staff who hold a post, by name."""
        if not department_ids:
            return []
        rows = await self.session.execute(
            select(Staff.id, Staff.name, Post.name, Post.post_type, Department.name)
            .join(Post, Post.id == Staff.post_id)
            .join(Department, Department.id == Staff.department_id)
            .where(Staff.department_id.in_(department_ids), Staff.status != StaffStatus.LEFT)
            .order_by(Department.name, Staff.name, Staff.id)
        )
        return [RatedPerson(*row) for row in rows]

    async def ratings(self, period_id: int, rater_key: str) -> dict[tuple[int, str], int]:
        """One evaluator's ratings of a period, by (person, indicator)."""
        rows = await self.session.execute(
            select(_RATINGS.c.staff_id, _RATINGS.c.indicator_id, _RATINGS.c.value).where(
                _RATINGS.c.period_id == period_id,
                _RATINGS.c.rater_kind == RaterKind.THIRD_PARTY,
                _RATINGS.c.rater_key == rater_key,
            )
        )
        return {(int(staff), str(indicator)): int(value) for staff, indicator, value in rows}

    async def rated_people(self, period_id: int, rater_keys: Sequence[str]) -> dict[str, int]:
        """How many people each evaluator (by rater key) has rated at least once."""
        if not rater_keys:
            return {}
        rows = await self.session.execute(
            select(_RATINGS.c.rater_key, func.count(func.distinct(_RATINGS.c.staff_id)))
            .where(
                _RATINGS.c.period_id == period_id,
                _RATINGS.c.rater_kind == RaterKind.THIRD_PARTY,
                _RATINGS.c.rater_key.in_(rater_keys),
            )
            .group_by(_RATINGS.c.rater_key)
        )
        return {str(key): int(count) for key, count in rows}

    async def rate(
        self,
        period_id: int,
        staff_id: int,
        indicator_id: str,
        rater_key: str,
        *,
        value: int,
        now: datetime,
    ) -> None:
        """Give or change an evaluator's rating of one indicator of one person."""
        await ReviewRepository(self.session).rate(
            period_id,
            staff_id,
            indicator_id,
            RaterKind.THIRD_PARTY,
            rater_id=None,
            rater_key=rater_key,
            value=value,
            now=now,
        )

    async def withdraw_ratings(self, period_id: int, rater_key: str) -> int:
        """Remove an evaluator's ratings of a period; how many there were."""
        result = await self.session.execute(
            delete(Rating).where(
                Rating.period_id == period_id,
                Rating.rater_kind == RaterKind.THIRD_PARTY,
                Rating.rater_key == rater_key,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
