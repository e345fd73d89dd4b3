"""What the monthly check's reminders read: who still has to close their period, whose
reviews are not signed off, and how many per reviewer.

Every query reads one window of staff ids (``assessment.batches``), so no statement
scans more than a batch of people, whatever the size of the organisation. A person's
reviewer is the one stored with their review of the period, or their supervisor while
they have none (no review row yet, or one without a reviewer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from storage.enums import EntryStatus, Role
from storage.models import LeaveDay, PeriodReview, Staff, WorkEntry
from storage.repositories.admission import admitted
from storage.repositories.base import Repository, rows_as
from storage.repositories.calendar import WORKING, Recipient

__all__ = ["CloseState", "ReviewerCount", "StageReminderRepository", "Unreviewed"]

_ENTRIES = typed(Table, WorkEntry.__table__)
_REVIEWS = typed(Table, PeriodReview.__table__)
# Entries that cover a day (as ``assessment.periods.missing_workdays`` counts them).
_COVERING = (EntryStatus.SUBMITTED, EntryStatus.APPROVED, EntryStatus.RETURNED)


@dataclass(frozen=True, slots=True)
class CloseState:
    """Where one person stands in closing a period."""

    recipient: Recipient
    missing: tuple[date, ...]
    returned: int
    pending: int
    self_submitted: bool

    @property
    def has_work(self) -> bool:
        """Whether the person has something to do (entries waiting for approval are
        their supervisor's to decide, so they alone are not)."""
        return bool(self.missing) or self.returned > 0 or not self.self_submitted


@dataclass(frozen=True, slots=True)
class Unreviewed:
    """A person whose review of the period is not signed off, under their reviewer."""

    reviewer: Recipient
    employee_no: str
    name: str


@dataclass(frozen=True, slots=True)
class ReviewerCount:
    """How many reviews of one reviewer (None: people with no reviewer) are not signed off."""

    reviewer_id: int | None
    name: str | None
    employee_no: str | None
    count: int


def _recipient_columns(person: Any) -> list[Any]:
    return [
        person.id.label("staff_id"),
        person.telegram_user_id.label("telegram_user_id"),
        person.name.label("name"),
        person.language.label("language"),
        person.telegram_language.label("telegram_language"),
    ]


def _recipient(row: Any) -> Recipient:
    return Recipient(
        staff_id=row["staff_id"],
        telegram_user_id=row["telegram_user_id"],
        name=row["name"],
        language=row["language"],
        telegram_language=row["telegram_language"],
    )


def _review_of(period_id: int, staff_id: Any) -> ColumnElement[bool]:
    return and_(_REVIEWS.c.period_id == period_id, _REVIEWS.c.staff_id == staff_id)


def _excluded(period_id: int, staff_id: Any) -> ColumnElement[bool]:
    # HR left the person out of the period (long leave, newly joined): nothing to chase.
    return exists().where(_review_of(period_id, staff_id), _REVIEWS.c.excluded_at.is_not(None))


def _days(days: Sequence[date], *, postgresql: bool) -> Any:
    # A one-column table of dates; VALUES with column names is not portable to SQLite.
    # PostgreSQL is told the parameters are dates (it would take them for text); SQLite
    # must not be (its CAST AS DATE makes a number of "2026-11-02").
    values = [bindparam(f"workday_{n}", day, type_=Date()) for n, day in enumerate(days)]
    parts = [
        select((cast(value, Date()) if postgresql else value).label("day")) for value in values
    ]
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("workdays")


class StageReminderRepository(Repository):
    """The monthly check's reminders' reads, one window of staff ids at a time."""

    async def close_states(
        self,
        period_id: int,
        starts_on: date,
        ends_on: date,
        workdays: Sequence[date],
        after: int,
        through: int,
    ) -> list[CloseState]:
        """Linked working people of ids ``after`` < id <= ``through`` (not excluded from
        the period): their missing ``workdays`` (no covering entry, no leave), their
        returned and pending entries dated in the period, whether they submitted their
        self-assessment. By id."""
        person = and_(
            Staff.id > after,
            Staff.id <= through,
            admitted(Staff),
            Staff.status.in_(WORKING),
            ~_excluded(period_id, Staff.id),
        )
        submitted = exists().where(
            _review_of(period_id, Staff.id), _REVIEWS.c.self_submitted_at.is_not(None)
        )

        def entries(status: EntryStatus) -> Any:
            # Per person, by the (staff_id, work_date) index: a count over the window's
            # entries by status would let SQLite take the status index, and read every
            # returned or pending entry of the organisation for each batch.
            return (
                select(func.count())
                .select_from(_ENTRIES)
                .where(
                    _ENTRIES.c.staff_id == Staff.id,
                    _ENTRIES.c.work_date.between(starts_on, ends_on),
                    _ENTRIES.c.status == status,
                )
                .scalar_subquery()
            )

        people = await self.session.execute(
            select(
                *_recipient_columns(Staff),
                submitted.label("submitted"),
                entries(EntryStatus.RETURNED).label("returned"),
                entries(EntryStatus.SUBMITTED).label("pending"),
            )
            .where(person)
            .order_by(Staff.id)
        )
        found = {row["staff_id"]: row for row in people.mappings()}
        if not found:
            return []
        missing: dict[int, list[date]] = {}
        if workdays:
            workday = _days(workdays, postgresql=self.dialect == "postgresql")
            covered = exists().where(
                _ENTRIES.c.staff_id == Staff.id,
                _ENTRIES.c.work_date == workday.c.day,
                _ENTRIES.c.status.in_(_COVERING),
            )
            on_leave = exists().where(LeaveDay.staff_id == Staff.id, LeaveDay.day == workday.c.day)
            rows = await self.session.execute(
                select(Staff.id, workday.c.day)
                .select_from(Staff)
                .join(workday, true())
                .where(person, ~covered, ~on_leave)
                .order_by(Staff.id, workday.c.day)
            )
            for staff_id, day in rows:
                missing.setdefault(staff_id, []).append(day)
        return [
            CloseState(
                recipient=_recipient(row),
                missing=tuple(missing.get(staff_id, ())),
                returned=int(row["returned"]),
                pending=int(row["pending"]),
                self_submitted=bool(row["submitted"]),
            )
            for staff_id, row in found.items()
        ]

    def _unreviewed(self, period_id: int) -> tuple[Any, Any, Select[Any, Any]]:
        # Working people with no signed-off (and no excluded) review of the period, with
        # their review row if there is one.
        report = aliased(Staff, name="report")
        review = _REVIEWS.alias("review")
        query: Select[Any, Any] = (
            select(report.employee_no.label("report_no"), report.name.label("report_name"))
            .select_from(report)
            .outerjoin(
                review, and_(review.c.period_id == period_id, review.c.staff_id == report.id)
            )
            .where(
                report.status.in_(WORKING),
                review.c.signed_off_at.is_(None),
                review.c.excluded_at.is_(None),
            )
        )
        return report, review, query

    async def unreviewed(self, period_id: int, after: int, through: int) -> list[Unreviewed]:
        """The people not yet signed off of linked working reviewers of ids ``after`` < id
        <= ``through``, by reviewer id, then employee number."""
        found: list[Unreviewed] = []
        reviewer = aliased(Staff, name="reviewer")
        # Two statements, each served by an index: the stored reviewer
        # (period_id, reviewer_id), and the supervisor while no reviewer is stored.
        report, review, base = self._unreviewed(period_id)
        for by, condition in (
            (review.c.reviewer_id, review.c.reviewer_id.is_not(None)),
            (report.supervisor_id, review.c.reviewer_id.is_(None)),
        ):
            rows = await self.session.execute(
                base.add_columns(*_recipient_columns(reviewer))
                .join(reviewer, reviewer.id == by)
                .where(
                    condition,
                    by > after,
                    by <= through,
                    admitted(reviewer),
                    reviewer.status.in_(WORKING),
                    report.id != reviewer.id,
                )
            )
            found += [
                Unreviewed(_recipient(row), row["report_no"], row["report_name"])
                for row in rows.mappings()
            ]
        found.sort(key=lambda row: (row.reviewer.staff_id, row.employee_no))
        return found

    async def unreviewed_counts(
        self, period_id: int, after: int, through: int
    ) -> list[ReviewerCount]:
        """How many people of ids ``after`` < id <= ``through`` are not signed off, per
        reviewer (whoever they are, even one who left)."""
        report, review, base = self._unreviewed(period_id)
        reviewer = aliased(Staff, name="reviewer")
        reviewer_id = func.coalesce(review.c.reviewer_id, report.supervisor_id)
        query = (
            base.with_only_columns(
                reviewer_id.label("reviewer_id"),
                reviewer.name.label("name"),
                reviewer.employee_no.label("employee_no"),
                func.count().label("count"),
            )
            .outerjoin(reviewer, reviewer.id == reviewer_id)
            .where(report.id > after, report.id <= through)
            .group_by(reviewer_id, reviewer.name, reviewer.employee_no)
        )
        return rows_as(await self.session.execute(query), ReviewerCount)

    async def hr(self) -> list[Recipient]:
        """Linked HR people still at work, by id."""
        rows = await self.session.execute(
            select(*_recipient_columns(Staff))
            .where(
                admitted(Staff),
                Staff.status.in_(WORKING),
                Staff.roles.op("&")(int(Role.HR)) != 0,
            )
            .order_by(Staff.id)
        )
        return [_recipient(row) for row in rows.mappings()]
