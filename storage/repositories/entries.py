"""Daily work entries, their revisions and their attachments."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update

from storage.enums import EntryStatus
from storage.models import EntryAttachment, EntryRevision, Post, Staff, WorkEntry
from storage.repositories.base import Repository

_ENTRIES = cast(Table, WorkEntry.__table__)
# Built once: the quick log runs it for every plain message. A Core statement, not an
# ORM one, so no flush machinery runs for a row nothing reads back but its id.
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)


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
