"""Smoke test of the quick-log benchmark: tiny numbers, the real Application, nothing lost."""

from __future__ import annotations

from bench.quick_log import Config, render, run_benchmark


async def test_every_quick_log_update_becomes_an_entry(database_url: str) -> None:
    report = await run_benchmark(
        Config(
            updates=100,
            # Fewer than the flood limit needs: the benchmark adds people, so that every
            # update still becomes an entry under the bundled policy's limit.
            users=5,
            recipients=1_000,
            limited_updates=0,
            database_url=database_url,
            timeout=30.0,
        )
    )
    workledger = report.runs["workledger"]
    assert workledger.completed
    assert workledger.replies == 100
    assert workledger.rows == 100  # every update produced an entry: nothing lost
    floor = report.runs["floor"]
    assert floor.completed and floor.rows == 100 and floor.replies == 100
    assert report.runs["ptb"].replies == 100
    assert report.nothing_lost
    assert report.ratio > 0
    recipients = report.recipients
    assert recipients is not None
    assert recipients.rows == recipients.expected > 0
    text = render(report)
    assert "goal: at least 300 updates/s in one process" in text
    assert "ratio workledger/floor" in text and "(for information)" in text
