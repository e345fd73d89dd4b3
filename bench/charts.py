"""Score-history charts: how many a second one worker draws, against a floor.

    .venv/bin/python bench/charts.py [--charts 600] [--json FILE]

Draws ``--charts`` charts the way the notices will: one at a time from an event loop,
through ``assessment.chart_worker.ChartRenderer`` with its one worker process (so one
core draws them all), for histories of twelve periods with gaps, in the three
languages (each with its own title, labels and grade names), in an order that mixes
them. The figure printed is charts a second from the first request to the last PNG
(the worker started and warmed up before), and the worker's CPU seconds a chart.

In the same run, for information:

- floor: the least matplotlib does for one PNG of the same size, in this process: an
  empty ``Figure`` of 800x450 drawn and saved with ``savefig`` (no axes, no text);
- new backgrounds: charts whose title differs every time, so the figure is drawn whole
  for each (what a chart costs when nothing is kept from the one before);
- PNG sizes (smallest, median, largest).

Goal, printed, never asserted: at least 30 charts a second on one core (so notices
keep pace with Telegram's 30 messages a second), and each PNG under 60 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from assessment.chart_worker import ChartRenderer
from assessment.charts import DPI, HEIGHT_PX, MAX_POINTS, WIDTH_PX, ChartLabels, HistoryPoint
from bench._support import proc_cpu_seconds

GOAL_RATE = 30.0
GOAL_BYTES = 60_000

# Per language: the chart's texts, and the grades from the bundled policy's thresholds.
LANGUAGES: dict[str, tuple[ChartLabels, list[tuple[Decimal, str]]]] = {
    "en": (
        ChartLabels("Your score, last 12 periods", "Score", "No published results yet"),
        [
            (Decimal(90), "Excellent"),
            (Decimal(75), "Good"),
            (Decimal(60), "Competent"),
            (Decimal(50), "Basically competent"),
        ],
    ),
    "zh_Hans": (
        ChartLabels("近 12 个周期的得分", "得分", "尚无已公布的结果"),
        [
            (Decimal(90), "优秀"),
            (Decimal(75), "良好"),
            (Decimal(60), "称职"),
            (Decimal(50), "基本称职"),
        ],
    ),
    "zh_Hant": (
        ChartLabels("近 12 個週期的得分", "得分", "尚無已公布的結果"),
        [
            (Decimal(90), "優秀"),
            (Decimal(75), "良好"),
            (Decimal(60), "稱職"),
            (Decimal(50), "基本稱職"),
        ],
    ),
}
PERIODS = [f"{year}-{month:02d}" for year in (2025, 2026) for month in range(1, 13)][-MAX_POINTS:]

Chart = tuple[list[HistoryPoint], ChartLabels, list[tuple[Decimal, str]]]


@dataclass
class Report:
    """The run's figures."""

    charts: int
    seconds: float
    rate: float
    worker_cpu_per_chart_ms: float
    floor_rate: float
    ratio: float
    new_background_rate: float
    png_bytes_min: int
    png_bytes_median: int
    png_bytes_max: int

    @property
    def goal_met(self) -> bool:
        """At least ``GOAL_RATE`` charts a second, every PNG under ``GOAL_BYTES``."""
        return self.rate >= GOAL_RATE and self.png_bytes_max < GOAL_BYTES


def charts(count: int, *, seed: int = 12) -> list[Chart]:
    """``count`` charts: twelve periods each, gaps, some new staff, three languages.

    As the notices will draw them: everyone's chart has the organisation's last twelve
    periods, a newcomer's first ones without a score, so that charts of one language
    share their background (the axes, labels and thresholds are drawn once).
    """
    rng = random.Random(seed)
    made: list[Chart] = []
    for _ in range(count):
        labels, thresholds = LANGUAGES[rng.choice(list(LANGUAGES))]
        joined = 0 if rng.random() < 0.8 else rng.randint(1, MAX_POINTS - 1)
        level = rng.uniform(55, 92)
        points = []
        for index, period in enumerate(PERIODS):
            if index < joined or rng.random() < 0.08:  # not yet here, or on leave
                points.append(HistoryPoint(period, None))
                continue
            score = Decimal(str(round(min(100.0, max(0.0, rng.gauss(level, 6))), 1)))
            grade = next((name for bound, name in thresholds if score >= bound), None)
            points.append(HistoryPoint(period, score, grade))
        made.append((points, labels, thresholds))
    return made


async def _draw_all(renderer: ChartRenderer, work: Sequence[Chart]) -> list[int]:
    sizes = []
    for points, labels, thresholds in work:
        png = await renderer.render(points, labels, thresholds=thresholds)
        sizes.append(len(png))
        del png  # as a notice job does: sent, then dropped
    return sizes


def floor_rate(count: int) -> float:
    """Empty figures of the chart's size, drawn and saved as PNG, a second."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    started = time.perf_counter()
    for _ in range(count):
        output = io.BytesIO()
        figure.savefig(output, format="png", dpi=DPI)
    return count / (time.perf_counter() - started)


async def run(count: int) -> Report:
    """Start the worker, draw ``count`` charts through it, then the comparisons."""
    work = charts(count)
    renderer = ChartRenderer(workers=1)
    try:
        await renderer.start()
        (pid,) = renderer.pids
        cpu_before = proc_cpu_seconds(pid)
        started = time.perf_counter()
        sizes = await _draw_all(renderer, work)
        seconds = time.perf_counter() - started
        cpu = proc_cpu_seconds(pid) - cpu_before
        # Every title new: nothing kept from one chart to the next.
        fresh = [
            (points, ChartLabels(f"{labels.title} {index}", labels.y_axis), thresholds)
            for index, (points, labels, thresholds) in enumerate(work[: max(count // 10, 1)])
        ]
        fresh_started = time.perf_counter()
        await _draw_all(renderer, fresh)
        fresh_rate = len(fresh) / (time.perf_counter() - fresh_started)
    finally:
        renderer.close()
    floor = floor_rate(max(count // 4, 1))
    rate = count / seconds
    return Report(
        charts=count,
        seconds=seconds,
        rate=rate,
        worker_cpu_per_chart_ms=cpu / count * 1000,
        floor_rate=floor,
        ratio=floor / rate,
        new_background_rate=fresh_rate,
        png_bytes_min=min(sizes),
        png_bytes_median=int(statistics.median(sizes)),
        png_bytes_max=max(sizes),
    )


def render(report: Report) -> str:
    """The report as the terminal shows it."""
    verdict = "met" if report.goal_met else "NOT met"
    return "\n".join(
        [
            f"charts: {report.charts} through one worker process, one at a time",
            f"  {report.rate:.1f} charts/s ({report.seconds:.2f} s), "
            f"worker CPU {report.worker_cpu_per_chart_ms:.1f} ms a chart",
            f"  floor (empty 800x450 figure, savefig): {report.floor_rate:.1f} PNGs/s; "
            f"ratio chart time / floor time {report.ratio:.2f} (for information)",
            f"  every chart a new background: {report.new_background_rate:.1f} charts/s "
            "(for information)",
            f"  PNG bytes: min {report.png_bytes_min}, median {report.png_bytes_median}, "
            f"max {report.png_bytes_max}",
            f"goal: at least {GOAL_RATE:.0f} charts/s on one core, each PNG under "
            f"{GOAL_BYTES // 1000} KB: {verdict}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=600, help="charts to draw (600)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.charts))
    print(render(report))
    if args.json:
        figures = {**asdict(report), "goal_met": report.goal_met}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
