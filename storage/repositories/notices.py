"""Broadcast notices: drafts, their audience, acknowledgements and delivery figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.enums import DeliveryStatus, NoticeStatus, Role, StaffStatus
from storage.models import Department, Notice, NoticeAck, OutboxMessage, Post, Staff
from storage.repositories.admission import admitted
from storage.repositories.base import Repository, rows_as
from storage.repositories.selection import Selection


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a notice may go to."""

    staff_id: int
    employee_no: str
    name: str
    telegram_user_id: int | None
    language: str | None
    telegram_language: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One recipient's line in a notice's delivery list."""

    employee_no: str
    name: str
    department: str
    status: DeliveryStatus | None
    finished_at: datetime | None
    error: str | None
    acked_at: datetime | None


class NoticeRepository(Repository):
    """Notices and everything counted about them."""

    async def add(self, notice: Notice) -> Notice:
        """Stage a new notice and give it an id."""
        self.session.add(notice)
        await self.session.flush()
        return notice

    async def get(self, notice_id: int) -> Notice | None:
        """The notice with this id."""
        return await self.session.get(Notice, notice_id)

    async def drop_drafts_of(self, staff_id: int) -> None:
        """Cancel any unfinished draft of this author (one draft at a time)."""
        await self.session.execute(
            update(Notice)
            .where(Notice.created_by_id == staff_id, Notice.status == NoticeStatus.DRAFT)
            .values(status=NoticeStatus.CANCELLED)
        )

    async def draft_of(self, staff_id: int) -> Notice | None:
        """This author's draft in progress, if any."""
        return await self.session.scalar(
            select(Notice)
            .where(Notice.created_by_id == staff_id, Notice.status == NoticeStatus.DRAFT)
            .order_by(Notice.id.desc())
            .limit(1)
        )

    async def move(self, notice_id: int, source: NoticeStatus, target: NoticeStatus) -> bool:
        """Change a notice's status only if it is still ``source`` (one press wins)."""
        result = await self.session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.status == source)
            .values(status=target)
        )
        return bool(getattr(result, "rowcount", 0))

    async def take_progress(self, notice_id: int, shown: str | None, text: str | None) -> bool:
        """Replace the progress text ``shown`` by ``text``, only if it is still ``shown``:
        of several processes refreshing the same progress, one wins each step."""
        result = await self.session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.progress_text.is_not_distinct_from(shown))
            .values(progress_text=text)
        )
        return bool(getattr(result, "rowcount", 0))

    def _audience(self, kind: str, values: Sequence[str]) -> ColumnElement[bool]:
        condition = Staff.status != StaffStatus.LEFT
        if kind == "departments":
            return and_(condition, Staff.department_id.in_([int(v) for v in values]))
        if kind == "roles":
            mask = 0
            for value in values:
                mask |= int(Role[value.upper()])
            return and_(condition, Staff.roles.op("&")(mask) != 0)
        if kind == "post_types":
            posts = select(Post.id).where(Post.post_type.in_(values))
            return and_(condition, Staff.post_id.in_(posts.scalar_subquery()))
        if kind == "statuses":
            return and_(condition, Staff.status.in_([StaffStatus(v) for v in values]))
        return condition

    def reached(self, kind: str, values: Sequence[str]) -> Selection:
        """The linked people on staff the audience describes: who gets a copy."""
        return Selection(self._audience(kind, values))

    async def audience_size(self, kind: str, values: Sequence[str]) -> tuple[int, list[str]]:
        """How many linked people the audience reaches, and who in it is not linked."""
        audience = self._audience(kind, values)
        linked = await self.session.scalar(select(func.count()).where(audience, admitted(Staff)))
        unlinked = await self.session.scalars(
            select(Staff.employee_no)
            .where(audience, Staff.telegram_user_id.is_(None))
            .order_by(Staff.employee_no)
        )
        return int(linked or 0), list(unlinked)

    async def queued(self) -> list[Notice]:
        """Notices on their way, oldest first."""
        return list(
            await self.session.scalars(
                select(Notice).where(Notice.status == NoticeStatus.QUEUED).order_by(Notice.id)
            )
        )

    async def recent(self, limit: int) -> list[Notice]:
        """The latest queued or finished notices."""
        return list(
            await self.session.scalars(
                select(Notice)
                .where(Notice.status.in_([NoticeStatus.QUEUED, NoticeStatus.DONE]))
                .order_by(Notice.id.desc())
                .limit(limit)
            )
        )

    async def is_recipient(self, notice_id: int, staff_id: int) -> bool:
        """Whether the notice was sent (or is on its way) to this person."""
        found = await self.session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.notice_id == notice_id, OutboxMessage.staff_id == staff_id)
            .limit(1)
        )
        return found is not None

    async def acknowledge(
        self, notice_id: int, staff_id: int, at: datetime
    ) -> tuple[datetime, bool]:
        """Record the acknowledgement once: when it was first made, and whether that is now."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        result = await self.session.execute(
            insert(NoticeAck)
            .values(notice_id=notice_id, staff_id=staff_id, acked_at=at)
            .on_conflict_do_nothing(index_elements=[NoticeAck.notice_id, NoticeAck.staff_id])
        )
        first = await self.session.scalar(
            select(NoticeAck.acked_at).where(
                NoticeAck.notice_id == notice_id, NoticeAck.staff_id == staff_id
            )
        )
        assert first is not None
        return first, bool(getattr(result, "rowcount", 0))

    async def ack_count(self, notice_id: int) -> int:
        """How many recipients acknowledged the notice."""
        count = await self.session.scalar(
            select(func.count()).select_from(NoticeAck).where(NoticeAck.notice_id == notice_id)
        )
        return int(count or 0)

    async def not_acknowledged(self, notice_id: int) -> list[Person]:
        """Recipients who got the notice and have not acknowledged it."""
        rows = await self.session.scalars(
            select(Staff)
            .join(
                OutboxMessage,
                and_(
                    OutboxMessage.staff_id == Staff.id,
                    OutboxMessage.notice_id == notice_id,
                    OutboxMessage.kind == "notice",
                    OutboxMessage.status == DeliveryStatus.SENT,
                ),
            )
            .outerjoin(
                NoticeAck,
                and_(NoticeAck.notice_id == notice_id, NoticeAck.staff_id == Staff.id),
            )
            .where(NoticeAck.staff_id.is_(None))
            .order_by(Staff.employee_no)
        )
        return [
            Person(
                s.id, s.employee_no, s.name, s.telegram_user_id, s.language, s.telegram_language
            )
            for s in rows
        ]

    async def delivery_list(self, notice_id: int) -> list[DeliveryLine]:
        """Every recipient with the state of their copy and their acknowledgement."""
        rows = await self.session.execute(
            select(
                Staff.employee_no,
                Staff.name,
                Department.name.label("department"),
                OutboxMessage.status,
                OutboxMessage.finished_at,
                OutboxMessage.error,
                NoticeAck.acked_at,
            )
            .join(Department, Department.id == Staff.department_id)
            .join(
                OutboxMessage,
                and_(
                    OutboxMessage.staff_id == Staff.id,
                    OutboxMessage.notice_id == notice_id,
                    OutboxMessage.kind == "notice",
                ),
            )
            .outerjoin(
                NoticeAck,
                and_(NoticeAck.notice_id == notice_id, NoticeAck.staff_id == Staff.id),
            )
            .order_by(Staff.employee_no)
        )
        return rows_as(rows, DeliveryLine)
