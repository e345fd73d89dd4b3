"""Webhook delivery: POST each pending update to the bot, in order, with retries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import aiohttp

from bot.emulator.model import JSONDict
from bot.emulator.updates import UpdateQueue, chat_of

_log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


@dataclass(slots=True)
class WebhookConfig:
    """What ``setWebhook`` configured, plus delivery health for ``getWebhookInfo``."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0
    dropped: list[JSONDict] = field(default_factory=list)

    def info(self, pending: int) -> JSONDict:
        """The Bot API ``WebhookInfo`` object."""
        data: JSONDict = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
            "max_connections": self.max_connections,
            "ip_address": "127.0.0.1",
        }
        if self.allowed_updates is not None:
            data["allowed_updates"] = self.allowed_updates
        if self.last_error_date is not None:
            data["last_error_date"] = self.last_error_date
            data["last_error_message"] = self.last_error_message
        return data


class WebhookPusher:
    """Delivers queued updates to a webhook until stopped.

    Args:
        queue: The emulator's update queue.
        config: Where to deliver; errors are recorded on it.
        attempts: Tries per update before it is dropped (Telegram retries for hours;
            tests want to hear about a broken webhook quickly).
        backoff: Seconds before the first retry, doubled for each further one.
    """

    def __init__(
        self,
        queue: UpdateQueue,
        config: WebhookConfig,
        attempts: int = 4,
        backoff: float = 0.05,
        connections: int = 1,
    ) -> None:
        self.queue = queue
        self.config = config
        self.attempts = attempts
        self.backoff = backoff
        # POSTs at once: at most the webhook's max_connections, as Telegram does. One
        # (the default) delivers strictly in order; more deliver different chats' updates
        # side by side, each chat's still one at a time, in order.
        self.connections = max(1, min(connections, config.max_connections))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts delivering in the background (needs a running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="emulator-webhook")

    async def stop(self) -> None:
        """Stops delivering; an update being delivered stays queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        headers = {"Content-Type": "application/json"}
        if self.config.secret_token:
            headers[SECRET_HEADER] = self.config.secret_token
        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(limit=self.connections)
        async with aiohttp.ClientSession(
            timeout=timeout, headers=headers, connector=connector
        ) as session:
            if self.connections == 1:
                while True:
                    update = await self.queue.next_for_push()
                    await self._deliver(session, update)
                    self.queue.pop_pushed(update)
            busy: set[int | None] = set()
            async with asyncio.TaskGroup() as group:
                for n in range(self.connections):
                    group.create_task(self._connection(session, busy), name=f"webhook-{n}")

    async def _connection(self, session: aiohttp.ClientSession, busy: set[int | None]) -> None:
        while True:
            update = await self.queue.take_for_push(busy)
            chat = chat_of(update)
            if chat is not None:
                busy.add(chat)
            try:
                await self._deliver(session, update)
            except asyncio.CancelledError:
                self.queue.give_back(update)  # stopped mid-way: it stays pending
                raise
            else:
                self.queue.pop_pushed(update)
            finally:
                busy.discard(chat)
                self.queue.wake_pushers()

    async def _deliver(self, session: aiohttp.ClientSession, update: JSONDict) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            error = await self._post(session, update)
            if error is None:
                self.config.delivered += 1
                return
            self.config.last_error_date = int(time.time())
            self.config.last_error_message = error
            _log.warning("webhook delivery failed (attempt %d): %s", attempt, error)
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        self.config.dropped.append(update)

    async def _post(self, session: aiohttp.ClientSession, update: JSONDict) -> str | None:
        try:
            async with session.post(self.config.url, json=update) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc!r}"
