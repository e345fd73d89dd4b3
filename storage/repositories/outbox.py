"""The outbox: messages waiting to be sent, claimed by senders under a lease."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from storage.enums import DeliveryStatus
from storage.models import DeliveryWorker, OutboxMessage, Staff
from storage.repositories.approvals import Contact
from storage.repositories.base import Repository, Unindexed, store_now
from storage.repositories.calendar import has_entry, on_leave
from storage.repositories.selection import Languages, Selection

FINAL = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE)
UNSETTLED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
# What an edit closing a request is: one per copy (its dedup key), whatever decides it.
CLOSED_KIND = "approval_closed"
CLOSED_KEY = "approval-closed/"

_OUTBOX = cast(Table, OutboxMessage.__table__)
# A lease taken over ends this long before the moment given: over for a claim then.
_ENDED = timedelta(seconds=1)
# The columns of ``assessment.outbox.Outgoing.row``, and the defaults given explicitly
# (but ``request_entry_id``: a copy of a circular never asks for a decision).
OUTBOX_COLUMNS = (
    "chat_id", "kind", "text", "parse_mode", "reply_markup", "attachment_kind",
    "attachment_file_id", "staff_id", "notice_id", "dedup_key", "priority",
    "next_attempt_at", "created_at", "status", "attempts",
)  # fmt: skip
# What ``close_copies`` fills in, in the order of its SELECT.
_CLOSED_COLUMNS = (
    "chat_id", "kind", "text", "parse_mode", "reply_markup", "staff_id", "dedup_key",
    "priority", "next_attempt_at", "created_at", "status", "attempts", "edits_id",
)  # fmt: skip
_TARGET = aliased(OutboxMessage, name="target")
_EDIT = aliased(OutboxMessage, name="edit")
# An edit is due only once the message it edits is settled: sent (then it has the
# message id to edit), or failed for good (then there is nothing to edit). Not
# correlated: the few pending edits (index on status, edits_id) are hashed once per
# claim, where PostgreSQL costs a correlated test per candidate row (and JIT-compiles
# the claim for it).
_WAITING_EDITS = (
    select(_EDIT.id)
    .join(_TARGET, _TARGET.id == _EDIT.edits_id)
    .where(
        _EDIT.status == DeliveryStatus.PENDING,
        _EDIT.edits_id.is_not(None),
        _TARGET.status.in_(UNSETTLED),
    )
)
_EDITED_MESSAGE = (
    select(_TARGET.telegram_message_id)
    .where(_TARGET.id == OutboxMessage.edits_id)
    .scalar_subquery()
)


def _copies(entry_ids: Sequence[int], shown_in: tuple[int, int] | None) -> ColumnElement[bool]:
    """Requests about these entries that show, or may yet show, their buttons; but not the
    message ``shown_in`` (chat id, message id), which the decider's own answer closes."""
    condition = and_(
        OutboxMessage.request_entry_id.in_(list(entry_ids)),
        OutboxMessage.status.in_([*UNSETTLED, DeliveryStatus.SENT]),
    )
    if shown_in is None:
        return condition
    chat_id, message_id = shown_in
    pressed = and_(
        OutboxMessage.chat_id == chat_id,
        func.coalesce(OutboxMessage.telegram_message_id, 0) == message_id,
    )
    return and_(condition, ~pressed)


@dataclass(frozen=True, slots=True)
class RequestCopy:
    """A message asking for a decision on an entry (sent or not), and who reads it."""

    outbox_id: int
    status: DeliveryStatus
    reader: Contact


@dataclass(frozen=True, slots=True)
class Beat:
    """What a sender's heartbeat found."""

    # Its own row was there: False on its first beat, or once another found it dead.
    registered: bool
    # Senders alive, itself included.
    alive: int
    # Others whose last heartbeat is older than the dead-after span.
    dead: int


