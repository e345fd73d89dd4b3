"""Notices HR broadcasts: compose, choose the audience, queue, follow delivery and reading.

The draft is kept in the store, so composing survives a restart. Confirming marks
the notice queued; its copies, one outbox row per linked recipient, are then written
in batches (``queue_copies``), so ten thousand of them never hold the store at once.
A notice is finished only once every copy is queued and settled; if the bot stops
half-way, the next progress tick queues the rest, each person once. People not
linked yet are listed, never silently skipped.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from assessment.batches import BATCH_SIZE
from assessment.outbox import BULK, ROUTINE, Circular, Languages, Outgoing, circulate, enqueue
from storage.enums import DeliveryStatus, NoticeStatus, StaffStatus
from storage.models import Notice
from storage.repositories.notices import DeliveryLine, Person
from storage.repositories.updates import NOTICE_CONTENT
from storage.uow import UnitOfWork

__all__ = [
    "AUDIENCE_KINDS",
    "NOTICE_CONTENT",
    "Audience",
    "DeliveryLine",
    "Draft",
    "Languages",
    "NoticeError",
    "Person",
    "Progress",
    "Review",
]

AUDIENCE_KINDS = ("everyone", "departments", "roles", "post_types", "statuses")
ROLE_VALUES = ("staff", "supervisor", "hr", "admin")
STATUS_VALUES = (StaffStatus.ACTIVE.value, StaffStatus.SECOND_LINE.value)


class NoticeError(enum.StrEnum):
    """Why a notice action changed nothing."""

    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    ALREADY_QUEUED = "already_queued"
    NO_CONTENT = "no_content"
    NO_AUDIENCE = "no_audience"
    NO_RECIPIENTS = "no_recipients"
    NOT_RECIPIENT = "not_recipient"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a notice goes to: everyone, or people matching any of ``values`` of one kind."""

    kind: str = "everyone"
    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, stored: dict[str, object]) -> Audience:
        """The audience stored on a notice."""
        kind = str(stored.get("kind", ""))
        raw = stored.get("values", ())
        values = tuple(str(v) for v in raw) if isinstance(raw, list | tuple) else ()
        return cls(kind, values)

    def stored(self) -> dict[str, object]:
        """The form kept on the notice."""
        return {"kind": self.kind, "values": list(self.values)}

    @property
    def complete(self) -> bool:
        """Whether it names anyone at all."""
        return self.kind == "everyone" or (self.kind in AUDIENCE_KINDS and bool(self.values))

    def toggled(self, value: str) -> Audience:
        """The same audience with ``value`` added or removed."""
        values = tuple(v for v in self.values if v != value)
        if len(values) == len(self.values):
            values = (*self.values, value)
        return Audience(self.kind, values)


