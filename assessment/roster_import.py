"""Applying a checked roster to the store: all of it or none of it, without holding others up.

People are matched by employee number, so a roster can be imported again and
again: it updates, never duplicates, and leaves Telegram links alone.

A roster may hold 100,000 people. The import reads the store in batches of plain
rows and works the change out in Python a slice at a time, giving the event loop
back between slices, so other people's replies go on; then it stages the checked
rows in ``roster_staging`` (short transactions nobody else reads) and makes the
change in one short transaction of set-based statements (``storage.repositories.roster``),
so SQLite's single write lock is held for a moment, not for the whole import.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from assessment import collector
from assessment.leaving import Kept, Leaving, Named, who_may_leave
from assessment.menus import queue_menus
from assessment.roster_problems import ProblemCode, RosterProblem, RosterRejected
from assessment.roster_rows import (
    ParsedRoster,
    RosterRow,
    loop_problems,
    role_names,
    walk_supervisors,
)
from storage.enums import Role, StaffStatus
from storage.models import Staff
from storage.repositories.audit import Event
from storage.repositories.roster import PersonRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

__all__ = ["ImportSummary", "MarkedLeft", "import_roster", "leaving", "mark_left"]


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import changed (or, in a dry run, would change), by employee number."""

    file_name: str
    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    missing: tuple[str, ...]
    marked_left: tuple[str, ...]
    departments_created: tuple[str, ...]
    posts_created: tuple[tuple[str, str], ...]
    posts_updated: tuple[tuple[str, str], ...]
    role_changes: Mapping[str, tuple[Role, Role]]
    dry_run: bool
    # The missing people marking them as left would have locked HR out of the bot.
    kept: tuple[Kept, ...] = ()


async def import_roster(
    uow: UnitOfWork,
    roster: ParsedRoster,
    *,
    actor_staff_id: int | None,
    now: datetime,
    mark_missing_left: bool = False,
    dry_run: bool = False,
    with_change: Callable[[UnitOfWork, ImportSummary], Awaitable[None]] | None = None,
) -> ImportSummary:
    """Create or update everyone on ``roster``, with departments and posts; commit unless dry.

    Anyone with direct reports in the file gets the supervisor role. People in
    the store but not in the file are reported as missing, and marked as left
    only when ``mark_missing_left``, as far as ``who_may_leave`` allows (the last
    HR member and administrator are kept). Linked people whose menu changes (roles,
    leaving, language) get it republished by the bot, queued with the change.

    The store is read in batches of plain rows and compared with the file a slice
    at a time, the event loop given back between them, so other people's updates
    go on meanwhile; this reads nothing but the store and writes nothing (new
    departments, posts and people get stand-in ids below zero). A dry run ends
    there, rolling the unit of work back: anything else done in it before is
    dropped too. An import then stages the checked rows (``roster_staging``, in
    short transactions of their own) and makes the whole change in one short
    transaction of set-based statements in the database, all of it or none of it:
    ``with_change`` (say, recording the upload as applied) runs last in it. If the
    people changed since they were read, the transaction is dropped and the import
    starts over. The unit of work must not have written anything before.

    Raises:
        RosterRejected: a supervisor is neither in the file nor in the store, or the
            file and the store together make a loop of supervisors; nothing is written.
    """
    # The store's people, the file's rows and the plan, by the 100,000, are freed by
    # reference counting when the import ends: no full pass of the collector walks them.
    with collector.full_passes_held():
        return await _import(
            uow,
            roster,
            actor_staff_id=actor_staff_id,
            now=now,
            mark_missing_left=mark_missing_left,
            dry_run=dry_run,
            with_change=with_change,
        )


