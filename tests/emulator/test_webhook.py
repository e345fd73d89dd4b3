"""Webhook delivery: updates POSTed with the secret token header, retried on failure."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.emulator import EmulatedUser, EmulatorDriver
from bot.emulator.state import BotApiEmulator
from tests.emulator.conftest import RawApi


@dataclass
class Receiver:
    """A stand-in for the bot's webhook endpoint."""

    url: str = ""
    received: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    failures_left: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=502)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.received.append((await request.json(), secret))
        self.arrived.set()
        return web.Response()

    async def next(self, count: int = 1) -> list[tuple[dict[str, Any], str | None]]:
        async with asyncio.timeout(3):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    yield receiver
    await runner.cleanup()


async def test_push_with_secret_token(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser, receiver: Receiver
) -> None:
    await driver.send_text(ann, "queued before the webhook")
    assert await api.ok("setWebhook", url=receiver.url, secret_token="s3cret-Token_1")
    update = await driver.send_text(ann, "/log wrote the report")
    received = await receiver.next(2)
    assert [body["message"]["text"] for body, _ in received] == [
        "queued before the webhook",
        "/log wrote the report",
    ]
    assert received[1] == (update, "s3cret-Token_1")
    info = await api.ok("getWebhookInfo")
    assert info["url"] == receiver.url
    assert info["pending_update_count"] == 0


async def test_failed_delivery_is_retried(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser, receiver: Receiver
) -> None:
    receiver.failures_left = 2
    assert await api.ok("setWebhook", url=receiver.url)
    await driver.send_text(ann, "hello")
    ((body, secret),) = await receiver.next()
    assert body["message"]["text"] == "hello"
    assert secret is None
    info = await api.ok("getWebhookInfo")
    assert "502" in info["last_error_message"]


async def test_drop_pending_and_delete(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    await driver.send_text(ann, "old")
    assert await api.ok(
        "setWebhook", url="http://127.0.0.1:9/unreachable", drop_pending_updates=True
    )
    assert (await api.ok("getWebhookInfo"))["pending_update_count"] == 0
    assert await api.ok("deleteWebhook")
    assert await api.ok("getWebhookInfo") == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    assert await api.fails("setWebhook", 400, url="ftp://example.org/hook")
    assert await api.fails("setWebhook", 400, url="http://x.org/h", secret_token="no spaces")


async def test_several_connections_deliver_chats_side_by_side_each_chat_in_order(
    api: RawApi, driver: EmulatorDriver, emulator: BotApiEmulator
) -> None:
    """``webhook_connections``: like Telegram's max_connections, but one chat at a time."""
    emulator.webhook_connections = 4
    in_flight: set[int] = set()
    most = 0
    received: list[tuple[int, str]] = []

    async def slow(request: web.Request) -> web.Response:
        nonlocal most
        body = await request.json()
        chat = body["message"]["chat"]["id"]
        assert chat not in in_flight, "two of one chat's updates at once"
        in_flight.add(chat)
        most = max(most, len(in_flight))
        await asyncio.sleep(0.02)
        received.append((chat, body["message"]["text"]))
        in_flight.discard(chat)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        people = [EmulatedUser(id=8100 + n, first_name=f"P{n}") for n in range(6)]
        for n in range(30):
            await driver.send_text(people[n % 6], f"{n // 6}")
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        assert await api.ok("setWebhook", url=url, max_connections=3)
        async with asyncio.timeout(10):
            while len(received) < 30:  # noqa: ASYNC110 - the receiver has no event of its own
                await asyncio.sleep(0.01)
    finally:
        await runner.cleanup()
    assert most == 3, "at most max_connections at once, and that many"
    for person in people:
        assert [text for chat, text in received if chat == person.id] == ["0", "1", "2", "3", "4"]
    assert (await api.ok("getWebhookInfo"))["pending_update_count"] == 0
