"""Replies and the outbox sender share one send budget in the bot's process, replies first."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from assessment.outbox import Outgoing, enqueue
from bot.app import build_application, running
from bot.budget import SendBudget
from bot.delivery import DeliveryLimits, Sender, delivery_bot
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from config.clock import Clock
from config.policy import Policy, load_policy
from config.settings import Settings
from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage

from .conftest import TOKEN, eventually

pytestmark = pytest.mark.e2e

# Low enough that the sender alone keeps the budget full.
RATE = 10


def _policy_at(rate: int) -> Policy:
    policy = load_policy()
    broadcast = policy.broadcast.model_copy(update={"messages_per_second": rate})
    return policy.model_copy(update={"broadcast": broadcast})


def _busiest_second(times: list[float]) -> int:
    """The most calls in any window [t, t + 1 s)."""
    times = sorted(times)
    busiest, first = 0, 0
    for last, moment in enumerate(times):
        while times[first] <= moment - 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


async def test_replies_and_the_sender_share_one_budget_and_replies_go_first(
    settings: Settings, driver: EmulatorDriver
) -> None:
    recipients = [6000 + n for n in range(30)]
    for user_id in recipients:
        await driver.add_user(EmulatedUser(id=user_id, first_name=f"R{user_id}"))
    askers = [EmulatedUser(id=7000 + n, first_name=f"A{n}", language_code="en") for n in range(8)]
    application = build_application(settings, _policy_at(RATE))
    async with running(application) as bot:
        database = bot.bot_data.database
        async with database.uow() as uow:
            await enqueue(
                uow,
                [Outgoing(chat_id=u, kind="test", text="bulk") for u in recipients],
                now=bot.bot_data.clock.now(),
            )
            await uow.commit()
        await driver.wait_for_call("sendMessage")  # the broadcast is under way
        await asyncio.gather(*(driver.send_text(asker, "/help") for asker in askers))
        for asker in askers:
            await driver.wait_for_message(asker.id, timeout=10)

        async def drained() -> bool:
            async with database.uow() as uow:
                statuses = Counter(await uow.session.scalars(select(OutboxMessage.status)))
            return statuses[DeliveryStatus.SENT] == len(recipients)

        await eventually(drained, within=30)

    # Every call that names a chat counts against Telegram's one global limit.
    calls = [call for call in await driver.calls() if "chat_id" in call["params"]]
    to_askers = {asker.id for asker in askers}
    replies = sorted(float(c["at"]) for c in calls if int(c["params"]["chat_id"]) in to_askers)
    bulk = sorted(float(c["at"]) for c in calls if int(c["params"]["chat_id"]) in recipients)
    assert len(replies) == len(askers)
    assert len(bulk) == len(recipients)

    allowed = int(RATE * 1.0 + SendBudget(RATE).burst)
    busiest = _busiest_second([float(call["at"]) for call in calls])
    assert busiest <= allowed, f"{busiest} calls in one second, the budget allows {allowed}"

    # While replies waited, the sender held back: at most the one message it had already
    # been given a slot for arrives among them, and the broadcast went on afterwards.
    among = [moment for moment in bulk if replies[0] < moment < replies[-1]]
    assert len(among) <= 1, f"{len(among)} outbox messages went out between the replies"
    assert bulk[-1] > replies[-1], "the replies came while the broadcast was still going"


async def test_two_processes_share_the_rate_replies_first_in_each(
    database_url: str, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    """Two processes' budgets (replies and sender) on one store: at most 1.1x the rate in
    any second across both, each process's replies ahead of its own broadcast."""
    rate = 30
    recipients = [6000 + n for n in range(150)]
    for user_id in recipients:
        await driver.add_user(EmulatedUser(id=user_id, first_name=f"R{user_id}"))
    askers = [[7000 + 10 * p + n for n in range(8)] for p in range(2)]
    for user_id in (u for group in askers for u in group):
        await driver.add_user(EmulatedUser(id=user_id, first_name=f"A{user_id}"))
    database = Database(database_url)
    budgets = [SendBudget(rate), SendBudget(rate)]
    bots = [delivery_bot(TOKEN, emulator.base_url, emulator.base_file_url, 10) for _ in budgets]
    senders = [
        Sender(database, bot, DeliveryLimits(rate), clock=Clock(), budget=budget)
        for bot, budget in zip(bots, budgets, strict=True)
    ]
    stop = asyncio.Event()
    for bot in bots:
        await bot.initialize()
    running_senders = [asyncio.create_task(sender.run(stop)) for sender in senders]

    async def reply(process: int, chat_id: int) -> None:
        await budgets[process].reply()
        await bots[process].send_message(chat_id, "reply")

    try:

        async def both_alive() -> bool:
            return all(budget.senders == 2 for budget in budgets)

        await eventually(both_alive, within=30)
        async with database.uow() as uow:
            await enqueue(
                uow,
                [Outgoing(chat_id=u, kind="test", text="bulk") for u in recipients],
                now=datetime.now(UTC),
            )
            await uow.commit()
        await driver.wait_for_call("sendMessage")
        await asyncio.sleep(1.0)  # both senders at full pace
        await asyncio.gather(
            *(reply(p, chat_id) for p, group in enumerate(askers) for chat_id in group)
        )

        async def drained() -> bool:
            async with database.uow() as uow:
                statuses = Counter(await uow.session.scalars(select(OutboxMessage.status)))
            return statuses[DeliveryStatus.SENT] == len(recipients)

        await eventually(drained, within=60)
    finally:
        stop.set()
        await asyncio.gather(*running_senders)
        for bot in bots:
            await bot.shutdown()
        await database.dispose()

    calls = [call for call in await driver.calls() if "chat_id" in call["params"]]
    busiest = _busiest_second([float(call["at"]) for call in calls])
    assert busiest <= 1.1 * rate, f"{busiest} calls in one second across both, rate {rate}"
    for process, sender in enumerate(senders):
        mine = set(askers[process])
        replies = sorted(float(c["at"]) for c in calls if int(c["params"]["chat_id"]) in mine)
        bulk = [
            float(c["at"]) for c in calls if int(c["params"]["chat_id"]) in sender.stats.by_chat
        ]
        assert len(replies) == len(mine)
        among = [moment for moment in bulk if replies[0] < moment < replies[-1]]
        assert len(among) <= 1, f"process {process}: {len(among)} bulk among its replies"
        assert max(bulk) > replies[-1], "the replies came while the broadcast was still going"
