"""What each kind of update of run (g) costs the bot, one update at a time.

    .venv/bin/python bench/citizen_costs.py [--citizens 150] [--staff 5000]
        [--scratch-postgres ADMIN_URL] [--json FILE]

``bench/responsiveness.py`` run (g) says how long people wait while 300 citizens rate one
clerk; this says where a citizen's update spends its time, in figures that do not depend
on how busy the machine is. The real ``Application`` (started as ``bench/quick_log.py``
starts it, the Bot API answered in-process) gets, one after another and each awaited
before the next: a citizen's ``/start c_...`` through a matter's code of their own, then
their press of the stars; a quick log every sixth citizen and an Approve press every
thirtieth, the interactive load's two kinds, for comparison.

For each kind of update: how many SQL statements it sends (by their first words: the
gate's, the handler's and its claim's; the inbox's and the sender's are apart, as
"background"), its commits, the time in those statements (from the driver's call to its
answer), and its wall and process CPU time. Nothing waits for anything else, so the CPU
time is the update's own: the bot keeps up with at most about 1 / (CPU per update)
updates a second on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextvars
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr
from sqlalchemy import event, func, select
from telegram import Update

import bench.quick_log as quick_log
import bench.responsiveness as responsiveness
from assessment.citizens import CitizenKeys
from bench._support import describe_url, scratch_postgres
from bench.approvals import press_update
from config.settings import Settings
from handlers.callbacks import CitizenStars, Decide
from storage import migrate
from storage.engine import Database
from storage.models import CitizenRating

CITIZEN_START = "citizen /start"
CITIZEN_PRESS = "citizen press"
QUICK_LOG = "quick log"
APPROVE = "Approve press"
BACKGROUND = "background"
KINDS = (CITIZEN_START, CITIZEN_PRESS, QUICK_LOG, APPROVE, BACKGROUND)
# Each update's handling must end within this many seconds.
LIMIT = 30.0

_KIND: contextvars.ContextVar[str] = contextvars.ContextVar("kind", default=BACKGROUND)


@dataclass
class Cost:
    """What the updates of one kind cost, in all."""

    updates: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    commits: int = 0
    store_seconds: float = 0.0
    statements: collections.Counter[str] = field(default_factory=collections.Counter)

    def each(self, total: float) -> float:
        """``total`` per update (of nothing, the total)."""
        return total / self.updates if self.updates else total


@dataclass
class Report:
    """The figures of one run."""

    database: str
    staff: int
    citizens: int
    costs: dict[str, Cost]
    stored: int  # ratings the citizens' presses stored

    def as_json(self) -> dict[str, Any]:
        """The figures as plain data."""
        costs = {
            kind: {**asdict(cost), "statements": dict(cost.statements)}
            for kind, cost in self.costs.items()
        }
        return {**asdict(self), "costs": costs}


def kind_of(update: object) -> str:
    """Which kind of update of the run this is."""
    if not isinstance(update, Update):
        return BACKGROUND
    query = update.callback_query
    if query is not None:
        return CITIZEN_PRESS if str(query.data).startswith(CitizenStars.prefix + ":") else APPROVE
    text = update.effective_message.text if update.effective_message is not None else None
    if text and text.startswith("/start "):
        return CITIZEN_START
    return QUICK_LOG


class Meter:
    """Counts the statements of the bot's store and times its updates, by kind."""

    def __init__(self) -> None:
        self.costs = {kind: Cost() for kind in KINDS}
        self.on = False
        self._done: dict[int, asyncio.Event] = {}

    @contextmanager
    def watching(self, application: Any) -> Iterator[None]:
        """Meter ``application``'s store and update processor inside the block."""
        engine = application.bot_data.database.engine.sync_engine
        processor = application.update_processor
        observed = processor.observed

        def before(conn: Any, *_args: Any) -> None:
            conn.info.setdefault("bench_started", []).append(time.perf_counter())

        def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            began = conn.info["bench_started"].pop()
            if self.on:
                cost = self.costs[_KIND.get()]
                cost.statements[" ".join(statement.split()[:3])] += 1
                cost.store_seconds += time.perf_counter() - began

        def committed(_conn: Any) -> None:
            if self.on:
                self.costs[_KIND.get()].commits += 1

        async def metered(update: object, coroutine: Awaitable[Any]) -> None:
            kind = kind_of(update)
            token = _KIND.set(kind)
            began, cpu = time.perf_counter(), time.process_time()
            try:
                await observed(update, coroutine)
            finally:
                if self.on:
                    cost = self.costs[kind]
                    cost.updates += 1
                    cost.wall_seconds += time.perf_counter() - began
                    cost.cpu_seconds += time.process_time() - cpu
                _KIND.reset(token)
                done = self._done.pop(getattr(update, "update_id", -1), None)
                if done is not None:
                    done.set()

        listeners = (("before_cursor_execute", before), ("after_cursor_execute", after))
        for name, listener in (*listeners, ("commit", committed)):
            event.listen(engine, name, listener)
        processor.observed = metered
        try:
            yield
        finally:
            processor.observed = observed
            for name, listener in (*listeners, ("commit", committed)):
                event.remove(engine, name, listener)

    async def send(self, application: Any, raw: dict[str, Any] | Update) -> None:
        """Send one update to the bot and wait until its handling ends."""
        update = raw if isinstance(raw, Update) else Update.de_json(raw, application.bot)
        assert update is not None
        done = self._done[update.update_id] = asyncio.Event()
        quick_log.offer_update(application, update)
        await asyncio.wait_for(done.wait(), LIMIT)


