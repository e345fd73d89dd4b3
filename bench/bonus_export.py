"""Bonuses and the work ledger's export of a published period at scale.

    python bench/bonus_export.py [--run bonus] [--run export] [--staff 100000]
        [--departments 200] [--entries 22] [--format xlsx|csv]
        [--database-url URL | --scratch-postgres ADMIN_URL] [--batch-size 1000]

One function per run, a ``main`` that runs the ones selected with ``--run`` (all by
default); each returns its printed report. Goals are printed as met or not, never
asserted.

**bonus**: seeds, in SQL (``bench.scoring``'s organisation: ``--staff`` people in
``--departments`` departments), posts of four difficulties (0.9, 1.0, 1.15, 1.3),
November 2026 published with everyone's result (grades spread over the default scale,
1 in 50 calibrated) and a hardship allowance for 1 in 20. Then times, in the same run:

- **the floor**: one hand-written ``INSERT INTO ... SELECT`` of every person's bonus,
  base x coefficient x difficulty + allowances rounded half up to the fen, in the same
  whole-number arithmetic, into a scratch table, committed;
- **the bonus run**: ``assessment.bonus.compute`` and ``publish``, computed and stored
  in windows of staff ids, each its own transaction, with each line's factors, "paid
  before" and the run's totals (goal: within 2x of the floor);
- **a pool run** of the same period: its shares must add up to the pool to the fen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, delete, func, select, text, update

from assessment import bonus, periods, results
from assessment.people import StaffMember
from bench import export_ledger
from bench._support import (
    describe_url,
    local_postgres_pid,
    process_tree_cpu_seconds,
    scratch_postgres,
)
from bench.scoring import PERIOD, POLICY, seed_organisation
from config.policy import Policy
from storage import migrate
from storage.engine import Database
from storage.enums import Role, StaffStatus
from storage.models import AssessmentPeriod, BonusLine, BonusRun, Post
from storage.types import UTCDateTime

NOW = datetime(2026, 12, 12, 2, 0, tzinfo=UTC)
GOAL_RATIO = 2.0
# The floor and the run are each timed this many times, alternating, and the best of each
# compared: on a shared machine one timing alone moves with whatever else runs.
REPEAT = 3
POOL = Decimal("123456789.01")
DIFFICULTIES = (Decimal("0.9"), Decimal("1.0"), Decimal("1.15"), Decimal("1.3"))
# HR, as the runs need someone to compute and publish them (the seed's first person).
HR = StaffMember(1, "E1", "Person 1", 1, Role.HR, StaffStatus.ACTIVE, None, None)

# Everyone's published result: grades by staff id, 1 in 50 calibrated to good.
_RESULTS = (
    "INSERT INTO period_scores (period_id, staff_id, department_id, score, grade_id, "
    "by_score_grade_id, breakdown, disqualified, computed_at, calibrated_grade_id, "
    "published_at, version) "
    "SELECT :period_id, s.id, s.department_id, '85', g.grade, g.grade, '{}', false, :now, "
    "CASE WHEN s.id % 50 = 7 THEN 'good' END, :now, 1 "
    "FROM staff s JOIN (SELECT 0 AS k, 'excellent' AS grade UNION ALL SELECT 1, 'excellent' "
    "UNION ALL SELECT 2, 'good' UNION ALL SELECT 3, 'good' UNION ALL SELECT 4, 'good' "
    "UNION ALL SELECT 5, 'competent' UNION ALL SELECT 6, 'competent' "
    "UNION ALL SELECT 7, 'competent' UNION ALL SELECT 8, 'basically_competent' "
    "UNION ALL SELECT 9, 'incompetent') g ON g.k = s.id % 10",
    "INSERT INTO bonus_allowances (period_id, staff_id, kind, reason, assigned_at) "
    "SELECT :period_id, id, 'hardship', 'Mountain station', :now FROM staff WHERE id % 20 = 3",
)


@dataclass
class BonusReport:
    """The bonus run's figures."""

    database: str
    staff: int
    seed_seconds: float
    floor: list[Timing]
    floor_rows: int
    run: list[Timing]
    lines: int
    total: Decimal
    floor_total: Decimal
    pool_seconds: float
    pool_total: Decimal
    load: tuple[float, float]  # the load average (1 minute) before and after
    server_counted: bool  # the CPU figures include a local PostgreSQL server's

    @property
    def floor_seconds(self) -> float:
        return min(timing.seconds for timing in self.floor)

    @property
    def run_seconds(self) -> float:
        return min(timing.seconds for timing in self.run)

    @property
    def ratio(self) -> float:
        """The best run's wall time to the best floor's."""
        return self.run_seconds / self.floor_seconds if self.floor_seconds else float("inf")

    @property
    def cpu_ratio(self) -> float:
        """The same of CPU time (this process's, and a local server's when counted)."""
        floor = min(timing.cpu for timing in self.floor)
        run = min(timing.cpu for timing in self.run)
        return run / floor if floor else float("inf")


