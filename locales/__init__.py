"""Translations: gettext catalogs per language, read straight from the ``.po`` files.

The catalogs are compiled in memory on first use, so a plain ``pip install -e .``
(or a source checkout) needs no build step and can never run stale ``.mo`` files.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

LOCALES_DIR = Path(__file__).parent
DOMAIN = "messages"
SUPPORTED = ("en", "zh_Hans", "zh_Hant")

# Telegram sends IETF tags (``zh-hans``, ``zh-TW``, ``en-US``); Chinese variants
# are told apart by script where given, otherwise by region.
_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}
_TAG = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$", re.IGNORECASE)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``message`` for extraction without translating it yet."""
    return message


def catalog_path(locale: str) -> Path:
    """Where the ``.po`` catalog of ``locale`` lives."""
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled catalog of a supported locale (cached for the process)."""
    if locale not in SUPPORTED:
        raise ValueError(f"unsupported locale {locale!r}")
    with catalog_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@dataclass(frozen=True)
class Translator:
    """``gettext`` and ``ngettext`` bound to one locale."""

    locale: str

    def gettext(self, message: str) -> str:
        """``message`` in this locale."""
        return translations(self.locale).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for ``n``, in this locale."""
        return translations(self.locale).ngettext(singular, plural, n)

    @property
    def babel(self) -> Locale:
        """The Babel locale, for formatting dates, numbers and money."""
        return babel_locale(self.locale)

    def money(self, amount: Decimal, currency: str) -> str:
        """``amount`` of ``currency`` (ISO code) as this locale writes money (Babel)."""
        return str(format_currency(amount, currency, locale=self.babel))


@functools.cache
def translator(locale: str) -> Translator:
    """The translator of a supported locale."""
    translations(locale)
    return Translator(locale)


@functools.cache
def babel_locale(locale: str) -> Locale:
    """The Babel locale of one of our locale names (``zh_Hans`` -> ``zh_Hans_CN``)."""
    return Locale.parse(locale)


def from_telegram(language_code: str | None) -> str | None:
    """The supported locale for a Telegram ``language_code``, or None if there is none."""
    if not language_code or not _TAG.match(language_code):
        return None
    parts = language_code.lower().replace("_", "-").split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] != "zh":
        return None
    subtags = set(parts[1:])
    if "hant" in subtags:
        return "zh_Hant"
    if "hans" in subtags:
        return "zh_Hans"
    return "zh_Hant" if subtags & _TRADITIONAL_REGIONS else "zh_Hans"


def resolve_locale(stored: str | None, telegram_code: str | None, default: str) -> str:
    """The person's locale: their stored choice, then Telegram's language, then the default."""
    if stored in SUPPORTED:
        return stored
    return from_telegram(telegram_code) or default
