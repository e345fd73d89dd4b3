"""Each person's command menu: the commands of their roles, in their language.

Menus are a convenience: a failure to update one (say, a chat Telegram does
not know yet) is logged and never undoes or misreports the change behind it.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from assessment import access
from assessment.people import StaffMember
from handlers.commands import DESCRIPTIONS
from locales import translator

log = logging.getLogger(__name__)


async def publish_menu(bot: Bot, member: StaffMember, locale: str) -> bool:
    """Show ``member`` exactly the commands they may use, described in ``locale``."""
    if member.telegram_user_id is None:
        return False
    _ = translator(locale).gettext
    commands = [BotCommand(name, _(DESCRIPTIONS[name])) for name in access.menu(member)]
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
