"""Read-only views of people: a person's own record, a supervisor's team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import aliased

from storage.enums import Role, StaffStatus
from storage.models import Department, Post, Staff
from storage.repositories.base import Repository, rows_as


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A person's record with the names it refers to."""

    employee_no: str
    name: str
    department: str
    post: str | None
    post_type: str | None
    difficulty: Decimal | None
    supervisor: str | None
    roles: Role
    status: StaffStatus
    language: str | None
    linked_at: datetime | None


@dataclass(frozen=True, slots=True)
class TeamRow:
    """One direct report, as their supervisor sees them."""

    employee_no: str
    name: str
    status: StaffStatus
    linked: bool


class Directory(Repository):
    """Who is who, joined in one query each."""

    async def profile(self, staff_id: int) -> ProfileRow | None:
        """A person's record with department, post and supervisor names."""
        supervisor = aliased(Staff)
        found = rows_as(
            await self.session.execute(
                select(
                    Staff.employee_no,
                    Staff.name,
                    Department.name.label("department"),
                    Post.name.label("post"),
                    Post.post_type,
                    Post.difficulty,
                    supervisor.name.label("supervisor"),
                    Staff.roles,
                    Staff.status,
                    Staff.language,
                    Staff.linked_at,
                )
                .join(Department, Department.id == Staff.department_id)
                .outerjoin(Post, Post.id == Staff.post_id)
                .outerjoin(supervisor, supervisor.id == Staff.supervisor_id)
                .where(Staff.id == staff_id)
            ),
            ProfileRow,
        )
        return found[0] if found else None

    async def team(self, supervisor_id: int) -> list[TeamRow]:
        """A supervisor's direct reports still on staff, by employee number."""
        rows = await self.session.execute(
            select(Staff.employee_no, Staff.name, Staff.status, Staff.telegram_user_id)
            .where(Staff.supervisor_id == supervisor_id, Staff.status != StaffStatus.LEFT)
            .order_by(Staff.employee_no)
        )
        return [
            TeamRow(no, name, status, telegram_id is not None)
            for no, name, status, telegram_id in rows
        ]

    async def departments(self) -> list[tuple[int, str]]:
        """Every department's id and name, by name."""
        rows = await self.session.execute(
            select(Department.id, Department.name).order_by(Department.name)
        )
        return [(department_id, name) for department_id, name in rows]
