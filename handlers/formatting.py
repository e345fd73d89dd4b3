"""Dates, numbers and names rendered for a person's locale, with Babel and the catalogs."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from telegram import InlineKeyboardButton

from handlers.context import WorkledgerContext

Gettext = Callable[[str], str]


def when(context: WorkledgerContext, moment: datetime) -> str:
    """A moment in the organisation's time zone, e.g. ``2026年11月27日 09:00``."""
    return str(
        format_datetime(
            moment, format="medium", tzinfo=context.settings.zone, locale=context.translator.babel
        )
    )


def day(context: WorkledgerContext, moment: datetime) -> str:
    """The organisation-local date of a moment."""
    local = moment.astimezone(context.settings.zone).date()
    return str(format_date(local, format="medium", locale=context.translator.babel))


def number(context: WorkledgerContext, value: Decimal) -> str:
    """A decimal with the locale's separators."""
    return str(format_decimal(value, locale=context.translator.babel))


def listed(_: Gettext, items: Iterable[str]) -> str:
    """Items one after another as the language lists them: ``E100, E101`` or ``E100、E101``.

    The separator comes from the catalog, so code that has only a gettext (the roster
    CLI) lists like the bot. Not Babel's ``format_list``: its standard style adds "and"
    (``A, B, and C``), and its unit style has no separator at all in Simplified Chinese.
    """
    # The pattern of a list and one more item, with both left empty, is the separator.
    return _("{items}, {item}").format(items="", item="").join(items)


# Telegram's limits: a message's text and a caption (counted after entity parsing, in
# UTF-16 code units), and the text of a press's answer.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ANSWER = 200
# Items a message lists by name before it says how many more, and the room the list may
# take: with the rest of a message, any count of any names stays within one message.
LISTED_AT_MOST = 30
LIST_ROOM = 1000
# The room of a list of lines (a team, who has not logged), beside a heading.
LINES_ROOM = 3500
_TAG = re.compile(r"<[^>]*>")


def telegram_length(text: str) -> int:
    """The length Telegram counts in plain text: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def html_length(text: str) -> int:
    """The length Telegram counts in HTML text: tags dropped, entities decoded."""
    return telegram_length(html.unescape(_TAG.sub("", text)))


def shortened_html(text: str, room: int) -> str:
    """HTML text as plain words (tags dropped, entities decoded), cut to ``room`` characters
    as Telegram counts them, with an ellipsis when cut. Escape it again to send it as HTML."""
    plain = " ".join(html.unescape(_TAG.sub("", text)).split())
    if telegram_length(plain) <= room:
        return plain
    cut = plain[: max(room - 1, 0)]
    while cut and telegram_length(cut) > room - 1:
        cut = cut[:-1]
    return cut.rstrip() + "…"


def listed_at_most(
    _: Gettext,
    ngettext: Callable[[str, str, int], str],
    items: Iterable[str],
    *,
    room: int = LIST_ROOM,
) -> str:
    """``listed``, but at most ``LISTED_AT_MOST`` items and ``room`` characters (as
    Telegram counts them), then "and N more"."""
    everything = list(items)
    separator = telegram_length(_("{items}, {item}").format(items="", item=""))
    shown = 0
    used = 0
    for item in everything[:LISTED_AT_MOST]:
        size = telegram_length(item) + (separator if shown else 0)
        if used + size > room and shown:
            break
        used += size
        shown += 1
    text = listed(_, everything[:shown])
    rest = len(everything) - shown
    if rest <= 0:
        return text
    return ngettext("{items} and {count} more", "{items} and {count} more", rest).format(
        items=text, count=rest
    )


def lines_at_most(
    ngettext: Callable[[str, str, int], str],
    lines: Sequence[str],
    *,
    room: int = LINES_ROOM,
) -> list[str]:
    """As many of ``lines`` as fit in ``room`` characters (as Telegram counts them), then a
    line saying how many more."""
    used = 0
    for index, line in enumerate(lines):
        used += telegram_length(line) + 1
        if used > room:
            rest = len(lines) - index
            return [
                *lines[:index],
                ngettext("...and {count} more", "...and {count} more", rest).format(count=rest),
            ]
    return list(lines)


def fit(text: str, items: Sequence[str], more: Callable[[int], str], limit: int = MAX_TEXT) -> str:
    """``text`` and then as many ``items`` (one a line) as fit, and how many were left out."""
    for index, item in enumerate(items):
        left = len(items) - index - 1
        tail = "\n" + more(left) if left else ""
        if telegram_length(text + "\n" + item + tail) > limit:
            return text + "\n" + more(left + 1)
        text += "\n" + item
    return text


def answer_text(text: str) -> str:
    """``text`` for a press's answer, shortened to what Telegram shows (200 characters)."""
    return text if len(text) <= MAX_ANSWER else text[: MAX_ANSWER - 1].rstrip() + "…"


# Buttons of a long choice (departments) shown at once; Telegram takes at most 100.
BUTTONS_PER_PAGE = 40
Rows = list[list[InlineKeyboardButton]]


def button_page(
    buttons: Sequence[InlineKeyboardButton], page: int, turn: Callable[[int], str]
) -> Rows:
    """One button a row, ``BUTTONS_PER_PAGE`` of them from ``page`` (clamped to the last),
    then « and » rows that press ``turn(page)`` when there is more than one page."""
    pages = max(1, -(-len(buttons) // BUTTONS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    start = page * BUTTONS_PER_PAGE
    rows: Rows = [[button] for button in buttons[start : start + BUTTONS_PER_PAGE]]
    turns = []
    if page > 0:
        turns.append(InlineKeyboardButton("«", callback_data=turn(page - 1)))
    if page + 1 < pages:
        turns.append(InlineKeyboardButton("»", callback_data=turn(page + 1)))
    if turns:
        rows.append(turns)
    return rows


def person_label(_: Gettext, name: str, employee_no: str) -> str:
    """A person with their employee number: ``Li Lei (E001)`` or ``李雷（E001）``."""
    return _("{name} ({employee_no})").format(name=name, employee_no=employee_no)
