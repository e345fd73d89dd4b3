"""Telegram adapters: each reads an update, asks ``assessment`` to act, renders the reply."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from handlers import broadcast, errors, gate, invitations, language, notices, people, roster, start
from handlers.callbacks import (
    Acknowledge,
    InviteDepartment,
    NoticeAudience,
    NoticeDecision,
    NoticeDetails,
    NoticeExport,
    NoticeList,
    NoticeOption,
    NoticeRemind,
    NoticeToggle,
    RosterDecision,
    SetLanguage,
)
from handlers.context import WorkledgerApplication

# The gate runs first so every handler sees a known, permitted caller; then a notice
# being composed takes the author's next message before anything else may.
GATE_GROUP = -2
COMPOSE_GROUP = -1


def register(application: WorkledgerApplication) -> None:
    """Attach every handler to ``application``."""
    application.add_handler(TypeHandler(Update, gate.admit), group=GATE_GROUP)
    application.add_handler(
        MessageHandler(
            (filters.TEXT & ~filters.COMMAND) | filters.Document.ALL | filters.PHOTO,
            broadcast.capture,
        ),
        group=COMPOSE_GROUP,
    )
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
            CommandHandler("broadcast", broadcast.begin),
            CommandHandler("cancel", broadcast.cancel_command),
            CommandHandler("notices", notices.list_notices),
            MessageHandler(filters.Document.ALL, roster.receive),
            CallbackQueryHandler(language.choose, pattern=SetLanguage.pattern()),
            CallbackQueryHandler(
                invitations.invite_whole_department, pattern=InviteDepartment.pattern()
            ),
            CallbackQueryHandler(roster.decide, pattern=RosterDecision.pattern()),
            CallbackQueryHandler(broadcast.choose_kind, pattern=NoticeAudience.pattern()),
            CallbackQueryHandler(broadcast.toggle, pattern=NoticeToggle.pattern()),
            CallbackQueryHandler(broadcast.option, pattern=NoticeOption.pattern()),
            CallbackQueryHandler(broadcast.decide, pattern=NoticeDecision.pattern()),
            CallbackQueryHandler(broadcast.acknowledge, pattern=Acknowledge.pattern()),
            CallbackQueryHandler(notices.back_to_list, pattern=NoticeList.pattern()),
            CallbackQueryHandler(notices.show_details, pattern=NoticeDetails.pattern()),
            CallbackQueryHandler(notices.remind_unread, pattern=NoticeRemind.pattern()),
            CallbackQueryHandler(notices.export, pattern=NoticeExport.pattern()),
            MessageHandler(filters.ALL, start.unknown),
        ]
    )
    application.add_error_handler(errors.on_error)