async def _import(
    uow: UnitOfWork,
    roster: ParsedRoster,
    *,
    actor_staff_id: int | None,
    now: datetime,
    mark_missing_left: bool,
    dry_run: bool,
    with_change: Callable[[UnitOfWork, ImportSummary], Awaitable[None]] | None,
) -> ImportSummary:
    for _attempt in range(_ATTEMPTS):
        began = time.monotonic()
        fingerprint = await uow.roster.fingerprint()
        plan = await _work_out(
            uow, roster, actor_staff_id=actor_staff_id, mark_missing_left=mark_missing_left
        )
        worked_out = time.monotonic()
        if dry_run:
            summary = plan.summary(roster.filename, dry_run=True)
            await uow.rollback()
            return summary
        summary = plan.summary(roster.filename, dry_run=False)
        import_id = uuid.uuid4().hex
        try:
            await _stage(uow, import_id, roster.rows, plan.reports, now)
            staged = time.monotonic()
            changed = await _change(
                uow, import_id, plan, summary, fingerprint, actor_staff_id, now, with_change
            )
            if changed:
                await uow.commit()
            else:
                await uow.rollback()
            log.info(
                "roster import of %d rows: worked out in %.2f s, staged in %.2f s, "
                "changed in one transaction of %.2f s",
                len(roster.rows),
                worked_out - began,
                staged - worked_out,
                time.monotonic() - staged,
            )
        except Exception:
            # SQLite's write lock first, then the staged rows (else left to go by age).
            await uow.rollback()
            await _drop_staged(uow, import_id)
            raise
        await _drop_staged(uow, import_id)
        if changed:
            return summary
        log.info("the staff changed while a roster import read them: reading them again")
    raise RuntimeError(f"the staff changed during each of {_ATTEMPTS} roster imports")


@dataclass(frozen=True, slots=True)
class MarkedLeft:
    """What marking people as having left did: who was marked, who was kept and why."""

    marked: tuple[str, ...]
    kept: tuple[Kept, ...]


async def leaving(
    uow: UnitOfWork, employee_nos: Iterable[str], *, actor_staff_id: int | None
) -> tuple[tuple[Named, ...], tuple[Kept, ...]]:
    """Who marking these people as having left would mark, and who it would keep; no writes."""
    plan = await _plan(uow, employee_nos, actor_staff_id)
    return tuple(Named(staff.employee_no, staff.name) for staff in plan.leave), plan.kept


async def mark_left(
    uow: UnitOfWork, employee_nos: Iterable[str], *, actor_staff_id: int | None, now: datetime
) -> MarkedLeft:
    """Mark these people as having left (those who have not already); commits.

    ``who_may_leave`` decides: the actor and the last HR member or administrator
    on staff are kept. Those linked get their menu (down to /help) republished.
    """
    plan = await _plan(uow, employee_nos, actor_staff_id)
    marked = await _mark_left(uow, plan.leave, actor_staff_id, now)
    await queue_menus(uow, list(plan.leave), now=now)
    await uow.commit()
    return MarkedLeft(marked, plan.kept)


async def _plan(
    uow: UnitOfWork, employee_nos: Iterable[str], actor_staff_id: int | None
) -> Leaving:
    people = await uow.staff.by_employee_nos(employee_nos)
    holders = await uow.staff.on_staff_holding(Role.HR | Role.ADMIN)
    return who_may_leave(people, holders, actor_staff_id=actor_staff_id)


async def _mark_left(
    uow: UnitOfWork, people: Iterable[Staff], actor_staff_id: int | None, now: datetime
) -> tuple[str, ...]:
    marked = []
    for staff in people:
        if staff.status is StaffStatus.LEFT:
            continue
        staff.status = StaffStatus.LEFT
        await uow.audit.add(
            Event(
                "staff.marked_left",
                "staff",
                staff.id,
                at=now,
                actor_staff_id=actor_staff_id,
                details={"employee_no": staff.employee_no},
            )
        )
        marked.append(staff.employee_no)
    return tuple(marked)


# --- Planning: the store read in batches of plain rows, compared a slice at a time. ---

