"""Smoke test of the ledger export benchmark: tiny numbers, every entry in both files."""

from __future__ import annotations

import pytest

from bench import export_ledger
from bench.export_ledger import main, measure, render


async def test_the_export_and_the_floor_write_every_entry_of_the_period(
    database_url: str,
) -> None:
    report = await measure(database_url, staff=30, departments=3, entries=4)
    # 30 x 4 approved entries, the submitted one of 1 in 5 people (ids 5, 10, ...) and the
    # one rejected for misconduct (id 7); not December's.
    assert report.export.rows == report.floor.rows == 30 * 4 + 6 + 1
    assert report.export.seconds > 0 and report.floor.seconds > 0
    assert 0 < report.export.peak_mib < export_ledger.GOAL_MEMORY_MIB
    assert report.export.size > 0 and report.floor.size > 0
    text = render(report)
    for figure in ("ratio to the floor", "export's peak memory", "127 entries in XLSX"):
        assert figure in text


def test_the_command_line_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--staff", "10", "--departments", "2", "--entries", "2"]) == 0
    out = capsys.readouterr().out
    assert "10 staff, 23 entries in XLSX" in out
    assert "goal" in out
