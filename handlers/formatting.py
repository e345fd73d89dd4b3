"""Dates, numbers and names rendered for a person's locale, with Babel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from handlers.context import WorkledgerContext


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
