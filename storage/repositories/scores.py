"""Computed scores and grades of a period (``period_scores``): stored in batches, read back.

A computation is an upsert per person: score, grade under the quota, grade by score,
disqualification, breakdown and time are replaced; what people did with the row
(HR's calibrated grade and its reason, publication, "I have read it") is left as it
was, so a calibrated grade stays beside the newly computed one. A published row is
never changed by a computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import PeriodReview, PeriodScore
from storage.repositories.base import Repository

_SCORES = cast(Table, PeriodScore.__table__)
_REVIEWS = cast(Table, PeriodReview.__table__)
_COMPUTED = (
    "department_id", "score", "grade_id", "by_score_grade_id", "breakdown",
    "disqualified", "computed_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ComputedScore:
    """One person's computed result, as a computation stores it."""

    staff_id: int
    department_id: int
    score: Decimal
    grade_id: str
    by_score_grade_id: str
    disqualified: bool
    breakdown: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredScore:
    """One person's stored result for a period."""

    staff_id: int
    department_id: int
    score: Decimal
    grade_id: str
    by_score_grade_id: str
    disqualified: bool
    breakdown: dict[str, Any]
    computed_at: datetime
    calibrated_grade_id: str | None
    published_at: datetime | None
    read_at: datetime | None

    @property
    def final_grade_id(self) -> str:
        """The grade that stands: HR's calibrated one if there is one."""
        return self.calibrated_grade_id or self.grade_id


_READ = select(
    _SCORES.c.staff_id,
    _SCORES.c.department_id,
    _SCORES.c.score,
    _SCORES.c.grade_id,
    _SCORES.c.by_score_grade_id,
    _SCORES.c.disqualified,
    _SCORES.c.breakdown,
    _SCORES.c.computed_at,
    _SCORES.c.calibrated_grade_id,
    _SCORES.c.published_at,
    _SCORES.c.read_at,
).where(_SCORES.c.period_id == bindparam("period_id", type_=Integer()))


class ScoreRepository(Repository):
    """Stores a computation's results and reads a period's scores."""

    async def store(self, period_id: int, rows: Sequence[ComputedScore], *, now: datetime) -> None:
        """Insert or replace the computed part of each person's row (one statement for the
        batch); calibration, publication and reading are kept, published rows untouched."""
        if not rows:
            return
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = insert(_SCORES)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["period_id", "staff_id"],
            set_={
                **{name: excluded[name] for name in _COMPUTED},
                "version": _SCORES.c.version + 1,
            },
            where=_SCORES.c.published_at.is_(None),
        )
        await self.session.execute(
            statement,
            [
                {
                    "period_id": period_id,
                    "staff_id": row.staff_id,
                    "department_id": row.department_id,
                    "score": row.score,
                    "grade_id": row.grade_id,
                    "by_score_grade_id": row.by_score_grade_id,
                    "breakdown": row.breakdown,
                    "disqualified": row.disqualified,
                    "computed_at": now,
                    "version": 1,
                }
                for row in rows
            ],
        )

    async def remove_unreviewable(self, period_id: int) -> int:
        """Remove the period's unpublished scores of people who have no review row for it
        or whom HR excluded; how many were removed."""
        result = await self.session.execute(
            delete(_SCORES).where(
                _SCORES.c.period_id == period_id,
                _SCORES.c.published_at.is_(None),
                ~exists().where(
                    _REVIEWS.c.period_id == period_id,
                    _REVIEWS.c.staff_id == _SCORES.c.staff_id,
                    _REVIEWS.c.excluded_at.is_(None),
                ),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def of_period(
        self, period_id: int, *, department_id: int | None = None
    ) -> list[StoredScore]:
        """A period's stored scores (of one department, if given), in staff id order."""
        query = _READ
        if department_id is not None:
            query = query.where(_SCORES.c.department_id == department_id)
        result = await self.session.execute(
            query.order_by(_SCORES.c.staff_id), {"period_id": period_id}
        )
        return [StoredScore(**row) for row in result.mappings()]

    async def of_person(self, period_id: int, staff_id: int) -> StoredScore | None:
        """One person's stored score for a period, if computed."""
        result = await self.session.execute(
            _READ.where(_SCORES.c.staff_id == staff_id), {"period_id": period_id}
        )
        row = result.mappings().first()
        return None if row is None else StoredScore(**row)


__all__ = ["ComputedScore", "ScoreRepository", "StoredScore"]
