"""Applying a checked roster to the store, without holding others up.

People are matched by employee number, so a roster can be imported again and
again: it updates, never duplicates, and leaves Telegram links alone.

A roster may hold 100,000 people. The import reads the store in batches of plain
rows and sends them to a child process that works the change out
(``assessment.roster_plan``; a thread, for a small import), so the event loop only
moves batches and other people's replies go on; then it stages the checked rows the
plan made in ``roster_staging`` (short transactions nobody else reads) and writes the
change from them in set-based statements (``storage.repositories.roster``), a range of
``APPLY_BATCH`` people per short transaction, so SQLite's single write lock is never
held for long: in one transaction, adding 100,000 people held it 626 ms, and every quick
log waited that long.

All or nothing, then, holds up to the first transaction, which checks the plan against
the store and takes the import's claim (an upload's Apply); from its commit on, the
import goes forward: one that stops part-way (the store failing, the process killed) is
finished by importing the same file again, which finds what was written unchanged and
writes the rest, with the menus and audit events that go with it (each goes in the
transaction of the people it concerns). An upload whose Apply stopped is handed back to
HR to press Apply again (``roster_uploads``). Imports take turns (``RosterImportTurn``):
one writes at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from assessment import collector
from assessment.leaving import Kept, Leaving, Named, who_may_leave
from assessment.menus import queue_menus
from assessment.roster_plan import STAGE_BATCH, ImportSummary, Plan, Planning, in_child
from assessment.roster_rows import ParsedRoster, role_names
from assessment.roster_worker import PackedRoster
from storage.enums import Role, StaffStatus
from storage.models import Staff
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

__all__ = [
    "ImportStopped",
    "ImportSummary",
    "MarkedLeft",
    "import_roster",
    "leaving",
    "mark_left",
]


class ImportStopped(Exception):  # noqa: N818 - what happened, as the callers say it
    """An import stopped after its first transaction: part of the change is written, and
    importing the same file again finishes it. Raised from what stopped it."""

    def __init__(self, transactions: int) -> None:
        super().__init__(f"the roster import stopped after {transactions} transactions")
        self.transactions = transactions


async def import_roster(
    uow: UnitOfWork,
    roster: ParsedRoster | PackedRoster,
    *,
    actor_staff_id: int | None,
    now: datetime,
    mark_missing_left: bool = False,
    dry_run: bool = False,
    claim: Callable[[UnitOfWork], Awaitable[None]] | None = None,
    with_change: Callable[[UnitOfWork, ImportSummary], Awaitable[None]] | None = None,
    on_stop: Callable[[UnitOfWork], Awaitable[None]] | None = None,
) -> ImportSummary:
    """Create or update everyone on ``roster``, with departments and posts; commit unless dry.

    Anyone with direct reports in the file gets the supervisor role. People in
    the store but not in the file are reported as missing, and marked as left
    only when ``mark_missing_left``, as far as ``who_may_leave`` allows (the last
    HR member and administrator are kept). Linked people whose menu changes (roles,
    leaving, language) get it republished by the bot, queued with the change.

    The store is read in batches of plain rows and compared with the file by a child
    process (the roster as a reader sent it, ``PackedRoster``, goes to it as it is; a
    small import, ``roster_plan.CHILD_FROM``, by a thread), so other people's updates go
    on meanwhile; this reads nothing but the store and
    writes nothing. A dry run ends
    there, rolling the unit of work back: anything else done in it before is
    dropped too. An import then stages the checked rows (``roster_staging``, in
    short transactions of their own), waits for its turn, and writes the change in
    short transactions (see the module): ``claim`` (say, marking the upload as being
    applied) runs in the first, which writes nothing else if the people changed since
    they were read (the import then starts over); ``with_change`` (recording the upload
    as applied) runs in the last; ``on_stop`` (handing the upload back) in a transaction
    of its own if the import stops after the first, while it still holds its turn. The
    unit of work must not have written anything before; it is committed or rolled back
    on return.

    Raises:
        RosterRejected: a supervisor is neither in the file nor in the store, or the
            file and the store together make a loop of supervisors; nothing is written.
        ImportStopped: past its first transaction, from whatever stopped it: part of
            the change is written, and importing the file again finishes it.
        Exception: whatever stopped it before (nothing is written then).
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
            claim=claim,
            with_change=with_change,
            on_stop=on_stop,
        )


