"""Hand-made figures for the statistics (/stats), on the organisation of ``tests.e2e.people``.

Today is Friday 6 November 2026 (Asia/Shanghai): 2 to 6 November are the period's five
workdays so far. Permits Office has four people on staff (Sun Li E010, Su Yi E011,
Ma Qing E100, Tang Wen E101; Lou Gone E900 has left), Human Resources one (Hu Rong E001).
Su Yi and Ma Qing report to Sun Li.

Logged workdays: Su Yi 2, 3, 4 November (two entries on the 4th, one day) and Sunday the
1st (no workday); Ma Qing the 2nd; Tang Wen the 6th (and a deleted entry on the 5th);
Lou Gone the 2nd (not on staff). Office 5 of 4 x 5 = 25%; Sun Li's people 4 of 10 = 40%;
HR 1 of 5 = 20%.

Decisions this period (submission to decision): Su Yi 1 h (the Sunday's, decided on the
2nd), 2 h, 1 h, 4 h (rejected); Ma Qing 3 h (returned): office median 2 h of 5, also Sun
Li's people; Hu Rong 30 min; Lou Gone 10 h (not counted). Waiting: Su Yi one, Tang Wen one.

October's published grades: office Excellent 1 (Su Yi), Good 3 (Ma Qing; Tang Wen, HR's
calibration from Excellent; Lou Gone), Competent 1 (Sun Li): five graded, top grade at most
1; HR Excellent 1. October's published bonus run (steps of 0.01 CNY): office 100 + 50 + 50
+ 50 + 30 = 2.80, HR 1.00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from storage.engine import Database
from storage.enums import BonusRunStatus, EntryStatus
from storage.models import (
    AppealCase,
    AssessmentPeriod,
    BonusLine,
    BonusRun,
    PeriodScore,
    WorkEntry,
)

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 6)
NOW = datetime(2026, 11, 6, 18, 0, tzinfo=ZONE)

# employee_no, day of November, status, hours to decision (None: undecided)
ENTRIES: list[tuple[str, int, EntryStatus, float | None]] = [
    ("E011", 1, EntryStatus.APPROVED, 1),
    ("E011", 2, EntryStatus.APPROVED, 2),
    ("E011", 3, EntryStatus.APPROVED, 1),
    ("E011", 4, EntryStatus.REJECTED, 4),
    ("E011", 4, EntryStatus.SUBMITTED, None),
    ("E100", 2, EntryStatus.RETURNED, 3),
    ("E101", 5, EntryStatus.DELETED, None),
    ("E101", 6, EntryStatus.SUBMITTED, None),
    ("E900", 2, EntryStatus.APPROVED, 10),
    ("E001", 3, EntryStatus.APPROVED, 0.5),
]
# employee_no: grade, calibrated grade, bonus in steps
OCTOBER = {
    "E010": ("competent", None, 30),
    "E011": ("excellent", None, 100),
    "E100": ("good", None, 50),
    "E101": ("excellent", "good", 50),
    "E900": ("good", None, 50),
    "E001": ("excellent", None, 100),
}


# October's review and appeal cases: (employee number, kind, outcome or None if open).
CASES = [("E011", "review", "changed"), ("E011", "appeal", None), ("E001", "review", "upheld")]


async def seed_stats(database: Database) -> None:
    """The entries, October's published grades, its published bonus run and its cases:
    Su Yi's review changed and her appeal open, Hu Rong's review upheld."""
    async with database.uow() as uow:
        people = {s.employee_no: s for s in await uow.staff.all()}
        for employee_no, day, status, hours in ENTRIES:
            staff = people[employee_no]
            # The entry of Sunday the 1st was decided on the 2nd, in this period.
            submitted = datetime(2026, 11, max(day, 2), 9, 0, tzinfo=ZONE).astimezone(UTC)
            uow.session.add(
                WorkEntry(
                    staff_id=staff.id,
                    work_date=date(2026, 11, day),
                    text="Counter duty",
                    status=status,
                    submitted_at=submitted,
                    created_at=submitted,
                    decided_at=None if hours is None else submitted + timedelta(hours=hours),
                )
            )
        published = datetime(2026, 11, 3, tzinfo=UTC)
        october = AssessmentPeriod(
            key="2026-10",
            starts_on=date(2026, 10, 1),
            ends_on=date(2026, 10, 31),
            published_at=published,
        )
        uow.session.add(october)
        await uow.session.flush()
        run = BonusRun(
            period_id=october.id,
            status=BonusRunStatus.PUBLISHED,
            basis=0,
            number=1,
            mode="formula",
            factors={"step": "0.01", "currency": "CNY"},
            published_at=published,
        )
        uow.session.add(run)
        await uow.session.flush()
        for employee_no, (grade, calibrated, units) in OCTOBER.items():
            staff = people[employee_no]
            uow.session.add(
                PeriodScore(
                    period_id=october.id,
                    staff_id=staff.id,
                    department_id=staff.department_id,
                    score=Decimal(80),
                    grade_id=grade,
                    by_score_grade_id=grade,
                    calibrated_grade_id=calibrated,
                    breakdown={},
                    published_at=published,
                )
            )
            uow.session.add(
                BonusLine(
                    run_id=run.id,
                    staff_id=staff.id,
                    department_id=staff.department_id,
                    grade_id=calibrated or grade,
                    amount=units,
                    change=units,
                )
            )
        for employee_no, kind, outcome in CASES:
            uow.session.add(
                AppealCase(
                    period_id=october.id,
                    staff_id=people[employee_no].id,
                    kind=kind,
                    status="open" if outcome is None else "decided",
                    reason="The count of permits was wrong",
                    evidence=[],
                    requested_at=published,
                    requested_on=date(2026, 11, 4),
                    due_on=date(2026, 12, 4),
                    outcome=outcome,
                )
            )
        await uow.commit()
