"""The send budget: replies before the sender, and PTB's limiter taking from the budget."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from telegram.error import RetryAfter

from bot.budget import BudgetedRateLimiter, SendBudget


async def _take_all(budget: SendBudget) -> None:
    """Empty the bucket (each of these replies finds room at once)."""
    for _ in range(int(budget.burst)):
        await budget.reply()


async def test_replies_waiting_go_before_the_sender_even_when_it_came_first() -> None:
    budget = SendBudget(50)
    await _take_all(budget)
    order: list[str] = []

    async def take(kind: str, slot: Any) -> None:
        await slot()
        order.append(kind)

    bulk = asyncio.create_task(take("outbox", budget.bulk))
    await asyncio.sleep(0)  # the sender is waiting first
    replies = [asyncio.create_task(take("reply", budget.reply)) for _ in range(3)]
    await asyncio.gather(bulk, *replies)
    assert order == ["reply", "reply", "reply", "outbox"]


async def test_a_reply_finds_room_at_once_while_the_sender_drains_flat_out() -> None:
    budget = SendBudget(50)
    sent = 0

    async def drain() -> None:
        nonlocal sent
        while True:
            await budget.bulk()
            sent += 1

    sender = asyncio.create_task(drain())
    try:
        for round_ in range(1, 6):
            # Let the sender fill the bucket as far as it may.
            while sent < 5 * round_:  # noqa: ASYNC110 - the sender's progress is the event
                await asyncio.sleep(0.005)
            reply = asyncio.create_task(budget.reply())
            await asyncio.sleep(0)  # one turn of the loop: no time for the bucket to drain
            assert reply.done(), f"reply {round_} waited for the sender"
            await reply
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


class CountingBudget(SendBudget):
    """A budget that counts the reply slots taken."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.replies = 0

    async def reply(self) -> None:
        """Count, then take the slot."""
        self.replies += 1
        await super().reply()


async def test_requests_naming_a_chat_take_a_slot_each_attempt_others_none() -> None:
    budget = CountingBudget(1000)
    limiter = BudgetedRateLimiter(budget, max_retries=1)
    await limiter.initialize()
    answers = iter([RetryAfter(0), {"ok": True}])

    async def telegram() -> dict[str, Any]:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def no_chat() -> bool:
        return True

    assert await limiter.process_request(no_chat, (), {}, "setMyCommands", {}, None) is True
    assert budget.replies == 0
    result = await limiter.process_request(
        telegram, (), {}, "sendMessage", {"chat_id": 42, "text": "hi"}, None
    )
    assert result == {"ok": True}
    assert budget.replies == 2, "the retry after the 429 took a slot of its own"
    await limiter.shutdown()
