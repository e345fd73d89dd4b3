"""Smoke test of the responsiveness benchmark: tiny numbers, the real Application, every figure."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import SecretStr

import bench.quick_log as quick_log
from bench.responsiveness import Config, main, percentile, quiet_jobs, render, run_benchmark
from config.settings import Settings
from storage import migrate
from storage.engine import Database


def test_percentiles_are_nearest_rank() -> None:
    assert math.isnan(percentile([], 0.99))
    assert percentile([3.0], 0.5) == 3.0
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([*values[:99], math.inf], 0.99) == 99.0  # one unanswered in 100
    assert percentile([*values[:98], math.inf, math.inf], 0.99) == math.inf


async def test_three_runs_answer_everything_and_report_every_figure(database_url: str) -> None:
    report = await run_benchmark(
        Config(
            seconds=1.0,
            warm_up=0.2,
            people=30,  # five runs in a minute, none past the flood limit of 10 a minute
            supervisors=4,
            staff=300,
            broadcast=40,
            database_url=database_url,
            roster_people=300,
            citizens=30,
            citizen_seconds=0.5,
        )
    )
    assert list(report.runs) == [
        "idle", "reminders", "broadcast", "roster", "scoring", "export", "citizens"
    ]  # fmt: skip
    for run in report.runs.values():
        assert run.offered == run.quick_logs + run.presses == 35  # 30 logs and 5 presses
        assert run.answered == run.offered, run
        assert run.entries_logged == run.quick_logs_total  # every quick log an entry
        assert run.presses_approved == run.presses_total > 0  # every press approved its entry
        assert math.isfinite(run.p50_ms) and run.p50_ms <= run.p99_ms
        assert math.isfinite(run.longest_stall_ms)
        assert run.cpu_seconds > 0  # the work the process did during the run
    reminders = report.runs["reminders"]
    # The real job ran at the bot's 17:30 and queued a reminder for everyone owing one.
    assert reminders.reminder_job_seconds is not None
    assert reminders.reminders_queued == reminders.reminders_expected > 0
    broadcast = report.runs["broadcast"]
    assert broadcast.broadcast_queued == 40
    assert broadcast.p99_ratio_to_idle is not None and reminders.p99_ratio_to_idle is not None
    roster = report.runs["roster"]
    # HR's roster was read in the worker, previewed, then imported, during the load.
    assert roster.roster_reply == "300 people added", roster
    assert roster.roster_preview_seconds is not None and roster.roster_import_seconds is not None
    assert roster.roster_reader_peak_mib is not None
    scoring = report.runs["scoring"]
    # The whole period scored, graded and stored while the load went on: everyone not
    # left (1 in 25 of the big office has), the load's people and HR included.
    assert scoring.scoring_expected is not None and scoring.scoring_expected > 280
    assert scoring.scoring_scored == scoring.scoring_expected, scoring
    assert scoring.scoring_seconds is not None
    exported = report.runs["export"]
    # Every entry of the exported period in the file, written by the bot's export worker
    # while the load went on.
    assert exported.export_expected is not None and exported.export_expected > 280 * 4
    assert exported.export_rows == exported.export_expected, exported
    assert exported.export_seconds is not None
    assert exported.export_worker_cpu_seconds and exported.export_worker_peak_mib
    assert exported.export_share_of_load is not None and 0 <= exported.export_share_of_load <= 1
    citizens = report.runs["citizens"]
    # Each citizen's /start got its stars and each press a rating: at most the first 20 of
    # the hour ([citizens] burst_max) counted, the rest kept for HR as a burst, none lost.
    assert citizens.citizens_offered == citizens.citizen_cards == 30
    assert citizens.citizens_stored == 30
    assert citizens.citizens_counted is not None and citizens.citizens_flagged is not None
    assert 0 < citizens.citizens_counted <= 20
    assert citizens.citizens_counted + citizens.citizens_flagged == 30
    assert citizens.citizen_press_p99_ms is not None
    assert math.isfinite(citizens.citizen_press_p99_ms)
    assert report.nothing_lost
    text = render(report)
    for figure in ("p50 ms", "p99 ms", "longest loop stall ms", "p99 loaded / p99 idle", "CPU s"):
        assert figure in text
    assert "(d) HR sent a roster of 300 people (XLSX" in text
    assert f"(e) score_period scored, graded and stored {scoring.scoring_expected}" in text
    assert (
        f"(f) the ledger exported to XLSX in the export worker, {exported.export_expected:,} rows"
        in text
    )
    assert "(g) 30 citizens rated one clerk in 0.5 s (30 star cards for their /start)" in text
    assert (
        f"30 ratings stored ({citizens.citizens_counted} counted, "
        f"{citizens.citizens_flagged} flagged as a burst for HR), none lost"
    ) in text
    assert "p99 <= 150 ms in every run:" in text
    assert "longest stall <= 50 ms in every run:" in text
    assert "p99 loaded / idle <= 2:" in text


def test_the_command_line_writes_the_figures_as_json(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    arguments = ["--seconds", "0.4", "--warm-up", "0", "--people", "10", "--supervisors", "2"]
    arguments += ["--staff", "100", "--broadcast", "10", "--json", str(out)]
    arguments += ["--roster", "csv", "--roster-people", "50"]
    arguments += ["--citizens", "5", "--citizen-seconds", "0.2"]
    assert main(arguments) == 0
    figures = json.loads(out.read_text())
    assert set(figures["runs"]) == {
        "idle", "reminders", "broadcast", "roster", "scoring", "export", "citizens"
    }  # fmt: skip
    assert figures["runs"]["export"]["export_rows"] == figures["runs"]["export"]["export_expected"]
    assert figures["runs"]["citizens"]["citizens_stored"] == 5
    assert (
        figures["runs"]["scoring"]["scoring_scored"]
        == figures["runs"]["scoring"]["scoring_expected"]
    )
    assert figures["runs"]["roster"]["roster_reply"] == "50 people added"
    assert figures["nothing_lost"] is True
    assert {"p99_met", "stall_met", "ratio_met"} <= set(figures["goals"])
    assert all(run["p99_ms"] is not None for run in figures["runs"].values())


async def test_the_bots_later_jobs_are_off_and_the_loads_own_stay_on(database_url: str) -> None:
    database = Database(database_url)
    try:
        await migrate.upgrade(database.engine)
    finally:
        await database.dispose()
    settings = Settings(
        token=SecretStr(quick_log.TOKEN), database_url=database_url, api_url=None,
        timezone=quick_log.ZONE, language="en",
    )  # fmt: skip
    async with quick_log.started(
        settings, quick_log.StubRequest(), sender=quick_log.StubRequest()
    ) as application:
        off = quiet_jobs(application)
        assert application.job_queue is not None
        # A paused job has no next run.
        due = {job.name: job.next_t is not None for job in application.job_queue.jobs()}
    assert {"daily-reminder", "monthly-check", "forget-old-updates"} <= set(off)
    assert due["approval-requests"] and due["notice-progress"]
    assert not any(due[name] for name in off)
