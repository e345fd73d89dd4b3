"""The statistics' aggregates (/stats): every figure is a GROUP BY in the database.

Each query returns at most a few rows per department (a median is read from the one or
two middle rows each department's window picks), so no query brings entries into
Python however many there are. ``supervisor_id`` narrows every figure to that
supervisor's direct reports; None is the whole organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, cast, extract, func, literal, select

from storage.enums import EntryStatus, StaffStatus
from storage.models import (
    AppealCase,
    AssessmentPeriod,
    BonusLine,
    Department,
    PeriodScore,
    Staff,
    WorkEntry,
)
from storage.repositories.base import Repository

__all__ = ["DepartmentCount", "GradeCount", "StatsRepository"]

_ON_STAFF = (StaffStatus.ACTIVE, StaffStatus.SECOND_LINE)
_DECIDED = (EntryStatus.APPROVED, EntryStatus.RETURNED, EntryStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class DepartmentCount:
    """A figure of one department."""

    department_id: int
    department: str
    value: float


@dataclass(frozen=True, slots=True)
class GradeCount:
    """How many people of one department hold one grade (HR's calibrated one if any)."""

    department_id: int
    grade_id: str
    people: int


class StatsRepository(Repository):
    """Aggregates by department, for the organisation or one supervisor's people."""

    def _people(self, supervisor_id: int | None) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [Staff.status.in_(_ON_STAFF)]
        if supervisor_id is not None:
            conditions.append(Staff.supervisor_id == supervisor_id)
        return conditions

    async def appeal_cases(
        self, period_id: int, supervisor_id: int | None
    ) -> list[tuple[str, str, int]]:
        """A period's review and appeal cases as (kind, ``open`` or the outcome, count),
        of everyone or of one supervisor's people (whoever was rated, left since or not)."""
        state = func.coalesce(AppealCase.outcome, literal("open"))
        query = (
            select(AppealCase.kind, state, func.count())
            .where(AppealCase.period_id == period_id)
            .group_by(AppealCase.kind, state)
            .order_by(AppealCase.kind, state)
        )
        if supervisor_id is not None:
            query = query.join(Staff, Staff.id == AppealCase.staff_id).where(
                Staff.supervisor_id == supervisor_id
            )
        rows = await self.session.execute(query)
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def headcount(self, supervisor_id: int | None) -> list[DepartmentCount]:
        """People on staff by department, by department name."""
        rows = await self.session.execute(
            select(Department.id, Department.name, func.count(Staff.id))
            .join(Staff, Staff.department_id == Department.id)
            .where(*self._people(supervisor_id))
            .group_by(Department.id, Department.name)
            .order_by(Department.name)
        )
        return [DepartmentCount(r[0], r[1], float(r[2])) for r in rows]

    async def logged_days(
        self, workdays: Sequence[date], supervisor_id: int | None
    ) -> dict[int, int]:
        """Person-workdays among ``workdays`` with an entry that is not deleted, by
        department (a day with several entries counts once)."""
        if not workdays:
            return {}
        days = (
            select(WorkEntry.staff_id, WorkEntry.work_date)
            .where(
                WorkEntry.work_date >= min(workdays),
                WorkEntry.work_date <= max(workdays),
                WorkEntry.work_date.in_(list(workdays)),
                WorkEntry.status != EntryStatus.DELETED,
            )
            .distinct()
            .subquery()
        )
        rows = await self.session.execute(
            select(Staff.department_id, func.count())
            .select_from(days)
            .join(Staff, Staff.id == days.c.staff_id)
            .where(*self._people(supervisor_id))
            .group_by(Staff.department_id)
        )
        return {r[0]: int(r[1]) for r in rows}

    async def backlog(self, supervisor_id: int | None) -> dict[int, int]:
        """Entries waiting for a decision, by their authors' department."""
        rows = await self.session.execute(
            select(Staff.department_id, func.count())
            .select_from(WorkEntry)
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .where(WorkEntry.status == EntryStatus.SUBMITTED, *self._people(supervisor_id))
            .group_by(Staff.department_id)
        )
        return {r[0]: int(r[1]) for r in rows}

    def _seconds(self) -> ColumnElement[Any]:
        """Seconds from an entry's (latest) submission to its decision."""
        if self.dialect == "postgresql":
            return cast(extract("epoch", WorkEntry.decided_at - WorkEntry.submitted_at), Float)
        return (func.julianday(WorkEntry.decided_at) - func.julianday(WorkEntry.submitted_at)) * (
            literal(86400.0)
        )

    async def median_decision_seconds(
        self, start: datetime, end: datetime, supervisor_id: int | None
    ) -> tuple[dict[int, float], dict[int, int]]:
        """The median time to decision of entries decided from ``start`` (included) to
        ``end`` (excluded), by department, and how many were decided."""
        seconds = self._seconds().label("seconds")
        decided = (
            select(
                Staff.department_id.label("department_id"),
                seconds,
                func.row_number()
                .over(partition_by=Staff.department_id, order_by=seconds)
                .label("place"),
                func.count().over(partition_by=Staff.department_id).label("decided"),
            )
            .select_from(WorkEntry)
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .where(
                WorkEntry.status.in_(_DECIDED),
                WorkEntry.decided_at >= start,
                WorkEntry.decided_at < end,
                WorkEntry.decided_at >= WorkEntry.submitted_at,
                *self._people(supervisor_id),
            )
            .subquery()
        )
        # The middle row of an odd count, the two middle rows of an even one.
        middle = and_(
            decided.c.place >= (decided.c.decided + 1) // 2,
            decided.c.place <= decided.c.decided // 2 + 1,
        )
        rows = await self.session.execute(
            select(
                decided.c.department_id,
                func.avg(decided.c.seconds),
                func.max(decided.c.decided),
            )
            .where(middle)
            .group_by(decided.c.department_id)
        )
        medians: dict[int, float] = {}
        counts: dict[int, int] = {}
        for department_id, median, count in rows:
            medians[department_id] = float(median)
            counts[department_id] = int(count)
        return medians, counts

    async def latest_published_period(self, through: date) -> tuple[int, str] | None:
        """The id and key of the latest published period ending by ``through``."""
        row = (
            await self.session.execute(
                select(AssessmentPeriod.id, AssessmentPeriod.key)
                .where(
                    AssessmentPeriod.published_at.is_not(None),
                    AssessmentPeriod.ends_on <= through,
                )
                .order_by(AssessmentPeriod.ends_on.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def grades(self, period_id: int, supervisor_id: int | None) -> list[GradeCount]:
        """Published grades of the period by department and grade (the calibrated one
        where HR calibrated). The organisation's counts take everyone scored, also those
        who have left since; a supervisor's, their people on staff."""
        grade = func.coalesce(PeriodScore.calibrated_grade_id, PeriodScore.grade_id)
        query = (
            select(PeriodScore.department_id, grade, func.count())
            .where(PeriodScore.period_id == period_id, PeriodScore.published_at.is_not(None))
            .group_by(PeriodScore.department_id, grade)
        )
        if supervisor_id is not None:
            query = query.join(Staff, Staff.id == PeriodScore.staff_id).where(
                *self._people(supervisor_id)
            )
        rows = await self.session.execute(query)
        return [GradeCount(r[0], r[1], int(r[2])) for r in rows]

    async def bonus_units(self, run_id: int, supervisor_id: int | None) -> dict[int, int]:
        """What a published run's lines amount to (steps), by department."""
        query = (
            select(BonusLine.department_id, func.sum(BonusLine.amount))
            .where(BonusLine.run_id == run_id)
            .group_by(BonusLine.department_id)
        )
        if supervisor_id is not None:
            query = query.join(Staff, Staff.id == BonusLine.staff_id).where(
                *self._people(supervisor_id)
            )
        rows = await self.session.execute(query)
        return {r[0]: int(r[1] or 0) for r in rows}

    async def department_names(self, ids: Sequence[int]) -> dict[int, str]:
        """Departments' names by id."""
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Department.id, Department.name).where(Department.id.in_(list(ids)))
        )
        return {r[0]: r[1] for r in rows}
