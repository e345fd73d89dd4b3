"""Approvals benchmark: supervisors' button presses through the real Application, and bulk.

    .venv/bin/python bench/approvals.py [--presses 2000] [--bulk 1000]
        [--database-url URL | --scratch-postgres ADMIN_URL]

Nothing touches the network: every Bot API call is answered in-process (``StubRequest``
of ``bench/quick_log.py``). In one process and on one migrated database (a temporary
SQLite file unless a PostgreSQL URL is given):

(a) single approvals: ``--presses`` Approve presses (callback queries built with
    ``Update.de_json`` and put on ``application.update_queue``) from 50 supervisors on
    their teams' submitted entries, through the real ``bot.app.build_application``: the
    gate, the permission check against the store, the conditional UPDATE, the audit
    event, the author's notice in the outbox, the answer and the edit of the request.
    Against the floor of ``bench/quick_log.py``: a bare Application whose one handler
    does one raw-driver UPDATE, commit, and answers the press.
(b) bulk: ``--bulk`` pending entries of one supervisor (from 100 authors), approved by one
    press of a digest's ``Approve all``, authors' notices included; against one raw SQL
    UPDATE of as many other pending rows.

Both Applications first handle 100 presses (and the bulk run a 20-entry press) that are
not timed, so the figures are those of a bot that has been running: statements compiled,
Babel's locale data loaded, the outbox sender settled.

Every run must end with every press answered and every entry approved: nothing lost.
The goal of (a) is at least ``GOAL_RATE`` presses/s in one process, on SQLite and on
PostgreSQL; its ratio to the floor is printed for information only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from telegram import Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler

from bench._support import describe_url, scratch_postgres
from bench.quick_log import BOT_USER, GOAL_RATE, TOKEN, ZONE, StubRequest, started
from config.settings import Settings
from handlers.callbacks import ApproveShown, Decide
from storage import migrate
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import Department, Post, Staff, WorkEntry

SUPERVISORS = 50
FIRST_SUPERVISOR = 600_000_000
FIRST_AUTHOR = 610_000_000
BULK_SUPERVISOR = 620_000_000
BULK_AUTHORS = 100
# Entries approved by a first bulk press, so the measured one finds the bot warm.
WARM_UP = 20
# Presses before the measured ones, in the same Application (both runs alike).
WARM_UP_PRESSES = 100


class PressStub(StubRequest):
    """Answers the Bot API; counts answered presses (``answerCallbackQuery``)."""

    async def do_request(self, url: str, method: str, request_data: Any = None, **kw: Any) -> Any:
        endpoint = url.rsplit("/", 1)[-1]
        if endpoint == "answerCallbackQuery":
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            self.replies += 1
            if self.replies >= self.target:
                self.done.set()
            return 200, b'{"ok": true, "result": true}'
        if endpoint == "editMessageText":
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            return 200, b'{"ok": true, "result": true}'
        if endpoint == "sendMessage":  # the outbox sender's notices: not an answer to a press
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            params = request_data.parameters if request_data is not None else {}
            chat = int(str(params["chat_id"]))
            message = {"message_id": 1, "date": int(time.time()), "text": "",
                       "chat": {"id": chat, "type": "private"}, "from": BOT_USER}  # fmt: skip
            return 200, json.dumps({"ok": True, "result": message}).encode()
        return await super().do_request(url, method, request_data, **kw)


def press_update(update_id: int, user_id: int, data: str) -> dict[str, Any]:
    """A press of an inline button under the bot's request message in ``user_id``'s chat."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "chat_instance": str(user_id),
            "data": data,
            "from": {"id": user_id, "is_bot": False, "first_name": "Boss", "language_code": "en"},
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": "Boss"},
                "from": BOT_USER,
                "text": "Entry to approve: someone, a day\nSome work",
            },
        },
    }


# --------------------------------------------------------------------------- seeding


