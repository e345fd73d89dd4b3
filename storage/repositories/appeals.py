"""Reviews and appeals of published results: the cases, their decisions, their deciders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from storage.enums import Role, StaffStatus
from storage.models import AppealCase, AssessmentPeriod, PeriodReview, PeriodScore, Staff
from storage.repositories.base import Repository
from storage.repositories.calendar import Recipient

__all__ = ["AppealRepository", "CaseRow", "SupervisorReview"]

_CASES = cast(Table, AppealCase.__table__)
_SCORES = cast(Table, PeriodScore.__table__)
_PERIODS = cast(Table, AssessmentPeriod.__table__)
_REVIEWER = aliased(Staff, name="reviewer")

OPEN = "open"
DECIDED = "decided"


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One case as read from the store, with its period and its person."""

    id: int
    period_id: int
    period_key: str
    staff_id: int
    employee_no: str
    name: str
    department_id: int
    supervisor_id: int | None
    kind: str
    status: str
    reason: str
    evidence: list[dict[str, Any]]
    requested_at: datetime
    requested_on: date
    due_on: date
    extended_at: datetime | None
    extension_reason: str | None
    decided_at: datetime | None
    decided_on: date | None
    decided_by_id: int | None
    outcome: str | None
    decision_reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    version: int


@dataclass(frozen=True, slots=True)
class SupervisorReview:
    """The supervisor's review of the person's period: who signed it off, when, and the
    person's self-assessment it answered."""

    reviewer_name: str | None
    signed_off_at: datetime | None
    self_text: str | None


_COLUMNS = (
    AppealCase.id,
    AppealCase.period_id,
    AssessmentPeriod.key.label("period_key"),
    AppealCase.staff_id,
    Staff.employee_no,
    Staff.name,
    Staff.department_id,
    Staff.supervisor_id,
    AppealCase.kind,
    AppealCase.status,
    AppealCase.reason,
    AppealCase.evidence,
    AppealCase.requested_at,
    AppealCase.requested_on,
    AppealCase.due_on,
    AppealCase.extended_at,
    AppealCase.extension_reason,
    AppealCase.decided_at,
    AppealCase.decided_on,
    AppealCase.decided_by_id,
    AppealCase.outcome,
    AppealCase.decision_reason,
    AppealCase.before,
    AppealCase.after,
    AppealCase.version,
)


def _cases() -> Any:
    return (
        select(*_COLUMNS)
        .join(AssessmentPeriod, AssessmentPeriod.id == AppealCase.period_id)
        .join(Staff, Staff.id == AppealCase.staff_id)
    )