async def _import(
    uow: UnitOfWork,
    roster: ParsedRoster | PackedRoster,
    *,
    actor_staff_id: int | None,
    now: datetime,
    mark_missing_left: bool,
    dry_run: bool,
    claim: Callable[[UnitOfWork], Awaitable[None]] | None,
    with_change: Callable[[UnitOfWork, ImportSummary], Awaitable[None]] | None,
    on_stop: Callable[[UnitOfWork], Awaitable[None]] | None,
) -> ImportSummary:
    rows = roster.rows if isinstance(roster, PackedRoster) else len(roster.rows)
    for _attempt in range(_ATTEMPTS):
        began = time.monotonic()
        import_id = uuid.uuid4().hex
        # Its first figure is how many people the store has: a small import is worked
        # out in a thread, a large one in a child process.
        fingerprint = await uow.roster.fingerprint()
        async with Planning(
            roster,
            actor_staff_id=actor_staff_id,
            mark_missing_left=mark_missing_left,
            dry_run=dry_run,
            import_id=import_id,
            moment=uow.roster.staged_moment(now),
            in_child=in_child(rows, fingerprint[0]),
        ) as planning:
            last: str | None = None
            while True:
                batch = await uow.roster.people_after(last, _READ_BATCH)
                await planning.people(batch)
                if len(batch) < _READ_BATCH:
                    break
                last = batch[-1][1]
            plan = await planning.plan(await uow.roster.departments(), await uow.roster.posts())
            worked_out = time.monotonic()
            if dry_run:
                await uow.rollback()
                return plan.summary
            try:
                async for staged in planning.staged():
                    async with uow.another() as side:
                        await side.roster.stage(staged)
                        await side.commit()
                async with uow.another() as side:
                    await side.roster.staged_all()
                    await side.commit()
                staged_at = time.monotonic()
                writing = _Writing(
                    import_id, plan, fingerprint, actor_staff_id, now, claim, with_change, on_stop
                )
                changed = await _change(uow, writing)
                left_out = writing.left_out
                if changed:
                    log.info(
                        "roster import of %d rows: worked out in %.2f s, staged in %.2f s, "
                        "written in %d transactions in %.2f s",
                        rows,
                        worked_out - began,
                        staged_at - worked_out,
                        changed,
                        time.monotonic() - staged_at,
                    )
            except Exception:
                # SQLite's write lock first, then the staged rows (else left to go by age).
                await uow.rollback()
                await _tidy(_drop_staged(uow, import_id), "drop its staged rows")
                raise
        await _tidy(_drop_staged(uow, import_id), "drop its staged rows")
        if changed:
            if not left_out:
                return plan.summary
            out = set(left_out)
            return dataclasses.replace(
                plan.summary,
                updated=tuple(number for number in plan.summary.updated if number not in out),
                left_out=tuple(left_out),
            )
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


# --- Applying: the plan worked out by a child, the rows staged, the change in short
# transactions.

# People read per query and sent to the planning child.
_READ_BATCH = 1000
# Rows dropped per short transaction of their own.
_STAGE_BATCH = STAGE_BATCH
# Staged rows older than this are an import's that died before its end.
_STALE = timedelta(days=1)
# People written per short transaction (a range of staged rows): on SQLite each holds the
# one write lock every quick log waits for (20-30 ms here; 5,000 held it 35-50 ms, and
# run (d)'s p99 was 74-110 ms against 40-43 ms).
APPLY_BATCH = 2500
# An import's turn not beaten for this long (the store's clock) is a dead import's. Each
# batch beats as its first statement, a background job's write, which on SQLite waits
# while people's writes wait: far longer than a batch ever waits.
TURN_STALE = timedelta(minutes=2)
# How often an import waiting for another's turn looks again, in seconds.
_TURN_WAIT = 0.25
# Reads of the store before giving up, if someone else changes the people each time.
_ATTEMPTS = 3


async def _drop_staged(uow: UnitOfWork, import_id: str) -> None:
    """Delete an import's staged rows, a range of them per short transaction."""
    async with uow.another() as side:
        span = await side.roster.staged_span(import_id)
    if span is None:
        return
    after, through = span
    for start in range(after, through, _STAGE_BATCH):
        async with uow.another() as side:
            await side.roster.drop_staged(import_id, start, min(start + _STAGE_BATCH, through))
            await side.commit()