async def seed(database: Database, presses: int, bulk: int) -> dict[str, Any]:
    """Supervisors with teams and submitted entries; one supervisor with ``2 * bulk``."""
    async with database.uow() as uow:
        office = await uow.departments.add(Department(name="Approvals Office"))
        post = await uow.posts.add(
            Post(department_id=office.id, name="Clerk", post_type="service")
        )
        await uow.commit()
    now = datetime.now(UTC)
    today = datetime.now().astimezone().date()

    def person(number: str, telegram: int, roles: Role, boss: int | None) -> dict[str, Any]:
        return {
            "employee_no": number, "name": number, "department_id": office.id,
            "post_id": post.id, "roles": roles, "status": StaffStatus.ACTIVE,
            "telegram_user_id": telegram, "linked_at": now, "language": "en",
            "supervisor_id": boss, "created_at": now, "updated_at": now, "version": 1,
        }  # fmt: skip

    async with database.engine.begin() as connection:
        bosses = [
            person(f"B{n:04d}", FIRST_SUPERVISOR + n, Role.STAFF | Role.SUPERVISOR, None)
            for n in range(SUPERVISORS)
        ]
        bosses.append(person("BULK", BULK_SUPERVISOR, Role.STAFF | Role.SUPERVISOR, None))
        await connection.execute(insert(Staff), bosses)
        ids = dict(
            (
                await connection.execute(
                    select(Staff.telegram_user_id, Staff.id).where(
                        Staff.telegram_user_id >= FIRST_SUPERVISOR
                    )
                )
            ).all()
        )
        authors = [
            person(
                f"A{n:05d}", FIRST_AUTHOR + n, Role.STAFF, ids[FIRST_SUPERVISOR + n % SUPERVISORS]
            )
            for n in range(SUPERVISORS * 4)
        ] + [
            person(f"Z{n:05d}", FIRST_AUTHOR + 100_000 + n, Role.STAFF, ids[BULK_SUPERVISOR])
            for n in range(BULK_AUTHORS)
        ]
        await connection.execute(insert(Staff), authors)
        staff = dict(
            (
                await connection.execute(
                    select(Staff.employee_no, Staff.id).where(
                        Staff.telegram_user_id >= FIRST_AUTHOR
                    )
                )
            ).all()
        )

        def entry(author: int, n: int) -> dict[str, Any]:
            return {
                "staff_id": author, "work_date": today, "text": f"Work {n}",
                "status": EntryStatus.SUBMITTED, "created_at": now, "updated_at": now,
                "version": 1,
            }  # fmt: skip

        singles = [entry(staff[f"A{n % (SUPERVISORS * 4):05d}"], n) for n in range(presses)]
        bulks = [entry(staff[f"Z{n % BULK_AUTHORS:05d}"], n) for n in range(2 * bulk + WARM_UP)]
        await connection.execute(insert(WorkEntry), singles + bulks)
        rows = (
            await connection.execute(
                select(WorkEntry.id, WorkEntry.staff_id).order_by(WorkEntry.id)
            )
        ).all()
    boss_of = {
        staff[f"A{n:05d}"]: FIRST_SUPERVISOR + n % SUPERVISORS for n in range(SUPERVISORS * 4)
    }
    single_ids = [(int(i), boss_of[int(s)]) for i, s in rows[:presses]]
    bulk_ids = [int(i) for i, _ in rows[presses:]]
    return {
        "singles": single_ids,
        "bot_bulk": bulk_ids[:bulk],
        "raw_bulk": bulk_ids[bulk : 2 * bulk],
        "warm_up": bulk_ids[2 * bulk :],
    }


async def approved(database: Database, ids: Sequence[int]) -> int:
    """How many of ``ids`` are approved."""
    async with database.engine.connect() as connection:
        return int(
            (
                await connection.execute(
                    select(func.count()).where(
                        WorkEntry.id.in_(list(ids)), WorkEntry.status == EntryStatus.APPROVED
                    )
                )
            ).scalar_one()
        )


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    """Presses through one Application."""

    name: str
    presses: int
    seconds: float = 0.0
    answered: int = 0
    approved: int = 0
    completed: bool = False
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Presses per second."""
        return self.presses / self.seconds if self.seconds else 0.0


async def _feed(application: Any, stub: PressStub, updates: list[Update], limit: float) -> float:
    stub.expect(len(updates))
    begun = time.perf_counter()
    for update in updates:
        await application.update_queue.put(update)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stub.done.wait(), limit)
    return time.perf_counter() - begun


async def run_single(
    settings: Settings, database: Database, singles: list[tuple[int, int]], first: int
) -> Run:
    """(a) through the real Application."""
    stub = PressStub()
    warm, measured = singles[:WARM_UP_PRESSES], singles[WARM_UP_PRESSES:]
    async with started(settings, stub) as application:
        updates = [
            Update.de_json(
                press_update(first + n, boss, Decide(entry_id, 1, "a").pack()), application.bot
            )
            for n, (entry_id, boss) in enumerate(singles)
        ]
        # Steady state, as a bot that has run a while: statements compiled, sender settled.
        await _feed(application, stub, updates[: len(warm)], 120)
        await asyncio.sleep(0.5)
        calls_before = dict(stub.calls)
        seconds = await _feed(application, stub, updates[len(warm) :], 120)
    done = await approved(database, [e for e, _ in measured])
    ok = stub.replies == len(measured) and done == len(measured)
    calls = {k: v - calls_before.get(k, 0) for k, v in stub.calls.items()}
    return Run("workledger", len(measured), seconds, stub.replies, done, ok, calls)


class RawStore:
    """One persistent raw-driver connection: one UPDATE and COMMIT per call, or many rows."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.connection: Any = None

    async def open(self) -> None:
        """Connect as the floor of ``bench/quick_log.py`` does."""
        if self.sqlite:
            import aiosqlite

            self.connection = await aiosqlite.connect(self.url.database or ":memory:")
            for pragma in ("journal_mode=WAL", "busy_timeout=5000", "synchronous=NORMAL"):
                await self.connection.execute(f"PRAGMA {pragma}")
        else:
            import asyncpg  # type: ignore[import-untyped]

            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.connection = await asyncpg.connect(dsn)

    async def approve(self, first: int, last: int) -> None:
        """One UPDATE of the entries ``first``..``last``, committed."""
        if self.sqlite:
            await self.connection.execute(
                "UPDATE work_entries SET status = 'approved', version = version + 1 "
                "WHERE id BETWEEN ? AND ? AND status = 'submitted'",
                (first, last),
            )
            await self.connection.commit()
        else:
            await self.connection.execute(
                "UPDATE work_entries SET status = 'approved', version = version + 1 "
                "WHERE id BETWEEN $1 AND $2 AND status = 'submitted'",
                first,
                last,
            )

    async def close(self) -> None:
        """Disconnect."""
        if self.connection is not None:
            await self.connection.close()


