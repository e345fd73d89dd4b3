"""The store on a real database: unit of work, repositories, column types, identification."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from assessment.people import identify
from storage.engine import (
    SQLITE_BUSY_TIMEOUT,
    Database,
    StoreBusy,
    busy_timeout,
    waiting_up_to,
)
from storage.enums import Role, StaffStatus
from storage.models import Department, Post, Staff
from storage.repositories.audit import Event
from storage.uow import PendingClaim, UpdateAlreadyHandled

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


async def _seed(db: Database, *, telegram_user_id: int | None = 1001) -> int:
    async with db.uow() as uow:
        department = await uow.departments.add(Department(name="Permits Office"))
        post = await uow.posts.add(
            Post(
                department_id=department.id,
                name="Clerk",
                post_type="service",
                difficulty=Decimal("1.15"),
            )
        )
        staff = await uow.staff.add(
            Staff(
                employee_no="E001",
                name="Li Wei",
                department_id=department.id,
                post_id=post.id,
                roles=Role.STAFF | Role.SUPERVISOR,
                telegram_user_id=telegram_user_id,
            )
        )
        await uow.commit()
        return staff.id


async def test_unit_of_work_rolls_back_unless_committed(db: Database) -> None:
    async with db.uow() as uow:
        await uow.departments.add(Department(name="Uncommitted"))
    async with db.uow() as uow:
        assert await uow.departments.get_by_name("Uncommitted") is None


async def test_unit_of_work_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.uow() as uow:
            await uow.departments.add(Department(name="Half-written"))
            raise RuntimeError("use case failed half-way")
    async with db.uow() as uow:
        assert await uow.departments.get_by_name("Half-written") is None


async def test_committed_work_persists_with_exact_types(db: Database) -> None:
    staff_id = await _seed(db)
    async with db.uow() as uow:
        staff = await uow.staff.get(staff_id)
        assert staff is not None
        assert staff.roles == Role.STAFF | Role.SUPERVISOR
        assert staff.status is StaffStatus.ACTIVE
        assert staff.created_at.tzinfo is not None
        assert abs(staff.created_at - datetime.now(UTC)) < timedelta(minutes=1)
        post = await uow.posts.get(staff.department_id, "Clerk")
        assert post is not None
        assert post.difficulty == Decimal("1.15")
        assert isinstance(post.difficulty, Decimal)


async def test_unique_employee_number_enforced(db: Database) -> None:
    await _seed(db)
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            department = await uow.departments.get_by_name("Permits Office")
            assert department is not None
            await uow.staff.add(Staff(employee_no="E001", name="Dup", department_id=department.id))


async def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.uow() as uow:
            await uow.departments.add(Department(name="X", created_at=datetime(2026, 1, 1)))


async def test_audit_events_are_appended_in_the_callers_transaction(db: Database) -> None:
    staff_id = await _seed(db)
    async with db.uow() as uow:
        await uow.audit.add(
            Event(
                "test.rolled_back",
                "staff",
                staff_id,
                at=NOW,
                actor_staff_id=staff_id,
            )
        )
    async with db.uow() as uow:
        await uow.audit.add(
            Event(
                "staff.linked",
                "staff",
                staff_id,
                at=NOW,
                actor_staff_id=staff_id,
                details={"via": "test"},
            )
        )
        await uow.commit()
    async with db.uow() as uow:
        events = await uow.audit.events("staff")
    assert [(e.action, e.subject_id, e.details) for e in events] == [
        ("staff.linked", str(staff_id), {"via": "test"})
    ]


async def _claim_with_an_event(db: Database, update_id: int, action: str = "test.claimed") -> None:
    # What a handler does: write something, commit; the update is claimed with it.
    async with db.uow(claim=PendingClaim(update_id, at=NOW)) as uow:
        await uow.audit.add(
            Event(
                action,
                "update",
                update_id,
                at=NOW,
            )
        )
        await uow.commit()


async def test_identify_finds_the_linked_member_and_the_update_is_claimed_on_commit(
    db: Database,
) -> None:
    staff_id = await _seed(db, telegram_user_id=555)
    async with db.uow() as uow:
        caller = await identify(uow, update_id=1, telegram_user_id=555)
    assert not caller.duplicate
    assert caller.member is not None
    assert caller.member.id == staff_id
    assert caller.member.has(Role.SUPERVISOR)
    assert not caller.member.has(Role.HR)
    assert caller.question is None
    async with db.uow() as uow:
        assert not (await identify(uow, update_id=1, telegram_user_id=555)).duplicate
    await _claim_with_an_event(db, 1)
    async with db.uow() as uow:
        again = await identify(uow, update_id=1, telegram_user_id=555)
    assert again.duplicate


async def test_identify_reads_the_members_conversation(db: Database) -> None:
    staff_id = await _seed(db, telegram_user_id=555)
    async with db.uow() as uow:
        await uow.conversations.save(staff_id, "log", "date", {}, at=datetime.now(UTC))
        await uow.commit()
    async with db.uow() as uow:
        caller = await identify(uow, update_id=3, telegram_user_id=555)
    assert caller.question == "log"


async def test_identify_unknown_user(db: Database) -> None:
    async with db.uow() as uow:
        caller = await identify(uow, update_id=7, telegram_user_id=999)
    assert not caller.duplicate
    assert caller.member is None


async def test_a_claimed_update_writes_nothing_a_second_time(db: Database) -> None:
    await _claim_with_an_event(db, 5, "test.first")
    with pytest.raises(UpdateAlreadyHandled):
        await _claim_with_an_event(db, 5, "test.second")
    async with db.uow() as uow:
        events = await uow.audit.events("update")
    assert [event.action for event in events] == ["test.first"]


async def test_concurrent_claims_of_one_update_let_exactly_one_write(db: Database) -> None:
    async def claim(n: int) -> bool:
        try:
            await _claim_with_an_event(db, 42, f"test.try{n}")
        except UpdateAlreadyHandled:
            return False
        return True

    results = await asyncio.gather(*(claim(n) for n in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    async with db.uow() as uow:
        assert len(await uow.audit.events("update")) == 1


async def test_a_claim_is_settled_once_per_unit_of_work_chain(db: Database) -> None:
    claim = PendingClaim(77, at=NOW)
    async with db.uow(claim=claim) as uow:
        await uow.audit.add(
            Event(
                "test.one",
                "update",
                77,
                at=NOW,
            )
        )
        await uow.commit()
        await uow.audit.add(
            Event(
                "test.two",
                "update",
                77,
                at=NOW,
            )
        )
        await uow.commit()  # the claim is taken already: a plain commit
    assert claim.settled
    async with db.uow() as uow:
        assert len(await uow.audit.events("update")) == 2


async def test_old_processed_updates_are_forgotten(db: Database) -> None:
    await _claim_with_an_event(db, 1)
    async with db.uow() as uow:
        removed = await uow.updates.forget_before(datetime.now(UTC) + timedelta(seconds=1))
        await uow.commit()
    assert removed == 1
    async with db.uow() as uow:
        assert not (await identify(uow, update_id=1, telegram_user_id=None)).duplicate


async def test_identify_remembers_the_telegram_language_when_it_changes(db: Database) -> None:
    await _seed(db, telegram_user_id=555)
    async with db.uow() as uow:
        caller = await identify(uow, 1, 555, "zh-TW")
    assert caller.member is not None
    assert caller.member.telegram_language == "zh-TW"
    async with db.uow() as uow:
        await identify(uow, 2, 555, None)
        staff = await uow.staff.by_telegram_id(555)
    assert staff is not None
    assert staff.telegram_language == "zh-TW", "an update without a language keeps the last one"


async def test_sqlite_writers_of_one_process_take_turns_and_readers_never_wait(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # SQLite only: PostgreSQL has row locks, and its writers of different rows never queue.
    path = tmp_path / "turns.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await _take_turns(db)
    finally:
        await db.dispose()


async def _take_turns(db: Database) -> None:
    assert Database("postgresql+asyncpg://nobody@127.0.0.1/none").write_turns is None
    turns = db.write_turns
    assert turns is not None
    staff_id = await _seed(db)
    said: list[str] = []

    async def second_writer() -> None:
        async with db.uow() as uow:
            await uow.audit.add(Event("test.second", "staff", staff_id, at=NOW))
            said.append("second wrote")
            await uow.commit()

    async with db.uow() as first:
        await first.audit.add(Event("test.first", "staff", staff_id, at=NOW))
        assert turns.taken
        waiting = asyncio.create_task(second_writer())
        for _ in range(50):
            await asyncio.sleep(0.001)
            if turns.waiting:
                break
        assert turns.waiting == 1, "the second writer queues for its turn, on the loop"
        async with db.uow() as reader:  # a read needs no turn
            assert [e.action for e in await reader.audit.events("staff")] == []
        said.append("first commits")
        await first.commit()
    await waiting
    assert said == ["first commits", "second wrote"]
    assert not turns.taken and turns.waiting == 0
    async with db.uow() as uow:
        assert [e.action for e in await uow.audit.events("staff")] == ["test.first", "test.second"]


async def test_a_backlog_of_one_process_s_writers_longer_than_the_busy_timeout_saves_all(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # What a restart replaying a burst on a loaded machine does: more of this process's
    # writers queued than can each write within the busy timeout. Nobody else writes, so
    # each waits its turn and saves; none is told the store is busy.
    path = tmp_path / "backlog.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}?timeout=0.5")
    try:
        staff_id = await _seed(db)
        writers = 25

        async def write(n: int) -> None:
            async with db.uow() as uow:
                await uow.audit.add(Event(f"test.backlog{n}", "staff", staff_id, at=NOW))
                await uow.session.flush()
                # A transaction slowed down (a starved loop): the queue behind it grows
                # to more than twice the busy timeout.
                await asyncio.sleep(0.05)
                await uow.commit()

        outcomes = await asyncio.gather(
            *(write(n) for n in range(writers)), return_exceptions=True
        )
        assert [o for o in outcomes if o is not None] == [], "every writer saved"
        async with db.uow() as uow:
            assert len(await uow.audit.events("staff")) == writers
    finally:
        await db.dispose()


async def test_a_turn_stuck_with_one_transaction_lets_the_next_writer_meet_the_busy_timeout(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # The safety valve: a transaction keeping the turn past the busy timeout (stuck on
    # something else) does not make writers behind it wait forever; they go ahead, meet
    # SQLite's lock it still holds, and fail as busy with nothing written.
    path = tmp_path / "stuck.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}?timeout=0.2")
    turns = db.write_turns
    assert turns is not None
    try:
        staff_id = await _seed(db)
        async with db.uow() as stuck:
            await stuck.audit.add(Event("test.stuck", "staff", staff_id, at=NOW))
            await stuck.session.flush()
            with pytest.raises(StoreBusy):
                async with db.uow() as uow:
                    await uow.audit.add(Event("test.behind", "staff", staff_id, at=NOW))
                    await uow.session.flush()
            assert turns.waiting == 0 and turns.taken
            await stuck.commit()
        assert not turns.taken
        async with db.uow() as uow:
            assert [e.action for e in await uow.audit.events("staff")] == ["test.stuck"]
    finally:
        await db.dispose()


def test_the_busy_timeout_comes_from_the_url_and_commands_wait_longer() -> None:
    assert busy_timeout("sqlite+aiosqlite:///x.db") == SQLITE_BUSY_TIMEOUT
    assert busy_timeout("sqlite+aiosqlite:///x.db?timeout=1.5") == 1.5
    assert busy_timeout(waiting_up_to("sqlite+aiosqlite:///x.db", 30)) == 30
    assert waiting_up_to("sqlite+aiosqlite:///x.db?timeout=2", 30).endswith("timeout=2")
    postgres = "postgresql+asyncpg://u:secret@db/ledger"
    assert waiting_up_to(postgres, 30) == postgres
