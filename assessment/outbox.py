"""Everything the bot sends on its own goes into the outbox, in the transaction that caused it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assessment.batches import BATCH_SIZE, Window, run_in_batches
from storage.repositories.selection import Languages, Selection
from storage.uow import UnitOfWork

__all__ = [
    "BULK",
    "ROUTINE",
    "URGENT",
    "Circular",
    "Languages",
    "Outgoing",
    "circulate",
    "enqueue",
]

log = logging.getLogger(__name__)

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
            **_content(self, now),
            "chat_id": self.chat_id,
            "staff_id": self.staff_id,
            "dedup_key": self.dedup_key,
            "request_entry_id": self.request_entry_id,
        }


@dataclass(frozen=True, slots=True)
class Circular:
    """One message to many people who read the same language, queued by the store.

    The store gives each copy the person's chat and ``staff_id``, and a dedup key of
    ``key`` followed by their staff id, so queueing a person's copy twice is a no-op.
    """

    kind: str
    key: str
    text: str | None = None
    parse_mode: str | None = None
    markup: dict[str, Any] | None = None
    attachment_kind: str | None = None
    attachment_file_id: str | None = None
    notice_id: int | None = None
    priority: int = ROUTINE
    not_before: datetime | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        """The columns every copy shares (``dedup_key`` is the key's first part)."""
        return {**_content(self, now), "dedup_key": self.key}


def _content(message: Outgoing | Circular, now: datetime) -> dict[str, Any]:
    """The columns of what is sent, and when: the same for one message and for many."""
    return {
        "kind": message.kind,
        "text": message.text,
        "parse_mode": message.parse_mode,
        "reply_markup": message.markup,
        "attachment_kind": message.attachment_kind,
        "attachment_file_id": message.attachment_file_id,
        "notice_id": message.notice_id,
        "priority": message.priority,
        "next_attempt_at": message.not_before or now,
        "created_at": now,
    }


async def enqueue(uow: UnitOfWork, messages: Iterable[Outgoing], *, now: datetime) -> int:
    """Queue messages in the caller's transaction; returns how many were new.

    For the few messages one use case causes, written with the change that causes
    them. A job over many people writes them in batches instead (``assessment.batches``).
    """
    rows = [message.row(now) for message in messages]
    if len(rows) > BATCH_SIZE:
        log.warning("%d messages queued in one transaction: other writers wait for it", len(rows))
    return await uow.outbox.add_many(rows)


# One copy per language found in a window, each the people of those languages.
_Copies = list[tuple[list[Languages], Circular]]


async def circulate(
    uows: Callable[[], UnitOfWork],
    key: str,
    people: Callable[[UnitOfWork], Selection],
    render: Callable[[Languages], Circular],
    *,
    now: datetime,
    size: int = BATCH_SIZE,
) -> int | None:
    """Queue a copy of ``render``'s circular for everyone ``people`` picks, once, in batches.

    Python renders one copy per language a batch's people read; the database writes
    each person's row (INSERT ... SELECT). See ``assessment.batches`` for the batches
    and what ``key`` and the result mean.
    """
    rendered: dict[Languages, Circular] = {}

    async def prepare(uow: UnitOfWork, window: Window) -> _Copies | None:
        copies: _Copies = []
        for languages in await uow.outbox.languages_of(people(uow), window.after, window.through):
            if languages not in rendered:
                rendered[languages] = render(languages)
            copy = rendered[languages]
            for readers, same in copies:
                if same == copy:
                    readers.append(languages)
                    break
            else:
                copies.append(([languages], copy))
        return copies or None

    async def write(uow: UnitOfWork, window: Window, copies: _Copies) -> int:
        selection = people(uow)
        written = 0
        for readers, copy in copies:
            written += await uow.outbox.add_copies(
                selection, window.after, window.through, readers, copy.row(now)
            )
        return written

    return await run_in_batches(uows, key, prepare, write, now=now, size=size)
