"""Senders' heartbeats by the store's clock, and a dead sender's leases taken over at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from assessment.outbox import Outgoing, enqueue
from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage

# The bots' clock is a year ahead (as the sandbox may move it): liveness never reads it.
BOT_NOW = datetime.now(UTC) + timedelta(days=365)
LEASE = timedelta(seconds=60)
LONG = timedelta(minutes=1)


async def _beat(db: Database, worker_id: str, dead_after: timedelta = LONG) -> tuple[bool, int]:
    async with db.uow() as uow:
        beat = await uow.outbox.heartbeat(worker_id, dead_after)
        if not beat.registered:
            await uow.outbox.register(worker_id)
        await uow.commit()
    return beat.registered, beat.alive


async def _claim(db: Database, worker_id: str, count: int) -> list[int]:
    async with db.uow() as uow:
        rows = await uow.outbox.claim(worker_id, count, BOT_NOW, LEASE)
        await uow.commit()
    return [row.id for row in rows]


async def test_a_dead_senders_leases_end_at_once_and_it_learns_it_was_found_dead(
    db: Database,
) -> None:
    async with db.uow() as uow:
        await enqueue(
            uow,
            [Outgoing(chat_id=5000 + n, kind="test", text=f"#{n}") for n in range(5)],
            now=BOT_NOW,
        )
        await uow.commit()
    assert await _beat(db, "dead") == (False, 1), "a first beat: not registered yet"
    assert await _beat(db, "live") == (False, 2)
    assert await _beat(db, "dead") == (True, 2)
    held = await _claim(db, "dead", 3)
    await asyncio.sleep(0.2)
    await _beat(db, "live")
    # Nothing is stale by a minute; the claim leaves the dead one's rows alone.
    async with db.uow() as uow:
        assert await uow.outbox.take_over(LONG, BOT_NOW) == (0, 0)
        await uow.commit()
    assert set(await _claim(db, "live", 5)).isdisjoint(held)

    # "dead" was last seen 0.2 s ago by the store's clock, "live" just now.
    async with db.uow() as uow:
        beat = await uow.outbox.heartbeat("live", timedelta(seconds=0.1))
        assert (beat.registered, beat.alive, beat.dead) == (True, 1, 1)
        assert await uow.outbox.take_over(timedelta(seconds=0.1), BOT_NOW) == (1, 3)
        await uow.commit()
    # Due at once for the next claim, long before their lease would have run out.
    assert sorted(await _claim(db, "live", 5)) == sorted(held)

    # The dead one, back (it had stalled): its heartbeat says it was found dead, and what
    # it writes late about the rows it held no longer counts.
    async with db.uow() as uow:
        assert not (await uow.outbox.heartbeat("dead", LONG)).registered
        await uow.outbox.settle(
            [
                {"id": row_id, "status": DeliveryStatus.FAILED, "lease_owner": None}
                for row_id in held
            ],
            "dead",
        )
        await uow.outbox.release(held, "dead")
        assert await uow.outbox.leased_by("live") == 5
        await uow.commit()
    async with db.uow() as uow:
        rows = (await uow.session.scalars(select(OutboxMessage))).all()
    assert {row.status for row in rows} == {DeliveryStatus.SENDING}
    assert {row.lease_owner for row in rows} == {"live"}


async def test_retiring_removes_the_heartbeat_and_the_others_share_the_rate(db: Database) -> None:
    for worker_id in ("a", "b", "c"):
        await _beat(db, worker_id)
    assert await _beat(db, "a") == (True, 3)
    async with db.uow() as uow:
        await uow.outbox.retire("c")
        await uow.commit()
    assert await _beat(db, "a") == (True, 2)
