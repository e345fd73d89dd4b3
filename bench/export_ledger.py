"""A period's work ledger exported to XLSX, against openpyxl writing the same rows from memory.

    python bench/export_ledger.py [--staff 100000] [--departments 200] [--entries 22]
        [--database-url URL | --scratch-postgres ADMIN_URL] [--format xlsx|csv]

The export half of ``bench/bonus_export.py`` (issue 15): ``main`` here is what that
script calls for it. Seeds, in SQL, the organisation and November of ``bench.scoring``
(``--staff`` x ``--entries`` approved entries, 22 each by default: 2.2 million, plus
one submitted entry for 1 in 5 people), then gives every entry of the period its
approval trail (a request, and the decision on the approved ones) and 1 in 10 an
attachment, so the ledger's three reads all have rows to find.

Then, in the same run, each in a fresh process of its own so that one's memory is not
the other's:

- **the export**: the ledger exported as the bot builds it, in its export worker
  (``assessment.export_worker``: a child process of its own that reads the keyset pages
  from the store, shapes the cells and writes the file). Its wall time from the request
  to the worker's answer, its CPU time (the worker's and the requesting process's) and
  the worker's peak memory (goal: under 300 MiB, ``resource.getrusage``).
- **the floor**: the same rows, read and shaped into a list first (not timed), then
  written by openpyxl ``write_only`` from memory (the same header, frozen and bold),
  timed alone.

Prints both, their ratio (goal: at most 1.5x the floor), the rows and the files' sizes.
Goals are printed as met or not, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import queue
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, text

from assessment.export_worker import ExportWorkers
from assessment.exports import SOURCES as EXPORT_SOURCES
from assessment.exports import ExportRequest, Shaping, SheetWords
from bench._support import describe_url, scratch_postgres
from bench.scoring import NOW, PERIOD, POLICY, seed
from handlers.export_labels import sheet_words
from locales import translator
from storage import migrate
from storage.engine import Database
from storage.types import UTCDateTime

GOAL_RATIO = 1.5
GOAL_MEMORY_MIB = 300
LOCALE = "zh_Hans"
ZONE = ZoneInfo("Asia/Shanghai")

# Every entry sent for approval, and the approved ones decided; by their own author, as
# any staff row will do for the ledger's joins.
_TRAIL = (
    "INSERT INTO approval_requests (entry_id, entry_version, approver_id, reason, created_at) "
    "SELECT id, 1, staff_id, 'submitted', :now FROM work_entries",
    "UPDATE work_entries SET decided_by_id = staff_id, decided_at = :now, "
    "decision_via = 'supervisor' WHERE status = 'approved'",
    "INSERT INTO entry_attachments (entry_id, kind, file_id, file_unique_id, file_name, "
    "added_at) SELECT id, 'document', 'file', 'unique', 'evidence.pdf', :now "
    "FROM work_entries WHERE id % 10 = 0",
)


@dataclass
class Run:
    """One child's figures."""

    seconds: float
    # The processes', all their threads (on PostgreSQL the server's is not in it): the
    # export's worker's and the requesting process's.
    cpu: float
    rows: int
    peak_mib: float  # the export's: its worker's
    size: int
    caller_peak_mib: float | None = None  # the export's: the process that asked for it


@dataclass
class Report:
    """One run's figures."""

    database: str
    staff: int
    entries: int
    fmt: str
    seed_seconds: float
    export: Run
    floor: Run
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # 1-minute load: start, between, end

    @property
    def ratio(self) -> float:
        return self.export.seconds / self.floor.seconds if self.floor.seconds else float("inf")

    @property
    def cpu_ratio(self) -> float:
        return self.export.cpu / self.floor.cpu if self.floor.cpu else float("inf")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _request(fmt: str) -> ExportRequest:
    return ExportRequest("ledger", PERIOD, ZONE, fmt=fmt)


def _words() -> SheetWords:
    return sheet_words("ledger", translator(LOCALE), POLICY, ZONE.key)


async def seed_ledger(database: Database, staff: int, departments: int, entries: int) -> None:
    """``bench.scoring``'s organisation and November, with every entry's approval trail."""
    await seed(database, staff, departments, entries)
    async with database.engine.begin() as connection:
        for statement in _TRAIL:
            query = text(statement).bindparams(bindparam("now", type_=UTCDateTime()))
            await connection.execute(query, {"now": NOW})
        await connection.exec_driver_sql("ANALYZE")


async def _export_run(url: str, path: Path, fmt: str) -> Run:
    """The export as the bot asks its worker for it."""
    database = Database(url)
    workers = ExportWorkers()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = await workers.export(database, POLICY, _request(fmt), _words(), path)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        workers.close()
        await database.dispose()
    return Run(
        seconds,
        cpu + (result.cpu_seconds or 0.0),
        result.rows,
        (result.peak_bytes or 0) / 1024 / 1024,
        0,  # the file's size, read once this returns
        caller_peak_mib=_peak_mib(),
    )


async def _rows_in_memory(url: str) -> list[list[Any]]:
    """The export's own rows, read and shaped as it does, all held at once."""
    source = EXPORT_SOURCES["ledger"]
    request = _request("xlsx")
    shaping = Shaping(_words(), request.zone, POLICY)
    database = Database(url)
    rows: list[list[Any]] = []
    try:
        after = 0
        while True:
            async with database.uow() as uow:
                page = await source.page(uow, request, after)
            if not page:
                return rows
            rows += source.shape(page, shaping)
            after = page[-1][0]
    finally:
        await database.dispose()


