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


# The entries' aggregate of ``_entries``, as the driver is given it: it returns 350,000
# rows for a whole period of 100,000 people, read straight from the driver as tuples.
_RAW_ENTRIES = {
    "sqlite": (
        "SELECT staff_id, indicator_id, "
        "SUM(CASE WHEN status = 'approved' THEN CAST(ROUND(quantity * 1000) AS INTEGER) END), "
        "COUNT(CASE WHEN status = 'approved' THEN quantity END), "
        "MAX(CASE WHEN status = 'rejected' AND misconduct = 1 THEN 1 ELSE 0 END) "
        # SQLite's planner prefers (staff_id, work_date), then sorts the rows to group
        # them and reads each from the table; this index gives them grouped, and all.
        "FROM work_entries INDEXED BY ix_work_entries_scoring "
        "WHERE staff_id IN (SELECT value FROM json_each(?)) "
        "AND work_date >= ? AND work_date <= ? "
        "AND ((status = 'approved' AND indicator_id IS NOT NULL AND quantity IS NOT NULL) "
        "OR (status = 'rejected' AND misconduct = 1)) "
        "GROUP BY staff_id, indicator_id"
    ),
    "postgresql": (
        "SELECT staff_id, indicator_id, "
        "SUM(CASE WHEN status = 'approved' THEN quantity END), "
        "COUNT(CASE WHEN status = 'approved' THEN quantity END), "
        "MAX(CASE WHEN status = 'rejected' AND misconduct THEN 1 ELSE 0 END) "
        "FROM work_entries WHERE staff_id = ANY($1::integer[]) "
        "AND work_date >= $2 AND work_date <= $3 "
        "AND ((status = 'approved' AND indicator_id IS NOT NULL AND quantity IS NOT NULL) "
        "OR (status = 'rejected' AND misconduct)) "
        "GROUP BY staff_id, indicator_id"
    ),
}

# The other three queries of a whole run's batch, as the driver is given them (the same
# as ``_REVIEWABLE_SUBJECTS``, ``_rating_sums`` and ``_points_given``): 100,000 subjects,
# 100,000 rating groups and 12,000 points for a whole period, read straight as tuples.
_RAW_SUBJECTS = {
    "sqlite": (
        "SELECT r.staff_id, COALESCE(NULLIF(r.post_type, ''), p.post_type), r.department_id "
        "FROM period_reviews r JOIN staff s ON s.id = r.staff_id "
        "LEFT JOIN posts p ON p.id = s.post_id "
        "WHERE r.period_id = ? AND r.excluded_at IS NULL AND r.staff_id > ? "
        "ORDER BY r.staff_id LIMIT ?"
    ),
    "postgresql": (
        "SELECT r.staff_id, COALESCE(NULLIF(r.post_type, ''), p.post_type), r.department_id "
        "FROM period_reviews r JOIN staff s ON s.id = r.staff_id "
        "LEFT JOIN posts p ON p.id = s.post_id "
        "WHERE r.period_id = $1 AND r.excluded_at IS NULL AND r.staff_id > $2 "
        "ORDER BY r.staff_id LIMIT $3"
    ),
}
_RAW_RATINGS = {
    "sqlite": (
        "SELECT staff_id, indicator_id, rater_kind, SUM(value), COUNT(*) FROM ratings "
        "WHERE period_id = ? AND staff_id IN (SELECT value FROM json_each(?)) "
        "GROUP BY staff_id, indicator_id, rater_kind"
    ),
    "postgresql": (
        "SELECT staff_id, indicator_id, rater_kind, SUM(value), COUNT(*) FROM ratings "
        "WHERE period_id = $1 AND staff_id = ANY($2::integer[]) "
        "GROUP BY staff_id, indicator_id, rater_kind"
    ),
}
_RAW_POINTS = {
    "sqlite": (
        "SELECT staff_id, amount, reason, disqualifying FROM score_points "
        "WHERE period_id = ? AND staff_id IN (SELECT value FROM json_each(?)) "
        "AND withdrawn_at IS NULL ORDER BY staff_id, id"
    ),
    "postgresql": (
        "SELECT staff_id, amount, reason, disqualifying FROM score_points "
        "WHERE period_id = $1 AND staff_id = ANY($2::integer[]) "
        "AND withdrawn_at IS NULL ORDER BY staff_id, id"
    ),
}

