"""Telegram adapters: each reads an update, asks ``assessment`` to act, renders the reply."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, TypeHandler

from handlers import errors, gate, start
from handlers.context import WorkledgerApplication

# The gate runs in its own, earlier group so every handler sees a known caller.
GATE_GROUP = -1


def register(application: WorkledgerApplication) -> None:
    """Attach every handler to ``application``."""
    application.add_handler(TypeHandler(Update, gate.admit), group=GATE_GROUP)
    application.add_handler(CommandHandler("start", start.start))
    application.add_handler(CommandHandler("help", start.help_command))
    application.add_error_handler(errors.on_error)
