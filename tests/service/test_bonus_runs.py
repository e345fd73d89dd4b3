"""Bonus runs in the store: the SQL arithmetic against the pure rules, corrections, and a
period never paid twice, on SQLite and PostgreSQL.

Windows of 7 staff ids, so that a run of 40 people takes several transactions.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from assessment import bonus
from assessment.bonus_rules import Line, Person, PoolError, Units, differences, formula, pool
from assessment.people import StaffMember
from assessment.results import notices_key
from config.policy import Policy, load_policy
from storage.engine import Database
from storage.enums import BonusRunStatus, Role, StaffStatus
from storage.models import (
    AssessmentPeriod,
    BonusLine,
    BonusRun,
    Department,
    PeriodScore,
    Post,
    Staff,
)

NOW = datetime(2026, 12, 12, 2, 0, tzinfo=UTC)
KEY = "2026-11"
SIZE = 7
POLICY = load_policy()


def pooled(policy: Policy) -> Policy:
    return policy.model_copy(update={"bonus": policy.bonus.model_copy(update={"mode": "pool"})})


async def seed(db: Database, people: int = 40, seed_value: int = 15) -> tuple[StaffMember, int]:
    """HR, and ``people`` staff in three departments on posts of various difficulty, each
    with a published result (some calibrated) of November; a few allowances."""
    rng = random.Random(seed_value)
    grades = [grade.id for grade in POLICY.grades]
    async with db.uow() as uow:
        departments = [
            await uow.departments.add(Department(name=name))
            for name in ("Permits Office", "Tax Office", "Human Resources")
        ]
        posts = [
            await uow.posts.add(
                Post(
                    department_id=d.id,
                    name=f"Post {i}",
                    post_type="service",
                    difficulty=Decimal(rng.randint(800, 1500)).scaleb(-3),
                )
            )
            for d in departments[:2]
            for i in range(3)
        ]
        hr = await uow.staff.add(
            Staff(employee_no="H001", name="Hu Rong", department_id=departments[2].id,
                  roles=Role.STAFF | Role.HR, telegram_user_id=1, language="en")
        )  # fmt: skip
        period = AssessmentPeriod(
            key=KEY, starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30), published_at=NOW
        )
        uow.session.add(period)
        await uow.session.flush()
        # Every score of the publication is published (its batches' claim).
        await uow.claims.claim(notices_key(KEY), NOW)
        for index in range(people):
            post = rng.choice([*posts, None])
            department = departments[2] if post is None else departments[posts.index(post) // 3]
            staff = await uow.staff.add(
                Staff(employee_no=f"E{rng.randint(0, 10**6):06d}-{index}", name=f"P{index}",
                      department_id=department.id, post_id=None if post is None else post.id,
                      roles=Role.STAFF, telegram_user_id=1000 + index, language="en")
            )  # fmt: skip
            grade = rng.choice(grades)
            uow.session.add(
                PeriodScore(period_id=period.id, staff_id=staff.id, department_id=department.id,
                            score=Decimal(80), grade_id=grade, by_score_grade_id=grade,
                            calibrated_grade_id=rng.choice([None, None, *grades]),
                            published_at=NOW)
            )  # fmt: skip
        await uow.commit()
        member = StaffMember(
            hr.id, hr.employee_no, hr.name, hr.department_id, hr.roles, StaffStatus.ACTIVE,
            "en", 1,
        )  # fmt: skip
    async with db.uow() as uow:
        staff = await uow.session.scalars(select(Staff).where(Staff.employee_no != "H001"))
        for person in list(staff)[::5]:
            kind = rng.choice(list(POLICY.bonus.allowances))
            assert await bonus.assign_allowance(
                uow, member, KEY, person.employee_no, kind, "Mountain station", POLICY, now=NOW
            )
    return member, period.id


async def expected_people(db: Database, period_id: int) -> list[Person]:
    """Everyone entitled, as the pure rules take them, read straight from the tables."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(
                Staff.id,
                Staff.employee_no,
                PeriodScore.calibrated_grade_id,
                PeriodScore.grade_id,
                Post.difficulty,
            )
            .join(PeriodScore, PeriodScore.staff_id == Staff.id)
            .outerjoin(Post, Post.id == Staff.post_id)
            .where(PeriodScore.published_at.is_not(None))
        )
        people = []
        for staff_id, number, calibrated, grade, difficulty in rows:
            kinds = await uow.bonus.allowances_of(period_id, staff_id)
            allowance = sum((POLICY.bonus.allowances[k].amount for k, _ in kinds), Decimal(0))
            people.append(
                Person(staff_id, number, calibrated or grade, difficulty or Decimal(1), allowance)
            )
    return people


