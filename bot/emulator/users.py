"""What emulated users do: write to the bot, send files, press buttons, block it.

A mixin of ``BotApiEmulator``; the attributes it relies on are declared below and
created by ``BotApiEmulator.__init__``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from bot.emulator.errors import DriverError
from bot.emulator.files import FileStore, image_size
from bot.emulator.markup import has_callback_button
from bot.emulator.model import Chat, EmulatedUser, JSONDict, StoredMessage
from bot.emulator.text import command_entities
from bot.emulator.updates import UpdateQueue


class UserActions:
    """Driver actions: each one that reaches the bot returns the queued Update."""

    users: dict[int, EmulatedUser]
    chats: dict[int, Chat]
    blocked: set[int]
    files: FileStore
    updates: UpdateQueue
    _callbacks: dict[str, JSONDict]
    _callback_ids: itertools.count[int]
    wall: Callable[[], float]

    def message_changed(self, message: StoredMessage) -> None:
        """Tells watchers of a change (``BotApiEmulator`` implements it)."""

    def add_user(self, user: EmulatedUser) -> None:
        """Makes a user known and their private chat exist, as if they pressed Start."""
        self._private_chat(user)

    def _private_chat(self, user: EmulatedUser) -> Chat:
        self.users[user.id] = user
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(id=user.id, type="private", user=user)
            self.chats[user.id] = chat
        return chat

    def create_group(self, chat_id: int, title: str) -> JSONDict:
        """Creates a group (negative id; ``-100…`` ids are supergroups) with the bot in it."""
        if chat_id >= 0:
            raise DriverError("group chat ids are negative")
        chat = self.chats.get(chat_id)
        if chat is None:
            kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
            chat = Chat(id=chat_id, type=kind, title=title)
            self.chats[chat_id] = chat
        return chat.to_api()

    def _chat_for_user(self, user: EmulatedUser, chat_id: int | None) -> Chat:
        # A user who blocked the bot has to unblock it before they can write to it.
        self.blocked.discard(user.id)
        if chat_id is None or chat_id == user.id:
            return self._private_chat(user)
        self.users.setdefault(user.id, user)
        chat = self.chats.get(chat_id)
        if chat is None or chat.type == "private":
            raise DriverError(f"no group chat {chat_id}: call create_group first")
        return chat

    def _add_user_message(self, user: EmulatedUser, chat: Chat, **fields: Any) -> JSONDict:
        message = StoredMessage(
            message_id=chat.take_message_id(),
            chat=chat,
            sender=user.to_api(),
            from_bot=False,
            date=int(self.wall()),
            **fields,
        )
        chat.messages[message.message_id] = message
        chat.read_cursor = message.message_id
        self.message_changed(message)
        return self.updates.push({"message": message.to_api()})

    def send_text(self, user: EmulatedUser, text: str, chat_id: int | None = None) -> JSONDict:
        """The user sends a text message; returns the Update queued for the bot."""
        chat = self._chat_for_user(user, chat_id)
        return self._add_user_message(
            user, chat, text=text, entities=command_entities(text), source=text
        )

    def send_document(
        self,
        user: EmulatedUser,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """The user sends a file; returns the Update."""
        chat = self._chat_for_user(user, chat_id)
        stored = self.files.add(content, kind="document", file_name=filename, mime_type=mime_type)
        return self._add_user_message(user, chat, document=stored, caption=caption or None)

    def send_photo(
        self,
        user: EmulatedUser,
        content: bytes,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """The user sends a photo; returns the Update."""
        chat = self._chat_for_user(user, chat_id)
        size = image_size(content) or (1, 1)
        stored = self.files.add(
            content, kind="photo", file_name=None, mime_type="image/jpeg", size=size
        )
        return self._add_user_message(user, chat, photo=stored, caption=caption or None)

    def press(
        self,
        user: EmulatedUser,
        message_id: int,
        callback_data: str,
        chat_id: int | None = None,
        *,
        forge: bool = False,
    ) -> JSONDict:
        """The user presses an inline button on a bot message; returns the Update.

        Args:
            user: Who presses.
            message_id: The bot message carrying the button.
            callback_data: The button's data.
            chat_id: The chat (the user's private chat by default).
            forge: Skip checking that the message and button exist, as a tampered
                client could; a missing message is then sent as inaccessible.

        Raises:
            DriverError: No such bot message, or no button with that data on it.
        """
        chat = self._chat_for_user(user, chat_id)
        message = chat.messages.get(message_id)
        if message is not None and message.deleted:
            message = None
        if not forge:
            if message is None or not message.from_bot:
                raise DriverError(f"chat {chat.id} has no bot message {message_id}")
            if not has_callback_button(message.reply_markup, callback_data):
                raise DriverError(
                    f"message {message_id} in chat {chat.id} has no button with "
                    f"callback_data {callback_data!r}"
                )
        query_id = f"{user.id}-{next(self._callback_ids)}"
        shown: JSONDict = (
            message.to_api()
            if message is not None
            else {"chat": chat.to_api(), "message_id": message_id, "date": 0}
        )
        self._callbacks[query_id] = {
            "callback_query_id": query_id,
            "from_id": user.id,
            "chat_id": chat.id,
            "message_id": message_id,
            "data": callback_data,
            "at": time.time(),
            "answer": None,
        }
        chat.read_cursor = chat.next_message_id - 1
        return self.updates.push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_api(),
                    "message": shown,
                    "chat_instance": str(chat.id),
                    "data": callback_data,
                }
            }
        )

    def send_raw_update(self, update: JSONDict) -> JSONDict:
        """Queues an update as given (an explicit, reused update_id is delivered again)."""
        return self.updates.push(dict(update))

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sending to them now fails with 403."""
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """The user unblocks the bot."""
        self.blocked.discard(user_id)
