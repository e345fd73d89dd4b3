"""A whole period's scoring and grading, computed and stored, against the bare aggregate.

    python bench/scoring.py [--staff 100000] [--departments 200] [--entries 22]
        [--database-url URL | --scratch-postgres ADMIN_URL] [--batch-size 2000]

Seeds, in SQL (``INSERT ... SELECT`` from a numbers table, so seeding 2.2 million
entries takes seconds, not Python rows): ``--staff`` people in ``--departments``
departments (half of them law-enforcement departments, half service), each with a
review row for November 2026 and ``--entries`` approved entries dated in it spread
over their post type's quantitative indicators; two ratings (supervisor and self) of
each law-enforcement officer's rated indicator; a bonus for 1 in 10 people and a
deduction for 1 in 50; an entry rejected for misconduct for 1 in 1,000; and, outside
what counts, one submitted entry for 1 in 5 and December entries for 1 in 10.

Then times, in the same run:

- **the floor**: one hand-written ``INSERT INTO ... SELECT staff_id, indicator_id,
  SUM(quantity), COUNT(*) ... GROUP BY`` over the same approved entries (the bare
  aggregate, into a scratch table, committed; on SQLite its ``SUM`` adds floats);
- **score_period**: every reviewable person's score, grade under the quota and
  breakdown, computed and stored (``period_scores``), exact ``Decimal`` throughout;
- the same again, a recompute over the stored rows.

Prints both, their ratio (goal: at most 2x the floor) and the process's peak memory
(goal: under 1 GiB, ``resource.getrusage``). Goals are printed as met or not, never
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import JSON, Date, bindparam, delete, false, func, insert, literal, select, text

from assessment import periods
from assessment.period_scoring import BATCH_SIZE, PeriodRun, score_period
from assessment.periods import Period, period_of
from assessment.scoring_worker import ScoringWorker
from bench._support import describe_url, scratch_postgres
from config.policy import load_policy
from storage import migrate
from storage.engine import Database
from storage.models import PeriodScore, Staff, WorkEntry
from storage.types import UTCDateTime

POLICY = load_policy()
PERIOD = period_of(date(2026, 11, 1), POLICY)
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
GOAL_RATIO = 2.0
GOAL_MEMORY_MIB = 1024
STORE_FLOOR_RUNS = 2


@dataclass
class Report:
    """One run's figures."""

    database: str
    staff: int
    departments: int
    entries: int
    seed_seconds: float
    floor_seconds: float
    floor_cpu: float
    floor_rows: int
    score_seconds: float
    score_cpu: float
    rescore_seconds: float
    run: PeriodRun
    stored: int
    peak_mib: float
    before_mib: float
    # Where the batches were scored ("worker process" or "thread"), the worker's CPU for
    # the first run, and the alternating recomputes: (where, seconds), in order.
    scored_in: str = "worker process"
    worker_cpu: float = 0.0
    alternating: tuple[tuple[str, float], ...] = ()
    # The store's floor (``store_floor``), best of its runs, and the rows it wrote; the
    # floor's own best over its runs beside it.
    store_seconds: float = 0.0
    store_rows: int = 0
    best_floor_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.score_seconds / self.floor_seconds if self.floor_seconds else float("inf")

    @property
    def store_ratio(self) -> float:
        """The store's floor against the aggregate's, each at its best."""
        best = self.best_floor_seconds or self.floor_seconds
        return self.store_seconds / best if best else float("inf")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _numbers(dialect: str, name: str, count: int) -> str:
    # A table of 1..count, as a common table expression.
    if dialect == "postgresql":
        template = "$name(i) AS (SELECT generate_series(1, $count))"
    else:
        template = "$name(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM $name WHERE i < $count)"
    return Template(template).substitute(name=name, count=int(count))