@dataclass(frozen=True)
class Timing:
    """One timed part: wall seconds and CPU seconds."""

    seconds: float
    cpu: float


class _Stopwatch:
    """Wall and CPU time: this process's (all threads: aiosqlite's included) and, for a
    PostgreSQL server on this machine, its processes' (on a loaded machine CPU time is the
    fairer figure: wall time counts the other work that ran meanwhile)."""

    def __init__(self, server: int | None) -> None:
        self.server = server

    def _cpu(self) -> float:
        cpu = time.process_time()
        if self.server is not None:
            cpu += process_tree_cpu_seconds(self.server)
        return cpu

    @contextlib.contextmanager
    def timing(self, into: list[Timing]) -> Iterator[None]:
        started, cpu = time.perf_counter(), self._cpu()
        yield
        into.append(Timing(time.perf_counter() - started, self._cpu() - cpu))


async def _execute(database: Database, statements: Sequence[str], period_id: int) -> None:
    async with database.engine.begin() as connection:
        for statement in statements:
            query = text(statement).bindparams(bindparam("now", type_=UTCDateTime()))
            await connection.execute(query, {"now": NOW, "period_id": period_id})


async def seed_published(database: Database, staff: int, departments: int) -> int:
    """The organisation, posts of four difficulties, and November 2026 published with
    everyone's result and some allowances; the period's id."""
    await seed_organisation(database, staff, departments)
    async with database.uow() as uow:
        for index, difficulty in enumerate(DIFFICULTIES):
            await uow.session.execute(
                update(Post)
                .where(Post.id % len(DIFFICULTIES) == index)
                .values(difficulty=difficulty)
            )
        period_id = await periods.ensure_period(uow, PERIOD, now=NOW)
        await uow.claims.claim(results.notices_key(PERIOD.key), NOW)
        await uow.session.execute(
            update(AssessmentPeriod)
            .where(AssessmentPeriod.id == period_id)
            .values(published_at=NOW)
        )
        await uow.commit()
    await _execute(database, _RESULTS, period_id)
    await _settle(database)
    return period_id


async def _settle(database: Database) -> None:
    """Statistics gathered and, on PostgreSQL, the new rows vacuumed: the first to read
    them (floor or run) does not pay for setting their hint bits, nor the rest for an
    autovacuum of the seed running meanwhile."""
    if database.engine.dialect.name == "postgresql":
        engine = database.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.exec_driver_sql("VACUUM ANALYZE")
        return
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")


_FLOOR_TABLE = "bench_bonus_floor"


def _floor_statement(database: Database, policy: Policy) -> str:
    numbers = bonus.arithmetic(policy)
    grade = "COALESCE(sc.calibrated_grade_id, sc.grade_id)"
    coefficient = (
        "CASE "
        + " ".join(f"WHEN {grade} = '{g}' THEN {u}" for g, u in numbers.coefficients.items())
        + " END"
    )
    allowance = (
        "COALESCE((SELECT SUM(CASE "  # noqa: S608 - built from constants
        + " ".join(f"WHEN a.kind = '{k}' THEN {u}" for k, u in numbers.allowances.items())
        + " ELSE 0 END) FROM bonus_allowances a WHERE a.period_id = sc.period_id "
        "AND a.staff_id = sc.staff_id AND a.withdrawn_at IS NULL), 0)"
    )
    if database.engine.dialect.name == "sqlite":
        difficulty = "CAST(ROUND(CAST(COALESCE(p.difficulty, '1') AS REAL) * 1000) AS INTEGER)"
    else:
        difficulty = "CAST(COALESCE(p.difficulty, 1) * 1000 AS BIGINT)"
    # Half up in whole numbers: (2n + d) / 2d.
    n = f"({coefficient}) * {difficulty} * {numbers.numerator}"
    d = numbers.denominator
    return (
        f"INSERT INTO {_FLOOR_TABLE} (staff_id, amount) "  # noqa: S608 - built from constants
        f"SELECT sc.staff_id, (2 * {n} + {d}) / {2 * d} + {allowance} "
        "FROM period_scores sc JOIN staff s ON s.id = sc.staff_id "
        "LEFT JOIN posts p ON p.id = s.post_id "
        "WHERE sc.period_id = :period_id AND sc.published_at IS NOT NULL"
    )


