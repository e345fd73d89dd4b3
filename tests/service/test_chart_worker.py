"""Charts drawn in a worker process from the event loop: the same PNG, and clear failures.

A worker that dies or stops answering fails that chart with ``ChartError`` (never a
hang) and the next chart gets a new worker. How fast charts come is measured by
``bench/charts.py`` (tests never check time).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from assessment.chart_worker import ChartError, ChartRenderer
from assessment.charts import ChartLabels, HistoryPoint, render_history

LABELS = ChartLabels(title="得分 Score", y_axis="Score")
THRESHOLDS = [(Decimal(90), "Excellent"), (Decimal(60), "Competent")]
POINTS = [HistoryPoint(f"2026-{month:02d}", Decimal(50 + month), None) for month in range(1, 13)]


@pytest.fixture
async def renderer() -> AsyncIterator[ChartRenderer]:
    charts = ChartRenderer()
    try:
        yield charts
    finally:
        charts.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child stays a zombie until reaped; ours are reaped by ``kill``.
    return True


async def test_a_chart_from_the_loop_is_the_chart_drawn_in_process(
    renderer: ChartRenderer,
) -> None:
    png = await renderer.render(POINTS, LABELS, thresholds=THRESHOLDS)
    assert png == render_history(POINTS, LABELS, thresholds=THRESHOLDS)
    other = await renderer.render(POINTS[:3], LABELS, thresholds=THRESHOLDS)
    assert other != png
    assert len(renderer.pids) == 1


async def test_charts_asked_for_at_once_take_turns_in_the_one_worker(
    renderer: ChartRenderer,
) -> None:
    histories = [POINTS[: count + 1] for count in range(6)]
    charts = await asyncio.gather(
        *(renderer.render(points, LABELS, thresholds=THRESHOLDS) for points in histories)
    )
    assert len(set(charts)) == 6
    assert charts[2] == render_history(histories[2], LABELS, thresholds=THRESHOLDS)
    assert len(renderer.pids) == 1


async def test_what_is_not_a_chart_is_refused_without_a_worker(renderer: ChartRenderer) -> None:
    with pytest.raises(ValueError, match="1 to 12 points"):
        await renderer.render([*POINTS, *POINTS], LABELS)
    assert renderer.pids == []


async def test_a_dead_worker_fails_its_chart_and_the_next_gets_a_new_one(
    renderer: ChartRenderer,
) -> None:
    await renderer.start()
    (first,) = renderer.pids
    os.kill(first, signal.SIGKILL)
    with pytest.raises(ChartError, match="exited"):
        await renderer.render(POINTS, LABELS)
    assert renderer.pids == []
    assert await renderer.render(POINTS, LABELS) == render_history(POINTS, LABELS)
    assert renderer.pids != [first]


async def test_a_worker_that_stops_answering_is_killed_after_the_timeout() -> None:
    renderer = ChartRenderer(timeout=0.5)
    try:
        await renderer.start()
        (stuck,) = renderer.pids
        os.kill(stuck, signal.SIGSTOP)
        with pytest.raises(ChartError, match="did not answer"):
            await renderer.render(POINTS, LABELS)
        assert not _alive(stuck)
        assert await renderer.render(POINTS, LABELS) == render_history(POINTS, LABELS)
    finally:
        renderer.close()


async def test_closing_stops_the_workers_and_refuses_more_charts() -> None:
    renderer = ChartRenderer()
    await renderer.start()
    (pid,) = renderer.pids
    renderer.close()
    assert not _alive(pid)
    with pytest.raises(ChartError, match="closed"):
        await renderer.render(POINTS, LABELS)
