"""Reading what the bot did: messages per chat, calls, answers, menus, files.

A mixin of ``BotApiEmulator``; the attributes it relies on are declared below and
created by ``BotApiEmulator.__init__``.
"""

from __future__ import annotations

import asyncio
from collections import deque

from bot.emulator.commands import CommandStore, language_key, scope_key
from bot.emulator.errors import DriverError
from bot.emulator.files import FileStore
from bot.emulator.model import CallRecord, Chat, EmulatedUser, JSONDict, StoredFile, StoredMessage


class Reading:
    """Driver reads and waits."""

    users: dict[int, EmulatedUser]
    chats: dict[int, Chat]
    files: FileStore
    commands: CommandStore
    _callbacks: dict[str, JSONDict]
    _calls: list[CallRecord]
    _calls_by_method: dict[str, list[CallRecord]]
    _failures: deque[CallRecord]
    _message_waiters: dict[int, list[asyncio.Future[None]]]
    _call_waiters: dict[str, list[asyncio.Future[CallRecord]]]

    def messages(self, chat_id: int, *, include_user: bool = False) -> list[JSONDict]:
        """What the bot sent to a chat, in order, in its current state after edits."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [
            message.view()
            for message in chat.messages.values()
            if include_user or message.from_bot
        ]

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the server does the waiting
        since_message_id: int | None = None,
    ) -> list[JSONDict]:
        """Waits until the bot has sent ``count`` new messages to a chat and returns them.

        "New" means after ``since_message_id`` when given, else after the chat's read
        cursor: the user's latest action in that chat (a message, a press) or the last
        message an earlier ``wait_for_message`` returned. So ``send_text`` followed by
        ``wait_for_message`` returns the bot's reply even if it came before the wait.

        Raises:
            TimeoutError: With a listing of the chat and of recent failed Bot API calls.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        found: list[StoredMessage] = []
        scanned_chat: Chat | None = None
        scanned = 0  # highest message id already looked at
        while True:
            chat = self.chats.get(chat_id)
            if chat is not None:
                if chat is not scanned_chat:  # first look, or the chat was reset
                    scanned_chat = chat
                    found = []
                    scanned = chat.read_cursor if since_message_id is None else since_message_id
                # Only look at ids not seen yet: waiting for 10,000 messages stays linear.
                for message_id in range(scanned + 1, chat.next_message_id):
                    message = chat.messages.get(message_id)
                    if message is not None and message.from_bot:
                        found.append(message)
                scanned = max(scanned, chat.next_message_id - 1)
                if len(found) >= count:
                    found = found[:count]
                    chat.read_cursor = max(chat.read_cursor, found[-1].message_id)
                    return [message.view() for message in found]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(chat_id, count, timeout))
            waiter: asyncio.Future[None] = loop.create_future()
            self._message_waiters.setdefault(chat_id, []).append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                waiters = self._message_waiters.get(chat_id)
                if waiters and waiter in waiters:
                    waiters.remove(waiter)

    def _timeout_report(self, chat_id: int, count: int, timeout: float) -> str:
        chat = self.chats.get(chat_id)
        lines = [f"no {count} new bot message(s) in chat {chat_id} within {timeout}s."]
        if chat is None:
            lines.append("The chat does not exist (no user action and no create_group).")
        else:
            recent = list(chat.messages.values())[-10:]
            lines.append(f"The chat has {len(chat.messages)} message(s); the last ones:")
            lines.extend(f"  {message.summary()}" for message in recent)
            lines.append(f"Read cursor: {chat.read_cursor}.")
        if self._failures:
            lines.append("Recent failed Bot API calls:")
            lines.extend(
                f"  {record.method} -> {record.status} {record.description}"
                for record in self._failures
            )
        return "\n".join(lines)

    async def wait_for_call(
        self,
        method: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - the server does the waiting
    ) -> JSONDict:
        """Waits for the next completed call of a Bot API method (from now on)."""
        waiter: asyncio.Future[CallRecord] = asyncio.get_running_loop().create_future()
        self._call_waiters.setdefault(method.lower(), []).append(waiter)
        try:
            record = await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise TimeoutError(f"no {method} call within {timeout}s") from None
        return record.to_dict()

    def calls(self, method: str | None = None) -> list[JSONDict]:
        """Every Bot API call received (optionally of one method), oldest first."""
        records = self._calls if method is None else self._calls_by_method.get(method.lower(), [])
        return [record.to_dict() for record in records]

    def callback_answers(self, callback_query_id: str | None = None) -> list[JSONDict]:
        """The bot's answers to callback queries (optionally to one query)."""
        queries = (
            self._callbacks.values()
            if callback_query_id is None
            else [q for q in (self._callbacks.get(callback_query_id),) if q is not None]
        )
        return [dict(query["answer"]) for query in queries if query["answer"] is not None]

    def my_commands(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """The menu stored for exactly this scope and language (like getMyCommands)."""
        return self.commands.get(scope_key(scope), language_key(language_code))

    def effective_commands(
        self, chat_id: int, user_id: int | None = None, language_code: str | None = None
    ) -> list[JSONDict]:
        """The menu a user sees in a chat, resolving scopes and languages like Telegram."""
        user = self.users.get(user_id if user_id is not None else chat_id)
        language = (language_code or (user.language_code if user else "") or "")[:2].lower()
        return self.commands.effective(chat_id, chat_id > 0, user_id, language)

    def file_bytes(self, file_id: str) -> bytes:
        """The content of a stored file."""
        stored = self.files.get(file_id)
        if stored is None:
            raise DriverError(f"no file {file_id!r}")
        return stored.content

    def file(self, file_id: str) -> StoredFile | None:
        """A stored file, or None."""
        return self.files.get(file_id)
