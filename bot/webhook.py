"""Receiving updates by webhook: Telegram POSTs each one, answered 200 once it is stored.

``workledger run --webhook https://host/path`` serves an aiohttp server (on
``--listen``, loopback by default, behind a reverse proxy that terminates TLS) with
three routes: ``POST <path>`` for Telegram, and ``GET /healthz`` and ``GET /metrics``
(``bot.monitoring``). On start it calls ``setWebhook`` with the URL, the update kinds
the bot handles (``bot.app.UPDATES``, as polling asks for), ``max_connections`` and the
secret; on stop it deletes nothing, so Telegram keeps what arrives meanwhile (for this
process's next start, or another process behind the same URL).

Each POST goes through the inbox as polling's batches do (``bot.inbox.Intake.accept``:
stored and committed, then handed to the handlers), one update per request:

- a wrong or missing ``X-Telegram-Bot-Api-Secret-Token`` is answered 403;
- a body that is not an update is answered 400, and nothing is stored;
- 200 once the update is stored (stored before, by this process or another one
  behind the same URL: 200 too, and it is not handed to the handlers again);
- 503 if it could not be stored, or the bot is stopping: Telegram sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.error import TelegramError

from bot.inbox import Intake, brief
from bot.monitoring import monitoring_app, parse_address
from handlers.context import WorkledgerApplication

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
DEFAULT_LISTEN = "127.0.0.1:8443"
# Telegram's default; at most 100.
MAX_CONNECTIONS = 40
# A POST waits this long for room in the inbox's outstanding updates, then is refused
# with 503 (Telegram sends it again later) rather than holding its connection forever.
ROOM_WAIT = 10.0
# At shutdown, requests being answered get this long; later ones find the port closed.
SHUTDOWN_WITHIN = 5.0
# setWebhook at start is retried this often before the start fails.
SET_ATTEMPTS = 5
_RESERVED = ("/healthz", "/metrics")


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """Where Telegram posts, where this process listens, and the shared secret."""

    url: str
    secret: SecretStr
    host: str = "127.0.0.1"
    port: int = 8443
    max_connections: int = MAX_CONNECTIONS

    @property
    def path(self) -> str:
        """The URL's path: the route Telegram's POSTs arrive on."""
        return urlsplit(self.url).path or "/"

    @classmethod
    def parse(
        cls,
        url: str,
        secret: SecretStr | None,
        listen: str = DEFAULT_LISTEN,
        max_connections: int = MAX_CONNECTIONS,
    ) -> WebhookOptions:
        """Checked options; ``ValueError`` says what is wrong, never with the secret."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"--webhook needs an https:// URL, got {url!r}")
        if (parts.path or "/") in _RESERVED:
            raise ValueError(f"--webhook's path may not be {parts.path} (health and metrics)")
        if secret is None:
            raise ValueError(
                "WORKLEDGER_WEBHOOK_SECRET is required with --webhook: a random value of "
                "1-256 letters, digits, _ or - (e.g. `openssl rand -hex 32`)"
            )
        if not 1 <= max_connections <= 100:
            raise ValueError("--max-connections is 1 to 100")
        try:
            host, port = parse_address(listen)
        except ValueError as error:
            raise ValueError(f"--listen: {error}") from None
        return cls(url, secret, host, port, max_connections)


class _Receive:
    """The ``POST <path>`` handler (aiohttp's default body limit, 1 MiB, is plenty:
    an update names a file by its id, the file is not in it)."""

    def __init__(self, bot: Bot, intake: Intake, secret: SecretStr) -> None:
        self._bot = bot
        self._intake = intake
        self._secret = secret.get_secret_value().encode()
        self.stopping = False

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403, text="wrong secret token")
        if self.stopping:
            return web.Response(status=503, text="stopping")
        update = await self._read(request)
        if update is None:
            return web.Response(status=400, text="not an update")
        try:
            async with asyncio.timeout(ROOM_WAIT):
                await self._intake.room()
        except TimeoutError:
            return web.Response(status=503, text="busy")
        if self.stopping:
            return web.Response(status=503, text="stopping")
        try:
            await self._intake.accept([update])
        except SQLAlchemyError as error:
            log.warning("cannot store update %d (%s); Telegram sends it again", update.update_id,
                        brief(error))  # fmt: skip
            return web.Response(status=503, text="cannot store the update")
        return web.Response(status=200)

    async def _read(self, request: web.Request) -> Update | None:
        try:
            data: Any = await request.json()
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return None
        try:
            return Update.de_json(data, self._bot)
        except Exception:  # a malformed update is the sender's problem, told by the 400
            log.debug("an update that cannot be read was refused", exc_info=True)
            return None


class WebhookReceiver:
    """Receives updates by webhook into ``intake`` until ``stop``: ``Poller``'s counterpart."""

    def __init__(
        self,
        application: WorkledgerApplication,
        intake: Intake,
        allowed_updates: Sequence[str],
        options: WebhookOptions,
    ) -> None:
        self._application = application
        self._intake = intake
        self._allowed = list(allowed_updates)
        self._options = options
        self._stop = asyncio.Event()
        self._receive = _Receive(application.bot, intake, options.secret)
        # The webhook route beside ``GET /healthz`` and ``GET /metrics``.
        self._app = monitoring_app(application)
        self._app.router.add_post(options.path, self._receive.handle)
        self.port: int | None = None
        # Set once the server listens and the webhook is set.
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Serve, set the webhook, and take over the inbox's unheld updates (other
        processes may be handling the rest: ``Intake.keep_holding``); returns once
        ``stop`` was called."""
        holding = asyncio.create_task(self._intake.keep_holding(self._stop), name="inbox-holds")
        try:
            await self._serve()
        finally:
            self._stop.set()
            await holding

    async def _serve(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=SHUTDOWN_WITHIN)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._options.host, self._options.port)
            await site.start()
            self.port = self._options.port
            for address in runner.addresses:
                self.port = int(address[1])
                break
            log.info(
                "receiving updates by webhook on http://%s:%d%s (also /healthz, /metrics)",
                self._options.host,
                self.port,
                self._options.path,
            )
            await self._set_webhook()
            self.ready.set()
            await self._stop.wait()
        finally:
            self._receive.stopping = True
            await runner.cleanup()

    async def _set_webhook(self) -> None:
        for attempt in range(1, SET_ATTEMPTS + 1):
            try:
                await self._application.bot.set_webhook(
                    url=self._options.url,
                    allowed_updates=self._allowed,
                    max_connections=self._options.max_connections,
                    secret_token=self._options.secret.get_secret_value(),
                )
            except TelegramError as error:
                if attempt == SET_ATTEMPTS:
                    raise
                log.warning("cannot set the webhook (%s); retrying", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), attempt)
                if self._stop.is_set():
                    return
            else:
                return

    def stop(self) -> None:
        """Stop receiving: new POSTs are refused (503), then the port is closed."""
        self._receive.stopping = True
        self._stop.set()
        self._intake.close()