# The seed, in SQL. On SQLite a number stored in a decimal (text) column becomes its text,
# as ``ExactDecimal`` writes it: 80.123, -3.5.
_ORGANISATION = (
    "WITH $recursive $departments "
    "INSERT INTO departments (name, created_at) SELECT 'Department ' || n.i, :now FROM n",
    "INSERT INTO posts (department_id, name, post_type, difficulty, created_at) "
    "SELECT id, 'Post', CASE WHEN id % 2 = 0 THEN 'law_enforcement' ELSE 'service' END, 1, "
    ":now FROM departments",
    "WITH $recursive $staff, "
    "d AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS k FROM departments) "
    "INSERT INTO staff (employee_no, name, department_id, post_id, roles, status, "
    "created_at, updated_at, version) "
    "SELECT 'E' || n.i, 'Person ' || n.i, d.id, p.id, 1, 'active', :now, :now, 1 "
    "FROM n JOIN d ON d.k = n.i % $department_count JOIN posts p ON p.department_id = d.id",
)
# A period's facts for everyone not left: a review row (a person without a post is
# reviewed as service staff), entries, ratings and points.
_PERIOD_FACTS = (
    "INSERT INTO period_reviews (period_id, staff_id, post_type, department_id, "
    "created_at, updated_at, version) "
    "SELECT :period_id, s.id, COALESCE(p.post_type, 'service'), s.department_id, :now, :now, 1 "
    "FROM staff s LEFT JOIN posts p ON p.id = s.post_id WHERE s.status <> 'left'",
    # Each person's entries spread over their post type's quantitative indicators: rates
    # of 80..100 % (three decimals), counts of 0..10, complaints rare.
    "WITH $recursive $entries "
    "INSERT INTO work_entries (staff_id, work_date, text, indicator_id, quantity, status, "
    "misconduct, created_at, submitted_at, updated_at, version) "
    "SELECT x.sid, $day, 'Work', x.indicator, "
    "(CASE WHEN x.indicator IN ('case_closure_rate', 'on_time_completion', "
    "'citizen_satisfaction') THEN 80000 + (x.sid * 7919 + x.di * 104729) % 20001 "
    "WHEN x.indicator = 'complaint_rate' THEN ((x.sid + x.di) % 40 / 39) * 1000 "
    "ELSE (x.sid * 31 + x.di * 17) % 10001 END) / $thousand, "
    "'approved', false, :now, :now, :now, 1 "
    "FROM (SELECT r.staff_id AS sid, d.i AS di, CASE WHEN r.post_type = 'law_enforcement' THEN "
    "CASE d.i % 3 WHEN 0 THEN 'case_closure_rate' WHEN 1 THEN 'cases_handled' "
    "ELSE 'complaint_rate' END ELSE "
    "CASE d.i % 4 WHEN 0 THEN 'on_time_completion' WHEN 1 THEN 'citizen_satisfaction' "
    "WHEN 2 THEN 'service_innovations' ELSE 'permits_processed' END END AS indicator "
    "FROM period_reviews r CROSS JOIN d WHERE r.period_id = :period_id) x",
    # Not counted: submitted entries, the next period's; a rejection for misconduct counts.
    "INSERT INTO work_entries (staff_id, work_date, text, indicator_id, quantity, status, "
    "misconduct, created_at, submitted_at, updated_at, version) "
    "SELECT staff_id, $inside, 'Pending', 'cases_handled', 5, 'submitted', false, "
    ":now, :now, :now, 1 FROM period_reviews WHERE period_id = :period_id AND staff_id % 5 = 0",
    "INSERT INTO work_entries (staff_id, work_date, text, indicator_id, quantity, status, "
    "misconduct, created_at, submitted_at, updated_at, version) "
    "SELECT staff_id, $after, 'After', 'cases_handled', 5, 'approved', false, "
    ":now, :now, :now, 1 FROM period_reviews WHERE period_id = :period_id "
    "AND staff_id % 10 = 0",
    "INSERT INTO work_entries (staff_id, work_date, text, status, misconduct, "
    "decision_reason, created_at, submitted_at, updated_at, version) "
    "SELECT staff_id, $inside, 'Falsified', 'rejected', true, 'Misconduct', :now, :now, :now, 1 "
    "FROM period_reviews WHERE period_id = :period_id AND staff_id % 1000 = 7",
    # The law-enforcement officers' rated indicator: by the supervisor and by themselves.
    "INSERT INTO ratings (period_id, staff_id, indicator_id, rater_kind, rater_key, value, "
    "created_at, updated_at) "
    "SELECT :period_id, r.staff_id, 'enforcement_compliance', k.kind, k.kind, "
    "1 + (r.staff_id + k.n) % 5, :now, :now FROM period_reviews r "
    "CROSS JOIN (SELECT 'supervisor' AS kind, 0 AS n UNION ALL SELECT 'self', 3) k "
    "WHERE r.period_id = :period_id AND r.post_type = 'law_enforcement'",
    "INSERT INTO score_points (period_id, staff_id, author_id, amount, reason, "
    "disqualifying, created_at) "
    "SELECT :period_id, staff_id, staff_id, 2, 'Extra duty', false, :now FROM period_reviews "
    "WHERE period_id = :period_id AND staff_id % 10 = 3",
    "INSERT INTO score_points (period_id, staff_id, author_id, amount, reason, "
    "disqualifying, created_at) "
    "SELECT :period_id, staff_id, staff_id, -3.5, 'Late report', false, :now "
    "FROM period_reviews WHERE period_id = :period_id AND staff_id % 50 = 11",
)


