"""A small organisation with a month of everything the exports read, seeded straight into
the store: entries with their approval trail and evidence, scores with a breakdown and a
calibration, a notice's copies, audit events; and names that begin like formulas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from assessment.period_scoring import breakdown_facts, policy_fingerprint
from assessment.scoring import PeriodFacts, QuantityFacts, Scorer
from config.policy import Policy
from storage.engine import Database
from storage.enums import DecisionVia, DeliveryStatus, EntryStatus, NoticeStatus, Role
from storage.models import (
    ApprovalRequest,
    AssessmentPeriod,
    AuditEvent,
    Department,
    EntryAttachment,
    Notice,
    NoticeAck,
    OutboxMessage,
    PeriodScore,
    Post,
    Staff,
    WorkEntry,
)

PERIOD = "2026-11"
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
FORMULA_NAME = '=HYPERLINK("http://evil.example","Su Yi")'
HR_TELEGRAM = 9001


@dataclass(frozen=True)
class Seeded:
    """Ids of what was seeded."""

    office: int
    hr_office: int
    formula_person: int
    supervisor: int
    entries_in_period: tuple[int, ...]


def _at(day: int, hour: int = 1, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


async def seed_exports(database: Database, policy: Policy, *, entries: int = 3) -> Seeded:
    """HR, a supervisor and two of their people (one named like a formula); ``entries``
    November entries of the formula-named person, and one of December."""
    async with database.uow() as uow:
        session = uow.session
        office = Department(name="Permits Office")
        hr_office = Department(name="Human Resources")
        session.add_all([office, hr_office])
        await session.flush()
        post = Post(department_id=office.id, name="Officer", post_type="law_enforcement",
                    difficulty=Decimal("1.15"))  # fmt: skip
        session.add(post)
        await session.flush()
        hr = Staff(employee_no="E001", name="Hu Rong", department_id=hr_office.id,
                   roles=Role.STAFF | Role.HR, telegram_user_id=HR_TELEGRAM,
                   language="en")  # fmt: skip
        boss = Staff(employee_no="E010", name="Sun Li", department_id=office.id,
                     post_id=post.id, roles=Role.STAFF | Role.SUPERVISOR,
                     telegram_user_id=9002)  # fmt: skip
        session.add_all([hr, boss])
        await session.flush()
        formula = Staff(employee_no="E011", name=FORMULA_NAME, department_id=office.id,
                        post_id=post.id, supervisor_id=boss.id, telegram_user_id=9003)  # fmt: skip
        plus = Staff(employee_no="E012", name="+Ma Qing", department_id=office.id,
                     post_id=post.id, supervisor_id=boss.id)  # fmt: skip
        session.add_all([formula, plus])
        await session.flush()
        period = AssessmentPeriod(key=PERIOD, starts_on=NOVEMBER[0], ends_on=NOVEMBER[1])
        session.add(period)
        await session.flush()

        ids = []
        for n in range(entries):
            day = 2 + n % 27
            approved = n % 3 != 2
            entry = WorkEntry(
                staff_id=formula.id, work_date=date(2026, 11, day),
                text=f"-{n} complaints left open" if n == 0 else f"Cases closed, batch {n}",
                indicator_id="cases_handled", quantity=Decimal("12.5") + n,
                hours=Decimal("7.50"),
                status=EntryStatus.APPROVED if approved else EntryStatus.SUBMITTED,
                decided_by_id=boss.id if approved else None,
                decided_at=_at(day, 9) if approved else None,
                decision_via=DecisionVia.SUPERVISOR if approved else None,
                decision_reason="@ok" if n == 1 else None,
                created_at=_at(day), submitted_at=_at(day),
                escalated_at=_at(day, 5) if n == 2 else None,
            )  # fmt: skip
            session.add(entry)
            await session.flush()
            ids.append(entry.id)
            session.add(ApprovalRequest(entry_id=entry.id, entry_version=1, approver_id=boss.id,
                                        reason="submitted", created_at=_at(day, 2)))  # fmt: skip
            if n == 2:
                session.add(ApprovalRequest(entry_id=entry.id, entry_version=1,
                                            approver_id=hr.id, reason="escalated",
                                            created_at=_at(day, 5)))  # fmt: skip
            if n == 0:
                session.add_all(
                    [
                        EntryAttachment(entry_id=entry.id, kind="document", file_id="f1",
                                        file_unique_id="u1", file_name="=permit.pdf"),
                        EntryAttachment(entry_id=entry.id, kind="photo", file_id="f2",
                                        file_unique_id="u2"),
                    ]
                )  # fmt: skip
        session.add(
            WorkEntry(staff_id=formula.id, work_date=date(2026, 12, 1), text="December",
                      created_at=_at(1, month=12), submitted_at=_at(1, month=12))
        )  # fmt: skip

        facts = PeriodFacts(
            formula.id, office.id, "law_enforcement",
            quantities={"cases_handled": QuantityFacts(Decimal(46), 46)},
        )  # fmt: skip
        score = Scorer(policy).score(facts)
        session.add_all(
            [
                PeriodScore(
                    period_id=period.id, staff_id=formula.id, department_id=office.id,
                    score=score.value, grade_id="good", by_score_grade_id="excellent",
                    breakdown=breakdown_facts(facts, score.value, policy_fingerprint(policy)),
                    computed_at=_at(30), calibrated_grade_id="excellent",
                    calibration_reason="=SUM(A1:A9)", calibrated_by_id=hr.id,
                    calibrated_at=_at(30, 8), published_at=_at(30, 9),
                ),
                PeriodScore(
                    period_id=period.id, staff_id=plus.id, department_id=office.id,
                    score=Decimal("71.250000"), grade_id="competent",
                    by_score_grade_id="competent", breakdown={}, disqualified=True,
                    computed_at=_at(30),
                ),
            ]
        )  # fmt: skip

        notice = Notice(created_by_id=hr.id, status=NoticeStatus.DONE, text="-Fire drill",
                        queued_at=_at(10), recipients=2)  # fmt: skip
        session.add(notice)
        await session.flush()
        session.add_all(
            [
                OutboxMessage(chat_id=9003, staff_id=formula.id, notice_id=notice.id,
                              kind="notice", text="-Fire drill", status=DeliveryStatus.SENT,
                              finished_at=_at(10, 2)),
                OutboxMessage(chat_id=9002, staff_id=boss.id, notice_id=notice.id,
                              kind="notice", text="-Fire drill", status=DeliveryStatus.FAILED,
                              error="=Bad Request"),
                NoticeAck(notice_id=notice.id, staff_id=formula.id, acked_at=_at(11)),
            ]
        )  # fmt: skip
        session.add_all(
            [
                AuditEvent(at=_at(5), actor_staff_id=boss.id, action="entry.approved",
                           subject_type="work_entry", subject_id=str(ids[0]),
                           details={"reason": "+1"}),
                AuditEvent(at=_at(12), actor_telegram_id=42, action="link.failed",
                           subject_type="invitation", subject_id=None, details={}),
                AuditEvent(at=_at(3, month=12), action="period.published",
                           subject_type="period", subject_id=PERIOD, details={}),
            ]
        )  # fmt: skip
        await uow.commit()
        return Seeded(office.id, hr_office.id, formula.id, boss.id, tuple(ids))
