"""The batched roster import gives what the rules gave before it went in batches.

Over generated stores and rosters (updates, new people, supervisors further down the
file, people only in the store who now have reports, loops the file and the store
close together, empty language cells, people marked as left or kept), the import of
``assessment.roster_import`` and the one-pass ORM import it replaced
(``roster_reference``) give the same summary, or the same rejection, and leave the
same store: people, posts, departments, audit events, queued menus, whether the plan is
worked out in a thread or in a child process. Its preview is its summary, and writes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from assessment import roster_import, roster_plan
from assessment.roster_import import ImportSummary, import_roster
from assessment.roster_problems import RosterRejected
from assessment.roster_rows import ParsedRoster, RosterRow
from storage.engine import Database
from storage.enums import Role, StaffStatus
from storage.models import (
    AuditEvent,
    Department,
    OutboxMessage,
    Post,
    RosterStaging,
    RosterUpload,
    Staff,
)
from tests.service import roster_reference
from tests.service.properties import examples, run

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NUMBERS = [f"E{n}" for n in range(9)]
DEPARTMENTS = ["Permits", "Audit", "Legal"]  # Legal: never in the store
POSTS = ["Clerk", "Head"]
TYPES = ["service", "management"]
DIFFICULTIES = [Decimal("1"), Decimal("1.2")]
ROLES = [
    Role.STAFF,
    Role.STAFF | Role.SUPERVISOR,
    Role.STAFF | Role.HR,
    Role.STAFF | Role.ADMIN,
    Role.HR,
]
LANGUAGES = [None, "en", "zh_Hans"]


@dataclass(frozen=True)
class Stored:
    """Someone in the store before the import."""

    employee_no: str
    name: str
    department: str
    post: str | None
    roles: Role
    status: StaffStatus
    language: str | None
    linked: bool
    supervisor_no: str | None


@dataclass(frozen=True)
class Case:
    store: tuple[Stored, ...]
    # (department, post) -> (type, difficulty), for the posts the store has.
    store_posts: dict[tuple[str, str], tuple[str, Decimal]]
    rows: tuple[RosterRow, ...]
    mark_missing_left: bool


@st.composite
def cases(draw: st.DrawFn) -> Case:
    in_store = draw(st.lists(st.sampled_from(NUMBERS), unique=True, max_size=7))
    store: list[Stored] = []
    for n, employee_no in enumerate(in_store):
        # Supervisors earlier in the list only: the store itself has no loop.
        supervisor = draw(st.none() | st.sampled_from(in_store[:n])) if n else None
        store.append(
            Stored(
                employee_no,
                draw(st.sampled_from(["Li", "Wang"])),
                draw(st.sampled_from(DEPARTMENTS[:2])),
                draw(st.none() | st.sampled_from(POSTS)),
                draw(st.sampled_from(ROLES)),
                draw(st.sampled_from(list(StaffStatus))),
                draw(st.sampled_from(LANGUAGES)),
                draw(st.booleans()),
                supervisor,
            )
        )
    store_posts = {
        (person.department, person.post): (
            draw(st.sampled_from(TYPES)),
            draw(st.sampled_from(DIFFICULTIES)),
        )
        for person in store
        if person.post is not None
    }
    file_posts = {
        (department, post): (draw(st.sampled_from(TYPES)), draw(st.sampled_from(DIFFICULTIES)))
        for department in DEPARTMENTS
        for post in POSTS
    }
    in_file = draw(st.lists(st.sampled_from(NUMBERS), unique=True, min_size=1, max_size=8))
    # Within the file, supervisors come later in this order, so the file has no loop of
    # its own; it may name them anywhere in the file, further down included.
    rank = draw(st.permutations(in_file))
    only_stored = [number for number in in_store if number not in in_file]
    rows: list[RosterRow] = []
    for n, employee_no in enumerate(in_file):
        options = rank[rank.index(employee_no) + 1 :] + only_stored
        department = draw(st.sampled_from(DEPARTMENTS))
        post = draw(st.sampled_from(POSTS))
        post_type, difficulty = file_posts[(department, post)]
        rows.append(
            RosterRow(
                row=n + 2,
                employee_no=employee_no,
                name=draw(st.sampled_from(["Li", "Zhao"])),
                department=department,
                post=post,
                post_type=post_type,
                difficulty=difficulty,
                supervisor_no=draw(st.none() | st.sampled_from(options)) if options else None,
                roles=draw(st.sampled_from(ROLES)),
                language=draw(st.sampled_from(LANGUAGES)),
                status=draw(st.sampled_from(list(StaffStatus))),
            )
        )
    return Case(tuple(store), store_posts, tuple(rows), draw(st.booleans()))


async def _set_up(db: Database, case: Case) -> int:
    """The case's store, in place of whatever was there; the last audit event's id before."""
    async with db.uow() as uow:
        session = uow.session
        for model in (OutboxMessage, RosterUpload, RosterStaging):
            await session.execute(delete(model))
        await session.execute(update(Staff).values(supervisor_id=None))
        for model in (Staff, Post, Department):
            await session.execute(delete(model))
        departments = {}
        for name in DEPARTMENTS[:2]:
            departments[name] = await uow.departments.add(Department(name=name))
        posts = {}
        for (department, name), (post_type, difficulty) in case.store_posts.items():
            posts[(department, name)] = await uow.posts.add(
                Post(
                    department_id=departments[department].id,
                    name=name,
                    post_type=post_type,
                    difficulty=difficulty,
                )
            )
        people: dict[str, Staff] = {}
        for n, person in enumerate(case.store):
            post = None if person.post is None else posts[(person.department, person.post)]
            supervisor = None if person.supervisor_no is None else people[person.supervisor_no]
            people[person.employee_no] = await uow.staff.add(
                Staff(
                    employee_no=person.employee_no,
                    name=person.name,
                    department_id=departments[person.department].id,
                    post_id=None if post is None else post.id,
                    supervisor_id=None if supervisor is None else supervisor.id,
                    roles=person.roles,
                    status=person.status,
                    language=person.language,
                    telegram_user_id=7000 + n if person.linked else None,
                )
            )
        await uow.commit()
        return int(await uow.session.scalar(select(func.max(AuditEvent.id))) or 0)


async def _store(db: Database, after_event: int) -> dict[str, Any]:
    """Everything an import may change, by names rather than ids."""
    async with db.uow() as uow:
        session = uow.session
        departments = dict((await session.execute(select(Department.id, Department.name))).all())
        posts = {
            post.id: (departments[post.department_id], post.name)
            for post in await session.scalars(select(Post))
        }
        people = list(await session.scalars(select(Staff)))
        number_of = {staff.id: staff.employee_no for staff in people}
        events = [
            (
                event.action,
                event.subject_type,
                None if event.subject_id is None else number_of[int(event.subject_id)],
                event.actor_staff_id,
                event.details,
            )
            for event in await session.scalars(
                select(AuditEvent).where(AuditEvent.id > after_event).order_by(AuditEvent.id)
            )
        ]
        return {
            "departments": sorted(departments.values()),
            "posts": sorted(
                (posts[post.id], post.post_type, post.difficulty)
                for post in await session.scalars(select(Post))
            ),
            "people": sorted(
                (
                    staff.employee_no,
                    staff.name,
                    departments[staff.department_id],
                    None if staff.post_id is None else posts[staff.post_id],
                    None if staff.supervisor_id is None else number_of[staff.supervisor_id],
                    int(staff.roles),
                    staff.status,
                    staff.language,
                    staff.telegram_user_id,
                )
                for staff in people
            ),
            # In the order of the transactions that wrote them: not a promise.
            "events": sorted(events, key=repr),
            "menus": sorted(
                (message.chat_id, message.kind, number_of[message.staff_id or 0])
                for message in await session.scalars(select(OutboxMessage))
            ),
            "staged": await session.scalar(select(func.count()).select_from(RosterStaging)),
        }


Outcome = tuple[ImportSummary | tuple[Any, ...], dict[str, Any]]


async def _import(db: Database, case: Case, importer: Any, *, dry_run: bool = False) -> Outcome:
    after_event = await _set_up(db, case)
    roster = ParsedRoster("roster.csv", case.rows)
    try:
        async with db.uow() as uow:
            summary = await importer(
                uow,
                roster,
                actor_staff_id=None,
                now=NOW,
                mark_missing_left=case.mark_missing_left,
                dry_run=dry_run,
            )
    except RosterRejected as rejection:
        return ("rejected", rejection.problems), await _store(db, after_event)
    return summary, await _store(db, after_event)


async def _same_as_before(url: str, case: Case) -> None:
    db = Database(url)
    try:
        expected = await _import(db, case, roster_reference.import_roster)
        # Worked out in a thread (a roster this small), and in a child process.
        got = await _import(db, case, import_roster)
        assert got == expected
        # And a person per transaction: supervisors written in a later one than their
        # people, and an import of a few people in many transactions.
        with (
            mock.patch.object(roster_plan, "CHILD_FROM", 0),
            mock.patch.object(roster_import, "APPLY_BATCH", 1),
        ):
            assert await _import(db, case, import_roster) == expected
        summary, store = got
        assert store["staged"] == 0
        # The preview: the same summary, and nothing written.
        before = await _store(db, await _set_up(db, case))
        previewed, untouched = await _import(db, case, import_roster, dry_run=True)
        if isinstance(summary, ImportSummary):
            assert previewed == replace(summary, dry_run=True)
        else:
            assert previewed == summary
        assert untouched == before
    finally:
        await db.dispose()


@examples(60)
@given(case=cases())
def test_batched_import_gives_what_the_one_pass_import_gave(url: str, case: Case) -> None:
    run(_same_as_before(url, case))
