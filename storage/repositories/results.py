"""A period's results: who is in scope, calibration, publication, notices and reads.

Who is **in scope** of a period's publication is one definition, ``_in_scope``: everyone
on staff (active or second line) now, counted in the department and under the reviewer
of their review where they have one, else of their staff record. Every list and figure
of ``/results`` and the publication's check use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from storage.enums import DeliveryStatus, StaffStatus
from storage.models import (
    AssessmentPeriod,
    Department,
    OutboxMessage,
    PeriodReview,
    PeriodScore,
    Staff,
)
from storage.repositories.admission import admitted
from storage.repositories.base import Repository

_PERIODS = cast(Table, AssessmentPeriod.__table__)
_REVIEWS = cast(Table, PeriodReview.__table__)
_SCORES = cast(Table, PeriodScore.__table__)
_STAFF = cast(Table, Staff.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)
_REVIEWER = aliased(Staff, name="reviewer")

ASSESSED = (StaffStatus.ACTIVE, StaffStatus.SECOND_LINE)


def _joined(period_id: int) -> Any:
    """Staff, with their review and score of the period where they have them."""
    return _STAFF.outerjoin(
        _REVIEWS, and_(_REVIEWS.c.staff_id == _STAFF.c.id, _REVIEWS.c.period_id == period_id)
    ).outerjoin(_SCORES, and_(_SCORES.c.staff_id == _STAFF.c.id, _SCORES.c.period_id == period_id))


def _department() -> ColumnElement[int]:
    return func.coalesce(_REVIEWS.c.department_id, _STAFF.c.department_id)


def _reviewer() -> ColumnElement[int]:
    return func.coalesce(_REVIEWS.c.reviewer_id, _STAFF.c.supervisor_id)


def _in_scope() -> ColumnElement[bool]:
    return _STAFF.c.status.in_(ASSESSED)


def _grade() -> ColumnElement[str]:
    """The grade that counts: HR's calibrated one, else the one assigned."""
    return func.coalesce(_SCORES.c.calibrated_grade_id, _SCORES.c.grade_id)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


@dataclass(frozen=True, slots=True)
class FigureRow:
    """People of one department under one reviewer with one grade (None: no score) and the
    same standing: reviewed, excluded, read."""

    department_id: int
    reviewer_id: int | None
    grade_id: str | None
    reviewed: bool
    excluded: bool
    read: bool
    people: int
    score_sum: Decimal | None


@dataclass(frozen=True, slots=True)
class ScopePerson:
    """One person in scope of a period, with their review's standing and their score."""

    staff_id: int
    employee_no: str
    name: str
    department_id: int
    reviewer_id: int | None
    signed_off: bool
    excluded_reason: str | None
    score: Decimal | None
    grade_id: str | None
    by_score_grade_id: str | None
    calibrated_grade_id: str | None
    calibration_reason: str | None
    disqualified: bool
    version: int | None
    published_at: datetime | None
    read_at: datetime | None

    @property
    def final_grade_id(self) -> str | None:
        """The grade that counts: HR's calibrated one, else the one assigned."""
        return self.calibrated_grade_id or self.grade_id


