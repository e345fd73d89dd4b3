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

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
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

_SQLITE_IDS: Any = select(literal_column("value")).select_from(
    func.json_each(bindparam("ids", type_=String()))
)
_POSTGRES_IDS = any_(bindparam("ids", type_=ARRAY(Integer())))
_STARTS = bindparam("starts_on", type_=_ENTRIES.c.work_date.type)
_ENDS = bindparam("ends_on", type_=_ENTRIES.c.work_date.type)
_PERIOD = bindparam("period_id", type_=Integer())


def _among(column: Any, dialect: str) -> ColumnElement[bool]:
    # ``column`` is one of the batch's staff ids, given as one parameter (a JSON array on
    # SQLite, an array on PostgreSQL): the statement stays the same for every batch.
    if dialect == "sqlite":
        return cast(ColumnElement[bool], column.in_(_SQLITE_IDS))
    return cast(ColumnElement[bool], column == _POSTGRES_IDS)


def _ids(dialect: str, staff_ids: Sequence[int]) -> Any:
    return json.dumps(list(staff_ids)) if dialect == "sqlite" else list(staff_ids)


def _in_period(dialect: str) -> ColumnElement[bool]:
    return and_(
        _among(_ENTRIES.c.staff_id, dialect),
        _ENTRIES.c.work_date >= _STARTS,
        _ENTRIES.c.work_date <= _ENDS,
    )


@functools.cache
def _entries(dialect: str) -> Any:
    # One pass over a batch's entries of the period: per person and indicator the
    # approved quantities' exact total and count, and whether one was rejected for
    # misconduct (a group may hold only such a rejection: count 0).
    approved = _ENTRIES.c.status == EntryStatus.APPROVED
    if dialect == "sqlite":
        # Integer thousandths, added exactly (see the module's docstring).
        quantity: Any = sql_cast(func.round(_ENTRIES.c.quantity * 1000), Integer)
    else:
        quantity = _ENTRIES.c.quantity
    caught = and_(_ENTRIES.c.status == EntryStatus.REJECTED, _ENTRIES.c.misconduct.is_(True))
    return (
        select(
            _ENTRIES.c.staff_id,
            _ENTRIES.c.indicator_id,
            func.sum(case((approved, quantity))).label("total"),
            func.count(case((approved, _ENTRIES.c.quantity))).label("count"),
            func.max(case((caught, 1), else_=0)).label("misconduct"),
        )
        .where(
            _in_period(dialect),
            or_(
                and_(
                    approved,
                    _ENTRIES.c.indicator_id.is_not(None),
                    _ENTRIES.c.quantity.is_not(None),
                ),
                caught,
            ),
        )
        .group_by(_ENTRIES.c.staff_id, _ENTRIES.c.indicator_id)
    )


@functools.cache
def _rating_sums(dialect: str) -> Any:
    return (
        select(
            _RATINGS.c.staff_id,
            _RATINGS.c.indicator_id,
            _RATINGS.c.rater_kind,
            func.sum(_RATINGS.c.value).label("sum"),
            func.count().label("count"),
        )
        .where(_RATINGS.c.period_id == _PERIOD, _among(_RATINGS.c.staff_id, dialect))
        .group_by(_RATINGS.c.staff_id, _RATINGS.c.indicator_id, _RATINGS.c.rater_kind)
    )


@functools.cache
def _points_given(dialect: str) -> Any:
    return (
        select(
            _POINTS.c.staff_id,
            _POINTS.c.amount,
            _POINTS.c.reason,
            _POINTS.c.disqualifying,
        )
        .where(
            _POINTS.c.period_id == _PERIOD,
            _among(_POINTS.c.staff_id, dialect),
            _POINTS.c.withdrawn_at.is_(None),
        )
        .order_by(_POINTS.c.staff_id, _POINTS.c.id)
    )


# Who a person is reviewed as: their review row's post type and department, else (no
# row yet, or a row without a post type) their current post's type and department.
@functools.cache
def _subjects(dialect: str) -> Any:
    return (
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
        .where(_among(_STAFF.c.id, dialect))
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
class FactRows:
    """A batch's facts as the database aggregated them, not yet read into objects.

    ``entries``: (staff id, indicator id, total, count, misconduct 0/1) per person and
    indicator, the total in ``total_scale`` units (1: exact decimals; 1000: integer
    thousandths); ``ratings``: (staff id, indicator id, rater kind, sum, count);
    ``points``: (staff id, amount, reason, disqualifying) in the order given.
    """

    subjects: list[Subject]
    entries: list[tuple[int, str | None, Any, int, int]]
    ratings: list[tuple[int, str, str, int, int]]
    points: list[tuple[int, Decimal, str, bool]]
    total_scale: int


class FactsRepository(Repository):
    """Reads a period's scoring facts for a batch of people, aggregated in SQL."""

    async def subjects(self, period_id: int | None, staff_ids: Sequence[int]) -> list[Subject]:
        """Who each of ``staff_ids`` is reviewed as (unknown ids are left out)."""
        result = await self.session.execute(
            _subjects(self.dialect),
            {"ids": _ids(self.dialect, staff_ids), "period_id": period_id or 0},
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

    async def rows(
        self, period_id: int | None, staff_ids: Sequence[int], starts_on: date, ends_on: date
    ) -> FactRows:
        """The facts of ``staff_ids`` for the period ``starts_on``..``ends_on`` (stored as
        ``period_id``; None: not stored, so no ratings or points), as aggregated rows:
        four queries, each one pass over the batch's rows."""
        subjects = await self.subjects(period_id, staff_ids)
        ids = [subject.staff_id for subject in subjects]
        if not ids:
            return FactRows([], [], [], [], 1)
        dialect = self.dialect
        dates = {"ids": _ids(dialect, ids), "starts_on": starts_on, "ends_on": ends_on}
        entries = (await self.session.execute(_entries(self.dialect), dates)).all()
        ratings: list[Any] = []
        points: list[Any] = []
        if period_id is not None:
            keyed = {"ids": _ids(dialect, ids), "period_id": period_id}
            ratings = list((await self.session.execute(_rating_sums(dialect), keyed)).all())
            points = list((await self.session.execute(_points_given(dialect), keyed)).all())
        return FactRows(
            subjects,
            cast(list[tuple[int, str | None, Any, int, int]], entries),
            cast(list[tuple[int, str, str, int, int]], ratings),
            cast(list[tuple[int, Decimal, str, bool]], points),
            1000 if self.dialect == "sqlite" else 1,
        )

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


__all__ = ["FactRows", "FactsRepository", "Subject"]
