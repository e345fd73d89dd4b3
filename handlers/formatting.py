"""Dates, numbers and names rendered for a person's locale, with Babel and the catalogs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

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


# Items a message lists by name before it says how many more: any count of them stays
# well within Telegram's 4,096 characters, beside the rest of the message.
LISTED_AT_MOST = 30


def listed_at_most(
    _: Gettext, ngettext: Callable[[str, str, int], str], items: Iterable[str]
) -> str:
    """``listed``, but at most ``LISTED_AT_MOST`` items, then "and N more"."""
    everything = list(items)
    shown = listed(_, everything[:LISTED_AT_MOST])
    rest = len(everything) - LISTED_AT_MOST
    if rest <= 0:
        return shown
    return ngettext("{items} and {count} more", "{items} and {count} more", rest).format(
        items=shown, count=rest
    )


def person_label(_: Gettext, name: str, employee_no: str) -> str:
    """A person with their employee number: ``Li Lei (E001)`` or ``李雷（E001）``."""
    return _("{name} ({employee_no})").format(name=name, employee_no=employee_no)
