"""The append-only audit log, and the one way an audit event is made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, insert, literal, select
from sqlalchemy import cast as sql_cast

from storage.models import AuditEvent, WorkEntry
from storage.repositories.base import Repository

_EVENTS = cast(Table, AuditEvent.__table__)
# Rows per INSERT ... SELECT of one event for many entries (bound ids per statement).
_ENTRIES_PER_STATEMENT = 1000


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event: what happened to which subject, when, by whom, with what details.

    The only constructor of audit rows: every writer of the log builds one of these.
    """

    action: str
    subject_type: str
    subject_id: str | int | None
    at: datetime
    actor_staff_id: int | None = None
    actor_telegram_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The event as the ``audit_log`` table's column values."""
        return {
            "at": self.at,
            "actor_staff_id": self.actor_staff_id,
            "actor_telegram_id": self.actor_telegram_id,
            "action": self.action,
            "subject_type": self.subject_type,
            "subject_id": None if self.subject_id is None else str(self.subject_id),
            "details": dict(self.details),
        }


class AuditLog(Repository):
    """The append-only audit log: events are added, never changed."""

    async def add(self, event: Event) -> None:
        """Append one event, in the caller's transaction (after what is staged before it)."""
        await self.session.execute(insert(AuditEvent).values(event.row()))

    async def add_many(self, events: Sequence[Event]) -> None:
        """Append many events in one executemany, in the caller's transaction."""
        if events:
            # Core, not the ORM's bulk insert, for plain rows; what is staged goes first.
            await self.session.flush()
            await self.session.execute(insert(_EVENTS), [event.row() for event in events])

    async def add_for_entries(self, entry_ids: Sequence[int], event: Event) -> None:
        """``event`` once for each of these work entries (its subject), written by the
        database itself: one INSERT ... SELECT per thousand entries."""
        entries = cast(Table, WorkEntry.__table__)
        row = event.row()
        await self.session.flush()
        for start in range(0, len(entry_ids), _ENTRIES_PER_STATEMENT):
            chunk = list(entry_ids[start : start + _ENTRIES_PER_STATEMENT])
            await self.session.execute(
                insert(_EVENTS).from_select(
                    [
                        "at", "actor_staff_id", "actor_telegram_id", "action", "subject_type",
                        "subject_id", "details",
                    ],
                    select(
                        *(
                            literal(row[name], _EVENTS.c[name].type)
                            for name in (
                                "at", "actor_staff_id", "actor_telegram_id", "action",
                                "subject_type",
                            )
                        ),
                        sql_cast(entries.c.id, String),
                        literal(row["details"], _EVENTS.c.details.type),
                    ).where(entries.c.id.in_(chunk)),
                )
            )  # fmt: skip

    async def events(self, subject_type: str | None = None) -> list[AuditEvent]:
        """Events in the order they happened, optionally for one kind of subject."""
        query = select(AuditEvent).order_by(AuditEvent.id)
        if subject_type is not None:
            query = query.where(AuditEvent.subject_type == subject_type)
        return list(await self.session.scalars(query))
