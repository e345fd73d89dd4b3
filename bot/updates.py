"""Updates of different people at once, each person's in the order they came.

python-telegram-bot handles one update at a time unless told otherwise, and with plain
concurrency it would handle one person's updates out of order too (a /log answer
before the button press that asked for it). Here updates of different chats run side
by side, so one waiting for the store never holds up everyone else, while each chat's
updates run one after another, in the order Telegram sent them.

The inbox (``bot.inbox``) hears of each update the handlers are done with; when the
bot stops, updates not yet started are left for the next start (they are stored).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Updates in progress at once. The store's pool serves 15 connections (5 + 10 overflow),
# so more than twice that would only wait for one; fewer would leave it idle while a
# few slow updates (a roster file, a long list) hold the rest up.
CONCURRENT_UPDATES = 32
# Updates accepted at once, running or waiting for their chat's earlier ones. PTB holds a
# slot of this from before ``do_process_update``, so it must leave room for a chat's
# queue: otherwise one person tapping fast behind a slow update would take every slot.
ACCEPTED_UPDATES = 1024


def chat_of(update: object) -> int | None:
    """The chat an update belongs to (its sender's private chat when it names none)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None if update.effective_user is None else update.effective_user.id


class PerChatUpdates(BaseUpdateProcessor):
    """Concurrent across chats, in order within a chat."""

    def __init__(self, concurrent: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max(ACCEPTED_UPDATES, concurrent))
        # Only updates whose chat's earlier ones are done take one of these.
        self._running = asyncio.Semaphore(concurrent)
        # The last update of each chat still in progress: the next one waits for it.
        self._last: dict[int, asyncio.Future[None]] = {}
        # Told of each update the handlers are done with (handled, refused or failed).
        self.on_finished: Callable[[object], None] | None = None
        self._draining = False

    def drain(self) -> None:
        """Stopping: finish the updates running now; the others are not started at all."""
        self._draining = True

    async def observed(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run an update's handling once it starts (a subclass times it here)."""
        del update
        await coroutine

    async def _run(self, update: object, coroutine: Awaitable[Any]) -> None:
        async with self._running:
            if self._draining:
                # Stored in the inbox, so the next start handles it, in its chat's order.
                # PTB's coroutine itself is closed: it was never started, nor wrapped.
                if isinstance(coroutine, Coroutine):
                    coroutine.close()
                return
            await self.observed(update, coroutine)
        if self.on_finished is not None:
            self.on_finished(update)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run ``coroutine`` once the chat's earlier updates are done."""
        chat = chat_of(update)
        if chat is None:
            await self._run(update, coroutine)
            return
        # Registered before the first await: PTB calls this in the order updates arrive.
        previous = self._last.get(chat)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[chat] = mine
        try:
            if previous is not None:
                await asyncio.shield(previous)
            await self._run(update, coroutine)
        finally:
            mine.set_result(None)
            if self._last.get(chat) is mine:
                del self._last[chat]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: updates in progress finish on their own."""
