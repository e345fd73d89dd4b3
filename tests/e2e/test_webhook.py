"""Webhook mode: updates POSTed by the emulator, stored before they are answered 200.

The real bot in this process, receiving by webhook (``bot.webhook``) instead of
polling; the emulator posts to it as Telegram does. Two bots on one store behind the
test balancer (``bot.emulator.balancer``) show a redelivered update handled once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, text

from bot.app import UPDATES, build_application, running
from bot.emulator import EmulatorDriver, RunningEmulator
from bot.emulator.balancer import Balancer
from bot.webhook import SECRET_HEADER, WebhookOptions
from config.policy import load_policy
from config.settings import Settings
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.models import InboxUpdate

from .chat import introduce
from .conftest import TOKEN, eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

SECRET = "hook-" + secrets.token_hex(16)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings(database_url: str, emulator: RunningEmulator) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,  # type: ignore[arg-type]
        database_url=database_url,
        api_url=emulator.base_url,
        language="en",
        webhook_secret=SECRET,  # type: ignore[arg-type]
    )


def _options(url: str, port: int) -> WebhookOptions:
    return WebhookOptions(url, SecretStr(SECRET), "127.0.0.1", port, max_connections=7)


@contextlib.asynccontextmanager
async def _webhook_bot(
    database_url: str, emulator: RunningEmulator, url: str, port: int
) -> AsyncIterator[WorkledgerApplication]:
    application = build_application(_settings(database_url, emulator), load_policy())
    async with running(application, webhook=_options(url, port)) as started:
        yield started


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
async def hooked(
    database_url: str, emulator: RunningEmulator, port: int
) -> AsyncIterator[WorkledgerApplication]:
    """The bot receiving by webhook on ``port``, the emulator posting straight to it."""
    async with _webhook_bot(
        database_url, emulator, f"http://127.0.0.1:{port}/telegram/hook", port
    ) as bot:
        yield bot


async def _inbox_count(database: Database) -> int:
    async with database.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(InboxUpdate)) or 0)


def _update(update_id: int, user_id: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_780_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Sue"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Sue", "language_code": "en"},
            "text": text,
        },
    }


async def test_the_bot_sets_its_webhook_and_answers_through_it(
    hooked: WorkledgerApplication, emulator: RunningEmulator, driver: EmulatorDriver, port: int
) -> None:
    org = await seed(hooked.bot_data.database)
    webhook = emulator.emulator.webhook
    assert webhook is not None
    assert webhook.url == f"http://127.0.0.1:{port}/telegram/hook"
    assert webhook.secret_token == SECRET
    assert webhook.allowed_updates == UPDATES
    assert webhook.max_connections == 7
    await introduce(driver, org.staff)
    await driver.send_text(org.staff, "Processed 12 permits")
    [reply] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert "Processed 12 permits" in reply["text"]
    assert webhook.delivered == 2
    assert await _inbox_count(hooked.bot_data.database) == 2
    # Health and metrics on the webhook's own server.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
            assert health.status == 200, await health.text()
        async with http.get(f"http://127.0.0.1:{port}/metrics") as metrics:
            assert metrics.status == 200
            assert "workledger" in await metrics.text()


async def test_a_post_without_the_secret_is_refused_and_a_bad_body_stores_nothing(
    hooked: WorkledgerApplication, port: int
) -> None:
    url = f"http://127.0.0.1:{port}/telegram/hook"
    good = {SECRET_HEADER: SECRET}
    update = _update(501, 9003, "hello")
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "not-" + SECRET}, {SECRET_HEADER: ""}):
            async with http.post(url, json=update, headers=headers) as refused:
                assert refused.status == 403
        for body in (b"not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}'):
            async with http.post(
                url, data=body, headers={**good, "Content-Type": "application/json"}
            ) as bad:
                assert bad.status == 400, body
        # Another path is not the webhook's.
        async with http.post(
            f"http://127.0.0.1:{port}/other", json=update, headers=good
        ) as elsewhere:
            assert elsewhere.status in (404, 405)
    assert await _inbox_count(hooked.bot_data.database) == 0


async def test_an_update_that_cannot_be_stored_is_answered_503_then_stored_when_sent_again(
    hooked: WorkledgerApplication, driver: EmulatorDriver, port: int
) -> None:
    org = await seed(hooked.bot_data.database)
    await introduce(driver, org.staff)
    database = hooked.bot_data.database
    url = f"http://127.0.0.1:{port}/telegram/hook"
    update = _update(10_001, org.staff.id, "Checked 4 files")
    async with database.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as failed,
        ):
            assert failed.status == 503
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as stored,
    ):
        assert stored.status == 200
    [reply] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert "Checked 4 files" in reply["text"]


async def test_two_bots_on_one_store_sent_every_update_twice_answer_each_once(
    database_url: str, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    """The inbox's unique key decides which bot handles a redelivered update, on both
    engines: every POST goes to both bots at once, and some are sent again later."""
    ports = [_free_port(), _free_port()]
    balancer = Balancer([f"http://127.0.0.1:{p}" for p in ports], twice=1.0, seed=5)
    url = await balancer.start()
    try:
        async with (
            _webhook_bot(database_url, emulator, f"{url}/hook", ports[0]) as first,
            _webhook_bot(database_url, emulator, f"{url}/hook", ports[1]),
        ):
            org: Organisation = await seed(first.bot_data.database)
            await introduce(driver, org.staff)
            sent = [await driver.send_text(org.staff, f"Filed {n} returns") for n in range(1, 6)]
            # Telegram sending one again later (its answer was lost), to whichever bot.
            await driver.send_raw_update(sent[2])

            async def five_answers() -> list[str] | None:
                texts = [m.get("text") or "" for m in await driver.messages(org.staff.id)]
                logged = [t for t in texts if "returns" in t]
                return logged if len(logged) >= 5 else None

            logged = await eventually(five_answers, within=15)
            await asyncio.sleep(0.5)  # a second answer would have come by now
            texts = [m.get("text") or "" for m in await driver.messages(org.staff.id)]
            for n in range(1, 6):
                assert sum(f"Filed {n} returns" in t for t in texts) == 1, logged
            assert balancer.doubled >= 7
            assert set(balancer.answered) == {0, 1}
            assert await _inbox_count(first.bot_data.database) == 6  # /help and five
    finally:
        await balancer.close()


def test_run_webhook_refuses_to_start_without_the_secret_or_with_a_bad_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    from bot.cli import main
    from bot.cli_store import EXIT_USAGE

    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv("WORKLEDGER_TOKEN", TOKEN)
    monkeypatch.delenv("WORKLEDGER_WEBHOOK_SECRET", raising=False)
    assert main(["run", "--webhook", "https://bot.example.org/hook"]) == EXIT_USAGE
    assert "WORKLEDGER_WEBHOOK_SECRET is required" in capsys.readouterr().err
    monkeypatch.setenv("WORKLEDGER_WEBHOOK_SECRET", SECRET)
    assert main(["run", "--webhook", "bot.example.org/hook"]) == EXIT_USAGE
    assert "https:// URL" in capsys.readouterr().err
    assert main(["run", "--webhook", "https://bot.example.org/metrics"]) == EXIT_USAGE
    assert "may not be /metrics" in capsys.readouterr().err
    monkeypatch.setenv("WORKLEDGER_WEBHOOK_SECRET", "has spaces in it")
    assert main(["run", "--webhook", "https://bot.example.org/hook"]) == EXIT_USAGE
    assert "WORKLEDGER_WEBHOOK_SECRET" in capsys.readouterr().err


def test_the_webhook_secret_is_never_logged() -> None:
    from bot.logs import RedactSecrets, secrets_of

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,  # type: ignore[arg-type]
        webhook_secret=SECRET,  # type: ignore[arg-type]
    )
    assert SECRET in secrets_of(settings)
    assert SECRET not in RedactSecrets(secrets_of(settings)).clean(f"header was {SECRET}")
