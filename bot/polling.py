"""Long polling that confirms an update to Telegram only once it is stored.

Telegram forgets an update when a ``getUpdates`` call names a later offset. PTB's own
updater asks for the next batch while the last one is still in memory, so a crash
lost whatever had not been handled. Here each batch goes through the inbox
(``bot.inbox.Intake.accept``: stored, committed, then handed to the handlers) before
the next call confirms it. On start the inbox's unfinished updates are replayed
first, so the bot resumes where it stopped.

Failures are handled as PTB's updater does, with one log line per spell of trouble:
a 429 waits as long as Telegram asks; a timed-out long poll is simply repeated; other
errors (the network, 409 Conflict when another process polls with the same token,
an unreachable store) are retried with a backoff that grows to 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot
from telegram.error import Conflict, RetryAfter, TelegramError, TimedOut

from bot.inbox import Intake, brief

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds Telegram holds a getUpdates call open when there is nothing to send.
LONG_POLL = 10.0
MAX_BACKOFF = 30.0
# At shutdown, the last batch's confirmation is sent within this long, or left to the
# next start (which finds those updates stored already).
CONFIRM_WITHIN = 5.0


class _Stopped(Exception):  # noqa: N818 - a state, not an error
    """The poller was told to stop while it waited."""


class Poller:
    """Fetches updates with ``getUpdates`` into ``intake`` until ``stop``."""

    def __init__(
        self,
        bot: Bot,
        intake: Intake,
        allowed_updates: Sequence[str],
        *,
        timeout: float = LONG_POLL,
    ) -> None:
        self._bot = bot
        self._intake = intake
        self._allowed = list(allowed_updates)
        self._timeout = timeout
        self._stop = asyncio.Event()
        # The offset that confirms every stored update, and the last one Telegram was sent.
        self._offset: int | None = None
        self._confirmed: int | None = None
        self._trouble: str | None = None
        self._backoff = 0.0

    async def run(self) -> None:
        """Replay the inbox, then poll; returns once ``stop`` was called."""
        try:
            await self._replay()
            while not self._stop.is_set():
                await self._until_stopped(self._intake.room())
                await self._step()
        except _Stopped:
            pass
        await self._confirm_last()

    async def _replay(self) -> None:
        while True:
            try:
                # Not cut off by stop: the intake's ``close`` ends it between batches.
                await self._intake.replay()
            except SQLAlchemyError as error:
                await self._trouble_with(
                    f"cannot read the inbox ({brief(error)})", self._next_backoff()
                )
            else:
                return

    def stop(self) -> None:
        """Stop polling: a long poll in progress is abandoned (nothing in it is confirmed)."""
        self._stop.set()
        self._intake.close()

    async def _step(self) -> None:
        try:
            offset = self._offset
            updates = await self._until_stopped(
                self._bot.get_updates(
                    offset=offset,
                    timeout=timedelta(seconds=self._timeout),
                    allowed_updates=self._allowed,
                )
            )
            self._confirmed = offset
            if updates:
                # Not while stopping: a commit is never cut off half-way.
                await self._intake.accept(updates)
                self._offset = updates[-1].update_id + 1
        except _Stopped:
            raise
        except RetryAfter as error:
            await self._trouble_with(f"Telegram asks to wait ({error})", _seconds(error) + 0.5)
        except TimedOut:
            return  # a long poll the network dropped: ask again at once
        except Conflict as error:
            await self._trouble_with(
                f"another process is polling with this bot's token ({error.message})",
                self._next_backoff(),
            )
        except TelegramError as error:
            await self._trouble_with(f"cannot get updates ({error})", self._next_backoff())
        except SQLAlchemyError as error:
            # Nothing is confirmed: Telegram sends the same batch again next time.
            await self._trouble_with(
                f"cannot store updates ({brief(error)}); they wait at Telegram",
                self._next_backoff(),
            )
        except Exception as error:
            await self._trouble_with(
                f"unexpected failure receiving updates ({error!r})",
                self._next_backoff(),
                exc_info=True,
            )
        else:
            if self._trouble is not None:
                log.info("receiving updates again")
            self._trouble = None
            self._backoff = 0.0

    async def _trouble_with(self, what: str, wait: float, *, exc_info: bool = False) -> None:
        if self._trouble is None:
            log.warning("%s; retrying", what, exc_info=exc_info)
        else:
            log.debug("%s; retrying", what)
        self._trouble = what
        await self._until_stopped(asyncio.sleep(wait))

    def _next_backoff(self) -> float:
        self._backoff = 1.0 if self._backoff == 0 else min(MAX_BACKOFF, self._backoff * 1.5)
        return self._backoff * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not secrecy

    async def _until_stopped(self, awaitable: Awaitable[T]) -> T:
        if self._stop.is_set():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise _Stopped
        work = asyncio.ensure_future(awaitable)
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((work, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await work
            raise _Stopped
        return work.result()

    async def _confirm_last(self) -> None:
        # Tell Telegram the last stored batch arrived, so the next start is not sent it
        # again (it would find it stored and skip it: this only saves the trip).
        if self._offset is None or self._offset == self._confirmed:
            return
        try:
            async with asyncio.timeout(CONFIRM_WITHIN):
                await self._bot.get_updates(
                    offset=self._offset, limit=1, timeout=0, allowed_updates=self._allowed
                )
        except (TelegramError, TimeoutError) as error:
            log.debug("could not confirm the last updates at shutdown: %s", error)


def _seconds(error: RetryAfter) -> float:
    # A timedelta with PTB_TIMEDELTA set (as the entry points do), else seconds.
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
