"""One send budget per process: Telegram's global limit, shared by replies and the sender.

Telegram lets a bot send about ``broadcast.messages_per_second`` messages in all, not that
many for replies and as many again for broadcasts. In one process, every request that
names a chat (a reply through PTB's rate limiter, a message of the outbox sender) takes
a slot from one leaky bucket at that rate. Replies come first: the sender takes a slot
only while no reply is waiting, and leaves ``REPLY_HEADROOM`` slots free, so a reply to
someone who just acted goes out at once, or after at most one slot of the sender's.

Burst: the bucket holds ``1 + REPLY_HEADROOM + rate * CATCH_UP`` slots, so over any
window of ``t`` seconds the process sends at most ``rate * t + burst`` messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter

# Slots the sender leaves free for a reply that arrives while it is busy.
REPLY_HEADROOM = 1
# A limiter may make up for this long lost to a slow loop turn: enough to hold the
# rate, too little to burst.
CATCH_UP = 0.05

Result: TypeAlias = bool | dict[str, Any] | list[dict[str, Any]]


def leaky_bucket(rate: float, *, headroom: float = 0) -> AsyncLimiter:
    """A limiter at ``rate`` a second holding one slot, ``CATCH_UP``'s worth and ``headroom``."""
    capacity = 1 + rate * CATCH_UP + headroom
    return AsyncLimiter(capacity, capacity / rate)


class SendBudget:
    """The process's share of Telegram's global limit: replies first, the sender takes the rest."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("a send budget needs a positive rate")
        self.rate = rate
        self._bucket = leaky_bucket(rate, headroom=REPLY_HEADROOM)
        self.burst = self._bucket.max_rate
        self._replies_waiting = 0
        self._no_replies = asyncio.Event()
        self._no_replies.set()

    async def reply(self) -> None:
        """Take a slot for a reply, ahead of every outbox message."""
        self._replies_waiting += 1
        self._no_replies.clear()
        try:
            await self._bucket.acquire()
        finally:
            self._replies_waiting -= 1
            if not self._replies_waiting:
                self._no_replies.set()

    async def bulk(self) -> None:
        """Take a slot for an outbox message: what replies leave, headroom kept free for them."""
        while True:
            await self._no_replies.wait()
            if self._bucket.has_capacity(1 + REPLY_HEADROOM):
                # There is room, so this returns without yielding: no reply can slip in between.
                await self._bucket.acquire()
                return
            # The bucket frees one slot per interval; look again then.
            await asyncio.sleep(1 / self.rate)


class BudgetedRateLimiter(BaseRateLimiter[int]):
    """PTB's ``AIORateLimiter`` for replies, with its overall limit replaced by the budget.

    The per-group limit and the retries after a 429 stay PTB's; a request that names a
    chat takes a reply slot of ``budget`` right before each attempt goes to Telegram.
    """

    def __init__(self, budget: SendBudget, *, max_retries: int = 0) -> None:
        self.budget = budget
        # Told of each 429 a reply gets (``bot.metrics``); PTB's limiter retries it.
        self.on_throttled: Callable[[], None] | None = None
        self._limiter = AIORateLimiter(overall_max_rate=0, max_retries=max_retries)

    async def initialize(self) -> None:
        """Initialize PTB's limiter."""
        await self._limiter.initialize()

    async def shutdown(self) -> None:
        """Shut PTB's limiter down."""
        await self._limiter.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Send through PTB's limiter; what names a chat waits for a slot of the budget first."""
        # As PTB counts: only requests naming a chat, and paid broadcasts have their own limit.
        if data.get("chat_id") is None or data.get("allow_paid_broadcast"):
            return await self._limiter.process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )

        async def within_budget(*call_args: Any, **call_kwargs: Any) -> Result:
            await self.budget.reply()
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter:
                if self.on_throttled is not None:
                    self.on_throttled()
                raise

        return await self._limiter.process_request(
            within_budget, args, kwargs, endpoint, data, rate_limit_args
        )