@dataclass(frozen=True, slots=True)
class _Writing:
    """An import's writing: what it writes, and what its caller runs with it."""

    import_id: str
    plan: Plan
    # What the plan read of the store (``RosterRepository.fingerprint``).
    fingerprint: tuple[int, ...]
    actor_staff_id: int | None
    now: datetime
    claim: Callable[[UnitOfWork], Awaitable[None]] | None
    with_change: Callable[[UnitOfWork, ImportSummary], Awaitable[None]] | None
    on_stop: Callable[[UnitOfWork], Awaitable[None]] | None
    # Filled in: the people it would have updated whom someone else changed meanwhile.
    left_out: list[str] = field(default_factory=list)


async def _change(uow: UnitOfWork, writing: _Writing) -> int:
    """Make the planned change from the staged rows, committed, in short transactions
    while the import holds the one import turn; how many transactions it took, 0 if the
    people changed since they were read (nothing is changed then)."""
    import_id = writing.import_id
    await _take_turn(uow, import_id)
    written = 0
    try:
        written = await _change_in_turn(uow, writing)
    except ImportStopped:
        if writing.on_stop is not None:
            await _tidy(_on_stop(uow, import_id, writing.on_stop), "hand its claim back")
        raise
    finally:
        # The last transaction gives the turn back with the change; else it is given here.
        if not written:
            await uow.rollback()
            await _tidy(_give_turn(uow, import_id), "give its turn back")
    return written


async def _on_stop(
    uow: UnitOfWork, import_id: str, on_stop: Callable[[UnitOfWork], Awaitable[None]]
) -> None:
    async with uow.another() as side:
        # Only while it still holds its turn: one taken for dead meanwhile (its turn taken
        # over) leaves whatever claim the next import made alone.
        if await side.roster.beat(import_id):
            await on_stop(side)
            await side.commit()


async def _give_turn(uow: UnitOfWork, import_id: str) -> None:
    async with uow.another() as side:
        await side.roster.give_turn(import_id)
        await side.commit()


async def _tidy(work: Awaitable[None], what: str) -> None:
    """Clean-up after an import, best effort: when the store is what failed, it fails too,
    and what the import did (or why it stopped) must still be said. What is left goes by
    age: staged rows after a day, a turn once it is not beaten, a claim by the job that
    hands stopped uploads back."""
    try:
        await work
    except Exception:
        log.warning("a roster import could not %s; it goes by age", what, exc_info=True)


async def _take_turn(uow: UnitOfWork, import_id: str) -> None:
    # Another import writing now ends within seconds (or dies, and its turn goes stale).
    while True:
        async with uow.another() as side:
            taken = await side.roster.take_turn(import_id, stale_after=TURN_STALE)
            await side.commit()
        if taken:
            return
        await asyncio.sleep(_TURN_WAIT)


