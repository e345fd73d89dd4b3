"""How long one batch of a big job holds the store: the daily reminder over many staff.

    python bench/batches.py [--staff 100000] [--sizes 250,500,1000,2000,5000]
        [--database-url URL | --scratch-postgres ADMIN_URL]

Seeds ``--staff`` people (1 in 10 not linked, 1 in 25 left, a third logged, some on
leave, several languages) into a scratch SQLite file (or the given database), then
runs the daily reminder once per batch size and prints, per size, how many batches
wrote, how long their transactions took (first statement to the end of the commit:
the time another writer may have to wait), and how long the whole job took; then
the longest transaction of the next tick's tidy-up, which looks at every reminder
still queued, in batches of the same size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, event, insert, select
from sqlalchemy.orm import Session

from assessment import reminders
from assessment.calendar import WorkCalendar
from assessment.outbox import Circular
from assessment.reminders import Languages
from bench._support import describe_url, scratch_postgres
from config.policy import load_policy
from locales import resolve_locale
from storage import migrate
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import Department, JobClaim, LeaveDay, OutboxMessage, Staff, WorkEntry

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 11, 20)  # a Thursday, a workday
NOW = datetime(2025, 11, 20, 17, 31, tzinfo=ZONE)
TELEGRAM = (None, "en-US", "zh-hans", "zh-TW", "ru")


@dataclass
class Run:
    """One run of the daily reminder at one batch size."""

    size: int
    queued: int
    transactions: list[float]
    cpu: list[float]
    seconds: float
    tidy_seconds: float


class Transactions:
    """Times every committed transaction of the store, first statement to commit done.

    Both the time it took and the CPU time the process spent meanwhile: on a busy
    machine the first includes waiting for a core, the second does not.
    """

    def __init__(self) -> None:
        self.begun: dict[int, tuple[float, float]] = {}
        self.committed: list[float] = []
        self.cpu: list[float] = []

    def begin(self, session: Session, *_: Any) -> None:
        self.begun[id(session)] = (time.perf_counter(), time.process_time())

    def commit(self, session: Session) -> None:
        started = self.begun.pop(id(session), None)
        if started is not None:
            self.committed.append(time.perf_counter() - started[0])
            self.cpu.append(time.process_time() - started[1])

    @contextlib.contextmanager
    def watching(self) -> Any:
        event.listen(Session, "after_begin", self.begin)
        event.listen(Session, "after_commit", self.commit)
        try:
            yield self
        finally:
            event.remove(Session, "after_begin", self.begin)
            event.remove(Session, "after_commit", self.commit)


async def seed(database: Database, staff: int) -> None:
    """``staff`` people in a mix of states on ``DAY``."""
    async with database.uow() as uow:
        office = await uow.departments.add(Department(name="Big Office"))
        await uow.commit()
    now = datetime.now(UTC)
    rows = [
        {
            "employee_no": f"B{n:07d}",
            "name": f"Person {n}",
            "department_id": office.id,
            "roles": Role.STAFF,
            "status": StaffStatus.LEFT if n % 25 == 0 else StaffStatus.ACTIVE,
            "telegram_user_id": 10_000_000 + n if n % 10 else None,
            "language": "en" if n % 4 == 0 else None,
            "telegram_language": TELEGRAM[n % len(TELEGRAM)],
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for n in range(staff)
    ]
    async with database.engine.begin() as connection:
        for start in range(0, staff, 20_000):
            await connection.execute(insert(Staff), rows[start : start + 20_000])
        ids = list((await connection.execute(select(Staff.id).order_by(Staff.id))).scalars())
        entries, leave = [], []
        for n, staff_id in enumerate(ids):
            if n % 3 == 0:
                status = EntryStatus.DELETED if n % 12 == 0 else EntryStatus.SUBMITTED
                entries.append(
                    {
                        "staff_id": staff_id, "work_date": DAY, "text": "done", "status": status,
                        "created_at": now, "updated_at": now, "version": 1,
                    }
                )  # fmt: skip
            elif n % 7 == 0:
                leave.append(
                    {"staff_id": staff_id, "day": DAY, "kind": "leave", "created_at": now}
                )
        for start in range(0, len(entries), 20_000):
            await connection.execute(insert(WorkEntry), entries[start : start + 20_000])
        if leave:
            await connection.execute(insert(LeaveDay), leave)
    if database.engine.dialect.name == "postgresql":
        # Committed: on PostgreSQL the statistics ANALYZE gathers are rolled back otherwise.
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")


def _render(readers: Languages, day: date) -> Circular:
    # As the bot does: one text per locale, however many ways people come to it.
    locale = resolve_locale(readers.language, readers.telegram_language, "en")
    return reminders.daily_reminder(day, text=f"reminder in {locale}", markup=None)


async def run(database: Database, size: int) -> Run:
    """The daily reminder at batch size ``size``, from an empty outbox."""
    async with database.engine.begin() as connection:
        await connection.execute(delete(OutboxMessage))
        await connection.execute(delete(JobClaim))
    calendar = WorkCalendar(load_policy())
    with Transactions().watching() as watched:
        started = time.perf_counter()
        queued = await reminders.run_daily(
            database.uow, calendar, reminders.time(17, 30), ZONE, _render, now=NOW,
            batch_size=size,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    # The outbox was empty: every transaction is a batch.
    transactions, cpu = watched.committed, watched.cpu
    with Transactions().watching() as tidy:
        await reminders.run_daily(
            database.uow, calendar, reminders.time(17, 30), ZONE, _render,
            now=NOW + timedelta(minutes=1), batch_size=size,
        )  # fmt: skip
    return Run(size, queued or 0, transactions, cpu, seconds, max(tidy.committed, default=0.0))


def render(database: str, staff: int, runs: Sequence[Run]) -> str:
    """The printed report."""
    lines = [
        f"Daily reminder over {staff:,} staff on {database}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs",
        "  batch size  batches  queued   a batch's transaction: p50 / p90 / max"
        " (CPU p50)   whole job   tidy-up max",
    ]
    for r in runs:
        ms = sorted(t * 1000 for t in r.transactions) or [0.0]
        p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
        cpu = statistics.median(r.cpu) * 1000 if r.cpu else 0.0
        lines.append(
            f"  {r.size:>10,}  {len(r.transactions):>7}  {r.queued:>6,}   "
            f"{statistics.median(ms):>21.1f} / {p90:>5.1f} / {ms[-1]:>5.1f} ms ({cpu:>4.1f} ms)"
            f"   {r.seconds:>7.2f} s   {r.tidy_seconds * 1000:>8.1f} ms"
        )
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def _database_url(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.scratch_postgres:
        async with scratch_postgres(args.scratch_postgres) as url:
            yield url
    elif args.database_url:
        yield args.database_url
    else:
        with tempfile.TemporaryDirectory(prefix="workledger-batches-") as scratch:
            yield f"sqlite+aiosqlite:///{scratch}/bench.db"


async def _main(args: argparse.Namespace) -> str:
    async with _database_url(args) as url:
        database = Database(url)
        try:
            await migrate.upgrade(database.engine)
            await seed(database, args.staff)
            runs = [await run(database, size) for size in args.sizes]
        finally:
            await database.dispose()
        return render(describe_url(url), args.staff, runs)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run and print the report."""
    parser = argparse.ArgumentParser(prog="bench/batches.py", description=__doc__.split("\n")[0])
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[250, 500, 1000, 2000, 5000],
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url")
    where.add_argument("--scratch-postgres", metavar="ADMIN_URL")
    print(asyncio.run(_main(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
