"""Who may decide whose entries, what waits for them, and the decisions themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Date,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from storage import direct
from storage.direct import Direct
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import ApprovalRequest, Delegation, Staff, WorkEntry
from storage.repositories.base import Repository

_ENTRIES = cast(Table, WorkEntry.__table__)
_REQUESTS = cast(Table, ApprovalRequest.__table__)
# Both SQLite and asyncpg cap the bound parameters of one statement.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Contact:
    """Where and in which language to tell a person something."""

    staff_id: int
    name: str
    chat_id: int | None
    language: str | None
    telegram_language: str | None


@dataclass(frozen=True, slots=True)
class EntryAuthority:
    """An entry with everything that decides who may decide it, read in one statement."""

    entry_id: int
    version: int
    status: EntryStatus
    work_date: date
    text: str
    decided_at: datetime | None
    decided_by: str | None
    author_id: int
    author_name: str
    author_chat: int | None
    author_language: str | None
    author_telegram_language: str | None
    supervisor_id: int | None
    higher_id: int | None  # the supervisor's own supervisor
    escalated: bool
    delegated: bool  # the asker is the supervisor's delegate today

    @property
    def author(self) -> Contact:
        """Where to tell the author."""
        return Contact(
            self.author_id,
            self.author_name,
            self.author_chat,
            self.author_language,
            self.author_telegram_language,
        )


@dataclass(frozen=True, slots=True)
class Overdue:
    """An entry left undecided too long, and who is above its supervisor."""

    entry_id: int
    version: int
    author_id: int
    author_name: str
    supervisor_id: int | None
    higher_id: int | None


@dataclass(frozen=True, slots=True)
class PendingRow:
    """An undecided entry as its approver sees it in a list."""

    entry_id: int
    version: int
    author_id: int
    author_name: str
    employee_no: str
    work_date: date
    text: str
    indicator_id: str | None
    quantity: Any
    hours: Any
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """An entry version to put before ``approver_id`` (and the author's name, for the text)."""

    entry_id: int
    version: int
    approver_id: int
    author_name: str
    employee_no: str
    work_date: date
    text: str
    approver_chat: int | None
    approver_language: str | None
    approver_telegram_language: str | None


@dataclass(frozen=True, slots=True)
class ActiveDelegation:
    """A delegation in force."""

    supervisor_id: int
    supervisor_name: str
    delegate_id: int
    delegate_name: str
    delegate_employee_no: str
    until: date


def _authority() -> Any:
    author = aliased(Staff)
    supervisor = aliased(Staff)
    decider = aliased(Staff)
    delegated = (
        select(Delegation.id)
        .where(
            Delegation.supervisor_id == author.supervisor_id,
            Delegation.delegate_id == bindparam("actor_id"),
            Delegation.until >= bindparam("today", type_=Date()),
            Delegation.ended_at.is_(None),
        )
        .exists()
    )
    return (
        select(
            WorkEntry.id,
            WorkEntry.version,
            WorkEntry.status,
            WorkEntry.work_date,
            WorkEntry.text,
            WorkEntry.decided_at,
            decider.name,
            author.id,
            author.name,
            author.telegram_user_id,
            author.language,
            author.telegram_language,
            author.supervisor_id,
            supervisor.supervisor_id,
            WorkEntry.escalated_at.is_not(None),
            delegated,
        )
        .join(author, author.id == WorkEntry.staff_id)
        .outerjoin(supervisor, supervisor.id == author.supervisor_id)
        .outerjoin(decider, decider.id == WorkEntry.decided_by_id)
        .where(WorkEntry.id == bindparam("entry_id"))
    )


# Built once: every press runs these.
_AUTHORITY = Direct(_authority())
_DECIDE = Direct(
    update(_ENTRIES)
    .where(
        _ENTRIES.c.id == bindparam("entry_id"),
        _ENTRIES.c.version == bindparam("shown_version"),
        _ENTRIES.c.status == EntryStatus.SUBMITTED,
    )
    .values(
        status=bindparam("new_status", type_=_ENTRIES.c.status.type),
        decided_by_id=bindparam("decider_id", type_=_ENTRIES.c.decided_by_id.type),
        decided_at=bindparam("moment", type_=_ENTRIES.c.decided_at.type),
        decision_reason=bindparam("reason", type_=_ENTRIES.c.decision_reason.type),
        decision_via=bindparam("via", type_=_ENTRIES.c.decision_via.type),
        updated_at=bindparam("moment", type_=_ENTRIES.c.updated_at.type),
        version=_ENTRIES.c.version + 1,
    )
    .returning(_ENTRIES.c.id)
)


def _contact(row: Any) -> Contact:
    return Contact(int(row[0]), str(row[1]), row[2], row[3], row[4])


class ApprovalRepository(Repository):
    """Approvals: authority, pending lists, conditional decisions, requests, delegations."""

    async def authority(self, entry_id: int, actor_id: int, today: date) -> EntryAuthority | None:
        """The entry, its author, their supervisor and that supervisor's supervisor, and
        whether ``actor_id`` is the supervisor's delegate ``today``: one statement."""
        rows = await direct.rows(
            self.session, _AUTHORITY, {"entry_id": entry_id, "actor_id": actor_id, "today": today}
        )
        return None if not rows else EntryAuthority(*rows[0])

    async def decide(
        self,
        entry_id: int,
        version: int,
        *,
        status: EntryStatus,
        decider_id: int,
        moment: datetime,
        reason: str | None,
        via: str,
    ) -> bool:
        """Decide one entry only if it is still submitted at ``version`` (one press wins)."""
        done = await direct.rows(
            self.session,
            _DECIDE,
            {
                "entry_id": entry_id,
                "shown_version": version,
                "new_status": status,
                "decider_id": decider_id,
                "moment": moment,
                "reason": reason,
                "via": via,
            },
        )
        return bool(done)

    async def decide_seen(
        self, candidates: Sequence[tuple[int, int]], values: dict[str, Any]
    ) -> list[tuple[int, int]]:
        """Decide the (entry id, version) pairs still submitted at that version; the ones done.

        Returns (entry id, author id) of each entry decided.
        """
        done: list[tuple[int, int]] = []
        for start in range(0, len(candidates), _CHUNK):
            chunk = list(candidates[start : start + _CHUNK])
            result = await self.session.execute(
                update(_ENTRIES)
                .where(
                    tuple_(_ENTRIES.c.id, _ENTRIES.c.version).in_(chunk),
                    _ENTRIES.c.status == EntryStatus.SUBMITTED,
                )
                .values({**values, "version": _ENTRIES.c.version + 1})
                .returning(_ENTRIES.c.id, _ENTRIES.c.staff_id)
            )
            done.extend((int(entry), int(author)) for entry, author in result)
        return done

    def _decidable(self, actor_id: int, *, hr: bool, today: date) -> Any:
        """Whose undecided entries ``actor_id`` may decide, as a condition on authors."""
        author = Staff
        supervisor = aliased(Staff)
        delegated = exists().where(
            Delegation.supervisor_id == author.supervisor_id,
            Delegation.delegate_id == actor_id,
            Delegation.until >= today,
            Delegation.ended_at.is_(None),
        )
        higher = and_(
            WorkEntry.escalated_at.is_not(None),
            exists().where(
                supervisor.id == author.supervisor_id, supervisor.supervisor_id == actor_id
            ),
        )
        conditions = [author.supervisor_id == actor_id, delegated, higher]
        if hr:
            # HR takes the entries with nobody above them: no supervisor, or escalated
            # from a supervisor who has none.
            top = exists().where(
                supervisor.id == author.supervisor_id, supervisor.supervisor_id.is_(None)
            )
            conditions += [
                author.supervisor_id.is_(None),
                and_(WorkEntry.escalated_at.is_not(None), top),
            ]
        return and_(or_(*conditions), author.id != actor_id)

    async def pending(
        self, actor_id: int, *, hr: bool, today: date, offset: int, limit: int
    ) -> tuple[list[PendingRow], int]:
        """A page of the undecided entries ``actor_id`` may decide, oldest first; and how many."""
        where = and_(
            WorkEntry.status == EntryStatus.SUBMITTED,
            self._decidable(actor_id, hr=hr, today=today),
        )
        total = await self.session.scalar(
            select(func.count())
            .select_from(WorkEntry)
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .where(where)
        )
        rows = await self.session.execute(
            select(
                WorkEntry.id,
                WorkEntry.version,
                Staff.id,
                Staff.name,
                Staff.employee_no,
                WorkEntry.work_date,
                WorkEntry.text,
                WorkEntry.indicator_id,
                WorkEntry.quantity,
                WorkEntry.hours,
                WorkEntry.updated_at,
            )
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .where(where)
            .order_by(WorkEntry.id)
            .offset(offset)
            .limit(limit)
        )
        return [PendingRow(*row) for row in rows], int(total or 0)

    async def seen_by(
        self,
        actor_id: int,
        *,
        hr: bool,
        today: date,
        first_id: int,
        last_id: int,
        seen_at: datetime,
        author_id: int | None = None,
    ) -> list[tuple[int, int]]:
        """(entry id, version) of what ``actor_id`` saw in a list: undecided, in the id range,
        unchanged since ``seen_at``, and theirs to decide (optionally one author's only)."""
        query = (
            select(WorkEntry.id, WorkEntry.version)
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .where(
                WorkEntry.status == EntryStatus.SUBMITTED,
                WorkEntry.id.between(first_id, last_id),
                WorkEntry.updated_at <= seen_at,
                self._decidable(actor_id, hr=hr, today=today),
            )
        )
        if author_id is not None:
            query = query.where(Staff.id == author_id)
        return [(int(entry), int(version)) for entry, version in await self.session.execute(query)]

    async def to_request(self, *, today: date, limit: int) -> list[RequestTarget]:
        """Submitted entry versions not yet put before their approver, whose approver wants
        them at once: the supervisor, or the delegate while a delegation is in force."""
        author = aliased(Staff)
        supervisor = aliased(Staff)
        delegate = (
            select(Delegation.delegate_id)
            .where(
                Delegation.supervisor_id == author.supervisor_id,
                Delegation.until >= today,
                Delegation.ended_at.is_(None),
            )
            .order_by(Delegation.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        approver_id = func.coalesce(delegate, author.supervisor_id)
        approver = aliased(Staff)
        requested = exists().where(
            ApprovalRequest.entry_id == WorkEntry.id,
            ApprovalRequest.entry_version == WorkEntry.version,
        )
        rows = await self.session.execute(
            select(
                WorkEntry.id,
                WorkEntry.version,
                approver.id,
                author.name,
                author.employee_no,
                WorkEntry.work_date,
                WorkEntry.text,
                approver.telegram_user_id,
                approver.language,
                approver.telegram_language,
            )
            .join(author, author.id == WorkEntry.staff_id)
            .join(supervisor, supervisor.id == author.supervisor_id)
            .join(approver, approver.id == approver_id)
            .where(
                WorkEntry.status == EntryStatus.SUBMITTED,
                ~requested,
                supervisor.approval_digest_at.is_(None),
                supervisor.status != StaffStatus.LEFT,
            )
            .order_by(WorkEntry.id)
            .limit(limit)
        )
        return [RequestTarget(*tuple(row)) for row in rows]

    async def record_requests(
        self, requests: Sequence[tuple[int, int, int, str]], now: datetime
    ) -> set[tuple[int, int, int]]:
        """Note (entry id, version, approver id, reason) as put before the approver.

        Returns the (entry id, version, approver id) noted now: one put there before,
        by another process or run, is left out, so it is sent once.
        """
        if not requests:
            return set()
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        noted: set[tuple[int, int, int]] = set()
        for start in range(0, len(requests), _CHUNK):
            result = await self.session.execute(
                insert(_REQUESTS)
                .values(
                    [
                        {
                            "entry_id": entry,
                            "entry_version": version,
                            "approver_id": approver,
                            "reason": reason,
                            "created_at": now,
                        }
                        for entry, version, approver, reason in requests[start : start + _CHUNK]
                    ]
                )
                .on_conflict_do_nothing()
                .returning(
                    _REQUESTS.c.entry_id, _REQUESTS.c.entry_version, _REQUESTS.c.approver_id
                )
            )
            noted.update((int(e), int(v), int(a)) for e, v, a in result)
        return noted

    async def overdue(self, submitted_before: datetime, *, limit: int) -> list[Overdue]:
        """Undecided entries submitted before ``submitted_before`` and not escalated yet."""
        author = aliased(Staff)
        supervisor = aliased(Staff)
        rows = await self.session.execute(
            select(
                WorkEntry.id,
                WorkEntry.version,
                author.id,
                author.name,
                author.supervisor_id,
                supervisor.supervisor_id,
            )
            .join(author, author.id == WorkEntry.staff_id)
            .outerjoin(supervisor, supervisor.id == author.supervisor_id)
            .where(
                WorkEntry.status == EntryStatus.SUBMITTED,
                WorkEntry.escalated_at.is_(None),
                WorkEntry.updated_at < submitted_before,
            )
            .order_by(WorkEntry.id)
            .limit(limit)
        )
        found: list[Any] = list(rows)
        return [Overdue(*row) for row in found]

    async def mark_escalated(self, entry_ids: Sequence[int], now: datetime) -> list[int]:
        """Mark entries escalated unless done already (by another process); the ones marked."""
        marked: list[int] = []
        for start in range(0, len(entry_ids), _CHUNK):
            chunk = list(entry_ids[start : start + _CHUNK])
            result = await self.session.execute(
                update(_ENTRIES)
                .where(_ENTRIES.c.id.in_(chunk), _ENTRIES.c.escalated_at.is_(None))
                .values(escalated_at=now)
                .returning(_ENTRIES.c.id)
            )
            marked.extend(int(entry_id) for (entry_id,) in result)
        return marked

    async def stale(self, submitted_before: datetime, *, limit: int) -> list[tuple[int, int]]:
        """(entry id, version) of undecided entries unchanged since ``submitted_before``."""
        rows = await self.session.execute(
            select(WorkEntry.id, WorkEntry.version)
            .where(
                WorkEntry.status == EntryStatus.SUBMITTED,
                WorkEntry.updated_at < submitted_before,
            )
            .order_by(WorkEntry.id)
            .limit(limit)
        )
        return [(int(entry), int(version)) for entry, version in rows]

    async def contacts(self, staff_ids: Sequence[int]) -> dict[int, Contact]:
        """Chat and languages of these people, by id."""
        found: dict[int, Contact] = {}
        ids = list(dict.fromkeys(staff_ids))
        for start in range(0, len(ids), _CHUNK):
            rows = await self.session.execute(
                select(
                    Staff.id,
                    Staff.name,
                    Staff.telegram_user_id,
                    Staff.language,
                    Staff.telegram_language,
                ).where(Staff.id.in_(ids[start : start + _CHUNK]))
            )
            found.update({int(row[0]): _contact(row) for row in rows})
        return found

    async def hr_contacts(self) -> list[Contact]:
        """Everyone in HR still on staff."""
        rows = await self.session.execute(
            select(
                Staff.id,
                Staff.name,
                Staff.telegram_user_id,
                Staff.language,
                Staff.telegram_language,
            ).where(Staff.status != StaffStatus.LEFT)
        )
        hr_ids = {
            int(staff_id)
            for staff_id, roles in await self.session.execute(
                select(Staff.id, Staff.roles).where(Staff.status != StaffStatus.LEFT)
            )
            if roles & Role.HR
        }
        return [_contact(row) for row in rows if int(row[0]) in hr_ids]

    async def team_contacts(self, supervisor_id: int) -> list[Contact]:
        """The supervisor's direct reports still on staff."""
        rows = await self.session.execute(
            select(
                Staff.id,
                Staff.name,
                Staff.telegram_user_id,
                Staff.language,
                Staff.telegram_language,
            ).where(Staff.supervisor_id == supervisor_id, Staff.status != StaffStatus.LEFT)
        )
        return [_contact(row) for row in rows]

    async def set_digest(self, staff_id: int, at: str | None) -> None:
        """Approval requests at once (None) or in a daily digest at ``at`` ("17:00")."""
        await self.session.execute(
            update(Staff)
            .where(Staff.id == staff_id)
            .values(approval_digest_at=at)
            .execution_options(synchronize_session=False)
        )

    async def digest_at(self, staff_id: int) -> str | None:
        """When the person gets their approval digest; None: requests come at once."""
        return await self.session.scalar(
            select(Staff.approval_digest_at).where(Staff.id == staff_id)
        )

    async def digest_people(self) -> list[tuple[int, str]]:
        """(staff id, "HH:MM") of everyone on staff who chose a daily digest."""
        rows = await self.session.execute(
            select(Staff.id, Staff.approval_digest_at).where(
                Staff.approval_digest_at.is_not(None), Staff.status != StaffStatus.LEFT
            )
        )
        return [(int(staff_id), str(at)) for staff_id, at in rows]

    async def delegation_of(self, supervisor_id: int, today: date) -> ActiveDelegation | None:
        """The supervisor's delegation in force, if any."""
        supervisor = aliased(Staff)
        delegate = aliased(Staff)
        row = (
            await self.session.execute(
                select(
                    Delegation.supervisor_id,
                    supervisor.name,
                    Delegation.delegate_id,
                    delegate.name,
                    delegate.employee_no,
                    Delegation.until,
                )
                .join(supervisor, supervisor.id == Delegation.supervisor_id)
                .join(delegate, delegate.id == Delegation.delegate_id)
                .where(
                    Delegation.supervisor_id == supervisor_id,
                    Delegation.until >= today,
                    Delegation.ended_at.is_(None),
                )
                .order_by(Delegation.id.desc())
                .limit(1)
            )
        ).one_or_none()
        return None if row is None else ActiveDelegation(*row)

    async def delegate(
        self, supervisor_id: int, delegate_id: int, until: date, now: datetime
    ) -> None:
        """End the supervisor's delegations in force and start a new one."""
        await self.end_delegations(supervisor_id, now)
        self.session.add(
            Delegation(
                supervisor_id=supervisor_id, delegate_id=delegate_id, until=until, created_at=now
            )
        )
        await self.session.flush()

    async def end_delegations(self, supervisor_id: int, now: datetime) -> int:
        """End every delegation of the supervisor still open; how many."""
        result = await self.session.execute(
            update(Delegation)
            .where(Delegation.supervisor_id == supervisor_id, Delegation.ended_at.is_(None))
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))
