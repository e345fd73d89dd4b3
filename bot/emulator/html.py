"""Telegram's HTML parse mode: turn markup into plain text and entities, or fail like it.

The rules follow the Bot API server (tdlib's ``parse_html``): only Telegram's tags,
properly nested, ``&lt; &gt; &amp; &quot;`` and numeric references decoded, any other
``&name;`` left as it is, and errors reported with UTF-8 byte offsets. Getting these
errors right matters more than rendering: an unescaped ``<`` in a user's name is a
classic production failure that the tests should catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ALL_TAGS = frozenset({*_SIMPLE_TAGS, "a", "tg-emoji"})
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = " \t\r\n\f\v"


class EntityParseError(ValueError):
    """The markup is not valid Telegram HTML; the message is tdlib's wording."""


@dataclass(slots=True)
class _OpenTag:
    name: str
    begin: int  # character index of "<", for byte offsets in errors
    offset: int  # UTF-16 offset in the output where the entity starts
    out_index: int = 0  # index into the output chunks where the content starts
    argument: str = ""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_reference(text: str, pos: int) -> tuple[str, int] | None:
    """Decodes the character reference at ``text[pos] == "&"``: (character, next pos)."""
    end = pos + 1
    if text.startswith("#", end):
        end += 1
        hexadecimal = text.startswith(("x", "X"), end)
        if hexadecimal:
            end += 1
        digits_start = end
        allowed = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(text) and text[end] in allowed:
            end += 1
        digits = text[digits_start:end]
        if not digits or end - pos >= 10:
            return None
        code = int(digits, 16 if hexadecimal else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_REFERENCES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if text.startswith(";", end):
        end += 1
    return char, end


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACES:
        i += 1
    return i


def _parse_attributes(text: str, i: int, tag: _OpenTag) -> int:
    """Parses attributes after a start tag's name; returns the index of ``>``."""
    where = f'the tag "{tag.name}" at byte offset {_byte_offset(text, tag.begin)}'
    while True:
        i = _skip_spaces(text, i)
        if i >= len(text):
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(text, tag.begin)}"
            )
        if text[i] == ">":
            return i
        name_start = i
        while i < len(text) and text[i] not in _SPACES and text[i] not in "=>":
            i += 1
        name = text[name_start:i].lower()
        if not name:
            raise EntityParseError(f"Empty attribute name in {where}")
        i = _skip_spaces(text, i)
        if i >= len(text) or text[i] != "=":
            if tag.name == "blockquote" and name == "expandable":
                tag.argument = "expandable"
                continue
            raise EntityParseError(
                f"Expected equal sign in declaration of an attribute of {where}"
            )
        i = _skip_spaces(text, i + 1)
        if i >= len(text):
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(text, tag.begin)}"
            )
        value, i = _attribute_value(text, i)
        _apply_attribute(tag, name, value)


def _attribute_value(text: str, i: int) -> tuple[str, int]:
    if text[i] not in "'\"":
        # An unquoted value is an HTML name token: letters, digits, "." and "-".
        start = i
        while i < len(text) and (text[i].isalnum() or text[i] in ".-"):
            i += 1
        if i < len(text) and text[i] not in _SPACES and text[i] != ">":
            raise EntityParseError(
                f"Unexpected end of name token at byte offset {_byte_offset(text, start)}"
            )
        return text[start:i].lower(), i
    quote = text[i]
    i += 1
    chars: list[str] = []
    while i < len(text) and text[i] != quote:
        if text[i] == "&":
            decoded = _decode_reference(text, i)
            if decoded is not None:
                chars.append(decoded[0])
                i = decoded[1]
                continue
        chars.append(text[i])
        i += 1
    return "".join(chars), i + 1


def _apply_attribute(tag: _OpenTag, name: str, value: str) -> None:
    if tag.name == "a" and name == "href":
        tag.argument = value
    elif tag.name == "code" and name == "class" and value.startswith("language-"):
        tag.argument = value.removeprefix("language-")
    elif tag.name == "span" and name == "class" and value.startswith("tg-"):
        tag.argument = value.removeprefix("tg-")
    elif tag.name == "tg-emoji" and name == "emoji-id":
        tag.argument = value


def _entity(tag: _OpenTag, length: int, content: str) -> dict[str, Any] | None:
    entity: dict[str, Any] = {"offset": tag.offset, "length": length}
    if tag.name == "a":
        url = tag.argument or content
        if not url.strip():
            return None
        entity.update(type="text_link", url=url)
    elif tag.name == "tg-emoji":
        entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
    elif tag.name == "blockquote" and tag.argument:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "code" and tag.argument:
        # Kept only until the enclosing <pre> closes; see _merge_pre_code.
        entity.update(type="code", language=tag.argument)
    else:
        entity["type"] = _SIMPLE_TAGS[tag.name]
    return entity


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parses Telegram HTML markup.

    Args:
        text: The markup as the bot sent it.

    Returns:
        The plain text and its entities (UTF-16 offsets, sorted like Telegram's).

    Raises:
        EntityParseError: With tdlib's message, e.g. ``Unsupported start tag "br" at byte
            offset 3``.
    """
    out: list[str] = []
    offset = 0  # UTF-16 length of the output so far
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_reference(text, i)
            if decoded is not None:
                out.append(decoded[0])
                offset += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.append(char)
            offset += 2 if ord(char) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if text.startswith("/", i + 1):
            i = _close_tag(text, begin, stack, entities, out, offset)
            continue
        i += 1
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
            )
        name = text[begin + 1 : i].lower()
        if name not in _ALL_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
            )
        tag = _OpenTag(name=name, begin=begin, offset=offset, out_index=len(out))
        i = _parse_attributes(text, i, tag) + 1
        if name == "span" and tag.argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        stack.append(tag)
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_tag(
    text: str,
    begin: int,
    stack: list[_OpenTag],
    entities: list[dict[str, Any]],
    out: list[str],
    offset: int,
) -> int:
    """Handles ``</name>`` at ``begin``; returns the index after it."""
    byte_offset = _byte_offset(text, begin)
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset}")
    i = begin + 2
    while i < len(text) and text[i] not in _SPACES and text[i] != ">":
        i += 1
    end_name = text[begin + 2 : i].lower()
    i = _skip_spaces(text, i)
    if i >= len(text) or text[i] != ">":
        raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset}")
    tag = stack.pop()
    if end_name and end_name != tag.name:
        raise EntityParseError(
            f'Unmatched end tag at byte offset {byte_offset}, expected "</{tag.name}>", '
            f'found "</{end_name}>"'
        )
    length = offset - tag.offset
    if length > 0:
        content = "".join(out[tag.out_index :])
        entity = _entity(tag, length, content)
        if entity is not None:
            _merge_pre_code(entity, entities)
            entities.append(entity)
    return i + 1


def _merge_pre_code(entity: dict[str, Any], entities: list[dict[str, Any]]) -> None:
    """``<pre><code class="language-x">`` is one ``pre`` entity with a language."""
    if entity["type"] != "pre" or not entities:
        return
    inner = entities[-1]
    if (
        inner["type"] == "code"
        and inner["offset"] == entity["offset"]
        and inner["length"] == entity["length"]
    ):
        entities.pop()
        if inner.get("language"):
            entity["language"] = inner["language"]
