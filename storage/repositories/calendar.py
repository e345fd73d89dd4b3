"""Leave days, who still owes a day's entry, and claims on scheduled work."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from storage.enums import EntryStatus, StaffStatus
from storage.models import JobClaim, LeaveDay, Staff, WorkEntry
from storage.repositories.admission import admitted
from storage.repositories.base import Repository
from storage.repositories.selection import Selection

# Second-line staff (退居二线) keep an assigned role and log their work like everyone else.
WORKING = (StaffStatus.ACTIVE, StaffStatus.SECOND_LINE)

StaffIdColumn = ColumnElement[Any] | InstrumentedAttribute[Any]


@dataclass(frozen=True, slots=True)
class Recipient:
    """A linked person a message goes to, with what decides its language."""

    staff_id: int
    telegram_user_id: int
    name: str
    language: str | None
    telegram_language: str | None


@dataclass(frozen=True, slots=True)
class AbsentReport:
    """A supervisor's direct report with no entry on a day, and whether they are on leave."""

    supervisor: Recipient
    employee_no: str
    name: str
    linked: bool
    on_leave: bool


@dataclass(frozen=True, slots=True)
class ReportDay:
    """Whether one direct report logged work on a day, or is on leave."""

    employee_no: str
    logged: bool
    on_leave: bool


def _recipient_columns(person: Any) -> list[Any]:
    """A person's ``Recipient`` fields, labelled by name."""
    return [
        person.id.label("staff_id"),
        person.telegram_user_id.label("telegram_user_id"),
        person.name.label("name"),
        person.language.label("language"),
        person.telegram_language.label("telegram_language"),
    ]


def _recipient(row: Any) -> Recipient:
    assert row["telegram_user_id"] is not None, "the queries select linked people only"
    return Recipient(
        staff_id=row["staff_id"],
        telegram_user_id=row["telegram_user_id"],
        name=row["name"],
        language=row["language"],
        telegram_language=row["telegram_language"],
    )


def has_entry(staff_id: StaffIdColumn, day: date) -> ColumnElement[bool]:
    # Any entry counts but a deleted one; served by the (staff_id, work_date) index.
    return exists().where(
        WorkEntry.staff_id == staff_id,
        WorkEntry.work_date == day,
        WorkEntry.status != EntryStatus.DELETED,
    )


def on_leave(staff_id: StaffIdColumn, day: date) -> ColumnElement[bool]:
    # Served by the unique (staff_id, day) index of leave_days.
    return exists().where(LeaveDay.staff_id == staff_id, LeaveDay.day == day)


