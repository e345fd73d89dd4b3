"""The annual roll-up over a real store: batches change nothing, scopes are counted apart."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from assessment import annual_run
from assessment.annual_run import AnnualError, RollUp
from bot.cli import main
from config.policy import Policy, load_policy
from storage.engine import Database
from storage.enums import Role
from storage.models import (
    AnnualResult,
    AssessmentPeriod,
    Department,
    OutboxMessage,
    PeriodScore,
    Staff,
)

NOW = datetime(2027, 1, 11, 2, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 12, 31, tzinfo=UTC)
# Two departments, each person scoring the same every month of 2026.
PEOPLE = {
    "Permits": [("P1", 97), ("P2", 95), ("P3", 93), ("P4", 80), ("P5", 60)],
    "Audit": [("A1", 91), ("A2", 92), ("A3", 70), ("A4", 75), ("A5", 50)],
}


async def _seed(db: Database) -> None:
    async with db.uow() as uow:
        ids: list[tuple[int, int, int]] = []
        for name, people in PEOPLE.items():
            department = await uow.departments.add(Department(name=name))
            for number, score in people:
                staff = await uow.staff.add(
                    Staff(employee_no=number, name=number, department_id=department.id)
                )
                ids.append((staff.id, department.id, score))
        for month in range(1, 13):
            period = AssessmentPeriod(
                key=f"2026-{month:02d}",
                starts_on=date(2026, month, 1),
                ends_on=date(2026, month, 28),
                published_at=PUBLISHED,
            )
            uow.session.add(period)
            await uow.session.flush()
            for staff_id, department_id, score in ids:
                grade = "excellent" if score >= 90 else "competent"
                uow.session.add(
                    PeriodScore(period_id=period.id, staff_id=staff_id,
                                department_id=department_id, score=score, grade_id=grade,
                                by_score_grade_id=grade, breakdown={},
                                published_at=PUBLISHED)
                )  # fmt: skip
        # An unpublished month of 2027 does not count towards 2026 (nor 2027 yet).
        later = AssessmentPeriod(key="2027-01", starts_on=date(2027, 1, 1),
                                 ends_on=date(2027, 1, 31))  # fmt: skip
        uow.session.add(later)
        await uow.commit()


async def _roll(db: Database, policy: Policy, year: int = 2026) -> RollUp | AnnualError:
    async with db.uow() as uow:
        result = await annual_run.roll_up(uow, policy, year, actor=None, now=NOW)
        await uow.commit()
    return result


async def _grades(db: Database) -> dict[str, str | None]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(Staff.employee_no, AnnualResult.grade_id).join(
                Staff, Staff.id == AnnualResult.staff_id
            )
        )
        return {number: grade for number, grade in rows}


def _by_department(policy: Policy) -> Policy:
    assert policy.annual is not None
    quota = policy.annual.quota.model_copy(update={"scope": "department"})
    return policy.model_copy(update={"annual": policy.annual.model_copy(update={"quota": quota})})


async def test_batches_of_two_roll_up_as_one_batch_does(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(db)
    policy = load_policy()
    whole = await _roll(db, policy)
    at_once = await _grades(db)
    monkeypatch.setattr(annual_run, "BATCH", 2)
    batched = await _roll(db, policy)
    assert isinstance(whole, RollUp) and isinstance(batched, RollUp)
    assert (batched.people, batched.graded) == (whole.people, whole.graded) == (10, 10)
    assert await _grades(db) == at_once
    # Organisation-wide: 20% of 10 is 2; the best two levels (97, 95) fit.
    assert [n for n, g in at_once.items() if g == "excellent"] == ["P1", "P2"]
    assert at_once["P3"] == "competent" and at_once["A2"] == "competent"
    assert at_once["P5"] == "basically_competent" and at_once["A5"] == "incompetent"


async def test_a_department_quota_counts_each_department_apart(db: Database) -> None:
    await _seed(db)
    await _roll(db, _by_department(load_policy()))
    grades = await _grades(db)
    # 20% of 5 is 1 in each department: P1 (97) and A2 (92).
    assert sorted(n for n, g in grades.items() if g == "excellent") == ["A2", "P1"]


async def test_nothing_published_in_the_year_is_said_and_nothing_is_stored(db: Database) -> None:
    await _seed(db)
    assert await _roll(db, load_policy(), 2027) is AnnualError.NOTHING_PUBLISHED
    assert await _grades(db) == {}


def test_the_command_line_rolls_up_prints_and_queues_hr_report(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in list(os.environ):
        if key.startswith("WORKLEDGER_") and key != "WORKLEDGER_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("WORKLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("WORKLEDGER_LANGUAGE", "en")
    monkeypatch.setenv("WORKLEDGER_CLOCK_START", "2027-01-11T10:00:00+08:00")

    async def seed() -> None:
        database = Database(database_url)
        try:
            await _seed(database)
            async with database.uow() as uow:
                [a5] = await uow.staff.by_employee_nos(["A5"])
                uow.session.add(
                    Staff(employee_no="H1", name="Hu", department_id=a5.department_id,
                          roles=Role.STAFF | Role.HR, telegram_user_id=7001)
                )  # fmt: skip
                uow.session.add(
                    AnnualResult(year=2025, staff_id=a5.id, department_id=a5.department_id,
                                 periods=12, grade_id="incompetent", computed_at=PUBLISHED)
                )  # fmt: skip
                await uow.commit()
        finally:
            await database.dispose()

    async def queued() -> list[OutboxMessage]:
        database = Database(database_url)
        try:
            async with database.uow() as uow:
                return list(await uow.session.scalars(select(OutboxMessage)))
        finally:
            await database.dispose()

    asyncio.run(seed())
    assert main(["annual", "2026", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["year"], document["people"], document["graded"]) == (2026, 10, 10)
    assert [(p["employee_no"], p["flags"]) for p in document["flagged"]] == [
        ("A5", ["dismissal_review"])
    ]
    [message] = asyncio.run(queued())
    assert message.chat_id == 7001 and message.kind == "annual_flags"
    assert "Dismissal review (2 consecutive years Incompetent):\n• A5 A5, Audit" in (
        message.text or ""
    )
    assert main(["annual", "2031"]) == 2
    assert "No routine results of that year are published yet." in capsys.readouterr().err
