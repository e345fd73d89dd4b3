"""The append-only audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

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

    async def events(self, subject_type: str | None = None) -> list[AuditEvent]:
        """Events in the order they happened, optionally for one kind of subject."""
        query = select(AuditEvent).order_by(AuditEvent.id)
        if subject_type is not None:
            query = query.where(AuditEvent.subject_type == subject_type)
        return list(await self.session.scalars(query))
