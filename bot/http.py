"""A python-telegram-bot request backend on aiohttp, for the outbox sender.

PTB's default backend (httpx over anyio) spends more CPU per request than the
rest of the sender together; aiohttp, already part of the stack, spends far
less, which is what lets one sender keep up with high configured rates.
"""

from __future__ import annotations

import functools
import ssl

import aiohttp
import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings httpx makes by default (certifi's CA bundle), made once per process.

    httpx reads and parses the whole CA bundle for every client it makes, a few tens of
    milliseconds of CPU each, even for a plain-HTTP Bot API server; PTB makes two clients
    per bot and one more per ``Bot`` without its own ``get_updates_request``.
    """
    return httpx.create_ssl_context()


def httpx_request(*, connection_pool_size: int) -> HTTPXRequest:
    """PTB's default request backend with its default timeouts, on the shared ``tls_context``."""
    return HTTPXRequest(
        connection_pool_size=connection_pool_size, httpx_kwargs={"verify": tls_context()}
    )


def _seconds(timeout: object, default: float) -> float | None:
    """A timeout as PTB passes it: seconds, None for none, or ``BaseRequest.DEFAULT_NONE``."""
    if timeout is None:
        return None
    if isinstance(timeout, int | float):
        return float(timeout)
    # BaseRequest.DEFAULT_NONE: not given, so ours (PTB passes no other marker).
    return default


class AiohttpRequest(BaseRequest):
    """Bot API calls over one aiohttp session with a bounded connection pool."""

    def __init__(
        self,
        *,
        connections: int = 8,
        connect_timeout: float = 10.0,
        read_timeout: float = 15.0,
    ) -> None:
        self._connections = connections
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default time to wait for Telegram's answer."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (once)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one Bot API request; Telegram's status and body come back as they are."""
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialized")
        timeout = aiohttp.ClientTimeout(
            sock_connect=_seconds(connect_timeout, self._connect_timeout),
            sock_read=_seconds(read_timeout, self._read_timeout),
        )
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None and request_data.contains_files:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (file_name, content, mime_type) in request_data.multipart_data.items():
                form.add_field(name, content, filename=file_name, content_type=mime_type)
            data = form
        elif request_data is not None:
            data = request_data.json_parameters
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