def _statements(templates: Sequence[str], dialect: str, **counts: int) -> list[str]:
    pg = dialect == "postgresql"
    parts = {
        "recursive": "" if pg else "RECURSIVE",
        "departments": _numbers(dialect, "n", counts.get("departments", 1)),
        "staff": _numbers(dialect, "n", counts.get("staff", 1)),
        "entries": _numbers(dialect, "d", counts.get("entries", 1)),
        "department_count": str(int(counts.get("departments", 1))),
        "thousand": "1000.0" if not pg else "CAST(1000 AS NUMERIC)",
    }
    return [Template(statement).safe_substitute(parts) for statement in templates]


def _dates(statement: str, dialect: str, period: Period) -> str:
    # The period's days (28 of them, every month has those), one inside it, one after.
    start, inside = period.starts_on.isoformat(), (period.starts_on + timedelta(days=4))
    after = (period.ends_on + timedelta(days=2)).isoformat()
    if dialect == "postgresql":
        days = {
            "day": f"(DATE '{start}' + ((x.di - 1) % 28))",
            "inside": f"DATE '{inside.isoformat()}'",
            "after": f"DATE '{after}'",
        }
    else:
        days = {
            "day": f"date('{start}', '+' || ((x.di - 1) % 28) || ' days')",
            "inside": f"'{inside.isoformat()}'",
            "after": f"'{after}'",
        }
    return Template(statement).substitute(days)


async def _execute(
    database: Database, statements: Sequence[str], period_id: int = 0, at: datetime = NOW
) -> None:
    async with database.engine.begin() as connection:
        for statement in statements:
            query = text(statement).bindparams(bindparam("now", type_=UTCDateTime()))
            parameters: dict[str, Any] = {"now": at}
            if ":period_id" in statement:
                parameters["period_id"] = period_id
            await connection.execute(query, parameters)


async def seed_organisation(database: Database, staff: int, departments: int) -> None:
    """``staff`` people in ``departments`` departments, half of them law enforcement."""
    dialect = database.engine.dialect.name
    await _execute(
        database, _statements(_ORGANISATION, dialect, staff=staff, departments=departments)
    )


async def seed_period(
    database: Database, period: Period, entries: int, *, at: datetime = NOW
) -> int:
    """A review row for everyone not left, with ``entries`` approved entries each in
    ``period``, ratings and points (SQL only), written ``at``; the period's id."""
    async with database.uow() as uow:
        period_id = await periods.ensure_period(uow, period, now=NOW)
        await uow.commit()
    dialect = database.engine.dialect.name
    statements = [
        _dates(statement, dialect, period)
        for statement in _statements(_PERIOD_FACTS, dialect, entries=entries)
    ]
    await _execute(database, statements, period_id, at)
    # Committed: on PostgreSQL the statistics ANALYZE gathers are rolled back otherwise.
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")
    return period_id


async def seed(database: Database, staff: int, departments: int, entries: int) -> None:
    """The organisation, and its November reviews, entries, ratings and points, in SQL."""
    await seed_organisation(database, staff, departments)
    await seed_period(database, PERIOD, entries)


_FLOOR_TABLE = "bench_floor_aggregate"


async def floor(database: Database) -> tuple[float, float, int]:
    """The bare aggregate into a scratch table, committed: (seconds, CPU seconds of this
    process, rows)."""
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_FLOOR_TABLE}")
        await connection.exec_driver_sql(
            f"CREATE TABLE {_FLOOR_TABLE} (staff_id INTEGER, indicator_id VARCHAR(60), "
            "total NUMERIC, n INTEGER)"
        )
    query = text(
        f"INSERT INTO {_FLOOR_TABLE} (staff_id, indicator_id, total, n) "  # noqa: S608 - a constant
        "SELECT staff_id, indicator_id, SUM(quantity), COUNT(*) FROM work_entries "
        "WHERE status = 'approved' AND work_date >= :starts AND work_date <= :ends "
        "GROUP BY staff_id, indicator_id"
    ).bindparams(bindparam("starts", type_=Date()), bindparam("ends", type_=Date()))
    started, cpu = time.perf_counter(), time.process_time()
    async with database.engine.begin() as connection:
        result = await connection.execute(
            query, {"starts": PERIOD.starts_on, "ends": PERIOD.ends_on}
        )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, int(getattr(result, "rowcount", 0) or 0)