async def bonus_floor(
    database: Database, period_id: int, watch: _Stopwatch, into: list[Timing]
) -> tuple[int, int]:
    """The bare INSERT ... SELECT into a fresh scratch table, committed, timed into
    ``into``: (rows, the sum of the amounts in fen)."""
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_FLOOR_TABLE}")
        await connection.exec_driver_sql(
            f"CREATE TABLE {_FLOOR_TABLE} (staff_id INTEGER, amount BIGINT)"
        )
    statement = text(_floor_statement(database, POLICY))
    with watch.timing(into):
        async with database.engine.begin() as connection:
            result = await connection.execute(statement, {"period_id": period_id})
    async with database.engine.begin() as connection:
        total = (
            await connection.exec_driver_sql(f"SELECT SUM(amount) FROM {_FLOOR_TABLE}")  # noqa: S608
        ).scalar()
    return int(getattr(result, "rowcount", 0) or 0), int(total or 0)


async def _forget_runs(database: Database, period_id: int) -> None:
    """The period's runs and lines deleted, so that the next repetition is run 1 again."""
    async with database.uow() as uow:
        runs = select(BonusRun.id).where(BonusRun.period_id == period_id)
        await uow.session.execute(delete(BonusLine).where(BonusLine.run_id.in_(runs)))
        await uow.session.execute(delete(BonusRun).where(BonusRun.period_id == period_id))
        await uow.commit()
    await _settle(database)


async def measure_bonus(
    database: Database, *, staff: int, departments: int, batch_size: int = bonus.RUN_BATCH,
    name: str = "", repeat: int = REPEAT,
) -> BonusReport:  # fmt: skip
    """Seed, then time the floor and the bonus run (computed, stored, published)
    ``repeat`` times each, alternating which goes first (the run's lines deleted between
    repetitions), then a pool run of the same period."""
    started = time.perf_counter()
    period_id = await seed_published(database, staff, departments)
    seed_seconds = time.perf_counter() - started
    async with database.engine.connect() as connection:
        watch = _Stopwatch(await local_postgres_pid(connection))
    load = os.getloadavg()[0]
    floors: list[Timing] = []
    runs: list[Timing] = []
    floor_rows = floor_units = 0
    computed: bonus.Computed | None = None
    for repetition in range(repeat):
        if repetition:
            await _forget_runs(database, period_id)
        for part in ("floor", "run") if repetition % 2 == 0 else ("run", "floor"):
            if part == "floor":
                floor_rows, floor_units = await bonus_floor(database, period_id, watch, floors)
                continue
            with watch.timing(runs):
                made = await bonus.compute(
                    database.uow, HR, PERIOD.key, POLICY, pool_total=None, reason=None,
                    now=NOW, size=batch_size,
                )  # fmt: skip
                assert isinstance(made, bonus.Computed), made
                published = await bonus.publish(database.uow, HR, made.run_id, now=NOW)
            assert isinstance(published, bonus.Published), published
            computed = made
    assert computed is not None
    loaded = os.getloadavg()[0]
    pooled = POLICY.model_copy(update={"bonus": POLICY.bonus.model_copy(update={"mode": "pool"})})
    started = time.perf_counter()
    pool_run = await bonus.compute(
        database.uow, HR, PERIOD.key, pooled, pool_total=POOL, reason="Pool instead",
        now=NOW, size=batch_size,
    )  # fmt: skip
    pool_seconds = time.perf_counter() - started
    assert isinstance(pool_run, bonus.Computed), pool_run
    async with database.uow() as uow:
        stored_pool = await uow.session.scalar(
            select(func.sum(BonusLine.amount)).where(BonusLine.run_id == pool_run.run_id)
        )
    step = POLICY.bonus.rounding
    return BonusReport(
        database=name or describe_url(database.url),
        staff=staff,
        seed_seconds=seed_seconds,
        floor=floors,
        floor_rows=floor_rows,
        run=runs,
        lines=computed.people,
        total=computed.total,
        floor_total=(Decimal(floor_units) * step).quantize(step),
        pool_seconds=pool_seconds,
        pool_total=(Decimal(int(stored_pool or 0)) * step).quantize(step),
        load=(load, loaded),
        server_counted=watch.server is not None,
    )


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _timings(timings: list[Timing]) -> str:
    return ", ".join(f"{t.seconds:.2f} s (CPU {t.cpu:.2f} s)" for t in timings)