# People read per query, and rows of Python work between two turns of the event loop:
# a slice of a few hundred rows takes a few milliseconds, so updates waiting meanwhile
# are not held up for long.
_READ_BATCH = 1000
_SLICE = 500
# Rows staged per short transaction of their own.
_STAGE_BATCH = 1000
# Staged rows older than this are an import's that died before its end.
_STALE = timedelta(days=1)
# Reads of the store before giving up, if someone else changes the people each time.
_ATTEMPTS = 3

T = TypeVar("T")


async def _slices(items: Sequence[T]) -> AsyncIterator[Sequence[T]]:
    """``items`` a slice at a time, the event loop given back before each one after the first."""
    for start in range(0, len(items), _SLICE):
        if start:
            await asyncio.sleep(0)
        yield items[start : start + _SLICE]


# What an import may change about a person, to tell updated from unchanged:
# roles, name, department, post, status, language, supervisor.
_State = tuple[int, str, int, int | None, StaffStatus, str | None, int | None]


def _state(person: PersonRow) -> _State:
    return (
        int(person.roles),
        person.name,
        person.department_id,
        person.post_id,
        person.status,
        person.language,
        person.supervisor_id,
    )


@dataclass(slots=True)
class _Plan:
    """What an import changes, worked out from the store as read and the file."""

    people: dict[str, PersonRow]  # as read, in the store's order of employee numbers
    after: dict[str, _State]  # the people whose state changes, as it becomes
    reports: set[str]  # employee numbers named as someone's supervisor in the file
    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    missing: tuple[str, ...]
    marked_left: tuple[PersonRow, ...]
    kept: tuple[Kept, ...]
    departments_created: tuple[str, ...]
    # (department, post, post type, difficulty)
    posts_created: tuple[tuple[str, str, str, Decimal], ...]
    posts_updated: tuple[tuple[int, str, str, Decimal], ...]  # with the department's id
    posts_updated_names: tuple[tuple[str, str], ...]
    role_changes: dict[str, tuple[Role, Role]]
    menus: tuple[PersonRow, ...]  # linked people whose menu changes

    def summary(self, file_name: str, *, dry_run: bool) -> ImportSummary:
        return ImportSummary(
            file_name=file_name,
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            missing=self.missing,
            marked_left=tuple(person.employee_no for person in self.marked_left),
            departments_created=self.departments_created,
            posts_created=tuple(
                (department, post) for department, post, _, _ in self.posts_created
            ),
            posts_updated=self.posts_updated_names,
            role_changes=self.role_changes,
            dry_run=dry_run,
            kept=self.kept,
        )


