"""``workledger export``: the file it writes, and its refusals."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from pathlib import Path

import openpyxl
import pytest

from bot.cli import main
from config.policy import load_policy
from storage.engine import Database

from .export_seed import FORMULA_NAME, seed_exports


@pytest.fixture
def environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key in list(os.environ):
        if key.startswith("WORKLEDGER_") and key != "WORKLEDGER_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("WORKLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("WORKLEDGER_LANGUAGE", "en")

    async def seed() -> None:
        database = Database(database_url)
        try:
            await seed_exports(database, load_policy(), entries=4)
        finally:
            await database.dispose()

    asyncio.run(seed())
    return database_url


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder for what the command writes (the SQLite store is in tmp_path)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_the_ledger_of_a_department_as_xlsx(
    environment: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = folder / "ledger.xlsx"
    status = main(
        ["export", "--period", "2026-11", "--what", "ledger", "--department", "Permits Office",
         "--out", str(out)]
    )  # fmt: skip
    assert status == 0
    assert capsys.readouterr().out.strip() == f"4 rows written to {out}"
    sheet = openpyxl.load_workbook(out).active
    assert sheet.max_row == 5
    assert sheet["C2"].value == FORMULA_NAME and sheet["C2"].quotePrefix
    assert [p.name for p in folder.iterdir()] == ["ledger.xlsx"], "no partial file is left"


def test_the_audit_log_of_days_as_csv_in_chinese(
    environment: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    status = main(
        ["export", "--period", "2026-11", "--what", "audit", "--format", "csv",
         "--from", "2026-11-10", "--to", "2026-12-31", "--language", "zh_Hans"]
    )  # fmt: skip
    assert status == 0
    header, *rows = list(
        csv.reader(io.StringIO((folder / "audit-2026-11.csv").read_text("utf-8-sig")))
    )
    assert header[5] == "操作"
    assert [row[5] for row in rows] == ["link.failed", "period.published"]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--period", "2026-13", "--what", "ledger"], "is not a period"),
        (["--period", "2026-11", "--what", "bonus"], "there is no export called bonus"),
        (["--period", "2026-11", "--what", "ledger", "--department", "Nowhere"],
         "there is no department called Nowhere"),
        (["--period", "2026-11", "--what", "audit", "--from", "2026-11-20", "--to",
          "2026-11-10"], "--from is after --to"),
    ],
)  # fmt: skip
def test_refusals_write_nothing(
    environment: str,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    says: str,
) -> None:
    monkeypatch.chdir(folder)
    assert main(["export", *arguments]) == 2
    assert says in capsys.readouterr().err
    assert list(folder.iterdir()) == []
