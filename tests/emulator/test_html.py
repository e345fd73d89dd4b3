"""The HTML parse mode, unit-tested without HTTP."""

from __future__ import annotations

import pytest

from bot.emulator.html import EntityParseError, parse_html
from bot.emulator.text import command_entities


def test_plain_text_and_references() -> None:
    assert parse_html("a &lt;b&gt; &amp; &quot;c&quot; &#65;&#x42;") == ('a <b> & "c" AB', [])
    # Entities Telegram does not know stay as they are.
    assert parse_html("&nbsp;&copy;") == ("&nbsp;&copy;", [])


def test_nested_entities_sorted_with_utf16_offsets() -> None:
    text, entities = parse_html("😀 <b>bold <i>both</i></b> <u>u</u>")
    assert text == "😀 bold both u"
    assert entities == [
        {"offset": 3, "length": 9, "type": "bold"},
        {"offset": 8, "length": 4, "type": "italic"},
        {"offset": 13, "length": 1, "type": "underline"},
    ]


def test_links_code_and_spoilers() -> None:
    text, entities = parse_html(
        '<a href="https://example.org/?a=1&amp;b=2">site</a> '
        '<pre><code class="language-python">x = 1</code></pre> '
        '<code>c</code> <span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler> '
        "<blockquote expandable>q</blockquote>"
    )
    assert text == "site x = 1 c s t q"
    assert entities == [
        {"offset": 0, "length": 4, "type": "text_link", "url": "https://example.org/?a=1&b=2"},
        {"offset": 5, "length": 5, "type": "pre", "language": "python"},
        {"offset": 11, "length": 1, "type": "code"},
        {"offset": 13, "length": 1, "type": "spoiler"},
        {"offset": 15, "length": 1, "type": "spoiler"},
        {"offset": 17, "length": 1, "type": "expandable_blockquote"},
    ]


def test_tags_are_case_insensitive_and_end_tag_name_optional() -> None:
    assert parse_html("<B>x</>") == ("x", [{"offset": 0, "length": 1, "type": "bold"}])


def test_empty_entities_are_dropped() -> None:
    assert parse_html("a<b></b>") == ("a", [])


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("é<br>", 'Unsupported start tag "br" at byte offset 2'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        (
            "<a href>x</a>",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<a href=x/y>z</a>", "Unexpected end of name token at byte offset 8"),
        ("<i>x</b>", 'Unmatched end tag at byte offset 4, expected "</i>", found "</b>"'),
        ("<i><b>x</b>", 'Can\'t find end tag corresponding to start tag "i"'),
    ],
)
def test_errors(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(markup)
    assert str(caught.value) == error


def test_command_entities() -> None:
    assert command_entities("/start abc") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert command_entities("/log@workledger_bot x") == [
        {"type": "bot_command", "offset": 0, "length": 19}
    ]
    assert command_entities("see /help, not a/b or http://x/y") == [
        {"type": "bot_command", "offset": 4, "length": 5}
    ]
