"""A small organisation seeded straight into the store, for end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.emulator import EmulatedUser
from storage.engine import Database
from storage.enums import Role, StaffStatus
from storage.models import Department, Post, Staff


@dataclass(frozen=True)
class Organisation:
    """Who is who: Telegram users of the linked people, employee numbers of the rest."""

    hr: EmulatedUser
    supervisor: EmulatedUser
    staff: EmulatedUser
    left: EmulatedUser
    unlinked_no: str = "E100"
    other_unlinked_no: str = "E101"


async def seed(database: Database) -> Organisation:
    """HR, a supervisor with two reports (one linked), a leaver, and an unlinked colleague."""
    org = Organisation(
        hr=EmulatedUser(id=9001, first_name="Hu", language_code="en"),
        supervisor=EmulatedUser(id=9002, first_name="Sun", language_code="en"),
        staff=EmulatedUser(id=9003, first_name="Sue", language_code="en"),
        left=EmulatedUser(id=9004, first_name="Lou", language_code="en"),
    )
    async with database.uow() as uow:
        office = await uow.departments.add(Department(name="Permits Office"))
        hr_office = await uow.departments.add(Department(name="Human Resources"))
        clerk = await uow.posts.add(
            Post(department_id=office.id, name="Clerk", post_type="service",
                 difficulty=Decimal("1.15"))
        )  # fmt: skip

        async def person(
            number: str, name: str, department: int, roles: Role, telegram: int | None,
            supervisor: int | None = None, status: StaffStatus = StaffStatus.ACTIVE,
            language: str | None = None,
        ) -> int:  # fmt: skip
            staff = await uow.staff.add(
                Staff(employee_no=number, name=name, department_id=department,
                      post_id=clerk.id if department == office.id else None, roles=roles,
                      telegram_user_id=telegram, supervisor_id=supervisor, status=status,
                      language=language)
            )  # fmt: skip
            return staff.id

        await person("E001", "Hu Rong", hr_office.id, Role.STAFF | Role.HR, org.hr.id)
        boss = await person(
            "E010", "Sun Li", office.id, Role.STAFF | Role.SUPERVISOR, org.supervisor.id
        )
        await person("E011", "Su Yi", office.id, Role.STAFF, org.staff.id, boss, language="en")
        await person(org.unlinked_no, "Ma Qing", office.id, Role.STAFF, None, boss)
        await person(org.other_unlinked_no, "Tang Wen", office.id, Role.STAFF, None)
        await person("E900", "Lou Gone", office.id, Role.STAFF, org.left.id, None,
                     StaffStatus.LEFT)  # fmt: skip
        await uow.commit()
    return org


# A second member under the same supervisor, linked to Telegram as this user.
COLLEAGUE = EmulatedUser(id=9010, first_name="Col", language_code="en")


async def seed_with_colleague(database: Database) -> Organisation:
    """``seed``, plus ``COLLEAGUE`` (E020) reporting to the supervisor E010."""
    organisation = await seed(database)
    async with database.uow() as uow:
        boss = (await uow.staff.by_employee_nos(["E010"]))[0]
        uow.session.add(
            Staff(employee_no="E020", name="Cao Lin", department_id=boss.department_id,
                  roles=Role.STAFF, telegram_user_id=COLLEAGUE.id, supervisor_id=boss.id)
        )  # fmt: skip
        await uow.commit()
    return organisation