@dataclass(frozen=True, slots=True)
class Draft:
    """A notice being composed, as the composer sees it."""

    id: int
    text: str | None
    attachment_kind: str | None
    attachment_file_id: str | None
    audience: Audience
    requires_ack: bool
    send_at: datetime | None
    recipients: int = 0
    not_linked: tuple[str, ...] = ()

    @classmethod
    def of(cls, notice: Notice, recipients: int = 0, not_linked: Sequence[str] = ()) -> Draft:
        """Snapshot a stored notice."""
        return cls(
            notice.id,
            notice.text,
            notice.attachment_kind,
            notice.attachment_file_id,
            Audience.of(notice.audience),
            notice.requires_ack,
            notice.send_at,
            recipients,
            tuple(not_linked),
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a queued notice's delivery stands."""

    notice_id: int
    recipients: int
    counts: dict[DeliveryStatus, int] = field(default_factory=dict)
    acknowledged: int = 0
    not_linked: tuple[str, ...] = ()
    send_at: datetime | None = None
    progress_chat_id: int | None = None
    progress_message_id: int | None = None
    progress_text: str | None = None
    author_language: str | None = None
    author_telegram_language: str | None = None
    all_queued: bool = True

    @property
    def sent(self) -> int:
        """Copies Telegram accepted."""
        return self.counts.get(DeliveryStatus.SENT, 0)

    @property
    def failed(self) -> int:
        """Copies that failed for good."""
        return self.counts.get(DeliveryStatus.FAILED, 0)

    @property
    def unreachable(self) -> int:
        """Copies for people who blocked the bot."""
        return self.counts.get(DeliveryStatus.UNREACHABLE, 0)

    @property
    def waiting(self) -> int:
        """Copies not settled yet."""
        return self.counts.get(DeliveryStatus.PENDING, 0) + self.counts.get(
            DeliveryStatus.SENDING, 0
        )

    @property
    def finished(self) -> bool:
        """Every copy is queued and settled."""
        return self.all_queued and self.waiting == 0


async def start(uow: UnitOfWork, author_id: int) -> int:
    """Begin a new draft (dropping any unfinished one of this author)."""
    await uow.notices.drop_drafts_of(author_id)
    notice = await uow.notices.add(Notice(created_by_id=author_id, audience={}))
    await uow.commit()
    return notice.id


async def draft_of(uow: UnitOfWork, author_id: int) -> Draft | None:
    """The author's draft in progress, if any."""
    notice = await uow.notices.draft_of(author_id)
    return None if notice is None else Draft.of(notice)


async def _own_draft(uow: UnitOfWork, notice_id: int, author_id: int) -> Notice | NoticeError:
    notice = await uow.notices.get(notice_id)
    if notice is None:
        return NoticeError.UNKNOWN
    if notice.created_by_id != author_id:
        return NoticeError.NOT_YOURS
    if notice.status is not NoticeStatus.DRAFT:
        return NoticeError.ALREADY_QUEUED
    return notice


async def set_content(
    uow: UnitOfWork,
    notice_id: int,
    author_id: int,
    *,
    text: str | None,
    attachment_kind: str | None = None,
    attachment_file_id: str | None = None,
) -> Draft | NoticeError:
    """The notice's text (Telegram HTML) and optional document or photo."""
    notice = await _own_draft(uow, notice_id, author_id)
    if isinstance(notice, NoticeError):
        return notice
    notice.text = text
    notice.attachment_kind = attachment_kind
    notice.attachment_file_id = attachment_file_id
    await uow.commit()
    return Draft.of(notice)


async def change(
    uow: UnitOfWork,
    notice_id: int,
    author_id: int,
    edit: Callable[[Draft], Draft],
) -> Draft | NoticeError:
    """Change the draft's audience or options, and count its recipients afresh."""
    notice = await _own_draft(uow, notice_id, author_id)
    if isinstance(notice, NoticeError):
        return notice
    changed = edit(Draft.of(notice))
    notice.audience = changed.audience.stored()
    notice.requires_ack = changed.requires_ack
    notice.send_at = changed.send_at
    recipients, not_linked = 0, list[str]()
    if changed.audience.complete:
        recipients, not_linked = await uow.notices.audience_size(
            changed.audience.kind, changed.audience.values
        )
    notice.recipients = recipients
    notice.not_linked = not_linked
    await uow.commit()
    return Draft.of(notice, recipients, not_linked)


async def cancel(uow: UnitOfWork, notice_id: int, author_id: int) -> NoticeError | None:
    """Drop a draft."""
    notice = await _own_draft(uow, notice_id, author_id)
    if isinstance(notice, NoticeError):
        return notice
    await uow.notices.move(notice_id, NoticeStatus.DRAFT, NoticeStatus.CANCELLED)
    await uow.commit()
    return None


async def queue(
    uow: UnitOfWork,
    notice_id: int,
    author_id: int,
    *,
    now: datetime,
    progress_chat_id: int,
    progress_message_id: int | None = None,
) -> Progress | NoticeError:
    """Mark the notice queued, once: the author's confirmation wins once.

    ``progress_message_id`` is the message the author's progress is to be shown in (the
    confirmation, edited), recorded in the same transaction: whichever bot process shows
    the first figures, the press or the progress job, edits that one message, so the
    author never gets a second. Its copies are queued next, by ``queue_copies``.
    """
    notice = await _own_draft(uow, notice_id, author_id)
    if isinstance(notice, NoticeError):
        return notice
    if not notice.text and not notice.attachment_file_id:
        return NoticeError.NO_CONTENT
    audience = Audience.of(notice.audience)
    if not audience.complete:
        return NoticeError.NO_AUDIENCE
    recipients, not_linked = await uow.notices.audience_size(audience.kind, audience.values)
    if not recipients:
        return NoticeError.NO_RECIPIENTS
    if not await uow.notices.move(notice_id, NoticeStatus.DRAFT, NoticeStatus.QUEUED):
        return NoticeError.ALREADY_QUEUED
    notice.recipients = recipients
    notice.not_linked = not_linked
    notice.queued_at = now
    notice.progress_chat_id = progress_chat_id
    notice.progress_message_id = progress_message_id
    await uow.commit()
    return Progress(
        notice.id,
        notice.recipients,
        {DeliveryStatus.PENDING: notice.recipients},
        not_linked=tuple(notice.not_linked),
        send_at=notice.send_at,
        progress_chat_id=progress_chat_id,
        progress_message_id=progress_message_id,
        all_queued=False,
    )


def _copies_key(notice_id: int) -> str:
    return f"notice/{notice_id}/copies"


async def queue_copies(
    uows: Callable[[], UnitOfWork],
    notice_id: int,
    render: Callable[[Draft, str, Languages], Circular],
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> int | None:
    """Queue a queued notice's copies, one per linked recipient, in batches, once.

    Args:
        uows: Makes a fresh unit of work (each batch is its own transaction).
        notice_id: The notice.
        render: The copy for the notice, its author's name and one language (see
            ``copy_for``).
        now: The current moment (aware).
        batch_size: Staff ids per batch (see ``assessment.batches``).

    Returns:
        How many copies this call queued; None if there was nothing left to queue.
    """
    async with uows() as uow:
        notice = await uow.notices.get(notice_id)
        if notice is None or notice.status is not NoticeStatus.QUEUED:
            return None
        author = await uow.staff.get(notice.created_by_id)
    draft = Draft.of(notice)
    name = author.name if author else ""
    audience = draft.audience
    return await circulate(
        uows,
        _copies_key(notice_id),
        lambda uow: uow.notices.reached(audience.kind, audience.values),
        lambda languages: render(draft, name, languages),
        now=now,
        size=batch_size,
    )


def copy_for(notice: Draft, *, text: str | None, markup: dict[str, object] | None) -> Circular:
    """The copy of a notice for everyone who reads one language (text already in it)."""
    return Circular(
        kind="notice",
        # Each person's copy: notice:7:staff:42.
        key=f"notice:{notice.id}:staff:",
        text=text,
        parse_mode="HTML",
        markup=markup,
        attachment_kind=notice.attachment_kind,
        attachment_file_id=notice.attachment_file_id,
        notice_id=notice.id,
        priority=BULK,
        not_before=notice.send_at,
    )


async def progress(uow: UnitOfWork, notice_id: int) -> Progress | None:
    """Delivery and reading figures of a queued or finished notice."""
    notice = await uow.notices.get(notice_id)
    if notice is None or notice.status in (NoticeStatus.DRAFT, NoticeStatus.CANCELLED):
        return None
    author = await uow.staff.get(notice.created_by_id)
    # Whether every copy is queued, read before the copies are counted: the claim is
    # written once the last copy is, so counts read after it see them all (on
    # PostgreSQL each statement reads what was committed when it began).
    queued = notice.status is NoticeStatus.DONE or await uow.claims.claimed(_copies_key(notice_id))
    return Progress(
        notice.id,
        notice.recipients,
        await uow.outbox.counts(notice_id),
        await uow.notices.ack_count(notice_id),
        tuple(notice.not_linked),
        notice.send_at,
        notice.progress_chat_id,
        notice.progress_message_id,
        notice.progress_text,
        author.language if author else None,
        author.telegram_language if author else None,
        queued,
    )


async def in_progress(uow: UnitOfWork) -> list[Progress]:
    """Every notice still on its way."""
    found = []
    for notice in await uow.notices.queued():
        figures = await progress(uow, notice.id)
        if figures is not None:
            found.append(figures)
    return found


async def take_progress(
    uow: UnitOfWork, notice_id: int, shown: str | None, text: str | None
) -> bool:
    """Claim the showing of ``text`` to the author in place of ``shown``: True for the one
    process (of those refreshing the progress at once) that should show it. Called the other
    way round, it hands back a step that could not be shown."""
    taken = await uow.notices.take_progress(notice_id, shown, text)
    await uow.commit()
    return taken


async def record_progress_message(
    uow: UnitOfWork,
    notice_id: int,
    message_id: int | None,
    text: str,
    *,
    finished_at: datetime | None,
) -> None:
    """Remember the progress message shown to the author, and close the notice when done."""
    notice = await uow.notices.get(notice_id)
    if notice is None:
        return
    if message_id is not None:
        notice.progress_message_id = message_id
    notice.progress_text = text
    if finished_at is not None:
        notice.finished_at = finished_at
        await uow.notices.move(notice_id, NoticeStatus.QUEUED, NoticeStatus.DONE)
    await uow.commit()


async def acknowledge(
    uow: UnitOfWork, notice_id: int, staff_id: int, *, now: datetime
) -> tuple[datetime, bool] | NoticeError:
    """Record that a recipient read the notice: when they first said so, and if that is now."""
    if not await uow.notices.is_recipient(notice_id, staff_id):
        return NoticeError.NOT_RECIPIENT
    first = await uow.notices.acknowledge(notice_id, staff_id, now)
    await uow.commit()
    return first


async def recent(uow: UnitOfWork, limit: int = 10) -> list[tuple[Draft, Progress]]:
    """The latest notices with their figures, newest first."""
    found = []
    for notice in await uow.notices.recent(limit):
        figures = await progress(uow, notice.id)
        if figures is not None:
            found.append((Draft.of(notice, notice.recipients, notice.not_linked), figures))
    return found


async def not_acknowledged(uow: UnitOfWork, notice_id: int) -> list[Person]:
    """Recipients who received the notice and have not acknowledged it."""
    return await uow.notices.not_acknowledged(notice_id)


async def remind(
    uow: UnitOfWork,
    notice_id: int,
    render: Callable[[Person], Outgoing],
    *,
    now: datetime,
) -> int:
    """Queue a reminder to each recipient who has not acknowledged; returns how many.

    Only a sent (or sending) notice that asked for read confirmation has anyone to
    remind; for any other, nothing is queued.
    """
    notice = await uow.notices.get(notice_id)
    if (
        notice is None
        or not notice.requires_ack
        or notice.status not in (NoticeStatus.QUEUED, NoticeStatus.DONE)
    ):
        return 0
    people = [p for p in await uow.notices.not_acknowledged(notice_id) if p.telegram_user_id]
    queued = await enqueue(uow, [render(person) for person in people], now=now)
    await uow.commit()
    return queued


def reminder_for(
    notice_id: int, person: Person, *, text: str, markup: dict[str, object] | None, now: datetime
) -> Outgoing:
    """The outbox row of one reminder (once per person per hour, however often HR presses)."""
    return Outgoing(
        chat_id=person.telegram_user_id or 0,
        kind="notice_reminder",
        text=text,
        parse_mode="HTML",
        markup=markup,
        staff_id=person.staff_id,
        notice_id=notice_id,
        dedup_key=f"notice:{notice_id}:remind:{now:%Y%m%d%H}:staff:{person.staff_id}",
        priority=ROUTINE,
    )


async def delivery_list(uow: UnitOfWork, notice_id: int) -> list[DeliveryLine]:
    """Every recipient's delivery state and acknowledgement, for export."""
    return await uow.notices.delivery_list(notice_id)


@dataclass(frozen=True, slots=True)
class Review:
    """A queued or finished notice as HR looks back at it: content, author, figures."""

    notice: Draft
    figures: Progress
    author: str
    queued_at: datetime | None


async def _reviewed(uow: UnitOfWork, notice: Draft, figures: Progress) -> Review:
    # ``progress`` already loaded the notice and its author: these come from the session.
    stored = await uow.notices.get(notice.id)
    author = await uow.staff.get(stored.created_by_id) if stored else None
    return Review(
        notice, figures, author.name if author else "", stored.queued_at if stored else None
    )


async def reviews(uow: UnitOfWork, limit: int = 10) -> list[Review]:
    """The latest queued or finished notices with their authors, newest first."""
    return [await _reviewed(uow, notice, figures) for notice, figures in await recent(uow, limit)]


async def review(uow: UnitOfWork, notice_id: int) -> Review | None:
    """One queued or finished notice; None for drafts, cancelled notices and unknown ids."""
    figures = await progress(uow, notice_id)
    stored = await uow.notices.get(notice_id)
    if figures is None or stored is None:
        return None
    return await _reviewed(uow, Draft.of(stored, stored.recipients, stored.not_linked), figures)
