"""The sandbox's one web server: the page, its JSON API, live events, and the emulator.

One aiohttp application on one loopback port serves everything: the page
(``/``, ``/static/...``), the page's API (``/api/...``), server-sent events
(``/api/events``), and the Bot API emulator the bot polls (``/telegram/...``). One
port means one guard: every request must name the sandbox's own address in ``Host``
(a page on another site reaching it through DNS rebinding is refused), and every
request that changes something must come from the sandbox's own page when it comes
from a browser at all (``Origin``, ``Sec-Fetch-Site``). The page's API acts on the
in-process ``BotApiEmulator`` as the driver API does, and reads the bot's store
through ``inspect`` (read-only) and moves its clock through ``timetravel``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.emulator import BotApiEmulator, create_app
from bot.emulator.errors import ApiError, DriverError
from bot.emulator.model import EmulatedUser, JSONDict
from bot.sandbox import inspect, timetravel
from bot.sandbox.demo import DemoPerson, demo_people
from handlers.context import WorkledgerApplication

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# Where the emulator's routes live on the shared server (the bot's ``base_url`` root).
TELEGRAM_PREFIX = "/telegram"
# Room for a 50 MB document sent by the page, base64 in JSON (4/3 of it), plus the rest.
MAX_BODY = 72 * 1024 * 1024
# A fresh "stranger" gets the next free Telegram user id from here (the demo's are 700001+).
FIRST_STRANGER_ID = 790001
# Events a slow page has not read yet; past this it is dropped and reconnects.
EVENTS_BUFFERED = 2000
KEEPALIVE = 15.0
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind
LANGUAGES = ("en", "zh-hans", "zh-hant")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The ``Host`` headers that name this sandbox; None accepts any (a wildcard bind)."""
    if host in WILDCARD_HOSTS:
        return None
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return frozenset(f"{name}:{port}" for name in (*LOOPBACK_NAMES, shown))


