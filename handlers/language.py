"""/language: choose the language the bot speaks to me."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from assessment.people import set_language
from handlers.callbacks import SetLanguage
from handlers.context import WorkledgerContext
from handlers.menus import publish_menu
from locales import translator

# Each language is named in itself, so anyone can find their own.
LANGUAGE_NAMES = (("zh_Hans", "简体中文"), ("zh_Hant", "繁體中文"), ("en", "English"))


def language_keyboard() -> InlineKeyboardMarkup:
    """One button per language."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(name, callback_data=SetLanguage(locale).pack())
                for locale, name in LANGUAGE_NAMES
            ]
        ]
    )


async def ask(update: Update, context: WorkledgerContext) -> None:
    """Offer the languages."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            context._("Choose your language:"), reply_markup=language_keyboard()
        )


async def choose(update: Update, context: WorkledgerContext) -> None:
    """Store the choice and answer in the new language."""
    query = update.callback_query
    member = context.member
    assert query is not None and member is not None  # the gate let only members through
    action = SetLanguage.from_press(query.data)
    async with context.uow() as uow:
        member = await set_language(uow, member.id, action.locale)
    context.member = member
    context.translator = translator(action.locale)
    await query.answer()
    name = dict(LANGUAGE_NAMES)[action.locale]
    await query.edit_message_text(context._("Language set: {language}").format(language=name))
    await publish_menu(context.bot, member, action.locale)
