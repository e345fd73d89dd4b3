"""Smoke test of the scoring benchmark: tiny numbers, everyone scored and stored, every figure."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bench.scoring import PERIOD, POLICY, main, measure, render
from storage import migrate
from storage.engine import Database
from storage.models import PeriodScore, WorkEntry


async def test_everyone_is_scored_and_stored_against_the_floor(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database.engine)
        report = await measure(database, staff=120, departments=4, entries=5, batch_size=50)
        async with database.uow() as uow:
            top = await uow.session.scalar(
                select(func.count())
                .select_from(PeriodScore)
                .where(PeriodScore.grade_id == POLICY.top_grade.id)
            )
            # The store's floor rolled back what it wrote: the scorer's grades are stored.
            grades = await uow.session.scalar(
                select(func.count(func.distinct(PeriodScore.grade_id)))
            )
            in_period = await uow.session.scalar(
                select(func.count())
                .select_from(WorkEntry)
                .where(
                    WorkEntry.status == "approved",
                    WorkEntry.work_date.between(PERIOD.starts_on, PERIOD.ends_on),
                )
            )
    finally:
        await database.dispose()
    assert report.run.scored == report.stored == 120
    assert report.run.unscorable == []
    assert in_period == 120 * 5  # the seed's approved entries of the period
    # Four departments of 30: at most 6 top grades each (20%).
    assert (top or 0) <= 4 * 6
    assert sum(report.run.grades.values()) == 120
    assert report.floor_rows > 0 and report.floor_seconds > 0 and report.score_seconds > 0
    assert report.store_rows == 120 and report.store_seconds > 0
    assert (grades or 0) > 1
    text = render(report)
    for figure in (
        "floor: INSERT ... SELECT ... GROUP BY",
        "ratio to the floor",
        "the store's floor",
        "peak memory",
    ):
        assert figure in text


def test_the_command_line_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--staff", "60", "--departments", "3", "--entries", "3"]) == 0
    out = capsys.readouterr().out
    assert "60 staff in 3 departments, 186 approved entries" in out  # 60 x 3, and 6 after
    assert "60 scored, 60 stored)" in out
