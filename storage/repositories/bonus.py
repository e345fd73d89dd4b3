"""Bonus allowances, bonus runs and their lines; the run's arithmetic in SQL.

A run's lines are computed by the store, a window of staff ids per ``INSERT ... SELECT``,
on whole numbers of rounding steps (``assessment.bonus_rules.Units``): exact on every
engine, with no floating point and no Python loop over people. ``Arithmetic`` carries
the policy's numbers as those integers. The grade is the published result's as it
stands (HR's calibrated grade if set, else the one given); the difficulty the person's
post's (1 without a post).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.enums import BonusRunStatus
from storage.models import (
    AssessmentPeriod,
    BonusAllowance,
    BonusLine,
    BonusRun,
    Department,
    PeriodScore,
    Post,
    Staff,
)
from storage.repositories.admission import admitted
from storage.repositories.base import Repository

_ALLOWANCES = cast(Table, BonusAllowance.__table__)
_RUNS = cast(Table, BonusRun.__table__)
_LINES = cast(Table, BonusLine.__table__)
_SCORES = cast(Table, PeriodScore.__table__)
_STAFF = cast(Table, Staff.__table__)
_POSTS = cast(Table, Post.__table__)
_DEPARTMENTS = cast(Table, Department.__table__)
_PERIODS = cast(Table, AssessmentPeriod.__table__)

RoundingMode = str  # "half_up", "half_even", "down" or "up"


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """A policy's bonus numbers as whole numbers (``assessment.bonus.arithmetic``).

    ``coefficients``: grade id -> coefficient x 10**places; ``allowances``: kind -> steps;
    by the formula a share is ``numerator x weight / denominator`` steps, rounded
    ``rounding_mode``, weight being coefficient x difficulty as whole numbers.
    """

    coefficients: dict[str, int]
    allowances: dict[str, int]
    difficulty_scale: int
    numerator: int
    denominator: int
    rounding_mode: RoundingMode


@dataclass(frozen=True, slots=True)
class Pool:
    """Pool mode: ``rest`` steps (the pool less the allowances) shared by weight,
    ``weights`` being the sum of everyone's."""

    rest: int
    weights: int


@dataclass(frozen=True, slots=True)
class LinePlan:
    """The statements of a run's lines, run per window of staff ids (``after``,
    ``through``): the lines of those entitled, and a correction's recoveries."""

    lines: Any
    recovery: Any | None


@dataclass(frozen=True, slots=True)
class AllowanceRow:
    """An allowance as HR sees it: whose, of which period and kind, why, and whether it was
    withdrawn."""

    id: int
    period_id: int
    period_key: str
    staff_id: int
    kind: str
    reason: str
    assigned_at: datetime
    withdrawn_at: datetime | None


_ALLOWANCE_COLUMNS = (
    _ALLOWANCES.c.id,
    _ALLOWANCES.c.period_id,
    _PERIODS.c.key,
    _ALLOWANCES.c.staff_id,
    _ALLOWANCES.c.kind,
    _ALLOWANCES.c.reason,
    _ALLOWANCES.c.assigned_at,
    _ALLOWANCES.c.withdrawn_at,
)


@dataclass(frozen=True, slots=True)
class RunTotal:
    """A run's people and money of one department and grade (steps)."""

    department_id: int
    department: str
    grade_id: str | None
    people: int
    amount: int
    change: int


@dataclass(frozen=True, slots=True)
class LineRow:
    """A line with who it is, for the spreadsheet."""

    staff_id: int
    employee_no: str
    name: str
    department: str
    grade_id: str | None
    difficulty: Any
    weight: int
    share: int
    allowance: int
    amount: int
    paid: int
    change: int


@dataclass(frozen=True, slots=True)
class NoticeRow:
    """A line whose person is told: their chat and what decides their language."""

    staff_id: int
    chat_id: int
    language: str | None
    telegram_language: str | None
    grade_id: str | None
    difficulty: Any
    share: int
    allowance: int
    amount: int
    paid: int
    change: int


def _difficulty() -> ColumnElement[Any]:
    """The person's post's difficulty; 1 without a post (as a post's default)."""
    return func.coalesce(_POSTS.c.difficulty, literal(Decimal(1), _POSTS.c.difficulty.type))


