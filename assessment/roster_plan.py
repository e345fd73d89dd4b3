"""A roster import's plan, worked out in a child process: the event loop only moves batches.

Comparing 100,000 rows of a file with 100,000 people of the store takes seconds of
CPU; on the event loop, even a slice at a time, it queued everyone else's updates
behind it. So the comparison, the problems, the summary and the rows to stage are
all worked out by a child process (forked from the roster readers' forkserver,
within their memory cap): the loop sends it the roster (still pickled as its reader
sent it) and the store's people as plain tuples, a batch per query, and gets back
the plan, then the staged rows a batch at a time.

A small import (file rows and stored people together fewer than ``CHILD_FROM``: every
office of a few hundred) is worked out the same way in a thread of the loop's
executor instead, for milliseconds, rather than waiting up to a second or more for
the forkserver and a child to start (the first import after the bot starts). Typical
use, by the import::

    async with Planning(roster, dry_run=False, in_child=..., ...) as planning:
        await planning.people(batch)  # each batch of ``RosterRepository.people_after``
        plan = await planning.plan(departments, posts)  # or RosterRejected
        async for staged in planning.staged():
            ...  # roster_staging rows, a batch at a time
"""

from __future__ import annotations

import asyncio
import gc
import pickle
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from assessment import roster_worker
from assessment.leaving import Kept, who_may_leave
from assessment.roster_problems import ProblemCode, RosterProblem, RosterRejected, rejected
from assessment.roster_rows import ParsedRoster, RosterRow, loop_problems, walk_supervisors
from storage.enums import Role, StaffStatus
from storage.models import Staff
from storage.repositories.roster import PersonRow, PostRow

__all__ = ["ImportSummary", "Plan", "Planning"]

# Rows staged per short transaction of their own.
STAGE_BATCH = 1000
# An import whose file rows and stored people together reach this many is worked out in
# a child process; a smaller one (some milliseconds of CPU) in a thread.
CHILD_FROM = 2000
# A planning child still running this long on the wall clock is killed (100,000 rows
# take a few seconds of CPU; on a busy machine a child gets a share of a core).
_WALL_SECONDS = 120.0


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
    # People the import would have updated but left as they were: someone else changed
    # them while it wrote (not in ``updated``); the file again brings them in line.
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """What an import changes, as the change's set-based statements need it."""

    summary: ImportSummary
    # (department, post, post type, difficulty)
    posts_created: tuple[tuple[str, str, str, Decimal], ...]
    posts_updated: tuple[tuple[int, str, str, Decimal], ...]  # with the department's id
    marked_left: tuple[tuple[int, str], ...]  # (staff id, employee number)
    menus: tuple[tuple[int, int | None], ...]  # linked people whose menu changes: (id, user id)
    role_change_ids: Mapping[str, int]  # staff id by employee number, of the role changes


# --- The parent's side: batches to the child, the plan and the staged rows back. ---


def in_child(rows: int, stored: int) -> bool:
    """Whether an import of ``rows`` file rows against ``stored`` people is worked out in a
    child process (else in a thread)."""
    return rows + stored >= CHILD_FROM


