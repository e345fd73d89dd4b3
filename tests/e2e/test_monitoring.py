"""/healthz, /metrics and the JSON logs of the real bot, polling the emulator."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from assessment.outbox import Outgoing, enqueue
from bot.app import running
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from bot.logs import configure_logging
from bot.monitoring import serving
from handlers.context import WorkledgerApplication
from storage import migrate
from storage.engine import Database

from .conftest import TOKEN, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def monitor(bot: WorkledgerApplication) -> AsyncIterator[str]:
    """The running bot's /healthz and /metrics on a free loopback port."""
    async with serving(bot, "127.0.0.1", 0) as port:
        yield f"http://127.0.0.1:{port}"


async def _get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def _scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by name and labels, parsed by prometheus_client's parser."""
    status, content_type, body = await _get(f"{base}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_after_an_update_and_a_send(
    bot: WorkledgerApplication, driver: EmulatorDriver, monitor: str
) -> None:
    before = await _scrape(monitor)
    assert _value(before, "workledger_updates_total", handler="/start", outcome="ok") == 0
    assert _value(before, "workledger_outbox_sends_total", result="sent") == 0

    user = EmulatedUser(id=4101, first_name="Ada", language_code="en")
    await driver.send_text(user, "/start")
    await driver.wait_for_message(user.id)

    async def update_counted() -> dict[Any, float] | None:
        samples = await _scrape(monitor)
        counted = _value(samples, "workledger_updates_total", handler="/start", outcome="ok")
        return samples if counted == 1 else None

    samples = await eventually(update_counted, within=30)
    assert _value(samples, "workledger_handler_seconds_count", handler="/start") == 1
    assert _value(samples, "workledger_update_claims_total", result="taken") == 1

    # A message through the outbox, its first attempt answered with a 429.
    await driver.inject_fault(429, method="sendMessage", chat_id=user.id, retry_after=1)
    async with bot.bot_data.database.uow() as uow:
        await enqueue(
            uow, [Outgoing(chat_id=user.id, kind="test", text="hello")], now=datetime.now(UTC)
        )
        await uow.commit()

    async def sent() -> dict[Any, float] | None:
        # The counter moves when Telegram accepts; the row's state when the sender next
        # records its outcomes (within a second): both, before the depth is read.
        samples = await _scrape(monitor)
        done = _value(samples, "workledger_outbox_sends_total", result="sent")
        left = _value(samples, "workledger_outbox_messages", state="pending")
        return samples if done == 1 and left == 0 else None

    samples = await eventually(sent, within=30)
    assert _value(samples, "workledger_outbox_sends_total", result="sent") == 1
    assert _value(samples, "workledger_outbox_sends_total", result="throttled") == 1
    assert _value(samples, "workledger_telegram_429_total", source="sender") == 1
    assert ("workledger_outbox_messages", (("state", "sending"),)) in samples

    async def probed() -> dict[Any, float] | None:
        samples = await _scrape(monitor)
        return samples if _value(samples, "workledger_event_loop_lag_seconds_count") else None

    await eventually(probed, within=30)


async def test_outbox_depth_counts_what_waits(
    bot: WorkledgerApplication, driver: EmulatorDriver, monitor: str
) -> None:
    # Messages not to be sent for a while: pending, and counted as such.
    later = datetime(2999, 1, 1, tzinfo=UTC)
    async with bot.bot_data.database.uow() as uow:
        await enqueue(
            uow,
            [
                Outgoing(chat_id=4200 + n, kind="test", text="x", not_before=later)
                for n in range(3)
            ],
            now=datetime.now(UTC),
        )
        await uow.commit()
    samples = await _scrape(monitor)
    assert _value(samples, "workledger_outbox_messages", state="pending") == 3


async def test_job_claims_count_taken_and_lost_by_job(
    bot: WorkledgerApplication, monitor: str
) -> None:
    for _ in range(2):
        async with bot.bot_data.database.uow() as uow:
            await uow.claims.claim("probe-job/2026-12-01", datetime.now(UTC))
            await uow.commit()
    samples = await _scrape(monitor)
    assert _value(samples, "workledger_job_claims_total", job="probe-job", result="taken") == 1
    assert _value(samples, "workledger_job_claims_total", job="probe-job", result="lost") == 1


async def test_a_refused_caller_counts_at_the_gate(
    bot: WorkledgerApplication, driver: EmulatorDriver, monitor: str
) -> None:
    user = EmulatedUser(id=4301, first_name="Bo", language_code="en")
    await driver.send_text(user, "/me")
    await driver.wait_for_message(user.id)

    async def refused() -> dict[Any, float] | None:
        samples = await _scrape(monitor)
        counted = _value(samples, "workledger_updates_total", handler="gate", outcome="refused")
        return samples if counted == 1 else None

    samples = await eventually(refused)
    assert _value(samples, "workledger_updates_total", handler="/me", outcome="ok") == 0


async def test_healthz_is_200_while_the_bot_runs(bot: WorkledgerApplication, monitor: str) -> None:
    status, content_type, body = await _get(f"{monitor}/healthz")
    assert status == 200, body
    assert content_type.startswith("application/json")
    assert json.loads(body) == {
        "status": "ok",
        "healthy": True,
        "checks": {"database": "ok", "schema": "ok", "sender": "ok"},
    }


async def test_healthz_is_503_when_the_schema_is_behind(
    bot: WorkledgerApplication, monitor: str, database_url: str
) -> None:
    older = migrate.revisions()[-2]
    other = Database(database_url)
    try:
        async with other.engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :older"), {"older": older}
            )
    finally:
        await other.dispose()
    status, _, body = await _get(f"{monitor}/healthz")
    assert status == 503
    answer = json.loads(body)
    assert answer["status"] == "unavailable"
    assert answer["checks"]["database"] == "ok"
    assert answer["checks"]["schema"] == f"at {older}, the code needs {migrate.head_revision()}"


async def test_healthz_is_503_while_the_sender_cannot_record_its_heartbeat(
    bot: WorkledgerApplication, monitor: str, database_url: str
) -> None:
    """The sender's task running is not enough: while its heartbeat cannot be written
    (another program holds the senders' table), /healthz says so, and recovers after."""

    async def answer(status: int) -> dict[str, Any] | None:
        got, _, body = await _get(f"{monitor}/healthz")
        return json.loads(body) if got == status else None

    async def beaten() -> float | None:
        samples = await _scrape(monitor)
        return _value(samples, "workledger_sender_heartbeat_timestamp_seconds") or None

    assert await eventually(beaten, within=10) > 1.7e9  # Unix time: the store has the beat
    await eventually(lambda: answer(200), within=10)
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database
        assert path is not None
        holder = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            holder.execute("BEGIN IMMEDIATE")  # the store's one write lock
            unhealthy = await eventually(lambda: answer(503), within=20)
            holder.rollback()
        finally:
            holder.close()
    else:
        other = Database(database_url)
        try:
            async with other.engine.connect() as connection:
                await connection.execute(text("LOCK TABLE delivery_workers IN EXCLUSIVE MODE"))
                unhealthy = await eventually(lambda: answer(503), within=20)
                await connection.rollback()
        finally:
            await other.dispose()
    assert unhealthy["checks"]["database"] == "ok"
    assert unhealthy["checks"]["sender"].startswith("no heartbeat for ")
    assert unhealthy["checks"]["sender"].endswith("(dead after 4 s)")
    await eventually(lambda: answer(200), within=20)


async def test_healthz_is_503_when_the_store_is_unreachable_or_the_bot_not_started(
    application: WorkledgerApplication,
) -> None:
    async with serving(application, "127.0.0.1", 0) as port:
        status, _, body = await _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 503
        checks = json.loads(body)["checks"]
        assert checks["database"].startswith("not open")
        assert checks["sender"] == "not running"

        # A store nobody answers for: a PostgreSQL server on a port where none listens.
        application.bot_data.attach(Database("postgresql+asyncpg://workledger@127.0.0.1:9/x"))
        try:
            status, _, body = await _get(f"http://127.0.0.1:{port}/healthz")
        finally:
            database = application.bot_data.detach()
            assert database is not None
            await database.dispose()
        assert status == 503
        checks = json.loads(body)["checks"]
        assert checks["database"].startswith("unreachable: ")
        assert checks["schema"] == "unknown"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    httpx = logging.getLogger("httpx")
    httpx_level = httpx.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        httpx.setLevel(httpx_level)


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_json_logs_carry_the_update_and_never_the_token(
    application: WorkledgerApplication, driver: EmulatorDriver, level: str
) -> None:
    stream = io.StringIO()
    configure_logging(level, secrets=(TOKEN,), log_format="json", stream=stream)
    # httpx logs each request's URL, which holds the token: let it, to see it redacted.
    logging.getLogger("httpx").setLevel(logging.INFO)
    user = EmulatedUser(id=4401, first_name="Ada", language_code="en")
    async with running(application):
        await driver.send_text(user, "/start")
        await driver.wait_for_message(user.id)

        async def closing_line() -> dict[str, Any] | None:
            for line in stream.getvalue().splitlines():
                fields = json.loads(line)
                if fields["logger"] == "workledger.updates":
                    return dict(fields)
            return None

        update_line = await eventually(closing_line)
    lines = stream.getvalue().splitlines()
    assert all(TOKEN not in line for line in lines)
    parsed = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= fields.keys() for fields in parsed)
    # The URLs were logged, with the token taken out.
    assert any(
        fields["logger"] == "httpx" and "/bot***/getUpdates" in fields["message"]
        for fields in parsed
    )
    assert update_line["level"] == "INFO"
    assert update_line["user_id"] == user.id
    assert isinstance(update_line["update_id"], int)
    assert update_line["handler"] == "/start"
    assert update_line["latency_ms"] >= 0
    if level == "DEBUG":
        assert update_line["text"] == "/start"
    else:
        assert all("text" not in fields for fields in parsed)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_workledger_run_serves_metrics_and_logs_json_without_the_token(
    emulator: RunningEmulator, driver: EmulatorDriver, tmp_path: Path
) -> None:
    """The operator's command: ``--log-format json`` and ``run --metrics HOST:PORT``."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKLEDGER_")}
    env.update({"WORKLEDGER_TOKEN": TOKEN, "WORKLEDGER_API_URL": emulator.base_url})
    # Into a file: at DEBUG the lines would fill a pipe nobody reads until the end.
    log_file = tmp_path / "bot.log"
    with log_file.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--log-format", "json", "--log-level", "DEBUG",
            "run", "--metrics", f"127.0.0.1:{port}", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        user = EmulatedUser(id=4501, first_name="Ann", language_code="en")
        await driver.send_text(user, "/start")
        await driver.wait_for_message(user.id, timeout=30)

        async def healthy() -> bool:
            try:
                status, _, _ = await _get(f"{base}/healthz")
            except aiohttp.ClientError:
                return False
            return status == 200

        await eventually(healthy, within=30)

        async def counted() -> bool:
            samples = await _scrape(base)
            return _value(samples, "workledger_updates_total", handler="/start", outcome="ok") == 1

        await eventually(counted, within=30)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    err = log_file.read_text()
    assert process.returncode == 0, err[-3000:]
    lines = err.splitlines()
    assert lines
    assert all(TOKEN not in line and TOKEN.split(":")[1] not in line for line in lines)
    parsed = [json.loads(line) for line in lines]
    [closing] = [fields for fields in parsed if fields["logger"] == "workledger.updates"]
    assert closing["handler"] == "/start"
    assert closing["user_id"] == user.id
    assert closing["text"] == "/start"  # at DEBUG only
