"""Departments, posts and people."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Department, Post, Staff
from storage.repositories.base import Repository


class DepartmentRepository(Repository):
    """Departments by name."""

    async def get_by_name(self, name: str) -> Department | None:
        """The department called ``name``, if any."""
        return await self.session.scalar(select(Department).where(Department.name == name))

    async def add(self, department: Department) -> Department:
        """Stage a new department and give it an id."""
        self.session.add(department)
        await self.session.flush()
        return department


class PostRepository(Repository):
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


class StaffRepository(Repository):
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
