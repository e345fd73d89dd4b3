"""The driver API over HTTP: ``POST /_driver/<action>`` with a JSON body.

Every action maps onto a ``BotApiEmulator`` method of the same name; answers are
``{"ok": true, "result": ...}``, or ``{"ok": false, "error": ...}`` with 400 (the
action was refused), 404 (unknown action) or 408 (a wait timed out).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.emulator.errors import ApiError, DriverError
from bot.emulator.model import EmulatedUser, JSONDict
from bot.emulator.state import BotApiEmulator

Action = Callable[[BotApiEmulator, JSONDict], Awaitable[Any]]


def _user(body: JSONDict) -> EmulatedUser:
    data = body.get("user")
    if not isinstance(data, dict) or "id" not in data:
        raise DriverError("a user object with an id is required")
    return EmulatedUser.from_dict(data)


def _bytes(body: JSONDict) -> bytes:
    try:
        return base64.b64decode(str(body["content"]), validate=True)
    except (KeyError, binascii.Error) as exc:
        raise DriverError("content must be base64") from exc


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


async def _add_user(emulator: BotApiEmulator, body: JSONDict) -> None:
    emulator.add_user(_user(body))


async def _create_group(emulator: BotApiEmulator, body: JSONDict) -> JSONDict:
    return emulator.create_group(int(body["chat_id"]), str(body.get("title") or "Group"))


async def _send_text(emulator: BotApiEmulator, body: JSONDict) -> JSONDict:
    return emulator.send_text(_user(body), str(body["text"]), _int_or_none(body.get("chat_id")))


async def _press(emulator: BotApiEmulator, body: JSONDict) -> JSONDict:
    return emulator.press(
        _user(body),
        int(body["message_id"]),
        str(body["callback_data"]),
        _int_or_none(body.get("chat_id")),
        forge=bool(body.get("forge", False)),
    )


async def _send_document(emulator: BotApiEmulator, body: JSONDict) -> JSONDict:
    return emulator.send_document(
        _user(body),
        str(body["filename"]),
        _bytes(body),
        mime_type=body.get("mime_type"),
        caption=body.get("caption"),
        chat_id=_int_or_none(body.get("chat_id")),
    )


async def _send_photo(emulator: BotApiEmulator, body: JSONDict) -> JSONDict:
    return emulator.send_photo(
        _user(body),
        _bytes(body),
        caption=body.get("caption"),
        chat_id=_int_or_none(body.get("chat_id")),
    )


async def _send_raw_update(emulator: BotApiEmulator, body: JSONDict) -> JSONDict:
    update = body.get("update")
    if not isinstance(update, dict):
        raise DriverError("update must be an object")
    return emulator.send_raw_update(update)


async def _block(emulator: BotApiEmulator, body: JSONDict) -> None:
    emulator.block(int(body["user_id"]))


async def _unblock(emulator: BotApiEmulator, body: JSONDict) -> None:
    emulator.unblock(int(body["user_id"]))


async def _messages(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return emulator.messages(
        int(body["chat_id"]), include_user=bool(body.get("include_user", False))
    )


async def _wait_for_message(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return await emulator.wait_for_message(
        int(body["chat_id"]),
        count=int(body.get("count", 1)),
        timeout=float(body.get("timeout", 5.0)),
        since_message_id=_int_or_none(body.get("since_message_id")),
    )


async def _wait_for_call(emulator: BotApiEmulator, body: JSONDict) -> JSONDict:
    return await emulator.wait_for_call(str(body["method"]), float(body.get("timeout", 5.0)))


async def _calls(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return emulator.calls(body.get("method"))


async def _callback_answers(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return emulator.callback_answers(body.get("callback_query_id"))


async def _my_commands(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return emulator.my_commands(body.get("scope"), body.get("language_code") or "")


async def _effective_commands(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return emulator.effective_commands(
        int(body["chat_id"]), _int_or_none(body.get("user_id")), body.get("language_code")
    )


async def _inject_fault(emulator: BotApiEmulator, body: JSONDict) -> int:
    return emulator.inject_fault(
        int(body["status"]),
        method=body.get("method"),
        chat_id=_int_or_none(body.get("chat_id")),
        retry_after=_int_or_none(body.get("retry_after")),
        description=body.get("description"),
        times=int(body.get("times", 1)),
        probability=None if body.get("probability") is None else float(body["probability"]),
        seed=_int_or_none(body.get("seed")),
    )


async def _clear_faults(emulator: BotApiEmulator, body: JSONDict) -> None:
    emulator.clear_faults()


async def _faults(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return emulator.faults.rules()


async def _chats(emulator: BotApiEmulator, body: JSONDict) -> list[JSONDict]:
    return [
        {**chat.to_api(), "blocked": chat.id in emulator.blocked, "keyboard": chat.reply_keyboard}
        for chat in emulator.chats.values()
    ]


async def _reset(emulator: BotApiEmulator, body: JSONDict) -> None:
    await emulator.reset()


ACTIONS: dict[str, Action] = {
    "add_user": _add_user,
    "create_group": _create_group,
    "send_text": _send_text,
    "press": _press,
    "send_document": _send_document,
    "send_photo": _send_photo,
    "send_raw_update": _send_raw_update,
    "block": _block,
    "unblock": _unblock,
    "messages": _messages,
    "wait_for_message": _wait_for_message,
    "wait_for_call": _wait_for_call,
    "calls": _calls,
    "callback_answers": _callback_answers,
    "my_commands": _my_commands,
    "effective_commands": _effective_commands,
    "inject_fault": _inject_fault,
    "clear_faults": _clear_faults,
    "faults": _faults,
    "chats": _chats,
    "reset": _reset,
}


def _failure(status: int, error: str, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "error": error, **extra}, status=status)


def add_driver_routes(app: web.Application, emulator: BotApiEmulator) -> None:
    """Adds ``POST /_driver/{action}`` and ``GET /_driver/files/{file_id}`` to ``app``."""

    async def run_action(request: web.Request) -> web.Response:
        action = ACTIONS.get(request.match_info["action"])
        if action is None:
            return _failure(404, f"unknown driver action {request.match_info['action']!r}")
        try:
            body = await request.json() if request.body_exists else {}
        except ValueError:
            return _failure(400, "the body must be JSON")
        if not isinstance(body, dict):
            return _failure(400, "the body must be a JSON object")
        try:
            result = await action(emulator, body)
        except TimeoutError as exc:
            return _failure(408, str(exc), timeout=True)
        except ApiError as exc:
            return _failure(400, exc.description)
        except (DriverError, ValueError, TypeError) as exc:
            return _failure(400, str(exc))
        except KeyError as exc:
            return _failure(400, f"missing field {exc}")
        return web.json_response({"ok": True, "result": result})

    async def file_bytes(request: web.Request) -> web.Response:
        stored = emulator.file(request.match_info["file_id"])
        if stored is None:
            return _failure(404, "no such file")
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    app.router.add_post("/_driver/{action}", run_action)
    app.router.add_get("/_driver/files/{file_id}", file_bytes)
