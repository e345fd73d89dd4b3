"""The annual roll-up over a real store: batches change nothing, scopes are counted apart."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from assessment import annual_run, entries
from assessment.annual_run import AnnualError, RollUp
from assessment.entries import EntryView
from bot.cli import main
from config.policy import Policy, load_policy
from storage.engine import Database, waiting_up_to
from storage.enums import Role
from storage.models import (
    AnnualResult,
    AnnualRun,
    AssessmentPeriod,
    AuditEvent,
    Department,
    OutboxMessage,
    PeriodScore,
    Staff,
    WorkEntry,
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
    return await annual_run.roll_up(db.uow, policy, year, actor=None, now=NOW)


async def _grades(db: Database) -> dict[str, str | None]:
    async with db.uow() as uow:
        # What everyone reads: the rows of the year's current run.
        rows = await uow.session.execute(
            select(Staff.employee_no, AnnualResult.grade_id)
            .join(Staff, Staff.id == AnnualResult.staff_id)
            .join(AnnualRun, AnnualRun.id == AnnualResult.run_id)
            .where(AnnualRun.state == "current")
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
                run = AnnualRun(year=2025, state="current")
                uow.session.add(run)
                await uow.session.flush()
                uow.session.add(
                    AnnualResult(run_id=run.id, year=2025, staff_id=a5.id,
                                 department_id=a5.department_id,
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


async def _rescore(db: Database, employee_no: str, score: int) -> None:
    """Change a person's published scores of 2026, so a roll-up would grade them anew."""
    async with db.uow() as uow:
        [staff] = await uow.staff.by_employee_nos([employee_no])
        for row in await uow.session.scalars(
            select(PeriodScore).where(PeriodScore.staff_id == staff.id)
        ):
            row.score = Decimal(score)
        await uow.commit()


async def _runs(db: Database) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(AnnualRun.state).order_by(AnnualRun.id)))


async def _rows(db: Database) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(AnnualResult)) or 0)


class InjectedError(Exception):
    """The failure a test injects between two batches."""


async def test_a_run_failing_between_batches_leaves_the_previous_result_standing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(db)
    policy = load_policy()
    assert isinstance(await _roll(db, policy), RollUp)
    before = await _grades(db)
    assert before["P5"] == "basically_competent"
    await _rescore(db, "P5", 99)  # P5 would now be the best of all
    monkeypatch.setattr(annual_run, "BATCH", 2)
    passes: list[str] = []

    async def fail_in_the_flags(phase: str, _done: int) -> None:
        passes.append(phase)
        if phase == "flags":
            raise InjectedError  # after every score and the quota are stored, before the switch

    with pytest.raises(InjectedError):
        await annual_run.roll_up(db.uow, policy, 2026, actor=None, now=NOW,
                                 between=fail_in_the_flags)  # fmt: skip
    assert passes.count("scores") == 5 and passes[-1] == "flags"
    # Everyone still reads the year's previous result; the failed run is said to be so.
    assert await _grades(db) == before
    async with db.uow() as uow:
        [p5] = await uow.staff.by_employee_nos(["P5"])
        [year] = await uow.annual.of_person(p5.id)
        assert (year.year, year.grade_id) == (2026, "basically_competent")
        events = await uow.session.scalar(
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.action == "annual.rolled_up")
        )  # fmt: skip
    assert events == 1
    assert await _runs(db) == ["current", "failed"]
    assert await _rows(db) == 20  # the failed run's rows wait for the next run's purge

    # The next run is not refused, takes the new scores, and purges what the others left.
    again = await _roll(db, policy)
    assert isinstance(again, RollUp) and again.people == 10
    assert (await _grades(db))["P5"] == "excellent"
    assert await _runs(db) == ["superseded", "failed", "current"]
    assert await _rows(db) == 10


async def test_a_second_run_of_the_year_is_refused_while_one_runs(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(db)
    policy = load_policy()
    assert isinstance(await _roll(db, policy), RollUp)
    before = await _grades(db)
    await _rescore(db, "P5", 99)
    monkeypatch.setattr(annual_run, "BATCH", 2)
    seen: list[object] = []

    async def meanwhile(phase: str, done: int) -> None:
        if (phase, done) == ("scores", 2):
            seen.append(await _roll(db, policy))
            seen.append(await _grades(db))

    first = await annual_run.roll_up(db.uow, policy, 2026, actor=None, now=NOW,
                                     between=meanwhile)  # fmt: skip
    assert seen == [AnnualError.RUNNING, before]  # refused; the previous result read
    assert isinstance(first, RollUp) and (await _grades(db))["P5"] == "excellent"
    assert await _runs(db) == ["superseded", "current"]


async def test_a_claim_left_by_a_killed_run_is_taken_over_once_stale(db: Database) -> None:
    await _seed(db)
    policy = load_policy()
    async with db.uow() as uow:
        uow.session.add(AnnualRun(year=2026, state="running", started_at=NOW))
        await uow.commit()
    assert await _roll(db, policy) is AnnualError.RUNNING
    later = NOW + annual_run.STALE + timedelta(minutes=1)
    result = await annual_run.roll_up(db.uow, policy, 2026, actor=None, now=later)
    assert isinstance(result, RollUp) and result.people == 10
    assert await _runs(db) == ["failed", "current"]


async def test_a_quick_log_commits_between_two_batches_of_a_roll_up(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A log waiting for a transaction the roll-up kept open would fail as busy within a
    # second here, rather than after the usual five.
    db = Database(waiting_up_to(database_url, 1))
    try:
        await _seed(db)
        policy = load_policy()
        monkeypatch.setattr(annual_run, "BATCH", 2)
        async with db.uow() as uow:
            [author] = await uow.staff.by_employee_nos(["A3"])
        logged: list[tuple[str, int, object]] = []

        async def log_meanwhile(phase: str, done: int) -> None:
            # After the first batch of each pass, while the rest of the run is to come.
            if phase not in [seen for seen, _, _ in logged]:
                async with db.uow() as uow:
                    entry = await entries.quick_log(
                        uow, author.id, f"Counter duty during {phase}",
                        today=date(2027, 1, 11), zone=ZoneInfo("Asia/Shanghai"),
                        limits=policy.entries, policy=policy, now=NOW,
                    )  # fmt: skip
                logged.append((phase, done, entry))

        result = await annual_run.roll_up(db.uow, policy, 2026, actor=None, now=NOW,
                                          between=log_meanwhile)  # fmt: skip
        assert isinstance(result, RollUp) and result.people == 10
        assert [(phase, done) for phase, done, _ in logged] == [
            ("scores", 2), ("quota", 2), ("flags", 0)
        ]  # fmt: skip
        assert all(isinstance(entry, EntryView) for _, _, entry in logged)
        async with db.uow() as uow:
            texts = await uow.session.scalars(
                select(WorkEntry.text).where(WorkEntry.staff_id == author.id)
            )
            assert sorted(texts) == [
                f"Counter duty during {p}" for p in ("flags", "quota", "scores")
            ]
    finally:
        await db.dispose()
