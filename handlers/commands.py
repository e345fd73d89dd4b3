"""The bot's command menu: each command with its (translatable) description."""

from __future__ import annotations

from locales import N_

MENU: tuple[tuple[str, str], ...] = (
    ("start", N_("Begin, or link your account with an invitation")),
    ("help", N_("What this bot can do")),
)
