"""The inbox: Telegram updates as they arrived, kept until the handlers are done with them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import InboxUpdate, ProcessedUpdate
from storage.repositories.base import Repository, rows_as

_INBOX = cast(Table, InboxUpdate.__table__)
_PROCESSED = cast(Table, ProcessedUpdate.__table__)


@dataclass(frozen=True, slots=True)
class Received:
    """An update to store: its id, its chat and its JSON as Telegram sent it."""

    update_id: int
    chat_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A stored update the handlers never finished, and how often they were given it."""

    update_id: int
    payload: dict[str, Any]
    attempts: int


class InboxRepository(Repository):
    """Every update received, written before its receipt is confirmed to Telegram."""

    async def accept(
        self, updates: Sequence[Received], *, at: datetime, hold: timedelta = timedelta(0)
    ) -> set[int]:
        """Store ``updates``, held for ``hold`` from ``at``; the ids that were new (an id
        stored before, by this process or another, is left alone)."""
        if not updates:
            return set()
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        rows = [
            {
                "update_id": item.update_id,
                "chat_id": item.chat_id,
                "payload": item.payload,
                "received_at": at,
                "attempts": 1,
                "held_until": at + hold,
            }
            for item in updates
        ]
        result = await self.session.execute(
            insert(_INBOX)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[_INBOX.c.update_id])
            .returning(_INBOX.c.update_id)
        )
        return set(result.scalars())

    async def unfinished(self, *, after: int | None, limit: int) -> list[Unfinished]:
        """The oldest updates after ``after`` neither finished nor claimed, in id order.

        An update whose first commit happened (its ``processed_updates`` claim) has had its
        effect: it is not given to the handlers again even if it was never marked finished.
        """
        claimed = select(_PROCESSED.c.update_id).where(
            _PROCESSED.c.update_id == _INBOX.c.update_id
        )
        query = (
            select(_INBOX.c.update_id, _INBOX.c.payload, _INBOX.c.attempts)
            .where(_INBOX.c.finished_at.is_(None), ~claimed.exists())
            .order_by(_INBOX.c.update_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(_INBOX.c.update_id > after)
        return rows_as(await self.session.execute(query), Unfinished)

    async def attempt(self, update_ids: Sequence[int]) -> None:
        """Count one more time each of ``update_ids`` is given to the handlers."""
        if update_ids:
            await self.session.execute(
                update(_INBOX)
                .where(_INBOX.c.update_id.in_(update_ids))
                .values(attempts=_INBOX.c.attempts + 1)
            )

    async def finish(self, update_ids: Sequence[int], *, at: datetime) -> None:
        """Mark ``update_ids`` as done with: a restart does not replay them."""
        if update_ids:
            await self.session.execute(
                update(_INBOX)
                .where(_INBOX.c.update_id.in_(update_ids), _INBOX.c.finished_at.is_(None))
                .values(finished_at=at)
            )

    async def hold(self, update_ids: Sequence[int], *, until: datetime) -> None:
        """Keep holding ``update_ids`` (still being handled here) until ``until``."""
        if update_ids:
            await self.session.execute(
                update(_INBOX)
                .where(_INBOX.c.update_id.in_(update_ids), _INBOX.c.finished_at.is_(None))
                .values(held_until=until)
            )

    async def take_unheld(self, *, now: datetime, until: datetime, limit: int) -> list[Unfinished]:
        """Take over the oldest unfinished, unclaimed updates nobody holds at ``now``.

        Each is held until ``until`` and counted as one more attempt (``attempts`` is
        the count before this one). On PostgreSQL rows another process is taking at
        the same moment are skipped (``SKIP LOCKED``): each is taken by one of them.
        """
        claimed = select(_PROCESSED.c.update_id).where(
            _PROCESSED.c.update_id == _INBOX.c.update_id
        )
        unheld = (
            select(_INBOX.c.update_id)
            .where(
                _INBOX.c.finished_at.is_(None),
                or_(_INBOX.c.held_until.is_(None), _INBOX.c.held_until < now),
                ~claimed.exists(),
            )
            .order_by(_INBOX.c.update_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self.session.execute(
            update(_INBOX)
            .where(_INBOX.c.update_id.in_(unheld.scalar_subquery()))
            .values(held_until=until, attempts=_INBOX.c.attempts + 1)
            .returning(_INBOX.c.update_id, _INBOX.c.payload, _INBOX.c.attempts - 1)
        )
        taken = [Unfinished(row[0], row[1], row[2]) for row in result]
        return sorted(taken, key=lambda row: row.update_id)

    async def forget_before(self, moment: datetime) -> int:
        """Drop updates received before ``moment``, finished or not."""
        result = await self.session.execute(delete(_INBOX).where(_INBOX.c.received_at < moment))
        return int(getattr(result, "rowcount", 0))
