"""Applying a checked roster to the store: all of it or none of it, without holding others up.

People are matched by employee number, so a roster can be imported again and
again: it updates, never duplicates, and leaves Telegram links alone.

A roster may hold 100,000 people. The import reads the store in batches of plain
rows and sends them to a child process that works the change out
(``assessment.roster_plan``; a thread, for a small import), so the event loop only
moves batches and other people's replies go on; then it stages the checked rows the
plan made in ``roster_staging`` (short transactions nobody else reads) and makes the
change in one short transaction of set-based statements
(``storage.repositories.roster``), so SQLite's single write lock is held for a moment,
not for the whole import.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
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

__all__ = ["ImportSummary", "MarkedLeft", "import_roster", "leaving", "mark_left"]


async def import_roster(
    uow: UnitOfWork,
    roster: ParsedRoster | PackedRoster,
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

    The store is read in batches of plain rows and compared with the file by a child
    process (the roster as a reader sent it, ``PackedRoster``, goes to it as it is; a
    small import, ``roster_plan.CHILD_FROM``, by a thread), so other people's updates go
    on meanwhile; this reads nothing but the store and
    writes nothing. A dry run ends
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
    roster: ParsedRoster | PackedRoster,
    *,
    actor_staff_id: int | None,
    now: datetime,
    mark_missing_left: bool,
    dry_run: bool,
    with_change: Callable[[UnitOfWork, ImportSummary], Awaitable[None]] | None,
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
                staged_at = time.monotonic()
                changed = await _change(
                    uow, import_id, plan, fingerprint, actor_staff_id, now, with_change
                )
                if changed:
                    await uow.commit()
                else:
                    await uow.rollback()
                log.info(
                    "roster import of %d rows: worked out in %.2f s, staged in %.2f s, "
                    "changed in one transaction of %.2f s",
                    rows,
                    worked_out - began,
                    staged_at - worked_out,
                    time.monotonic() - staged_at,
                )
            except Exception:
                # SQLite's write lock first, then the staged rows (else left to go by age).
                await uow.rollback()
                await _drop_staged(uow, import_id)
                raise
        await _drop_staged(uow, import_id)
        if changed:
            return plan.summary
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


# --- Applying: the plan worked out by a child, the rows staged, the change in one transaction.

# People read per query and sent to the planning child.
_READ_BATCH = 1000
# Rows dropped per short transaction of their own.
_STAGE_BATCH = STAGE_BATCH
# Staged rows older than this are an import's that died before its end.
_STALE = timedelta(days=1)
# Reads of the store before giving up, if someone else changes the people each time.
_ATTEMPTS = 3


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
    plan: Plan,
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
    before = await uow.roster.insert_staged_people(
        import_id,
        now,
        departments=[department_ids[name] for name in summary.departments_created],
        posts=[
            post_ids[(department_ids[department], post)]
            for department, post, _, _ in plan.posts_created
        ],
    )
    await uow.roster.update_staged_people(import_id, now, through=before)
    await uow.roster.add_supervisor_role(import_id, now)
    await uow.roster.mark_left([staff_id for staff_id, _ in plan.marked_left], now)
    await queue_menus(
        uow,
        [Staff(id=staff_id, telegram_user_id=user_id) for staff_id, user_id in plan.menus],
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
        Event(
            "staff.role_changed",
            "staff",
            plan.role_change_ids[employee_no],
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
