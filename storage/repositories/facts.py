"""The one reader of a period's scoring facts: aggregates computed by the database.

Everything a score is computed from (``assessment.scoring.PeriodFacts``) is read here,
for a batch of people at once, as a few ``GROUP BY`` queries; entries are never streamed
into Python. Per person and indicator, the approved quantities dated in the period
(their exact total and how many); per person, indicator and rater kind, the ratings'
sum and count; the points not withdrawn, in the order given; whether an entry of the
period was rejected for misconduct; and who the person is reviewed as (post type and
department, from their review row, else from their current post).

**Exact totals on both engines.** PostgreSQL keeps quantities as ``NUMERIC`` and sums
them exactly. SQLite keeps them as text (``storage.types.ExactDecimal``), and its
``SUM`` over text would add floats; there each quantity (at most 3 decimals, the
column's scale) is read as integer thousandths, ``CAST(ROUND(quantity * 1000) AS
INTEGER)``, which is exact for every value the column can hold (12 digits: below
2**53 once scaled, so the float it goes through is within 0.5 of the integer), and the
integers are added exactly; the total comes back as thousandths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Integer, Table, and_, bindparam, case, exists, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql import ColumnElement

from storage.enums import EntryStatus, StaffStatus
from storage.models import PeriodReview, Post, Rating, ScorePoint, Staff, WorkEntry
from storage.repositories.base import Repository

_ENTRIES = cast(Table, WorkEntry.__table__)
_RATINGS = cast(Table, Rating.__table__)
_POINTS = cast(Table, ScorePoint.__table__)
_REVIEWS = cast(Table, PeriodReview.__table__)
_STAFF = cast(Table, Staff.__table__)
_POSTS = cast(Table, Post.__table__)

_IDS: Any = bindparam("ids", expanding=True)
_STARTS = bindparam("starts_on", type_=_ENTRIES.c.work_date.type)
_ENDS = bindparam("ends_on", type_=_ENTRIES.c.work_date.type)
_PERIOD = bindparam("period_id", type_=Integer())
_THOUSAND = Decimal(1000)


def _in_period() -> ColumnElement[bool]:
    return and_(
        _ENTRIES.c.staff_id.in_(_IDS),
        _ENTRIES.c.work_date >= _STARTS,
        _ENTRIES.c.work_date <= _ENDS,
    )


def _quantities(dialect: str) -> Any:
    if dialect == "sqlite":
        # Integer thousandths, added exactly (see the module's docstring).
        total: Any = func.sum(sql_cast(func.round(_ENTRIES.c.quantity * 1000), Integer))
    else:
        total = func.sum(_ENTRIES.c.quantity)
    return (
        select(
            _ENTRIES.c.staff_id,
            _ENTRIES.c.indicator_id,
            total.label("total"),
            func.count(_ENTRIES.c.quantity).label("count"),
        )
        .where(
            _in_period(),
            _ENTRIES.c.status == EntryStatus.APPROVED,
            _ENTRIES.c.indicator_id.is_not(None),
            _ENTRIES.c.quantity.is_not(None),
        )
        .group_by(_ENTRIES.c.staff_id, _ENTRIES.c.indicator_id)
    )


_MISCONDUCT = (
    select(_ENTRIES.c.staff_id)
    .where(
        _in_period(),
        _ENTRIES.c.status == EntryStatus.REJECTED,
        _ENTRIES.c.misconduct.is_(True),
    )
    .distinct()
)

_RATING_SUMS = (
    select(
        _RATINGS.c.staff_id,
        _RATINGS.c.indicator_id,
        _RATINGS.c.rater_kind,
        func.sum(_RATINGS.c.value).label("sum"),
        func.count().label("count"),
    )
    .where(_RATINGS.c.period_id == _PERIOD, _RATINGS.c.staff_id.in_(_IDS))
    .group_by(_RATINGS.c.staff_id, _RATINGS.c.indicator_id, _RATINGS.c.rater_kind)
)

_POINTS_GIVEN = (
    select(
        _POINTS.c.staff_id,
        _POINTS.c.amount,
        _POINTS.c.reason,
        _POINTS.c.disqualifying,
    )
    .where(
        _POINTS.c.period_id == _PERIOD,
        _POINTS.c.staff_id.in_(_IDS),
        _POINTS.c.withdrawn_at.is_(None),
    )
    .order_by(_POINTS.c.staff_id, _POINTS.c.id)
)

# Who a person is reviewed as: their review row's post type and department, else (no
# row yet, or a row without a post type) their current post's type and department.
_SUBJECTS = (
    select(
        _STAFF.c.id.label("staff_id"),
        _POSTS.c.post_type.label("current_post_type"),
        _STAFF.c.department_id.label("current_department_id"),
        _REVIEWS.c.post_type.label("review_post_type"),
        _REVIEWS.c.department_id.label("review_department_id"),
        case((_REVIEWS.c.id.is_(None), False), else_=True).label("has_review"),
    )
    .select_from(
        _STAFF.outerjoin(_POSTS, _POSTS.c.id == _STAFF.c.post_id).outerjoin(
            _REVIEWS,
            and_(_REVIEWS.c.staff_id == _STAFF.c.id, _REVIEWS.c.period_id == _PERIOD),
        )
    )
    .where(_STAFF.c.id.in_(_IDS))
)

_REVIEWABLE = (
    select(_REVIEWS.c.staff_id)
    .where(
        _REVIEWS.c.period_id == _PERIOD,
        _REVIEWS.c.excluded_at.is_(None),
        _REVIEWS.c.staff_id > bindparam("after", type_=Integer()),
    )
    .order_by(_REVIEWS.c.staff_id)
    .limit(bindparam("limit", type_=Integer()))
)

_SCOPE = select(_REVIEWS.c.staff_id).where(
    _REVIEWS.c.period_id == _PERIOD,
    _REVIEWS.c.excluded_at.is_(None),
    _REVIEWS.c.department_id == bindparam("department_id", type_=Integer()),
)


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a person is reviewed as in a period.

    ``post_type`` is None when neither their review row nor a current post names one;
    ``from_review`` says whether a review row decided (else their current post did).
    """

    staff_id: int
    post_type: str | None
    department_id: int
    from_review: bool