def _floor_run(url: str, path: Path) -> Run:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    rows = asyncio.run(_rows_in_memory(url))
    words = _words()
    started, cpu = time.perf_counter(), time.process_time()
    book = Workbook(write_only=True)
    sheet = book.create_sheet(words.title)
    sheet.freeze_panes = "A2"
    header = []
    for label in words.header:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Run(seconds, cpu, len(rows), _peak_mib(), path.stat().st_size)


def _child(kind: str, url: str, path: str, fmt: str, results: Any) -> None:
    """One measurement in a process of its own (``spawn``: nothing inherited)."""
    if kind == "export":
        # The worker starts afresh for each export, as in the bot: its start is timed.
        run = asyncio.run(_export_run(url, Path(path), fmt))
        run.size = Path(path).stat().st_size
        results.put(run)
    else:
        # Loaded before the clock starts.
        import openpyxl  # noqa: F401

        results.put(_floor_run(url, Path(path)))


def _in_child(kind: str, url: str, path: Path, fmt: str) -> Run:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_child, args=(kind, url, str(path), fmt, results))
    process.start()
    try:
        # However long a loaded machine takes (2.2 million rows can take more than an
        # hour), but not forever if the child died without a result.
        while True:
            try:
                run: Run = results.get(timeout=10)
                break
            except queue.Empty:
                if not process.is_alive():
                    run = results.get(timeout=10)
                    break
    finally:
        process.join()
    if process.exitcode:
        raise RuntimeError(f"the {kind} process failed (exit status {process.exitcode})")
    return run


async def measure(
    url: str, *, staff: int, departments: int, entries: int, fmt: str = "xlsx"
) -> Report:
    """Seed the store at ``url`` (migrated here), then time the export and the floor."""
    database = Database(url)
    try:
        await migrate.upgrade(database.engine)
        started = time.perf_counter()
        await seed_ledger(database, staff, departments, entries)
        seeded = time.perf_counter() - started
    finally:
        await database.dispose()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="workledger-export-bench-") as folder:
        exported = await asyncio.to_thread(
            _in_child, "export", url, Path(folder) / f"export.{fmt}", fmt
        )
        loads.append(os.getloadavg()[0])
        floor = await asyncio.to_thread(_in_child, "floor", url, Path(folder) / "floor.xlsx", fmt)
    loads.append(os.getloadavg()[0])
    return Report(
        describe_url(url),
        staff,
        entries,
        fmt,
        seeded,
        exported,
        floor,
        (loads[0], loads[1], loads[2]),
    )


def _verdict(met: bool) -> str:
    return "goal met" if met else "goal NOT met"


def render(report: Report) -> str:
    """The report as text."""
    export_run, floor = report.export, report.floor
    mib = 1024 * 1024
    return "\n".join(
        [
            f"export of the work ledger on {report.database}: {report.staff:,} staff, "
            f"{export_run.rows:,} entries in {report.fmt.upper()} (seeded in "
            f"{report.seed_seconds:.1f} s); load average {report.load[0]:.1f} at the "
            f"export's start, {report.load[1]:.1f} at the floor's, "
            f"{report.load[2]:.1f} at its end",
            f"  export (store -> {report.fmt}, in its worker): {export_run.seconds:.1f} s (CPU "
            f"{export_run.cpu:.1f} s), {export_run.rows / export_run.seconds:,.0f} rows/s, "
            f"file {export_run.size / mib:,.1f} MiB",
            f"  floor (openpyxl write_only from memory): {floor.seconds:.1f} s (CPU "
            f"{floor.cpu:.1f} s), {floor.rows:,} rows, file {floor.size / mib:,.1f} MiB",
            f"  ratio to the floor: {report.ratio:.2f}x (goal <= {GOAL_RATIO}x: "
            f"{_verdict(report.ratio <= GOAL_RATIO)}); of CPU: {report.cpu_ratio:.2f}x",
            f"  export's peak memory, its worker's: {export_run.peak_mib:,.0f} MiB (goal < "
            f"{GOAL_MEMORY_MIB} MiB: {_verdict(export_run.peak_mib < GOAL_MEMORY_MIB)}); "
            f"the requesting process's: {export_run.caller_peak_mib or 0:,.0f} MiB; "
            f"the floor's, holding every row: {floor.peak_mib:,.0f} MiB",
        ]
    )


@contextlib.asynccontextmanager
async def _database_url(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.scratch_postgres:
        async with scratch_postgres(args.scratch_postgres) as url:
            yield url
    elif args.database_url:
        yield args.database_url
    else:
        with tempfile.TemporaryDirectory(prefix="workledger-export-") as scratch:
            yield f"sqlite+aiosqlite:///{scratch}/bench.db"


async def _main(args: argparse.Namespace) -> str:
    async with _database_url(args) as url:
        report = await measure(
            url, staff=args.staff, departments=args.departments, entries=args.entries,
            fmt=args.format,
        )  # fmt: skip
    return render(report)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the report; 0 unless it could not run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=200)
    parser.add_argument("--entries", type=int, default=22, help="approved entries per person")
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="an empty store (default: a scratch SQLite)")
    where.add_argument("--scratch-postgres", metavar="ADMIN_URL")
    args = parser.parse_args(argv)
    print(asyncio.run(_main(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
