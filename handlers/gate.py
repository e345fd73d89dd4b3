"""The gate every update passes first: drop duplicates, find the caller, fix the language."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from assessment.people import identify
from handlers.context import WorkledgerContext
from locales import resolve_locale, translator


async def admit(update: Update, context: WorkledgerContext) -> None:
    """Identify the caller once per update; stop here if the update was seen before."""
    user = update.effective_user
    async with context.uow() as uow:
        caller = await identify(uow, update.update_id, user.id if user else None)
    if caller.duplicate:
        raise ApplicationHandlerStop
    context.member = caller.member
    context.translator = translator(
        resolve_locale(
            caller.member.language if caller.member else None,
            user.language_code if user else None,
            context.settings.language,
        )
    )
