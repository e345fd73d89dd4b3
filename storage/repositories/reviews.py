"""The monthly check's reviews: self-assessments, ratings, points and sign-off (SQL only).

Every change to a review moves its ``version`` on in a conditional UPDATE on the
version that was shown (``touch``), in the transaction of the change itself, so a
press made on an older card, or after the sign-off, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.enums import EntryStatus, RaterKind, StaffStatus
from storage.models import (
    AssessmentPeriod,
    Department,
    PeriodReview,
    Post,
    Rating,
    ScorePoint,
    Staff,
    WorkEntry,
)
from storage.repositories.base import Repository, rows_as

_PERIODS = cast(Table, AssessmentPeriod.__table__)
_DEPARTMENTS = cast(Table, Department.__table__)
_REVIEWS = cast(Table, PeriodReview.__table__)
_RATINGS = cast(Table, Rating.__table__)
_POINTS = cast(Table, ScorePoint.__table__)
_POSTS = cast(Table, Post.__table__)
_STAFF = cast(Table, Staff.__table__)
_ENTRIES = cast(Table, WorkEntry.__table__)


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A person's review of one period, as read."""

    id: int
    period_id: int
    staff_id: int
    post_type: str | None
    department_id: int
    reviewer_id: int | None
    self_text: str | None
    self_submitted_at: datetime | None
    signed_off_at: datetime | None
    signed_off_by_id: int | None
    version: int


@dataclass(frozen=True, slots=True)
class TeamRow:
    """One of a reviewer's people, with their review of the period if it exists."""

    staff_id: int
    employee_no: str
    name: str
    status: StaffStatus
    self_submitted_at: datetime | None
    signed_off_at: datetime | None


@dataclass(frozen=True, slots=True)
class PointsRow:
    """Bonus (positive) or deduction (negative) points given in a period."""

    id: int
    amount: Decimal
    reason: str
    disqualifying: bool
    author_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IndicatorTotal:
    """A period's approved entries of one indicator (None: entries without one)."""

    indicator_id: str | None
    total: Decimal
    quantities: int
    entries: int


_REVIEW_COLUMNS = tuple(_REVIEWS.c[name] for name in ReviewRow.__dataclass_fields__)


