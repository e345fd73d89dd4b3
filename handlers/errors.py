"""The last resort: log the failure, and tell the person in their language without details."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from assessment.people import handled
from handlers.context import WorkledgerContext
from locales import resolve_locale, translator
from storage.engine import StoreBusy
from storage.uow import UpdateAlreadyHandled

log = logging.getLogger(__name__)

# What Telegram says to a second answer of a press, or an answer that came too late.
_ANSWERED = ("query is too old", "query id is invalid")


def answered_already(error: object) -> bool:
    """Whether ``error`` is Telegram refusing an answer to a press answered before (or one
    too old to answer): the person has had an answer, or can no longer see one."""
    return isinstance(error, BadRequest) and any(
        words in error.message.lower() for words in _ANSWERED
    )


def unchanged_edit(error: object) -> bool:
    """Whether ``error`` is Telegram refusing an edit that would change nothing (a page
    turned to the page shown, pressed twice): the person already sees what they asked for."""
    return isinstance(error, BadRequest) and "message is not modified" in error.message.lower()


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
    error = context.error
    if isinstance(error, UpdateAlreadyHandled):
        # Another delivery of the same update won the claim; it answers the person.
        log.info("dropped a redelivered update: %s", error)
        raise ApplicationHandlerStop  # nor may ``settle`` try to claim it again
    if answered_already(error):
        log.info("a press was answered before, or is too old to answer: %s", error)
        return
    if unchanged_edit(error):
        log.info("an edit would have changed nothing: %s", error)
        return
    if isinstance(error, StoreBusy):
        # Another process (the command line, most often) held the store's write lock.
        log.warning(
            "the store stayed busy for more than %g s (another process writing): %s",
            error.waited,
            f"update {update.update_id} was told to try again"
            if isinstance(update, Update)
            else "a job will try again on its next run",
        )
    else:
        log.error("error while handling an update", exc_info=error)
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
    if isinstance(error, StoreBusy):
        text = (
            _(
                "The database became busy after your change was saved. "
                "Please check it before trying again."
            )
            if saved
            else _("The database is busy, so nothing was saved. Please try again in a moment.")
        )
    elif saved:
        text = _(
            "Sorry, something went wrong on our side after your change was saved. "
            "Please check it before trying again."
        )
    else:
        text = _(
            "Sorry, something went wrong on our side and nothing was saved. Please try again."
        )
    try:
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(text, show_alert=True)
                return
            except BadRequest as refused:
                if not answered_already(refused):
                    raise
            # The handler answered the press before it failed: say it in the chat.
        await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not tell the user about the error", exc_info=True)
