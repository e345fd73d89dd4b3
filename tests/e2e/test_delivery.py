"""The outbox sender against the emulator: once each, under Telegram's limits and faults."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from assessment.outbox import Outgoing, enqueue
from bot.budget import SendBudget
from bot.delivery import DEAD_AFTER, JOIN_WAIT, LEASE, DeliveryLimits, Sender, delivery_bot
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from config.clock import Clock
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import Department, OutboxMessage, Staff
from storage.repositories.outbox import OutboxRepository

from .conftest import TOKEN, eventually

pytestmark = pytest.mark.e2e

FAST = DeliveryLimits(messages_per_second=200, private_chat_interval=1.0, group_interval=3.0)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _users(driver: EmulatorDriver, count: int, first: int = 5000) -> list[int]:
    ids = [first + n for n in range(count)]
    for user_id in ids:
        await driver.add_user(EmulatedUser(id=user_id, first_name=f"U{user_id}"))
    return ids


async def _queue(db: Database, messages: list[Outgoing]) -> None:
    async with db.uow() as uow:
        await enqueue(uow, messages, now=datetime.now(UTC))
        await uow.commit()


async def _statuses(db: Database) -> Counter[DeliveryStatus]:
    async with db.uow() as uow:
        return Counter(await uow.session.scalars(select(OutboxMessage.status)))


async def _drain(
    db: Database,
    emulator: RunningEmulator,
    limits: DeliveryLimits = FAST,
    *,
    until: int,
    senders: int = 1,
    clock: Clock | None = None,
    within: float = 30,
) -> list[Sender]:
    """Run senders until ``until`` messages are settled for good."""
    stop = asyncio.Event()
    bots = [
        delivery_bot(TOKEN, emulator.base_url, emulator.base_file_url, 8) for _ in range(senders)
    ]
    workers = [Sender(db, bot, limits, clock=clock or Clock()) for bot in bots]
    for bot in bots:
        await bot.initialize()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]

    async def settled() -> bool:
        counts = await _statuses(db)
        return sum(counts[s] for s in (DeliveryStatus.SENT, DeliveryStatus.FAILED,
                                       DeliveryStatus.UNREACHABLE)) >= until  # fmt: skip

    try:
        await eventually(settled, within=within)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for bot in bots:
            await bot.shutdown()
    return workers


def _sends_per_chat(calls: list[dict[str, object]]) -> Counter[int]:
    return Counter(
        int(call["params"]["chat_id"])  # type: ignore[index]
        for call in calls
        if call["status"] == 200
    )


async def test_every_message_arrives_once_and_chats_are_spaced(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    users = await _users(driver, 10)
    await _queue(
        db,
        [
            Outgoing(
                chat_id=user, kind="test", text=f"hello {user} #{n}", dedup_key=f"t:{user}:{n}"
            )
            for user in users
            for n in range(3)
        ],
    )
    await _drain(db, emulator, until=30)
    assert await _statuses(db) == Counter({DeliveryStatus.SENT: 30})
    calls = await driver.calls("sendMessage")
    assert _sends_per_chat(calls) == Counter(dict.fromkeys(users, 3))
    for user in users:
        times = sorted(float(c["at"]) for c in calls if int(c["params"]["chat_id"]) == user)  # type: ignore[arg-type,index]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.95, f"chat {user} got messages {gaps} seconds apart"
    async with db.uow() as uow:
        ids = list(await uow.session.scalars(select(OutboxMessage.telegram_message_id)))
    assert all(ids)


async def test_queueing_the_same_message_twice_sends_it_once(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    [user] = await _users(driver, 1)
    message = Outgoing(chat_id=user, kind="test", text="once", dedup_key="notice:1:staff:1")
    await _queue(db, [message])
    await _queue(db, [message])
    await _drain(db, emulator, until=1)
    assert _sends_per_chat(await driver.calls("sendMessage")) == Counter({user: 1})


async def test_429_and_5xx_are_retried_and_every_message_still_arrives_once(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    users = await _users(driver, 40)
    await driver.inject_fault(429, method="sendMessage", chat_id=users[0], retry_after=1)
    await driver.inject_fault(500, method="sendMessage", probability=0.15, seed=7)
    await driver.inject_fault(502, method="sendMessage", chat_id=users[1], times=2)
    await _queue(db, [Outgoing(chat_id=u, kind="test", text=f"hi {u}") for u in users])
    [sender] = await _drain(db, emulator, until=40)
    assert await _statuses(db) == Counter({DeliveryStatus.SENT: 40})
    assert _sends_per_chat(await driver.calls("sendMessage")) == Counter(dict.fromkeys(users, 1))
    assert sender.stats.throttled == 1
    assert sender.stats.retried >= 2


async def test_a_blocked_recipient_is_marked_unreachable_and_not_retried(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    blocked, other = await _users(driver, 2)
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Office"))
        await uow.staff.add(
            Staff(employee_no="B1", name="Blocker", department_id=office.id,
                  telegram_user_id=blocked)
        )  # fmt: skip
        await uow.commit()
    await driver.block(blocked)
    await _queue(
        db,
        [
            Outgoing(chat_id=blocked, kind="test", text="one"),
            Outgoing(chat_id=blocked, kind="test", text="two"),
            Outgoing(chat_id=other, kind="test", text="fine"),
        ],
    )
    [sender] = await _drain(db, emulator, until=3)
    assert await _statuses(db) == Counter({DeliveryStatus.UNREACHABLE: 2, DeliveryStatus.SENT: 1})
    assert sender.stats.unreachable == 1, "the second message was settled without trying"
    async with db.uow() as uow:
        staff = await uow.staff.by_telegram_id(blocked)
        assert staff is not None
        assert staff.unreachable_since is not None


async def test_a_bad_request_fails_with_telegrams_reason(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    [user] = await _users(driver, 1)
    await _queue(db, [Outgoing(chat_id=user, kind="test", text="x" * 5000)])
    await _drain(db, emulator, until=1)
    async with db.uow() as uow:
        row = await uow.session.scalar(select(OutboxMessage))
    assert row is not None
    assert row.status is DeliveryStatus.FAILED
    assert row.error is not None and "too long" in row.error


async def test_messages_leased_by_a_dead_sender_are_sent_after_the_lease(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    users = await _users(driver, 5)
    await _queue(db, [Outgoing(chat_id=u, kind="test", text="after a crash") for u in users])
    async with db.uow() as uow:
        await uow.outbox.claim("crashed", 5, datetime.now(UTC), timedelta(seconds=60))
        await uow.session.execute(
            update(OutboxMessage).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await uow.commit()
    await _drain(db, emulator, until=5)
    assert _sends_per_chat(await driver.calls("sendMessage")) == Counter(dict.fromkeys(users, 1))


async def test_a_dead_senders_messages_are_taken_over_long_before_the_lease_ends(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    """A sender that stopped beating (killed) is found dead within seconds, its messages
    sent by a live one, each once: not after the lease's 60 s."""
    users = await _users(driver, 5)
    await _queue(db, [Outgoing(chat_id=u, kind="test", text="taken over") for u in users])
    async with db.uow() as uow:
        await uow.outbox.register("killed")
        await uow.outbox.claim("killed", 5, datetime.now(UTC), LEASE)
        await uow.commit()
    [worker] = await _drain(db, emulator, until=5, within=LEASE.total_seconds() / 3)
    assert _sends_per_chat(await driver.calls("sendMessage")) == Counter(dict.fromkeys(users, 1))
    assert worker.taken_over == 5
    async with db.uow() as uow:
        assert not (await uow.outbox.heartbeat("killed", DEAD_AFTER)).registered, "forgotten"