class OutboxRepository(Repository):
    """Write, claim, settle and count outgoing messages."""

    async def add_one(self, row: dict[str, Any]) -> bool:
        """Queue one message; False if its ``dedup_key`` was queued before."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        added = await self.session.scalar(
            insert(_OUTBOX)
            .values({"status": DeliveryStatus.PENDING, "attempts": 0, **row})
            .on_conflict_do_nothing(index_elements=[_OUTBOX.c.dedup_key])
            .returning(_OUTBOX.c.id)
        )
        return added is not None

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> int:
        """Queue messages; a row whose ``dedup_key`` is already queued is skipped."""
        if not rows:
            return 0
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = insert(_OUTBOX).on_conflict_do_nothing(index_elements=[_OUTBOX.c.dedup_key])
        # An executemany reports no row count; the ids RETURNING gives back are the new rows.
        # Core, not ORM: every column is given, so the table's defaults are filled here.
        values = [{"status": DeliveryStatus.PENDING, "attempts": 0, **row} for row in rows]
        added = await self.session.scalars(statement.returning(_OUTBOX.c.id), values)
        return len(added.all())

    async def languages_of(self, people: Selection, after: int, through: int) -> list[Languages]:
        """The languages the people ``people`` picks among staff ids (after, through] read."""
        rows = await self.session.execute(
            select(Staff.language, Staff.telegram_language)
            .where(people.within(after, through))
            .distinct()
        )
        return [Languages(language, telegram) for language, telegram in rows]

    async def add_copies(
        self,
        people: Selection,
        after: int,
        through: int,
        languages: Sequence[Languages],
        row: dict[str, Any],
    ) -> int:
        """Queue ``row`` for each person ``people`` picks among staff ids (after, through]
        whose languages are among ``languages``, in one INSERT ... SELECT.

        ``row`` holds the columns every copy shares; each copy gets the person's chat
        and staff id, and their staff id appended to ``row["dedup_key"]``, so a copy
        queued before is skipped. Returns how many were new.
        """
        if not languages:
            return 0
        personal = {
            "chat_id": Staff.telegram_user_id,
            "staff_id": Staff.id,
            "dedup_key": literal(row["dedup_key"], String) + Staff.id.cast(String),
        }
        shared = {"status": DeliveryStatus.PENDING, "attempts": 0, **row}
        columns = [
            personal[name] if name in personal else literal(shared[name], _OUTBOX.c[name].type)
            for name in OUTBOX_COLUMNS
        ]
        spoken = or_(
            *(
                and_(
                    Staff.language.is_not_distinct_from(choice.language),
                    Staff.telegram_language.is_not_distinct_from(choice.telegram_language),
                )
                for choice in languages
            )
        )
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(_OUTBOX)
            .from_select(
                list(OUTBOX_COLUMNS),
                select(*columns).where(people.within(after, through), spoken),
            )
            .on_conflict_do_nothing(index_elements=[_OUTBOX.c.dedup_key])
        )
        result = await self.session.execute(statement)
        return int(getattr(result, "rowcount", 0))

    async def claim(
        self, worker_id: str, limit: int, now: datetime, lease: timedelta
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due messages, most urgent first, for ``lease``.

        Messages whose lease ran out (their sender died) are due again; an edit
        waits for the message it edits to be settled, and is handed out with that
        message's id. On PostgreSQL, ``SKIP LOCKED`` lets several senders claim side
        by side.
        """
        # Each way a message is due on its own, most urgent first, so that each is read
        # in the order of the (status, priority, id) index and stops after ``limit``
        # rows; as one OR, both engines read every due message and sort them all (23 ms
        # a claim with 57,000 reminders waiting, on SQLite holding the write lock).
        ways = [
            and_(
                OutboxMessage.status == DeliveryStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            ),
            and_(OutboxMessage.status == DeliveryStatus.SENDING, OutboxMessage.lease_until < now),
        ]
        firsts = [
            select(OutboxMessage.id, OutboxMessage.priority)
            .where(
                way,
                or_(OutboxMessage.edits_id.is_(None), OutboxMessage.id.not_in(_WAITING_EDITS)),
            )
            .order_by(OutboxMessage.priority, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .subquery()
            for way in ways
        ]
        # On PostgreSQL each way locks up to ``limit`` rows, of which the outer LIMIT keeps
        # ``limit``: the others stay locked (skipped by other senders) until this commits.
        either = union_all(*(select(first.c.id, first.c.priority) for first in firsts)).subquery()
        due = select(either.c.id).order_by(either.c.priority, either.c.id).limit(limit)
        claimed = await self.session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(
                status=DeliveryStatus.SENDING,
                lease_owner=worker_id,
                lease_until=now + lease,
                attempts=OutboxMessage.attempts + 1,
                telegram_message_id=case(
                    (OutboxMessage.edits_id.is_not(None), _EDITED_MESSAGE),
                    else_=OutboxMessage.telegram_message_id,
                ),
            )
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False)
        )
        return sorted(claimed, key=lambda row: (row.priority, row.id))

    async def settle(self, outcomes: Sequence[dict[str, Any]], owner: str | None = None) -> None:
        """Record what became of claimed messages (one executemany by primary key).

        With ``owner``, only the messages still leased to it: one another sender took
        over (this one was found dead, see ``take_over``) keeps what that sender writes.
        """
        if not outcomes:
            return
        statement = update(OutboxMessage)
        if owner is not None:
            statement = statement.where(OutboxMessage.lease_owner == owner).execution_options(
                synchronize_session=None
            )
        await self.session.execute(statement, list(outcomes))

    async def release(self, ids: Iterable[int], worker_id: str) -> None:
        """Hand back messages this sender claimed but will not send (it is stopping)."""
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(list(ids)),
                OutboxMessage.lease_owner == worker_id,
                OutboxMessage.status == DeliveryStatus.SENDING,
            )
            .values(
                status=DeliveryStatus.PENDING,
                lease_owner=None,
                lease_until=None,
                attempts=OutboxMessage.attempts - 1,
            )
        )

    async def mark_chat_unreachable(self, chat_id: int, reason: str, now: datetime) -> None:
        """The person blocked the bot: settle their waiting messages and note it on them."""
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
            )
            .values(status=DeliveryStatus.UNREACHABLE, error=reason, finished_at=now)
        )
        await self.session.execute(
            update(Staff)
            .where(Staff.telegram_user_id == chat_id, Staff.unreachable_since.is_(None))
            .values(unreachable_since=now)
        )

    async def pending_span(self, kinds: Sequence[str]) -> tuple[int, int] | None:
        """The lowest and highest id of unsent messages of these kinds; None if there are none."""
        row = (
            await self.session.execute(
                select(func.min(OutboxMessage.id), func.max(OutboxMessage.id)).where(
                    OutboxMessage.status == DeliveryStatus.PENDING,
                    OutboxMessage.kind.in_(list(kinds)),
                )
            )
        ).one()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    async def withdraw_stale(
        self, kinds: Sequence[str], current_keys: Sequence[str], after: int, count: int
    ) -> int:
        """Drop unsent messages of these kinds whose dedup key has none of ``current_keys`` first.

        A reminder still queued when its day is over (the bot was down) must not
        arrive on another day. Messages a sender has claimed are left alone. Only
        messages of ids ``after`` < id <= ``after + count``: one batch of the work.
        """
        result = await self.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.id > after,
                OutboxMessage.id <= after + count,
                Unindexed(OutboxMessage.status) == DeliveryStatus.PENDING,
                OutboxMessage.kind.in_(list(kinds)),
                ~or_(
                    *(
                        OutboxMessage.dedup_key.startswith(key, autoescape=True)
                        for key in current_keys
                    )
                ),
            )
        )
        return int(getattr(result, "rowcount", 0))

    async def withdraw_settled(
        self, kinds: Sequence[str], day: date, after: int, count: int
    ) -> int:
        """Drop unsent messages of these kinds to people who have logged ``day`` or are off.

        Only messages of ids ``after`` < id <= ``after + count``: one batch of the work.
        """
        result = await self.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.id > after,
                OutboxMessage.id <= after + count,
                Unindexed(OutboxMessage.status) == DeliveryStatus.PENDING,
                OutboxMessage.kind.in_(list(kinds)),
                or_(
                    has_entry(OutboxMessage.staff_id, day),
                    on_leave(OutboxMessage.staff_id, day),
                ),
            )
        )
        return int(getattr(result, "rowcount", 0))

    async def request_copies(
        self, entry_ids: Sequence[int], *, shown_in: tuple[int, int] | None
    ) -> list[RequestCopy]:
        """The requests about these entries that show, or may yet show, their buttons, and
        who reads each; but not the message ``shown_in`` (chat id, message id)."""
        rows = await self.session.execute(
            select(
                OutboxMessage.id.label("outbox_id"),
                OutboxMessage.status,
                Staff.id.label("staff_id"),
                Staff.name,
                Staff.telegram_user_id.label("chat_id"),
                Staff.language,
                Staff.telegram_language,
            )
            .join(Staff, Staff.id == OutboxMessage.staff_id)
            .where(_copies(entry_ids, shown_in))
            .order_by(OutboxMessage.id)
        )
        return [
            RequestCopy(
                outbox_id=row["outbox_id"],
                status=DeliveryStatus(row["status"]),
                reader=Contact(
                    staff_id=row["staff_id"],
                    name=row["name"],
                    chat_id=row["chat_id"],
                    language=row["language"],
                    telegram_language=row["telegram_language"],
                ),
            )
            for row in rows.mappings()
        ]

    async def withdraw_unsent(self, outbox_ids: Sequence[int]) -> set[int]:
        """Drop those of these messages that no sender has taken yet; the ones dropped.

        One a sender has claimed since may be reaching Telegram now: it stays (edit it
        instead), and so does one an edit already waits for (it went back to pending
        after a failed try; the edit is then pending too).
        """
        if not outbox_ids:
            return set()
        edit = aliased(OutboxMessage, name="edit")
        dropped = await self.session.scalars(
            delete(OutboxMessage)
            .where(
                OutboxMessage.id.in_(list(outbox_ids)),
                OutboxMessage.status == DeliveryStatus.PENDING,
                ~exists().where(
                    edit.status == DeliveryStatus.PENDING, edit.edits_id == OutboxMessage.id
                ),
            )
            .returning(OutboxMessage.id)
        )
        return {int(outbox_id) for outbox_id in dropped}

    async def close_copies(
        self, outbox_ids: Sequence[int], *, line: str, priority: int, now: datetime
    ) -> int:
        """Queue an edit of each of these messages: the same text with ``line`` below it,
        and no buttons. One INSERT ... SELECT; how many were new.

        Each message is edited once (``approval-closed/<its id>``), whether sent or still
        in a sender's hands (the edit waits for it, see ``claim``).
        """
        if not outbox_ids:
            return 0
        moment = literal(now, _OUTBOX.c.created_at.type)
        copies = select(
            OutboxMessage.chat_id,
            literal(CLOSED_KIND),
            OutboxMessage.text + literal("\n\n" + line),
            OutboxMessage.parse_mode,
            null(),
            OutboxMessage.staff_id,
            literal(CLOSED_KEY) + OutboxMessage.id.cast(String),
            literal(priority),
            moment,
            moment,
            literal(DeliveryStatus.PENDING.value),
            literal(0),
            OutboxMessage.id,
        ).where(
            OutboxMessage.id.in_(list(outbox_ids)),
            OutboxMessage.status.in_([*UNSETTLED, DeliveryStatus.SENT]),
        )
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(_OUTBOX)
            .from_select(list(_CLOSED_COLUMNS), copies)
            .on_conflict_do_nothing(index_elements=[_OUTBOX.c.dedup_key])
            .returning(_OUTBOX.c.id)
        )
        added = await self.session.scalars(statement)
        return len(added.all())

    async def counts(self, notice_id: int, kind: str = "notice") -> dict[DeliveryStatus, int]:
        """How many of a notice's messages (of one kind) stand in each state."""
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.notice_id == notice_id, OutboxMessage.kind == kind)
            .group_by(OutboxMessage.status)
        )
        return {DeliveryStatus(status): count for status, count in rows}

    async def depth(self) -> dict[DeliveryStatus, int]:
        """How many messages wait to be sent and are being sent (for ``/metrics``).

        One grouped count over the unfinished states only, which the status index
        covers: its cost follows the queue, not the outbox's history of sent messages.
        """
        unfinished = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_(unfinished))
            .group_by(OutboxMessage.status)
        )
        counts = dict.fromkeys(unfinished, 0)
        counts.update({DeliveryStatus(status): count for status, count in rows})
        return counts

    async def heartbeat(self, worker_id: str, dead_after: timedelta) -> Beat:
        """Say this sender is alive, by the store's clock, and see who else is.

        One statement on PostgreSQL (the update in a CTE); on SQLite an update and a read
        in the same transaction. A sender not registered (its first beat, or another
        found it dead and took its messages over) is told so and must ``register``.
        """
        now = store_now(self.dialect)
        stale = store_now(self.dialect, minus=dead_after)
        beat = (
            update(DeliveryWorker)
            .where(DeliveryWorker.worker_id == worker_id)
            .values(seen_at=now)
            .returning(DeliveryWorker.worker_id)
        )
        others = (
            func.count().filter(DeliveryWorker.seen_at >= stale),
            func.count().filter(DeliveryWorker.seen_at < stale),
        )
        mine = DeliveryWorker.worker_id == worker_id
        if self.dialect == "postgresql":
            beaten = beat.cte("beat")
            row = (
                await self.session.execute(
                    select(select(func.count()).select_from(beaten).scalar_subquery(), *others)
                    .select_from(DeliveryWorker)
                    .where(~mine)
                )
            ).one()
            registered, alive, dead = int(row[0]), int(row[1]), int(row[2])
        else:
            registered = len((await self.session.scalars(beat)).all())
            row = (
                await self.session.execute(
                    select(*others).select_from(DeliveryWorker).where(~mine)
                )
            ).one()
            alive, dead = int(row[0]), int(row[1])
        return Beat(registered=registered > 0, alive=alive + 1, dead=dead)

    async def register(self, worker_id: str) -> None:
        """This sender starts (or starts again after it was found dead)."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        now = store_now(self.dialect)
        await self.session.execute(
            insert(DeliveryWorker)
            .values(worker_id=worker_id, seen_at=now)
            .on_conflict_do_update(
                index_elements=[DeliveryWorker.worker_id], set_={"seen_at": now}
            )
        )

    async def take_over(self, dead_after: timedelta, now: datetime) -> tuple[int, int]:
        """Forget the senders not seen for ``dead_after`` (by the store's clock) and make the
        messages they held due at once: their leases end before ``now`` (the claimer's
        clock), so the next claim, by any sender, takes them. (senders, messages).

        A message a dead sender held was sent at most once already (it was in flight when
        it died), so this resends what a lease running out would, only sooner.
        """
        dead = list(
            await self.session.scalars(
                delete(DeliveryWorker)
                .where(DeliveryWorker.seen_at < store_now(self.dialect, minus=dead_after))
                .returning(DeliveryWorker.worker_id)
            )
        )
        if not dead:
            return 0, 0
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == DeliveryStatus.SENDING,
                OutboxMessage.lease_owner.in_(dead),
            )
            .values(lease_until=now - _ENDED)
        )
        return len(dead), int(getattr(result, "rowcount", 0))

    async def leased_by(self, worker_id: str) -> int:
        """How many messages ``worker_id`` holds under a lease (for tests and checks)."""
        count = await self.session.scalar(
            select(func.count()).where(
                OutboxMessage.status == DeliveryStatus.SENDING,
                OutboxMessage.lease_owner == worker_id,
            )
        )
        return int(count or 0)

    async def retire(self, worker_id: str) -> None:
        """This sender stops; the others take its share of the rate."""
        await self.session.execute(
            delete(DeliveryWorker).where(DeliveryWorker.worker_id == worker_id)
        )

    async def carry_leases(self, delta: timedelta) -> int:
        """Move every running lease on by ``delta``, because the clock was moved by it
        (the sandbox's time travel): messages in a sender's hands stay its own instead of
        looking abandoned and being claimed, and sent, a second time. How many."""
        leased = (
            await self.session.execute(
                select(OutboxMessage.id, OutboxMessage.lease_until).where(
                    OutboxMessage.status == DeliveryStatus.SENDING,
                    OutboxMessage.lease_until.is_not(None),
                )
            )
        ).all()
        if leased:
            await self.session.execute(
                update(OutboxMessage),
                [
                    {"id": row_id, "lease_until": until + delta}
                    for row_id, until in leased
                    if until is not None
                ],
            )
        return len(leased)