async def _change_in_turn(uow: UnitOfWork, writing: _Writing) -> int:
    import_id, plan, now = writing.import_id, writing.plan, writing.now
    actor_staff_id, left_out = writing.actor_staff_id, writing.left_out
    # The first transaction: checked against what the plan read, then the departments and
    # posts; all or nothing. From its commit on, the import goes forward batch by batch:
    # stopped part-way, importing the same file again finishes it (an import matches
    # people by employee number, so what was written is found unchanged).
    await _still_ours(uow, import_id)
    await uow.roster.drop_staged_before(now - _STALE)
    if await uow.roster.fingerprint() != writing.fingerprint:
        return 0
    if writing.claim is not None:
        await writing.claim(uow)
    summary = plan.summary
    department_ids = await uow.roster.add_departments(summary.departments_created, now)
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
    post_ids = {(post.department_id, post.name): post.id for post in await uow.roster.posts()}
    departments = [department_ids[name] for name in summary.departments_created]
    posts = [
        post_ids[(department_ids[department], post)]
        for department, post, _, _ in plan.posts_created
    ]
    before = await uow.roster.highest_staff_id()
    span = await uow.roster.staged_span(import_id)
    await uow.commit()
    transactions = 1
    ranges = [] if span is None else _ranges(*span)
    try:
        # The new people first, then everyone's differences (supervisors named further down
        # the file are in by then), each range its own transaction: a background job's, so
        # on SQLite every quick log waiting goes first.
        for after, through in ranges:
            async with uow.another(background=True) as batch:
                await _still_ours(batch, import_id)
                await batch.roster.insert_staged_people(
                    import_id,
                    now,
                    departments=departments,
                    posts=posts,
                    before=before,
                    after=after,
                    through=through,
                )
                await batch.commit()
            transactions += 1
        menus = dict(plan.menus)
        role_changes = dict(summary.role_changes)
        updating = set(summary.updated)
        for after, through in ranges:
            async with uow.another(background=True) as batch:
                await _still_ours(batch, import_id)
                written = await batch.roster.update_staged_people(
                    import_id, now, after=after, through=through
                )
                # What goes with these people's change goes in its transaction: an import
                # finishing a stopped one finds them unchanged, and would not queue it again.
                # Someone changed by another meanwhile was not written: nothing goes with it.
                ours = set(written)
                people = await batch.roster.staged_people(import_id, after, through)
                left_out.extend(
                    employee_no
                    for staff_id, employee_no in people
                    if employee_no in updating and staff_id not in ours
                )
                menus_now = [
                    Staff(id=staff_id, telegram_user_id=menus.pop(staff_id))
                    for staff_id, _ in people
                    if staff_id in menus
                ]
                events_now = [
                    (staff_id, employee_no, role_changes.pop(employee_no))
                    for staff_id, employee_no in people
                    if employee_no in role_changes
                ]
                await queue_menus(batch, [m for m in menus_now if m.id in ours], now=now)
                await batch.audit.add_many(
                    [
                        _role_changed(plan, employee_no, change, actor_staff_id, now)
                        for staff_id, employee_no, change in events_now
                        if staff_id in ours
                    ]
                )
                await batch.commit()
            transactions += 1

        if left_out:
            log.warning(
                "a roster import left %d people as they were: someone else changed them "
                "while it wrote; importing the file again brings them in line",
                len(left_out),
            )
        # The last transaction: who becomes a supervisor without being in the file, who
        # leaves, the import's record, and the turn given back.
        async with uow.another(background=True) as last:
            await _still_ours(last, import_id)
            await last.roster.add_supervisor_role(import_id, now)
            await last.roster.mark_left([staff_id for staff_id, _ in plan.marked_left], now)
            await queue_menus(
                last,
                [
                    Staff(id=staff_id, telegram_user_id=user_id)
                    for staff_id, user_id in menus.items()
                ],
                now=now,
            )
            events = [
                Event(
                    "staff.marked_left",
                    "staff",
                    staff_id,
                    at=now,
                    actor_staff_id=actor_staff_id,
                    details={"employee_no": employee_no},
                )
                for staff_id, employee_no in plan.marked_left
            ]
            events.extend(
                _role_changed(plan, employee_no, change, actor_staff_id, now)
                for employee_no, change in role_changes.items()
            )
            events.append(_imported(summary, actor_staff_id, now))
            await last.audit.add_many(events)
            if writing.with_change is not None:
                await writing.with_change(last, summary)
            await last.roster.give_turn(import_id)
            await last.commit()
        return transactions + 1
    except Exception as error:
        raise ImportStopped(transactions) from error


def _ranges(after: int, through: int) -> list[tuple[int, int]]:
    """Staged ids (after, through] in ranges of ``APPLY_BATCH``."""
    return [
        (start, min(start + APPLY_BATCH, through)) for start in range(after, through, APPLY_BATCH)
    ]


async def _still_ours(uow: UnitOfWork, import_id: str) -> None:
    # An import so slow that its turn went stale was taken for dead: it stops here.
    if not await uow.roster.beat(import_id):
        raise RuntimeError("a roster import lost its turn (it was taken for dead)")


def _role_changed(
    plan: Plan,
    employee_no: str,
    change: tuple[Role, Role],
    actor_staff_id: int | None,
    now: datetime,
) -> Event:
    old, new = change
    return Event(
        "staff.role_changed",
        "staff",
        plan.role_change_ids[employee_no],
        at=now,
        actor_staff_id=actor_staff_id,
        details={"employee_no": employee_no, "old": role_names(old), "new": role_names(new)},
    )


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