async def _work_out(
    uow: UnitOfWork, roster: ParsedRoster, *, actor_staff_id: int | None, mark_missing_left: bool
) -> _Plan:
    """The whole import worked out, from the store read in batches; nothing is written."""
    rows = roster.rows
    people: dict[str, PersonRow] = {}
    last: str | None = None
    while True:
        batch = await uow.roster.people_after(last, _READ_BATCH)
        people.update((person.employee_no, person) for person in batch)
        if len(batch) < _READ_BATCH:
            break
        last = batch[-1].employee_no
    in_file: set[str] = set()
    reports: set[str] = set()
    async for part in _slices(rows):
        in_file.update(row.employee_no for row in part)
        reports.update(row.supervisor_no for row in part if row.supervisor_no)
    await _check_supervisors(rows, people, in_file)

    departments = {name: department_id for department_id, name in await uow.roster.departments()}
    posts = {(post.department_id, post.name): post for post in await uow.roster.posts()}
    departments_created: list[str] = []
    posts_created: list[tuple[str, str, str, Decimal]] = []
    posts_updated: list[tuple[int, str, str, Decimal]] = []
    posts_updated_names: list[tuple[str, str]] = []
    post_ids: dict[tuple[int, str], int] = {key: post.id for key, post in posts.items()}
    new_ids: dict[str, int] = {}
    async for part in _slices(rows):
        for row in part:
            department_id = departments.get(row.department)
            if department_id is None:
                # A stand-in id, below zero: the database gives the real one.
                department_id = departments[row.department] = -len(departments_created) - 1
                departments_created.append(row.department)
            key = (department_id, row.post)
            if key not in post_ids:
                post_ids[key] = -len(posts_created) - 1
                posts_created.append((row.department, row.post, row.post_type, row.difficulty))
            elif (post := posts.get(key)) is not None and (
                post.post_type != row.post_type or post.difficulty != row.difficulty
            ):
                # Rows naming one post agree (parse_roster checked): once a post.
                posts_updated.append((department_id, row.post, row.post_type, row.difficulty))
                posts_updated_names.append((row.department, row.post))
                del posts[key]
            if row.employee_no not in people:
                new_ids[row.employee_no] = -len(new_ids) - 1

    def id_of(employee_no: str) -> int:
        known = people.get(employee_no)
        return new_ids[employee_no] if known is None else known.id

    after: dict[str, _State] = {}
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    # Someone new: who becomes a supervisor or holder of rights, for who_may_leave.
    new_people: dict[str, tuple[str, Role, StaffStatus]] = {}
    async for part in _slices(rows):
        for row in part:
            roles = row.roles | (Role.SUPERVISOR if row.employee_no in reports else Role.NONE)
            known = people.get(row.employee_no)
            if known is None:
                created.append(row.employee_no)
                new_people[row.employee_no] = (row.name, roles, row.status)
                continue
            department_id = departments[row.department]
            state: _State = (
                int(roles),
                row.name,
                department_id,
                post_ids[(department_id, row.post)],
                row.status,
                # An empty language cell leaves the person's own choice (made in the bot) alone.
                known.language if row.language is None else row.language,
                id_of(row.supervisor_no) if row.supervisor_no else None,
            )
            if state != _state(known):
                after[row.employee_no] = state
                updated.append(row.employee_no)
            else:
                unchanged.append(row.employee_no)
    for employee_no in reports - in_file:
        # Someone kept from the store, not in this file, who now has reports in it.
        held, name, department_id, post_id, status, language, supervisor_id = _state(
            people[employee_no]
        )
        if not held & Role.SUPERVISOR:
            after[employee_no] = (
                held | int(Role.SUPERVISOR), name, department_id, post_id, status, language,
                supervisor_id,
            )  # fmt: skip

    missing: list[str] = []
    role_changes: dict[str, tuple[Role, Role]] = {}
    holders: list[Staff] = []
    guarded = Role.HR | Role.ADMIN
    async for some in _slices(list(people.values())):
        for person in some:
            state = after.get(person.employee_no) or _state(person)
            if person.employee_no not in in_file and person.status is not StaffStatus.LEFT:
                missing.append(person.employee_no)
            if state[0] != person.roles:
                role_changes[person.employee_no] = (person.roles, Role(state[0]))
            if state[0] & guarded and state[4] is not StaffStatus.LEFT:
                holders.append(_person(person, Role(state[0]), state[4], state[1]))
    missing.sort()
    async for some_new in _slices(list(new_people.items())):
        holders.extend(
            _person(
                None, roles, status, name, employee_no=employee_no, staff_id=new_ids[employee_no]
            )
            for employee_no, (name, roles, status) in some_new
            if roles & guarded and status is not StaffStatus.LEFT
        )

    marked_left: tuple[PersonRow, ...] = ()
    kept: tuple[Kept, ...] = ()
    if mark_missing_left:
        candidates = []
        for no in missing:
            state = after.get(no) or _state(people[no])
            candidates.append(_person(people[no], Role(state[0]), state[4]))
        leaving = who_may_leave(
            candidates,
            holders,
            actor_staff_id=actor_staff_id,
        )
        marked_left = tuple(people[staff.employee_no] for staff in leaving.leave)
        kept = leaving.kept
    left = {person.employee_no for person in marked_left}

    menus: list[PersonRow] = []
    linked = [person for person in people.values() if person.telegram_user_id is not None]
    async for some in _slices(linked):
        for person in some:
            # What a menu is built from (``menu_inputs``): roles, on staff, language.
            state = after.get(person.employee_no) or _state(person)
            status = StaffStatus.LEFT if person.employee_no in left else state[4]
            before = (int(person.roles), person.status is not StaffStatus.LEFT, person.language)
            if before != (state[0], status is not StaffStatus.LEFT, state[5]):
                menus.append(person)

    return _Plan(
        people=people,
        after=after,
        reports=reports,
        created=tuple(created),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        missing=tuple(missing),
        marked_left=marked_left,
        kept=kept,
        departments_created=tuple(departments_created),
        posts_created=tuple(posts_created),
        posts_updated=tuple(posts_updated),
        posts_updated_names=tuple(posts_updated_names),
        role_changes=role_changes,
        menus=tuple(menus),
    )


