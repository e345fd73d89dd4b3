"""``workledger run`` claims its store for a real bot, and refuses the sandbox's."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from storage.engine import Database
from storage.marker import KIND_FACT, claim_store

from .conftest import TOKEN
from .test_cli import _environment, _workledger


async def _mark(database_url: str) -> str | None:
    database = Database(database_url)
    try:
        async with database.uow() as uow:
            return await uow.store_facts.value(KIND_FACT)
    finally:
        await database.dispose()


pytestmark = pytest.mark.e2e


async def test_run_refuses_the_sandboxs_store_in_one_line_with_its_own_status(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    database = Database(database_url)
    try:
        await claim_store(database, "sandbox")
    finally:
        await database.dispose()
    code, _, err = await _workledger(
        "run", cwd=tmp_path,
        env=_environment(token=TOKEN, database_url=database_url, api_url=emulator.base_url),
    )  # fmt: skip
    assert code == 78, err
    # The log may say the SQLite store was migrated first; then one line says why not.
    said = [line for line in err.splitlines() if line.startswith("workledger:")]
    assert said == [err.strip().splitlines()[-1]]
    assert said[0].startswith("workledger: this database belongs to the sandbox;")
    assert "Traceback" not in err
    assert await _mark(database_url) == "sandbox"


async def test_run_marks_an_unmarked_store_as_a_real_bots(
    database_url: str, emulator: RunningEmulator, driver: EmulatorDriver, tmp_path: Path
) -> None:
    assert await _mark(database_url) is None
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path,
        env=_environment(token=TOKEN, database_url=database_url, api_url=emulator.base_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        someone = EmulatedUser(id=4101, first_name="Ann", language_code="en")
        await driver.send_text(someone, "/start")
        await driver.wait_for_message(someone.id, timeout=30)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert await _mark(database_url) == "production"
