"""The roster import as it was before it went in batches: every person an ORM object, one pass.

Kept for the parity property (``test_roster_parity.py``) only: the rules as they
stood, to check the batched import against on generated rosters and stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from assessment.leaving import Kept, who_may_leave
from assessment.menus import menu_inputs, queue_menus
from assessment.roster_import import ImportSummary
from assessment.roster_problems import ProblemCode, RosterProblem, RosterRejected
from assessment.roster_rows import ParsedRoster, RosterRow, loop_problems, role_names
from storage.enums import Role, StaffStatus
from storage.models import Department, Post, Staff
from storage.repositories.audit import Event
from storage.uow import UnitOfWork

__all__ = ["import_roster"]


async def import_roster(
    uow: UnitOfWork,
    roster: ParsedRoster,
    *,
    actor_staff_id: int | None,
    now: datetime,
    mark_missing_left: bool = False,
    dry_run: bool = False,
) -> ImportSummary:
    """Create or update everyone on ``roster``, with departments and posts; commit unless dry.

    Anyone with direct reports in the file gets the supervisor role. People in
    the store but not in the file are reported as missing, and marked as left
    only when ``mark_missing_left``, as far as ``who_may_leave`` allows (the last
    HR member and administrator are kept). Linked people whose menu changes (roles,
    leaving, language) get it republished by the bot, queued with the change.
    A dry run does everything but commit, then rolls the unit of work back:
    anything else done in it before is dropped too. Unless it marks the missing as
    left, a dry run writes nothing at all: new departments, posts and people get
    stand-in ids (negative) instead of being inserted, and nothing is flushed, so a
    preview of 100,000 new people takes no write lock (SQLite has one for everyone).

    Raises:
        RosterRejected: a supervisor is neither in the file nor in the store, or the
            file and the store together make a loop of supervisors; nothing is written.
    """
    people = {staff.employee_no: staff for staff in await uow.staff.all()}
    _check_supervisors(roster.rows, people)
    departments = {department.name: department for department in await uow.departments.all()}
    posts = {(post.department_id, post.name): post for post in await uow.posts.all()}
    # Read before anything changes: a dry run must not flush its changes to a later query.
    stand_in = dry_run and not mark_missing_left
    departments_created = await _add_departments(uow, roster.rows, departments, stand_in)
    posts_created, posts_updated = await _sync_posts(
        uow, roster.rows, departments, posts, stand_in
    )

    before = {no: _state(staff) for no, staff in people.items()}
    roles_before = {no: staff.roles for no, staff in people.items()}
    menus_before = {
        no: menu_inputs(staff)
        for no, staff in people.items()
        if staff.telegram_user_id is not None
    }
    in_file = {row.employee_no for row in roster.rows}
    if stand_in:
        with uow.session.no_autoflush:
            await _sync_people(uow, roster.rows, people, departments, posts, stand_in)
    else:
        await _sync_people(uow, roster.rows, people, departments, posts, stand_in)

    changed = {no for no, state in before.items() if _state(people[no]) != state}
    missing = tuple(
        no
        for no in sorted(before)
        if no not in in_file and people[no].status is not StaffStatus.LEFT
    )
    marked_left: tuple[str, ...] = ()
    kept: tuple[Kept, ...] = ()
    if mark_missing_left:
        leaving = who_may_leave(
            [people[no] for no in missing], people.values(), actor_staff_id=actor_staff_id
        )
        marked_left = await _mark_left(uow, leaving.leave, actor_staff_id, now)
        kept = leaving.kept

    summary = ImportSummary(
        file_name=roster.filename,
        created=tuple(row.employee_no for row in roster.rows if row.employee_no not in before),
        updated=tuple(row.employee_no for row in roster.rows if row.employee_no in changed),
        unchanged=tuple(
            row.employee_no
            for row in roster.rows
            if row.employee_no in before and row.employee_no not in changed
        ),
        missing=missing,
        marked_left=marked_left,
        departments_created=departments_created,
        posts_created=posts_created,
        posts_updated=posts_updated,
        role_changes={
            no: (roles, people[no].roles)
            for no, roles in roles_before.items()
            if people[no].roles != roles
        },
        dry_run=dry_run,
        kept=kept,
    )
    if dry_run:
        await uow.rollback()
        return summary
    await queue_menus(
        uow,
        [people[no] for no, inputs in menus_before.items() if menu_inputs(people[no]) != inputs],
        now=now,
    )
    await _audit(uow, summary, people, actor_staff_id, now)
    await uow.commit()
    return summary


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


def _check_supervisors(rows: tuple[RosterRow, ...], people: Mapping[str, Staff]) -> None:
    in_file = {row.employee_no for row in rows}
    problems = [
        RosterProblem(row.row, "supervisor_no", ProblemCode.MISSING_SUPERVISOR, row.supervisor_no)
        for row in rows
        if row.supervisor_no
        and row.supervisor_no not in in_file
        and row.supervisor_no not in people
    ]
    # The file alone has no loop (parse_roster checked), but with the people it
    # leaves out, whose supervisors stay as stored, it may close one.
    number_of = {staff.id: staff.employee_no for staff in people.values()}
    supervisor_of: dict[str, str | None] = {
        staff.employee_no: number_of.get(staff.supervisor_id or 0) for staff in people.values()
    }
    supervisor_of.update({row.employee_no: row.supervisor_no for row in rows})
    problems.extend(loop_problems(supervisor_of, {row.employee_no: row.row for row in rows}))
    if problems:
        raise RosterRejected(tuple(sorted(problems, key=lambda problem: problem.row or 0)))


async def _add_departments(
    uow: UnitOfWork,
    rows: tuple[RosterRow, ...],
    departments: dict[str, Department],
    stand_in: bool,
) -> tuple[str, ...]:
    names = [name for name in dict.fromkeys(row.department for row in rows)]
    added = [Department(name=name) for name in names if name not in departments]
    if stand_in:
        for number, department in enumerate(added, start=1):
            department.id = -number
    else:
        await uow.departments.add_all(added)
    departments.update((department.name, department) for department in added)
    return tuple(department.name for department in added)


async def _sync_posts(
    uow: UnitOfWork,
    rows: tuple[RosterRow, ...],
    departments: Mapping[str, Department],
    posts: dict[tuple[int, str], Post],
    stand_in: bool,
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    added: list[Post] = []
    created: list[tuple[str, str]] = []
    updated: list[tuple[str, str]] = []
    for row in rows:
        key = (departments[row.department].id, row.post)
        post = posts.get(key)
        if post is None:
            post = Post(
                department_id=key[0],
                name=row.post,
                post_type=row.post_type,
                difficulty=row.difficulty,
            )
            posts[key] = post
            added.append(post)
            created.append((row.department, row.post))
        elif post.post_type != row.post_type or post.difficulty != row.difficulty:
            # Rows naming one post agree (parse_roster checked), so this happens once a post.
            updated.append((row.department, row.post))
            if not stand_in:
                post.post_type = row.post_type
                post.difficulty = row.difficulty
    if stand_in:
        for number, post in enumerate(added, start=1):
            post.id = -number
    else:
        await uow.posts.add_all(added)
    return tuple(created), tuple(updated)


async def _sync_people(
    uow: UnitOfWork,
    rows: tuple[RosterRow, ...],
    people: dict[str, Staff],
    departments: Mapping[str, Department],
    posts: Mapping[tuple[int, str], Post],
    stand_in: bool,
) -> None:
    """Update the people already known, add new ones, then point everyone at their supervisor.

    With ``stand_in`` (a dry run), the new people are not inserted: they get ids of
    their own below zero, which is all the summary needs of them.
    """
    known = set(people)
    reports = {row.supervisor_no for row in rows if row.supervisor_no}
    added = [
        values
        for row in rows
        if (values := _apply(people, row, departments[row.department], posts, reports))
    ]
    if stand_in:
        new = [Staff(id=-number, **values) for number, values in enumerate(added, start=1)]
        people.update((staff.employee_no, staff) for staff in new)
    else:
        people.update((staff.employee_no, staff) for staff in await uow.staff.add_many(added))
        # Supervisors in a second pass, so a row may name someone further down the file.
        await uow.staff.set_supervisors_of_new(
            [
                (people[row.employee_no], people[row.supervisor_no].id)
                for row in rows
                if row.supervisor_no and row.employee_no not in known
            ]
        )
    for row in rows:
        if row.employee_no in known:
            _set_supervisor(people[row.employee_no], people.get(row.supervisor_no or ""))
    for employee_no in reports - {row.employee_no for row in rows}:
        # Someone kept from the store, not in this file, who now has reports in it.
        supervisor = people[employee_no]
        if not supervisor.roles & Role.SUPERVISOR:
            supervisor.roles |= Role.SUPERVISOR


def _apply(
    people: Mapping[str, Staff],
    row: RosterRow,
    department: Department,
    posts: Mapping[tuple[int, str], Post],
    reports: set[str],
) -> dict[str, Any] | None:
    """Bring a known person in line with their row; for someone new, their values to add."""
    values: dict[str, Any] = {
        "name": row.name,
        "department_id": department.id,
        "post_id": posts[(department.id, row.post)].id,
        "roles": row.roles | (Role.SUPERVISOR if row.employee_no in reports else Role.NONE),
        "status": row.status,
        "language": row.language,
    }
    staff = people.get(row.employee_no)
    if staff is None:
        return {"employee_no": row.employee_no, **values}
    if row.language is None:
        # An empty language cell leaves the person's own choice (made in the bot) alone.
        del values["language"]
    for attribute, value in values.items():
        # Assigning only real changes keeps unchanged people out of the UPDATEs.
        if getattr(staff, attribute) != value:
            setattr(staff, attribute, value)
    return None


def _set_supervisor(staff: Staff, supervisor: Staff | None) -> None:
    supervisor_id = None if supervisor is None else supervisor.id
    if staff.supervisor_id != supervisor_id:
        staff.supervisor_id = supervisor_id


def _state(staff: Staff) -> tuple[Any, ...]:
    """What an import may change about a person, to tell updated from unchanged."""
    return (
        int(staff.roles),
        staff.name,
        staff.department_id,
        staff.post_id,
        staff.status,
        staff.language,
        staff.supervisor_id,
    )


async def _audit(
    uow: UnitOfWork,
    summary: ImportSummary,
    people: Mapping[str, Staff],
    actor_staff_id: int | None,
    now: datetime,
) -> None:
    for employee_no, (old, new) in summary.role_changes.items():
        await uow.audit.add(
            Event(
                "staff.role_changed",
                "staff",
                people[employee_no].id,
                at=now,
                actor_staff_id=actor_staff_id,
                details={
                    "employee_no": employee_no,
                    "old": role_names(old),
                    "new": role_names(new),
                },
            )
        )
    await uow.audit.add(
        Event(
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
    )