@dataclass(frozen=True, slots=True)
class PublishedScore:
    """A person's published result of one period, as the notice and /score show it."""

    period_id: int
    period_key: str
    starts_on: Any
    score: Decimal
    grade_id: str
    breakdown: dict[str, Any]
    published_at: datetime
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a score notice goes to: their chat and what decides their language."""

    staff_id: int
    chat_id: int | None
    language: str | None
    telegram_language: str | None


_PERSON_COLUMNS = (
    _STAFF.c.id,
    _STAFF.c.employee_no,
    _STAFF.c.name,
    _department().label("department_id"),
    _reviewer().label("reviewer_id"),
    _REVIEWS.c.signed_off_at,
    _REVIEWS.c.excluded_reason,
    _SCORES.c.score,
    _SCORES.c.grade_id,
    _SCORES.c.by_score_grade_id,
    _SCORES.c.calibrated_grade_id,
    _SCORES.c.calibration_reason,
    _SCORES.c.disqualified,
    _SCORES.c.version,
    _SCORES.c.published_at,
    _SCORES.c.read_at,
)


def _person(row: Any) -> ScopePerson:
    return ScopePerson(
        staff_id=row[0],
        employee_no=row[1],
        name=row[2],
        department_id=row[3],
        reviewer_id=row[4],
        signed_off=row[5] is not None,
        excluded_reason=row[6],
        score=row[7],
        grade_id=row[8],
        by_score_grade_id=row[9],
        calibrated_grade_id=row[10],
        calibration_reason=row[11],
        disqualified=bool(row[12]),
        version=row[13],
        published_at=row[14],
        read_at=row[15],
    )


class ResultsRepository(Repository):
    """The store's side of ``assessment.results``."""

    def _insert(self) -> Any:
        return pg_insert if self.dialect == "postgresql" else sqlite_insert

    async def figures(self, period_id: int) -> list[FigureRow]:
        """Everyone in scope, counted by department, reviewer, grade and standing (one
        GROUP BY: the figures of 100,000 people are a few hundred rows)."""
        reviewed = _REVIEWS.c.signed_off_at.is_not(None)
        excluded = _REVIEWS.c.excluded_at.is_not(None)
        read = _SCORES.c.read_at.is_not(None)
        keys = (
            _department().label("department_id"),
            _reviewer().label("reviewer_id"),
            _grade().label("grade_id"),
            _flag(reviewed).label("reviewed"),
            _flag(excluded).label("excluded"),
            _flag(read).label("read"),
        )
        rows = await self.session.execute(
            select(*keys, func.count(), func.sum(_SCORES.c.score))
            .select_from(_joined(period_id))
            .where(_in_scope())
            .group_by(*keys)
        )
        return [
            FigureRow(
                department_id=row[0],
                reviewer_id=row[1],
                grade_id=row[2],
                reviewed=bool(row[3]),
                excluded=bool(row[4]),
                read=bool(row[5]),
                people=int(row[6]),
                score_sum=None if row[7] is None else Decimal(row[7]),
            )
            for row in rows
        ]

    async def names(self, staff_ids: Sequence[int]) -> dict[int, str]:
        """Names of these staff members (reviewers, for the figures)."""
        if not staff_ids:
            return {}
        rows = await self.session.execute(
            select(_STAFF.c.id, _STAFF.c.name).where(_STAFF.c.id.in_(list(staff_ids)))
        )
        return {int(staff_id): name for staff_id, name in rows}

    async def department_names(self, department_ids: Sequence[int]) -> dict[int, str]:
        """Names of these departments."""
        if not department_ids:
            return {}
        rows = await self.session.execute(
            select(Department.id, Department.name).where(Department.id.in_(list(department_ids)))
        )
        return {int(department_id): name for department_id, name in rows}

    async def people(
        self,
        period_id: int,
        *,
        department_id: int | None = None,
        staff_id: int | None = None,
        unreviewed: bool = False,
        unread: bool = False,
        limit: int | None = None,
    ) -> list[ScopePerson]:
        """People in scope (of one department, or one person), by employee number.

        ``unreviewed``: only those neither signed off nor excluded (who block publication);
        ``unread``: only those with a published score they have not read.
        """
        query = select(*_PERSON_COLUMNS).select_from(_joined(period_id)).where(_in_scope())
        if department_id is not None:
            query = query.where(_department() == department_id)
        if staff_id is not None:
            query = query.where(_STAFF.c.id == staff_id)
        if unreviewed:
            query = query.where(
                _REVIEWS.c.signed_off_at.is_(None), _REVIEWS.c.excluded_at.is_(None)
            )
        if unread:
            query = query.where(_SCORES.c.published_at.is_not(None), _SCORES.c.read_at.is_(None))
        query = query.order_by(_STAFF.c.employee_no)
        if limit is not None:
            query = query.limit(limit)
        return [_person(row) for row in await self.session.execute(query)]

    async def top_grades(
        self, period_id: int, top_grade_id: str, *, per_department: bool
    ) -> list[tuple[int | None, int, int, int]]:
        """Per quota scope (a department, or None: the organisation), among people in
        scope with a score who are not excluded: how many, how many hold the top grade
        (calibrated or assigned), and how many of those are disqualified. One GROUP BY."""
        top = _grade() == top_grade_id
        scope = _department() if per_department else literal(None)
        rows = await self.session.execute(
            select(
                scope.label("scope"),
                func.count(),
                func.sum(_flag(top)),
                func.sum(_flag(and_(top, _SCORES.c.disqualified.is_(True)))),
            )
            .select_from(_joined(period_id))
            .where(_in_scope(), _SCORES.c.id.is_not(None), _REVIEWS.c.excluded_at.is_(None))
            .group_by(scope)
        )
        return [(row[0], int(row[1]), int(row[2] or 0), int(row[3] or 0)) for row in rows]

    async def count_unreviewed(self, period_id: int) -> int:
        """How many people in scope are neither signed off nor excluded."""
        found = await self.session.scalar(
            select(func.count())
            .select_from(_joined(period_id))
            .where(
                _in_scope(), _REVIEWS.c.signed_off_at.is_(None), _REVIEWS.c.excluded_at.is_(None)
            )
        )
        return int(found or 0)

    async def unscored(self, period_id: int, limit: int) -> tuple[int, list[ScopePerson]]:
        """People signed off and not excluded who have no score yet: how many, the first."""
        where = (
            _in_scope(),
            _REVIEWS.c.signed_off_at.is_not(None),
            _REVIEWS.c.excluded_at.is_(None),
            _SCORES.c.id.is_(None),
        )
        count = await self.session.scalar(
            select(func.count()).select_from(_joined(period_id)).where(*where)
        )
        rows = await self.session.execute(
            select(*_PERSON_COLUMNS)
            .select_from(_joined(period_id))
            .where(*where)
            .order_by(_STAFF.c.employee_no)
            .limit(limit)
        )
        return int(count or 0), [_person(row) for row in rows]

    async def lock_period(self, period_id: int) -> int | None:
        """Take the period for a change of its results (calibration, exclusion, publishing):
        its version goes up by one. The first statement of the transaction, so that on
        PostgreSQL the row lock, and on SQLite the write lock, serialise such changes and
        the checks after it read what they change. None if the period is published."""
        found = await self.session.scalar(
            update(_PERIODS)
            .where(_PERIODS.c.id == period_id, _PERIODS.c.published_at.is_(None))
            .values(version=_PERIODS.c.version + 1)
            .returning(_PERIODS.c.version)
        )
        return None if found is None else int(found) - 1

    async def period_version(self, period_id: int) -> int | None:
        """The period's version (what a Publish button carries)."""
        found = await self.session.scalar(
            select(_PERIODS.c.version).where(_PERIODS.c.id == period_id)
        )
        return None if found is None else int(found)

    async def calibrate(
        self,
        period_id: int,
        staff_id: int,
        version: int,
        *,
        grade_id: str,
        reason: str,
        by_id: int,
        now: datetime,
    ) -> bool:
        """Set HR's grade of a person's score, if the score is still the version shown."""
        result = await self.session.execute(
            update(_SCORES)
            .where(
                _SCORES.c.period_id == period_id,
                _SCORES.c.staff_id == staff_id,
                _SCORES.c.version == version,
                _SCORES.c.published_at.is_(None),
            )
            .values(
                calibrated_grade_id=grade_id,
                calibration_reason=reason,
                calibrated_by_id=by_id,
                calibrated_at=now,
                version=_SCORES.c.version + 1,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def exclude(self, review_id: int, *, reason: str, by_id: int, now: datetime) -> bool:
        """Leave a person out of the publication; False if they are signed off or excluded."""
        result = await self.session.execute(
            update(_REVIEWS)
            .where(
                _REVIEWS.c.id == review_id,
                _REVIEWS.c.signed_off_at.is_(None),
                _REVIEWS.c.excluded_at.is_(None),
            )
            .values(
                excluded_reason=reason,
                excluded_by_id=by_id,
                excluded_at=now,
                updated_at=now,
                version=_REVIEWS.c.version + 1,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def mark_published(self, period_id: int, *, by_id: int | None, now: datetime) -> bool:
        """Mark the period published now (its scheduled time cleared); False if it was."""
        result = await self.session.execute(
            update(_PERIODS)
            .where(_PERIODS.c.id == period_id, _PERIODS.c.published_at.is_(None))
            .values(published_at=now, published_by_id=by_id, publish_at=None)
        )
        return bool(getattr(result, "rowcount", 0))

    async def schedule(self, period_id: int, at: datetime | None, *, by_id: int | None) -> None:
        """Publish the period at ``at`` (None: nothing scheduled); ``by_id`` asked for it."""
        await self.session.execute(
            update(_PERIODS)
            .where(_PERIODS.c.id == period_id, _PERIODS.c.published_at.is_(None))
            .values(publish_at=at, published_by_id=by_id)
        )

    async def due(self, now: datetime) -> list[tuple[int, str, int | None, datetime]]:
        """Periods whose scheduled publication is due: id, key, who scheduled it, when for."""
        rows = await self.session.execute(
            select(
                _PERIODS.c.id, _PERIODS.c.key, _PERIODS.c.published_by_id, _PERIODS.c.publish_at
            )
            .where(_PERIODS.c.publish_at <= now, _PERIODS.c.published_at.is_(None))
            .order_by(_PERIODS.c.starts_on)
        )
        return [(int(row[0]), row[1], row[2], row[3]) for row in rows]

    async def period_key(self, period_id: int) -> str | None:
        """The key of a stored period."""
        found = await self.session.scalar(select(_PERIODS.c.key).where(_PERIODS.c.id == period_id))
        return None if found is None else str(found)

    async def published_periods(self, limit: int) -> list[tuple[int, str]]:
        """The latest published periods: id and key, newest first."""
        rows = await self.session.execute(
            select(_PERIODS.c.id, _PERIODS.c.key)
            .where(_PERIODS.c.published_at.is_not(None))
            .order_by(_PERIODS.c.starts_on.desc())
            .limit(limit)
        )
        return [(int(row[0]), row[1]) for row in rows]

    async def publish_scores(self, period_id: int, after: int, through: int, now: datetime) -> int:
        """Publish the scores of staff ids (after, through]: everyone in scope who is not
        excluded (one batch of the publication)."""
        excluded = (
            select(_REVIEWS.c.id)
            .where(
                _REVIEWS.c.period_id == period_id,
                _REVIEWS.c.staff_id == _SCORES.c.staff_id,
                _REVIEWS.c.excluded_at.is_not(None),
            )
            .exists()
        )
        on_staff = (
            select(_STAFF.c.id).where(_STAFF.c.id == _SCORES.c.staff_id, _in_scope()).exists()
        )
        result = await self.session.execute(
            update(_SCORES)
            .where(
                _SCORES.c.period_id == period_id,
                _SCORES.c.staff_id > after,
                _SCORES.c.staff_id <= through,
                _SCORES.c.published_at.is_(None),
                ~excluded,
                on_staff,
            )
            .values(published_at=now)
        )
        return int(getattr(result, "rowcount", 0))

    async def queue_notices(
        self,
        period_id: int,
        after: int,
        through: int,
        *,
        kind: str,
        key: str,
        chart: str,
        priority: int,
        now: datetime,
    ) -> int:
        """Queue a score notice for each linked person of staff ids (after, through] with a
        published score of the period, in one INSERT ... SELECT; the sender renders it.

        Each row names its recipient (``staff_id``) and the period (``attachment_kind``
        ``chart``, ``attachment_file_id`` the period key: the chart to draw and the result
        to tell); its dedup key is ``key`` and the staff id, so it is queued once.
        """
        moment = literal(now, _OUTBOX.c.created_at.type)
        columns = {
            "chat_id": _STAFF.c.telegram_user_id,
            "staff_id": _STAFF.c.id,
            "kind": literal(kind, String),
            "attachment_kind": literal("chart", String),
            "attachment_file_id": literal(chart, String),
            "dedup_key": literal(key, String) + _STAFF.c.id.cast(String),
            "priority": literal(priority),
            "next_attempt_at": moment,
            "created_at": moment,
            "status": literal(DeliveryStatus.PENDING.value, String),
            "attempts": literal(0),
        }
        statement = (
            self._insert()(_OUTBOX)
            .from_select(
                list(columns),
                select(*columns.values())
                .select_from(_SCORES.join(_STAFF, _STAFF.c.id == _SCORES.c.staff_id))
                .where(
                    _SCORES.c.period_id == period_id,
                    _SCORES.c.staff_id > after,
                    _SCORES.c.staff_id <= through,
                    _SCORES.c.published_at.is_not(None),
                    admitted(Staff),
                ),
            )
            .on_conflict_do_nothing(index_elements=[_OUTBOX.c.dedup_key])
        )
        result = await self.session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def published(
        self, staff_id: int, *, period_key: str | None = None, limit: int = 24
    ) -> list[PublishedScore]:
        """A person's published results (of one period, or the latest ``limit``), newest
        first. Only periods published, and scores published, count."""
        query = (
            select(
                _PERIODS.c.id,
                _PERIODS.c.key,
                _PERIODS.c.starts_on,
                _SCORES.c.score,
                _grade(),
                _SCORES.c.breakdown,
                _SCORES.c.published_at,
                _SCORES.c.read_at,
            )
            .select_from(_SCORES.join(_PERIODS, _PERIODS.c.id == _SCORES.c.period_id))
            .where(
                _SCORES.c.staff_id == staff_id,
                _SCORES.c.published_at.is_not(None),
                _PERIODS.c.published_at.is_not(None),
            )
            .order_by(_PERIODS.c.starts_on.desc())
            .limit(limit)
        )
        if period_key is not None:
            query = query.where(_PERIODS.c.key == period_key)
        rows = await self.session.execute(query)
        return [
            PublishedScore(
                period_id=int(row[0]),
                period_key=row[1],
                starts_on=row[2],
                score=Decimal(row[3]),
                grade_id=row[4],
                breakdown=dict(row[5] or {}),
                published_at=row[6],
                read_at=row[7],
            )
            for row in rows
        ]

    async def history(self, staff_id: int, keys: Sequence[str]) -> dict[str, tuple[Decimal, str]]:
        """A person's published score and grade in each of these periods that has one."""
        rows = await self.session.execute(
            select(_PERIODS.c.key, _SCORES.c.score, _grade())
            .select_from(_SCORES.join(_PERIODS, _PERIODS.c.id == _SCORES.c.period_id))
            .where(
                _SCORES.c.staff_id == staff_id,
                _PERIODS.c.key.in_(list(keys)),
                _SCORES.c.published_at.is_not(None),
                _PERIODS.c.published_at.is_not(None),
            )
        )
        return {row[0]: (Decimal(row[1]), row[2]) for row in rows}

    async def recipient(self, staff_id: int) -> Recipient | None:
        """The chat and languages of a staff member."""
        row = (
            await self.session.execute(
                select(
                    _STAFF.c.id,
                    _STAFF.c.telegram_user_id,
                    _STAFF.c.language,
                    _STAFF.c.telegram_language,
                ).where(_STAFF.c.id == staff_id)
            )
        ).first()
        return None if row is None else Recipient(int(row[0]), row[1], row[2], row[3])

    async def mark_read(self, period_id: int, staff_id: int, now: datetime) -> datetime | None:
        """Record that the person read their published result, once; when they first did
        (None: no published result of theirs in that period)."""
        await self.session.execute(
            update(_SCORES)
            .where(
                _SCORES.c.period_id == period_id,
                _SCORES.c.staff_id == staff_id,
                _SCORES.c.published_at.is_not(None),
                _SCORES.c.read_at.is_(None),
            )
            .values(read_at=now)
        )
        found = await self.session.scalar(
            select(_SCORES.c.read_at).where(
                _SCORES.c.period_id == period_id,
                _SCORES.c.staff_id == staff_id,
                _SCORES.c.published_at.is_not(None),
            )
        )
        return found


__all__ = [
    "ASSESSED",
    "FigureRow",
    "PublishedScore",
    "Recipient",
    "ResultsRepository",
    "ScopePerson",
]
