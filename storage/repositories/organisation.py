"""Departments, posts and people."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from storage.enums import Role, StaffStatus
from storage.models import Department, Post, Staff
from storage.repositories.base import Repository

_STAFF = cast(Table, Staff.__table__)
_SET_TELEGRAM_LANGUAGE = (
    update(_STAFF)
    .where(_STAFF.c.id == bindparam("staff_id"))
    .values(telegram_language=bindparam("reported_language"))
)

# Both SQLite and asyncpg cap the bound parameters of one statement (32,766 / 32,767).
_IN_CHUNK = 1000


class DepartmentRepository(Repository):
    """Departments by name."""

    async def get_by_name(self, name: str) -> Department | None:
        """The department called ``name``, if any."""
        return await self.session.scalar(select(Department).where(Department.name == name))

    async def all(self) -> list[Department]:
        """Every department, by name."""
        return list(await self.session.scalars(select(Department).order_by(Department.name)))

    async def add(self, department: Department) -> Department:
        """Stage a new department and give it an id."""
        self.session.add(department)
        await self.session.flush()
        return department

    async def add_all(self, departments: Sequence[Department]) -> None:
        """Stage new departments in one batch and give them ids."""
        self.session.add_all(departments)
        await self.session.flush()


class PostRepository(Repository):
    """Posts within departments."""

    async def get(self, department_id: int, name: str) -> Post | None:
        """The post ``name`` of a department, if any."""
        return await self.session.scalar(
            select(Post).where(Post.department_id == department_id, Post.name == name)
        )

    async def all(self) -> list[Post]:
        """Every post of every department."""
        return list(await self.session.scalars(select(Post).order_by(Post.id)))

    async def add(self, post: Post) -> Post:
        """Stage a new post and give it an id."""
        self.session.add(post)
        await self.session.flush()
        return post

    async def add_all(self, posts: Sequence[Post]) -> None:
        """Stage new posts in one batch and give them ids."""
        self.session.add_all(posts)
        await self.session.flush()


class StaffRepository(Repository):
    """People on the roster."""

    async def get(self, staff_id: int) -> Staff | None:
        """The staff member with this id."""
        return await self.session.get(Staff, staff_id)

    async def set_telegram_language(self, staff_id: int, language: str) -> None:
        """Remember the language a person's Telegram app last reported."""
        await self.session.execute(
            _SET_TELEGRAM_LANGUAGE, {"staff_id": staff_id, "reported_language": language}
        )

    async def highest_id(self) -> int:
        """The largest staff id given so far (0 for an empty roster): where big jobs end."""
        return int(await self.session.scalar(select(func.max(Staff.id))) or 0)

    async def by_telegram_id(self, telegram_user_id: int) -> Staff | None:
        """The staff member linked to this Telegram account, if any."""
        return await self.session.scalar(
            select(Staff).where(Staff.telegram_user_id == telegram_user_id)
        )

    async def by_employee_no(self, employee_no: str) -> Staff | None:
        """The staff member with this employee number, if any."""
        return await self.session.scalar(select(Staff).where(Staff.employee_no == employee_no))

    async def by_employee_nos(self, employee_nos: Iterable[str]) -> list[Staff]:
        """The staff members with these employee numbers (unknown numbers are skipped)."""
        wanted = sorted(set(employee_nos))
        found: list[Staff] = []
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            found.extend(
                await self.session.scalars(
                    select(Staff).where(Staff.employee_no.in_(chunk)).order_by(Staff.employee_no)
                )
            )
        return found

    async def on_staff_holding(self, roles: Role) -> list[Staff]:
        """Everyone still on staff holding any of ``roles``, by employee number."""
        return list(
            await self.session.scalars(
                select(Staff)
                .where(Staff.status != StaffStatus.LEFT, Staff.roles.op("&")(int(roles)) != 0)
                .order_by(Staff.employee_no)
            )
        )

    async def all(self) -> list[Staff]:
        """Everyone on the roster, those who left included, by employee number."""
        return list(await self.session.scalars(select(Staff).order_by(Staff.employee_no)))

    async def add(self, staff: Staff) -> Staff:
        """Stage a new staff member and give them an id."""
        self.session.add(staff)
        await self.session.flush()
        return staff

    async def add_many(self, people: Sequence[Mapping[str, Any]]) -> list[Staff]:
        """Insert new people (attribute values, one mapping each) in one batch; load them back.

        The ORM's own INSERT goes row by row on SQLite, which cannot hand back the ids
        of a multi-row INSERT in a guaranteed order; this one is a single executemany.
        """
        if not people:
            return []
        await self.session.execute(insert(Staff), list(people))
        return await self.by_employee_nos(person["employee_no"] for person in people)

    async def set_supervisors_of_new(
        self, assignments: Sequence[tuple[Staff, int | None]]
    ) -> None:
        """Point people added in this transaction at their supervisors, in one batch.

        One executemany instead of an UPDATE (and version check) per person: the
        rows are this transaction's own, which no one else can see yet.
        """
        if not assignments:
            return
        # Core, not ORM: an ORM UPDATE by primary key would check and bump versions row by row.
        table = cast(Table, Staff.__table__)
        await self.session.execute(
            update(table)
            .where(table.c.id == bindparam("staff_id"))
            .values(supervisor_id=bindparam("new_supervisor_id")),
            [
                {"staff_id": staff.id, "new_supervisor_id": supervisor_id}
                for staff, supervisor_id in assignments
            ],
        )
        for staff, supervisor_id in assignments:
            # The row already holds this value; the object need not be flushed again.
            set_committed_value(staff, "supervisor_id", supervisor_id)
