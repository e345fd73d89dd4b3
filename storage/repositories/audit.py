"""The append-only audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, insert, literal, select
from sqlalchemy import cast as sql_cast

from storage import direct
from storage.direct import Direct
from storage.models import AuditEvent, WorkEntry
from storage.repositories.base import Repository

_EVENTS = cast(Table, AuditEvent.__table__)
_EVENT_COLUMNS = (
    "at", "actor_staff_id", "actor_telegram_id", "action", "subject_type", "subject_id", "details",
)  # fmt: skip
# Built once: decisions append one event per press.
_APPEND = Direct(
    insert(_EVENTS).values(
        {name: bindparam(name, type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS}
    )
)


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

    async def append(
        self,
        action: str,
        subject_type: str,
        subject_id: str | int | None,
        *,
        at: datetime,
        actor_staff_id: int | None = None,
        actor_telegram_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """``record`` written at once, with one prepared statement (for hot paths).

        Unlike ``record`` it is not deferred to the flush, so its actor must be stored.
        """
        await direct.rows(
            self.session,
            _APPEND,
            {
                "at": at,
                "actor_staff_id": actor_staff_id,
                "actor_telegram_id": actor_telegram_id,
                "action": action,
                "subject_type": subject_type,
                "subject_id": None if subject_id is None else str(subject_id),
                "details": details or {},
            },
        )

    async def record_for_entries(
        self,
        entry_ids: Sequence[int],
        action: str,
        *,
        at: datetime,
        actor_staff_id: int | None,
        actor_telegram_id: int | None,
        details: dict[str, Any],
    ) -> None:
        """The same event for many work entries, written by the database in one statement
        per thousand (INSERT ... SELECT)."""
        entries = cast(Table, WorkEntry.__table__)
        for start in range(0, len(entry_ids), 1000):
            chunk = list(entry_ids[start : start + 1000])
            await self.session.execute(
                insert(_EVENTS).from_select(
                    list(_EVENT_COLUMNS),
                    select(
                        literal(at, _EVENTS.c.at.type),
                        literal(actor_staff_id, _EVENTS.c.actor_staff_id.type),
                        literal(actor_telegram_id, _EVENTS.c.actor_telegram_id.type),
                        literal(action, _EVENTS.c.action.type),
                        literal("work_entry", _EVENTS.c.subject_type.type),
                        sql_cast(entries.c.id, String),
                        literal(details, _EVENTS.c.details.type),
                    ).where(entries.c.id.in_(chunk)),
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
        # A Core executemany: no ORM bulk machinery for a thousand plain rows.
        await self.session.execute(insert(_EVENTS), rows)

    async def events(self, subject_type: str | None = None) -> list[AuditEvent]:
        """Events in the order they happened, optionally for one kind of subject."""
        query = select(AuditEvent).order_by(AuditEvent.id)
        if subject_type is not None:
            query = query.where(AuditEvent.subject_type == subject_type)
        return list(await self.session.scalars(query))
