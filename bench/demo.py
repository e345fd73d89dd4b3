"""How long the sandbox's demo organisation takes to build (``bot.sandbox.demo``).

    python bench/demo.py [--runs 3] [--at 2026-11-16T10:00:00+08:00] [--database-url URL]

Each run builds the demo into a fresh, migrated SQLite file (migrated once, copied for
each run, so the migration is not counted) or, with ``--database-url``, into that empty
store (one run only). Prints per run the wall time, the process's CPU time and the
statements sent to the database, then the median wall time against the goal (well under
3 s: the sandbox must answer within 5 s of starting, demo included), with the machine's
load average, since other programs on the machine slow every run down. The goal is
printed as met or not, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.sandbox.demo import DemoSummary, build_demo
from config.clock import Clock
from config.policy import load_policy
from config.settings import Settings
from handlers.context import BotData
from storage import migrate
from storage.engine import Database, create_engine

GOAL_SECONDS = 3.0


async def _migrated(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _run(url: str, at: datetime | None) -> tuple[DemoSummary, float, float, int]:
    data = BotData()
    data.configure(Settings(database_url=url), load_policy())
    if at is not None:
        data.clock = Clock.at(at)
    database = Database(url)
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    data.attach(database)
    try:
        wall, cpu = time.monotonic(), time.process_time()
        summary = await build_demo(data)
        return summary, time.monotonic() - wall, time.process_time() - cpu, statements
    finally:
        await database.dispose()


async def _main(args: argparse.Namespace) -> str:
    at = datetime.fromisoformat(args.at) if args.at else None
    lines = []
    walls = []
    with tempfile.TemporaryDirectory(prefix="workledger-demo-") as scratch:
        template = Path(scratch) / "template.db"
        await _migrated(template)
        for number in range(1 if args.database_url else args.runs):
            if args.database_url:
                url = args.database_url
            else:
                path = Path(scratch) / f"run{number}.db"
                shutil.copy(template, path)
                url = f"sqlite+aiosqlite:///{path}"
            summary, wall, cpu, statements = await _run(url, at)
            walls.append(wall)
            lines.append(
                f"run {number + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, {statements} statements; "
                f"{summary.people} people, {summary.entries} entries "
                f"({summary.entries_pending} pending), {summary.periods} periods"
            )
    median = statistics.median(walls)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    verdict = "met" if median < GOAL_SECONDS else "NOT met"
    lines.append(
        f"median {median:.2f} s (goal: under {GOAL_SECONDS:.0f} s: {verdict}); "
        f"load average {load} on {os.cpu_count()} cores"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run and print the report."""
    parser = argparse.ArgumentParser(prog="bench/demo.py", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--at", help="the bot clock's moment, with its zone (default: now)")
    parser.add_argument("--database-url", help="an empty, migrated store (one run)")
    print(asyncio.run(_main(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
