"""Read-only views for the sandbox's inspector: the roster as cards, one person's state.

Every read is bounded by a ``limit`` the caller gives; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import aliased

from storage.enums import DeliveryStatus, EntryStatus, Role, StaffStatus
from storage.models import AuditEvent, Department, LeaveDay, OutboxMessage, Post, Staff, WorkEntry
from storage.repositories.base import Repository, rows_as


@dataclass(frozen=True, slots=True)
class CardRow:
    """A person on the roster with the names their record refers to."""

    id: int
    telegram_user_id: int | None
    employee_no: str
    name: str
    roles: Role
    status: StaffStatus
    department: str
    post: str | None
    post_type: str | None
    supervisor: str | None
    supervisor_no: str | None
    language: str | None
    telegram_language: str | None
    approval_digest_at: str | None
    linked_at: datetime | None
    unreachable_since: datetime | None
    on_leave: bool


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One work entry as the inspector lists it."""

    id: int
    work_date: date
    text: str
    indicator_id: str | None
    quantity: Decimal | None
    hours: Decimal | None
    status: EntryStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message the bot queued for someone, and how it went."""

    id: int
    kind: str
    status: DeliveryStatus
    created_at: datetime
    finished_at: datetime | None
    attempts: int
    text: str | None
    attachment_kind: str | None
    edits_id: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit event, as stored."""

    id: int
    at: datetime
    action: str
    subject_type: str
    subject_id: str | None
    actor_staff_id: int | None
    details: dict[str, Any]


class Inspection(Repository):
    """What the sandbox's inspector reads, one bounded query each."""

    def _cards(self, today: date) -> Any:
        supervisor = aliased(Staff)
        on_leave = (
            select(LeaveDay.id)
            .where(LeaveDay.staff_id == Staff.id, LeaveDay.day == today)
            .exists()
        )
        return (
            select(
                Staff.id,
                Staff.telegram_user_id,
                Staff.employee_no,
                Staff.name,
                Staff.roles,
                Staff.status,
                Department.name.label("department"),
                Post.name.label("post"),
                Post.post_type,
                supervisor.name.label("supervisor"),
                supervisor.employee_no.label("supervisor_no"),
                Staff.language,
                Staff.telegram_language,
                Staff.approval_digest_at,
                Staff.linked_at,
                Staff.unreachable_since,
                on_leave.label("on_leave"),
            )
            .join(Department, Department.id == Staff.department_id)
            .outerjoin(Post, Post.id == Staff.post_id)
            .outerjoin(supervisor, supervisor.id == Staff.supervisor_id)
        )

    async def roster(self, today: date, limit: int) -> list[CardRow]:
        """Everyone on the roster who has not left, by employee number, at most ``limit``;
        ``on_leave`` on ``today``."""
        rows = await self.session.execute(
            self._cards(today)
            .where(Staff.status != StaffStatus.LEFT)
            .order_by(Staff.employee_no)
            .limit(limit)
        )
        return rows_as(rows, CardRow)

    async def card(self, telegram_user_id: int, today: date) -> CardRow | None:
        """The record linked to ``telegram_user_id`` (a leaver's too), None if none is."""
        found = rows_as(
            await self.session.execute(
                self._cards(today).where(Staff.telegram_user_id == telegram_user_id)
            ),
            CardRow,
        )
        return found[0] if found else None

    async def entries(self, staff_id: int, start: date, end: date, limit: int) -> list[EntryRow]:
        """``staff_id``'s entries dated ``start`` to ``end`` (deleted ones too), newest
        day first, at most ``limit``."""
        rows = await self.session.execute(
            select(
                WorkEntry.id,
                WorkEntry.work_date,
                WorkEntry.text,
                WorkEntry.indicator_id,
                WorkEntry.quantity,
                WorkEntry.hours,
                WorkEntry.status,
                WorkEntry.created_at,
            )
            .where(
                WorkEntry.staff_id == staff_id,
                WorkEntry.work_date >= start,
                WorkEntry.work_date <= end,
            )
            .order_by(WorkEntry.work_date.desc(), WorkEntry.id.desc())
            .limit(limit)
        )
        return rows_as(rows, EntryRow)

    async def outbox(self, staff_id: int, chat_id: int, limit: int) -> list[OutboxRow]:
        """The latest ``limit`` messages queued for ``staff_id`` or to their chat, newest first."""
        rows = await self.session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.kind,
                OutboxMessage.status,
                OutboxMessage.created_at,
                OutboxMessage.finished_at,
                OutboxMessage.attempts,
                OutboxMessage.text,
                OutboxMessage.attachment_kind,
                OutboxMessage.edits_id,
                OutboxMessage.error,
            )
            .where(or_(OutboxMessage.staff_id == staff_id, OutboxMessage.chat_id == chat_id))
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return rows_as(rows, OutboxRow)

    async def audit(
        self, staff_id: int, telegram_user_id: int, entry_subject: str, limit: int
    ) -> list[AuditRow]:
        """The latest ``limit`` audit events by ``staff_id`` (or their Telegram account), about
        their staff record, or about one of their entries (subject ``entry_subject``)."""
        theirs = select(cast(WorkEntry.id, String)).where(WorkEntry.staff_id == staff_id)
        rows = await self.session.execute(
            select(
                AuditEvent.id,
                AuditEvent.at,
                AuditEvent.action,
                AuditEvent.subject_type,
                AuditEvent.subject_id,
                AuditEvent.actor_staff_id,
                AuditEvent.details,
            )
            .where(
                or_(
                    AuditEvent.actor_staff_id == staff_id,
                    AuditEvent.actor_telegram_id == telegram_user_id,
                    and_(
                        AuditEvent.subject_type == "staff",
                        AuditEvent.subject_id == str(staff_id),
                    ),
                    and_(
                        AuditEvent.subject_type == entry_subject,
                        AuditEvent.subject_id.in_(theirs),
                    ),
                )
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        return rows_as(rows, AuditRow)
