"""Everything the bot sends on its own goes into the outbox, in the transaction that caused it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.uow import UnitOfWork

# Lower goes first: a reminder does not wait behind ten thousand copies of a notice.
URGENT = 10
ROUTINE = 50
BULK = 100


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one chat, already rendered in the recipient's language.

    ``markup`` is the Bot API's ``reply_markup`` object, built by the adapter layer;
    ``dedup_key`` makes queueing the same message twice a no-op. ``request_entry_id``
    marks an approval request: once that entry is decided, the message is closed.
    """

    chat_id: int
    kind: str
    text: str | None = None
    parse_mode: str | None = None
    markup: dict[str, Any] | None = None
    attachment_kind: str | None = None
    attachment_file_id: str | None = None
    staff_id: int | None = None
    notice_id: int | None = None
    dedup_key: str | None = None
    priority: int = ROUTINE
    not_before: datetime | None = None
    request_entry_id: int | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        """The outbox row for this message."""
        return {
            "chat_id": self.chat_id,
            "kind": self.kind,
            "text": self.text,
            "parse_mode": self.parse_mode,
            "reply_markup": self.markup,
            "attachment_kind": self.attachment_kind,
            "attachment_file_id": self.attachment_file_id,
            "staff_id": self.staff_id,
            "notice_id": self.notice_id,
            "dedup_key": self.dedup_key,
            "priority": self.priority,
            "next_attempt_at": self.not_before or now,
            "created_at": now,
            "request_entry_id": self.request_entry_id,
        }


async def enqueue(
    uow: UnitOfWork, messages: Iterable[Outgoing], *, now: datetime | None = None
) -> int:
    """Queue messages in the caller's transaction; returns how many were new."""
    moment = now or datetime.now(UTC)
    return await uow.outbox.add_many([message.row(moment) for message in messages])
