"""Each person's command menu: the commands of their roles, in their language.

Menus are a convenience: a failure to update one (say, a chat Telegram does
not know yet) is logged and never undoes or misreports the change behind it.
The person who just acted (linked, chose a language) gets theirs at once; the
menus of others a change touched (a roster import) are queued in the outbox
(``assessment.menus``) and shown by the sender with ``show_chat_menu``.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from assessment import access
from assessment.people import StaffMember
from handlers.commands import DESCRIPTIONS
from locales import resolve_locale, translator

log = logging.getLogger(__name__)


def menu_commands(member: StaffMember, locale: str) -> list[BotCommand]:
    """Exactly the commands ``member`` may use, described in ``locale``."""
    _ = translator(locale).gettext
    return [BotCommand(name, _(DESCRIPTIONS[name])) for name in access.menu(member)]


async def publish_menu(bot: Bot, member: StaffMember, locale: str) -> bool:
    """Show ``member`` exactly the commands they may use, described in ``locale``."""
    if member.telegram_user_id is None:
        return False
    commands = menu_commands(member, locale)
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(member.telegram_user_id))
    except TelegramError as error:
        log.warning("could not set the menu of staff %s: %s", member.id, error)
        return False
    return True


async def withdraw_menu(bot: Bot, telegram_user_id: int) -> bool:
    """Back to the default menu for an account that is no longer linked."""
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(telegram_user_id))
    except TelegramError as error:
        log.warning("could not remove a withdrawn account's menu: %s", error)
        return False
    return True


async def show_chat_menu(
    bot: Bot, chat_id: int, owner: StaffMember | None, default_locale: str
) -> None:
    """Give a private chat its owner's menu in their language, or, with no owner, the default.

    Raises:
        TelegramError: left to the caller (the outbox sender retries or records it).
    """
    scope = BotCommandScopeChat(chat_id)
    if owner is None:
        # Unlinked since the change was queued: the chat falls back to the strangers' menu.
        await bot.delete_my_commands(scope=scope)
        return
    locale = resolve_locale(owner.language, owner.telegram_language, default_locale)
    await bot.set_my_commands(menu_commands(owner, locale), scope=scope)