@dataclass(frozen=True, slots=True)
class QuantityRow:
    """One person's approved quantities of one indicator in a period: exact total, count."""

    staff_id: int
    indicator_id: str
    total: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class RatingRow:
    """One person's ratings of one indicator by one rater kind: their sum and count."""

    staff_id: int
    indicator_id: str
    rater_kind: str
    sum: int
    count: int


@dataclass(frozen=True, slots=True)
class PointsRow:
    """A bonus (+) or deduction (-) not withdrawn, in the order given."""

    staff_id: int
    amount: Decimal
    reason: str
    disqualifying: bool


class FactsRepository(Repository):
    """Reads a period's scoring facts for a batch of people, aggregated in SQL."""

    async def subjects(self, period_id: int | None, staff_ids: Sequence[int]) -> list[Subject]:
        """Who each of ``staff_ids`` is reviewed as (unknown ids are left out)."""
        result = await self.session.execute(
            _SUBJECTS, {"ids": list(staff_ids), "period_id": period_id or 0}
        )
        subjects = []
        for row in result:
            if row.has_review:
                post_type = row.review_post_type or row.current_post_type
                department_id = row.review_department_id
            else:
                post_type = row.current_post_type
                department_id = row.current_department_id
            subjects.append(
                Subject(int(row.staff_id), post_type, int(department_id), bool(row.has_review))
            )
        return subjects

    async def quantities(
        self, staff_ids: Sequence[int], starts_on: date, ends_on: date
    ) -> list[QuantityRow]:
        """Approved quantities dated ``starts_on``..``ends_on``, by person and indicator
        (entries without an indicator or a quantity are left out)."""
        sqlite = self.dialect == "sqlite"
        result = await self.session.execute(
            _quantities(self.dialect),
            {"ids": list(staff_ids), "starts_on": starts_on, "ends_on": ends_on},
        )
        rows = []
        for staff_id, indicator_id, total, count in result:
            exact = Decimal(total) / _THOUSAND if sqlite else Decimal(total)
            rows.append(QuantityRow(staff_id, indicator_id, exact, count))
        return rows

    async def ratings(self, period_id: int, staff_ids: Sequence[int]) -> list[RatingRow]:
        """The period's ratings summed and counted by person, indicator and rater kind."""
        result = await self.session.execute(
            _RATING_SUMS, {"ids": list(staff_ids), "period_id": period_id}
        )
        return [
            RatingRow(staff_id, indicator_id, str(kind), int(total), int(count))
            for staff_id, indicator_id, kind, total, count in result
        ]

    async def points(self, period_id: int, staff_ids: Sequence[int]) -> list[PointsRow]:
        """The period's points not withdrawn, by person in the order given."""
        result = await self.session.execute(
            _POINTS_GIVEN, {"ids": list(staff_ids), "period_id": period_id}
        )
        return [
            PointsRow(staff_id, Decimal(amount), reason, bool(disqualifying))
            for staff_id, amount, reason, disqualifying in result
        ]

    async def misconduct(
        self, staff_ids: Sequence[int], starts_on: date, ends_on: date
    ) -> set[int]:
        """Who of ``staff_ids`` had an entry dated in the period rejected for misconduct."""
        result = await self.session.scalars(
            _MISCONDUCT, {"ids": list(staff_ids), "starts_on": starts_on, "ends_on": ends_on}
        )
        return set(result)

    async def reviewable(self, period_id: int, *, after: int, limit: int) -> list[int]:
        """The next ``limit`` people after staff id ``after`` with a review row for the
        period that HR has not excluded, in staff id order (keyset pages)."""
        result = await self.session.scalars(
            _REVIEWABLE, {"period_id": period_id, "after": after, "limit": limit}
        )
        return list(result)

    async def without_review(self, period_id: int | None) -> int:
        """How many people not left (active or second line) have no review row for the
        period (every one of them if the period is not stored)."""
        query = select(func.count()).select_from(_STAFF).where(_STAFF.c.status != StaffStatus.LEFT)
        if period_id is not None:
            query = query.where(
                ~exists().where(
                    _REVIEWS.c.period_id == period_id, _REVIEWS.c.staff_id == _STAFF.c.id
                )
            )
        return int(await self.session.scalar(query) or 0)

    async def scope_members(self, period_id: int, department_id: int) -> list[int]:
        """Everyone counted in a department for the period (review rows, not excluded)."""
        result = await self.session.scalars(
            _SCOPE, {"period_id": period_id, "department_id": department_id}
        )
        return list(result)


__all__ = ["FactsRepository", "PointsRow", "QuantityRow", "RatingRow", "Subject"]
