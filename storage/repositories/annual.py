"""Annual results, honours, and the reads of a career record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    null,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError

from storage.models import (
    AnnualResult,
    AnnualRun,
    AssessmentPeriod,
    BonusAllowance,
    Department,
    HonourAward,
    PeriodScore,
    ScorePoint,
    Staff,
    TrainingRecord,
)
from storage.repositories.base import Repository, rows_as

# Bound parameters per IN list, well under SQLite's and asyncpg's limits.
_IDS_PER_STATEMENT = 1000


@dataclass(frozen=True, slots=True)
class PublishedRow:
    """One published routine result of a person in a year."""

    staff_id: int
    department_id: int
    period_key: str
    score: Decimal
    grade_id: str
    calibrated_grade_id: str | None
    breakdown: str | None  # the stored JSON as text, parsed off the event loop (or not read)


_PUBLISHED_FIELDS = tuple(field.name for field in fields(PublishedRow))


@dataclass(frozen=True, slots=True)
class AnnualRow:
    """A stored annual result, with who it is (for HR's list and the record)."""

    year: int
    staff_id: int
    employee_no: str
    name: str
    department: str
    periods: int
    score: Decimal | None
    grade_id: str | None
    by_score_grade_id: str | None
    trainings: list[str]
    flags: list[str]
    barred_by: list[str]


@dataclass(frozen=True, slots=True)
class PeriodLine:
    """A published routine result as the career record shows it."""

    period_key: str
    starts_on: date
    score: Decimal
    grade_id: str
    calibrated_grade_id: str | None


@dataclass(frozen=True, slots=True)
class PointLine:
    """Bonus or deduction points of a published period, with their reason."""

    period_key: str
    amount: Decimal
    reason: str
    indicator_id: str | None


@dataclass(frozen=True, slots=True)
class TrainingLine:
    """A training completed."""

    training_id: str
    note: str
    completed_on: date


@dataclass(frozen=True, slots=True)
class HonourLine:
    """An honour awarded."""

    honour_id: str
    citation: str
    awarded_on: date


@dataclass(frozen=True, slots=True)
class KeyTaskLine:
    """A key task (重点任务): an allowance of a key-task kind HR assigned for a period,
    with its reason."""

    period_key: str
    kind: str
    reason: str
    assigned_at: datetime


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _in_chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _IDS_PER_STATEMENT] for i in range(0, len(ids), _IDS_PER_STATEMENT)]


RUNNING, CURRENT, SUPERSEDED, FAILED = "running", "current", "superseded", "failed"
# The results everyone reads: those of the year's current run.
_CURRENT = and_(AnnualRun.id == AnnualResult.run_id, AnnualRun.state == CURRENT)

# Every period's id: a few a year, so naming them lets a person's rows be read
# through the (period, staff) indexes.
_PERIOD_IDS = select(AssessmentPeriod.id).scalar_subquery()
_PUBLISHED = and_(
    PeriodScore.period_id == AssessmentPeriod.id, PeriodScore.published_at.is_not(None)
)


def standing_points(*columns: Any, whose: ColumnElement[bool]) -> Select[Any]:
    """``columns`` of the standing (not withdrawn) points of published periods of the
    people ``whose`` names: one definition for ``/record`` and the record's export. The
    periods named let each engine read through the (period, staff) indexes."""
    return (
        select(*columns)
        .select_from(ScorePoint)
        .join(AssessmentPeriod, AssessmentPeriod.id == ScorePoint.period_id)
        .join(
            PeriodScore,
            and_(
                PeriodScore.period_id == ScorePoint.period_id,
                PeriodScore.staff_id == ScorePoint.staff_id,
                PeriodScore.published_at.is_not(None),
            ),
        )
        .where(ScorePoint.period_id.in_(_PERIOD_IDS), whose, ScorePoint.withdrawn_at.is_(None))
    )


