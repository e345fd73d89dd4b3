"""One Bot API call from start to finish: log it, inject faults, run it, wrap the result."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.emulator import api_bot, api_media, api_messages
from bot.emulator.errors import ApiError
from bot.emulator.model import JSONDict
from bot.emulator.params import Params

if TYPE_CHECKING:
    from bot.emulator.state import BotApiEmulator

Handler = Callable[["BotApiEmulator", Params], Awaitable[Any]]

_log = logging.getLogger(__name__)

# Lower-case name -> (canonical name, handler): Telegram matches method names
# case-insensitively, and the call log reports the canonical spelling.
METHODS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler)
    for module in (api_bot, api_messages, api_media)
    for name, handler in module.HANDLERS.items()
}
METHOD_NOT_FOUND = "Bad Request: method not found"


def _fault_chat(params: Params) -> int | None:
    try:
        return params.chat_id() if params.has("chat_id") else None
    except ApiError:
        return None


async def dispatch(
    emulator: BotApiEmulator, method: str, params: Params, token: str
) -> tuple[int, JSONDict]:
    """Performs one Bot API call.

    Args:
        emulator: The state to act on.
        method: The method name from the URL, in any letter case.
        params: The decoded parameters.
        token: The bot token from the URL (any token is accepted).

    Returns:
        The HTTP status and the ``{"ok": ...}`` envelope. Unknown methods are 400, not
        404: python-telegram-bot reads 404 as an invalid token.
    """
    emulator.note_token(token)
    known = METHODS.get(method.lower())
    name = known[0] if known else method
    record = emulator.begin_call(name, params.for_log(), token)
    try:
        if known is None:
            raise ApiError(400, METHOD_NOT_FOUND)
        fault = emulator.faults.check(name.lower(), _fault_chat(params))
        if fault is not None:
            raise fault
        result = await known[1](emulator, params)
    except ApiError as exc:
        emulator.end_call(record, exc.status, exc.description)
        return exc.status, exc.envelope()
    except Exception as exc:
        # A bug in the emulator: answer like a Telegram outage, but say what broke.
        _log.exception("emulator failed on %s", name)
        error = ApiError(500, f"Internal Server Error: emulator failed: {exc!r}")
        emulator.end_call(record, error.status, error.description)
        return error.status, error.envelope()
    emulator.end_call(record, 200, None)
    return 200, {"ok": True, "result": result}
