"""End-to-end fixtures: the Bot API emulator over HTTP and the real bot polling it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from bot.app import build_application, running
from bot.emulator import EmulatorDriver, RunningEmulator, start_emulator
from config.policy import load_policy
from config.settings import Settings
from handlers.context import WorkledgerApplication

TOKEN = "123456:TEST-token-for-the-emulator"
T = TypeVar("T")


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """The Bot API emulator on a free loopback port."""
    server = await start_emulator()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def driver(emulator: RunningEmulator) -> AsyncIterator[EmulatorDriver]:
    """The emulator's driver: acts as users, reads what they received."""
    async with EmulatorDriver(emulator.url) as client:
        yield client


@pytest.fixture
def settings(database_url: str, emulator: RunningEmulator) -> Settings:
    """Settings pointing the bot at the emulator and this test's database."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,  # type: ignore[arg-type]
        database_url=database_url,
        api_url=emulator.base_url,
        language="zh_Hans",
        secret_key=secrets.token_hex(32),  # type: ignore[arg-type]
    )


@pytest.fixture
def application(settings: Settings) -> WorkledgerApplication:
    """The bot as production builds it (not yet started)."""
    return build_application(settings, load_policy())


@pytest.fixture
async def bot(application: WorkledgerApplication) -> AsyncIterator[WorkledgerApplication]:
    """The bot, started and long-polling the emulator."""
    async with running(application) as started:
        yield started


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 5.0) -> T:
    """Poll ``probe`` until it returns something (for effects that are not new messages)."""
    async with asyncio.timeout(within):
        # The state lives in the emulator, over HTTP: there is no local event to await.
        while not (result := await probe()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return result
