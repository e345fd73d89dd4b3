"""Daily work entries, their revisions and their attachments."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Select, String, Table, bindparam, func, insert, select, true, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert

from storage import direct
from storage.direct import Direct
from storage.enums import EntryStatus, NoticeStatus, StaffStatus
from storage.models import (
    AuditEvent,
    Conversation,
    EntryAttachment,
    EntryRevision,
    Notice,
    Post,
    ProcessedUpdate,
    Staff,
    WorkEntry,
)
from storage.repositories.base import Repository
from storage.repositories.updates import CLAIM, SENDER_COLUMNS

_ENTRIES = cast(Table, WorkEntry.__table__)
_EVENTS = cast(Table, AuditEvent.__table__)
# The columns a new entry and its audit event are written with, in the quick log.
ENTRY_COLUMNS = ("staff_id", "work_date", "text", "status", "created_at", "updated_at", "version")
EVENT_COLUMNS = ("at", "actor_staff_id", "action", "subject_type", "details")

# Built once: the quick log runs these for every plain message, and building and
# caching a statement costs more than sending it. Table (Core) statements, not ORM
# ones, so no ORM bulk-insert machinery runs either.
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)
_INSERT_EVENT = insert(_EVENTS)
_QUICK_ENTRY = Direct(
    insert(_ENTRIES)
    .values({name: bindparam(name, type_=_ENTRIES.c[name].type) for name in ENTRY_COLUMNS})
    .returning(_ENTRIES.c.id)
)
_QUICK_EVENT = Direct(
    insert(_EVENTS).values(
        {
            name: bindparam(name, type_=_EVENTS.c[name].type)
            for name in (*EVENT_COLUMNS, "subject_id")
        }
    )
)


def _entry_with_event() -> Select[Any]:
    """PostgreSQL: the entry and its audit event in one statement (a data-modifying WITH)."""
    entry = (
        insert(_ENTRIES)
        .values({name: bindparam(name, type_=_ENTRIES.c[name].type) for name in ENTRY_COLUMNS})
        .returning(_ENTRIES.c.id)
        .cte("new_entry")
    )
    values = [bindparam(name, type_=_EVENTS.c[name].type) for name in EVENT_COLUMNS]
    event = (
        insert(_EVENTS)
        .from_select(
            [*EVENT_COLUMNS, "subject_id"],
            select(*values, sql_cast(entry.c.id, String)).select_from(entry),
        )
        .cte("new_event")
    )
    return select(entry.c.id).add_cte(event)


_INSERT_ENTRY_WITH_EVENT = _entry_with_event()

_STAFF = cast(Table, Staff.__table__)


def _sender() -> Select[Any]:
    """The linked, active staff member behind a Telegram account, if nothing else is asked.

    Nothing else asked: no /log or edit waiting for an answer, no notice draft waiting
    for its content. Otherwise their message is an answer, not an entry.
    """
    staff = _STAFF.c
    conversations = cast(Table, Conversation.__table__).c
    notices = cast(Table, Notice.__table__).c
    return select(*(staff[name] for name in SENDER_COLUMNS)).where(
        staff.telegram_user_id == bindparam("telegram_user_id"),
        staff.status != StaffStatus.LEFT,
        ~select(conversations.staff_id).where(conversations.staff_id == staff.id).exists(),
        ~select(notices.id)
        .where(notices.created_by_id == staff.id, notices.status == NoticeStatus.DRAFT)
        .exists(),
    )


def _sender_logs_in_one() -> Select[Any]:
    """PostgreSQL: the sender, the update's claim, the entry and its event in one statement."""
    updates = cast(Table, ProcessedUpdate.__table__)
    sender = _sender().cte("sender")
    claim = (
        pg_insert(updates)
        .from_select(
            ["update_id", "processed_at"],
            select(
                bindparam("update_id", type_=updates.c.update_id.type),
                bindparam("at", type_=updates.c.processed_at.type),
            ).select_from(sender),
        )
        .on_conflict_do_nothing(index_elements=[updates.c.update_id])
        .returning(updates.c.update_id)
        .cte("claim")
    )
    entry_values = [
        bindparam(name, type_=_ENTRIES.c[name].type)
        for name in ENTRY_COLUMNS
        if name != "staff_id"
    ]
    entry = (
        insert(_ENTRIES)
        .from_select(
            ["staff_id", *(name for name in ENTRY_COLUMNS if name != "staff_id")],
            select(sender.c.id, *entry_values).select_from(sender.join(claim, true())),
        )
        .returning(_ENTRIES.c.id, _ENTRIES.c.staff_id)
        .cte("entry")
    )
    event_values = [
        bindparam(name, type_=_EVENTS.c[name].type)
        for name in EVENT_COLUMNS
        if name != "actor_staff_id"
    ]
    event = (
        insert(_EVENTS)
        .from_select(
            [
                "actor_staff_id",
                *(name for name in EVENT_COLUMNS if name != "actor_staff_id"),
                "subject_id",
            ],
            select(entry.c.staff_id, *event_values, sql_cast(entry.c.id, String)).select_from(
                entry
            ),
        )
        .cte("event")
    )
    return (
        select(entry.c.id, *(sender.c[name] for name in SENDER_COLUMNS))
        .select_from(sender.outerjoin(entry, true()))
        .add_cte(claim, event)
    )


