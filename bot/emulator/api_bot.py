"""Bot API methods about the bot itself: identity, updates, webhooks, menus, chats."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.emulator.commands import ScopeKey, language_key, parse_commands, scope_key
from bot.emulator.errors import WEBHOOK_ACTIVE, ApiError, bad_request
from bot.emulator.model import JSONDict
from bot.emulator.params import Params
from bot.emulator.webhook import WebhookConfig

if TYPE_CHECKING:
    from bot.emulator.dispatch import Handler
    from bot.emulator.state import BotApiEmulator

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def get_me(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``getMe``."""
    return emulator.bot_user()


async def log_out(emulator: BotApiEmulator, params: Params) -> bool:
    """``logOut`` and ``close``: nothing to release in the emulator."""
    return True


async def get_updates(emulator: BotApiEmulator, params: Params) -> list[JSONDict]:
    """``getUpdates``: 409 while a webhook is set, as on Telegram."""
    if emulator.webhook is not None:
        raise ApiError(409, WEBHOOK_ACTIVE)
    timeout = params.str_("timeout")
    try:
        seconds = float(timeout) if timeout else 0.0
    except ValueError:
        raise bad_request('Bad Request: parameter "timeout" must be a number') from None
    limit = params.int_("limit")
    return await emulator.updates.get_updates(
        params.int_("offset"), 100 if limit is None else limit, seconds
    )


async def set_webhook(emulator: BotApiEmulator, params: Params) -> bool:
    """``setWebhook``; plain http URLs are allowed because the bot listens on loopback."""
    url = params.required_str("url").strip()
    drop_pending = params.bool_("drop_pending_updates")
    if not url:
        await emulator.delete_webhook(drop_pending)
        return True
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.str_("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("Bad Request: secret token contains unallowed characters")
    allowed = params.json_("allowed_updates")
    config = WebhookConfig(
        url=url,
        secret_token=secret,
        max_connections=params.int_("max_connections") or 40,
        allowed_updates=allowed if isinstance(allowed, list) else None,
    )
    await emulator.set_webhook(config, drop_pending)
    return True


async def delete_webhook(emulator: BotApiEmulator, params: Params) -> bool:
    """``deleteWebhook``."""
    await emulator.delete_webhook(params.bool_("drop_pending_updates"))
    return True


async def get_webhook_info(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``getWebhookInfo``."""
    pending = len(emulator.updates)
    if emulator.webhook is None:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}
    return emulator.webhook.info(pending)


def _menu_key(emulator: BotApiEmulator, params: Params) -> tuple[ScopeKey, str]:
    scope = scope_key(params.json_("scope"))
    if scope[1] is not None:
        emulator.chat_for_bot(scope[1])  # per-chat menus need a chat that exists
    return scope, language_key(params.str_("language_code"))


async def set_my_commands(emulator: BotApiEmulator, params: Params) -> bool:
    """``setMyCommands``."""
    commands = parse_commands(params.json_("commands"))
    scope, language = _menu_key(emulator, params)
    emulator.commands.set(scope, language, commands)
    return True


async def get_my_commands(emulator: BotApiEmulator, params: Params) -> list[JSONDict]:
    """``getMyCommands``: exactly the stored scope and language, no fallback."""
    return emulator.commands.get(*_menu_key(emulator, params))


async def delete_my_commands(emulator: BotApiEmulator, params: Params) -> bool:
    """``deleteMyCommands``."""
    emulator.commands.delete(*_menu_key(emulator, params))
    return True


async def get_chat(emulator: BotApiEmulator, params: Params) -> JSONDict:
    """``getChat``: a minimal ``ChatFullInfo``."""
    chat_id = params.chat_id()
    chat = emulator.chats.get(chat_id)
    if chat is None:
        raise bad_request("Bad Request: chat not found")
    return {
        **chat.to_api(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


HANDLERS: dict[str, Handler] = {
    "getMe": get_me,
    "logOut": log_out,
    "close": log_out,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "getChat": get_chat,
}
