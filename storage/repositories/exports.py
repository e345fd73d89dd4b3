"""The reads behind the ledgers and exports: bounded batches in key order (keyset pages).

Each batch is one short statement ``WHERE key > :after ORDER BY key LIMIT :size`` on an
indexed key, so a page costs the same at the end of two million rows as at the start,
and no transaction (nor, on SQLite, the read snapshot) outlives its batch. Rows are
plain tuples, read through the session's connection (Core: no ORM row handling for a
million rows); the file is built from them in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, func, literal, select
from sqlalchemy.orm import aliased

from storage.enums import BonusRunStatus
from storage.models import (
    AnnualResult,
    AnnualRun,
    ApprovalRequest,
    AssessmentPeriod,
    AuditEvent,
    BonusAllowance,
    BonusLine,
    BonusRun,
    Department,
    EntryAttachment,
    HonourAward,
    Notice,
    NoticeAck,
    OutboxMessage,
    PeriodScore,
    Post,
    ScorePoint,
    Staff,
    TrainingRecord,
    WorkEntry,
)
from storage.repositories.annual import standing_points
from storage.repositories.base import Repository

Row = tuple[Any, ...]

_DECIDER = aliased(Staff)
_CALIBRATOR = aliased(Staff)
_ACTOR = aliased(Staff)
# A bonus line's key: its run's id and its person's, in one whole number (staff ids are
# 32-bit), so the lines of every published run of a period page in (run, person) order.
LINE_KEY = 2**32


def _in_department(department_id: int | None) -> ColumnElement[bool]:
    return Staff.department_id == department_id if department_id is not None else and_(True)


class ExportReads(Repository):
    """A period's ledger, scores and delivery lists, and the audit log, page by page."""

    async def _rows(self, query: Any) -> list[Row]:
        connection = await self.session.connection()
        return [tuple(row) for row in (await connection.execute(query)).all()]

    # --- the work ledger ------------------------------------------------------------------

    def _ledger_where(
        self, starts_on: date, ends_on: date, department_id: int | None
    ) -> ColumnElement[bool]:
        return and_(WorkEntry.work_date.between(starts_on, ends_on), _in_department(department_id))

    async def ledger_count(self, starts_on: date, ends_on: date, department_id: int | None) -> int:
        """How many entries the period's ledger holds (for the progress message)."""
        query = (
            select(func.count())
            .select_from(WorkEntry)
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .where(self._ledger_where(starts_on, ends_on, department_id))
        )
        return int(await self.session.scalar(query) or 0)

    async def ledger_page(
        self, starts_on: date, ends_on: date, department_id: int | None, after: int, size: int
    ) -> list[Row]:
        """Entries after entry ``after`` in id order: the entry, its author and its decision.

        Columns: id, employee_no, name, department, work_date, indicator_id, text,
        quantity, hours, status, misconduct, created_at, submitted_at, escalated_at,
        decider's employee_no, decider's name, decision_via, decided_at, decision_reason.
        """
        query = (
            select(
                WorkEntry.id,
                Staff.employee_no,
                Staff.name,
                Department.name,
                WorkEntry.work_date,
                WorkEntry.indicator_id,
                WorkEntry.text,
                WorkEntry.quantity,
                WorkEntry.hours,
                WorkEntry.status,
                WorkEntry.misconduct,
                WorkEntry.created_at,
                WorkEntry.submitted_at,
                WorkEntry.escalated_at,
                _DECIDER.employee_no,
                _DECIDER.name,
                WorkEntry.decision_via,
                WorkEntry.decided_at,
                WorkEntry.decision_reason,
            )
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .join(Department, Department.id == Staff.department_id)
            .outerjoin(_DECIDER, _DECIDER.id == WorkEntry.decided_by_id)
            .where(WorkEntry.id > after, self._ledger_where(starts_on, ends_on, department_id))
            .order_by(WorkEntry.id)
            .limit(size)
        )
        return await self._rows(query)

    async def approval_requests(self, entry_ids: Sequence[int]) -> list[Row]:
        """The approval requests of these entries in the order sent: entry id, approver's
        employee_no and name, reason (``submitted``/``escalated``), created_at."""
        if not entry_ids:
            return []
        query = (
            select(
                ApprovalRequest.entry_id,
                Staff.employee_no,
                Staff.name,
                ApprovalRequest.reason,
                ApprovalRequest.created_at,
            )
            .join(Staff, Staff.id == ApprovalRequest.approver_id)
            .where(ApprovalRequest.entry_id.in_(list(entry_ids)))
            .order_by(ApprovalRequest.entry_id, ApprovalRequest.id)
        )
        return await self._rows(query)

    async def evidence(self, entry_ids: Sequence[int]) -> list[Row]:
        """The attachments of these entries: entry id, kind, file name (or None)."""
        if not entry_ids:
            return []
        query = (
            select(EntryAttachment.entry_id, EntryAttachment.kind, EntryAttachment.file_name)
            .where(EntryAttachment.entry_id.in_(list(entry_ids)))
            .order_by(EntryAttachment.entry_id, EntryAttachment.id)
        )
        return await self._rows(query)

    # --- scores and grades ----------------------------------------------------------------

    async def scores_count(self, period_id: int, department_id: int | None) -> int:
        """How many people have a stored score for the period."""
        query = (
            select(func.count())
            .select_from(PeriodScore)
            .join(Staff, Staff.id == PeriodScore.staff_id)
            .where(PeriodScore.period_id == period_id, _in_department(department_id))
        )
        return int(await self.session.scalar(query) or 0)

    async def scores_page(
        self, period_id: int, department_id: int | None, after: int, size: int
    ) -> list[Row]:
        """Stored scores after score ``after`` in id order.

        Columns: id, staff_id, department_id, employee_no, name, department, post_type,
        score, by_score_grade_id, grade_id, calibrated_grade_id, calibration_reason,
        calibrator's employee_no, calibrator's name, calibrated_at, disqualified,
        computed_at, published_at, read_at, breakdown.
        """
        query = (
            select(
                PeriodScore.id,
                PeriodScore.staff_id,
                PeriodScore.department_id,
                Staff.employee_no,
                Staff.name,
                Department.name,
                Post.post_type,
                PeriodScore.score,
                PeriodScore.by_score_grade_id,
                PeriodScore.grade_id,
                PeriodScore.calibrated_grade_id,
                PeriodScore.calibration_reason,
                _CALIBRATOR.employee_no,
                _CALIBRATOR.name,
                PeriodScore.calibrated_at,
                PeriodScore.disqualified,
                PeriodScore.computed_at,
                PeriodScore.published_at,
                PeriodScore.read_at,
                PeriodScore.breakdown,
            )
            .join(Staff, Staff.id == PeriodScore.staff_id)
            .join(Department, Department.id == PeriodScore.department_id)
            .outerjoin(Post, Post.id == Staff.post_id)
            .outerjoin(_CALIBRATOR, _CALIBRATOR.id == PeriodScore.calibrated_by_id)
            .where(
                PeriodScore.period_id == period_id,
                PeriodScore.id > after,
                _in_department(department_id),
            )
            .order_by(PeriodScore.id)
            .limit(size)
        )
        return await self._rows(query)

    # --- broadcast delivery lists ---------------------------------------------------------

    def _deliveries(
        self, since: datetime, until: datetime, department_id: int | None
    ) -> Select[*tuple[Any, ...]]:
        return (
            select(
                OutboxMessage.id,
                Notice.id,
                Notice.queued_at,
                Notice.text,
                Staff.employee_no,
                Staff.name,
                Department.name,
                OutboxMessage.status,
                OutboxMessage.finished_at,
                OutboxMessage.error,
                NoticeAck.acked_at,
            )
            .join(Notice, Notice.id == OutboxMessage.notice_id)
            .join(Staff, Staff.id == OutboxMessage.staff_id)
            .join(Department, Department.id == Staff.department_id)
            .outerjoin(
                NoticeAck,
                and_(NoticeAck.notice_id == Notice.id, NoticeAck.staff_id == Staff.id),
            )
            .where(
                OutboxMessage.kind == "notice",
                Notice.queued_at >= since,
                Notice.queued_at < until,
                _in_department(department_id),
            )
        )

    async def deliveries_count(
        self, since: datetime, until: datetime, department_id: int | None
    ) -> int:
        """How many copies of notices queued in [since, until) there are."""
        inner = self._deliveries(since, until, department_id).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(inner)) or 0)

    async def deliveries_page(
        self, since: datetime, until: datetime, department_id: int | None, after: int, size: int
    ) -> list[Row]:
        """Copies of notices queued in [since, until) after outbox row ``after``.

        Columns: outbox id, notice id, notice queued_at, notice text, employee_no, name,
        department, status, finished_at, error, acked_at.
        """
        query = (
            self._deliveries(since, until, department_id)
            .where(OutboxMessage.id > after)
            .order_by(OutboxMessage.id)
            .limit(size)
        )
        return await self._rows(query)

    # --- the audit log --------------------------------------------------------------------

    async def audit_count(self, since: datetime, until: datetime) -> int:
        """How many audit events happened in [since, until)."""
        query = select(func.count()).where(AuditEvent.at >= since, AuditEvent.at < until)
        return int(await self.session.scalar(query) or 0)

    async def audit_page(
        self, since: datetime, until: datetime, after: int, size: int
    ) -> list[Row]:
        """Audit events of [since, until) after event ``after`` in id (append) order.

        Columns: id, at, actor's employee_no, actor's name, actor_telegram_id, action,
        subject_type, subject_id, details.
        """
        query = (
            select(
                AuditEvent.id,
                AuditEvent.at,
                _ACTOR.employee_no,
                _ACTOR.name,
                AuditEvent.actor_telegram_id,
                AuditEvent.action,
                AuditEvent.subject_type,
                AuditEvent.subject_id,
                AuditEvent.details,
            )
            .outerjoin(_ACTOR, _ACTOR.id == AuditEvent.actor_staff_id)
            .where(AuditEvent.id > after, AuditEvent.at >= since, AuditEvent.at < until)
            .order_by(AuditEvent.id)
            .limit(size)
        )
        return await self._rows(query)

    # --- bonus lines ----------------------------------------------------------------------

    async def published_runs(self, period_id: int) -> list[BonusRun]:
        """The period's published bonus runs, in the order published (run 1 pays)."""
        found = await self.session.scalars(
            select(BonusRun)
            .where(BonusRun.period_id == period_id, BonusRun.status == BonusRunStatus.PUBLISHED)
            .order_by(BonusRun.number)
        )
        return list(found)

    def _lines_where(
        self, run_ids: Sequence[int], department_id: int | None
    ) -> ColumnElement[bool]:
        in_department = (
            BonusLine.department_id == department_id if department_id is not None else and_(True)
        )
        return and_(BonusLine.run_id.in_(list(run_ids)), in_department)

    async def bonus_count(self, run_ids: Sequence[int], department_id: int | None) -> int:
        """How many lines these runs have (of the department the line was paid in)."""
        if not run_ids:
            return 0
        query = select(func.count()).where(self._lines_where(run_ids, department_id))
        return int(await self.session.scalar(query.select_from(BonusLine)) or 0)

    async def bonus_page(
        self, run_ids: Sequence[int], department_id: int | None, after: int, size: int
    ) -> list[Row]:
        """Up to ``size`` lines of these runs after key ``after`` (``LINE_KEY``), in run then
        staff order: each run's lines a range of its primary key (run, staff).

        Columns: key, run id, staff_id, employee_no, name, department, post_type,
        grade_id, difficulty, share, allowance, amount, paid, change (money in steps).
        """
        run, staff = divmod(after, LINE_KEY)
        found: list[Row] = []
        for run_id in sorted(run_ids):
            if run_id < run:
                continue
            start = staff if run_id == run else 0
            key = literal(run_id * LINE_KEY, BigInteger) + BonusLine.staff_id
            query = (
                select(
                    key,
                    BonusLine.run_id,
                    BonusLine.staff_id,
                    Staff.employee_no,
                    Staff.name,
                    Department.name,
                    Post.post_type,
                    BonusLine.grade_id,
                    BonusLine.difficulty,
                    BonusLine.share,
                    BonusLine.allowance,
                    BonusLine.amount,
                    BonusLine.paid,
                    BonusLine.change,
                )
                .join(Staff, Staff.id == BonusLine.staff_id)
                .join(Department, Department.id == BonusLine.department_id)
                .outerjoin(Post, Post.id == Staff.post_id)
                .where(
                    self._lines_where([run_id], department_id),
                    BonusLine.staff_id > start,
                )
                .order_by(BonusLine.staff_id)
                .limit(size - len(found))
            )
            found += await self._rows(query)
            if len(found) >= size:
                break
        return found

    async def allowances(self, period_id: int, staff_ids: Sequence[int]) -> list[Row]:
        """Every allowance these people were assigned for the period, withdrawn or not:
        staff_id, kind, reason, assigned_at, withdrawn_at (by kind)."""
        if not staff_ids:
            return []
        query = (
            select(
                BonusAllowance.staff_id,
                BonusAllowance.kind,
                BonusAllowance.reason,
                BonusAllowance.assigned_at,
                BonusAllowance.withdrawn_at,
            )
            .where(
                BonusAllowance.period_id == period_id,
                BonusAllowance.staff_id.in_(list(set(staff_ids))),
            )
            .order_by(BonusAllowance.staff_id, BonusAllowance.kind)
        )
        return await self._rows(query)

    # --- career records -------------------------------------------------------------------

    def _people_where(
        self, department_id: int | None, staff_id: int | None
    ) -> ColumnElement[bool]:
        one = Staff.id == staff_id if staff_id is not None else and_(True)
        return and_(_in_department(department_id), one)

    async def record_people(
        self, department_id: int | None, staff_id: int | None, after: int, size: int
    ) -> list[Row]:
        """People (of the department, or one person) after staff id ``after``, in id order:
        id, employee_no, name, department."""
        query = (
            select(Staff.id, Staff.employee_no, Staff.name, Department.name)
            .join(Department, Department.id == Staff.department_id)
            .where(Staff.id > after, self._people_where(department_id, staff_id))
            .order_by(Staff.id)
            .limit(size)
        )
        return await self._rows(query)

    @staticmethod
    def _record_parts(whose: Any, key_task_kinds: Sequence[str]) -> dict[str, Any]:
        """The reads of a career record's parts, each of the people ``whose`` (a condition
        on a staff id column) picks; the first column is always the staff id.

        Scores, points and allowances are indexed by (period, person): naming the periods
        (few) lets each engine look a page's people up in that index, period by period,
        where it would otherwise read the whole table for every page."""
        periods = select(AssessmentPeriod.id).scalar_subquery()
        return {
            "year": select(
                AnnualResult.staff_id,
                AnnualResult.year,
                AnnualResult.periods,
                AnnualResult.score,
                AnnualResult.grade_id,
                AnnualResult.trainings,
                AnnualResult.flags,
            )
            .join(
                AnnualRun, and_(AnnualRun.id == AnnualResult.run_id, AnnualRun.state == "current")
            )
            .where(whose(AnnualResult.staff_id))
            .order_by(AnnualResult.staff_id, AnnualResult.year.desc()),
            "period": select(
                PeriodScore.staff_id,
                AssessmentPeriod.key,
                PeriodScore.score,
                PeriodScore.grade_id,
                PeriodScore.calibrated_grade_id,
            )
            .join(AssessmentPeriod, AssessmentPeriod.id == PeriodScore.period_id)
            .where(
                PeriodScore.period_id.in_(periods),
                whose(PeriodScore.staff_id),
                PeriodScore.published_at.is_not(None),
            )
            .order_by(PeriodScore.staff_id, AssessmentPeriod.starts_on.desc()),
            "points": standing_points(
                ScorePoint.staff_id,
                AssessmentPeriod.key,
                ScorePoint.amount,
                ScorePoint.reason,
                ScorePoint.indicator_id,
                whose=whose(ScorePoint.staff_id),
            ).order_by(ScorePoint.staff_id, AssessmentPeriod.starts_on.desc(), ScorePoint.id),
            "key_task": select(
                BonusAllowance.staff_id,
                AssessmentPeriod.key,
                BonusAllowance.kind,
                BonusAllowance.reason,
                BonusAllowance.assigned_at,
            )
            .join(AssessmentPeriod, AssessmentPeriod.id == BonusAllowance.period_id)
            .where(
                BonusAllowance.period_id.in_(periods),
                whose(BonusAllowance.staff_id),
                BonusAllowance.kind.in_(list(key_task_kinds)),
                BonusAllowance.withdrawn_at.is_(None),
            )
            .order_by(
                BonusAllowance.staff_id, AssessmentPeriod.starts_on.desc(), BonusAllowance.id
            ),
            "training": select(
                TrainingRecord.staff_id,
                TrainingRecord.training_id,
                TrainingRecord.completed_on,
                TrainingRecord.note,
            )
            .where(whose(TrainingRecord.staff_id))
            .order_by(
                TrainingRecord.staff_id,
                TrainingRecord.completed_on.desc(),
                TrainingRecord.id.desc(),
            ),
            "honour": select(
                HonourAward.staff_id,
                HonourAward.honour_id,
                HonourAward.awarded_on,
                HonourAward.citation,
            )
            .where(whose(HonourAward.staff_id))
            .order_by(HonourAward.staff_id, HonourAward.awarded_on.desc(), HonourAward.id.desc()),
        }

    async def record_count(
        self, department_id: int | None, staff_id: int | None, key_task_kinds: Sequence[str]
    ) -> int:
        """How many items the career records of these people hold, all parts together."""
        people = select(Staff.id).where(self._people_where(department_id, staff_id))
        total = 0
        for query in self._record_parts(
            lambda column: column.in_(people), key_task_kinds
        ).values():
            inner = query.order_by(None).subquery()
            total += int(await self.session.scalar(select(func.count()).select_from(inner)) or 0)
        return total

    async def record_items(
        self, staff_ids: Sequence[int], key_task_kinds: Sequence[str]
    ) -> dict[str, list[Row]]:
        """The items of these people's career records, by part (``year``, ``period``,
        ``points``, ``key_task``, ``training``, ``honour``), each row's staff id first."""
        if not staff_ids:
            return {}
        ids = list(staff_ids)
        parts = self._record_parts(lambda column: column.in_(ids), key_task_kinds)
        return {part: await self._rows(query) for part, query in parts.items()}
