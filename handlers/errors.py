"""The last resort: log the failure, and tell the person in their language without details."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from assessment.people import handled
from handlers.context import WorkledgerContext
from locales import resolve_locale, translator
from storage.uow import UpdateAlreadyHandled

log = logging.getLogger(__name__)


async def _saved(update: Update, context: WorkledgerContext) -> bool:
    # An update is recorded as handled with its first commit: then something was saved.
    try:
        async with context.bot_data.database.uow() as uow:
            return await handled(uow, update.update_id)
    except Exception:  # the store may be what failed: then say what is sure
        log.warning("could not tell whether update %s saved anything", update.update_id)
        return False


async def on_error(update: object, context: WorkledgerContext) -> None:
    """Log the exception with its traceback; answer the user with an apology only."""
    if isinstance(context.error, UpdateAlreadyHandled):
        # Another delivery of the same update won the claim; it answers the person.
        log.info("dropped a redelivered update: %s", context.error)
        return
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    user = update.effective_user
    member = context.member
    _ = translator(
        resolve_locale(
            member.language if member else None,
            user.language_code if user else None,
            context.settings.language,
        )
    ).gettext
    saved = await _saved(update, context)
    text = (
        _(
            "Sorry, something went wrong on our side after your change was saved. "
            "Please check it before trying again."
        )
        if saved
        else _("Sorry, something went wrong on our side and nothing was saved. Please try again.")
    )
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not tell the user about the error", exc_info=True)
