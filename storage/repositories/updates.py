"""Telegram update ids already handled, and who sent each update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, delete, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage import direct
from storage.direct import Direct
from storage.models import Conversation, ProcessedUpdate, Staff
from storage.repositories.base import Repository

_UPDATES = cast(Table, ProcessedUpdate.__table__)
_STAFF = cast(Table, Staff.__table__)
_CONVERSATIONS = cast(Table, Conversation.__table__)

# The columns of the sender's staff record the gate needs, in this order.
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


@dataclass(frozen=True, slots=True)
class Arrival:
    """An incoming update as the store sees it: handled before or not, and from whom."""

    seen: bool  # its id was claimed before: a redelivery
    sender: tuple[Any, ...] | None  # ``SENDER_COLUMNS`` of the linked staff record
    conversation: str | None  # the kind of conversation the sender is in, if any


def _claim(dialect: str) -> Direct:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return Direct(
        insert(_UPDATES)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("at"))
        .on_conflict_do_nothing(index_elements=[_UPDATES.c.update_id])
        .returning(_UPDATES.c.update_id)
    )


def _arrival() -> Select[Any]:
    # One row always: (seen, the sender's columns or NULLs, their conversation or NULL).
    one = select(literal(1).label("one")).subquery("one")
    staff = _STAFF.c
    seen = select(_UPDATES.c.update_id).where(_UPDATES.c.update_id == bindparam("update_id"))
    return select(
        seen.exists(),
        *(staff[name] for name in SENDER_COLUMNS),
        _CONVERSATIONS.c.kind,
    ).select_from(
        one.outerjoin(_STAFF, staff.telegram_user_id == bindparam("telegram_user_id")).outerjoin(
            _CONVERSATIONS, _CONVERSATIONS.c.staff_id == staff.id
        )
    )


# Built once: every update runs these.
CLAIM = {dialect: _claim(dialect) for dialect in ("sqlite", "postgresql")}
_ARRIVAL = Direct(_arrival())


class ProcessedUpdates(Repository):
    """Telegram update ids already taken, so a redelivered update is handled once."""

    async def claim(self, update_id: int, *, at: datetime) -> bool:
        """Take ``update_id``; False if it was taken before (by this or another process)."""
        return bool(
            await direct.rows(
                self.session, CLAIM[self.dialect], {"update_id": update_id, "at": at}
            )
        )

    async def arrive(self, update_id: int, telegram_user_id: int | None) -> Arrival:
        """Whether ``update_id`` was handled before, and its sender's record and conversation.

        One SELECT, nothing written: the update is claimed with the first commit of
        the unit of work that handles it (see ``UnitOfWork``).
        """
        parameters = {"update_id": update_id, "telegram_user_id": telegram_user_id}
        (row,) = await direct.rows(self.session, _ARRIVAL, parameters)
        sender = tuple(row[1 : 1 + len(SENDER_COLUMNS)])
        return Arrival(
            seen=bool(row[0]),
            sender=None if sender[0] is None else sender,
            conversation=row[-1],
        )

    async def forget_before(self, moment: datetime) -> int:
        """Drop records older than ``moment`` (Telegram never redelivers that late)."""
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment)
        )
        return int(getattr(result, "rowcount", 0))
