"""Message text as Telegram stores it: parsed, trimmed, length-checked."""

from __future__ import annotations

import re
from typing import Any

from bot.emulator.errors import (
    CAPTION_TOO_LONG,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    ApiError,
    bad_request,
)
from bot.emulator.html import EntityParseError, parse_html, utf16_len

MAX_TEXT = 4096
MAX_CAPTION = 1024

# Telegram marks "/command" and "/command@botname" at a word start as bot_command.
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?(?![\w@/])")


def _parse(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[dict[str, Any]]]:
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        try:
            return parse_html(text)
        except EntityParseError as exc:
            raise bad_request(f"Bad Request: can't parse entities: {exc}") from None
    if mode in ("markdown", "markdownv2"):
        # Accepted loosely: the text is kept as sent, without entities. The bot uses HTML.
        return text, []
    if mode:
        raise bad_request(f'Bad Request: unsupported parse_mode "{parse_mode}"')
    return text, _explicit_entities(entities)


def _explicit_entities(entities: Any) -> list[dict[str, Any]]:
    if entities is None:
        return []
    if not isinstance(entities, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
        for e in entities
    ):
        raise bad_request("Bad Request: can't parse entities JSON object")
    return [dict(e) for e in entities]


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trims surrounding whitespace the way Telegram does, keeping entities aligned."""
    stripped = text.strip()
    if stripped == text or not entities:
        return stripped, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def message_text(
    text: str | None, parse_mode: str | None, entities: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Prepares a message text: parse, trim, then enforce 1-4096 characters.

    Raises:
        ApiError: With Telegram's texts for empty, too long or unparsable text.
    """
    if text is None:
        raise bad_request(TEXT_EMPTY)
    plain, parsed = _strip(*_parse(text, parse_mode, entities))
    if not plain:
        raise bad_request(TEXT_EMPTY)
    # tdlib counts Unicode code points here, which is what len() does.
    if len(plain) > MAX_TEXT:
        raise bad_request(TEXT_TOO_LONG)
    return plain, parsed


def caption_text(
    caption: str | None, parse_mode: str | None, entities: Any
) -> tuple[str | None, list[dict[str, Any]]]:
    """Prepares an optional caption (at most 1024 characters)."""
    if caption is None:
        return None, []
    plain, parsed = _strip(*_parse(caption, parse_mode, entities))
    if len(plain) > MAX_CAPTION:
        raise ApiError(400, CAPTION_TOO_LONG)
    return (plain or None), parsed


def command_entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` entities Telegram attaches to a user's message."""
    entities = []
    for match in _COMMAND.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities
