"""A SQLite store kept busy by another process: everyone waits a bounded time, then says so.

The other process is a plain ``sqlite3`` connection of the test holding the write
lock (``BEGIN IMMEDIATE``), as the bot's writes or a roster import hold it. The store
here waits 1 s (``?timeout=1`` in its URL) instead of 5 s, so the tests are quick.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import handlers.log
from bot.cli_store import EXIT_BUSY
from bot.emulator import EmulatorDriver
from handlers.context import WorkledgerApplication

from .chat import introduce
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

ROSTER = Path(__file__).parents[1] / "fixtures" / "roster" / "sample.csv"


@pytest.fixture
def store(sqlite_template: Path, tmp_path: Path) -> Path:
    """This test's SQLite file (never PostgreSQL: the write lock is SQLite's)."""
    path = tmp_path / "workledger.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
def database_url(store: Path) -> str:
    """The store's URL, waiting 1 s for a write lock; the bot fixtures use it."""
    return f"sqlite+aiosqlite:///{store}?timeout=1"


@pytest.fixture
async def locked(store: Path) -> AsyncIterator[sqlite3.Connection]:
    """Another process's connection holding the store's write lock until it commits."""
    other = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    # Off the loop: the bot's writer that holds the lock now needs the loop to commit.
    await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()


COUNTS = {
    table: f"SELECT count(*) FROM {table}"  # noqa: S608 - the table names below only
    for table in ("staff", "departments", "work_entries")
}


def _count(store: Path, table: str) -> int:
    with sqlite3.connect(store) as reader:  # WAL: reads while the lock is held
        return int(reader.execute(COUNTS[table]).fetchone()[0])


async def _import(database_url: str, tmp_path: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKLEDGER_")}
    env.update(WORKLEDGER_DATABASE_URL=database_url, WORKLEDGER_LANGUAGE="en")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "staff", "import", str(ROSTER), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_an_import_while_another_process_writes_fails_in_one_line_and_writes_nothing(
    store: Path, database_url: str, locked: sqlite3.Connection, tmp_path: Path
) -> None:
    code, out, err = await _import(database_url, tmp_path)
    assert code == EXIT_BUSY, err
    assert code not in (0, 1, 2)  # neither imported, nor refused, nor unreadable
    assert err.strip().splitlines() == [
        "workledger: the database is busy: another program (the bot, most likely) kept it "
        "locked for over 1 s; nothing was written; try again in a moment"
    ]
    assert "Traceback" not in err + out
    assert out == ""
    assert (_count(store, "staff"), _count(store, "departments")) == (0, 0)

    locked.execute("COMMIT")
    code, out, err = await _import(database_url, tmp_path)
    assert code == 0, err
    assert _count(store, "staff") == 5


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.staff)
    return organisation


async def test_the_bot_waits_for_a_busy_store_then_saves(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    store: Path,
    locked: sqlite3.Connection,
) -> None:
    turns = bot.bot_data.database.write_turns
    assert turns is not None
    await driver.send_text(org.staff, "Counter duty, morning")
    # A writer of the bot's now waits in SQLite's busy handler, holding this process's turn.
    await eventually(lambda: asyncio.sleep(0, True if turns.taken else None))
    locked.execute("COMMIT")
    [reply] = await driver.wait_for_message(org.staff.id, timeout=8)
    assert reply["text"].startswith("Logged for"), reply["text"]
    assert _count(store, "work_entries") == 1


async def test_the_bot_says_the_store_is_busy_and_that_nothing_was_saved(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    store: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process starts writing after the message is in the inbox, before its entry."""
    caplog.set_level(logging.INFO)
    other = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    quick_log = handlers.log.entries.quick_log

    async def another_process_writes_first(*args: Any, **kwargs: Any) -> Any:
        if not other.in_transaction:
            await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
        return await quick_log(*args, **kwargs)

    monkeypatch.setattr(handlers.log.entries, "quick_log", another_process_writes_first)
    try:
        await driver.send_text(org.staff, "Counter duty, morning")
        [reply] = await driver.wait_for_message(org.staff.id, timeout=8)
        assert reply["text"] == (
            "The database is busy, so nothing was saved. Please try again in a moment."
        )
        assert _count(store, "work_entries") == 0
        told = [r for r in caplog.records if r.name == "handlers.errors"]
        assert [r.levelno for r in told] == [logging.WARNING]
        assert told[0].exc_info is None  # one line in the log, no traceback

        other.execute("COMMIT")
        monkeypatch.undo()
        await driver.send_text(org.staff, "Counter duty, morning")
        [reply] = await driver.wait_for_message(org.staff.id, timeout=8)
        assert reply["text"].startswith("Logged for"), reply["text"]
        assert _count(store, "work_entries") == 1
    finally:
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()


async def test_the_outbox_sender_says_in_one_line_that_the_store_is_busy(
    bot: WorkledgerApplication,
    store: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sender claims its rows with a write every turn: kept from the lock past the
    bound, it logs one warning a turn and goes on, with no traceback and no error."""
    caplog.set_level(logging.INFO)
    other = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")

        def sender_waited() -> bool | None:
            return any("outbox sender waited" in r.getMessage() for r in caplog.records) or None

        await eventually(lambda: asyncio.sleep(0, sender_waited()), within=10)
    finally:
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()
    from_sender = [r for r in caplog.records if r.name == "bot.delivery"]
    assert from_sender
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in from_sender)