async def test_a_sender_joining_a_live_one_sends_only_after_the_live_one_could_beat(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    """The live sender still sends at its old share until its next beat: the one joining
    waits that long, so together they never pass the rate."""
    users = await _users(driver, 3)
    await _queue(db, [Outgoing(chat_id=u, kind="test", text="after joining") for u in users])
    async with db.uow() as uow:
        await uow.outbox.register("already-sending")
        await uow.commit()
    joined = time.time()
    [worker] = await _drain(db, emulator, until=3)
    first = min(float(call["at"]) for call in await driver.calls("sendMessage"))
    assert first - joined >= JOIN_WAIT - 0.05, f"sent {first - joined:.2f} s after joining"
    assert worker.stats.sent == 3


class StallingBudget(SendBudget):
    """A budget whose first slot takes ``stall`` seconds: the sender stalls, as on a frozen
    loop, with the messages it claimed in hand."""

    def __init__(self, rate: float, stall: float) -> None:
        super().__init__(rate)
        self.stall = stall

    async def bulk(self) -> None:
        """Stall once, then take a slot."""
        stall, self.stall = self.stall, 0.0
        await asyncio.sleep(stall)
        await super().bulk()


async def test_a_sender_found_dead_after_a_stall_sends_nothing_it_held(
    db: Database,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stalled past ``DEAD_AFTER`` with messages in hand, a sender is found dead and they are
    sent by another; waking, it sends none of them (each arrives once), starts over."""
    caplog.set_level(logging.WARNING, logger="bot.delivery")
    users = await _users(driver, 20)
    await _queue(db, [Outgoing(chat_id=u, kind="test", text="once") for u in users])
    stop = asyncio.Event()
    bots = [delivery_bot(TOKEN, emulator.base_url, emulator.base_file_url, 8) for _ in range(2)]
    for bot in bots:
        await bot.initialize()
    stalled = Sender(
        db,
        bots[0],
        FAST,
        clock=Clock(),
        budget=StallingBudget(200, DEAD_AFTER.total_seconds() + 3),
    )
    tasks = [asyncio.create_task(stalled.run(stop))]

    async def claimed() -> bool:
        async with db.uow() as uow:
            return await uow.outbox.leased_by(stalled.worker_id) > 0

    await eventually(claimed)
    other = Sender(db, bots[1], FAST, clock=Clock())
    tasks.append(asyncio.create_task(other.run(stop)))

    async def settled() -> bool:
        return (await _statuses(db))[DeliveryStatus.SENT] == len(users)

    try:
        await eventually(settled, within=30)

        async def woke() -> bool:
            return "this sender was found dead" in caplog.text

        await eventually(woke, within=15)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for bot in bots:
            await bot.shutdown()
    assert other.taken_over > 0
    assert _sends_per_chat(await driver.calls("sendMessage")) == Counter(dict.fromkeys(users, 1))


async def test_a_stopping_sender_hands_back_what_it_did_not_send(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    [user] = await _users(driver, 1)
    await _queue(db, [Outgoing(chat_id=user, kind="test", text=f"#{n}") for n in range(4)])
    stop = asyncio.Event()
    bot = delivery_bot(TOKEN, emulator.base_url, emulator.base_file_url, 8)
    await bot.initialize()
    task = asyncio.create_task(Sender(db, bot, FAST, clock=Clock()).run(stop))

    async def first_sent() -> bool:
        return (await _statuses(db))[DeliveryStatus.SENT] >= 1

    await eventually(first_sent)
    stop.set()
    await task
    await bot.shutdown()
    counts = await _statuses(db)
    assert counts[DeliveryStatus.SENDING] == 0
    assert counts[DeliveryStatus.SENT] + counts[DeliveryStatus.PENDING] == 4
    assert counts[DeliveryStatus.PENDING] >= 1, "one a second per chat: the rest waited"


async def test_two_senders_share_one_outbox_without_duplicates(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    users = await _users(driver, 300)
    await _queue(db, [Outgoing(chat_id=u, kind="test", text="shared") for u in users])
    # At 100 a second the queue outlasts the wait of the sender that registers second
    # (``JOIN_WAIT``): at the fast limits the first could send all 300 before it began.
    workers = await _drain(
        db, emulator, DeliveryLimits(messages_per_second=100), until=300, senders=2
    )
    assert _sends_per_chat(await driver.calls("sendMessage")) == Counter(dict.fromkeys(users, 1))
    assert all(worker.stats.sent > 0 for worker in workers), "both took a share"


async def test_a_scheduled_message_waits_for_its_time(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    [user] = await _users(driver, 1)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    await _queue(db, [Outgoing(chat_id=user, kind="test", text="later", not_before=at)])
    await _drain(db, emulator, until=1)
    [call] = await driver.calls("sendMessage")
    assert float(call["at"]) >= at.timestamp()  # type: ignore[arg-type]


async def test_the_sender_keeps_time_by_the_bots_clock(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    """Started two days ahead, the sender sends what is due by then and records its time."""
    [user] = await _users(driver, 1)
    ahead = datetime.now(UTC) + timedelta(days=2)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    await _queue(db, [Outgoing(chat_id=user, kind="test", text="due", not_before=tomorrow)])
    await _drain(db, emulator, until=1, clock=Clock(ahead))
    async with db.uow() as uow:
        row = await uow.session.scalar(select(OutboxMessage))
    assert row is not None
    assert row.status is DeliveryStatus.SENT
    assert row.finished_at is not None
    assert row.finished_at >= ahead


async def test_interactive_replies_do_not_wait_behind_a_broadcast(
    bot: WorkledgerApplication, driver: EmulatorDriver, database_url: str
) -> None:
    users = await _users(driver, 200)
    database = bot.bot_data.database
    await _queue(database, [Outgoing(chat_id=u, kind="test", text="bulk") for u in users])
    someone = EmulatedUser(id=4242, first_name="Asker", language_code="en")
    started = asyncio.get_running_loop().time()
    await driver.send_text(someone, "/help")
    await driver.wait_for_message(someone.id, timeout=3)
    assert asyncio.get_running_loop().time() - started < 2
    assert (await _statuses(database))[DeliveryStatus.PENDING] > 0, "the broadcast was still going"


async def test_a_failed_settlement_write_is_retried_not_lost(
    db: Database,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One failed write of outcomes must neither drop them (resent after the lease) nor stop."""
    users = await _users(driver, 20)
    await _queue(db, [Outgoing(chat_id=u, kind="test", text="settle me") for u in users])
    real_settle = OutboxRepository.settle
    failures = iter([True])

    async def flaky_settle(
        self: OutboxRepository, outcomes: list[dict[str, object]], owner: str | None = None
    ) -> None:
        if outcomes and next(failures, False):
            raise OperationalError("UPDATE outbox", {}, Exception("database is locked"))
        await real_settle(self, outcomes, owner)

    monkeypatch.setattr(OutboxRepository, "settle", flaky_settle)
    await _drain(db, emulator, until=20)
    assert await _statuses(db) == Counter({DeliveryStatus.SENT: 20})
    assert _sends_per_chat(await driver.calls("sendMessage")) == Counter(dict.fromkeys(users, 1))
