"""Smoke test of the batches benchmark: tiny numbers, every batch timed, everyone reminded once."""

from __future__ import annotations

from sqlalchemy import func, select

from bench.batches import render, run, seed
from storage import migrate
from storage.engine import Database
from storage.models import OutboxMessage


async def test_every_batch_is_timed_and_everyone_owing_is_reminded(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database.engine)
        await seed(database, 300)
        report = await run(database, 100)
        async with database.uow() as uow:
            queued = await uow.session.scalar(select(func.count()).select_from(OutboxMessage))
    finally:
        await database.dispose()
    # Of 300: 1 in 10 not linked, 1 in 25 left, a third logged (1 in 12 deleted it), 1 in 7
    # of the rest on leave.
    assert report.queued == queued == 172
    assert len(report.transactions) == len(report.cpu) == 3
    assert "batch size" in render("scratch", 300, [report])
