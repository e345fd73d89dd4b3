"""Telegram update ids already handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import ProcessedUpdate
from storage.repositories.base import Repository


class ProcessedUpdates(Repository):
    """Telegram update ids already taken, so a redelivered update is handled once."""

    async def claim(self, update_id: int) -> bool:
        """Take ``update_id``; False if it was taken before (by this or another process)."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(ProcessedUpdate)
            .values(update_id=update_id)
            .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
        )
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def forget_before(self, moment: datetime) -> int:
        """Drop records older than ``moment`` (Telegram never redelivers that late)."""
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment)
        )
        return int(getattr(result, "rowcount", 0))