class Planning:
    """One import's plan worked out by a child process (or, unless ``in_child``, a
    thread); an async context manager."""

    def __init__(
        self,
        roster: ParsedRoster | roster_worker.PackedRoster,
        *,
        actor_staff_id: int | None,
        mark_missing_left: bool,
        dry_run: bool,
        import_id: str,
        moment: Any,
        in_child: bool = True,
    ) -> None:
        self._roster = roster
        self._settings = (actor_staff_id, mark_missing_left, dry_run, import_id, moment)
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._in_child = in_child
        # In a thread: the store's people as sent, then what the plan stages.
        self._people: list[Sequence[tuple[Any, ...]]] = []
        self._staged: Iterator[list[tuple[Any, ...]]] | None = None

    async def __aenter__(self) -> Planning:
        if not self._in_child:
            return self
        roster = self._roster
        if isinstance(roster, roster_worker.PackedRoster):
            blob = roster.blob
        else:
            blob = pickle.dumps(roster_worker.packed(roster), protocol=pickle.HIGHEST_PROTOCOL)
        context = roster_worker.worker_context()
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(  # type: ignore[attr-defined]
            target=_work,
            args=(theirs, blob, self._settings, roster_worker.MEMORY_ALLOWANCE),
            name="roster-planner",
            daemon=True,
        )
        self._process, self._connection = process, ours
        try:
            # Starting sends the roster to the forkserver: not on the loop.
            await asyncio.to_thread(process.start)
        finally:
            theirs.close()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            self._connection.close()
        process = self._process
        if process is not None and process.pid is not None:
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join)

    async def people(self, batch: Sequence[tuple[Any, ...]]) -> None:
        """Send a batch of the store's people (``PersonRow``'s fields, in order)."""
        if not self._in_child:
            self._people.append(batch)
            return
        await self._send(("people", batch))

    async def plan(self, departments: Sequence[tuple[int, str]], posts: Sequence[PostRow]) -> Plan:
        """The plan, once every person was sent; with the store's departments and posts.

        Raises:
            RosterRejected: a supervisor is neither in the file nor in the store, the file
                and the store together make a loop of supervisors, or the child overran.
        """
        if not self._in_child:
            return await asyncio.to_thread(self._planned_here, departments, posts)
        await self._send(("rest", list(departments), list(posts)))
        kind, value = await self._receive()
        if kind == "rejected":
            raise RosterRejected(value)
        assert isinstance(value, Plan)
        return value

    async def staged(self) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The ``roster_staging`` rows of an import (not a dry run), a batch at a time
        (``RosterRepository.stage`` takes them)."""
        if not self._in_child:
            for batch in self._staged or ():
                yield batch
            return
        while True:
            kind, value = await self._receive()
            if kind == "end":
                return
            yield value

    def _planned_here(
        self, departments: Sequence[tuple[int, str]], posts: Sequence[PostRow]
    ) -> Plan:
        """The child's work, in a thread: the plan, and the rows it stages kept for
        ``staged``."""
        actor_staff_id, mark_missing_left, dry_run, import_id, moment = self._settings
        roster = self._roster
        if isinstance(roster, roster_worker.PackedRoster):
            # The blob comes from this package's own reader child.
            roster = roster_worker.unpacked(pickle.loads(roster.blob))  # noqa: S301
        people = {fields[1]: PersonRow(*fields) for batch in self._people for fields in batch}
        self._people = []
        plan, reports, ids = work_out(
            roster,
            people,
            departments,
            posts,
            actor_staff_id=actor_staff_id,
            mark_missing_left=mark_missing_left,
            dry_run=dry_run,
        )
        if not dry_run:
            self._staged = staged_rows(roster.rows, reports, ids, import_id, moment)
        return plan

    async def _send(self, message: object) -> None:
        assert self._connection is not None
        await asyncio.to_thread(self._connection.send, message)

    async def _receive(self) -> tuple[str, Any]:
        assert self._connection is not None
        return await asyncio.to_thread(self._received, self._connection)

    @staticmethod
    def _received(connection: Connection) -> tuple[str, Any]:
        # In a thread of the loop's executor: it waits on the child's pipe.
        if not connection.poll(_WALL_SECONDS):
            raise rejected(ProblemCode.TOO_SLOW, detail=f"{_WALL_SECONDS:g}")
        try:
            message: tuple[str, Any] = connection.recv()
        except EOFError:
            # The child died: its memory cap, the kernel's memory killer, or a crash in C.
            memory = roster_worker.MEMORY_ALLOWANCE // (1024 * 1024)
            raise rejected(ProblemCode.OUT_OF_MEMORY, detail=str(memory)) from None
        return message


# --- The child's side. ---


def _work(
    connection: Connection,
    blob: bytes,
    settings: tuple[int | None, bool, bool, str, Any],
    memory: int,
) -> None:
    """The child: receive the store's people, send back the plan and the staged rows."""
    # Short-lived, and what it builds has no cycles: the collector would only walk it.
    gc.disable()
    roster_worker.lower_priority()
    roster_worker.cap_memory(memory)
    actor_staff_id, mark_missing_left, dry_run, import_id, moment = settings
    started = time.monotonic()
    try:
        # The blob comes from this package's own reader child, or from the parent.
        roster = roster_worker.unpacked(pickle.loads(blob))  # noqa: S301
        del blob
        people: dict[str, PersonRow] = {}
        while True:
            message = connection.recv()
            if message[0] == "people":
                people.update((fields[1], PersonRow(*fields)) for fields in message[1])
                continue
            _, departments, posts = message
            break
        try:
            plan, reports, ids = work_out(
                roster,
                people,
                departments,
                posts,
                actor_staff_id=actor_staff_id,
                mark_missing_left=mark_missing_left,
                dry_run=dry_run,
            )
        except RosterRejected as rejection:
            connection.send(("rejected", rejection.problems))
            return
        del people
        connection.send(("planned", plan))
        if dry_run:
            return
        for batch in staged_rows(roster.rows, reports, ids, import_id, moment):
            connection.send(("staged", batch))
        connection.send(("end", time.monotonic() - started))
    except MemoryError:
        problem = RosterProblem(None, None, ProblemCode.OUT_OF_MEMORY, detail=str(memory >> 20))
        connection.send(("rejected", (problem,)))
    finally:
        connection.close()