class AnnualRepository(Repository):
    """The year's published routine results in, annual results and honours out."""

    async def published(
        self, year: int, after: int, through: int, *, breakdowns: bool = True
    ) -> list[PublishedRow]:
        """The published routine results in ``year`` of staff ids ``after < id <= through``
        (by staff id, then period); the department is the person's present one.

        The breakdown comes as its JSON text, unparsed (the caller parses it off the
        event loop), and only with ``breakdowns``."""
        first, last = _year_bounds(year)
        breakdown = sql_cast(PeriodScore.breakdown, Text) if breakdowns else None
        result = await self.session.execute(
            select(
                PeriodScore.staff_id,
                Staff.department_id,
                AssessmentPeriod.key.label("period_key"),
                PeriodScore.score,
                PeriodScore.grade_id,
                PeriodScore.calibrated_grade_id,
                (breakdown if breakdown is not None else null()).label("breakdown"),
            )
            .join(AssessmentPeriod, _PUBLISHED)
            .join(Staff, Staff.id == PeriodScore.staff_id)
            .where(
                AssessmentPeriod.starts_on.between(first, last),
                PeriodScore.staff_id > after,
                PeriodScore.staff_id <= through,
            )
            .order_by(PeriodScore.staff_id, AssessmentPeriod.starts_on)
        )
        # The labels checked once, then each row read by position: by label per row
        # (``rows_as``) was a fifth of a roll-up's time on the event loop.
        if tuple(result.keys()) != _PUBLISHED_FIELDS:
            raise ValueError(f"published(): columns {tuple(result.keys())} out of order")
        return [PublishedRow(*row) for row in result]

    async def start_run(
        self, year: int, *, by: int | None, wider: bool, now: datetime, stale_before: datetime
    ) -> int | None:
        """Claim a new run of ``year``; its id, or ``None`` while another runs (then the
        unit of work must not be committed).

        A running claim started before ``stale_before`` is of a run that died without
        saying so (its process killed): it is marked failed and this run goes ahead.
        """
        await self.session.execute(
            update(AnnualRun)
            .where(
                AnnualRun.year == year,
                AnnualRun.state == RUNNING,
                AnnualRun.started_at < stale_before,
            )
            .values(state=FAILED, finished_at=now)
        )
        run = AnnualRun(
            year=year, state=RUNNING, with_approval=wider, started_at=now, started_by_id=by
        )
        self.session.add(run)
        try:
            await self.session.flush()
        except IntegrityError:
            return None  # the unit of work is rolled back: nothing of this call stands
        return run.id

    async def switch_to(self, run_id: int, *, now: datetime) -> bool:
        """Make ``run_id`` its year's current run and the current one superseded; false
        (and nothing changed) if the run is no longer running (taken over as stale)."""
        run = await self.session.get(AnnualRun, run_id, with_for_update=True)
        if run is None or run.state != RUNNING:
            return False
        await self.session.execute(
            update(AnnualRun)
            .where(AnnualRun.year == run.year, AnnualRun.state == CURRENT)
            .values(state=SUPERSEDED)
        )
        await self.session.flush()
        run.state, run.finished_at = CURRENT, now
        await self.session.flush()
        return True

    async def fail(self, run_id: int, *, now: datetime) -> None:
        """Mark a run that stopped before its switch failed (its rows are purged later)."""
        await self.session.execute(
            update(AnnualRun)
            .where(AnnualRun.id == run_id, AnnualRun.state == RUNNING)
            .values(state=FAILED, finished_at=now)
        )

    async def purge_some(self, year: int, limit: int) -> int:
        """Delete up to ``limit`` rows of the year's superseded and failed runs; how many."""
        dead = select(AnnualRun.id).where(
            AnnualRun.year == year, AnnualRun.state.in_((SUPERSEDED, FAILED))
        )
        ids = select(AnnualResult.id).where(AnnualResult.run_id.in_(dead)).limit(limit)
        found = list(await self.session.scalars(ids))
        if found:
            await self.session.execute(delete(AnnualResult).where(AnnualResult.id.in_(found)))
        return len(found)

    async def add_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store annual results (one executemany)."""
        if rows:
            await self.session.execute(insert(AnnualResult), list(rows))

    async def graded_by_department(self, run_id: int) -> dict[int, int]:
        """How many people the run grades, by department."""
        rows = await self.session.execute(
            select(AnnualResult.department_id, func.count())
            .where(AnnualResult.run_id == run_id, AnnualResult.grade_id.is_not(None))
            .group_by(AnnualResult.department_id)
        )
        return {department: count for department, count in rows}

    async def reaching(self, run_id: int, grade_id: str) -> list[tuple[int, int, Decimal, bool]]:
        """(staff id, department id, score, barred) of everyone whose annual score earns
        ``grade_id`` in the run (the top grade: a small share of the year's people)."""
        rows = await self.session.execute(
            select(
                AnnualResult.staff_id,
                AnnualResult.department_id,
                AnnualResult.score,
                AnnualResult.barred_by,
            ).where(AnnualResult.run_id == run_id, AnnualResult.by_score_grade_id == grade_id)
        )
        return [(s, d, score, bool(barred)) for s, d, score, barred in rows if score is not None]

    async def set_grade(self, run_id: int, staff_ids: Sequence[int], grade_id: str) -> None:
        """Give ``staff_ids`` the annual grade ``grade_id`` in the run."""
        for chunk in _in_chunks(staff_ids):
            await self.session.execute(
                update(AnnualResult)
                .where(AnnualResult.run_id == run_id, AnnualResult.staff_id.in_(list(chunk)))
                .values(grade_id=grade_id)
            )

    async def graded_after(
        self, run_id: int, after: int, limit: int
    ) -> list[tuple[int, str | None, list[str]]]:
        """(staff id, grade, trainings) of the run's results above ``after``, by staff id."""
        rows = await self.session.execute(
            select(AnnualResult.staff_id, AnnualResult.grade_id, AnnualResult.trainings)
            .where(AnnualResult.run_id == run_id, AnnualResult.staff_id > after)
            .order_by(AnnualResult.staff_id)
            .limit(limit)
        )
        return [(s, g, list(t or [])) for s, g, t in rows]

    async def history(
        self, staff_ids: Sequence[int], first_year: int, last_year: int
    ) -> dict[int, dict[int, str]]:
        """Each person's current annual grade by year, for the years ``first_year..last_year``."""
        found: dict[int, dict[int, str]] = {}
        for chunk in _in_chunks(staff_ids):
            rows = await self.session.execute(
                select(AnnualResult.staff_id, AnnualResult.year, AnnualResult.grade_id)
                .join(AnnualRun, _CURRENT)
                .where(
                    AnnualResult.staff_id.in_(list(chunk)),
                    AnnualResult.year.between(first_year, last_year),
                    AnnualResult.grade_id.is_not(None),
                )
            )
            for staff_id, year, grade_id in rows:
                if grade_id is not None:
                    found.setdefault(staff_id, {})[year] = grade_id
        return found

    async def set_flags(self, run_id: int, flags: Mapping[int, Sequence[str]]) -> None:
        """Record each person's flags in the run (one executemany)."""
        if not flags:
            return
        table = cast(Table, AnnualResult.__table__)
        statement = (
            update(table)
            .where(
                table.c.run_id == bindparam("the_run"), table.c.staff_id == bindparam("the_staff")
            )
            .values(flags=bindparam("the_flags"))
        )
        await self.session.execute(
            statement,
            [
                {"the_run": run_id, "the_staff": staff_id, "the_flags": list(values)}
                for staff_id, values in flags.items()
            ],
        )

    async def of_run(self, run_id: int, staff_ids: Sequence[int]) -> list[AnnualRow]:
        """The run's results of ``staff_ids``, by staff id."""
        found: list[AnnualRow] = []
        for chunk in _in_chunks(staff_ids):
            rows = await self.session.execute(
                self._rows()
                .where(AnnualResult.run_id == run_id, AnnualResult.staff_id.in_(list(chunk)))
                .order_by(AnnualResult.staff_id)
            )
            found.extend(rows_as(rows, AnnualRow))
        return found

    async def counts(self, run_id: int) -> tuple[int, int]:
        """(people rolled up, people graded) in the run."""
        row = (
            await self.session.execute(
                select(func.count(), func.count(AnnualResult.grade_id)).where(
                    AnnualResult.run_id == run_id
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def of_person(self, staff_id: int) -> list[AnnualRow]:
        """A person's current annual results, latest year first."""
        rows = await self.session.execute(
            self._rows()
            .join(AnnualRun, _CURRENT)
            .where(AnnualResult.staff_id == staff_id)
            .order_by(AnnualResult.year.desc())
        )
        return rows_as(rows, AnnualRow)

    @staticmethod
    def _rows() -> Any:
        return (
            select(
                AnnualResult.year,
                AnnualResult.staff_id,
                Staff.employee_no,
                Staff.name,
                Department.name.label("department"),
                AnnualResult.periods,
                AnnualResult.score,
                AnnualResult.grade_id,
                AnnualResult.by_score_grade_id,
                AnnualResult.trainings,
                AnnualResult.flags,
                AnnualResult.barred_by,
            )
            .join(Staff, Staff.id == AnnualResult.staff_id)
            .join(Department, Department.id == AnnualResult.department_id)
        )

    async def periods_of(self, staff_id: int) -> list[PeriodLine]:
        """A person's published routine results, latest first."""
        rows = await self.session.execute(
            select(
                AssessmentPeriod.key.label("period_key"),
                AssessmentPeriod.starts_on,
                PeriodScore.score,
                PeriodScore.grade_id,
                PeriodScore.calibrated_grade_id,
            )
            .join(AssessmentPeriod, _PUBLISHED)
            # Through the (period, staff) key, one period at a time: staff_id alone has
            # no index, and without the periods named SQLite reads the whole table.
            .where(PeriodScore.period_id.in_(_PERIOD_IDS), PeriodScore.staff_id == staff_id)
            .order_by(AssessmentPeriod.starts_on.desc())
        )
        return rows_as(rows, PeriodLine)

    async def points_of(self, staff_id: int) -> list[PointLine]:
        """A person's standing points of published periods, latest period first."""
        rows = await self.session.execute(
            standing_points(
                AssessmentPeriod.key.label("period_key"),
                ScorePoint.amount,
                ScorePoint.reason,
                ScorePoint.indicator_id,
                whose=ScorePoint.staff_id == staff_id,
            ).order_by(AssessmentPeriod.starts_on.desc(), ScorePoint.id)
        )
        return rows_as(rows, PointLine)

    async def honours_of(self, staff_id: int) -> list[HonourLine]:
        """A person's honours, latest first."""
        rows = await self.session.execute(
            select(HonourAward.honour_id, HonourAward.citation, HonourAward.awarded_on)
            .where(HonourAward.staff_id == staff_id)
            .order_by(HonourAward.awarded_on.desc(), HonourAward.id.desc())
        )
        return rows_as(rows, HonourLine)

    async def award(
        self,
        staff_id: int,
        honour_id: str,
        citation: str,
        *,
        on: date,
        by: int,
        at: datetime,
    ) -> int:
        """Record an honour awarded; its id."""
        award = HonourAward(
            staff_id=staff_id,
            honour_id=honour_id,
            citation=citation,
            awarded_on=on,
            awarded_by_id=by,
            awarded_at=at,
        )
        self.session.add(award)
        await self.session.flush()
        return award.id

    async def trainings_of(self, staff_id: int) -> list[TrainingLine]:
        """A person's completed trainings, latest first."""
        rows = await self.session.execute(
            select(TrainingRecord.training_id, TrainingRecord.note, TrainingRecord.completed_on)
            .where(TrainingRecord.staff_id == staff_id)
            .order_by(TrainingRecord.completed_on.desc(), TrainingRecord.id.desc())
        )
        return rows_as(rows, TrainingLine)

    async def record_training(
        self, staff_id: int, training_id: str, note: str, *, on: date, by: int, at: datetime
    ) -> int:
        """Record a training completed; its id."""
        record = TrainingRecord(
            staff_id=staff_id,
            training_id=training_id,
            note=note,
            completed_on=on,
            recorded_by_id=by,
            recorded_at=at,
        )
        self.session.add(record)
        await self.session.flush()
        return record.id

    async def department_name(self, department_id: int) -> str:
        """A department's name ("" if it is gone)."""
        department = await self.session.get(Department, department_id)
        return "" if department is None else department.name

    async def key_tasks_of(self, staff_id: int, kinds: Sequence[str]) -> list[KeyTaskLine]:
        """A person's key tasks: their allowances of these kinds still standing, latest
        period first."""
        if not kinds:
            return []
        rows = await self.session.execute(
            select(
                AssessmentPeriod.key.label("period_key"),
                BonusAllowance.kind,
                BonusAllowance.reason,
                BonusAllowance.assigned_at,
            )
            .join(AssessmentPeriod, AssessmentPeriod.id == BonusAllowance.period_id)
            .where(
                # Allowances are indexed by (period, person): the periods are few.
                BonusAllowance.period_id.in_(select(AssessmentPeriod.id).scalar_subquery()),
                BonusAllowance.staff_id == staff_id,
                BonusAllowance.kind.in_(list(kinds)),
                BonusAllowance.withdrawn_at.is_(None),
            )
            .order_by(AssessmentPeriod.starts_on.desc(), BonusAllowance.id)
        )
        return rows_as(rows, KeyTaskLine)
