"""Telegram adapters: each reads an update, asks ``assessment`` to act, renders the reply."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from handlers import errors, gate, invitations, language, people, roster, start
from handlers.callbacks import InviteDepartment, RosterDecision, SetLanguage
from handlers.context import WorkledgerApplication

# The gate runs in its own, earlier group so every handler sees a known, permitted caller.
GATE_GROUP = -1


def register(application: WorkledgerApplication) -> None:
    """Attach every handler to ``application``."""
    application.add_handler(TypeHandler(Update, gate.admit), group=GATE_GROUP)
    application.add_handlers(
        [
            CommandHandler("start", start.start),
            CommandHandler("help", start.help_command),
            CommandHandler("me", people.me),
            CommandHandler("team", people.my_team),
            CommandHandler("language", language.ask),
            CommandHandler("invite", invitations.invite_people),
            CommandHandler("unlink", invitations.unlink_account),
            CommandHandler("import", roster.explain),
            MessageHandler(filters.Document.ALL, roster.receive),
            CallbackQueryHandler(language.choose, pattern=SetLanguage.pattern()),
            CallbackQueryHandler(
                invitations.invite_whole_department, pattern=InviteDepartment.pattern()
            ),
            CallbackQueryHandler(roster.decide, pattern=RosterDecision.pattern()),
            MessageHandler(filters.ALL, start.unknown),
        ]
    )
    application.add_error_handler(errors.on_error)
