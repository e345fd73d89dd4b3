"""Bot command menus, stored per scope and language like ``setMyCommands`` does."""

from __future__ import annotations

import re
from typing import Any

from bot.emulator.errors import bad_request
from bot.emulator.model import JSONDict

ScopeKey = tuple[str, int | None, int | None]

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"(?:[a-z]{2})?")
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
MAX_COMMANDS = 100


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f"Bad Request: invalid {what} specified") from None


def scope_key(scope: Any) -> ScopeKey:
    """Normalises a ``BotCommandScope`` (dict or None) to a hashable key."""
    if scope is None:
        return ("default", None, None)
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
        raise bad_request("Bad Request: can't parse BotCommandScope JSON object")
    kind = str(scope["type"])
    chat_id = None
    user_id = None
    if kind in ("chat", "chat_administrators", "chat_member"):
        if scope.get("chat_id") is None:
            raise bad_request("Bad Request: chat_id is empty")
        chat_id = _as_int(scope["chat_id"], "chat_id")
    if kind == "chat_member":
        if scope.get("user_id") is None:
            raise bad_request("Bad Request: user_id is empty")
        user_id = _as_int(scope["user_id"], "user_id")
    return (kind, chat_id, user_id)


def language_key(language_code: str | None) -> str:
    """Validates ``language_code`` (empty or two lowercase letters)."""
    code = language_code or ""
    if not _LANGUAGE.fullmatch(code):
        raise bad_request("Bad Request: LANG_CODE_INVALID")
    return code


def parse_commands(commands: Any) -> list[JSONDict]:
    """Validates the ``commands`` list of ``setMyCommands``."""
    if not isinstance(commands, list):
        raise bad_request("Bad Request: can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad_request("Bad Request: BOT_COMMANDS_TOO_MUCH")
    parsed = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("Bad Request: can't parse BotCommand JSON object")
        command = str(item.get("command") or "").removeprefix("/")
        description = str(item.get("description") or "").strip()
        if not _COMMAND.fullmatch(command):
            raise bad_request("Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        parsed.append({"command": command, "description": description})
    return parsed


class CommandStore:
    """Menus by (scope, language)."""

    def __init__(self) -> None:
        self._menus: dict[tuple[ScopeKey, str], list[JSONDict]] = {}

    def set(self, scope: ScopeKey, language: str, commands: list[JSONDict]) -> None:
        """Stores a menu; an empty list deletes it, as Telegram does."""
        if commands:
            self._menus[(scope, language)] = commands
        else:
            self._menus.pop((scope, language), None)

    def get(self, scope: ScopeKey, language: str) -> list[JSONDict]:
        """Returns exactly the menu stored for this scope and language (no fallback)."""
        return list(self._menus.get((scope, language), []))

    def delete(self, scope: ScopeKey, language: str) -> None:
        """Deletes one menu."""
        self._menus.pop((scope, language), None)

    def clear(self) -> None:
        """Deletes every menu."""
        self._menus.clear()

    def effective(
        self, chat_id: int, private: bool, user_id: int | None, language: str
    ) -> list[JSONDict]:
        """The menu a user would see in a chat, using Telegram's scope precedence.

        Administrator scopes are skipped: the emulator does not model group admins.
        """
        if private:
            scopes: list[ScopeKey] = [("chat", chat_id, None), ("all_private_chats", None, None)]
        else:
            scopes = [("chat", chat_id, None), ("all_group_chats", None, None)]
            if user_id is not None:
                scopes.insert(0, ("chat_member", chat_id, user_id))
        scopes.append(("default", None, None))
        for scope in scopes:
            for lang in (language, "") if language else ("",):
                menu = self._menus.get((scope, lang))
                if menu:
                    return list(menu)
        return []