class AppealRepository(Repository):
    """Cases of review and appeal; decisions are conditional on the version read."""

    async def _rows(self, query: Any) -> list[CaseRow]:
        result = await self.session.execute(query)
        return [CaseRow(**row) for row in result.mappings()]

    async def lock_published(self, period_id: int) -> bool:
        """Take a published period for a change of its results (a decision): the first
        statement of the transaction, so decisions in one period happen one after another
        and each quota check reads what the one before wrote. False if not published."""
        found = await self.session.scalar(
            update(_PERIODS)
            .where(_PERIODS.c.id == period_id, _PERIODS.c.published_at.is_not(None))
            .values(version=_PERIODS.c.version + 1)
            .returning(_PERIODS.c.id)
        )
        return found is not None

    async def add(self, **values: Any) -> int | None:
        """Store a new open case; its id, or None if the person has one of that kind for
        that period already."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(AppealCase)
            .values(status=OPEN, version=1, **values)
            .on_conflict_do_nothing(index_elements=["period_id", "staff_id", "kind"])
            .returning(AppealCase.id)
        )
        found = await self.session.scalar(statement)
        return None if found is None else int(found)

    async def get(self, case_id: int) -> CaseRow | None:
        """One case."""
        found = await self._rows(_cases().where(AppealCase.id == case_id))
        return found[0] if found else None

    async def of_person(self, staff_id: int, period_id: int | None = None) -> list[CaseRow]:
        """A person's cases (of one period), newest first."""
        query = _cases().where(AppealCase.staff_id == staff_id)
        if period_id is not None:
            query = query.where(AppealCase.period_id == period_id)
        return await self._rows(query.order_by(AppealCase.id.desc()))

    async def of_reports(self, supervisor_id: int, limit: int) -> list[CaseRow]:
        """The cases of a supervisor's reports (the reviewer of their period, else their
        supervisor now), newest first."""
        query = (
            _cases()
            .outerjoin(
                PeriodReview,
                and_(
                    PeriodReview.period_id == AppealCase.period_id,
                    PeriodReview.staff_id == AppealCase.staff_id,
                ),
            )
            .where(func.coalesce(PeriodReview.reviewer_id, Staff.supervisor_id) == supervisor_id)
            .order_by(AppealCase.id.desc())
            .limit(limit)
        )
        return await self._rows(query)

    async def open_cases(self, kinds: Sequence[str], limit: int) -> list[CaseRow]:
        """Open cases of these kinds, the most urgent first."""
        query = (
            _cases()
            .where(AppealCase.status == OPEN, AppealCase.kind.in_(kinds))
            .order_by(AppealCase.due_on, AppealCase.id)
            .limit(limit)
        )
        return await self._rows(query)

    async def due_by(self, last: date, after_id: int, limit: int) -> list[CaseRow]:
        """Open cases whose last day is ``last`` or earlier, by id after ``after_id``."""
        query = (
            _cases()
            .where(AppealCase.status == OPEN, AppealCase.due_on <= last, AppealCase.id > after_id)
            .order_by(AppealCase.id)
            .limit(limit)
        )
        return await self._rows(query)

    async def decide(
        self,
        case_id: int,
        version: int,
        *,
        outcome: str,
        reason: str,
        by_id: int,
        now: datetime,
        today: date,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> bool:
        """Decide an open case as read at ``version``; False if it changed meanwhile."""
        result = await self.session.execute(
            update(_CASES)
            .where(_CASES.c.id == case_id, _CASES.c.status == OPEN, _CASES.c.version == version)
            .values(
                status=DECIDED,
                outcome=outcome,
                decision_reason=reason,
                decided_by_id=by_id,
                decided_at=now,
                decided_on=today,
                before=before,
                after=after,
                version=_CASES.c.version + 1,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def extend(
        self, case_id: int, version: int, *, due_on: date, reason: str, by_id: int, now: datetime
    ) -> bool:
        """Move an open, never extended case's last day; False if that no longer holds."""
        result = await self.session.execute(
            update(_CASES)
            .where(
                _CASES.c.id == case_id,
                _CASES.c.status == OPEN,
                _CASES.c.version == version,
                _CASES.c.extended_at.is_(None),
            )
            .values(
                due_on=due_on,
                extended_at=now,
                extended_by_id=by_id,
                extension_reason=reason,
                version=_CASES.c.version + 1,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_published_result(
        self,
        period_id: int,
        staff_id: int,
        grade_id: str,
        *,
        score: Decimal | None,
        by_score_grade_id: str | None,
        reason: str,
        by_id: int,
        now: datetime,
    ) -> bool:
        """Change a published result: the grade (kept as the calibrated grade, the one that
        counts everywhere: /score, notices, exports) and, given, the score and the grade it
        reaches; False if it is not published."""
        values: dict[str, Any] = {
            "calibrated_grade_id": grade_id,
            "calibration_reason": reason,
            "calibrated_by_id": by_id,
            "calibrated_at": now,
            "version": _SCORES.c.version + 1,
        }
        if score is not None:
            values["score"] = score
        if by_score_grade_id is not None:
            values["by_score_grade_id"] = by_score_grade_id
        result = await self.session.execute(
            update(_SCORES)
            .where(
                _SCORES.c.period_id == period_id,
                _SCORES.c.staff_id == staff_id,
                _SCORES.c.published_at.is_not(None),
            )
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def supervisor_review(self, period_id: int, staff_id: int) -> SupervisorReview:
        """The review of the person's period, as far as there is one."""
        row = (
            await self.session.execute(
                select(_REVIEWER.name, PeriodReview.signed_off_at, PeriodReview.self_text)
                .select_from(PeriodReview)
                .outerjoin(_REVIEWER, _REVIEWER.id == PeriodReview.signed_off_by_id)
                .where(PeriodReview.period_id == period_id, PeriodReview.staff_id == staff_id)
            )
        ).first()
        if row is None:
            return SupervisorReview(None, None, None)
        return SupervisorReview(row[0], row[1], row[2])

    async def deciders(self, roles: Role) -> list[Recipient]:
        """Linked people on staff holding any of ``roles``."""
        rows = await self.session.execute(
            select(
                Staff.id,
                Staff.telegram_user_id,
                Staff.name,
                Staff.language,
                Staff.telegram_language,
            )
            .where(
                Staff.status != StaffStatus.LEFT,
                Staff.telegram_user_id.is_not(None),
                Staff.roles.op("&")(int(roles)) != 0,
            )
            .order_by(Staff.id)
        )
        return [Recipient(int(r[0]), int(r[1] or 0), r[2], r[3], r[4]) for r in rows]

    async def person(self, staff_id: int) -> Recipient | None:
        """A linked person to write to."""
        row = (
            await self.session.execute(
                select(
                    Staff.id,
                    Staff.telegram_user_id,
                    Staff.name,
                    Staff.language,
                    Staff.telegram_language,
                ).where(Staff.id == staff_id, Staff.telegram_user_id.is_not(None))
            )
        ).first()
        return (
            None
            if row is None
            else Recipient(int(row[0]), int(row[1] or 0), row[2], row[3], row[4])
        )
