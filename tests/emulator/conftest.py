"""Fixtures: a running emulator on a free port, a driver, and a raw Bot API caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator, start_emulator
from bot.emulator.state import BotApiEmulator

TOKEN = "123456:TEST-token"


class RawApi:
    """Calls Bot API methods over HTTP and returns (status, body) without interpretation."""

    def __init__(self, session: aiohttp.ClientSession, running: RunningEmulator) -> None:
        self.session = session
        self.running = running

    async def __call__(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        url = f"{self.running.base_url}{TOKEN}/{method}"
        async with self.session.post(url, json=params) as response:
            return response.status, await response.json()

    async def ok(self, method: str, **params: Any) -> Any:
        """Calls a method that must succeed; returns its result."""
        status, body = await self(method, **params)
        assert status == 200, body
        assert body["ok"] is True
        return body["result"]

    async def fails(self, method: str, status: int, **params: Any) -> str:
        """Calls a method that must fail with ``status``; returns the description."""
        got, body = await self(method, **params)
        assert got == status, body
        assert body == {
            "ok": False,
            "error_code": status,
            "description": body["description"],
            **({"parameters": body["parameters"]} if "parameters" in body else {}),
        }
        return str(body["description"])


@pytest.fixture
async def running() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(emulator=BotApiEmulator(max_long_poll=1.0))
    yield running
    await running.close()


@pytest.fixture
def emulator(running: RunningEmulator) -> BotApiEmulator:
    return running.emulator


@pytest.fixture
async def driver(running: RunningEmulator) -> AsyncIterator[EmulatorDriver]:
    async with EmulatorDriver(running.url) as driver:
        yield driver


@pytest.fixture
async def api(running: RunningEmulator) -> AsyncIterator[RawApi]:
    async with aiohttp.ClientSession() as session:
        yield RawApi(session, running)


@pytest.fixture
def ann() -> EmulatedUser:
    return EmulatedUser(id=1001, first_name="Ann", language_code="en", username="ann")


@pytest.fixture
def bo() -> EmulatedUser:
    return EmulatedUser(id=1002, first_name="Bo", language_code="zh-hans")