async def run_floor(url: str, singles: list[tuple[int, int]], first: int) -> Run:
    """(a) the floor: a bare Application, one raw UPDATE + COMMIT and one answer per press."""
    store = RawStore(url)
    await store.open()
    stub = PressStub()
    application = ApplicationBuilder().token(TOKEN).request(stub).get_updates_request(stub).build()

    async def callback(update: Update, _context: Any) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        entry_id = int(query.data.split(":")[1])
        await store.approve(entry_id, entry_id)
        await query.answer("Approved.")

    application.add_handler(CallbackQueryHandler(callback))
    try:
        async with application:
            await application.start()
            try:
                updates = [
                    Update.de_json(
                        press_update(first + n, boss, Decide(entry_id, 1, "a").pack()),
                        application.bot,
                    )
                    for n, (entry_id, boss) in enumerate(singles)
                ]
                await _feed(application, stub, updates[:WARM_UP_PRESSES], 120)
                await asyncio.sleep(0.5)
                seconds = await _feed(application, stub, updates[WARM_UP_PRESSES:], 120)
            finally:
                await application.stop()
    finally:
        await store.close()
    measured = len(singles) - WARM_UP_PRESSES
    return Run("floor", measured, seconds, stub.replies, 0, stub.replies == measured)


@dataclass
class Bulk:
    """(b): one press approving many entries, against one raw UPDATE of as many."""

    entries: int
    bot_seconds: float
    raw_seconds: float
    bot_approved: int
    raw_approved: int
    notices: int

    @property
    def ratio(self) -> float:
        """How many times the raw UPDATE's time the bot took."""
        return self.bot_seconds / self.raw_seconds if self.raw_seconds else 0.0


async def _outbox_rows(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.exec_driver_sql("SELECT count(*) FROM outbox")).scalar_one())


async def run_bulk(
    settings: Settings, database: Database, url: str, ids: dict[str, list[int]], first: int
) -> Bulk:
    """(b): ``Approve all`` of a digest through the bot; one raw UPDATE of the other rows."""
    bot_ids, raw_ids = ids["bot_bulk"], ids["raw_bulk"]
    stub = PressStub()
    async with started(settings, stub) as application:
        # A long-running bot is warm: its statements compiled, its sender settled.
        warm = ids["warm_up"]
        seen = int(time.time()) + 1
        warm_up = ApproveShown(min(warm), max(warm), seen, 0).pack()
        update = Update.de_json(press_update(first, BULK_SUPERVISOR, warm_up), application.bot)
        await _feed(application, stub, [update], 120)
        await asyncio.sleep(0.5)
        outbox_before = await _outbox_rows(database)
        shown = ApproveShown(min(bot_ids), max(bot_ids), seen, 0).pack()
        update = Update.de_json(press_update(first + 1, BULK_SUPERVISOR, shown), application.bot)
        bot_seconds = await _feed(application, stub, [update], 120)
        notices = await _outbox_rows(database) - outbox_before
    store = RawStore(url)
    await store.open()
    try:
        begun = time.perf_counter()
        await store.approve(min(raw_ids), max(raw_ids))
        raw_seconds = time.perf_counter() - begun
    finally:
        await store.close()
    return Bulk(
        len(bot_ids),
        bot_seconds,
        raw_seconds,
        await approved(database, bot_ids),
        await approved(database, raw_ids),
        notices,
    )


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    """Every figure the benchmark prints."""

    database: str
    runs: dict[str, Run] = field(default_factory=dict)
    bulk: Bulk | None = None

    @property
    def ratio(self) -> float:
        """Workledger presses/s over the floor's (for information)."""
        floor = self.runs["floor"].rate
        return self.runs["workledger"].rate / floor if floor else 0.0

    @property
    def goal_met(self) -> bool:
        """Whether the real Application handled at least ``GOAL_RATE`` presses/s."""
        return self.runs["workledger"].rate >= GOAL_RATE

    @property
    def nothing_lost(self) -> bool:
        """Every press answered and every entry approved."""
        runs_ok = all(run.completed for run in self.runs.values())
        bulk = self.bulk
        return runs_ok and (
            bulk is None or (bulk.bot_approved == bulk.entries == bulk.raw_approved)
        )