_SENDER = Direct(_sender())
_CLAIM_SQLITE = CLAIM["sqlite"]
_SENDER_LOGS = Direct(_sender_logs_in_one())


class WorkEntryRepository(Repository):
    """Daily work entries, with what was changed on them and the evidence attached."""

    async def get(self, entry_id: int) -> WorkEntry | None:
        """The entry with this id."""
        return await self.session.get(WorkEntry, entry_id)

    async def add(self, entry: WorkEntry) -> WorkEntry:
        """Stage a new entry and give it an id."""
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def insert(self, values: Mapping[str, Any]) -> int:
        """Insert one entry from its column values; its new id.

        One Core INSERT ... RETURNING: nothing is read back but the id, so the
        ORM's flush machinery has nothing to do.
        """
        entry_id = await self.session.scalar(_INSERT_ENTRY, dict(values))
        assert entry_id is not None
        return int(entry_id)

    async def insert_with_event(self, entry: Mapping[str, Any], event: Mapping[str, Any]) -> int:
        """Insert an entry (``ENTRY_COLUMNS``) and its audit event (``EVENT_COLUMNS``); its id.

        The quick log's whole write. The event's subject is the new entry. On
        PostgreSQL both rows go in one statement, one round trip; SQLite, in the
        process, takes two.
        """
        if self.dialect == "postgresql":
            entry_id = await self.session.scalar(_INSERT_ENTRY_WITH_EVENT, {**entry, **event})
        else:
            ((entry_id,),) = await direct.rows(self.session, _QUICK_ENTRY, entry)
            await direct.rows(self.session, _QUICK_EVENT, {**event, "subject_id": str(entry_id)})
        assert entry_id is not None
        return int(entry_id)

    async def log_for_sender(
        self,
        telegram_user_id: int,
        update_id: int,
        entry: Mapping[str, Any],
        event: Mapping[str, Any],
    ) -> tuple[int, tuple[Any, ...]] | None:
        """A plain message's whole write: its entry, its audit event, its update's claim.

        Only if the sender is a linked, active member with nothing else asked of them
        (``_sender``) and the update is new; otherwise nothing is written and None
        comes back. ``entry`` has ``ENTRY_COLUMNS`` but the author, ``event`` has
        ``EVENT_COLUMNS`` but the actor: both are the sender. Returns the new entry's id
        and the sender's ``SENDER_COLUMNS``.

        One statement on PostgreSQL, atomic by itself (commit is then a no-op in an
        autocommit unit of work); four on SQLite, in the unit of work's transaction.
        """
        keys = {"telegram_user_id": telegram_user_id, "update_id": update_id, "at": event["at"]}
        connection = direct.Connection(self.session)
        if self.dialect == "postgresql":
            found = await connection.rows(_SENDER_LOGS, {**keys, **entry, **event})
            if not found or found[0][0] is None:
                return None
            return int(found[0][0]), tuple(found[0][1:])
        senders = await connection.rows(_SENDER, keys)
        if not senders:
            return None
        sender = senders[0]
        if not await connection.rows(_CLAIM_SQLITE, keys):
            return None
        author = {**entry, "staff_id": sender[0]}
        ((entry_id,),) = await connection.rows(_QUICK_ENTRY, author)
        await connection.rows(
            _QUICK_EVENT,
            {**event, "actor_staff_id": sender[0], "subject_id": str(entry_id)},
        )
        return int(entry_id), sender

    async def change(
        self,
        entry_id: int,
        version: int,
        statuses: Collection[EntryStatus],
        values: Mapping[str, Any],
    ) -> bool:
        """Change an entry only if it is still at ``version`` and in one of ``statuses``.

        A conditional UPDATE that also bumps the version, so of two changes that read
        the same version (two edits, an edit and a decision) exactly one wins.
        """
        result = await self.session.execute(
            update(WorkEntry)
            .where(
                WorkEntry.id == entry_id,
                WorkEntry.version == version,
                WorkEntry.status.in_(list(statuses)),
            )
            .values({**values, "version": WorkEntry.version + 1})
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def add_revision(self, revision: EntryRevision) -> None:
        """Keep an entry's values as they were before a change."""
        self.session.add(revision)
        await self.session.flush()

    async def revisions(self, entry_id: int) -> list[EntryRevision]:
        """An entry's earlier versions, oldest first."""
        return list(
            await self.session.scalars(
                select(EntryRevision)
                .where(EntryRevision.entry_id == entry_id)
                .order_by(EntryRevision.id)
            )
        )

    async def add_attachments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Attach evidence (one mapping of column values each), in one batch."""
        if rows:
            await self.session.execute(insert(EntryAttachment), [dict(row) for row in rows])

    async def attachments(self, entry_id: int) -> list[EntryAttachment]:
        """An entry's evidence, in the order it was added."""
        return list(
            await self.session.scalars(
                select(EntryAttachment)
                .where(EntryAttachment.entry_id == entry_id)
                .order_by(EntryAttachment.id)
            )
        )

    async def attachment_count(self, entry_id: int) -> int:
        """How many attachments an entry has."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(EntryAttachment)
            .where(EntryAttachment.entry_id == entry_id)
        )
        return int(count or 0)

    async def of_staff(self, staff_id: int, start: date, end: date) -> list[tuple[WorkEntry, int]]:
        """A person's entries dated ``start`` to ``end`` (both included), deleted ones left out.

        Each comes with its number of attachments; ordered by date, then as written.
        One query, served by the (staff_id, work_date) index.
        """
        attached = (
            select(func.count())
            .where(EntryAttachment.entry_id == WorkEntry.id)
            .correlate(WorkEntry)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            select(WorkEntry, attached)
            .where(
                WorkEntry.staff_id == staff_id,
                WorkEntry.work_date.between(start, end),
                WorkEntry.status != EntryStatus.DELETED,
            )
            .order_by(WorkEntry.work_date, WorkEntry.id)
        )
        return [(entry, int(count or 0)) for entry, count in rows]

    async def summaries(self, entry_ids: Sequence[int]) -> dict[int, tuple[date, str]]:
        """Work date and text of each entry, by id."""
        found: dict[int, tuple[date, str]] = {}
        for start in range(0, len(entry_ids), 500):
            chunk = list(entry_ids[start : start + 500])
            rows = await self.session.execute(
                select(WorkEntry.id, WorkEntry.work_date, WorkEntry.text).where(
                    WorkEntry.id.in_(chunk)
                )
            )
            found.update({int(entry_id): (day, text) for entry_id, day, text in rows})
        return found

    async def post_type_of(self, staff_id: int) -> str | None:
        """The post type of a person's post (which picks their indicators), if they have one."""
        return await self.session.scalar(
            select(Post.post_type)
            .join(Staff, Staff.post_id == Post.id)
            .where(Staff.id == staff_id)
        )
