"""The append-only audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select

from storage.models import AuditEvent
from storage.repositories.base import Repository


class AuditLog(Repository):
    """The append-only audit log: events are added, never changed."""

    async def record(
        self,
        action: str,
        subject_type: str,
        subject_id: str | int | None = None,
        *,
        actor_staff_id: int | None = None,
        actor_telegram_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one event to the log, in the caller's transaction."""
        self.session.add(
            AuditEvent(
                action=action,
                subject_type=subject_type,
                subject_id=None if subject_id is None else str(subject_id),
                actor_staff_id=actor_staff_id,
                actor_telegram_id=actor_telegram_id,
                details=details or {},
            )
        )

    async def record_many(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Append many events at once (bulk decisions), in the caller's transaction.

        Each needs ``at``, ``action`` and ``subject_type``; ``actor_staff_id``,
        ``actor_telegram_id``, ``subject_id`` and ``details`` may be left out.
        """
        if not events:
            return
        rows = [
            {
                "actor_staff_id": None,
                "actor_telegram_id": None,
                "subject_id": None,
                "details": {},
                **event,
            }
            for event in events
        ]
        await self.session.execute(insert(AuditEvent), rows)

    async def events(self, subject_type: str | None = None) -> list[AuditEvent]:
        """Events in the order they happened, optionally for one kind of subject."""
        query = select(AuditEvent).order_by(AuditEvent.id)
        if subject_type is not None:
            query = query.where(AuditEvent.subject_type == subject_type)
        return list(await self.session.scalars(query))
