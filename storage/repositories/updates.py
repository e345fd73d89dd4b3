"""Telegram update ids already handled, and who sent each update."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, case, delete, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.enums import NoticeStatus
from storage.models import Conversation, Notice, ProcessedUpdate, Staff
from storage.repositories.base import Repository

_UPDATES = cast(Table, ProcessedUpdate.__table__)
_STAFF = cast(Table, Staff.__table__)
_CONVERSATIONS = cast(Table, Conversation.__table__)
_NOTICES = cast(Table, Notice.__table__)

# The columns of the sender's staff record the gate needs (``assessment.people.StaffMember``).
SENDER_COLUMNS = (
    "id",
    "employee_no",
    "name",
    "department_id",
    "roles",
    "status",
    "language",
    "telegram_user_id",
    "telegram_language",
)
# What the sender's next message answers when a notice draft waits for its content.
NOTICE_CONTENT = "notice_content"


@dataclass(frozen=True, slots=True)
class Arrival:
    """An incoming update as the store sees it: handled before or not, and from whom."""

    seen: bool  # its id was claimed before: a redelivery
    sender: Mapping[str, Any] | None  # ``SENDER_COLUMNS`` of the linked staff record, by name
    question: str | None  # what the sender was asked and has not answered yet, if anything


def _question() -> Any:
    """The one definition of what a person's next message answers: the kind of their open
    conversation (/log, an edit, a reason), else ``NOTICE_CONTENT`` when a notice draft of
    theirs waits for its content, else NULL (the message is theirs to mean anything)."""
    empty_draft = (
        select(_NOTICES.c.id)
        .where(
            _NOTICES.c.created_by_id == _STAFF.c.id,
            _NOTICES.c.status == NoticeStatus.DRAFT,
            _NOTICES.c.text.is_(None),
            _NOTICES.c.attachment_file_id.is_(None),
        )
        .exists()
    )
    return case(
        (_CONVERSATIONS.c.kind.is_not(None), _CONVERSATIONS.c.kind),
        (and_(_STAFF.c.id.is_not(None), empty_draft), literal(NOTICE_CONTENT)),
        else_=None,
    )


def _arrival() -> Select[Any]:
    # One row always: whether the id was seen, the sender's columns or NULLs, their question.
    one = select(literal(1).label("one")).subquery("one")
    seen = select(_UPDATES.c.update_id).where(_UPDATES.c.update_id == bindparam("update_id"))
    return select(
        seen.exists().label("seen"),
        *(_STAFF.c[name] for name in SENDER_COLUMNS),
        _question().label("question"),
    ).select_from(
        one.outerjoin(
            _STAFF, _STAFF.c.telegram_user_id == bindparam("telegram_user_id")
        ).outerjoin(_CONVERSATIONS, _CONVERSATIONS.c.staff_id == _STAFF.c.id)
    )


# Built once: every update runs it.
_ARRIVAL = _arrival()


class ProcessedUpdates(Repository):
    """Telegram update ids already taken, so a redelivered update is handled once."""

    async def claim(self, update_id: int, *, at: datetime) -> bool:
        """Take ``update_id``; False if it was taken before (by this or another process)."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        taken = await self.session.scalar(
            insert(_UPDATES)
            .values(update_id=update_id, processed_at=at)
            .on_conflict_do_nothing(index_elements=[_UPDATES.c.update_id])
            .returning(_UPDATES.c.update_id)
        )
        return taken is not None

    async def arrive(self, update_id: int, telegram_user_id: int | None) -> Arrival:
        """Whether ``update_id`` was handled before, and its sender's record and question.

        One SELECT, nothing written: the update is claimed with the first commit of
        the unit of work that handles it (see ``UnitOfWork``).
        """
        result = await self.session.execute(
            _ARRIVAL, {"update_id": update_id, "telegram_user_id": telegram_user_id}
        )
        row = result.mappings().one()
        return Arrival(
            seen=bool(row["seen"]),
            sender=None if row["id"] is None else {name: row[name] for name in SENDER_COLUMNS},
            question=row["question"],
        )

    async def handled(self, update_id: int) -> bool:
        """Whether ``update_id`` was recorded as handled (its first commit is done)."""
        found = await self.session.scalar(
            select(_UPDATES.c.update_id).where(_UPDATES.c.update_id == update_id)
        )
        return found is not None

    async def forget_before(self, moment: datetime) -> int:
        """Drop records older than ``moment`` (Telegram never redelivers that late)."""
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment)
        )
        return int(getattr(result, "rowcount", 0))
