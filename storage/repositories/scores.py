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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, delete, exists, func, select

from storage.models import Department, PeriodReview, PeriodScore, Staff
from storage.repositories.base import Repository

_SCORES = cast(Table, PeriodScore.__table__)
_REVIEWS = cast(Table, PeriodReview.__table__)
_STAFF = cast(Table, Staff.__table__)
_DEPARTMENTS = cast(Table, Department.__table__)
_COMPUTED = (
    "department_id", "score", "grade_id", "by_score_grade_id", "breakdown",
    "disqualified", "computed_at",
)  # fmt: skip
# The same on both engines but for the parameters' marks.
_UPSERT = (
    "INSERT INTO period_scores (period_id, staff_id, "  # noqa: S608 - constants only
    + ", ".join(_COMPUTED)
    + ", version) VALUES ($marks) ON CONFLICT (period_id, staff_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COMPUTED)
    + ", version = period_scores.version + 1 WHERE period_scores.published_at IS NULL"
)
_UPSERT_UNNESTED = (
    "INSERT INTO period_scores (period_id, staff_id, "  # noqa: S608 - constants only
    + ", ".join(_COMPUTED)
    + ", version) SELECT $1, staff_id, department_id, score, grade_id, by_score_grade_id, "
    "breakdown, disqualified, $2, 1 FROM unnest($3::integer[], $4::integer[], "
    "$5::numeric[], $6::varchar[], $7::varchar[], $8::json[], $9::boolean[]) AS batch "
    "(staff_id, department_id, score, grade_id, by_score_grade_id, breakdown, disqualified) "
    "ON CONFLICT (period_id, staff_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COMPUTED)
    + ", version = period_scores.version + 1 WHERE period_scores.published_at IS NULL"
)


@dataclass(frozen=True, slots=True)
class ComputedScore:
    """One person's computed result, as a computation stores it."""

    staff_id: int
    department_id: int
    score: Decimal
    grade_id: str
    by_score_grade_id: str
    disqualified: bool
    breakdown: str  # JSON text


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


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One reviewed person of a period, with their stored score if computed."""

    staff_id: int
    employee_no: str
    name: str
    department: str
    post_type: str | None
    self_submitted_at: datetime | None
    signed_off_at: datetime | None
    excluded_at: datetime | None
    reopened_at: datetime | None
    score: Decimal | None
    grade_id: str | None
    by_score_grade_id: str | None
    calibrated_grade_id: str | None
    disqualified: bool | None
    computed_at: datetime | None
    published_at: datetime | None
    read_at: datetime | None


class ScoreRepository(Repository):
    """Stores a computation's results and reads a period's scores."""

    async def store(self, period_id: int, rows: Sequence[ComputedScore], *, now: datetime) -> None:
        """Insert or replace the computed part of each person's row (one statement for the
        batch); calibration, publication and reading are kept, published rows untouched.

        A whole period writes 100,000 rows: the statement goes to the driver as it is,
        with plain values (the breakdown already JSON text) and none of SQLAlchemy's
        per-row parameter processing: on SQLite one ``executemany``, on PostgreSQL one
        statement whose columns come as arrays.
        """
        if not rows:
            return
        connection = await self.session.connection()
        if self.dialect == "postgresql":
            # One statement for the batch: its columns as arrays, unnested.
            await connection.exec_driver_sql(
                _UPSERT_UNNESTED,
                (
                    period_id,
                    now,
                    [row.staff_id for row in rows],
                    [row.department_id for row in rows],
                    [row.score for row in rows],
                    [row.grade_id for row in rows],
                    [row.by_score_grade_id for row in rows],
                    [row.breakdown for row in rows],
                    [row.disqualified for row in rows],
                ),
            )
            return
        # As the columns' types store them on SQLite (ExactDecimal, UTCDateTime).
        at = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        values = [
            (
                period_id,
                row.staff_id,
                row.department_id,
                str(row.score),
                row.grade_id,
                row.by_score_grade_id,
                row.breakdown,
                row.disqualified,
                at,
                1,
            )
            for row in rows
        ]
        await connection.exec_driver_sql(_UPSERT.replace("$marks", ", ".join("?" * 10)), values)

    async def count(self, period_id: int) -> int:
        """How many scores the period has stored."""
        found = await self.session.scalar(
            select(func.count()).select_from(_SCORES).where(_SCORES.c.period_id == period_id)
        )
        return int(found or 0)

    async def remove_unreviewable(self, period_id: int) -> int:
        """Remove the period's unpublished scores of people who have no review row for it
        or whom HR excluded; how many were removed.

        Found by a read first (usually nobody), so a whole period's run does not hold
        SQLite's write lock for a scan of every score.
        """
        stale = list(
            await self.session.scalars(
                select(_SCORES.c.staff_id).where(
                    _SCORES.c.period_id == period_id,
                    _SCORES.c.published_at.is_(None),
                    ~exists().where(
                        _REVIEWS.c.period_id == period_id,
                        _REVIEWS.c.staff_id == _SCORES.c.staff_id,
                        _REVIEWS.c.excluded_at.is_(None),
                    ),
                )
            )
        )
        removed = 0
        for start in range(0, len(stale), 500):
            result = await self.session.execute(
                delete(_SCORES).where(
                    _SCORES.c.period_id == period_id,
                    _SCORES.c.published_at.is_(None),
                    _SCORES.c.staff_id.in_(stale[start : start + 500]),
                )
            )
            removed += int(getattr(result, "rowcount", 0) or 0)
        return removed

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

    async def results(self, period_id: int) -> list[ResultRow]:
        """Everyone with a review row for the period, with their stored score if any, by
        department name and employee number."""
        query = (
            select(
                _REVIEWS.c.staff_id,
                _STAFF.c.employee_no,
                _STAFF.c.name,
                _DEPARTMENTS.c.name.label("department"),
                _REVIEWS.c.post_type,
                _REVIEWS.c.self_submitted_at,
                _REVIEWS.c.signed_off_at,
                _REVIEWS.c.excluded_at,
                _REVIEWS.c.reopened_at,
                _SCORES.c.score,
                _SCORES.c.grade_id,
                _SCORES.c.by_score_grade_id,
                _SCORES.c.calibrated_grade_id,
                _SCORES.c.disqualified,
                _SCORES.c.computed_at,
                _SCORES.c.published_at,
                _SCORES.c.read_at,
            )
            .select_from(
                _REVIEWS.join(_STAFF, _STAFF.c.id == _REVIEWS.c.staff_id)
                .join(_DEPARTMENTS, _DEPARTMENTS.c.id == _REVIEWS.c.department_id)
                .outerjoin(
                    _SCORES,
                    (_SCORES.c.period_id == _REVIEWS.c.period_id)
                    & (_SCORES.c.staff_id == _REVIEWS.c.staff_id),
                )
            )
            .where(_REVIEWS.c.period_id == period_id)
            .order_by(_DEPARTMENTS.c.name, _STAFF.c.employee_no)
        )
        result = await self.session.execute(query)
        return [ResultRow(**row) for row in result.mappings()]

    async def of_person(self, period_id: int, staff_id: int) -> StoredScore | None:
        """One person's stored score for a period, if computed."""
        result = await self.session.execute(
            _READ.where(_SCORES.c.staff_id == staff_id), {"period_id": period_id}
        )
        row = result.mappings().first()
        return None if row is None else StoredScore(**row)


__all__ = ["ComputedScore", "ResultRow", "ScoreRepository", "StoredScore"]