async def stored_lines(db: Database, run_id: int) -> dict[int, BonusLine]:
    async with db.uow() as uow:
        lines = await uow.session.scalars(select(BonusLine).where(BonusLine.run_id == run_id))
        return {line.staff_id: line for line in lines}


def in_order(totals: list[bonus.RunTotal]) -> list[bonus.RunTotal]:
    """Totals by department name, then grade; the recovery's (no grade) first (the engines
    put NULL at different ends)."""
    return sorted(totals, key=lambda total: (total.department, total.grade_id or ""))


async def grouped_lines(db: Database, run_id: int) -> list[bonus.RunTotal]:
    """A run's lines grouped by department and grade here, in ``in_order``."""
    groups: dict[tuple[int, str, str | None], list[BonusLine]] = {}
    async with db.uow() as uow:
        names = {d.id: d.name for d in await uow.session.scalars(select(Department))}
    for line in (await stored_lines(db, run_id)).values():
        key = (line.department_id, names[line.department_id], line.grade_id)
        groups.setdefault(key, []).append(line)
    return in_order([
        bonus.RunTotal(department_id, name, grade, len(lines),
                       sum(line.amount for line in lines), sum(line.change for line in lines))
        for (department_id, name, grade), lines in groups.items()
    ])  # fmt: skip


def as_units(lines: list[Line] | PoolError) -> dict[int, int]:
    assert not isinstance(lines, PoolError)
    units = Units.of(POLICY)
    return {line.staff_id: units.money(line.amount) for line in lines}


async def test_a_formula_run_is_the_pure_formula_and_is_published_once(db: Database) -> None:
    member, period_id = await seed(db)
    computed = await bonus.compute(
        db.uow, member, KEY, POLICY, pool_total=None, reason=None, now=NOW, size=SIZE
    )
    assert isinstance(computed, bonus.Computed)
    expected = as_units(formula(await expected_people(db, period_id), POLICY))
    lines = await stored_lines(db, computed.run_id)
    assert {staff_id: line.amount for staff_id, line in lines.items()} == expected
    assert all(line.change == line.amount and line.paid == 0 for line in lines.values())
    assert computed.people == 40
    assert computed.total == Units.of(POLICY).amount(sum(expected.values()))
    by_department = sum(total.amount for total in computed.totals)
    assert by_department == sum(expected.values())
    assert computed.totals == await grouped_lines(db, computed.run_id)  # in order
    assert len({total.department_id for total in computed.totals}) == 3

    published = await bonus.publish(db.uow, member, computed.run_id, now=NOW)
    assert isinstance(published, bonus.Published)
    assert published.number == 1
    assert await bonus.publish(db.uow, member, computed.run_id, now=NOW) is (
        bonus.BonusError.PUBLISHED
    )
    # A second run of the same period is a correction: it must say why.
    assert (
        await bonus.compute(db.uow, member, KEY, POLICY, pool_total=None, reason=None, now=NOW)
        is bonus.BonusError.REASON_NEEDED
    )


async def test_a_pool_run_shares_the_pool_exactly_as_the_pure_rule(db: Database) -> None:
    member, period_id = await seed(db)
    policy = pooled(POLICY)
    total = Decimal("123456.78")
    computed = await bonus.compute(
        db.uow, member, KEY, policy, pool_total=total, reason=None, now=NOW, size=SIZE
    )
    assert isinstance(computed, bonus.Computed), computed
    assert computed.total == total
    expected = as_units(pool(await expected_people(db, period_id), total, policy))
    lines = await stored_lines(db, computed.run_id)
    assert {staff_id: line.amount for staff_id, line in lines.items()} == expected
    assert sum(expected.values()) == Units.of(policy).money(total)
    # Pool mode wants its total; the formula has none.
    assert (
        await bonus.compute(db.uow, member, KEY, policy, pool_total=None, reason=None, now=NOW)
        is bonus.BonusError.POOL_NEEDED
    )
    assert (
        await bonus.compute(db.uow, member, KEY, policy, pool_total=Decimal(1), reason=None,
                            now=NOW)
        is PoolError.ALLOWANCES_EXCEED
    )  # fmt: skip


