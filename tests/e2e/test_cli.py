"""The ``workledger`` command as an operator runs it: a real process, real HTTP, real store."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from storage import migrate
from storage.engine import Database

from .conftest import TOKEN
from .people import seed

pytestmark = pytest.mark.e2e


def _environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKLEDGER_")}
    env.update({f"WORKLEDGER_{name.upper()}": value for name, value in values.items()})
    return env


async def _workledger(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_version(tmp_path: Path) -> None:
    code, out, _ = await _workledger("--version", cwd=tmp_path, env=_environment())
    assert code == 0
    assert out.startswith("workledger ")


async def test_run_without_a_token_says_which_variable_to_set(tmp_path: Path) -> None:
    code, _, err = await _workledger("run", cwd=tmp_path, env=_environment())
    assert code == 2
    assert "WORKLEDGER_TOKEN" in err
    assert "Traceback" not in err


async def test_a_broken_policy_stops_start_up_with_one_clear_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("name = [unclosed\n")
    code, _, err = await _workledger(
        "run", cwd=tmp_path, env=_environment(token=TOKEN, policy=str(policy))
    )
    assert code == 2
    assert str(policy) in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


async def test_bad_configuration_is_named(tmp_path: Path) -> None:
    code, _, err = await _workledger(
        "run", cwd=tmp_path, env=_environment(token=TOKEN, timezone="Mars/Base")
    )
    assert code == 2
    assert "WORKLEDGER_TIMEZONE" in err


async def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    database = tmp_path / "ledger.db"
    code, out, err = await _workledger(
        "db", "upgrade", cwd=tmp_path,
        env=_environment(database_url=f"sqlite+aiosqlite:///{database}"),
    )  # fmt: skip
    assert code == 0, err
    assert migrate.head_revision() in out
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"staff", "work_entries", "audit_log", "processed_updates"} <= tables


async def test_run_refuses_an_unmigrated_postgresql_store(
    empty_postgres_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Several processes may share PostgreSQL, so migrating it is an explicit step."""
    code, _, err = await _workledger(
        "run", cwd=tmp_path,
        env=_environment(token=TOKEN, database_url=empty_postgres_url, api_url=emulator.base_url),
    )  # fmt: skip
    assert code == 2
    assert "workledger db upgrade" in err


async def test_run_answers_start_in_chinese_and_english(
    emulator: RunningEmulator, driver: EmulatorDriver, tmp_path: Path
) -> None:
    """The operator's path: a fresh directory, the emulator's URL, any token."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path,
        env=_environment(token=TOKEN, api_url=emulator.base_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        chinese = EmulatedUser(id=4001, first_name="Li", language_code="zh-hans")
        english = EmulatedUser(id=4002, first_name="Ann", language_code="en")
        await driver.send_text(chinese, "/start")
        await driver.send_text(english, "/start")
        [zh_reply] = await driver.wait_for_message(chinese.id, timeout=30)
        [en_reply] = await driver.wait_for_message(english.id, timeout=30)
        assert "欢迎使用工作台账" in zh_reply["text"]
        assert "Welcome to workledger" in en_reply["text"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert (tmp_path / "workledger.db").exists()
    assert TOKEN not in err.decode()
    assert TOKEN.split(":")[1] not in err.decode()


async def test_invite_prints_links_and_writes_qr_codes(
    database_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    database = Database(database_url)
    try:
        org = await seed(database)
    finally:
        await database.dispose()
    env = _environment(token=TOKEN, database_url=database_url, api_url=emulator.base_url)
    code, out, err = await _workledger(
        "invite", org.unlinked_no, org.other_unlinked_no, "--out", "qr", cwd=tmp_path, env=env
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{org.unlinked_no}\tMa Qing\thttps://t.me/workledger_bot?start=")
    png = tmp_path / "qr" / f"invite-{org.unlinked_no}.png"
    assert png.read_bytes().startswith(b"\x89PNG")

    code, _, err = await _workledger("invite", "E011", "NOPE", cwd=tmp_path, env=env)
    assert code == 1
    assert "nobody was invited" in err
