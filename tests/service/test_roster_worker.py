"""Roster files read in worker processes, at the real limits, with the hostile files found.

Each file is built at full size and read as the bot reads it: in a child process.
How long each takes and how much memory is measured by ``bench/roster_files.py``
(tests never check time).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import pytest

from assessment import roster_worker
from assessment.roster import LIMITS, MAX_ROWS, RosterRejected, RosterRules
from assessment.roster_worker import RosterWorkers
from bench.roster_files import (
    csv_file,
    far_row,
    huge_shared_strings,
    largest_csv,
    largest_xlsx,
    styled_empty_rows,
    valid_rows,
    zip_bomb,
)
from config.policy import load_policy


@pytest.fixture(scope="module")
def rules() -> RosterRules:
    return RosterRules.of(load_policy())


async def _refusal(workers: RosterWorkers, data: bytes, rules: RosterRules) -> tuple[str, ...]:
    with pytest.raises(RosterRejected) as caught:
        await workers.parse(data, "roster", rules)
    (problem,) = caught.value.problems
    return problem.code.value, problem.detail or ""


@pytest.mark.parametrize("build", [largest_csv, largest_xlsx], ids=["csv", "xlsx"])
async def test_the_largest_roster_the_limits_allow_is_read(
    build: Callable[[], bytes], rules: RosterRules
) -> None:
    # Every limit but time, at its real value: whether the reader keeps within its CPU
    # budget depends on the machine (bench/roster_files.py measures it); the budget's
    # refusal is tested below with a budget no file can meet.
    workers = RosterWorkers(limits=dataclasses.replace(LIMITS, seconds=120))
    roster = await workers.parse(build(), "roster", rules)
    assert len(roster.rows) == MAX_ROWS
    first, last = roster.rows[0], roster.rows[-1]
    assert (first.row, first.employee_no, first.supervisor_no) == (2, "E000000", None)
    assert (last.row, last.employee_no, last.supervisor_no) == (MAX_ROWS + 1, "E099999", "E000000")
    assert str(last.difficulty) == "1.15"
    assert workers.last_peak_bytes is not None


@pytest.mark.parametrize(
    ("build", "refusal"),
    [
        (huge_shared_strings, ("too_many_texts", str(LIMITS.shared_strings))),
        (styled_empty_rows, ("too_many_rows", str(MAX_ROWS))),
        (zip_bomb, ("unpacked_too_large", "128")),
        (far_row, ("too_many_rows", str(MAX_ROWS))),
        (lambda: csv_file(valid_rows(MAX_ROWS + 1)), ("too_many_rows", str(MAX_ROWS))),
    ],
    ids=["huge shared strings", "a million styled empty rows", "zip bomb", "far row", "100,001"],
)
async def test_hostile_files_are_refused_with_their_reason(
    build: Callable[[], bytes], refusal: tuple[str, str], rules: RosterRules
) -> None:
    assert await _refusal(RosterWorkers(), build(), rules) == refusal


async def test_a_reader_past_its_memory_is_refused_not_the_bot(rules: RosterRules) -> None:
    workers = RosterWorkers(memory=8 * 1024 * 1024)
    assert await _refusal(workers, largest_csv(), rules) == ("out_of_memory", "8")


async def test_a_reader_past_its_time_is_killed_and_the_next_file_is_read(
    rules: RosterRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = RosterWorkers()
    # The wall clock runs out long before the reader's own budget: the caller kills it.
    monkeypatch.setattr(roster_worker, "WALL_FACTOR", 1e-6)
    assert await _refusal(workers, largest_csv(), rules) == ("too_slow", f"{LIMITS.seconds:g}")
    assert workers.running == 0
    monkeypatch.undo()
    roster = await workers.parse(csv_file(valid_rows(3)), "roster", rules)
    assert len(roster.rows) == 3


async def test_its_own_budget_stops_a_reader(rules: RosterRules) -> None:
    workers = RosterWorkers(limits=dataclasses.replace(LIMITS, seconds=0.01))
    assert await _refusal(workers, largest_xlsx(), rules) == ("too_slow", "0.01")


async def test_closing_kills_the_readers_still_running(rules: RosterRules) -> None:
    workers = RosterWorkers()
    reading = asyncio.create_task(workers.parse(largest_xlsx(), "roster", rules))
    for _ in range(1000):
        if workers.running:
            break
        await asyncio.sleep(0.01)
    workers.close()
    with pytest.raises(RosterRejected):
        await reading
    assert workers.running == 0
    # A bot started again reads files again.
    assert len((await workers.parse(csv_file(valid_rows(3)), "roster", rules)).rows) == 3


async def test_files_wait_their_turn(rules: RosterRules) -> None:
    workers = RosterWorkers(parallel=1)
    small = csv_file(valid_rows(3))
    rosters = await asyncio.gather(*(workers.parse(small, f"r{n}", rules) for n in range(3)))
    assert [roster.filename for roster in rosters] == ["r0", "r1", "r2"]


def _niceness_lowered() -> tuple[int, int]:
    before = os.nice(0)
    roster_worker.lower_priority()
    return before, os.nice(0)


def test_a_reading_or_planning_child_gives_the_bot_the_cpu_first() -> None:
    # Both children call lower_priority first; here in a child of the readers' own kind.
    with ProcessPoolExecutor(1, mp_context=roster_worker.worker_context()) as pool:
        before, after = pool.submit(_niceness_lowered).result()
    assert after == min(19, before + roster_worker.NICENESS)
    assert os.nice(0) == before  # the bot's own is left alone
