"""SQLite run on the event loop: writers take turns without blocking it; direct statements."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError

from storage import direct, migrate
from storage.direct import Direct
from storage.engine import Database
from storage.enums import Role, StaffStatus
from storage.models import AuditEvent, Department, Staff
from storage.sqlite_driver import writer_lock

EVENTS = cast(Table, AuditEvent.__table__)
STAFF = cast(Table, Staff.__table__)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    await migrate.upgrade(database.engine)
    yield database
    await database.dispose()


async def _events(db: Database) -> list[str]:
    async with db.uow() as uow:
        return [event.action for event in await uow.audit.events()]


async def test_a_second_writer_waits_its_turn_while_the_loop_runs_on(db: Database) -> None:
    first_holds = asyncio.Event()
    release_first = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with db.uow() as uow:
            await uow.audit.record("test.first", "test")
            await uow.session.flush()  # the write transaction is open now
            first_holds.set()
            await release_first.wait()
            await uow.commit()
            order.append("first committed")

    async def second() -> None:
        await first_holds.wait()
        async with db.uow() as uow:
            await uow.audit.record("test.second", "test")
            await uow.commit()
            order.append("second committed")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_holds.wait()
    ticks = 0
    for _ in range(20):  # the loop is free while the second writer waits
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20
    assert order == [], "the second writer waits for the first"
    release_first.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["first committed", "second committed"]
    assert sorted(await _events(db)) == ["test.first", "test.second"]


async def test_readers_never_wait_for_a_writer(db: Database) -> None:
    async with db.uow() as writer:
        await writer.audit.record("test.pending", "test")
        await writer.session.flush()
        async with db.uow() as reader:
            # Not committed yet: the reader sees nothing, and does not wait.
            events = await asyncio.wait_for(reader.audit.events(), 1)
        assert events == []
        await writer.commit()
    assert await _events(db) == ["test.pending"]


async def test_a_writer_that_rolls_back_or_fails_gives_its_turn_back(db: Database) -> None:
    path = str(db.engine.url.database)
    async with db.uow() as uow:
        await uow.audit.record("test.dropped", "test")
        await uow.session.flush()
        assert writer_lock(path).locked()
    assert not writer_lock(path).locked(), "left without commit: rolled back, lock free"
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            await uow.session.execute(insert(STAFF).values(employee_no="X", name="No dept"))
            await uow.session.execute(
                insert(STAFF).values(employee_no="X", name="No dept", department_id=1)
            )
    assert not writer_lock(path).locked()
    assert await _events(db) == []


async def _seed(db: Database) -> int:
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Office"))
        staff = await uow.staff.add(
            Staff(
                employee_no="E1",
                name="Li",
                department_id=office.id,
                roles=Role.STAFF | Role.SUPERVISOR,
                status=StaffStatus.SECOND_LINE,
                telegram_user_id=42,
                linked_at=datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC),
            )
        )
        await uow.commit()
        return staff.id


async def test_direct_statements_read_and_write_what_sqlalchemy_would(db: Database) -> None:
    await _seed(db)
    query = select(STAFF.c.id, STAFF.c.roles, STAFF.c.status, STAFF.c.linked_at).where(
        STAFF.c.telegram_user_id == bindparam("telegram_user_id")
    )
    async with db.uow() as uow:
        expected = [
            tuple(row) for row in await uow.session.execute(query, {"telegram_user_id": 42})
        ]
        got = await direct.rows(uow.session, Direct(query), {"telegram_user_id": 42})
    assert got == expected
    (row,) = got
    assert row[1] == Role.STAFF | Role.SUPERVISOR
    assert row[2] is StaffStatus.SECOND_LINE
    assert row[3] == datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)

    write = Direct(
        insert(EVENTS)
        .values(
            at=bindparam("at", type_=EVENTS.c.at.type),
            action=bindparam("action", type_=EVENTS.c.action.type),
            subject_type=bindparam("subject_type", type_=EVENTS.c.subject_type.type),
            details=bindparam("details", type_=EVENTS.c.details.type),
        )
        .returning(EVENTS.c.id)
    )
    moment = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    async with db.uow() as uow:
        ((event_id,),) = await direct.rows(
            uow.session,
            write,
            {"at": moment, "action": "test.direct", "subject_type": "test", "details": {"a": 1}},
        )
        await uow.commit()
    async with db.uow() as uow:
        (event,) = await uow.audit.events("test")
    assert (event.id, event.at, event.action, event.details) == (
        event_id,
        moment,
        "test.direct",
        {"a": 1},
    )


async def test_a_direct_statement_fails_as_sqlalchemy_would_and_writes_nothing(
    db: Database,
) -> None:
    write = Direct(
        insert(EVENTS).values(
            id=bindparam("id", type_=EVENTS.c.id.type),
            at=bindparam("at", type_=EVENTS.c.at.type),
            action=bindparam("action", type_=EVENTS.c.action.type),
            subject_type=bindparam("subject_type", type_=EVENTS.c.subject_type.type),
            details=bindparam("details", type_=EVENTS.c.details.type),
        )
    )
    values = {"id": 7, "at": datetime.now(UTC), "subject_type": "test", "details": {}}
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            await direct.rows(uow.session, write, {**values, "action": "test.first"})
            await direct.rows(uow.session, write, {**values, "action": "test.again"})
            await uow.commit()
    assert not writer_lock(str(db.engine.url.database)).locked()
    assert await _events(db) == []


def test_a_statement_with_python_side_defaults_is_refused() -> None:
    # SQLAlchemy computes those per execution; a direct statement must be given them.
    from storage.engine import create_engine

    engine = create_engine("sqlite+aiosqlite://")
    with pytest.raises(ValueError, match="created_at"):
        Direct(insert(STAFF).values(employee_no="E", name="N", department_id=1)).compiled(
            engine.dialect
        )


async def test_background_checkpoints_copy_the_wal_on_a_worker_thread(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}", background_checkpoints=True)
    try:
        await migrate.upgrade(database.engine)
        async with database.uow() as uow:
            level = (await uow.session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
        assert level == 0, "commits leave checkpoints to Database.checkpoint"
        for n in range(40):
            async with database.uow() as uow:
                await uow.audit.record(f"test.{n}", "test")
                await uow.commit()
        found = await database.checkpoint()
        assert found is not None
        busy, frames, copied = found
        assert busy == 0 and frames > 0 and copied == frames
        assert len(await _events(database)) == 40
    finally:
        await database.dispose()
    plain = Database(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}")
    try:
        async with plain.uow() as uow:
            level = (await uow.session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
        assert level == 1000, "a store without a checkpointer keeps SQLite's own"
    finally:
        await plain.dispose()
