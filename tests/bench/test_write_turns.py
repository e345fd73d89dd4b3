"""The write turns' log: each hold with its first writing statement, and the wait before it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from bench.write_turns import TurnLog, summary
from storage.engine import Database


async def test_a_writer_behind_another_waits_for_the_turn_and_holds_it_after(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (n INTEGER)"))
        log = TurnLog()
        log.attach(db.engine)
        holding = asyncio.Event()
        release = asyncio.Event()

        async def first() -> None:
            async with db.uow() as uow:
                await uow.session.execute(text("SELECT count(*) FROM notes"))
                await uow.session.execute(text("INSERT INTO notes VALUES (1)"))
                holding.set()
                await release.wait()
                await uow.commit()

        async def second() -> None:
            await holding.wait()
            async with db.uow() as uow:
                asked = asyncio.get_running_loop().call_later(0.05, release.set)
                await uow.session.execute(text("UPDATE notes SET n = 2"))
                await uow.commit()
                asked.cancel()

        await asyncio.gather(first(), second())
    finally:
        await db.dispose()
    held, behind = log.holds
    assert (held.first, behind.first) == ("INSERT INTO notes", "UPDATE notes SET")
    # The second asked while the first held the turn, and got it once the first was done.
    assert behind.began >= held.began + held.seconds
    assert behind.waited > 0
    assert log.between(behind.began, behind.began) == [behind]
    assert summary(log.holds).startswith("2 write turns")
    assert summary([]) == "no write turns"
