"""Review and appeal on a real store: two decisions racing for the quota's last place,
stale decisions, late requests, and who may decide."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from assessment import appeals
from assessment.appeal_rules import GradeCheck
from assessment.appeals import AppealError, CaseRow, Decided, Filed, Late
from assessment.bonus_changes import ChangedResult
from assessment.outbox import Outgoing
from assessment.people import StaffMember, member
from assessment.periods import ensure_period, parse_key
from config.policy import Policy, load_policy
from storage.engine import Database
from storage.enums import Role, StaffStatus
from storage.models import AppealCase, AssessmentPeriod, Department, PeriodScore, Staff
from storage.repositories.calendar import Recipient

ZONE = ZoneInfo("Asia/Shanghai")
PUBLISHED = datetime(2026, 12, 9, 10, 0, tzinfo=ZONE)
ASKED = datetime(2026, 12, 10, 10, 0, tzinfo=ZONE)


class Notices:
    """The messages as plain text, addressed as the bot would address them."""

    def _out(self, recipient: Recipient, text: str) -> Outgoing:
        return Outgoing(chat_id=recipient.telegram_user_id, kind="appeal", text=text)

    def new_case(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"new {case.id}")

    def outcome(
        self, recipient: Recipient, case: CaseRow, appeal_due_on: date | None, today: date
    ) -> Outgoing:
        return self._out(recipient, f"outcome {case.id}")

    def extended(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"extended {case.id}")

    def reminder(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"reminder {case.id}")

    def overdue(self, recipient: Recipient, case: CaseRow, today: date) -> Outgoing:
        return self._out(recipient, f"overdue {case.id}")

    def correction_due(self, recipient: Recipient, change: ChangedResult) -> Outgoing:
        return self._out(recipient, f"correction {change.case_id}")


@dataclass(frozen=True)
class Office:
    hr: StaffMember
    first: StaffMember  # 91
    second: StaffMember  # 91, tied: neither has the one top place
    period_id: int


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
async def office(db: Database, policy: Policy) -> Office:
    period = parse_key("2026-11", policy)
    assert period is not None
    async with db.uow() as uow:
        department = await uow.departments.add(Department(name="Permits"))
        hr_office = await uow.departments.add(Department(name="HR"))
        ids = []
        for number, roles, place in (
            ("E9", Role.STAFF | Role.HR, hr_office.id),
            ("E1", Role.STAFF, department.id),
            ("E2", Role.STAFF, department.id),
            ("E3", Role.STAFF, department.id),
            ("E4", Role.STAFF, department.id),
            ("E5", Role.STAFF, department.id),
        ):
            staff = await uow.staff.add(
                Staff(employee_no=number, name=number, department_id=place, roles=roles,
                      status=StaffStatus.ACTIVE, telegram_user_id=9400 + int(number[1:]),
                      language="en")
            )  # fmt: skip
            ids.append(staff.id)
        period_id = await ensure_period(uow, period, now=PUBLISHED)
        for staff_id, score in zip(ids[1:], (91, 91, 85, 80, 72), strict=True):
            uow.session.add(
                PeriodScore(period_id=period_id, staff_id=staff_id, department_id=department.id,
                            score=Decimal(score), grade_id="good" if score >= 80 else "competent",
                            by_score_grade_id="excellent" if score >= 90 else "good",
                            breakdown={}, published_at=PUBLISHED)
            )  # fmt: skip
        await uow.session.execute(
            update(AssessmentPeriod)
            .where(AssessmentPeriod.id == period_id)
            .values(published_at=PUBLISHED)
        )
        await uow.commit()
        hr, first, second = [await member(uow, staff_id) for staff_id in ids[:3]]
    assert hr and first and second
    return Office(hr, first, second, period_id)


async def _file(
    db: Database, who: StaffMember, office: Office, policy: Policy, moment: datetime = ASKED
) -> Filed | Late | AppealError:
    async with db.uow() as uow:
        return await appeals.file(
            uow,
            who,
            office.period_id,
            appeals.REVIEW,
            "Miscounted",
            [],
            policy,
            Notices(),
            today=moment.date(),
            zone=ZONE,
            now=moment,
        )


async def _decide(
    db: Database, who: StaffMember, case: CaseRow, grade: str | None, policy: Policy
) -> Decided | AppealError | GradeCheck:
    async with db.uow() as uow:
        return await appeals.decide(
            uow,
            who,
            case.id,
            case.version,
            grade,
            "Looked again",
            policy,
            Notices(),
            today=ASKED.date(),
            now=ASKED,
        )


async def test_two_reviews_racing_for_the_last_top_place_give_it_once(
    db: Database, office: Office, policy: Policy
) -> None:
    first = await _file(db, office.first, office, policy)
    second = await _file(db, office.second, office, policy)
    assert isinstance(first, Filed) and isinstance(second, Filed)
    outcomes = await asyncio.gather(
        _decide(db, office.hr, first.case, "excellent", policy),
        _decide(db, office.hr, second.case, "excellent", policy),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Decided", "GradeCheck"]
    assert GradeCheck.OVER_QUOTA in outcomes
    async with db.uow() as uow:
        top = await uow.session.scalars(
            select(PeriodScore.staff_id).where(PeriodScore.calibrated_grade_id == "excellent")
        )
        assert len(list(top)) == 1
        decided = list(
            await uow.session.scalars(select(AppealCase).where(AppealCase.status == "decided"))
        )
    assert len(decided) == 1, "the refused decision left its case open"


async def test_a_stale_or_foreign_decision_changes_nothing(
    db: Database, office: Office, policy: Policy
) -> None:
    filed = await _file(db, office.first, office, policy)
    assert isinstance(filed, Filed)
    # Not a decider (no HR role), and never the person themself.
    assert await _decide(db, office.second, filed.case, None, policy) is AppealError.NOT_DECIDER
    assert await _decide(db, office.first, filed.case, None, policy) is AppealError.NOT_DECIDER
    decided = await _decide(db, office.hr, filed.case, None, policy)
    assert isinstance(decided, Decided) and decided.case.outcome == "upheld"
    # The same press again, at the version it showed: refused.
    again = await _decide(db, office.hr, filed.case, "excellent", policy)
    assert again is AppealError.DECIDED
    async with db.uow() as uow:
        score = await uow.session.scalar(
            select(PeriodScore).where(PeriodScore.staff_id == office.first.id)
        )
    assert score is not None and score.calibrated_grade_id is None


async def test_a_request_on_the_last_day_is_in_time_and_the_next_day_late(
    db: Database, office: Office, policy: Policy
) -> None:
    late = await _file(db, office.second, office, policy, datetime(2027, 1, 9, 0, 5, tzinfo=ZONE))
    assert late == Late(date(2027, 1, 8))
    last = await _file(db, office.first, office, policy, datetime(2027, 1, 8, 23, 55, tzinfo=ZONE))
    assert isinstance(last, Filed) and last.case.due_on == date(2027, 2, 7)
    assert await _file(db, office.first, office, policy) is AppealError.ALREADY


async def test_a_changed_score_reaching_the_top_grade_without_a_place_gets_the_next(
    db: Database, office: Office, policy: Policy
) -> None:
    first = await _file(db, office.first, office, policy)
    second = await _file(db, office.second, office, policy)
    assert isinstance(first, Filed) and isinstance(second, Filed)
    taken = await _decide(db, office.hr, first.case, "excellent", policy)
    assert isinstance(taken, Decided)
    async with db.uow() as uow:
        rescored = await appeals.decide(
            uow,
            office.hr,
            second.case.id,
            second.case.version,
            None,
            "Recounted",
            policy,
            Notices(),
            today=ASKED.date(),
            now=ASKED,
            score=Decimal("95.5"),
        )
    assert isinstance(rescored, Decided)
    after = rescored.case.after
    assert after is not None
    assert (Decimal(after["score"]), after["grade"]) == (Decimal("95.5"), "good")
    async with db.uow() as uow:
        score = await uow.session.scalar(
            select(PeriodScore).where(PeriodScore.staff_id == office.second.id)
        )
    assert score is not None
    assert (score.score, score.by_score_grade_id, score.calibrated_grade_id) == (
        Decimal("95.5"),
        "excellent",
        "good",
    )
    # A score outside 0..100 is refused before anything is read.
    async with db.uow() as uow:
        refused = await appeals.decide(
            uow, office.hr, second.case.id, 1, None, "x", policy, Notices(),
            today=ASKED.date(), now=ASKED, score=Decimal(101),
        )  # fmt: skip
    assert refused is AppealError.BAD_SCORE
