"""``BotApiEmulator``: the whole emulated Telegram, as plain Python.

The HTTP layer (``server.py``) and the driver routes only translate to and from this
class, so a test may also use it in-process. Everything lives on one event loop. The
users' side is in ``users.py`` and the reading side in ``reading.py`` (mixins).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from bot.emulator.commands import CommandStore
from bot.emulator.errors import BOT_BLOCKED, CHAT_NOT_FOUND, ApiError
from bot.emulator.faults import FaultInjector, FaultRule
from bot.emulator.files import FileStore
from bot.emulator.model import (
    CallRecord,
    Chat,
    EmulatedUser,
    JSONDict,
    StoredMessage,
)
from bot.emulator.reading import Reading
from bot.emulator.updates import UpdateQueue
from bot.emulator.users import UserActions
from bot.emulator.webhook import WebhookConfig, WebhookPusher

DEFAULT_BOT_ID = 7000000001

# A watcher of the emulated chats: called with ``("message", view)`` when a message is
# added, edited or deleted, and ``("answer", answer)`` when the bot answers a button press.
Watcher = Callable[[str, JSONDict], None]


class BotApiEmulator(UserActions, Reading):
    """The emulated Bot API server's state, and the users who talk to the bot.

    Args:
        max_long_poll: Cap on ``getUpdates`` long-poll seconds.
        bot_first_name: The bot's display name reported by ``getMe``.
        bot_username: The bot's username reported by ``getMe``.
        webhook_attempts: Delivery tries per update before it is dropped.
        webhook_connections: Webhook POSTs at once (at most ``max_connections``): 1
            delivers one update at a time; more, different chats' side by side.
        wall: Seconds since the epoch for messages' ``date`` and ``edit_date``; the
            machine's time by default (the sandbox passes the bot's moved clock).
    """

    def __init__(
        self,
        *,
        max_long_poll: float = 2.0,
        bot_first_name: str = "Workledger",
        bot_username: str = "workledger_bot",
        webhook_attempts: int = 4,
        webhook_connections: int = 1,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.wall = wall
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.webhook_attempts = webhook_attempts
        self.webhook_connections = webhook_connections
        self.updates = UpdateQueue(max_long_poll)
        self.files = FileStore()
        self.commands = CommandStore()
        self.faults = FaultInjector()
        self.tokens: set[str] = set()
        self.users: dict[int, EmulatedUser] = {}
        self.chats: dict[int, Chat] = {}
        self.blocked: set[int] = set()
        self.webhook: WebhookConfig | None = None
        self._pusher: WebhookPusher | None = None
        self._bot_user: JSONDict = self._make_bot_user(DEFAULT_BOT_ID)
        self._callbacks: dict[str, JSONDict] = {}
        self._callback_ids = itertools.count(1)
        self._calls: list[CallRecord] = []
        self._calls_by_method: dict[str, list[CallRecord]] = {}
        self._failures: deque[CallRecord] = deque(maxlen=20)
        self._message_waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._call_waiters: dict[str, list[asyncio.Future[CallRecord]]] = {}
        self._watchers: list[Watcher] = []

    # ---------------------------------------------------------------- watchers

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Calls ``watcher`` on every change of a chat (the sandbox page's live events).

        Returns the function that stops watching. A watcher runs on the emulator's loop
        inside the change and must not block; what it raises is not the caller's problem.
        """
        self._watchers.append(watcher)

        def unwatch() -> None:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

        return unwatch

    def notify(self, kind: str, payload: JSONDict) -> None:
        """Tells the watchers of a change (``kind`` "message" or "answer")."""
        for watcher in list(self._watchers):
            try:
                watcher(kind, payload)
            except Exception:  # noqa: S112 - a broken watcher must not break the Bot API
                continue

    def message_changed(self, message: StoredMessage) -> None:
        """Tells the watchers that ``message`` was added, edited or deleted."""
        if self._watchers:
            self.notify("message", message.view())

    # ----------------------------------------------------------------- the bot

    def _make_bot_user(self, bot_id: int) -> JSONDict:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def bot_user(self) -> JSONDict:
        """The bot's ``User`` object (its id follows the token, like Telegram's)."""
        return self._bot_user

    def note_token(self, token: str) -> None:
        """Records a token seen on a call; the first numeric one sets the bot's id."""
        if token in self.tokens:
            return
        if not self.tokens:
            prefix = token.split(":", 1)[0]
            if prefix.isdigit():
                self._bot_user = self._make_bot_user(int(prefix))
        self.tokens.add(token)

    def chat_for_bot(self, chat_id: int) -> Chat:
        """The chat a Bot API call targets.

        Raises:
            ApiError: 400 "chat not found" for unknown chats (including users who never
                started the bot), 403 when the user blocked the bot.
        """
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        if chat.type == "private" and chat_id in self.blocked:
            raise ApiError(403, BOT_BLOCKED)
        return chat

    def add_bot_message(self, chat: Chat, **fields: Any) -> StoredMessage:
        """Stores a message the bot sent, waking tests waiting on that chat."""
        message = StoredMessage(
            message_id=chat.take_message_id(),
            chat=chat,
            sender=self._bot_user,
            from_bot=True,
            date=int(self.wall()),
            **fields,
        )
        chat.messages[message.message_id] = message
        waiters = self._message_waiters.pop(chat.id, None)
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self.message_changed(message)
        return message

    def callback_query(self, query_id: str) -> JSONDict | None:
        """The record of a callback query sent to the bot, by its id."""
        return self._callbacks.get(query_id)

    # ---------------------------------------------------------------- call log

    def begin_call(self, method: str, params: JSONDict, token: str) -> CallRecord:
        """Logs an incoming Bot API call (outcome filled in by ``end_call``)."""
        record = CallRecord(method=method, params=params, at=time.time(), token=token)
        self._calls.append(record)
        self._calls_by_method.setdefault(method.lower(), []).append(record)
        return record

    def end_call(self, record: CallRecord, status: int, description: str | None) -> None:
        """Completes a call record and wakes ``wait_for_call`` waiters."""
        record.status = status
        record.description = description
        if status != 200:
            self._failures.append(record)
        if self._call_waiters:
            waiters = self._call_waiters.pop(record.method.lower(), None)
            for waiter in waiters or ():
                if not waiter.done():
                    waiter.set_result(record)

    # ----------------------------------------------------------------- webhook

    async def set_webhook(self, config: WebhookConfig, drop_pending: bool) -> None:
        """Switches to webhook delivery (replacing any previous webhook)."""
        await self.delete_webhook(drop_pending)
        self.webhook = config
        self._pusher = WebhookPusher(
            self.updates,
            config,
            attempts=self.webhook_attempts,
            connections=self.webhook_connections,
        )
        self._pusher.start()

    async def delete_webhook(self, drop_pending: bool) -> None:
        """Switches back to ``getUpdates``."""
        if self._pusher is not None:
            await self._pusher.stop()
            self._pusher = None
        self.webhook = None
        if drop_pending:
            self.updates.clear()

    async def aclose(self) -> None:
        """Stops background work (webhook delivery)."""
        await self.delete_webhook(drop_pending=False)

    # ------------------------------------------------------------ faults, reset

    def inject_fault(
        self,
        status: int,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        probability: float | None = None,
        seed: int | None = None,
    ) -> int:
        """Makes matching calls fail; see ``FaultRule``. Returns the rule id."""
        rule = FaultRule(
            status=status,
            method=method,
            chat_id=chat_id,
            retry_after=retry_after,
            description=description,
            times=times,
            probability=probability,
            seed=seed,
        )
        return self.faults.add(rule)

    def clear_faults(self) -> None:
        """Removes every fault rule."""
        self.faults.clear()

    async def reset(self) -> None:
        """Forgets everything: users, chats, files, updates, calls, faults, menus, webhook."""
        await self.delete_webhook(drop_pending=True)
        self.files.clear()
        self.commands.clear()
        self.faults.clear()
        self.users.clear()
        self.chats.clear()
        self.blocked.clear()
        self._callbacks.clear()
        self._calls.clear()
        self._calls_by_method.clear()
        self._failures.clear()
