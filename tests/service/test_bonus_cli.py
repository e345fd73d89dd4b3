"""``workledger bonus``: a run computed, written out and published from the command line."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.cli import main
from storage.engine import Database
from storage.models import BonusRun, OutboxMessage
from tests.service.test_bonus_runs import seed


@pytest.fixture
def environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key in list(os.environ):
        if key.startswith("WORKLEDGER_") and key != "WORKLEDGER_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("WORKLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("WORKLEDGER_LANGUAGE", "en")
    monkeypatch.setenv("WORKLEDGER_CLOCK_START", "2026-12-12T10:00:00+08:00")
    return database_url


def _seeded(url: str) -> None:
    async def run() -> None:
        database = Database(url)
        try:
            await seed(database, people=12)
        finally:
            await database.dispose()

    asyncio.run(run())


def _count(url: str) -> tuple[int, int]:
    async def run() -> tuple[int, int]:
        database = Database(url)
        try:
            async with database.uow() as uow:
                runs = await uow.session.scalar(
                    select(func.count()).select_from(BonusRun).where(BonusRun.number.is_not(None))
                )
                notices = await uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.kind == "bonus")
                )
                return int(runs or 0), int(notices or 0)
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_a_run_is_computed_written_published_and_never_twice(
    environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seeded(environment)
    out = tmp_path / "bonus.xlsx"
    assert main(["bonus", "2026-11", "--as", "H001", "--out", str(out), "--publish"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("run\t") and "\tpeople\t12\t" in printed[0]
    assert printed[-1] == "published\t1\tnotices\t12"
    sheet = openpyxl.load_workbook(io.BytesIO(out.read_bytes())).active
    assert sheet is not None and sheet.max_row == 13
    assert _count(environment) == (1, 12)

    assert main(["bonus", "2026-11", "--as", "H001", "--publish"]) == 1
    assert "paid already" in capsys.readouterr().err
    assert _count(environment) == (1, 12)


def test_an_unknown_actor_or_period_is_refused(
    environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _seeded(environment)
    assert main(["bonus", "2026-11", "--as", "E-nobody"]) == 2
    assert "Nobody on the roster" in capsys.readouterr().err
    assert main(["bonus", "2026-13", "--as", "H001"]) == 2
    assert "is not a period" in capsys.readouterr().err