def _rounded(n: ColumnElement[int], d: int, mode: RoundingMode) -> ColumnElement[int]:
    """``n / d`` rounded to a whole number ``mode``'s way, for n >= 0, in integers."""
    den = literal(d, BigInteger)
    if mode == "down":
        return n // den
    if mode == "up":
        return (n + literal(d - 1, BigInteger)) // den
    if mode == "half_up":
        return (n * 2 + den) // literal(2 * d, BigInteger)
    quotient = n // den
    twice = (n % den) * 2
    odd = quotient % 2 == 1
    return quotient + case(
        (twice > den, literal(1, BigInteger)),
        (and_(twice == den, odd), literal(1, BigInteger)),
        else_=literal(0, BigInteger),
    )


class BonusRepository(Repository):
    """Allowances, runs and lines; never commits."""

    def _insert(self) -> Any:
        return pg_insert if self.dialect == "postgresql" else sqlite_insert

    # ----------------------------------------------------------------- allowances

    async def assign(
        self, period_id: int, staff_id: int, kind: str, reason: str, *, by_id: int, now: datetime
    ) -> bool:
        """Assign an allowance for the period (again, if it was withdrawn: with this reason);
        False if the person has it already."""
        statement = self._insert()(_ALLOWANCES).values(
            period_id=period_id,
            staff_id=staff_id,
            kind=kind,
            reason=reason,
            assigned_by_id=by_id,
            assigned_at=now,
        )
        result = await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["period_id", "staff_id", "kind"],
                set_={
                    "reason": statement.excluded.reason,
                    "assigned_by_id": statement.excluded.assigned_by_id,
                    "assigned_at": statement.excluded.assigned_at,
                    "withdrawn_at": None,
                },
                where=_ALLOWANCES.c.withdrawn_at.is_not(None),
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def allowances(self, period_id: int, staff_id: int) -> list[AllowanceRow]:
        """A person's allowances in force for the period, by kind."""
        rows = await self.session.execute(
            select(*_ALLOWANCE_COLUMNS)
            .select_from(_ALLOWANCES.join(_PERIODS, _PERIODS.c.id == _ALLOWANCES.c.period_id))
            .where(
                _ALLOWANCES.c.period_id == period_id,
                _ALLOWANCES.c.staff_id == staff_id,
                _ALLOWANCES.c.withdrawn_at.is_(None),
            )
            .order_by(_ALLOWANCES.c.kind)
        )
        return [AllowanceRow(*cast(tuple[Any, ...], row)) for row in rows]

    async def allowance(self, allowance_id: int) -> AllowanceRow | None:
        """One allowance, withdrawn or not."""
        row = (
            await self.session.execute(
                select(*_ALLOWANCE_COLUMNS)
                .select_from(_ALLOWANCES.join(_PERIODS, _PERIODS.c.id == _ALLOWANCES.c.period_id))
                .where(_ALLOWANCES.c.id == allowance_id)
            )
        ).first()
        return None if row is None else AllowanceRow(*cast(tuple[Any, ...], row))

    async def set_drafts_aside(self, period_id: int) -> None:
        """Discard the period's drafts: what they would pay is no longer what stands."""
        await self.session.execute(
            update(_RUNS)
            .where(_RUNS.c.period_id == period_id, _RUNS.c.status == BonusRunStatus.DRAFT)
            .values(status=BonusRunStatus.DISCARDED)
        )

    async def withdraw(self, allowance_id: int, *, now: datetime) -> bool:
        """Withdraw an allowance in force; False if it is not in force (the caller rolls
        back). A run of its period published already paid it: the next correction, which
        pays only the allowances in force, recovers it.

        The period's drafts are set aside first, a write as the transaction's first
        statement: a publication at the same moment either waits for it and finds its
        draft discarded (refused), or went first, and its run paid the allowance the
        next correction recovers.
        """
        period = (
            select(_ALLOWANCES.c.period_id)
            .where(_ALLOWANCES.c.id == allowance_id)
            .scalar_subquery()
        )
        await self.session.execute(
            update(_RUNS)
            .where(_RUNS.c.period_id == period, _RUNS.c.status == BonusRunStatus.DRAFT)
            .values(status=BonusRunStatus.DISCARDED)
        )
        result = await self.session.execute(
            update(_ALLOWANCES)
            .where(_ALLOWANCES.c.id == allowance_id, _ALLOWANCES.c.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def allowances_of(self, period_id: int, staff_id: int) -> list[tuple[str, str]]:
        """A person's allowances in force for the period: kind and reason."""
        rows = await self.session.execute(
            select(_ALLOWANCES.c.kind, _ALLOWANCES.c.reason)
            .where(
                _ALLOWANCES.c.period_id == period_id,
                _ALLOWANCES.c.staff_id == staff_id,
                _ALLOWANCES.c.withdrawn_at.is_(None),
            )
            .order_by(_ALLOWANCES.c.kind)
        )
        return [(row[0], row[1]) for row in rows]

    # ----------------------------------------------------------------- runs

    async def runs(self, period_id: int) -> list[BonusRun]:
        """The period's runs, oldest first."""
        found = await self.session.scalars(
            select(BonusRun).where(BonusRun.period_id == period_id).order_by(BonusRun.id)
        )
        return list(found)

    async def run(self, run_id: int) -> BonusRun | None:
        """One run."""
        return await self.session.get(BonusRun, run_id)

    async def latest_published(self, period_id: int) -> BonusRun | None:
        """The period's last published run (the one whose amounts were paid), if any."""
        return await self.session.scalar(
            select(BonusRun)
            .where(BonusRun.period_id == period_id, BonusRun.status == BonusRunStatus.PUBLISHED)
            .order_by(BonusRun.number.desc())
            .limit(1)
        )

    async def create(
        self,
        period_id: int,
        *,
        basis: int,
        mode: str,
        pool_units: int | None,
        reason: str | None,
        factors: dict[str, Any],
        by_id: int | None,
        now: datetime,
    ) -> int:
        """A new draft run; the period's other drafts are set aside."""
        await self.session.execute(
            update(_RUNS)
            .where(_RUNS.c.period_id == period_id, _RUNS.c.status == BonusRunStatus.DRAFT)
            .values(status=BonusRunStatus.DISCARDED)
        )
        run = BonusRun(
            period_id=period_id,
            status=BonusRunStatus.DRAFT,
            basis=basis,
            mode=mode,
            pool_units=pool_units,
            reason=reason,
            factors=factors,
            people=0,
            total_units=0,
            change_units=0,
            created_by_id=by_id,
            created_at=now,
        )
        self.session.add(run)
        await self.session.flush()
        return run.id

    def _entitled(self, period_id: int) -> list[ColumnElement[bool]]:
        return [_SCORES.c.period_id == period_id, _SCORES.c.published_at.is_not(None)]

    def _difficulty_units(self, arithmetic: Arithmetic) -> ColumnElement[int]:
        difficulty = _difficulty()
        scale = literal(arithmetic.difficulty_scale, Integer)
        if self.dialect == "sqlite":
            # Stored as text with at most three decimals: as a REAL times 1000 it is within
            # a rounding error of a whole number, which ROUND makes exact.
            return sql_cast(func.round(sql_cast(difficulty, Float) * scale), BigInteger)
        return sql_cast(difficulty * scale, BigInteger)

    def _coefficient_units(self, arithmetic: Arithmetic) -> ColumnElement[int]:
        grade = func.coalesce(_SCORES.c.calibrated_grade_id, _SCORES.c.grade_id)
        # A grade the policy no longer has is NULL, which the line refuses: never paid as 0.
        return case(
            *((grade == grade_id, literal(units, BigInteger))
              for grade_id, units in arithmetic.coefficients.items()),
        )  # fmt: skip

    def _allowance_units(self, period_id: int, arithmetic: Arithmetic) -> ColumnElement[int]:
        amount = case(
            *((_ALLOWANCES.c.kind == kind, literal(units, BigInteger))
              for kind, units in arithmetic.allowances.items()),
            else_=literal(0, BigInteger),
        )  # fmt: skip
        return func.coalesce(
            select(func.sum(amount))
            .where(
                _ALLOWANCES.c.period_id == period_id,
                _ALLOWANCES.c.staff_id == _SCORES.c.staff_id,
                _ALLOWANCES.c.withdrawn_at.is_(None),
            )
            .scalar_subquery(),
            literal(0, BigInteger),
        )

    def _scored(self) -> Any:
        return _SCORES.join(_STAFF, _STAFF.c.id == _SCORES.c.staff_id).outerjoin(
            _POSTS, _POSTS.c.id == _STAFF.c.post_id
        )

    async def pool_weights(self, period_id: int, arithmetic: Arithmetic) -> tuple[int, int, int]:
        """Everyone entitled in the period: how many, their weights and allowances summed."""
        weight = self._coefficient_units(arithmetic) * self._difficulty_units(arithmetic)
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(weight), 0),
                    func.coalesce(func.sum(self._allowance_units(period_id, arithmetic)), 0),
                )
                .select_from(self._scored())
                .where(*self._entitled(period_id))
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def plan(
        self,
        run_id: int,
        period_id: int,
        arithmetic: Arithmetic,
        *,
        paid_run_id: int | None,
        pool: Pool | None,
    ) -> LinePlan:
        """The statements that write a run's lines, a window of staff ids at a time:
        built once per run and run per window (``compute``) with the window's bounds."""
        after, through = bindparam("after", type_=Integer), bindparam("through", type_=Integer)
        coefficient = self._coefficient_units(arithmetic)
        difficulty = self._difficulty_units(arithmetic)
        paid: ColumnElement[int] = literal(0, BigInteger)
        if paid_run_id is not None:
            earlier = _LINES.alias("earlier")
            paid = func.coalesce(
                select(earlier.c.amount)
                .where(earlier.c.run_id == paid_run_id, earlier.c.staff_id == _SCORES.c.staff_id)
                .scalar_subquery(),
                literal(0, BigInteger),
            )
        facts = (
            select(
                _SCORES.c.staff_id.label("staff_id"),
                _SCORES.c.department_id.label("department_id"),
                func.coalesce(_SCORES.c.calibrated_grade_id, _SCORES.c.grade_id).label("grade_id"),
                _difficulty().label("difficulty"),
                (coefficient * difficulty).label("weight"),
                self._allowance_units(period_id, arithmetic).label("allowance"),
                paid.label("paid"),
            )
            .select_from(self._scored())
            .where(
                *self._entitled(period_id),
                _SCORES.c.staff_id > after,
                _SCORES.c.staff_id <= through,
                # The window on both sides of the join: a generic plan (PostgreSQL's, for
                # a statement prepared once and run per window) knows no better.
                _STAFF.c.id > after,
                _STAFF.c.id <= through,
            )
            .cte("facts")
            # Computed once per person: flattened, each use below would compute it again.
            .prefix_with("MATERIALIZED")
        )
        remainder: ColumnElement[int | None]
        if pool is None:
            numerator = facts.c.weight * literal(arithmetic.numerator, BigInteger)
            share = _rounded(numerator, arithmetic.denominator, arithmetic.rounding_mode)
            remainder = literal(None, BigInteger)
        else:
            part = facts.c.weight * literal(pool.rest, BigInteger)
            whole = literal(max(pool.weights, 1), BigInteger)
            share, remainder = part // whole, part % whole
        columns: dict[str, ColumnElement[Any]] = {
            "run_id": literal(run_id, Integer),
            "staff_id": facts.c.staff_id,
            "department_id": facts.c.department_id,
            "grade_id": facts.c.grade_id,
            "difficulty": facts.c.difficulty,
            "weight": facts.c.weight,
            "remainder": remainder,
            "share": share,
            "allowance": facts.c.allowance,
            "amount": share + facts.c.allowance,
            "paid": facts.c.paid,
            "change": share + facts.c.allowance - facts.c.paid,
        }
        lines = self._insert()(_LINES).from_select(list(columns), select(*columns.values()))
        recovery = None
        if paid_run_id is not None:
            recovery = _recovery(run_id, paid_run_id, after, through)
        return LinePlan(lines, recovery)

    async def compute(self, plan: LinePlan, *, after: int, through: int) -> int:
        """Write the lines of staff ids (after, through] entitled in the period, in one
        INSERT ... SELECT; then, for a correction, a line recovering what the run before
        paid anyone there no longer entitled. How many lines."""
        bounds = {"after": after, "through": through}
        written = await self.session.execute(plan.lines, bounds)
        count = int(getattr(written, "rowcount", 0))
        if plan.recovery is not None:
            recovered = await self.session.execute(plan.recovery, bounds)
            count += int(getattr(recovered, "rowcount", 0))
        return count

    async def shared(self, run_id: int) -> int:
        """The steps a pool run's lines share so far (before the steps left over)."""
        return int(
            await self.session.scalar(
                select(func.coalesce(func.sum(_LINES.c.share), 0)).where(_LINES.c.run_id == run_id)
            )
            or 0
        )

    async def largest_remainders(self, run_id: int, count: int) -> list[int]:
        """The staff ids of the ``count`` largest remainders of a pool run, ties to the
        lower employee number (byte order, as Python compares them)."""
        number: ColumnElement[str] = _STAFF.c.employee_no
        if self.dialect == "postgresql":
            number = _STAFF.c.employee_no.collate("C")
        rows = await self.session.scalars(
            select(_LINES.c.staff_id)
            .join(_STAFF, _STAFF.c.id == _LINES.c.staff_id)
            .where(_LINES.c.run_id == run_id, _LINES.c.remainder.is_not(None))
            .order_by(_LINES.c.remainder.desc(), number)
            .limit(count)
        )
        return list(rows)

    async def add_a_step(self, run_id: int, staff_ids: Sequence[int]) -> None:
        """One step more for each of these lines (the steps a pool has left over)."""
        one = literal(1, BigInteger)
        await self.session.execute(
            update(_LINES)
            .where(_LINES.c.run_id == run_id, _LINES.c.staff_id.in_(staff_ids))
            .values(
                share=_LINES.c.share + one,
                amount=_LINES.c.amount + one,
                change=_LINES.c.change + one,
            )
        )

    async def finish(
        self, run_id: int, now: datetime, totals: Sequence[RunTotal]
    ) -> tuple[int, int, int]:
        """Record the run's totals (summed from its ``totals``) and that it is computed:
        people, amount, change."""
        people = sum(total.people for total in totals)
        amount = sum(total.amount for total in totals)
        change = sum(total.change for total in totals)
        await self.session.execute(
            update(_RUNS)
            .where(_RUNS.c.id == run_id)
            .values(people=people, total_units=amount, change_units=change, computed_at=now)
        )
        return people, amount, change

    async def discard(self, run_id: int) -> None:
        """Set a draft aside (it will never be published)."""
        await self.session.execute(
            update(_RUNS)
            .where(_RUNS.c.id == run_id, _RUNS.c.status == BonusRunStatus.DRAFT)
            .values(status=BonusRunStatus.DISCARDED, computed_at=None)
        )

    async def publish(self, run_id: int, *, by_id: int | None, now: datetime) -> bool:
        """Publish a computed draft as the period's next run, if it still is next (its
        basis is how many are published): a conditional UPDATE, the transaction's first
        statement. A second run taking the same number at the same moment fails on the
        unique (period, number) instead (the caller's IntegrityError)."""
        others = _RUNS.alias("others")
        published = (
            select(func.count())
            .select_from(others)
            .where(
                others.c.period_id == _RUNS.c.period_id,
                others.c.status == BonusRunStatus.PUBLISHED,
            )
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(_RUNS)
            .where(
                _RUNS.c.id == run_id,
                _RUNS.c.status == BonusRunStatus.DRAFT,
                _RUNS.c.computed_at.is_not(None),
                _RUNS.c.basis == published,
            )
            .values(
                status=BonusRunStatus.PUBLISHED,
                number=_RUNS.c.basis + 1,
                published_by_id=by_id,
                published_at=now,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    # ----------------------------------------------------------------- reading

    async def totals(self, run_id: int) -> list[RunTotal]:
        """The run's people and money by department and grade."""
        # Summed first, then named: a department's name looked up once per total, not
        # once per line (a tenth of the run's time on SQLite, bench/bonus_export.py).
        summed = (
            select(
                _LINES.c.department_id,
                _LINES.c.grade_id,
                func.count().label("people"),
                func.sum(_LINES.c.amount).label("amount"),
                func.sum(_LINES.c.change).label("change"),
            )
            .where(_LINES.c.run_id == run_id)
            .group_by(_LINES.c.department_id, _LINES.c.grade_id)
            .subquery("summed")
        )
        rows = await self.session.execute(
            select(
                summed.c.department_id,
                _DEPARTMENTS.c.name,
                summed.c.grade_id,
                summed.c.people,
                summed.c.amount,
                summed.c.change,
            )
            .join(_DEPARTMENTS, _DEPARTMENTS.c.id == summed.c.department_id)
            .order_by(_DEPARTMENTS.c.name, summed.c.grade_id)
        )
        return [RunTotal(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]

    async def lines(self, run_id: int, *, after: int, limit: int) -> list[LineRow]:
        """A page of the run's lines by staff id, with who they are."""
        rows = await self.session.execute(
            select(
                _LINES.c.staff_id,
                _STAFF.c.employee_no,
                _STAFF.c.name,
                _DEPARTMENTS.c.name,
                _LINES.c.grade_id,
                _LINES.c.difficulty,
                _LINES.c.weight,
                _LINES.c.share,
                _LINES.c.allowance,
                _LINES.c.amount,
                _LINES.c.paid,
                _LINES.c.change,
            )
            .join(_STAFF, _STAFF.c.id == _LINES.c.staff_id)
            .join(_DEPARTMENTS, _DEPARTMENTS.c.id == _LINES.c.department_id)
            .where(_LINES.c.run_id == run_id, _LINES.c.staff_id > after)
            .order_by(_LINES.c.staff_id)
            .limit(limit)
        )
        return [LineRow(*cast(tuple[Any, ...], row)) for row in rows]

    async def to_tell(
        self, run_id: int, after: int, through: int, *, everyone: bool
    ) -> list[NoticeRow]:
        """The lines of staff ids (after, through] whose person can be told (linked, on
        staff): ``everyone``, or only those the run changes."""
        conditions = [
            _LINES.c.run_id == run_id,
            _LINES.c.staff_id > after,
            _LINES.c.staff_id <= through,
            admitted(_STAFF.c),
        ]
        if not everyone:
            conditions.append(_LINES.c.change != 0)
        rows = await self.session.execute(
            select(
                _LINES.c.staff_id,
                _STAFF.c.telegram_user_id,
                _STAFF.c.language,
                _STAFF.c.telegram_language,
                _LINES.c.grade_id,
                _LINES.c.difficulty,
                _LINES.c.share,
                _LINES.c.allowance,
                _LINES.c.amount,
                _LINES.c.paid,
                _LINES.c.change,
            )
            .join(_STAFF, _STAFF.c.id == _LINES.c.staff_id)
            .where(*conditions)
            .order_by(_LINES.c.staff_id)
        )
        return [NoticeRow(*cast(tuple[Any, ...], row)) for row in rows]

    async def line_of(self, run_id: int, staff_id: int) -> BonusLine | None:
        """One person's line of a run."""
        return await self.session.get(BonusLine, (run_id, staff_id))

    async def period_published(self, period_id: int) -> bool:
        """Whether the period's results are published."""
        return (
            await self.session.scalar(
                select(_PERIODS.c.published_at).where(_PERIODS.c.id == period_id)
            )
        ) is not None


def _recovery(run_id: int, paid_run_id: int, after: Any, through: Any) -> Any:
    """A correction's lines for those the run before paid and who are entitled no more:
    they give back what they were paid."""
    earlier = _LINES.alias("earlier")
    now = _LINES.alias("now")
    columns: dict[str, ColumnElement[Any]] = {
        "run_id": literal(run_id, Integer),
        "staff_id": earlier.c.staff_id,
        "department_id": earlier.c.department_id,
        "grade_id": literal(None, _LINES.c.grade_id.type),
        "difficulty": literal(None, _LINES.c.difficulty.type),
        "weight": literal(0, BigInteger),
        "remainder": literal(None, BigInteger),
        "share": literal(0, BigInteger),
        "allowance": literal(0, BigInteger),
        "amount": literal(0, BigInteger),
        "paid": earlier.c.amount,
        "change": -earlier.c.amount,
    }
    return insert(_LINES).from_select(
        list(columns),
        select(*columns.values()).where(
            earlier.c.run_id == paid_run_id,
            earlier.c.staff_id > after,
            earlier.c.staff_id <= through,
            earlier.c.amount != 0,
            ~exists().where(now.c.run_id == run_id, now.c.staff_id == earlier.c.staff_id),
        ),
    )
