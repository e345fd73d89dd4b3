"""The inbox repository: stored once, unfinished in order, claimed counts as done, pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.engine import Database
from storage.repositories.inbox import Received

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _received(*update_ids: int) -> list[Received]:
    return [
        Received(n, 100 + n, {"update_id": n, "message": {"text": f"#{n}", "emoji": "工作"}})
        for n in update_ids
    ]


async def test_an_update_is_stored_once_and_only_new_ones_are_reported(db: Database) -> None:
    async with db.uow() as uow:
        assert await uow.inbox.accept(_received(3, 1, 2), at=NOW) == {1, 2, 3}
        await uow.commit()
    async with db.uow() as uow:
        # Telegram sends 2 and 3 again with a new one: only the new one is new.
        assert await uow.inbox.accept(_received(2, 3, 4), at=NOW) == {4}
        assert await uow.inbox.accept([], at=NOW) == set()
        await uow.commit()
    async with db.uow() as uow:
        rows = await uow.inbox.unfinished(after=None, limit=10)
    assert [row.update_id for row in rows] == [1, 2, 3, 4]
    assert rows[0].payload == {"update_id": 1, "message": {"text": "#1", "emoji": "工作"}}
    assert {row.attempts for row in rows} == {1}


async def test_unfinished_leaves_out_finished_and_claimed_updates(db: Database) -> None:
    async with db.uow() as uow:
        await uow.inbox.accept(_received(*range(1, 8)), at=NOW)
        await uow.inbox.finish([2, 5], at=NOW)
        # 3's first commit happened (its claim) but the crash came before it was marked.
        assert await uow.updates.claim(3, at=NOW)
        await uow.inbox.attempt([4, 4, 6])
        await uow.inbox.attempt([4])
        await uow.commit()
    async with db.uow() as uow:
        first = await uow.inbox.unfinished(after=None, limit=2)
        rest = await uow.inbox.unfinished(after=first[-1].update_id, limit=10)
    assert [(row.update_id, row.attempts) for row in first] == [(1, 1), (4, 3)]
    assert [(row.update_id, row.attempts) for row in rest] == [(6, 2), (7, 1)]


async def test_old_stored_updates_are_pruned(db: Database) -> None:
    async with db.uow() as uow:
        await uow.inbox.accept(_received(1), at=NOW - timedelta(days=8))
        await uow.inbox.accept(_received(2), at=NOW)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.inbox.forget_before(NOW - timedelta(days=7)) == 1
        await uow.commit()
    async with db.uow() as uow:
        assert [row.update_id for row in await uow.inbox.unfinished(after=None, limit=10)] == [2]
