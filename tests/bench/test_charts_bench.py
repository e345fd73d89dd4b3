"""Smoke test of the charts benchmark: a few charts through the worker, every one a PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.charts import charts, render, run
from bench.charts import main as bench_main


def test_the_mix_has_gaps_newcomers_and_three_languages() -> None:
    made = charts(200)
    assert {labels.title for _, labels, _ in made} == {
        "Your score, last 12 periods",
        "近 12 个周期的得分",
        "近 12 個週期的得分",
    }
    assert all(len(points) == 12 for points, _, _ in made)
    assert any(points[0].score is None and points[-1].score is not None for points, _, _ in made)


async def test_every_chart_is_drawn_and_measured() -> None:
    report = await run(20)
    assert report.charts == 20
    assert report.rate > 0 and report.floor_rate > 0 and report.new_background_rate > 0
    assert 0 < report.png_bytes_min <= report.png_bytes_median <= report.png_bytes_max
    text = render(report)
    assert "goal: at least 30 charts/s on one core, each PNG under 60 KB" in text
    assert "ratio chart time / floor time" in text and "(for information)" in text


def test_the_command_line_writes_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "charts.json"
    assert bench_main(["--charts", "5", "--json", str(out)]) == 0
    assert '"charts": 5' in out.read_text()
    assert "charts/s" in capsys.readouterr().out
