"""The days of a review's or an appeal's clock as people read them: ``Jan 8, 2027
(3 days left)``, in the reader's language."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

from assessment.appeal_rules import days_left
from locales import Translator

__all__ = ["date_text", "left_text", "until_text"]


def date_text(language: Translator, day: date) -> str:
    """A day as the reader's language writes it (``Jan 8, 2027``, ``2027年1月8日``)."""
    return str(format_date(day, format="medium", locale=language.babel))


def left_text(language: Translator, left: int) -> str:
    """``3 days left``, ``today is the last day``, or how late."""
    if left == 0:
        return language.gettext("today is the last day")
    if left < 0:
        return language.ngettext("{count} day late", "{count} days late", -left).format(
            count=-left
        )
    return language.ngettext("{count} day left", "{count} days left", left).format(count=left)


def until_text(language: Translator, day: date, today: date) -> str:
    """A last day with the days left to it: ``Jan 8, 2027 (29 days left)``."""
    return language.gettext("{date} ({left})").format(
        date=date_text(language, day), left=left_text(language, days_left(day, today))
    )
