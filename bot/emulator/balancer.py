"""A small load balancer for tests: the emulator's webhook POSTs spread over several bots.

Telegram posts every update to one URL; several ``workledger run --webhook`` processes
stand behind it. ``Balancer`` is that URL: each POST goes to one backend at random,
and a configurable share of them to two different backends at once (as a retry after a
lost answer would), the emulator being answered with the first one's status. A backend
that cannot be reached is skipped for the next one, as a reverse proxy's "next
upstream" does; only when none can be reached is the POST answered 502 (and the
emulator sends it again).

``pin(n)`` sends every POST to backend ``n`` until ``pin(None)``: a test that needs one
conversation's steps on chosen processes.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence

import aiohttp
from aiohttp import web

# Headers passed on to the backend (the rest are the connection's own).
_FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class Balancer:
    """Forwards POSTs to ``backends`` (base URLs; the request's path is kept).

    Args:
        backends: ``http://host:port`` of each backend, in the order ``pin`` numbers them.
        twice: The share of POSTs (0 to 1) delivered to two different backends.
        seed: For the random choices, so a failing run can be repeated.
    """

    def __init__(
        self, backends: Sequence[str], *, twice: float = 0.0, seed: int | None = None
    ) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.backends = [backend.rstrip("/") for backend in backends]
        self.twice = twice
        self._random = random.Random(seed)  # noqa: S311 - spreading load, not secrecy
        self._pinned: int | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""
        # POSTs each backend answered (by index), and how many went to two of them.
        self.answered: Counter[int] = Counter()
        self.doubled = 0
        self.unreachable = 0

    def pin(self, backend: int | None) -> None:
        """Send every POST to ``backend`` (an index), or spread them again (``None``)."""
        self._pinned = backend

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port); returns the balancer's URL."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = int(self._runner.addresses[0][1])
        self.url = f"http://{host}:{bound}"
        return self.url

    async def close(self) -> None:
        """Stop listening and forwarding."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _order(self) -> list[int]:
        if self._pinned is not None:
            return [self._pinned]
        order = list(range(len(self.backends)))
        self._random.shuffle(order)
        return order

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
        path = request.path_qs
        order = self._order()
        if len(order) > 1 and self._random.random() < self.twice:
            self.doubled += 1
            # The first copy falls back to any backend (the second's too, if the first's
            # is down); the second goes to its own or nowhere.
            first, second = await asyncio.gather(
                self._post_to(order, path, body, headers),
                self._post_to(order[1:2], path, body, headers),
            )
            del second  # the emulator hears the first backend, as Telegram would one answer
            return first
        return await self._post_to(order, path, body, headers)

    async def _post_to(
        self, order: Sequence[int], path: str, body: bytes, headers: dict[str, str]
    ) -> web.Response:
        assert self._session is not None
        for index in order:
            try:
                async with self._session.post(
                    self.backends[index] + path, data=body, headers=headers
                ) as response:
                    text = await response.read()
                    self.answered[index] += 1
                    return web.Response(status=response.status, body=text)
            except (aiohttp.ClientError, TimeoutError):
                self.unreachable += 1
                continue
        return web.Response(status=502, text="no backend answered")
