"""Daily work entries, their revisions and their attachments."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Date, Table, bindparam, func, insert, select, update

from storage.enums import EntryStatus
from storage.models import EntryAttachment, EntryRevision, Post, Staff, WorkEntry
from storage.repositories.base import Repository
from storage.repositories.periods import CLOSED_THROUGH, entry_open

# People per ``IN (...)`` of a batch read (a bound parameter each).
_IDS_PER_SELECT = 1000

_ENTRIES = cast(Table, WorkEntry.__table__)
# Core statements, built once, not ORM ones, so no flush machinery runs for a row nothing
# reads back but its id: an entry as given (``insert``), and an entry within its author's
# flood limits (``insert_within``, which the quick log runs for every plain message).
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)
# The flood limit, checked by every new entry's INSERT itself: both counts walk the
# (staff_id, created_at) index from the newest of the author's entries back.
_TODAY_SO_FAR = (
    select(func.count())
    .select_from(_ENTRIES)
    .where(
        _ENTRIES.c.staff_id == bindparam("staff_id"),
        _ENTRIES.c.created_at >= bindparam("day_start"),
    )
    .scalar_subquery()
)
_NTH_IN_MINUTE = (
    select(_ENTRIES.c.created_at)
    .where(
        _ENTRIES.c.staff_id == bindparam("staff_id"),
        _ENTRIES.c.created_at > bindparam("minute_start"),
    )
    .order_by(_ENTRIES.c.created_at.desc())
    .limit(1)
    .offset(bindparam("skip"))
    .scalar_subquery()
)
_RECENT = select(_TODAY_SO_FAR.label("today"), _NTH_IN_MINUTE.label("nth_in_minute"))
# What ``insert_within`` writes: the columns of a new entry, each a typed parameter.
_NEW_COLUMNS = (
    "staff_id", "work_date", "text", "indicator_id", "quantity", "hours", "status",
    "created_at", "submitted_at", "updated_at", "version",
)  # fmt: skip
_INSERT_WITHIN_LIMITS = (
    insert(_ENTRIES)
    .from_select(
        list(_NEW_COLUMNS),
        select(
            *(bindparam(f"new_{name}", type_=_ENTRIES.c[name].type) for name in _NEW_COLUMNS)
        ).where(
            bindparam("per_day") > _TODAY_SO_FAR,
            _NTH_IN_MINUTE.is_(None),
            # The closed-period rule, in the same statement (see storage.repositories.periods).
            entry_open(
                bindparam("staff_id"),
                bindparam("new_work_date", type_=_ENTRIES.c.work_date.type),
                CLOSED_THROUGH,
            ),
        ),
    )
    .returning(_ENTRIES.c.id)
)
# pg_advisory_xact_lock's first key: this lock's kind ("WL" + 1); the second is the author.
_FLOOD_LOCK = 0x574C01


@dataclass(frozen=True, slots=True)
class RecentEntries:
    """How many entries an author wrote lately, as the flood rule needs it."""

    # Written since the start of the organisation's day.
    today: int
    # When the n-th newest of those written in the last minute was, n being the limit
    # a minute; None while fewer were.
    nth_in_minute: datetime | None


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

    async def insert_within(
        self,
        values: Mapping[str, Any],
        *,
        day_start: datetime,
        minute_start: datetime,
        per_minute: int,
        per_day: int,
        closed_through: date,
    ) -> int | None:
        """Insert one entry unless its author wrote ``per_day`` since ``day_start``, or
        ``per_minute`` after ``minute_start``, or its day is closed (``entry_open`` with
        ``closed_through``): its id, or None with nothing written.

        One INSERT ... SELECT whose condition counts on the (staff_id, created_at) index,
        so checking costs no statement of its own. Two writers for one person count one
        after the other: on SQLite the INSERT holds the database's one write lock while it
        counts; on PostgreSQL a lock on the author, taken first for the rest of the
        transaction, makes the second wait for the first to end (each statement there
        sees what was committed before it began).
        """
        staff_id = values["staff_id"]
        if self.dialect == "postgresql":
            await self.session.execute(select(func.pg_advisory_xact_lock(_FLOOD_LOCK, staff_id)))
        entry_id = await self.session.scalar(
            _INSERT_WITHIN_LIMITS,
            {
                **{f"new_{name}": values.get(name) for name in _NEW_COLUMNS},
                "staff_id": staff_id,
                "day_start": day_start,
                "minute_start": minute_start,
                "skip": per_minute - 1,
                "per_day": per_day,
                "closed_through": closed_through,
            },
        )
        return None if entry_id is None else int(entry_id)

    async def recent(
        self, staff_id: int, *, day_start: datetime, minute_start: datetime, nth: int
    ) -> RecentEntries:
        """How many entries ``staff_id`` wrote since ``day_start``, and when the ``nth``
        newest written after ``minute_start`` was (``None`` if fewer were): what the
        refusal of ``insert_within`` tells. One SELECT over the same index."""
        row = (
            await self.session.execute(
                _RECENT,
                {
                    "staff_id": staff_id,
                    "day_start": day_start,
                    "minute_start": minute_start,
                    "skip": nth - 1,
                },
            )
        ).one()
        return RecentEntries(int(row.today or 0), row.nth_in_minute)

    async def change(
        self,
        entry_id: int,
        version: int,
        statuses: Collection[EntryStatus],
        values: Mapping[str, Any],
        *,
        closed_through: date,
    ) -> bool:
        """Change an entry only if it is still at ``version``, in one of ``statuses``, and
        open (``entry_open``: on its date, and on a new date it is given).

        A conditional UPDATE that also bumps the version, so of two changes that read
        the same version (two edits, an edit and a decision) exactly one wins.
        """
        conditions = [
            WorkEntry.id == entry_id,
            WorkEntry.version == version,
            WorkEntry.status.in_(list(statuses)),
            entry_open(closed_through=CLOSED_THROUGH),
        ]
        if "work_date" in values:
            moved_to = bindparam("moved_to", values["work_date"], type_=Date())
            conditions.append(entry_open(_ENTRIES.c.staff_id, moved_to, CLOSED_THROUGH))
        result = await self.session.execute(
            update(WorkEntry)
            .where(*conditions)
            .values({**values, "version": WorkEntry.version + 1})
            .execution_options(synchronize_session=False),
            {"closed_through": closed_through},
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

    async def post_types_of(self, staff_ids: Collection[int]) -> dict[int, str]:
        """``post_type_of`` for many people at once (one SELECT per thousand); those
        without a post are left out."""
        wanted = sorted(set(staff_ids))
        found: dict[int, str] = {}
        for start in range(0, len(wanted), _IDS_PER_SELECT):
            chunk = wanted[start : start + _IDS_PER_SELECT]
            rows = await self.session.execute(
                select(Staff.id, Post.post_type)
                .join(Post, Staff.post_id == Post.id)
                .where(Staff.id.in_(chunk))
            )
            found.update({staff_id: post_type for staff_id, post_type in rows})
        return found
