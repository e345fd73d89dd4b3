"""The emulator over HTTP: Bot API routes, file downloads, the driver API, and startup."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.emulator.dispatch import dispatch
from bot.emulator.driver_routes import add_driver_routes
from bot.emulator.errors import ENTITY_TOO_LARGE, ApiError, bad_request
from bot.emulator.params import Params, UploadedFile
from bot.emulator.state import BotApiEmulator

EMULATOR_KEY = web.AppKey("emulator", BotApiEmulator)
# Room for a 50 MB document plus multipart overhead; the 50 MB rule itself is ours.
MAX_BODY = 52 * 1024 * 1024


async def read_params(request: web.Request) -> Params:
    """Decodes a Bot API request: query string, then a JSON, form or multipart body."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if not request.body_exists:
        return Params(values)
    try:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("Bad Request: can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("Bad Request: can't parse JSON object")
            values.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    files[key] = UploadedFile(value.filename, content, value.content_type)
                elif isinstance(value, bytes | bytearray):
                    values[key] = bytes(value).decode("utf-8", "replace")
                else:
                    values[key] = value
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, ENTITY_TOO_LARGE) from None
    return Params(values, files)


async def _bot_api(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    try:
        params = await read_params(request)
    except ApiError as exc:
        return web.json_response(exc.envelope(), status=exc.status)
    status, body = await dispatch(
        emulator, request.match_info["method"], params, request.match_info["token"]
    )
    return web.json_response(body, status=status)


async def _download(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    emulator.note_token(request.match_info["token"])
    stored = emulator.files.by_path(request.match_info["path"])
    if stored is None:
        body = {"ok": False, "error_code": 404, "description": "Not Found"}
        return web.json_response(body, status=404)
    return web.Response(
        body=stored.content, content_type=stored.mime_type or "application/octet-stream"
    )


async def _index(request: web.Request) -> web.Response:
    return web.json_response(
        {"emulator": "workledger Bot API emulator", "bot": request.app[EMULATOR_KEY].bot_user()}
    )


def create_app(emulator: BotApiEmulator) -> web.Application:
    """Builds the aiohttp application serving ``emulator``.

    Routes: ``/bot{token}/{method}`` (Bot API), ``/file/bot{token}/{path}`` (downloads),
    ``/_driver/...`` (acting as users, reading what they received).
    """
    app = web.Application(client_max_size=MAX_BODY)
    app[EMULATOR_KEY] = emulator
    app.router.add_route("*", "/bot{token}/{method}", _bot_api)
    app.router.add_get("/file/bot{token}/{path:.+}", _download)
    app.router.add_get("/", _index)
    add_driver_routes(app, emulator)

    async def _release_poll(app: web.Application) -> None:
        emulator.updates.release_poll()  # a polling bot gets its answer before we go

    async def _close(app: web.Application) -> None:
        await emulator.aclose()

    app.on_shutdown.append(_release_poll)
    app.on_cleanup.append(_close)
    return app


@dataclass(slots=True)
class RunningEmulator:
    """An emulator serving HTTP on loopback; ``close()`` (or ``async with``) stops it."""

    emulator: BotApiEmulator
    host: str
    port: int
    _runner: web.AppRunner

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8081`` (what ``EmulatorDriver`` wants)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """python-telegram-bot's ``base_url``: ``<url>/bot`` (it appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """python-telegram-bot's ``base_file_url``: ``<url>/file/bot``."""
        return f"{self.url}/file/bot"

    async def close(self) -> None:
        """Stops serving and stops background work."""
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningEmulator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    emulator: BotApiEmulator | None = None,
    access_log: bool = False,
) -> RunningEmulator:
    """Starts an emulator on ``host:port`` (port 0 picks a free port, reported back).

    Args:
        host: Interface to listen on.
        port: TCP port, or 0 for any free one.
        emulator: Existing state to serve; a fresh ``BotApiEmulator`` by default.
        access_log: Log every request (off by default: benchmarks send thousands).
    """
    emulator = emulator or BotApiEmulator()
    # Pending long polls and driver waits are cut short on close instead of holding
    # the shutdown for their full timeout.
    runner = web.AppRunner(
        create_app(emulator),
        access_log=web.access_logger if access_log else None,
        shutdown_timeout=0.25,
    )
    await runner.setup()
    # Binding the socket ourselves is how we learn the real port behind port 0.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        site = web.SockSite(runner, sock)
        await site.start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return RunningEmulator(emulator, host, sock.getsockname()[1], runner)