async def store_floor(database: Database) -> tuple[float, int]:
    """The least a stored result can cost: the period's stored scores deleted (not
    timed), then the same approved entries aggregated per person and written as
    ``period_scores`` rows (the real table, its indexes and foreign keys) in one
    ``INSERT ... SELECT`` with no score formula, no grading (one constant grade) and an
    empty breakdown; timed to the end of the statement, then rolled back, so the run's
    rows are left as they were: (seconds, rows)."""
    scores = PeriodScore.__table__
    entries = WorkEntry.__table__
    staff = Staff.__table__
    async with database.engine.connect() as connection:
        period_id = await connection.scalar(select(scores.c.period_id).limit(1))
        try:
            await connection.execute(delete(PeriodScore).where(PeriodScore.period_id == period_id))
            grade = POLICY.grades[-1].id
            people = (
                select(
                    literal(period_id).label("period_id"),
                    entries.c.staff_id,
                    staff.c.department_id,
                    func.count().label("score"),
                    literal(grade).label("grade_id"),
                    literal(grade).label("by_score_grade_id"),
                    literal({}, JSON).label("breakdown"),
                    false().label("disqualified"),
                    literal(NOW, UTCDateTime()).label("computed_at"),
                    literal(1).label("version"),
                )
                .join(staff, staff.c.id == entries.c.staff_id)
                .where(
                    entries.c.status == "approved",
                    entries.c.work_date.between(PERIOD.starts_on, PERIOD.ends_on),
                )
                .group_by(entries.c.staff_id, staff.c.department_id)
            )
            columns = [
                "period_id",
                "staff_id",
                "department_id",
                "score",
                "grade_id",
                "by_score_grade_id",
                "breakdown",
                "disqualified",
                "computed_at",
                "version",
            ]
            started = time.perf_counter()
            result = await connection.execute(insert(PeriodScore).from_select(columns, people))
            seconds = time.perf_counter() - started
        finally:
            await connection.rollback()
    return seconds, int(getattr(result, "rowcount", 0) or 0)


async def measure(
    database: Database,
    *,
    staff: int,
    departments: int,
    entries: int,
    batch_size: int = BATCH_SIZE,
    name: str = "",
    in_thread: bool = False,
    alternate: int = 0,
) -> Report:
    """Seed, then time the floor, the whole period's scoring and a recompute (in the
    scoring worker process, or ``in_thread``), then ``alternate`` pairs of recomputes,
    one in a thread and one in the worker, on the same database."""
    worker = ScoringWorker()
    try:
        return await _measure(
            database, worker, staff, departments, entries, batch_size, name, in_thread, alternate
        )
    finally:
        worker.close()