class ReviewRepository(Repository):
    """Reviews, their ratings and points, and the facts a reviewer's card shows."""

    def _insert(self) -> Any:
        return pg_insert if self.dialect == "postgresql" else sqlite_insert

    async def get(self, review_id: int) -> ReviewRow | None:
        """A review, by id."""
        found = rows_as(
            await self.session.execute(select(*_REVIEW_COLUMNS).where(_REVIEWS.c.id == review_id)),
            ReviewRow,
        )
        return found[0] if found else None

    async def create(
        self,
        period_id: int,
        staff_id: int,
        *,
        department_id: int,
        reviewer_id: int | None,
        now: datetime,
    ) -> ReviewRow | None:
        """Begin ``staff_id``'s review of the period (reviewed against the post type of
        their post now, counted in ``department_id``) and return it as stored, in one
        statement; None if the person has one already (nothing changed: read it with
        ``find``)."""
        post_type = (
            select(_POSTS.c.post_type)
            .join(_STAFF, _STAFF.c.post_id == _POSTS.c.id)
            .where(_STAFF.c.id == staff_id)
            .scalar_subquery()
        )
        found = rows_as(
            await self.session.execute(
                self._insert()(_REVIEWS)
                .values(
                    period_id=period_id,
                    staff_id=staff_id,
                    post_type=post_type,
                    department_id=department_id,
                    reviewer_id=reviewer_id,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
                .on_conflict_do_nothing(index_elements=["period_id", "staff_id"])
                .returning(*_REVIEW_COLUMNS)
            ),
            ReviewRow,
        )
        return found[0] if found else None

    async def ensure(
        self,
        period_id: int,
        staff_id: int,
        *,
        department_id: int,
        reviewer_id: int | None,
        now: datetime,
    ) -> int:
        """The id of ``staff_id``'s review of the period, begun as ``create`` does if
        there is none yet."""
        created = await self.create(
            period_id, staff_id, department_id=department_id, reviewer_id=reviewer_id, now=now
        )
        if created is not None:
            return created.id
        found = await self.find(period_id, staff_id)
        assert found is not None
        return found.id

    async def find(self, period_id: int, staff_id: int) -> ReviewRow | None:
        """A person's review of a period, if it exists."""
        found = rows_as(
            await self.session.execute(
                select(*_REVIEW_COLUMNS).where(
                    _REVIEWS.c.period_id == period_id, _REVIEWS.c.staff_id == staff_id
                )
            ),
            ReviewRow,
        )
        return found[0] if found else None

    async def period_key(self, period_id: int) -> str | None:
        """The key of a stored period (``2026-11``), by id."""
        key = await self.session.scalar(select(_PERIODS.c.key).where(_PERIODS.c.id == period_id))
        return None if key is None else str(key)

    async def department_name(self, department_id: int) -> str:
        """A department's name."""
        name = await self.session.scalar(
            select(_DEPARTMENTS.c.name).where(_DEPARTMENTS.c.id == department_id)
        )
        return "" if name is None else str(name)

    async def team(self, period_id: int | None, reviewer_id: int) -> list[TeamRow]:
        """The reviewer's direct reports still on staff (never the reviewer), by name, with
        their review of the period (``period_id`` None: not stored yet, so none has one)."""
        joined = _STAFF.outerjoin(
            _REVIEWS,
            (_REVIEWS.c.staff_id == _STAFF.c.id)
            & (_REVIEWS.c.period_id == (period_id if period_id is not None else -1)),
        )
        query = (
            select(
                _STAFF.c.id.label("staff_id"),
                _STAFF.c.employee_no,
                _STAFF.c.name,
                _STAFF.c.status,
                _REVIEWS.c.self_submitted_at,
                _REVIEWS.c.signed_off_at,
            )
            .select_from(joined)
            .where(
                _STAFF.c.supervisor_id == reviewer_id,
                _STAFF.c.id != reviewer_id,
                _STAFF.c.status != StaffStatus.LEFT,
            )
            .order_by(_STAFF.c.name, _STAFF.c.employee_no)
        )
        return rows_as(await self.session.execute(query), TeamRow)

    async def touch(
        self, review_id: int, version: int | None, *, now: datetime, **values: Any
    ) -> bool:
        """Move a review not signed off on to its next version, with ``values`` set; only
        from ``version`` when given. False: signed off, or changed since (nothing done)."""
        condition = (_REVIEWS.c.id == review_id) & _REVIEWS.c.signed_off_at.is_(None)
        if version is not None:
            condition = condition & (_REVIEWS.c.version == version)
        result = await self.session.execute(
            update(_REVIEWS)
            .where(condition)
            .values(updated_at=now, version=_REVIEWS.c.version + 1, **values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def sign_off(self, review_id: int, version: int, *, by_id: int, now: datetime) -> bool:
        """Sign off the version shown; False if it was signed off already or changed since."""
        return await self.touch(
            review_id, version, now=now, signed_off_at=now, signed_off_by_id=by_id
        )

    async def set_reviewer(self, review_id: int, reviewer_id: int) -> None:
        """Record who reviews now (the person's supervisor changed since it was created)."""
        await self.session.execute(
            update(_REVIEWS).where(_REVIEWS.c.id == review_id).values(reviewer_id=reviewer_id)
        )

    async def ratings(
        self, period_id: int, staff_id: int, kind: RaterKind, rater_key: str
    ) -> dict[str, int]:
        """One rater's ratings of a person for a period, by indicator id."""
        rows = await self.session.execute(
            select(_RATINGS.c.indicator_id, _RATINGS.c.value).where(
                _RATINGS.c.period_id == period_id,
                _RATINGS.c.staff_id == staff_id,
                _RATINGS.c.rater_kind == kind,
                _RATINGS.c.rater_key == rater_key,
            )
        )
        return {str(indicator): int(value) for indicator, value in rows}

    async def rate(
        self,
        period_id: int,
        staff_id: int,
        indicator_id: str,
        kind: RaterKind,
        *,
        rater_id: int | None,
        value: int,
        now: datetime,
        rater_key: str | None = None,
    ) -> None:
        """Give or change one rater's rating of one indicator: the one way ratings are
        written. The rater's key is their id unless ``rater_key`` is given (a peer's
        request, a third party: ratings stored without the rater's id)."""
        key = str(rater_id) if rater_key is None else rater_key
        statement = self._insert()(_RATINGS).values(
            period_id=period_id,
            staff_id=staff_id,
            indicator_id=indicator_id,
            rater_kind=kind,
            rater_id=rater_id,
            rater_key=key,
            value=value,
            created_at=now,
            updated_at=now,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    "period_id",
                    "staff_id",
                    "indicator_id",
                    "rater_kind",
                    "rater_key",
                ],
                set_={
                    "value": statement.excluded.value,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    async def points(self, period_id: int, staff_id: int) -> list[PointsRow]:
        """A person's points of a period that stand (not withdrawn), in the order given."""
        query = (
            select(
                _POINTS.c.id,
                _POINTS.c.amount,
                _POINTS.c.reason,
                _POINTS.c.disqualifying,
                _POINTS.c.author_id,
                _POINTS.c.created_at,
            )
            .where(
                _POINTS.c.period_id == period_id,
                _POINTS.c.staff_id == staff_id,
                _POINTS.c.withdrawn_at.is_(None),
            )
            .order_by(_POINTS.c.id)
        )
        return [
            PointsRow(
                id=row.id,
                amount=Decimal(str(row.amount)),
                reason=row.reason,
                disqualifying=bool(row.disqualifying),
                author_id=row.author_id,
                created_at=row.created_at,
            )
            for row in await self.session.execute(query)
        ]

    async def add_points(
        self,
        period_id: int,
        staff_id: int,
        *,
        author_id: int,
        amount: Decimal,
        reason: str,
        disqualifying: bool,
        now: datetime,
    ) -> int:
        """Record bonus (positive) or deduction (negative) points; their id."""
        point = ScorePoint(
            period_id=period_id,
            staff_id=staff_id,
            author_id=author_id,
            amount=amount,
            reason=reason,
            disqualifying=disqualifying,
            created_at=now,
        )
        self.session.add(point)
        await self.session.flush()
        return point.id

    async def approved_totals(self, staff_id: int, start: date, end: date) -> list[IndicatorTotal]:
        """A person's approved entries from ``start`` to ``end``, summed by indicator."""
        query = (
            select(
                _ENTRIES.c.indicator_id,
                func.count().label("entries"),
                func.count(_ENTRIES.c.quantity).label("quantities"),
                func.coalesce(func.sum(_ENTRIES.c.quantity), 0).label("total"),
            )
            .where(
                _ENTRIES.c.staff_id == staff_id,
                _ENTRIES.c.work_date.between(start, end),
                _ENTRIES.c.status == EntryStatus.APPROVED,
            )
            .group_by(_ENTRIES.c.indicator_id)
        )
        return [
            IndicatorTotal(
                indicator_id=row.indicator_id,
                total=Decimal(str(row.total)),
                quantities=int(row.quantities),
                entries=int(row.entries),
            )
            for row in await self.session.execute(query)
        ]

    async def undecided(self, staff_id: int, start: date, end: date) -> tuple[int, int]:
        """How many of a person's entries from ``start`` to ``end`` still wait for a
        decision, and how many were returned to them: (pending, returned)."""
        row = (
            await self.session.execute(
                select(
                    func.coalesce(
                        func.sum(case((_ENTRIES.c.status == EntryStatus.SUBMITTED, 1), else_=0)),
                        0,
                    ),
                    func.coalesce(
                        func.sum(case((_ENTRIES.c.status == EntryStatus.RETURNED, 1), else_=0)),
                        0,
                    ),
                ).where(
                    _ENTRIES.c.staff_id == staff_id,
                    _ENTRIES.c.work_date.between(start, end),
                )
            )
        ).one()
        return int(row[0]), int(row[1])


__all__ = ["IndicatorTotal", "PointsRow", "ReviewRepository", "ReviewRow", "TeamRow"]
