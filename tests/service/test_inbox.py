"""The inbox repository: stored once, unfinished in order, claimed counts as done, pruned."""

from __future__ import annotations

import asyncio
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


async def test_the_same_update_stored_by_two_at_once_is_new_to_one_of_them(db: Database) -> None:
    """Two processes behind one webhook both sent update 9: the unique key picks one."""

    async def store() -> set[int]:
        async with db.uow() as uow:
            new = await uow.inbox.accept(_received(9), at=NOW)
            await uow.commit()
        return new

    results = await asyncio.gather(*(store() for _ in range(4)))
    assert sorted(len(new) for new in results) == [0, 0, 0, 1]


async def test_updates_nobody_holds_are_taken_over_once_and_held_ones_are_left(
    db: Database,
) -> None:
    hold = timedelta(seconds=6)
    async with db.uow() as uow:
        # 1-3 stored by a process that died at NOW; 4 by one alive, renewed; 5 finished.
        await uow.inbox.accept(_received(1, 2, 3, 5), at=NOW, hold=hold)
        await uow.inbox.accept(_received(4), at=NOW + timedelta(seconds=5), hold=hold)
        await uow.inbox.finish([5], at=NOW)
        assert await uow.updates.claim(2, at=NOW)  # its effect happened: not again
        await uow.commit()
    later = NOW + timedelta(seconds=7)

    async def take() -> list[tuple[int, int]]:
        async with db.uow() as uow:
            rows = await uow.inbox.take_unheld(now=later, until=later + hold, limit=10)
            await uow.commit()
        return [(row.update_id, row.attempts) for row in rows]

    taken = await asyncio.gather(take(), take())
    assert sorted(taken[0] + taken[1]) == [(1, 1), (3, 1)], "each taken by one of them"
    async with db.uow() as uow:
        # Held again by the taker: nobody takes them before that hold runs out.
        assert await uow.inbox.take_unheld(now=later, until=later + hold, limit=10) == []
        await uow.inbox.hold([4], until=later + hold)
        rows = await uow.inbox.take_unheld(
            now=later + hold + timedelta(seconds=1), until=later + 2 * hold, limit=10
        )
        await uow.commit()
    assert [(row.update_id, row.attempts) for row in rows] == [(1, 2), (3, 2), (4, 1)]
