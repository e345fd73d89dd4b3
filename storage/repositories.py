"""Repositories: the only place that speaks SQL. They add and query, and never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Department, Post, ProcessedUpdate, Staff, WorkEntry


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name


class DepartmentRepository(_Repository):
    """Departments by name."""

    async def get_by_name(self, name: str) -> Department | None:
        """The department called ``name``, if any."""
        return await self.session.scalar(select(Department).where(Department.name == name))

    async def add(self, department: Department) -> Department:
        """Stage a new department and give it an id."""
        self.session.add(department)
        await self.session.flush()
        return department


class PostRepository(_Repository):
    """Posts within departments."""

    async def get(self, department_id: int, name: str) -> Post | None:
        """The post ``name`` of a department, if any."""
        return await self.session.scalar(
            select(Post).where(Post.department_id == department_id, Post.name == name)
        )

    async def add(self, post: Post) -> Post:
        """Stage a new post and give it an id."""
        self.session.add(post)
        await self.session.flush()
        return post


class StaffRepository(_Repository):
    """People on the roster."""

    async def get(self, staff_id: int) -> Staff | None:
        """The staff member with this id."""
        return await self.session.get(Staff, staff_id)

    async def by_telegram_id(self, telegram_user_id: int) -> Staff | None:
        """The staff member linked to this Telegram account, if any."""
        return await self.session.scalar(
            select(Staff).where(Staff.telegram_user_id == telegram_user_id)
        )

    async def by_employee_no(self, employee_no: str) -> Staff | None:
        """The staff member with this employee number, if any."""
        return await self.session.scalar(select(Staff).where(Staff.employee_no == employee_no))

    async def add(self, staff: Staff) -> Staff:
        """Stage a new staff member and give them an id."""
        self.session.add(staff)
        await self.session.flush()
        return staff


class WorkEntryRepository(_Repository):
    """Daily work entries."""

    async def get(self, entry_id: int) -> WorkEntry | None:
        """The entry with this id."""
        return await self.session.get(WorkEntry, entry_id)

    async def add(self, entry: WorkEntry) -> WorkEntry:
        """Stage a new entry and give it an id."""
        self.session.add(entry)
        await self.session.flush()
        return entry


class AuditLog(_Repository):
    """The append-only audit log: events are added, never changed."""

    async def record(
        self,
        action: str,
        subject_type: str,
        subject_id: str | int | None = None,
        *,
        actor_staff_id: int | None = None,
        actor_telegram_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one event to the log, in the caller's transaction."""
        self.session.add(
            AuditEvent(
                action=action,
                subject_type=subject_type,
                subject_id=None if subject_id is None else str(subject_id),
                actor_staff_id=actor_staff_id,
                actor_telegram_id=actor_telegram_id,
                details=details or {},
            )
        )

    async def events(self, subject_type: str | None = None) -> list[AuditEvent]:
        """Events in the order they happened, optionally for one kind of subject."""
        query = select(AuditEvent).order_by(AuditEvent.id)
        if subject_type is not None:
            query = query.where(AuditEvent.subject_type == subject_type)
        return list(await self.session.scalars(query))


class ProcessedUpdates(_Repository):
    """Telegram update ids already taken, so a redelivered update is handled once."""

    async def claim(self, update_id: int) -> bool:
        """Take ``update_id``; False if it was taken before (by this or another process)."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(ProcessedUpdate)
            .values(update_id=update_id)
            .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
        )
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def forget_before(self, moment: datetime) -> int:
        """Drop records older than ``moment`` (Telegram never redelivers that late)."""
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment)
        )
        return int(getattr(result, "rowcount", 0))
