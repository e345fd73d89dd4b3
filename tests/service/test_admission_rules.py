"""Who is admitted: the gate and the jobs that choose whom to write to agree.

The gate admits a linked member still on staff (``identify`` then ``access.check``);
reminders and summaries select people with ``storage.repositories.admission.admitted``.
Over generated rosters, the people each path lets in are the same, everyone reminded is
someone the gate would answer, and every command in a person's menu passes the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from assessment import access
from assessment.people import identify
from storage.engine import Database
from storage.enums import Role, StaffStatus
from storage.models import Department, Staff
from storage.repositories.admission import admitted
from tests.service.properties import examples, run

THURSDAY = date(2025, 11, 20)


@dataclass(frozen=True)
class Person:
    linked: bool
    status: StaffStatus
    roles: Role


people = st.lists(
    st.builds(
        Person,
        st.booleans(),
        st.sampled_from(list(StaffStatus)),
        st.sampled_from([Role.STAFF, Role.SUPERVISOR, Role.HR, Role.ADMIN, Role.NONE]).flatmap(
            lambda first: st.sampled_from([first, first | Role.STAFF, first | Role.HR])
        ),
    ),
    min_size=1,
    max_size=12,
)


async def _paths_agree(url: str, roster: list[Person]) -> None:
    db = Database(url)
    try:
        async with db.uow() as uow:
            await uow.session.execute(delete(Staff))
            await uow.session.execute(delete(Department))
            office = await uow.departments.add(Department(name="Office"))
            for n, person in enumerate(roster):
                await uow.staff.add(
                    Staff(
                        employee_no=f"E{n}",
                        name=f"P{n}",
                        department_id=office.id,
                        roles=person.roles,
                        status=person.status,
                        telegram_user_id=5000 + n if person.linked else None,
                    )
                )
            await uow.commit()
        async with db.uow() as uow:
            selected = set(await uow.session.scalars(select(Staff.id).where(admitted(Staff))))
            gate: set[int] = set()
            for n, person in enumerate(roster):
                caller = await identify(uow, 10_000 + n, 5000 + n if person.linked else None)
                member = caller.member
                if access.check(member, access.MEMBERS) is None:
                    assert member is not None
                    gate.add(member.id)
                    # Every command in the person's menu is one the gate lets them use.
                    for command in access.menu(member):
                        assert access.check_command(member, command) is None, (command, person)
            assert selected == gate, roster
            # The daily reminder goes to admitted people only (nobody has logged today).
            reminded = {r.staff_id for r in await uow.leave.owing_entry(THURSDAY)}
            assert reminded == gate, roster
    finally:
        await db.dispose()


@examples(40)
@given(roster=people)
def test_the_gate_and_the_jobs_admit_the_same_people(url: str, roster: list[Person]) -> None:
    run(_paths_agree(url, roster))
