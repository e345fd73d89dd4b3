"""Smoke test of the broadcast benchmark: tiny numbers, the real processes, same figures."""

from __future__ import annotations

import sys

import pytest

from bench.broadcast import Config, busiest_window, run_benchmark, span_rate, steady_rate

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the benchmark reads /proc")


def test_the_busiest_window_counts_every_call_within_one_second() -> None:
    assert busiest_window([]) == 0
    assert busiest_window([0.0, 0.99, 1.0]) == 2  # [t, t + 1): 0.0 and 1.0 never together
    assert busiest_window([0.0, 0.5, 0.99, 1.0, 1.2]) == 4
    assert busiest_window([0.0, 0.1, 0.2, 5.0]) == 3
    assert busiest_window([n / 256 for n in range(2560)]) == 256  # exact binary fractions


def test_rates_count_intervals_over_the_span() -> None:
    assert span_rate([1.0]) == 0.0
    assert span_rate([0.0, 0.5, 1.0]) == pytest.approx(2.0)
    # A slow tail (a retry) does not move the steady rate.
    times = [n / 100 for n in range(100)] + [30.0]
    assert span_rate(times) < 4
    assert steady_rate(times) == pytest.approx(100.0)


async def test_a_small_broadcast_arrives_once_per_chat(database_url: str) -> None:
    report = await run_benchmark(
        Config(
            recipients=200,
            rates=[200.0],
            database_url=database_url,
            ceiling_rate=None,
            crash_rate=None,
            verbose=False,
        )
    )
    [run] = report.runs
    assert run.completed, run.notes
    assert run.lost == 0
    assert run.duplicated == 0
    assert run.rows == {"sent": 200}
    assert run.ok_calls == 200
    assert run.calls == run.ok_calls + run.injected_429 + run.injected_5xx
    assert run.busiest_window_all <= 1.1 * 200
    assert run.sender_exit == 0
    assert run.sender_peak_rss_mib > 0
