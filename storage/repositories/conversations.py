"""Multi-step exchanges in progress, one per person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import Conversation
from storage.repositories.base import Repository, rows_as


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """Where a person is in a conversation, as read from the store."""

    kind: str
    step: str
    data: dict[str, Any]
    updated_at: datetime


class ConversationRepository(Repository):
    """Where each person is in a conversation such as /log; a person has at most one."""

    async def get(
        self, staff_id: int, *, since: datetime | None = None
    ) -> StoredConversation | None:
        """The person's conversation, if any (and, with ``since``, if touched since then)."""
        query = select(
            Conversation.kind, Conversation.step, Conversation.data, Conversation.updated_at
        ).where(Conversation.staff_id == staff_id)
        if since is not None:
            query = query.where(Conversation.updated_at >= since)
        found = rows_as(await self.session.execute(query), StoredConversation)
        return found[0] if found else None

    async def save(
        self, staff_id: int, kind: str, step: str, data: dict[str, Any], *, at: datetime
    ) -> None:
        """Start or move on the person's conversation (replacing any other one they had)."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = insert(Conversation).values(
            staff_id=staff_id, kind=kind, step=step, data=data, updated_at=at
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Conversation.staff_id],
                set_={
                    column: statement.excluded[column]
                    for column in ("kind", "step", "data", "updated_at")
                },
            )
        )

    async def drop(self, staff_id: int) -> bool:
        """End the person's conversation; False if they had none."""
        result = await self.session.execute(
            delete(Conversation).where(Conversation.staff_id == staff_id)
        )
        return bool(getattr(result, "rowcount", 0))