def guard(hosts: frozenset[str] | None) -> Middleware:
    """The middleware that refuses requests not addressed to the sandbox, or sent by
    another site's page: ``Host`` must be the sandbox's, and a request that is not a
    plain read must carry no ``Origin`` (not a browser) or the sandbox's own."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if hosts is not None and host.lower() not in hosts:
            return _refused("this sandbox answers only at its own address")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin")
            if origin is not None and origin.lower() != f"http://{host.lower()}":
                return _refused("requests from another site's page are refused")
            if request.headers.get("Sec-Fetch-Site") == "cross-site":
                return _refused("requests from another site's page are refused")
        return await handler(request)

    return check


def _refused(reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=403)


def _failure(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


class Events:
    """Live events for the pages: every subscriber gets every event, in order."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str | None]] = set()

    def publish(self, kind: str, payload: JSONDict) -> None:
        """Queue ``payload`` as an SSE event of type ``kind`` for every page."""
        frame = f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
        for queue in list(self._queues):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                # A page too slow to read loses its stream; EventSource reconnects and
                # the page reloads its chat.
                self._queues.discard(queue)

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        """A queue of SSE frames for one page; None means the server is stopping."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(EVENTS_BUFFERED)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def close(self) -> None:
        """Ends every stream (the server is stopping)."""
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self._queues.clear()


class Sandbox:
    """What the page's API acts on: the emulator and the running bot.

    ``ready`` is False until the bot has started (and the demo is built): until then the
    API's reads of the store answer 503.
    """

    def __init__(self, emulator: BotApiEmulator, application: WorkledgerApplication) -> None:
        self.emulator = emulator
        self.application = application
        self.events = Events()
        self.ready = False
        self.starting = "starting"  # what it is doing until ready, for the page
        self._unwatch = emulator.watch(self.events.publish)
        self._stranger_ids = FIRST_STRANGER_ID

    def close(self) -> None:
        """Stops the live events."""
        self._unwatch()
        self.events.close()

    def introduce(self, users: Iterable[EmulatedUser]) -> None:
        """Make people known to the emulator, as if each had pressed Start: the bot may
        write to them (Telegram lets a bot write only to people who wrote to it)."""
        for user in users:
            if user.id not in self.emulator.users:
                self.emulator.add_user(user)

    def new_stranger(self, language_code: str) -> EmulatedUser:
        """A fresh emulated user on no roster, with an id nobody has used."""
        known = {person.telegram_user_id for person in demo_people()} | set(self.emulator.users)
        while self._stranger_ids in known:
            self._stranger_ids += 1
        user_id = self._stranger_ids
        self._stranger_ids += 1
        user = EmulatedUser(
            id=user_id,
            first_name="Stranger",
            last_name=str(user_id - FIRST_STRANGER_ID + 1),
            language_code=language_code,
        )
        self.emulator.add_user(user)
        return user


SANDBOX_KEY = web.AppKey("sandbox", Sandbox)

# ------------------------------------------------------------------ helpers


def telegram_language(locale: str | None) -> str:
    """The Telegram app language for an organisation locale (``zh_Hant`` -> ``zh-hant``)."""
    code = (locale or "en").replace("_", "-").lower()
    return code if code in LANGUAGES else ("zh-hans" if code.startswith("zh") else "en")


def _user_from(body: JSONDict) -> EmulatedUser:
    data = body.get("user")
    if not isinstance(data, dict) or "id" not in data:
        raise DriverError("a user object with an id is required")
    user = EmulatedUser.from_dict(data)
    if user.id <= 0:
        raise DriverError("a user id is positive")
    return user


def _content(body: JSONDict) -> bytes:
    try:
        return base64.b64decode(str(body["content"]), validate=True)
    except (KeyError, binascii.Error) as exc:
        raise DriverError("content must be base64") from exc


def _buttons(message: JSONDict) -> list[list[str]]:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels: list[list[str]] = []
    for row in rows:
        labels.append([str(button.get("text", "")) for button in row])
    return labels


def transcript(messages: Iterable[JSONDict], user: EmulatedUser | None) -> list[JSONDict]:
    """Each message of a chat as a transcript line: time, sender, text, buttons, files."""
    name = "user" if user is None else " ".join(filter(None, (user.first_name, user.last_name)))
    lines = []
    for message in messages:
        if message.get("deleted"):
            continue
        lines.append(
            {
                "message_id": message["message_id"],
                "time": datetime.fromtimestamp(message["date"], UTC).isoformat(),
                "sender": "bot" if message["from_bot"] else name,
                "text": message.get("text")
                if message.get("text") is not None
                else message.get("caption"),
                "buttons": _buttons(message),
                "document": (message.get("document") or {}).get("file_name"),
                "photo": bool(message.get("photo")),
                "edited": bool(message.get("edit_count")),
            }
        )
    return lines


def transcript_text(lines: list[JSONDict]) -> str:
    """The transcript as plain text, one block per message."""
    blocks = []
    for line in lines:
        head = f"[{line['time']}] {line['sender']}" + (" (edited)" if line["edited"] else "")
        body = [line["text"] or ""]
        if line["document"]:
            body.append(f"[document: {line['document']}]")
        if line["photo"]:
            body.append("[photo]")
        for row in line["buttons"]:
            body.append(" ".join(f"[{label}]" for label in row))
        blocks.append("\n".join([head, *[part for part in body if part]]))
    return "\n\n".join(blocks) + "\n"


# ------------------------------------------------------------------ routes


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


async def _body(request: web.Request) -> JSONDict:
    if request.content_type != "application/json":
        raise DriverError("the body must be JSON (application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise DriverError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise DriverError("the body must be a JSON object")
    return body


def _action(
    run: Callable[[Sandbox, JSONDict], Awaitable[Any]],
) -> Handler:
    """A POST route: JSON body in, ``{"ok": true, "result": ...}`` out."""

    async def route(request: web.Request) -> web.StreamResponse:
        sandbox = _sandbox(request)
        try:
            result = await run(sandbox, await _body(request))
        except ApiError as exc:
            return _failure(400, exc.description)
        except (DriverError, ValueError, TypeError) as exc:
            return _failure(400, str(exc))
        except KeyError as exc:
            return _failure(400, f"missing field {exc}")
        return web.json_response({"ok": True, "result": result})

    return route


def _needs_bot(handler: Handler) -> Handler:
    async def route(request: web.Request) -> web.StreamResponse:
        if not _sandbox(request).ready:
            return _failure(503, f"the sandbox is {_sandbox(request).starting}")
        return await handler(request)

    return route


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _status(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    return web.json_response(
        {
            "ready": sandbox.ready,
            "starting": None if sandbox.ready else sandbox.starting,
            "bot": sandbox.emulator.bot_user(),
            "languages": list(LANGUAGES),
            "zone": sandbox.application.bot_data.settings.timezone,
            "moves": list(timetravel.MOVES),
        }
    )


def user_for(card: inspect.PersonCard) -> EmulatedUser | None:
    """The emulated Telegram user behind a roster card (None: not joined)."""
    if card.telegram_user_id is None:
        return None
    for known in demo_people():
        if known.telegram_user_id == card.telegram_user_id:
            return demo_user(known)
    return EmulatedUser(
        id=card.telegram_user_id,
        first_name=card.name,
        language_code=telegram_language(card.language),
    )


def demo_user(person: DemoPerson) -> EmulatedUser:
    """A demo person as an emulated Telegram user."""
    return EmulatedUser(
        id=person.telegram_user_id,
        first_name=person.first_name,
        last_name=person.last_name or None,
        language_code=person.language_code,
    )


async def _people(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    cards = await inspect.roster_people(sandbox.application.bot_data)
    people = []
    for card in cards:
        entry = asdict(card)
        entry["roles"] = list(card.roles)
        user = user_for(card)
        entry["user"] = None if user is None else user.to_api()
        people.append(entry)
    return web.json_response({"people": people})


async def _stranger(sandbox: Sandbox, body: JSONDict) -> JSONDict:
    language = str(body.get("language_code") or "en")
    return sandbox.new_stranger(language).to_api()


async def _chat(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        return _failure(400, "a user id is a number")
    emulator = sandbox.emulator
    user = emulator.users.get(user_id)
    language = request.query.get("language_code") or (user.language_code if user else None)
    chat = emulator.chats.get(user_id)
    return web.json_response(
        {
            "user": None if user is None else user.to_api(),
            "messages": emulator.messages(user_id, include_user=True),
            "commands": emulator.effective_commands(user_id, user_id, language),
            "keyboard": None if chat is None else chat.reply_keyboard,
        }
    )


async def _send(sandbox: Sandbox, body: JSONDict) -> JSONDict:
    text = str(body["text"])
    if not text.strip():
        raise DriverError("the message is empty")
    return sandbox.emulator.send_text(_user_from(body), text)


async def _press(sandbox: Sandbox, body: JSONDict) -> JSONDict:
    return sandbox.emulator.press(
        _user_from(body), int(body["message_id"]), str(body["callback_data"])
    )


async def _send_file(sandbox: Sandbox, body: JSONDict) -> JSONDict:
    user = _user_from(body)
    caption = body.get("caption") or None
    if body.get("photo"):
        return sandbox.emulator.send_photo(user, _content(body), caption=caption)
    return sandbox.emulator.send_document(
        user,
        str(body.get("filename") or "file"),
        _content(body),
        mime_type=body.get("mime_type") or None,
        caption=caption,
    )


async def _file(request: web.Request) -> web.StreamResponse:
    stored = _sandbox(request).emulator.file(request.match_info["file_id"])
    if stored is None:
        return _failure(404, "no such file")
    disposition = "inline" if stored.kind == "photo" else "attachment"
    return web.Response(
        body=stored.content,
        content_type=stored.mime_type or "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(disposition, stored.file_name or "file"),
            "X-Content-Type-Options": "nosniff",
        },
    )


def content_disposition(disposition: str, name: str) -> str:
    """``attachment; filename=...`` for any name: an ASCII fallback, and the name itself
    in RFC 5987 form (a Chinese file name survives the download)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _transcript(request: web.Request) -> web.StreamResponse:
    emulator = _sandbox(request).emulator
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        return _failure(400, "a user id is a number")
    lines = transcript(emulator.messages(user_id, include_user=True), emulator.users.get(user_id))
    name = f"workledger-chat-{user_id}"
    if request.query.get("format") == "text":
        return web.Response(
            text=transcript_text(lines),
            content_type="text/plain",
            headers={"Content-Disposition": f'attachment; filename="{name}.txt"'},
        )
    return web.json_response(
        {"chat_id": user_id, "messages": lines},
        headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        dumps=lambda data: json.dumps(data, ensure_ascii=False, indent=2),
    )