def staged_rows(
    rows: Sequence[RosterRow],
    reports: set[str],
    ids: Sequence[RowIds],
    import_id: str,
    moment: Any,
) -> Iterator[list[tuple[Any, ...]]]:
    """The checked rows as ``roster_staging`` rows (``STAGED_FIELDS``, created at
    ``moment`` as the driver takes it), with the ids ``work_out`` gave each,
    ``STAGE_BATCH`` at a time."""
    for start in range(0, len(rows), STAGE_BATCH):
        yield [
            (
                import_id,
                row.employee_no,
                row.name,
                row.department,
                row.post,
                int(row.roles | (Role.SUPERVISOR if row.employee_no in reports else Role.NONE)),
                row.status.value,
                row.language,
                row.supervisor_no,
                moment,
                *row_ids,
            )
            for row, row_ids in zip(
                rows[start : start + STAGE_BATCH], ids[start : start + STAGE_BATCH], strict=True
            )
        ]


# A row's ids as the plan worked them out: the person's, department's, post's and
# supervisor's (None: no supervisor), stand-ins below zero for what is new; and the
# person's version as read (None: someone new).
RowIds = tuple[int, int, int, int | None, int | None]
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


def work_out(
    roster: ParsedRoster,
    people: Mapping[str, PersonRow],
    departments_read: Sequence[tuple[int, str]],
    posts_read: Sequence[PostRow],
    *,
    actor_staff_id: int | None,
    mark_missing_left: bool,
    dry_run: bool,
) -> tuple[Plan, set[str], list[RowIds]]:
    """The whole import worked out from the store as read (``people`` in the store's order
    of employee numbers); with the employee numbers the file names as supervisors, and
    each row's ids in the file's order.

    New departments, posts and people get stand-in ids below zero: -1, -2, ... in the
    order the plan creates them (``departments_created``, ``posts_created``, and the new
    people in the file's order).

    Raises:
        RosterRejected: as ``import_roster``.
    """
    rows = roster.rows
    in_file = {row.employee_no for row in rows}
    reports = {row.supervisor_no for row in rows if row.supervisor_no}
    _check_supervisors(rows, people, in_file)

    departments = {name: department_id for department_id, name in departments_read}
    posts = {(post.department_id, post.name): post for post in posts_read}
    departments_created: list[str] = []
    posts_created: list[tuple[str, str, str, Decimal]] = []
    posts_updated: list[tuple[int, str, str, Decimal]] = []
    posts_updated_names: list[tuple[str, str]] = []
    post_ids: dict[tuple[int, str], int] = {key: post.id for key, post in posts.items()}
    new_ids: dict[str, int] = {}
    for row in rows:
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
    ids: list[RowIds] = []
    # Someone new: who becomes a supervisor or holder of rights, for who_may_leave.
    new_people: dict[str, tuple[str, Role, StaffStatus]] = {}
    for row in rows:
        roles = row.roles | (Role.SUPERVISOR if row.employee_no in reports else Role.NONE)
        department_id = departments[row.department]
        row_post_id = post_ids[(department_id, row.post)]
        supervisor_id = id_of(row.supervisor_no) if row.supervisor_no else None
        known = people.get(row.employee_no)
        version = None if known is None else known.version
        ids.append((id_of(row.employee_no), department_id, row_post_id, supervisor_id, version))
        if known is None:
            created.append(row.employee_no)
            new_people[row.employee_no] = (row.name, roles, row.status)
            continue
        state: _State = (
            int(roles),
            row.name,
            department_id,
            row_post_id,
            row.status,
            # An empty language cell leaves the person's own choice (made in the bot) alone.
            known.language if row.language is None else row.language,
            supervisor_id,
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
    for person in people.values():
        state = after.get(person.employee_no) or _state(person)
        if person.employee_no not in in_file and person.status is not StaffStatus.LEFT:
            missing.append(person.employee_no)
        if state[0] != person.roles:
            role_changes[person.employee_no] = (person.roles, Role(state[0]))
        if state[0] & guarded and state[4] is not StaffStatus.LEFT:
            holders.append(_person(person, Role(state[0]), state[4], state[1]))
    missing.sort()
    holders.extend(
        _person(None, roles, status, name, employee_no=employee_no, staff_id=new_ids[employee_no])
        for employee_no, (name, roles, status) in new_people.items()
        if roles & guarded and status is not StaffStatus.LEFT
    )

    marked_left: tuple[PersonRow, ...] = ()
    kept: tuple[Kept, ...] = ()
    if mark_missing_left:
        candidates = []
        for no in missing:
            state = after.get(no) or _state(people[no])
            candidates.append(_person(people[no], Role(state[0]), state[4]))
        leaving = who_may_leave(candidates, holders, actor_staff_id=actor_staff_id)
        marked_left = tuple(people[staff.employee_no] for staff in leaving.leave)
        kept = leaving.kept
    left = {person.employee_no for person in marked_left}

    menus: list[tuple[int, int | None]] = []
    for person in people.values():
        if person.telegram_user_id is None:
            continue
        # What a menu is built from (``menu_inputs``): roles, on staff, language.
        state = after.get(person.employee_no) or _state(person)
        status = StaffStatus.LEFT if person.employee_no in left else state[4]
        before = (int(person.roles), person.status is not StaffStatus.LEFT, person.language)
        if before != (state[0], status is not StaffStatus.LEFT, state[5]):
            menus.append((person.id, person.telegram_user_id))

    summary = ImportSummary(
        file_name=roster.filename,
        created=tuple(created),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        missing=tuple(missing),
        marked_left=tuple(person.employee_no for person in marked_left),
        departments_created=tuple(departments_created),
        posts_created=tuple((department, post) for department, post, _, _ in posts_created),
        posts_updated=tuple(posts_updated_names),
        role_changes=role_changes,
        dry_run=dry_run,
        kept=kept,
    )
    plan = Plan(
        summary=summary,
        posts_created=tuple(posts_created),
        posts_updated=tuple(posts_updated),
        marked_left=tuple((person.id, person.employee_no) for person in marked_left),
        menus=tuple(menus),
        role_change_ids={employee_no: people[employee_no].id for employee_no in role_changes},
    )
    return plan, reports, ids


def _person(
    person: PersonRow | None,
    roles: Role,
    status: StaffStatus,
    name: str | None = None,
    *,
    employee_no: str | None = None,
    staff_id: int | None = None,
) -> Staff:
    """A person as ``who_may_leave`` weighs them (never added to a session)."""
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


def _check_supervisors(
    rows: Sequence[RosterRow], people: Mapping[str, PersonRow], in_file: set[str]
) -> None:
    problems: list[RosterProblem] = [
        RosterProblem(row.row, "supervisor_no", ProblemCode.MISSING_SUPERVISOR, row.supervisor_no)
        for row in rows
        if row.supervisor_no
        and row.supervisor_no not in in_file
        and row.supervisor_no not in people
    ]
    # The file alone has no loop (parse_roster checked), but with the people it
    # leaves out, whose supervisors stay as stored, it may close one.
    number_of = {person.id: person.employee_no for person in people.values()}
    supervisor_of: dict[str, str | None] = {
        person.employee_no: number_of.get(person.supervisor_id or 0) for person in people.values()
    }
    supervisor_of.update((row.employee_no, row.supervisor_no) for row in rows)
    loops = [loop for loop in walk_supervisors(supervisor_of) if loop is not None]
    if loops:
        # Only the loops' people, each loop from where the walk entered it: the same problems.
        chains = {
            employee_no: supervisor_of[employee_no] for loop in loops for employee_no in loop
        }
        row_of = {row.employee_no: row.row for row in rows if row.employee_no in chains}
        problems.extend(loop_problems(chains, row_of))
    if problems:
        raise RosterRejected(tuple(sorted(problems, key=lambda problem: problem.row or 0)))
