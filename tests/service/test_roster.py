"""Importing a roster into a real store: create, update, supervisors, the missing; all or none."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import event, func, select, update

from assessment import roster_import, roster_plan
from assessment.leaving import KeptBecause
from assessment.menus import MENU_KIND
from assessment.roster import (
    COLUMNS,
    ImportStopped,
    ImportSummary,
    ProblemCode,
    RosterRejected,
    import_roster,
    mark_left,
    parse_roster,
)
from config.policy import Policy, load_policy
from handlers.roster_text import describe_summary
from storage.engine import Database
from storage.enums import DeliveryStatus, Role, StaffStatus
from storage.models import (
    AuditEvent,
    Department,
    OutboxMessage,
    Post,
    RosterImportTurn,
    RosterStaging,
    Staff,
)
from storage.repositories.roster import RosterRepository

HEADER = ",".join(COLUMNS)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "roster"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _csv(*rows: str) -> bytes:
    return "\n".join([HEADER, *rows, ""]).encode()


TEAM = (
    "E1,Li Wei,Permits,Clerk,service,1.15,E3,,zh_Hans,",
    "E2,Wang Fang,Permits,Clerk,service,1.15,E3,,,",
    "E3,Zhang Qiang,Permits,Head,management,1.3,,staff;hr,,",
    "E4,Chen Mei,Enforcement,Officer,law_enforcement,1.2,,,en,second_line",
)


async def _import(
    db: Database,
    data: bytes,
    policy: Policy,
    *,
    mark_missing_left: bool = False,
    dry_run: bool = False,
    actor_staff_id: int | None = None,
) -> ImportSummary:
    roster = parse_roster(data, "roster.csv", policy)
    async with db.uow() as uow:
        return await import_roster(
            uow,
            roster,
            actor_staff_id=actor_staff_id,
            mark_missing_left=mark_missing_left,
            dry_run=dry_run,
            now=datetime.now(UTC),
        )


async def _people(db: Database) -> dict[str, Staff]:
    async with db.uow() as uow:
        return {staff.employee_no: staff for staff in await uow.staff.all()}


async def _counts(db: Database) -> tuple[int, ...]:
    async with db.uow() as uow:
        return tuple(
            [
                int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Staff, Department, Post, AuditEvent)
            ]
        )


async def _events(db: Database, action: str) -> list[AuditEvent]:
    async with db.uow() as uow:
        return [event for event in await uow.audit.events() if event.action == action]


async def test_import_creates_people_departments_and_posts(db: Database, policy: Policy) -> None:
    summary = await _import(db, _csv(*TEAM), policy)
    assert summary.created == ("E1", "E2", "E3", "E4")
    assert (summary.updated, summary.unchanged, summary.missing) == ((), (), ())
    assert summary.departments_created == ("Permits", "Enforcement")
    assert summary.posts_created == (
        ("Permits", "Clerk"),
        ("Permits", "Head"),
        ("Enforcement", "Officer"),
    )
    assert not summary.dry_run
    people = await _people(db)
    async with db.uow() as uow:
        permits = await uow.departments.get_by_name("Permits")
        assert permits is not None
        head = await uow.posts.get(permits.id, "Head")
    assert head is not None
    assert (head.post_type, head.difficulty) == ("management", Decimal("1.3"))
    li, zhang, chen = people["E1"], people["E3"], people["E4"]
    assert (li.name, li.department_id, li.language) == ("Li Wei", permits.id, "zh_Hans")
    assert li.supervisor_id == zhang.id
    assert li.roles == Role.STAFF
    # Supervising people in the file implies the supervisor role.
    assert zhang.roles == Role.STAFF | Role.HR | Role.SUPERVISOR
    assert zhang.post_id == head.id
    assert chen.status is StaffStatus.SECOND_LINE
    assert chen.telegram_user_id is None


async def test_a_supervisor_may_come_later_in_the_file(db: Database, policy: Policy) -> None:
    await _import(
        db,
        _csv(
            "E1,Li,Permits,Clerk,service,1,E2,,,",
            "E2,Wang,Permits,Head,management,1,E3,,,",
            "E3,Zhang,Permits,Director,management,1,,,,",
        ),
        policy,
    )
    people = await _people(db)
    assert people["E1"].supervisor_id == people["E2"].id
    assert people["E2"].supervisor_id == people["E3"].id
    assert people["E3"].supervisor_id is None


async def test_new_people_join_in_file_order_with_their_supervisors(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv("E5,Zhao,Permits,Director,management,1,,,,"), policy)
    # Then new people whose supervisors come later in the file, are new too, or were there;
    # and someone who was there, under someone new.
    await _import(
        db,
        _csv(
            "E9,Li,Permits,Clerk,service,1,E2,,,",
            "E1,Wang,Permits,Clerk,service,1,E5,,,",
            "E2,Zhang,Permits,Head,management,1,E5,,,",
            "E5,Zhao,Permits,Director,management,1,E8,,,",
            "E7,Sun,Permits,Clerk,service,1,E1,,,",
            "E8,Qian,Permits,Chief,management,1,,,,",
        ),
        policy,
    )
    people = await _people(db)
    order = ["E5", "E9", "E1", "E2", "E7", "E8"]
    assert sorted(order, key=lambda no: people[no].id) == order
    assert people["E5"].supervisor_id == people["E8"].id
    assert people["E8"].supervisor_id is None
    assert people["E9"].supervisor_id == people["E2"].id
    assert people["E1"].supervisor_id == people["E5"].id
    assert people["E2"].supervisor_id == people["E5"].id
    assert people["E7"].supervisor_id == people["E1"].id


async def test_reimport_updates_by_employee_number_and_keeps_telegram_links(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*TEAM), policy)
    linked_at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    async with db.uow() as uow:
        li = await uow.staff.by_employee_no("E1")
        assert li is not None
        li.telegram_user_id = 777
        li.linked_at = linked_at
        await uow.commit()
    before = await _people(db)

    again = await _import(db, _csv(*TEAM), policy)
    assert again.created == again.updated == ()
    assert again.unchanged == ("E1", "E2", "E3", "E4")
    assert again.departments_created == again.posts_created == again.posts_updated == ()
    assert {no: staff.version for no, staff in (await _people(db)).items()} == {
        no: staff.version for no, staff in before.items()
    }

    changed = _csv(
        "E1,Li Wei (Mr),Licences,Clerk,service,1.15,E3,,,",
        *TEAM[1:3],
        "E4,Chen Mei,Enforcement,Officer,law_enforcement,1.25,,,en,active",
    )
    summary = await _import(db, changed, policy)
    assert summary.updated == ("E1", "E4")
    assert summary.unchanged == ("E2", "E3")
    assert summary.departments_created == ("Licences",)
    assert summary.posts_created == (("Licences", "Clerk"),)
    assert summary.posts_updated == (("Enforcement", "Officer"),)
    people = await _people(db)
    assert len(people) == 4
    li = people["E1"]
    assert (li.id, li.name, li.telegram_user_id, li.linked_at) == (
        before["E1"].id,
        "Li Wei (Mr)",
        777,
        linked_at,
    )
    # An empty language cell leaves the language the person chose alone.
    assert li.language == "zh_Hans"
    assert people["E4"].status is StaffStatus.ACTIVE
    async with db.uow() as uow:
        enforcement = await uow.departments.get_by_name("Enforcement")
        assert enforcement is not None
        officer = await uow.posts.get(enforcement.id, "Officer")
    assert officer is not None
    assert officer.difficulty == Decimal("1.25")


async def test_missing_people_are_reported_and_marked_left_only_when_asked(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*TEAM), policy)
    async with db.uow() as uow:
        marked = await mark_left(uow, ["E4"], actor_staff_id=None, now=datetime.now(UTC))
        assert marked.marked == ("E4",)
    summary = await _import(db, _csv(TEAM[2]), policy)
    # E4 has already left, so only E1 and E2 are missing.
    assert (summary.missing, summary.marked_left) == (("E1", "E2"), ())
    people = await _people(db)
    assert people["E1"].status is StaffStatus.ACTIVE

    summary = await _import(
        db, _csv(TEAM[2]), policy, mark_missing_left=True, actor_staff_id=people["E3"].id
    )
    assert summary.missing == summary.marked_left == ("E1", "E2")
    people = await _people(db)
    assert {no: staff.status for no, staff in people.items()} == {
        "E1": StaffStatus.LEFT,
        "E2": StaffStatus.LEFT,
        "E3": StaffStatus.ACTIVE,
        "E4": StaffStatus.LEFT,
    }
    marked = await _events(db, "staff.marked_left")
    assert [(e.subject_id, e.details["employee_no"]) for e in marked[-2:]] == [
        (str(people["E1"].id), "E1"),
        (str(people["E2"].id), "E2"),
    ]
    assert marked[-1].actor_staff_id == people["E3"].id


async def test_mark_left_marks_only_those_still_on_staff(db: Database, policy: Policy) -> None:
    await _import(db, _csv(*TEAM), policy)
    async with db.uow() as uow:
        marked = await mark_left(
            uow, ["E1", "E2", "E99"], actor_staff_id=None, now=datetime.now(UTC)
        )
        assert marked.marked == ("E1", "E2")
    async with db.uow() as uow:
        marked = await mark_left(
            uow, ["E1", "E2", "E4"], actor_staff_id=None, now=datetime.now(UTC)
        )
        assert marked.marked == ("E4",)
    people = await _people(db)
    assert [no for no, staff in people.items() if staff.status is StaffStatus.LEFT] == [
        "E1",
        "E2",
        "E4",
    ]
    assert len(await _events(db, "staff.marked_left")) == 3


async def _link(db: Database, **accounts: int) -> dict[str, int]:
    """Link these employee numbers to Telegram accounts; their staff ids."""
    async with db.uow() as uow:
        ids = {}
        for employee_no, telegram_user_id in accounts.items():
            staff = await uow.staff.by_employee_no(employee_no)
            assert staff is not None
            staff.telegram_user_id = telegram_user_id
            ids[employee_no] = staff.id
        await uow.commit()
    return ids


async def _menus_queued(db: Database) -> list[tuple[int, int | None]]:
    """The menu republishings waiting in the outbox: (chat, staff id), oldest first."""
    async with db.uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == MENU_KIND).order_by(OutboxMessage.id)
        )
        queued = [(row.chat_id, row.staff_id) for row in rows]
        assert all(row.status is DeliveryStatus.PENDING for row in rows)
    return queued


async def test_an_import_queues_the_menus_it_changes_with_the_change(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*TEAM), policy)
    ids = await _link(db, E1=701, E2=702, E3=703)
    assert await _menus_queued(db) == [], "nobody was linked when they were created"
    await _import(db, _csv(*TEAM), policy)
    assert await _menus_queued(db) == [], "an unchanged roster changes no menu"

    # E1 becomes HR, E2 chooses English, E4 (not linked) becomes an admin, E3 stays.
    changed = _csv(
        "E1,Li Wei,Permits,Clerk,service,1.15,E3,staff;hr,zh_Hans,",
        "E2,Wang Fang,Permits,Clerk,service,1.15,E3,,en,",
        TEAM[2],
        "E4,Chen Mei,Enforcement,Officer,law_enforcement,1.2,,staff;admin,en,second_line",
    )
    await _import(db, changed, policy, dry_run=True)
    assert await _menus_queued(db) == [], "a dry run queues nothing"
    with pytest.raises(RosterRejected):
        await _import(db, changed + b"E5,Zhao,Permits,Clerk,service,1.15,E99,,,\n", policy)
    assert await _menus_queued(db) == [], "a refused roster queues nothing"
    await _import(db, changed, policy)
    assert await _menus_queued(db) == [(701, ids["E1"]), (702, ids["E2"])]

    # A new name or going to the second line leaves the commands and language alone.
    renamed = changed.replace(b"Li Wei", b"Li Wei (Mr)").replace(b",en,\n", b",en,second_line\n")
    assert (await _import(db, renamed, policy)).updated == ("E1", "E2")
    assert len(await _menus_queued(db)) == 2

    # Marking E1 and E2 as left takes their commands; E3 supervises no one in the file.
    # (E3's goes with E3's row; the leavers' with the import's last transaction.)
    await _import(db, _csv(TEAM[2]), policy, mark_missing_left=True)
    assert sorted((await _menus_queued(db))[2:]) == [
        (701, ids["E1"]),
        (702, ids["E2"]),
        (703, ids["E3"]),
    ]


async def test_marking_people_left_queues_their_menus(db: Database, policy: Policy) -> None:
    await _import(db, _csv(*TEAM), policy)
    ids = await _link(db, E1=701, E2=702)
    async with db.uow() as uow:
        marked = await mark_left(uow, ["E1", "E4"], actor_staff_id=None, now=datetime.now(UTC))
        assert marked.marked == ("E1", "E4")
    async with db.uow() as uow:
        marked = await mark_left(uow, ["E1"], actor_staff_id=None, now=datetime.now(UTC))
        assert marked.marked == ()
    assert await _menus_queued(db) == [(701, ids["E1"])], "E4 is not linked; E1 left once"


# Two HR members (E3, E5) and one administrator (E6), besides the team.
GUARDS = (
    *TEAM,
    "E5,Zhou Min,Permits,Clerk,service,1.15,E3,staff;hr,,",
    "E6,Qian Jun,Permits,Clerk,service,1.15,E3,staff;admin,,",
)


async def _mark(
    db: Database, employee_nos: list[str], actor: str | None
) -> tuple[tuple[str, ...], dict[str, KeptBecause]]:
    people = await _people(db)
    async with db.uow() as uow:
        result = await mark_left(
            uow,
            employee_nos,
            actor_staff_id=None if actor is None else people[actor].id,
            now=datetime.now(UTC),
        )
    return result.marked, {kept.person.employee_no: kept.because for kept in result.kept}


async def _on_staff(db: Database) -> list[str]:
    people = await _people(db)
    return [no for no, staff in people.items() if staff.status is not StaffStatus.LEFT]


async def test_a_bulk_leave_never_marks_the_person_asking(db: Database, policy: Policy) -> None:
    await _import(db, _csv(*GUARDS), policy)
    marked, kept = await _mark(db, ["E1", "E3", "E5"], actor="E3")
    assert marked == ("E1", "E5"), "E3 asked, so E3 stays; E5's HR role is not the last"
    assert kept == {"E3": KeptBecause.YOURSELF}
    assert await _on_staff(db) == ["E2", "E3", "E4", "E6"]


async def test_a_bulk_leave_keeps_the_last_hr_member_and_administrator(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*GUARDS), policy)
    # From the command line nobody asks: every HR member and the one administrator go.
    marked, kept = await _mark(db, ["E1", "E3", "E5", "E6"], actor=None)
    assert marked == ("E1", "E5")
    assert kept == {"E3": KeptBecause.LAST_HR, "E6": KeptBecause.LAST_ADMIN}
    assert await _on_staff(db) == ["E2", "E3", "E4", "E6"]
    # Once another HR member is on staff again, the last one may go.
    async with db.uow() as uow:
        again = await uow.staff.by_employee_no("E5")
        assert again is not None
        again.status = StaffStatus.ACTIVE
        await uow.commit()
    assert await _mark(db, ["E3"], actor=None) == (("E3",), {})
    assert await _mark(db, ["E5"], actor=None) == ((), {"E5": KeptBecause.LAST_HR})


async def test_an_administrator_asking_keeps_the_last_hr_member(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*GUARDS), policy)
    marked, kept = await _mark(db, ["E3", "E5", "E6"], actor="E6")
    assert kept["E6"] is KeptBecause.YOURSELF
    assert kept["E3"] is KeptBecause.LAST_HR, "one of the two HR members, the lower number"
    assert marked == ("E5",)


async def test_an_import_marking_the_missing_left_keeps_the_last_hr_member(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*GUARDS), policy)
    # A file of the team alone, without E3's HR role: nobody in it holds HR.
    summary = await _import(
        db,
        _csv(TEAM[0], TEAM[1], "E3,Zhang Qiang,Permits,Head,management,1.3,,staff,,"),
        policy,
        mark_missing_left=True,
    )
    assert summary.missing == ("E4", "E5", "E6")
    assert summary.marked_left == ("E4",)
    assert [(k.person.employee_no, k.because) for k in summary.kept] == [
        ("E5", KeptBecause.LAST_HR),
        ("E6", KeptBecause.LAST_ADMIN),
    ]
    assert await _on_staff(db) == ["E1", "E2", "E3", "E5", "E6"]


BAD_FILES = {
    "wrong header": _csv("E1").replace(b"roles", b"role"),
    "gbk": (HEADER + "\nE5,李伟,Permits,Clerk,service,1.15,,,,\n").encode("gbk"),
    "empty": b"",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "bad coefficient": _csv(*TEAM, "E5,Zhao,Permits,Clerk,service,1.15x,,,,"),
    "duplicate": _csv(*TEAM, "E1,Zhao,Permits,Clerk,service,1.15,,,,"),
    "loop": _csv(*TEAM, "E5,Zhao,Permits,Clerk,service,1.15,E6,,,", "E6,Qian,X,Y,service,1,E5,,,"),
}


@pytest.mark.parametrize("data", BAD_FILES.values(), ids=BAD_FILES.keys())
async def test_a_bad_file_writes_nothing(data: bytes, db: Database, policy: Policy) -> None:
    await _import(db, _csv(*TEAM[:2], "E3,Zhang,Permits,Head,management,1.3,,,,"), policy)
    before = await _counts(db)
    people = await _people(db)
    with pytest.raises(RosterRejected):
        await _import(db, data, policy, mark_missing_left=True)
    assert await _counts(db) == before
    assert {no: s.version for no, s in (await _people(db)).items()} == {
        no: s.version for no, s in people.items()
    }


async def test_a_supervisor_only_in_the_store_is_found_and_becomes_a_supervisor(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv("B1,Boss,Permits,Head,management,1.3,,staff,,"), policy)
    summary = await _import(db, _csv("E1,Li,Permits,Clerk,service,1.15,B1,,,"), policy)
    assert summary.created == ("E1",)
    assert summary.missing == ("B1",)
    assert summary.role_changes == {"B1": (Role.STAFF, Role.STAFF | Role.SUPERVISOR)}
    people = await _people(db)
    assert people["E1"].supervisor_id == people["B1"].id


async def test_a_supervisor_nowhere_is_refused_and_nothing_written(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*TEAM), policy)
    before = await _counts(db)
    with pytest.raises(RosterRejected) as caught:
        await _import(db, _csv(*TEAM, "E5,Zhao,New Dept,Clerk,service,1.15,E99,,,"), policy)
    problem = caught.value.problems[0]
    assert (problem.row, problem.column, problem.code, problem.value) == (
        6,
        "supervisor_no",
        ProblemCode.MISSING_SUPERVISOR,
        "E99",
    )
    assert await _counts(db) == before


async def test_a_loop_through_someone_left_out_of_the_file_is_refused(
    db: Database, policy: Policy
) -> None:
    await _import(
        db,
        _csv("A1,Ann,Permits,Head,management,1,B1,,,", "B1,Bo,Permits,Head,management,1,,,,"),
        policy,
    )
    with pytest.raises(RosterRejected) as caught:
        await _import(db, _csv("B1,Bo,Permits,Head,management,1,A1,,,"), policy)
    (problem,) = caught.value.problems
    assert (problem.row, problem.code) == (2, ProblemCode.SUPERVISOR_CYCLE)
    assert problem.detail in {"A1 → B1 → A1", "B1 → A1 → B1"}


async def test_dry_run_writes_nothing_but_says_what_would_change(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*TEAM[:3]), policy)
    before = await _counts(db)
    data = _csv("E1,Li Wei,Permits,Clerk,service,1.15,E3,hr,,", TEAM[2], TEAM[3])
    summary = await _import(db, data, policy, dry_run=True, mark_missing_left=True)
    assert summary.dry_run
    assert (summary.created, summary.updated, summary.unchanged) == (("E4",), ("E1",), ("E3",))
    assert (summary.missing, summary.marked_left) == (("E2",), ("E2",))
    assert summary.departments_created == ("Enforcement",)
    assert summary.role_changes == {"E1": (Role.STAFF, Role.HR)}
    assert await _counts(db) == before
    people = await _people(db)
    assert (people["E1"].roles, people["E2"].status) == (Role.STAFF, StaffStatus.ACTIVE)


async def test_role_changes_are_reported_and_audited(db: Database, policy: Policy) -> None:
    await _import(db, _csv(*TEAM), policy)
    # E3 no longer supervises anyone and E4 becomes an admin.
    summary = await _import(
        db,
        _csv(
            "E1,Li Wei,Permits,Clerk,service,1.15,,,zh_Hans,",
            "E2,Wang Fang,Permits,Clerk,service,1.15,,,,",
            TEAM[2],
            "E4,Chen Mei,Enforcement,Officer,law_enforcement,1.2,,staff;admin,en,second_line",
        ),
        policy,
        actor_staff_id=None,
    )
    assert summary.role_changes == {
        "E3": (Role.STAFF | Role.HR | Role.SUPERVISOR, Role.STAFF | Role.HR),
        "E4": (Role.STAFF, Role.STAFF | Role.ADMIN),
    }
    changed = await _events(db, "staff.role_changed")
    assert [e.details for e in changed] == [
        {"employee_no": "E3", "old": ["staff", "supervisor", "hr"], "new": ["staff", "hr"]},
        {"employee_no": "E4", "old": ["staff"], "new": ["staff", "admin"]},
    ]


async def test_each_import_is_audited_once(db: Database, policy: Policy) -> None:
    await _import(db, _csv(*TEAM), policy, actor_staff_id=None)
    await _import(db, _csv(*TEAM), policy, dry_run=True)
    (event,) = await _events(db, "roster.imported")
    assert (event.subject_type, event.actor_staff_id) == ("roster", None)
    assert event.details == {
        "file_name": "roster.csv",
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "missing": 0,
        "marked_left": 0,
        "departments_created": 2,
        "posts_created": 3,
        "posts_updated": 0,
        "role_changes": 0,
    }


async def test_the_sample_roster_imports(db: Database, policy: Policy) -> None:
    data = (FIXTURES / "sample.csv").read_bytes()
    summary = await _import(db, data, policy)
    assert len(summary.created) == 5
    people = await _people(db)
    assert people["E004"].name == "陳美玲"
    assert people["E003"].roles == Role.STAFF | Role.HR | Role.SUPERVISOR


def _generated(count: int) -> bytes:
    # Ten people to a team; each team's head reports to the next team's head.
    rows = []
    for n in range(count):
        head = n - n % 10
        if n == head:
            supervisor = f"S{head + 10:05d}" if head + 10 < count else ""
        else:
            supervisor = f"S{head:05d}"
        rows.append(
            f"S{n:05d},Person {n},Department {n % 25},Post {n % 7},service,1.1,{supervisor},,,"
        )
    return _csv(*rows)


async def test_ten_thousand_rows(db: Database, policy: Policy) -> None:
    summary = await _import(db, _generated(10_000), policy)
    assert len(summary.created) == 10_000
    assert len(summary.departments_created) == 25
    assert len(summary.posts_created) == 25 * 7
    assert await _counts(db) == (10_000, 25, 175, 1)
    people = await _people(db)
    assert people["S00003"].supervisor_id == people["S00000"].id
    assert people["S00000"].supervisor_id == people["S00010"].id
    assert people["S00000"].roles == Role.STAFF | Role.SUPERVISOR

    again = await _import(db, _generated(10_000), policy)
    assert len(again.unchanged) == 10_000
    assert await _counts(db) == (10_000, 25, 175, 2)


async def test_a_preview_writes_nothing_and_says_what_the_import_then_does(
    db: Database, policy: Policy
) -> None:
    # A preview takes no write lock: no INSERT, UPDATE or DELETE reaches the store, even
    # for new people, departments and posts, a post that changes and people who move.
    await _import(db, _csv(*TEAM[:3]), policy)
    data = _csv(
        "E1,Li Wei,Enforcement,Officer,law_enforcement,1.2,E5,hr,,",
        "E2,Wang Fang,Permits,Clerk,service,1.25,E3,,,",
        TEAM[2],
        "E5,Sun Yue,Archive,Keeper,service,1,E3,,,",
        "E6,Zhou Lan,Archive,Keeper,service,1,E5,,,",
    )
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    sync_engine = db.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", seen)
    try:
        preview = await _import(db, data, policy, dry_run=True)
    finally:
        event.remove(sync_engine, "before_cursor_execute", seen)
    assert statements and set(statements) <= {"SELECT", "BEGIN", "ROLLBACK", "SAVEPOINT"}
    applied = await _import(db, data, policy)
    assert dataclasses.replace(preview, dry_run=False) == applied
    assert applied.created == ("E5", "E6") and applied.updated == ("E1",)
    assert applied.posts_updated == (("Permits", "Clerk"),)


# New people (one under someone new further down), a new department and post, an update
# with a new role, a supervisor's role given to someone not in the file: every kind of
# statement runs.
_STOPPED = (
    "E1,Li Wei,Licences,Clerk,service,1.15,E6,staff;hr,zh_Hans,",
    "E5,Zhao Lei,Licences,Clerk,service,1.15,E6,,,",
    "E6,Sun Li,Licences,Head,management,1.3,E2,,,",
)


class _StoreError(Exception):
    pass


@pytest.mark.parametrize("in_child", [False, True], ids=["thread", "child"])
async def test_a_failure_in_the_first_transaction_writes_nothing_and_drops_the_staged_rows(
    db: Database, policy: Policy, in_child: bool
) -> None:
    await _import(db, _csv(*TEAM), policy)
    before = await _people(db)
    counts = await _counts(db)
    roster = parse_roster(_csv(*_STOPPED), "roster.csv", policy)

    async def fail(_uow: object) -> None:
        raise _StoreError

    with mock.patch.object(roster_plan, "CHILD_FROM", 0 if in_child else 10**9):
        async with db.uow() as uow:
            with pytest.raises(_StoreError):
                await import_roster(
                    uow, roster, actor_staff_id=None, now=datetime.now(UTC), claim=fail
                )
    after = await _people(db)
    assert after.keys() == before.keys()
    assert [
        (p.name, p.department_id, p.supervisor_id, p.roles, p.version) for p in after.values()
    ] == [(p.name, p.department_id, p.supervisor_id, p.roles, p.version) for p in before.values()]
    assert await _counts(db) == counts
    assert await _leftovers(db) == (0, 0, 0)

    # The same file imports afterwards, with its ids worked out again.
    summary = await _import(db, _csv(*_STOPPED), policy)
    assert summary.created == ("E5", "E6")
    await _imported_whole(db, before)


async def _leftovers(db: Database) -> tuple[int, int, int]:
    """Staged rows, queued messages and import turns in the store."""
    async with db.uow() as uow:
        return tuple(  # type: ignore[return-value]
            [
                int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (RosterStaging, OutboxMessage, RosterImportTurn)
            ]
        )


async def _imported_whole(db: Database, before: dict[str, Staff]) -> None:
    """``_STOPPED`` is in the store over ``TEAM``, its menus and events once each."""
    people = await _people(db)
    assert people["E1"].supervisor_id == people["E5"].supervisor_id == people["E6"].id
    assert people["E6"].supervisor_id == people["E2"].id
    assert people["E2"].roles & Role.SUPERVISOR
    assert (people["E1"].name, people["E1"].language) == ("Li Wei", "zh_Hans")
    assert max(p.id for p in before.values()) < people["E5"].id < people["E6"].id
    changed = [event.details["employee_no"] for event in await _events(db, "staff.role_changed")]
    assert sorted(changed) == ["E1", "E2"], "each role change audited once"
    assert await _leftovers(db) == (0, 0, 0)


@pytest.mark.parametrize("where", ["insert", "update", "last"])
async def test_an_import_stopped_part_way_is_finished_by_importing_the_file_again(
    db: Database, policy: Policy, where: str
) -> None:
    await _import(db, _csv(*TEAM), policy)
    before = await _people(db)
    roster = parse_roster(_csv(*_STOPPED), "roster.csv", policy)
    repository = RosterRepository
    # A person per transaction (E1, E5, E6): the failure comes after E5 was inserted, and
    # for an update after E1's.
    calls = {"insert": 0, "update": 0}
    fails_at = {"insert": 3, "update": 2}

    def failing(name: str) -> object:
        real = getattr(repository, f"{name}_staged_people")

        async def call(self: object, *args: object, **kwargs: object) -> object:
            calls[name] += 1
            if name == where and calls[name] == fails_at[name]:
                raise _StoreError
            return await real(self, *args, **kwargs)

        return call

    async def fail_last(_uow: object, _summary: ImportSummary) -> None:
        raise _StoreError

    with (
        mock.patch.object(roster_import, "APPLY_BATCH", 1),
        mock.patch.object(repository, "insert_staged_people", failing("insert")),
        mock.patch.object(repository, "update_staged_people", failing("update")),
    ):
        async with db.uow() as uow:
            with pytest.raises(ImportStopped) as stopped:
                await import_roster(
                    uow,
                    roster,
                    actor_staff_id=None,
                    now=datetime.now(UTC),
                    with_change=fail_last if where == "last" else None,
                )
    assert isinstance(stopped.value.__cause__, _StoreError)
    people = await _people(db)
    assert "E5" in people, "what was committed before the failure stays"
    assert await _leftovers(db) == (0, 0, 0)
    # The turn was given back and the staged rows dropped: the same file finishes it.
    async with db.uow() as uow:
        assert not await uow.roster.turn_held(stale_after=roster_import.TURN_STALE)
    summary = await _import(db, _csv(*_STOPPED), policy)
    assert "E5" not in summary.created
    await _imported_whole(db, before)


async def test_imports_take_turns_and_a_dead_imports_turn_is_taken_over(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*TEAM), policy)
    # Another import holds the turn and beats: this one waits, writing nothing meanwhile.
    async with db.uow() as uow:
        assert await uow.roster.take_turn("a" * 32, stale_after=roster_import.TURN_STALE)
        await uow.commit()
    waiting = asyncio.create_task(_import(db, _csv(*_STOPPED), policy))
    await asyncio.sleep(1.0)
    assert not waiting.done()
    assert "E5" not in await _people(db), "nothing written while another import writes"
    async with db.uow() as uow:
        await uow.roster.give_turn("a" * 32)
        await uow.commit()
    assert (await asyncio.wait_for(waiting, 60)).created == ("E5", "E6")

    # A turn whose holder stopped beating (its process died) is taken over.
    async with db.uow() as uow:
        assert await uow.roster.take_turn("b" * 32, stale_after=roster_import.TURN_STALE)
        await uow.session.execute(
            update(RosterImportTurn).values(beat_at=datetime.now(UTC) - timedelta(minutes=5))
        )
        await uow.commit()
    summary = await _import(
        db, _csv(*_STOPPED, "E7,Qian Bo,Licences,Clerk,service,1.15,E6,,,"), policy
    )
    assert summary.created == ("E7",)
    async with db.uow() as uow:
        assert not await uow.roster.turn_held(stale_after=roster_import.TURN_STALE)
        # And an import that finds its turn taken over stops rather than write on.
        assert not await uow.roster.beat("b" * 32)


async def test_someone_changed_while_the_import_writes_is_not_overwritten_unseen(
    db: Database, policy: Policy
) -> None:
    await _import(db, _csv(*TEAM), policy)
    roster = parse_roster(_csv(*_STOPPED), "roster.csv", policy)
    real = roster_import._still_ours
    beats = []

    async def hr_renames_e1_meanwhile(uow: object, import_id: str) -> None:
        # The second beat opens the first batch: after the import's first transaction,
        # before any of its people are written (and before the batch takes SQLite's lock).
        beats.append(import_id)
        if len(beats) == 2:
            async with db.uow() as other:
                [staff] = await other.staff.by_employee_nos(["E1"])
                staff.name = "Li Wei (renamed by HR)"
                await other.commit()
        await real(uow, import_id)  # type: ignore[arg-type]

    with mock.patch.object(roster_import, "_still_ours", hr_renames_e1_meanwhile):
        async with db.uow() as uow:
            summary = await import_roster(uow, roster, actor_staff_id=None, now=datetime.now(UTC))
    assert summary.created == ("E5", "E6")
    assert (summary.updated, summary.left_out) == ((), ("E1",)), "HR is told who was left"
    assert "1 person left as they were: someone changed them while the import wrote" in (
        describe_summary(summary, lambda text: text, _english_plural)
    )
    people = await _people(db)
    assert people["E1"].name == "Li Wei (renamed by HR)", "the change made meanwhile stays"
    assert not people["E1"].roles & Role.HR, "and the file's is not written over it"
    assert people["E5"].supervisor_id == people["E6"].id, "everyone else is written"
    changed = [event.details["employee_no"] for event in await _events(db, "staff.role_changed")]
    assert changed == ["E2"], "nothing is audited for the person not written"

    # The file again brings them in line, audited then.
    again = await _import(db, _csv(*_STOPPED), policy)
    assert (again.updated, again.left_out) == (("E1",), ())
    people = await _people(db)
    assert (people["E1"].name, bool(people["E1"].roles & Role.HR)) == ("Li Wei", True)
    changed = [event.details["employee_no"] for event in await _events(db, "staff.role_changed")]
    assert sorted(changed) == ["E1", "E2"]


def _english_plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many