async def _inspect(request: web.Request) -> web.StreamResponse:
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        return _failure(400, "a user id is a number")
    state = await inspect.inspect_person(_sandbox(request).application.bot_data, user_id)
    return web.json_response(state, dumps=lambda data: json.dumps(data, default=str))


async def _clock(request: web.Request) -> web.StreamResponse:
    status = timetravel.clock_status(_sandbox(request).application.bot_data)
    return web.json_response(status, dumps=lambda data: json.dumps(data, default=str))


async def _move(sandbox: Sandbox, body: JSONDict) -> Any:
    if not sandbox.ready:
        raise DriverError("the sandbox is still starting")
    move = str(body["move"])
    if move not in timetravel.MOVES:
        raise DriverError(f"unknown move {move!r}: one of {', '.join(timetravel.MOVES)}")
    moment = await timetravel.move_clock(sandbox.application, move)
    status = json.loads(
        json.dumps(timetravel.clock_status(sandbox.application.bot_data), default=str)
    )
    sandbox.events.publish("clock", status)
    return {"moved_to": moment.isoformat(), "clock": status}


async def _events(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    with sandbox.events.subscribe() as queue:
        await response.write(b"event: hello\ndata: {}\n\n")
        while True:
            try:
                frame = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                frame = ": keepalive\n\n"
            if frame is None:
                break
            try:
                await response.write(frame.encode())
            except (ConnectionResetError, RuntimeError):
                break
    return response


def create_sandbox_app(sandbox: Sandbox, *, hosts: frozenset[str] | None) -> web.Application:
    """The page, its API and the emulator (under ``/telegram``) in one application."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[guard(hosts)])
    app[SANDBOX_KEY] = sandbox
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/people", _needs_bot(_people))
    app.router.add_post("/api/stranger", _action(_stranger))
    app.router.add_get("/api/chat/{user_id}", _chat)
    app.router.add_post("/api/send", _action(_send))
    app.router.add_post("/api/press", _action(_press))
    app.router.add_post("/api/send_file", _action(_send_file))
    app.router.add_get("/api/files/{file_id}", _file)
    app.router.add_get("/api/transcript/{user_id}", _transcript)
    app.router.add_get("/api/inspect/{user_id}", _needs_bot(_inspect))
    app.router.add_get("/api/clock", _needs_bot(_clock))
    app.router.add_post("/api/clock", _action(_move))
    app.router.add_get("/api/events", _events)
    app.add_subapp(TELEGRAM_PREFIX, create_app(sandbox.emulator))

    async def stop_events(app: web.Application) -> None:
        sandbox.close()

    app.on_shutdown.append(stop_events)
    return app


@contextlib.asynccontextmanager
async def serving(app: web.Application, sock: Any) -> AsyncIterator[web.AppRunner]:
    """Serve ``app`` on an already bound socket until the block ends."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield runner
    finally:
        await runner.cleanup()
