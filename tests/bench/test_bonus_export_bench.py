"""Smoke test of the bonus half of bench/bonus_export.py: tiny numbers, every figure."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bench.bonus_export import POOL, main, measure_bonus, render_bonus
from storage import migrate
from storage.engine import Database
from storage.models import BonusLine, BonusRun


async def test_the_run_matches_the_floor_and_the_pool_sums_exactly(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database.engine)
        report = await measure_bonus(database, staff=130, departments=4, batch_size=50)
        async with database.uow() as uow:
            runs = list(await uow.session.scalars(select(BonusRun).order_by(BonusRun.id)))
            lines = await uow.session.scalar(
                select(func.count()).select_from(BonusLine).where(BonusLine.run_id == runs[0].id)
            )
    finally:
        await database.dispose()
    assert report.lines == report.floor_rows == lines == 130
    assert report.total == report.floor_total > 0
    assert report.pool_total == POOL
    assert [run.number for run in runs] == [1, None]  # the pool run is left a draft
    text = render_bonus(report)
    for figure in ("floor: one INSERT ... SELECT", "ratio to the floor", "exactly the pool"):
        assert figure in text
    assert "the same as the floor" in text


def test_the_command_line_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--run", "bonus", "--staff", "40", "--departments", "2"]) == 0
    out = capsys.readouterr().out
    assert "40 staff with published results" in out
    assert "40 lines" in out and "exactly the pool" in out