def render_bonus(report: BonusReport) -> str:
    """The bonus run's printed report."""
    cpu = "CPU of this process" + (" and the server" if report.server_counted else "")
    return "\n".join(
        [
            f"Bonus run of a period on {report.database}, Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs, load average {report.load[0]:.1f} before, "
            f"{report.load[1]:.1f} after",
            f"  {report.staff:,} staff with published results (seeded in "
            f"{report.seed_seconds:.1f} s); {len(report.run)} repetitions, alternating",
            f"  floor: one INSERT ... SELECT            {_timings(report.floor)} "
            f"({report.floor_rows:,} rows, {report.floor_total:,} in all)",
            f"  bonus run, computed, stored, published {_timings(report.run)} "
            f"({report.lines:,} lines, {report.total:,} in all: "
            f"{'the same as' if report.total == report.floor_total else 'NOT the same as'} "
            "the floor)",
            f"  ratio to the floor, best of each: {report.ratio:.2f}x of wall time (goal at "
            f"most {GOAL_RATIO:g}x: {_verdict(report.ratio <= GOAL_RATIO)}); "
            f"{report.cpu_ratio:.2f}x of {cpu} "
            f"({_verdict(report.cpu_ratio <= GOAL_RATIO)})",
            f"  pool run of {POOL:,}                   {report.pool_seconds:7.2f} s "
            f"(shares sum to {report.pool_total:,}: "
            f"{'exactly the pool' if report.pool_total == POOL else 'NOT the pool'})",
        ]
    )


async def run_bonus(args: argparse.Namespace, url: str) -> str:
    """The bonus run on a fresh database at ``url``."""
    database = Database(url)
    try:
        await migrate.upgrade(database.engine)
        report = await measure_bonus(
            database,
            staff=args.staff,
            departments=args.departments,
            batch_size=args.batch_size,
            name=describe_url(url),
            repeat=args.repeat,
        )
    finally:
        await database.dispose()
    return render_bonus(report)


async def run_export(args: argparse.Namespace, url: str) -> str:
    """The work ledger's export on a fresh database at ``url`` (``bench/export_ledger.py``:
    ``--staff`` x ``--entries`` approved entries, against openpyxl ``write_only`` writing
    the same rows from memory; goals 1.5x and 300 MiB)."""
    report = await export_ledger.measure(
        url, staff=args.staff, departments=args.departments, entries=args.entries,
        fmt=args.format,
    )  # fmt: skip
    return export_ledger.render(report)


# The runs, by name: each gets the arguments and a fresh database of its own.
RUNS: dict[str, Callable[[argparse.Namespace, str], Awaitable[str]]] = {
    "bonus": run_bonus,
    "export": run_export,
}


@contextlib.asynccontextmanager
async def _database_url(args: argparse.Namespace, name: str) -> AsyncIterator[str]:
    if args.scratch_postgres:
        async with scratch_postgres(args.scratch_postgres) as url:
            yield url
    elif args.database_url:
        yield args.database_url
    else:
        with tempfile.TemporaryDirectory(prefix=f"workledger-{name}-") as scratch:
            yield f"sqlite+aiosqlite:///{scratch}/bench.db"


async def _main(args: argparse.Namespace) -> str:
    reports = []
    for name in args.run or list(RUNS):
        async with _database_url(args, name) as url:
            reports.append(await RUNS[name](args, url))
    return "\n\n".join(reports)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the selected runs and print their reports."""
    parser = argparse.ArgumentParser(
        prog="bench/bonus_export.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--run", action="append", choices=list(RUNS), help="(repeatable)")
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=bonus.RUN_BATCH)
    parser.add_argument("--repeat", type=int, default=REPEAT, help="bonus: repetitions")
    parser.add_argument("--entries", type=int, default=22, help="export: entries per person")
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="export")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url")
    where.add_argument("--scratch-postgres", metavar="ADMIN_URL")
    print(asyncio.run(_main(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