def _person(
    person: PersonRow | None,
    roles: Role,
    status: StaffStatus,
    name: str | None = None,
    *,
    employee_no: str | None = None,
    staff_id: int | None = None,
) -> Staff:
    """A person as ``who_may_leave`` weighs them (never added to the session)."""
    if person is None:
        return Staff(id=staff_id, employee_no=employee_no, name=name, roles=roles, status=status)
    return Staff(
        id=person.id,
        employee_no=person.employee_no,
        name=person.name if name is None else name,
        roles=roles,
        status=status,
        telegram_user_id=person.telegram_user_id,
    )


async def _check_supervisors(
    rows: Sequence[RosterRow], people: Mapping[str, PersonRow], in_file: set[str]
) -> None:
    problems: list[RosterProblem] = []
    async for part in _slices(rows):
        problems.extend(
            RosterProblem(
                row.row, "supervisor_no", ProblemCode.MISSING_SUPERVISOR, row.supervisor_no
            )
            for row in part
            if row.supervisor_no
            and row.supervisor_no not in in_file
            and row.supervisor_no not in people
        )
    # The file alone has no loop (parse_roster checked), but with the people it
    # leaves out, whose supervisors stay as stored, it may close one.
    known = list(people.values())
    number_of: dict[int, str] = {}
    async for some in _slices(known):
        number_of.update((person.id, person.employee_no) for person in some)
    supervisor_of: dict[str, str | None] = {}
    async for some in _slices(known):
        supervisor_of.update(
            (person.employee_no, number_of.get(person.supervisor_id or 0)) for person in some
        )
    async for part in _slices(rows):
        supervisor_of.update((row.employee_no, row.supervisor_no) for row in part)
    loops = await _loops(supervisor_of)
    if loops:
        # Only the loops' people, each loop from where the walk entered it: the same problems.
        chains = {
            employee_no: supervisor_of[employee_no] for loop in loops for employee_no in loop
        }
        row_of = {row.employee_no: row.row for row in rows if row.employee_no in chains}
        problems.extend(loop_problems(chains, row_of))
    if problems:
        raise RosterRejected(tuple(sorted(problems, key=lambda problem: problem.row or 0)))


async def _loops(supervisor_of: Mapping[str, str | None]) -> list[tuple[str, ...]]:
    """``supervisor_loops``, with the loop given back every few hundred people."""
    loops: list[tuple[str, ...]] = []
    for count, loop in enumerate(walk_supervisors(supervisor_of)):
        if count % _SLICE == _SLICE - 1:
            await asyncio.sleep(0)
        if loop is not None:
            loops.append(loop)
    return loops


# --- Applying: the rows staged, then the change in one short transaction. ---


