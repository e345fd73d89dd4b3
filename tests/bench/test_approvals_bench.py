"""Smoke test of the approvals benchmark: tiny numbers, the real Application, nothing lost."""

from __future__ import annotations

from bench.approvals import render, run_benchmark


async def test_every_press_decides_and_the_bulk_press_approves_all(database_url: str) -> None:
    report = await run_benchmark(presses=60, bulk=50, database_url=database_url)
    workledger = report.runs["workledger"]
    assert workledger.completed
    assert workledger.answered == workledger.approved == 60  # every press approved its entry
    assert workledger.api_calls["editMessageText"] == 60  # and its request says so
    assert report.runs["floor"].completed
    bulk = report.bulk
    assert bulk is not None
    assert bulk.bot_approved == bulk.raw_approved == 50
    assert bulk.notices > 0  # the authors are told
    assert report.nothing_lost
    text = render(report)
    assert "(a) goal: at least 300 presses/s in one process" in text
    assert "(a) ratio workledger/floor" in text and "(for information)" in text
    assert "(b) bulk: 50 entries" in text
