"""SQLite's write turns: a background job's writes after people's (SQLite only:
PostgreSQL has no single writer)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.engine import Database


@pytest.fixture
async def db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "turns.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT)"))
    try:
        yield db
    finally:
        await db.dispose()


async def test_people_s_writers_get_the_turn_before_a_background_job_s(db: Database) -> None:
    turns = db.write_turns
    assert turns is not None
    said: list[str] = []

    async def write(name: str, *, background: bool) -> None:
        async with db.uow(background=background) as uow:
            await uow.session.execute(
                text("INSERT INTO scratch (body) VALUES (:name)"), {"name": name}
            )
            said.append(name)
            await uow.commit()

    async def queued(count: int) -> None:
        for _ in range(200):
            if turns.waiting == count:
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"{count} writers never queued")

    async with db.uow() as first:
        await first.session.execute(text("INSERT INTO scratch (body) VALUES ('first')"))
        job = asyncio.create_task(write("job", background=True))
        await queued(1)
        person = asyncio.create_task(write("person", background=False))
        await queued(2)
        await first.commit()
    await asyncio.gather(job, person)
    assert said == ["person", "job"], "the person queued after the job and wrote first"
    assert not turns.taken and turns.waiting == 0
    # Nobody else waiting: the job's writer takes the turn at once.
    await write("job alone", background=True)
    assert said[-1] == "job alone"