def render(report: Report) -> str:
    """The printed report."""
    lines = [
        f"Approvals benchmark on {report.database}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; Bot API answered in-process",
    ]
    labels = {
        "workledger": "(a) workledger Approve presses (real Application)",
        "floor": "(a) floor (1 raw UPDATE+COMMIT + 1 answer)",
    }
    for name, run in report.runs.items():
        lines.append(
            f"  {labels[name]:<52} {run.rate:>8.1f} presses/s  ({run.presses} in "
            f"{run.seconds:.2f}s; answered {run.answered}, "
            f"{'complete' if run.completed else 'INCOMPLETE'})"
        )
    if "workledger" in report.runs:
        verdict = "met" if report.goal_met else "not met"
        lines.append(
            f"  (a) goal: at least {GOAL_RATE:.0f} presses/s in one process: "
            f"{report.runs['workledger'].rate:.1f} [{verdict}]"
        )
    if {"workledger", "floor"} <= set(report.runs):
        lines.append(f"  (a) ratio workledger/floor: {report.ratio:.3f} (for information)")
        calls = ", ".join(
            f"{k} {v}" for k, v in sorted(report.runs["workledger"].api_calls.items())
        )
        lines.append(f"      Bot API calls (workledger run): {calls}")
    bulk = report.bulk
    if bulk is not None:
        verdict = "ok" if bulk.ratio <= 10 else "MISS"
        lines.append(
            f"  (b) bulk: {bulk.entries} entries by one press in {bulk.bot_seconds * 1000:.1f} ms "
            f"({bulk.notices} authors' notices queued) vs one raw UPDATE in "
            f"{bulk.raw_seconds * 1000:.1f} ms: {bulk.ratio:.1f}x [{verdict}, goal <= 10x]"
        )
    lines.append(f"  nothing lost: {'yes' if report.nothing_lost else 'NO'}")
    return "\n".join(lines)


async def run_benchmark(presses: int, bulk: int, database_url: str | None) -> Report:
    """All runs on one fresh or given database."""
    folder = Path(tempfile.mkdtemp(prefix="wl-approvals-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    report = Report(database=describe_url(url))
    database = Database(url)
    await migrate.upgrade(database.engine)
    try:
        ids = await seed(database, 2 * (presses + WARM_UP_PRESSES), bulk)
        settings = Settings(
            token=SecretStr(TOKEN), database_url=url, api_url=None, timezone=ZONE, language="en"
        )
        first = int(time.time()) * 10
        singles = ids["singles"]
        half = presses + WARM_UP_PRESSES
        # The bulk run first: its bot would otherwise start with thousands of notices
        # from (a) still to send, competing with the press being timed.
        report.bulk = await run_bulk(settings, database, url, ids, first + 2 * half)
        report.runs["workledger"] = await run_single(settings, database, singles[:half], first)
        report.runs["floor"] = await run_floor(url, singles[half:], first + half)
    finally:
        await database.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run and print the report."""
    parser = argparse.ArgumentParser(prog="bench/approvals.py", description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=2000)
    parser.add_argument("--bulk", type=int, default=1000)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", default=os.environ.get("WORKLEDGER_DATABASE_URL"))
    where.add_argument("--scratch-postgres", metavar="ADMIN_URL")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON too")
    args = parser.parse_args(argv)

    async def go() -> Report:
        if args.scratch_postgres:
            async with scratch_postgres(args.scratch_postgres) as url:
                return await run_benchmark(args.presses, args.bulk, url)
        return await run_benchmark(args.presses, args.bulk, args.database_url)

    report = asyncio.run(go())
    print(render(report))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "presses_per_second": report.runs["workledger"].rate,
                    "goal_met": report.goal_met,
                    "ratio": report.ratio,
                    "bulk_ratio": report.bulk.ratio if report.bulk else None,
                    "nothing_lost": report.nothing_lost,
                }
            )
        )
    return 0 if report.nothing_lost else 1


if __name__ == "__main__":
    raise SystemExit(main())
