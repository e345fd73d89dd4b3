"""Pending updates: numbering, ``getUpdates`` offsets and long polling."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from bot.emulator.errors import POLL_SUPERSEDED, ApiError
from bot.emulator.model import JSONDict


@dataclass(slots=True)
class _Entry:
    update: JSONDict
    update_id: int
    # A replayed (old) update_id: delivered once even though an offset already covers it.
    replay: bool = False
    delivered: bool = False


class UpdateQueue:
    """Updates waiting for the bot, in arrival order.

    Args:
        max_long_poll: Cap on ``getUpdates`` timeouts, in seconds, so that a polling
            bot notices shutdown quickly in tests.
    """

    def __init__(self, max_long_poll: float) -> None:
        self.max_long_poll = max_long_poll
        self._entries: deque[_Entry] = deque()
        self._next_id = 1
        self._poller: asyncio.Future[bool] | None = None
        self._pusher: asyncio.Future[None] | None = None
        self._push_waiters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, update: JSONDict) -> JSONDict:
        """Queues an update, numbering it unless it already has an ``update_id``.

        An update whose id was already used (a test replaying a duplicate) is still
        delivered once, in its own batch, so the bot really sees the duplicate.
        """
        given = update.get("update_id")
        if isinstance(given, int):
            replay = given < self._next_id
            self._next_id = max(self._next_id, given + 1)
            entry = _Entry(update, given, replay=replay)
        else:
            update = {"update_id": self._next_id, **update}
            entry = _Entry(update, self._next_id)
            self._next_id += 1
        self._entries.append(entry)
        self._wake()
        return update

    def clear(self) -> None:
        """Drops every pending update (``drop_pending_updates``, reset)."""
        self._entries.clear()
        self._wake()

    def release_poll(self) -> None:
        """Ends a pending long poll now (with whatever is queued), e.g. on shutdown."""
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(True)

    def _wake(self) -> None:
        self.release_poll()
        if self._pusher is not None and not self._pusher.done():
            self._pusher.set_result(None)
        self.wake_pushers()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            while len(self._entries) > -offset:
                self._entries.popleft()
            return
        if self._entries and self._entries[0].update_id >= offset and not self._entries[0].replay:
            return  # the common case: nothing to confirm
        self._entries = deque(
            entry
            for entry in self._entries
            if entry.update_id >= offset or (entry.replay and not entry.delivered)
        )

    def _take(self, limit: int) -> list[JSONDict]:
        batch: list[JSONDict] = []
        for entry in self._entries:
            if len(batch) >= limit or (entry.replay and batch):
                break
            entry.delivered = True
            batch.append(entry.update)
            if entry.replay:
                break
        return batch

    async def get_updates(self, offset: int | None, limit: int, wait: float) -> list[JSONDict]:
        """Answers ``getUpdates``.

        Args:
            offset: Confirms every update with a smaller id (negative: keep only the
                last ``-offset``), like Telegram.
            limit: At most this many updates (1-100).
            wait: Long-poll seconds (getUpdates' ``timeout``), capped at
                ``max_long_poll``; returns as soon as an update arrives.

        Raises:
            ApiError: 409 for a long poll superseded by a newer getUpdates call.
        """
        if offset is not None:
            self._confirm(offset)
        limit = min(max(limit, 1), 100)
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(False)  # only one getUpdates at a time, like Telegram
        wait = min(max(wait, 0.0), self.max_long_poll)
        if not self._entries and wait > 0:
            poller: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._poller = poller
            try:
                woken = await asyncio.wait_for(poller, wait)
            except TimeoutError:
                woken = True
            finally:
                if self._poller is poller:
                    self._poller = None
            if not woken:
                raise ApiError(409, POLL_SUPERSEDED)
        return self._take(limit)

    async def take_for_push(self, busy: set[int | None]) -> JSONDict:
        """Waits for the oldest pending update not being pushed whose chat is not in
        ``busy`` (a chat's updates go one at a time, in order); marks it taken.

        ``None`` in ``busy`` stands for updates that name no chat. Give it back with
        ``pop_pushed`` (delivered or dropped).
        """
        while True:
            for entry in self._entries:
                if entry.delivered:
                    continue
                chat = chat_of(entry.update)
                if chat in busy:
                    continue
                entry.delivered = True
                return entry.update
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._push_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._push_waiters:
                    self._push_waiters.remove(waiter)

    def give_back(self, update: JSONDict) -> None:
        """An update taken by ``take_for_push`` and not delivered: pending again."""
        for entry in self._entries:
            if entry.update is update:
                entry.delivered = False
                return

    def wake_pushers(self) -> None:
        """Something changed (a new update, a chat's push ended): the pushers look again."""
        waiters, self._push_waiters = self._push_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def next_for_push(self) -> JSONDict:
        """Waits for the oldest pending update (for webhook delivery); does not remove it."""
        while not self._entries:
            self._pusher = asyncio.get_running_loop().create_future()
            await self._pusher
        return self._entries[0].update

    def pop_pushed(self, update: JSONDict) -> None:
        """Removes an update once webhook delivery is finished with it."""
        if self._entries and self._entries[0].update is update:
            self._entries.popleft()
            return
        for entry in self._entries:
            if entry.update is update:
                self._entries.remove(entry)
                return


def chat_of(update: JSONDict) -> int | None:
    """The chat an update is about, if it names one (a message's, a press's message's)."""
    for value in update.values():
        if not isinstance(value, dict):
            continue
        message = value.get("message", value)
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None
