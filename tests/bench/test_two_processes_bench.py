"""bench/two_processes.py's report: each run's line and the ratio against the goal."""

from __future__ import annotations

from bench.two_processes import Run, render


def test_the_report_names_each_run_and_the_ratio_against_the_goal() -> None:
    one = Run(processes=1, burst=100, burst_seconds=2.0, updates_per_second=50.0,
              offered=30, p50_ms=40.0, p99_ms=120.0, per_process=[130])  # fmt: skip
    two = Run(processes=2, burst=100, burst_seconds=1.25, updates_per_second=80.0,
              offered=30, p50_ms=35.0, p99_ms=90.0, per_process=[70, 60])  # fmt: skip
    report = render([one, two], "postgresql (db)")
    assert "1 process: burst of 100 in 2.0 s = 50 updates/s" in report
    assert "2 processes: burst of 100 in 1.2 s = 80 updates/s" in report
    assert "p99 90 ms" in report
    assert "throughput ratio two/one: 1.60 (goal >= 1.4: met)" in report
    slower = Run(processes=2, updates_per_second=60.0)
    assert "1.20 (goal >= 1.4: not met)" in render([one, slower], "postgresql (db)")