_WORKING_MEMORY = {"postgresql": "SET LOCAL work_mem = '16MB'"}

_REVIEWABLE_SUBJECTS = (
    select(
        _REVIEWS.c.staff_id,
        _POSTS.c.post_type.label("current_post_type"),
        _REVIEWS.c.post_type.label("review_post_type"),
        _REVIEWS.c.department_id,
    )
    .select_from(
        _REVIEWS.join(_STAFF, _STAFF.c.id == _REVIEWS.c.staff_id).outerjoin(
            _POSTS, _POSTS.c.id == _STAFF.c.post_id
        )
    )
    .where(
        _REVIEWS.c.period_id == _PERIOD,
        _REVIEWS.c.excluded_at.is_(None),
        _REVIEWS.c.staff_id > bindparam("after", type_=Integer()),
    )
    .order_by(_REVIEWS.c.staff_id)
    .limit(bindparam("limit", type_=Integer()))
)


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

    async def reviewable_subjects(
        self, period_id: int, *, after: int, limit: int
    ) -> list[Subject]:
        """The next ``limit`` people after staff id ``after`` with a review row for the
        period that HR has not excluded, in staff id order (keyset pages), each as their
        review row has them reviewed (its post type, else their current post's)."""
        raw = await self._raw(_RAW_SUBJECTS, period_id, after, limit)
        if raw is not None:
            return [
                Subject(staff_id, post_type, department_id, True)
                for staff_id, post_type, department_id in raw
            ]
        result = await self.session.execute(
            _REVIEWABLE_SUBJECTS, {"period_id": period_id, "after": after, "limit": limit}
        )
        return [
            Subject(staff_id, review_type or current_type, department_id, True)
            for staff_id, current_type, review_type, department_id in result
        ]

    async def _raw(self, statements: dict[str, str], *parameters: Any) -> list[Any] | None:
        # Straight from the driver, on the unit of work's own connection (so in its
        # transaction): no result processing per row. None on another engine (the caller
        # runs the statement's SQLAlchemy form). A list of ids is passed as a JSON array
        # on SQLite, as an array on PostgreSQL; dates as ISO text on SQLite.
        dialect = self.dialect
        if dialect not in statements:
            return None
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        if dialect == "sqlite":
            values = [
                json.dumps(list(value))
                if isinstance(value, list)
                else value.isoformat()
                if isinstance(value, date)
                else value
                for value in parameters
            ]
            return list(await driver.execute_fetchall(statements[dialect], values))
        return list(await driver.fetch(statements[dialect], *parameters))

    async def _entry_rows(
        self, staff_ids: Sequence[int], starts_on: date, ends_on: date
    ) -> list[Any]:
        # The same aggregate as ``_entries``, straight from the driver.
        if self.dialect == "postgresql":
            # A batch's 44,000 entries in 7,000 groups: with the default 4 MB of working
            # memory PostgreSQL sorts them on disk to group them; with more it hashes
            # them (for this transaction only).
            await self._raw(_WORKING_MEMORY)
        raw = await self._raw(_RAW_ENTRIES, list(staff_ids), starts_on, ends_on)
        if raw is not None:
            return raw
        dialect = self.dialect
        dates = {"ids": _ids(dialect, staff_ids), "starts_on": starts_on, "ends_on": ends_on}
        return list((await self.session.execute(_entries(dialect), dates)).all())

    async def rows(
        self,
        period_id: int | None,
        staff_ids: Sequence[int],
        starts_on: date,
        ends_on: date,
        *,
        subjects: list[Subject] | None = None,
    ) -> FactRows:
        """The facts of ``staff_ids`` for the period ``starts_on``..``ends_on`` (stored as
        ``period_id``; None: not stored, so no ratings or points), as aggregated rows:
        four queries (three given ``subjects``, as ``reviewable_subjects`` read them),
        each one pass over the batch's rows."""
        if subjects is None:
            subjects = await self.subjects(period_id, staff_ids)
        ids = [subject.staff_id for subject in subjects]
        if not ids:
            return FactRows([], [], [], [], 1)
        dialect = self.dialect
        entries = await self._entry_rows(ids, starts_on, ends_on)
        ratings: list[Any] = []
        points: list[Any] = []
        if period_id is not None:
            ratings = await self._raw(_RAW_RATINGS, period_id, ids) or []
            points = await self._raw(_RAW_POINTS, period_id, ids) or []
            if dialect not in _RAW_RATINGS:
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