class LeaveRepository(Repository):
    """Days people are on leave, and who still owes an entry for a day."""

    async def record(
        self, staff_id: int, day: date, *, kind: str, recorded_by_id: int | None
    ) -> bool:
        """Add a leave day; False if the person already had one that day."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(LeaveDay)
            .values(staff_id=staff_id, day=day, kind=kind, recorded_by_id=recorded_by_id)
            .on_conflict_do_nothing(index_elements=[LeaveDay.staff_id, LeaveDay.day])
            .returning(LeaveDay.id)
        )
        return (await self.session.scalar(statement)) is not None

    async def remove(self, staff_id: int, day: date) -> bool:
        """Remove a leave day; False if there was none."""
        result = await self.session.execute(
            delete(LeaveDay).where(LeaveDay.staff_id == staff_id, LeaveDay.day == day)
        )
        return bool(getattr(result, "rowcount", 0))

    async def days_of(self, staff_id: int, start: date, end: date) -> list[date]:
        """One person's leave days from ``start`` to ``end``, both included, in order."""
        rows = await self.session.scalars(
            select(LeaveDay.day)
            .where(LeaveDay.staff_id == staff_id, LeaveDay.day.between(start, end))
            .order_by(LeaveDay.day)
        )
        return list(rows)

    async def between(self, start: date, end: date) -> list[tuple[int, date]]:
        """Everyone's leave days from ``start`` to ``end``, as (staff id, day), in order."""
        rows = await self.session.execute(
            select(LeaveDay.staff_id, LeaveDay.day)
            .where(LeaveDay.day.between(start, end))
            .order_by(LeaveDay.day, LeaveDay.staff_id)
        )
        return [(staff_id, day) for staff_id, day in rows]

    def owing(self, day: date) -> Selection:
        """Admitted people with no entry and no leave on ``day``: the daily reminder's."""
        return Selection(
            and_(admitted(Staff), ~has_entry(Staff.id, day), ~on_leave(Staff.id, day))
        )

    async def owing_entry(self, day: date) -> list[Recipient]:
        """Everyone ``owing(day)`` picks, by id: one query."""
        rows = await self.session.execute(
            select(*_recipient_columns(Staff)).where(self.owing(day).where).order_by(Staff.id)
        )
        return [_recipient(row) for row in rows.mappings()]

    async def absent_reports(
        self, day: date, after: int = 0, through: int | None = None
    ) -> list[AbsentReport]:
        """Working direct reports of linked, working supervisors with no entry on ``day``.

        One query, ordered by supervisor then employee number; supervisors whose
        reports all logged do not appear. Only supervisors of staff ids ``after`` < id
        <= ``through`` (all from ``after`` on if None): a batch of a big job.
        """
        supervisor = aliased(Staff, name="supervisor")
        report = aliased(Staff, name="report")
        rows = await self.session.execute(
            select(
                *_recipient_columns(supervisor),
                report.employee_no.label("report_no"),
                report.name.label("report_name"),
                report.telegram_user_id.is_not(None).label("linked"),
                on_leave(report.id, day).label("on_leave"),
            )
            .select_from(report)
            .join(supervisor, supervisor.id == report.supervisor_id)
            .where(
                supervisor.id > after,
                supervisor.id <= through if through is not None else true(),
                admitted(supervisor),
                report.status.in_(WORKING),
                ~has_entry(report.id, day),
            )
            .order_by(supervisor.id, report.employee_no)
        )
        return [
            AbsentReport(
                supervisor=_recipient(row),
                employee_no=row["report_no"],
                name=row["report_name"],
                linked=bool(row["linked"]),
                on_leave=bool(row["on_leave"]),
            )
            for row in rows.mappings()
        ]

    async def day_of(self, staff_id: int, day: date) -> tuple[bool, bool]:
        """Whether one person logged work on ``day``, and whether they are on leave then."""
        row = (
            await self.session.execute(
                select(has_entry(Staff.id, day), on_leave(Staff.id, day)).where(
                    Staff.id == staff_id
                )
            )
        ).one_or_none()
        return (False, False) if row is None else (bool(row[0]), bool(row[1]))

    async def team_day(self, supervisor_id: int, day: date) -> list[ReportDay]:
        """Each working direct report's state on ``day``, by employee number."""
        rows = await self.session.execute(
            select(Staff.employee_no, has_entry(Staff.id, day), on_leave(Staff.id, day))
            .where(Staff.supervisor_id == supervisor_id, Staff.status.in_(WORKING))
            .order_by(Staff.employee_no)
        )
        return [ReportDay(no, bool(logged), bool(leave)) for no, logged, leave in rows]


class JobClaims(Repository):
    """Keys of scheduled work already done (``daily-reminder/2026-11-20``), and its leftovers."""

    def __init__(
        self, session: AsyncSession, on_claim: Callable[[str, bool], None] | None = None
    ) -> None:
        super().__init__(session)
        # Told of each claim, taken or not (the bot's metrics count them by job).
        self._on_claim = on_claim

    async def claim(self, key: str, now: datetime) -> bool:
        """Take ``key``; False if it was taken before, by this or another process.

        Make it the first statement of its transaction: on SQLite a transaction that
        read first cannot wait for another writer and fails instead.
        """
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(JobClaim)
            .values(key=key, claimed_at=now)
            .on_conflict_do_nothing(index_elements=[JobClaim.key])
            .returning(JobClaim.key)
        )
        taken = (await self.session.scalar(statement)) is not None
        if self._on_claim is not None:
            self._on_claim(key, taken)
        return taken

    async def claimed(self, key: str) -> bool:
        """Whether ``key`` was taken already."""
        return (await self.session.get(JobClaim, key)) is not None

    async def taken(self, prefix: str) -> set[str]:
        """The keys taken that start with ``prefix`` (one range read of the key index)."""
        rows = await self.session.scalars(
            select(JobClaim.key).where(JobClaim.key.startswith(prefix, autoescape=True))
        )
        return set(rows)

    async def forget(self, keys: Sequence[str]) -> None:
        """Drop claims no longer needed (the batches of work now claimed as a whole)."""
        if keys:
            await self.session.execute(delete(JobClaim).where(JobClaim.key.in_(list(keys))))
