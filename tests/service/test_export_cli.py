"""``workledger export``: the file it writes, and its refusals."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.cli import main
from config.policy import load_policy
from storage.engine import Database
from storage.models import HonourAward, Staff

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


def test_one_persons_career_record_needs_no_period(
    environment: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def award() -> None:
        database = Database(environment)
        try:
            async with database.uow() as uow:
                people = {s.employee_no: s.id for s in await uow.session.scalars(select(Staff))}
                for number in ("E011", "E012"):
                    uow.session.add(
                        HonourAward(staff_id=people[number], honour_id="service_star",
                                    citation=f"=For {number}", awarded_on=date(2026, 12, 5),
                                    awarded_by_id=people["E001"])
                    )  # fmt: skip
                await uow.commit()
        finally:
            await database.dispose()

    asyncio.run(award())
    monkeypatch.chdir(folder)
    assert main(["export", "--what", "record", "--person", "e012"]) == 0
    sheet = openpyxl.load_workbook(folder / "record-E012.xlsx").active
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header[:4] == ("Employee no.", "Name", "Department", "Part of the record")
    assert [row[:4] for row in rows] == [("E012", "+Ma Qing", "Permits Office", "honour")]
    assert rows[0][6] == "Service Star" and rows[0][10] == "=For E012"


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
        (["--period", "2026-11", "--what", "payroll"], "there is no export called payroll"),
        (["--what", "bonus"], "--period YYYY-MM is needed for bonus"),
        (["--period", "2026-11", "--what", "ledger", "--person", "E011"],
         "--person is for the career record only"),
        (["--what", "record", "--person", "E999"],
         "nobody on the roster has the employee number E999"),
        (["--what", "record", "--person", "E999", "--language", "zh_Hans"],
         "名册中没有工号为 E999 的人员"),
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