async def _measure(
    database: Database,
    worker: ScoringWorker,
    staff: int,
    departments: int,
    entries: int,
    batch_size: int,
    name: str,
    in_thread: bool,
    alternate: int,
) -> Report:
    used = None if in_thread else worker
    started = time.perf_counter()
    await seed(database, staff, departments, entries)
    seed_seconds = time.perf_counter() - started
    floor_seconds, floor_cpu, floor_rows = await floor(database)
    before = _peak_mib()
    started, cpu = time.perf_counter(), time.process_time()
    run = await score_period(database, POLICY, PERIOD, now=NOW, batch_size=batch_size, worker=used)
    score_seconds, score_cpu = time.perf_counter() - started, time.process_time() - cpu
    worker_cpu = worker.cpu_seconds
    started = time.perf_counter()
    await score_period(database, POLICY, PERIOD, now=NOW, batch_size=batch_size, worker=used)
    rescore_seconds = time.perf_counter() - started
    alternating: list[tuple[str, float]] = []
    for _ in range(alternate):
        for where, each in (("thread", None), ("worker process", worker)):
            started = time.perf_counter()
            await score_period(
                database, POLICY, PERIOD, now=NOW, batch_size=batch_size, worker=each
            )
            alternating.append((where, time.perf_counter() - started))
    # The aggregate's floor and the store's, taken in turn, best of each.
    floors, stores, store_rows = [floor_seconds], [], 0
    for _ in range(STORE_FLOOR_RUNS):
        floors.append((await floor(database))[0])
        seconds, store_rows = await store_floor(database)
        stores.append(seconds)
    async with database.uow() as uow:
        stored = await uow.session.scalar(select(func.count()).select_from(PeriodScore))
        approved = await uow.session.scalar(
            select(func.count()).select_from(WorkEntry).where(WorkEntry.status == "approved")
        )
    return Report(
        database=name or describe_url(database.url),
        staff=staff,
        departments=departments,
        entries=int(approved or 0),
        seed_seconds=seed_seconds,
        floor_seconds=floor_seconds,
        floor_cpu=floor_cpu,
        floor_rows=floor_rows,
        score_seconds=score_seconds,
        score_cpu=score_cpu,
        rescore_seconds=rescore_seconds,
        run=run,
        stored=int(stored or 0),
        peak_mib=_peak_mib(),
        before_mib=before,
        scored_in="thread" if in_thread else "worker process",
        worker_cpu=0.0 if in_thread else worker_cpu,
        alternating=tuple(alternating),
        store_seconds=min(stores),
        store_rows=store_rows,
        best_floor_seconds=min(floors),
    )


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def render(report: Report) -> str:
    """The printed report."""
    grades = ", ".join(f"{grade} {count:,}" for grade, count in report.run.grades.most_common())
    return "\n".join(
        [
            f"Scoring a period on {report.database}, Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs",
            f"  {report.staff:,} staff in {report.departments} departments, "
            f"{report.entries:,} approved entries (seeded in {report.seed_seconds:.1f} s)",
            f"  floor: INSERT ... SELECT ... GROUP BY   {report.floor_seconds:7.2f} s "
            f"(CPU of this process {report.floor_cpu:.2f} s; {report.floor_rows:,} rows)",
            f"  score_period, computed and stored      {report.score_seconds:7.2f} s "
            f"(batches scored in a {report.scored_in}; CPU of this process "
            f"{report.score_cpu:.2f} s, of the scoring worker {report.worker_cpu:.2f} s; "
            f"{report.run.scored:,} scored, {report.stored:,} stored)",
            f"  the same again (recompute)             {report.rescore_seconds:7.2f} s",
            *(
                [
                    "  alternating recomputes: "
                    + ", ".join(
                        f"{where} {seconds:.2f} s" for where, seconds in report.alternating
                    )
                ]
                if report.alternating
                else []
            ),
            f"  ratio to the floor: {report.ratio:.2f}x (goal at most {GOAL_RATIO:g}x: "
            f"{_verdict(report.ratio <= GOAL_RATIO)})",
            f"  the store's floor: the aggregate per person written as period_scores rows "
            f"(no formula, one grade, empty breakdown), best of {STORE_FLOOR_RUNS}: "
            f"{report.store_seconds:.2f} s ({report.store_rows:,} rows), "
            f"{report.store_ratio:.2f}x the floor's best of {STORE_FLOOR_RUNS + 1} "
            f"({report.best_floor_seconds or report.floor_seconds:.2f} s); "
            f"score_period {report.score_seconds / report.store_seconds:.2f}x of it"
            if report.store_seconds
            else "  the store's floor: not measured",
            f"  peak memory: {report.peak_mib:,.0f} MiB ({report.before_mib:,.0f} MiB before "
            f"scoring; goal under {GOAL_MEMORY_MIB:,} MiB: "
            f"{_verdict(report.peak_mib < GOAL_MEMORY_MIB)})",
            f"  grades: {grades}",
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
        with tempfile.TemporaryDirectory(prefix="workledger-scoring-") as scratch:
            yield f"sqlite+aiosqlite:///{scratch}/bench.db"


async def _main(args: argparse.Namespace) -> str:
    async with _database_url(args) as url:
        database = Database(url)
        try:
            await migrate.upgrade(database.engine)
            report = await measure(
                database,
                staff=args.staff,
                departments=args.departments,
                entries=args.entries,
                batch_size=args.batch_size,
                name=describe_url(url),
                in_thread=args.in_thread,
                alternate=args.alternate,
            )
        finally:
            await database.dispose()
        return render(report)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run and print the report."""
    parser = argparse.ArgumentParser(prog="bench/scoring.py", description=__doc__.split("\n")[0])
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=200)
    parser.add_argument("--entries", type=int, default=22, help="approved entries per person")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument(
        "--in-thread", action="store_true", help="score the batches in a thread, not the worker"
    )
    parser.add_argument(
        "--alternate",
        type=int,
        default=0,
        metavar="N",
        help="then N recomputes in a thread and N in the worker, alternating",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url")
    where.add_argument("--scratch-postgres", metavar="ADMIN_URL")
    print(asyncio.run(_main(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