async def _stage(
    uow: UnitOfWork, import_id: str, rows: Sequence[RosterRow], reports: set[str], now: datetime
) -> None:
    """Write the checked rows to ``roster_staging``, in short transactions nobody else reads."""
    for start in range(0, len(rows), _STAGE_BATCH):
        staged = [
            {
                "import_id": import_id,
                "employee_no": row.employee_no,
                "name": row.name,
                "department": row.department,
                "post": row.post,
                "roles": int(
                    row.roles | (Role.SUPERVISOR if row.employee_no in reports else Role.NONE)
                ),
                "status": row.status.value,
                "language": row.language,
                "supervisor_no": row.supervisor_no,
                "created_at": now,
            }
            for row in rows[start : start + _STAGE_BATCH]
        ]
        async with uow.another() as side:
            await side.roster.stage(staged)
            await side.commit()


async def _drop_staged(uow: UnitOfWork, import_id: str) -> None:
    """Delete an import's staged rows, a batch per short transaction."""
    while True:
        async with uow.another() as side:
            dropped = await side.roster.drop_staged(import_id, _STAGE_BATCH)
            await side.commit()
        if dropped < _STAGE_BATCH:
            return


async def _change(
    uow: UnitOfWork,
    import_id: str,
    plan: _Plan,
    summary: ImportSummary,
    fingerprint: tuple[int, ...],
    actor_staff_id: int | None,
    now: datetime,
    with_change: Callable[[UnitOfWork, ImportSummary], Awaitable[None]] | None,
) -> bool:
    """Make the planned change from the staged rows, uncommitted; False if the people
    changed since they were read (nothing is changed then)."""
    # A write first: on SQLite it takes the write lock, so what is read next stays so.
    await uow.roster.drop_staged_before(now - _STALE)
    if await uow.roster.fingerprint() != fingerprint:
        return False
    department_ids = await uow.roster.add_departments(plan.departments_created, now)
    await uow.roster.add_posts(
        [
            {
                "department_id": department_ids[department],
                "name": post,
                "post_type": post_type,
                "difficulty": difficulty,
            }
            for department, post, post_type, difficulty in plan.posts_created
        ],
        now,
    )
    await uow.roster.update_posts(
        [
            {
                "department_id": department_id,
                "name": post,
                "post_type": post_type,
                "difficulty": difficulty,
            }
            for department_id, post, post_type, difficulty in plan.posts_updated
        ]
    )
    before = await uow.roster.insert_staged_people(import_id, now)
    await uow.roster.update_staged_people(import_id, now, through=before)
    await uow.roster.add_supervisor_role(import_id, now)
    await uow.roster.mark_left([person.id for person in plan.marked_left], now)
    await queue_menus(
        uow,
        [Staff(id=person.id, telegram_user_id=person.telegram_user_id) for person in plan.menus],
        now=now,
    )
    events = [
        Event(
            "staff.marked_left",
            "staff",
            person.id,
            at=now,
            actor_staff_id=actor_staff_id,
            details={"employee_no": person.employee_no},
        )
        for person in plan.marked_left
    ]
    events.extend(
        Event(
            "staff.role_changed",
            "staff",
            plan.people[employee_no].id,
            at=now,
            actor_staff_id=actor_staff_id,
            details={"employee_no": employee_no, "old": role_names(old), "new": role_names(new)},
        )
        for employee_no, (old, new) in summary.role_changes.items()
    )
    events.append(_imported(summary, actor_staff_id, now))
    await uow.audit.add_many(events)
    if with_change is not None:
        await with_change(uow, summary)
    return True


def _imported(summary: ImportSummary, actor_staff_id: int | None, now: datetime) -> Event:
    return Event(
        "roster.imported",
        "roster",
        None,
        at=now,
        actor_staff_id=actor_staff_id,
        details={
            "file_name": summary.file_name,
            "created": len(summary.created),
            "updated": len(summary.updated),
            "unchanged": len(summary.unchanged),
            "missing": len(summary.missing),
            "marked_left": len(summary.marked_left),
            "departments_created": len(summary.departments_created),
            "posts_created": len(summary.posts_created),
            "posts_updated": len(summary.posts_updated),
            "role_changes": len(summary.role_changes),
        },
    )