async def run(
    database_url: str | None = None, *, staff: int = 5_000, citizens: int = 150
) -> Report:
    """Seed a store as run (g)'s, then send each kind of update one at a time."""
    folder = Path(tempfile.mkdtemp(prefix="wl-citizen-costs-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    database = Database(url)
    meter = Meter()
    try:
        await migrate.upgrade(database.engine)
        day, reminder_time = responsiveness.busy_day()
        presses = citizens // 30 + 6
        team = await responsiveness.seed_team(database, 200, 20, day, presses)
        await quick_log.seed_staff(database, max(0, staff - 200), day)
        load = responsiveness.Load(team, int(time.time()) * 10)
        secret = SecretStr(secrets.token_hex(32))
        settings = Settings(
            token=SecretStr(quick_log.TOKEN), database_url=url, api_url=None,
            timezone=quick_log.ZONE, language="en",
            clock_start=reminder_time + timedelta(minutes=5), secret_key=secret,
        )  # fmt: skip
        keys = CitizenKeys.of(secret.get_secret_value())
        config = responsiveness.Config(citizens=citizens)
        clerk, codes = await responsiveness._issue_citizen_codes(database, config, settings, load)
        people = team.people[20:]
        entries = [
            press_update(load.take_update_id(), boss, Decide(entry_id, 1, "a").pack())
            for entry_id, boss in team.entries
        ]
        stub = responsiveness.TimedStub()
        async with quick_log.started(settings, stub, sender=quick_log.StubRequest()) as app:
            with meter.watching(app):
                # Warm: statements compiled, Babel's catalogs loaded.
                for n in range(5):
                    log = quick_log.text_update(load.take_update_id(), people[n], app.bot)
                    await meter.send(app, log)
                    await meter.send(app, entries.pop())
                meter.on = True
                for n, (code_id, user) in enumerate(codes):
                    opened = responsiveness.start_update(
                        load.take_update_id(), user, code_id, keys
                    )
                    await meter.send(app, opened)
                    stars = CitizenStars(code_id, 1 + n % 5, keys.press_mac(code_id, user))
                    await meter.send(app, press_update(load.take_update_id(), user, stars.pack()))
                    if n % 6 == 0:
                        person = people[5 + n // 6 % (len(people) - 5)]
                        log = quick_log.text_update(load.take_update_id(), person, app.bot)
                        await meter.send(app, log)
                    if n % 30 == 0 and entries:
                        await meter.send(app, entries.pop())
                meter.on = False
        async with database.engine.connect() as connection:
            rated = select(func.count()).where(CitizenRating.staff_id == clerk)
            stored = int((await connection.execute(rated)).scalar_one())
    finally:
        await database.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return Report(describe_url(url), staff, citizens, meter.costs, stored)


def render(report: Report) -> str:
    """The figures, a block per kind of update."""
    lines = [
        f"Costs of run (g)'s updates on {report.database}, one at a time: "
        f"{report.citizens} citizens (/start, then the stars), {report.staff:,} staff; "
        f"{report.stored} ratings stored",
    ]
    for kind, cost in report.costs.items():
        if not cost.updates and not cost.statements:
            continue
        statements = sum(cost.statements.values())
        if kind == BACKGROUND:
            lines.append(
                f"  {kind}: {statements} statements, {cost.commits} commits, "
                f"{cost.store_seconds * 1000:.0f} ms in the store (inbox, marks, sender)"
            )
        else:
            lines.append(
                f"  {kind} ({cost.updates}): {cost.each(cost.wall_seconds) * 1000:.1f} ms wall, "
                f"{cost.each(cost.cpu_seconds) * 1000:.1f} ms CPU, "
                f"{cost.each(statements):.2f} statements, {cost.each(cost.commits):.2f} "
                f"commits, {cost.each(cost.store_seconds) * 1000:.1f} ms in the store each"
            )
        for text, count in cost.statements.most_common(None if kind != BACKGROUND else 4):
            lines.append(f"      {cost.each(count):6.2f}  {text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, print, optionally write JSON."""
    parser = argparse.ArgumentParser(
        prog="bench/citizen_costs.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--citizens", type=int, default=150)
    parser.add_argument("--staff", type=int, default=5_000, help="in the store in all")
    parser.add_argument("--scratch-postgres", metavar="ADMIN_URL")
    parser.add_argument("--json", type=Path, metavar="FILE")
    args = parser.parse_args(argv)

    async def go() -> Report:
        if args.scratch_postgres:
            async with scratch_postgres(args.scratch_postgres) as url:
                return await run(url, staff=args.staff, citizens=args.citizens)
        return await run(staff=args.staff, citizens=args.citizens)

    report = asyncio.run(go())
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")
    return 0 if report.stored == report.citizens else 1


if __name__ == "__main__":
    raise SystemExit(main())
