"""The emulator's records and their Bot API (JSON) shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.emulator.markup import is_inline

JSONDict = dict[str, Any]


@dataclass(slots=True)
class EmulatedUser:
    """A Telegram user played by a test or the sandbox.

    Args:
        id: The user id; their private chat with the bot has the same id.
        first_name: Shown name.
        language_code: IETF tag Telegram reports for the user's app language.
        username: Optional @username without the "@".
        last_name: Optional last name.
    """

    id: int
    first_name: str
    language_code: str | None = "en"
    username: str | None = None
    last_name: str | None = None

    def to_api(self) -> JSONDict:
        """The Bot API ``User`` object."""
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    @classmethod
    def from_dict(cls, data: JSONDict) -> EmulatedUser:
        """Builds a user from its JSON form (as the driver API sends it)."""
        return cls(
            id=int(data["id"]),
            first_name=str(data.get("first_name") or f"User {data['id']}"),
            language_code=data.get("language_code", "en"),
            username=data.get("username"),
            last_name=data.get("last_name"),
        )


@dataclass(slots=True)
class StoredFile:
    """A file known to the emulator: sent by a user, or uploaded by the bot."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None
    mime_type: str | None
    kind: str = "document"  # or "photo"
    width: int = 0
    height: int = 0

    def document(self) -> JSONDict:
        """The Bot API ``Document`` object."""
        data: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    def photo(self) -> list[JSONDict]:
        """The Bot API ``PhotoSize`` list (a single size: the original)."""
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": len(self.content),
                "width": self.width,
                "height": self.height,
            }
        ]


@dataclass(slots=True, eq=False)
class Chat:
    """A private chat, group or supergroup, with everything said in it."""

    id: int
    type: str
    title: str | None = None
    user: EmulatedUser | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    # Messages up to this id are "seen": see BotApiEmulator.wait_for_message.
    read_cursor: int = 0
    reply_keyboard: JSONDict | None = None
    last_action: str | None = None
    _api: JSONDict | None = None

    def to_api(self) -> JSONDict:
        """The Bot API ``Chat`` object (cached: it never changes)."""
        if self._api is None:
            data: JSONDict = {"id": self.id, "type": self.type}
            if self.user is not None:
                data["first_name"] = self.user.first_name
                if self.user.last_name:
                    data["last_name"] = self.user.last_name
                if self.user.username:
                    data["username"] = self.user.username
            else:
                data["title"] = self.title or f"Group {self.id}"
            self._api = data
        return self._api

    def take_message_id(self) -> int:
        """Allocates the next message id of this chat (ids are per chat, like Telegram)."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass(slots=True, eq=False)
class StoredMessage:
    """One message in a chat, in its current state (after edits)."""

    message_id: int
    chat: Chat
    sender: JSONDict
    from_bot: bool
    date: int
    text: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JSONDict] = field(default_factory=list)
    source: str | None = None  # text or caption exactly as sent, markup included
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    edit_count: int = 0
    edit_date: int | None = None
    deleted: bool = False

    def to_api(self) -> JSONDict:
        """The Bot API ``Message`` object."""
        data: JSONDict = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.to_api(),
            "from": self.sender,
        }
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.document is not None:
            data["document"] = self.document.document()
        if self.photo is not None:
            data["photo"] = self.photo.photo()
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        # Telegram only ever returns inline keyboards on a message.
        if is_inline(self.reply_markup):
            data["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        return data

    def view(self) -> JSONDict:
        """The message as the driver API shows it to tests and the sandbox."""
        return {
            "message_id": self.message_id,
            "chat_id": self.chat.id,
            "from_bot": self.from_bot,
            "from_id": self.sender["id"],
            "date": self.date,
            "text": self.text,
            "entities": self.entities,
            "caption": self.caption,
            "caption_entities": self.caption_entities,
            "source": self.source,
            "parse_mode": self.parse_mode,
            "reply_markup": self.reply_markup,
            "document": self.document.document() if self.document else None,
            "photo": self.photo.photo() if self.photo else None,
            "edit_count": self.edit_count,
            "edit_date": self.edit_date,
            "deleted": self.deleted,
        }

    def summary(self) -> str:
        """One line for error messages: ``#3 bot: 'Hello…'``."""
        who = "bot" if self.from_bot else f"user {self.sender['id']}"
        body = self.text if self.text is not None else self.caption
        if body is None:
            body = "[document]" if self.document else "[photo]" if self.photo else ""
        if len(body) > 60:
            body = body[:59] + "…"
        state = " (deleted)" if self.deleted else ""
        return f"#{self.message_id} {who}: {body!r}{state}"


@dataclass(slots=True)
class CallRecord:
    """One Bot API call as received, with its outcome."""

    method: str
    params: JSONDict
    at: float
    token: str
    status: int = 0
    description: str | None = None

    def to_dict(self) -> JSONDict:
        """The record as the driver API reports it."""
        return {
            "method": self.method,
            "params": self.params,
            "at": self.at,
            "status": self.status,
            "description": self.description,
        }
