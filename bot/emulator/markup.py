"""Validation of ``reply_markup`` the way the Bot API checks it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.emulator.errors import (
    BUTTON_DATA_INVALID,
    BUTTON_URL_INVALID,
    MARKUP_UNPARSABLE,
    bad_request,
)

MAX_CALLBACK_DATA = 64  # bytes, UTF-8
MAX_BUTTONS = 100

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL_SCHEMES = frozenset({"http", "https", "tg", "ton"})


def _rows(markup: dict[str, Any], key: str) -> list[list[Any]]:
    rows = markup[key]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(MARKUP_UNPARSABLE)
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("Bad Request: reply markup is too long")
    return rows


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(MARKUP_UNPARSABLE)
    actions = [name for name in _INLINE_ACTIONS if button.get(name) is not None]
    if not actions:
        raise bad_request("Bad Request: text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None:
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA:
            raise bad_request(BUTTON_DATA_INVALID)
    url = button.get("url")
    if url is not None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme.lower() not in _URL_SCHEMES or not parts.netloc:
            raise bad_request(BUTTON_URL_INVALID)


def parse_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validates a decoded ``reply_markup``.

    Args:
        markup: The decoded JSON value, or None when the parameter was absent.

    Returns:
        The markup unchanged, or None.

    Raises:
        ApiError: ``BUTTON_DATA_INVALID`` for callback data outside 1-64 bytes,
            ``BUTTON_URL_INVALID``, or the generic "can't parse" error.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request(MARKUP_UNPARSABLE)
    if "inline_keyboard" in markup:
        for row in _rows(markup, "inline_keyboard"):
            for button in row:
                _check_inline_button(button)
    elif "keyboard" in markup:
        for row in _rows(markup, "keyboard"):
            for button in row:
                if not isinstance(button, str | dict):
                    raise bad_request(MARKUP_UNPARSABLE)
    elif not markup.get("remove_keyboard") and not markup.get("force_reply"):
        raise bad_request(MARKUP_UNPARSABLE)
    return markup


def is_inline(markup: dict[str, Any] | None) -> bool:
    """Tells whether the markup is an inline keyboard (the only kind kept on a message)."""
    return markup is not None and "inline_keyboard" in markup


def has_callback_button(markup: dict[str, Any] | None, data: str) -> bool:
    """Tells whether an inline keyboard carries a button with this callback_data."""
    if not is_inline(markup):
        return False
    assert markup is not None
    return any(
        isinstance(button, dict) and button.get("callback_data") == data
        for row in markup["inline_keyboard"]
        for button in row
    )
