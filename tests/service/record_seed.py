"""The exports' small organisation (``export_seed``) with November published and paid:
allowances with reasons (an urgent task, a key task, among them), run 1 and a
correction after an appeal, and a career record for each of two people (an annual
result with HR's flags, points, an honour, a training), names and reasons that begin
like formulas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select, update

from assessment import bonus
from assessment.people import StaffMember
from assessment.results import notices_key
from config.policy import Policy
from storage.engine import Database
from storage.models import (
    AnnualResult,
    AnnualRun,
    AssessmentPeriod,
    HonourAward,
    PeriodScore,
    ScorePoint,
    Staff,
    TrainingRecord,
)

from .export_seed import PERIOD, Seeded, seed_exports

PUBLISHED = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
CORRECTED = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)
KEY_TASK = "=Flood duty at the river dam"
HARDSHIP = "Mountain station"


@dataclass(frozen=True)
class Paid:
    """What was seeded beyond ``Seeded``: the two runs and the people by number."""

    seeded: Seeded
    hr: StaffMember
    runs: tuple[int, int]
    staff: dict[str, int]


async def seed_paid(database: Database, policy: Policy) -> Paid:
    """November published, paid by run 1 and corrected by run 2 (E012 raised to good)."""
    seeded = await seed_exports(database, policy, entries=1)
    async with database.uow() as uow:
        session = uow.session
        staff = {s.employee_no: s for s in await session.scalars(select(Staff))}
        hr = StaffMember.of(staff["E001"])
        period = await uow.periods.by_key(PERIOD)
        assert period is not None
        await session.execute(
            update(AssessmentPeriod)
            .where(AssessmentPeriod.id == period.id)
            .values(published_at=PUBLISHED)
        )
        await session.execute(
            update(PeriodScore)
            .where(PeriodScore.period_id == period.id)
            .values(published_at=PUBLISHED)
        )
        await uow.claims.claim(notices_key(PERIOD), PUBLISHED)
        await uow.commit()
        period_id = period.id
    async with database.uow() as uow:
        for number, kind, reason in (("E011", "urgent", KEY_TASK), ("E012", "hardship", HARDSHIP)):
            assigned = await bonus.assign_allowance(
                uow, hr, PERIOD, number, kind, reason, policy, now=PUBLISHED
            )
            assert isinstance(assigned, bonus.Assigned), assigned
    first = await bonus.compute(
        database.uow, hr, PERIOD, policy, pool_total=None, reason=None, now=PUBLISHED
    )
    assert isinstance(first, bonus.Computed), first
    assert isinstance(await bonus.publish(database.uow, hr, first.run_id, now=PUBLISHED),
                      bonus.Published)  # fmt: skip
    async with database.uow() as uow:
        await uow.session.execute(
            update(PeriodScore)
            .where(PeriodScore.staff_id == staff["E012"].id)
            .values(calibrated_grade_id="good")
        )
        await uow.commit()
    second = await bonus.compute(
        database.uow, hr, PERIOD, policy, pool_total=None, reason="+Appeal upheld", now=CORRECTED
    )
    assert isinstance(second, bonus.Computed), second
    assert isinstance(await bonus.publish(database.uow, hr, second.run_id, now=CORRECTED),
                      bonus.Published)  # fmt: skip
    # A draft of a third run: never exported.
    draft = await bonus.compute(
        database.uow, hr, PERIOD, policy, pool_total=None, reason="Draft", now=CORRECTED
    )
    assert isinstance(draft, bonus.Computed), draft

    async with database.uow() as uow:
        session = uow.session
        formula, plus = staff["E011"], staff["E012"]
        run = AnnualRun(year=2026, state="current", started_at=CORRECTED)
        session.add(run)
        await session.flush()
        session.add_all(
            [
                AnnualResult(run_id=run.id, year=2026, staff_id=formula.id,
                             department_id=formula.department_id, periods=11,
                             score=Decimal("91.5"), by_score_grade_id="excellent",
                             grade_id="excellent", barred_by=[], trainings=["service_skills"],
                             flags=["merit", "training"]),
                ScorePoint(period_id=period_id, staff_id=formula.id, author_id=hr.id,
                           amount=Decimal("2"), reason="-Night shifts covered",
                           created_at=PUBLISHED),
                ScorePoint(period_id=period_id, staff_id=formula.id, author_id=hr.id,
                           amount=Decimal("-1"), reason="withdrawn", created_at=PUBLISHED,
                           withdrawn_at=PUBLISHED),
                HonourAward(staff_id=formula.id, honour_id="service_star",
                            citation="@Kind to every citizen", awarded_on=date(2026, 12, 5),
                            awarded_by_id=hr.id),
                TrainingRecord(staff_id=plus.id, training_id="service_skills",
                               note="Two-day course", completed_on=date(2026, 12, 8),
                               recorded_by_id=hr.id),
            ]
        )  # fmt: skip
        await uow.commit()
    return Paid(seeded, hr, (first.run_id, second.run_id), {n: s.id for n, s in staff.items()})