async def test_a_correction_pays_or_recovers_the_difference(db: Database) -> None:
    member, period_id = await seed(db)
    first = await bonus.compute(
        db.uow, member, KEY, POLICY, pool_total=None, reason=None, now=NOW, size=SIZE
    )
    assert isinstance(first, bonus.Computed)
    assert isinstance(await bonus.publish(db.uow, member, first.run_id, now=NOW), bonus.Published)
    paid = {
        staff_id: Units.of(POLICY).amount(line.amount)
        for staff_id, line in (await stored_lines(db, first.run_id)).items()
    }
    # An appeal makes two people Excellent; one result is withdrawn.
    async with db.uow() as uow:
        scores = list(await uow.session.scalars(select(PeriodScore).order_by(PeriodScore.id)))
        raised = [s for s in scores if (s.calibrated_grade_id or s.grade_id) == "good"][:2]
        for score in raised:
            score.calibrated_grade_id = "excellent"
        withdrawn = next(s for s in scores if paid[s.staff_id] and s not in raised)
        await uow.session.execute(
            update(PeriodScore).where(PeriodScore.id == withdrawn.id).values(published_at=None)
        )
        await uow.commit()
    correction = await bonus.compute(
        db.uow, member, KEY, POLICY, pool_total=None, reason="Appeal decided", now=NOW,
        size=SIZE,
    )  # fmt: skip
    assert isinstance(correction, bonus.Computed)
    assert correction.correction
    expected = differences(formula(await expected_people(db, period_id), POLICY), paid)
    lines = await stored_lines(db, correction.run_id)
    units = Units.of(POLICY)
    changed = {
        staff_id: (units.amount(line.paid), units.amount(line.change))
        for staff_id, line in lines.items()
        if line.change
    }
    assert changed == expected
    assert len(raised) == 2 and all(changed[s.staff_id][1] > 0 for s in raised)
    assert changed[withdrawn.staff_id] == (paid[withdrawn.staff_id], -paid[withdrawn.staff_id])
    assert lines[withdrawn.staff_id].amount == 0
    # The totals, the recovery's line (no grade) among them, are the lines grouped.
    assert in_order(correction.totals) == await grouped_lines(db, correction.run_id)
    names = [total.department for total in correction.totals]
    assert names == sorted(names)
    assert any(total.grade_id is None for total in correction.totals)
    published = await bonus.publish(db.uow, member, correction.run_id, now=NOW)
    assert isinstance(published, bonus.Published) and published.number == 2
    async with db.uow() as uow:
        runs = await uow.bonus.runs(period_id)
    assert [(run.number, run.reason) for run in runs] == [(1, None), (2, "Appeal decided")]


async def test_two_runs_published_at_once_pay_the_period_once(db: Database) -> None:
    member, period_id = await seed(db, people=12)
    drafts = []
    for _ in range(2):
        computed = await bonus.compute(
            db.uow, member, KEY, POLICY, pool_total=None, reason=None, now=NOW, size=SIZE
        )
        assert isinstance(computed, bonus.Computed)
        drafts.append(computed.run_id)
    # The second preview set the first aside; bring it back, as another process's draft
    # computed at the same moment would be.
    async with db.uow() as uow:
        await uow.session.execute(
            update(BonusRun).where(BonusRun.id == drafts[0]).values(status=BonusRunStatus.DRAFT)
        )
        await uow.commit()
    outcomes = await asyncio.gather(
        *(bonus.publish(db.uow, member, run_id, now=NOW) for run_id in drafts)
    )
    assert sorted(isinstance(outcome, bonus.Published) for outcome in outcomes) == [False, True]
    assert [o for o in outcomes if not isinstance(o, bonus.Published)] == [bonus.BonusError.STALE]
    async with db.uow() as uow:
        runs = await uow.bonus.runs(period_id)
    assert [run.number for run in runs if run.status is BonusRunStatus.PUBLISHED] == [1]


@pytest.mark.parametrize("attempts", [2])
async def test_the_same_run_pressed_twice_at_once_is_published_once(
    db: Database, attempts: int
) -> None:
    member, _ = await seed(db, people=5)
    computed = await bonus.compute(
        db.uow, member, KEY, POLICY, pool_total=None, reason=None, now=NOW
    )
    assert isinstance(computed, bonus.Computed)
    outcomes = await asyncio.gather(
        *(bonus.publish(db.uow, member, computed.run_id, now=NOW) for _ in range(attempts))
    )
    assert sorted(isinstance(o, bonus.Published) for o in outcomes) == [False, True]
    assert bonus.BonusError.PUBLISHED in outcomes


async def test_no_run_while_the_publication_is_still_publishing_scores(db: Database) -> None:
    member, _ = await seed(db, people=3)
    async with db.uow() as uow:
        await uow.claims.forget([notices_key(KEY)])
        await uow.commit()
    assert (
        await bonus.compute(db.uow, member, KEY, POLICY, pool_total=None, reason=None, now=NOW)
        is bonus.BonusError.PUBLISHING
    )
