"""One send budget per process: its share of Telegram's global limit, for replies and the sender.

Telegram lets a bot send about ``broadcast.messages_per_second`` messages in all, not that
many for replies and as many again for broadcasts, nor that many per process. The live
outbox senders share the rate evenly (``bot.delivery``: each one's heartbeat counts the
live ones and sets its process's share, ``SendBudget.shared_by``). In one process, every
request that names a chat (a reply through PTB's rate limiter, a message of the outbox
sender) takes a slot from one leaky bucket at that share. Replies come first: the sender
takes a slot only while no reply is waiting, and leaves ``REPLY_HEADROOM`` of the share
free, so a reply to someone who just acted goes out at once, or after at most one slot
of the sender's.

Burst: the bucket holds ``1 + share * (CATCH_UP + REPLY_HEADROOM)`` slots (the headroom at
most one), so over any window of ``t`` seconds a process sends fewer than
``share * t + burst`` messages, and ``n`` processes sharing the rate fewer than
``rate * (t + CATCH_UP + REPLY_HEADROOM) + n``: at 30 a second, 32 in the busiest second
of one process or of two (1.07x).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter

# The share's worth of seconds the sender leaves free for a reply that arrives while it
# is busy (at most one slot): what a reply waits for is less than one of the sender's slots.
REPLY_HEADROOM = 0.025
# A limiter may make up for this long lost to a slow loop turn: enough to hold the
# rate, too little to burst.
CATCH_UP = 0.025

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
        # The global rate; this process sends at ``share``, ``rate`` over the live senders.
        self.rate = rate
        self.senders = 1
        self._headroom = 0.0
        self._bucket = self._new_bucket()
        self._replies_waiting = 0
        self._no_replies = asyncio.Event()
        self._no_replies.set()

    @property
    def share(self) -> float:
        """The messages a second this process may send."""
        return self.rate / self.senders

    @property
    def burst(self) -> float:
        """The slots the bucket holds."""
        return float(self._bucket.max_rate)

    def _new_bucket(self) -> AsyncLimiter:
        self._headroom = min(1.0, self.share * REPLY_HEADROOM)
        return leaky_bucket(self.share, headroom=self._headroom)

    async def shared_by(self, senders: int) -> None:
        """The live senders changed: take ``rate / senders`` from now on."""
        senders = max(1, senders)
        if senders == self.senders:
            return
        self.senders = senders
        bucket = self._new_bucket()
        # Full from the start, as if it had just sent its burst: a change of share never
        # adds one. (Takes at once: there is room.) Those waiting already finish on the old.
        await bucket.acquire(bucket.max_rate)
        self._bucket = bucket

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
            if self._bucket.has_capacity(1 + self._headroom):
                # There is room, so this returns without yielding: no reply can slip in between.
                await self._bucket.acquire()
                return
            # The bucket frees one slot per interval; look again then.
            await asyncio.sleep(1 / self.share)


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
