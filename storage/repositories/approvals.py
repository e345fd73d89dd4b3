"""Who may decide whose entries, what waits for them, and the decisions themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Date,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from storage import direct
from storage.direct import Direct
from storage.enums import DeliveryStatus, EntryStatus, Role, StaffStatus
from storage.models import (
    ApprovalRequest,
    AuditEvent,
    Delegation,
    OutboxMessage,
    Staff,
    WorkEntry,
)
from storage.repositories.base import Repository
from storage.repositories.outbox import OUTBOX_COLUMNS
from storage.repositories.updates import SENDER_COLUMNS

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
    employee_no: str
    work_date: date
    text: str


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
class DecidedRow:
    """An entry decided in bulk."""

    entry_id: int
    author_id: int
    work_date: date
    text: str


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


def _authority(*, by_telegram: bool) -> Any:
    author = aliased(Staff)
    supervisor = aliased(Staff)
    decider = aliased(Staff)
    actor = aliased(Staff)
    actor_id = actor.id if by_telegram else bindparam("actor_id")
    delegated = (
        select(Delegation.id)
        .where(
            Delegation.supervisor_id == author.supervisor_id,
            Delegation.delegate_id == actor_id,
            Delegation.until >= bindparam("today", type_=Date()),
            Delegation.ended_at.is_(None),
        )
        .exists()
    )
    query = (
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
    if by_telegram:
        # The asker's own record comes with it: the press needs no separate lookup.
        query = query.add_columns(*(getattr(actor, name) for name in SENDER_COLUMNS)).join(
            actor, actor.telegram_user_id == bindparam("telegram_user_id")
        )
    return query


def _decision() -> dict[str, Any]:
    """What a decision sets, bound as ``new_status``, ``decider_id``, ``moment``, ``reason``
    and ``via``; the version moves on, so an older button no longer matches."""
    return {
        "status": bindparam("new_status", type_=_ENTRIES.c.status.type),
        "decided_by_id": bindparam("decider_id", type_=_ENTRIES.c.decided_by_id.type),
        "decided_at": bindparam("moment", type_=_ENTRIES.c.decided_at.type),
        "decision_reason": bindparam("reason", type_=_ENTRIES.c.decision_reason.type),
        "decision_via": bindparam("via", type_=_ENTRIES.c.decision_via.type),
        "updated_at": bindparam("moment", type_=_ENTRIES.c.updated_at.type),
        "version": _ENTRIES.c.version + 1,
    }


def _one_decision() -> Any:
    """UPDATE of one entry, only if still submitted at the version shown (a press)."""
    return (
        update(_ENTRIES)
        .where(
            _ENTRIES.c.id == bindparam("entry_id"),
            _ENTRIES.c.version == bindparam("shown_version"),
            _ENTRIES.c.status == EntryStatus.SUBMITTED,
        )
        .values(_decision())
        .returning(_ENTRIES.c.id)
    )


# Built once: every press runs these.
_AUTHORITY = Direct(_authority(by_telegram=False))
_AUTHORITY_BY_TELEGRAM = Direct(_authority(by_telegram=True))
_DECIDE = Direct(_one_decision())


def _decidable(*, hr: bool) -> Any:
    """Which entries ``actor_id`` may decide, as a condition on ``work_entries`` alone.

    Their team's (supervisor), the team of whoever delegated to them today, what was
    escalated from the supervisors they supervise; HR also what has nobody above it.
    Never their own. Bound: ``actor_id``, ``today``.
    """
    actor_id = bindparam("actor_id", type_=Integer())
    today = bindparam("today", type_=Date())
    staff = Staff.__table__.c
    supervisor = aliased(Staff)
    team = select(Staff.id).where(Staff.supervisor_id == actor_id)
    delegated = (
        select(Staff.id)
        .join(Delegation, Delegation.supervisor_id == Staff.supervisor_id)
        .where(
            Delegation.delegate_id == actor_id,
            Delegation.until >= today,
            Delegation.ended_at.is_(None),
        )
    )
    below = (
        select(Staff.id)
        .join(supervisor, supervisor.id == Staff.supervisor_id)
        .where(supervisor.supervisor_id == actor_id)
    )
    escalated = _ENTRIES.c.escalated_at.is_not(None)
    conditions = [
        _ENTRIES.c.staff_id.in_(team),
        _ENTRIES.c.staff_id.in_(delegated),
        and_(escalated, _ENTRIES.c.staff_id.in_(below)),
    ]
    if hr:
        unsupervised = select(Staff.id).where(staff.supervisor_id.is_(None))
        topmost = (
            select(Staff.id)
            .join(supervisor, supervisor.id == Staff.supervisor_id)
            .where(supervisor.supervisor_id.is_(None))
        )
        conditions += [
            _ENTRIES.c.staff_id.in_(unsupervised),
            and_(escalated, _ENTRIES.c.staff_id.in_(topmost)),
        ]
    return and_(or_(*conditions), _ENTRIES.c.staff_id != actor_id)


def _approve_in_one(*, with_notice: bool) -> Direct:
    """PostgreSQL: decide the entry, audit it and queue the author's notice in one statement;
    returns how many entries were decided (0 or 1)."""
    events = cast(Table, AuditEvent.__table__)
    outbox = cast(Table, OutboxMessage.__table__)
    decided = _one_decision().cte("decided")
    audit = (
        insert(events)
        .from_select(
            ["at", "actor_staff_id", "actor_telegram_id", "action", "subject_type", "subject_id",
             "details"],
            select(
                bindparam("moment", type_=events.c.at.type),
                bindparam("decider_id", type_=events.c.actor_staff_id.type),
                bindparam("decider_telegram_id", type_=events.c.actor_telegram_id.type),
                bindparam("action", type_=events.c.action.type),
                bindparam("subject_type", type_=events.c.subject_type.type),
                sql_cast(decided.c.id, String),
                bindparam("details", type_=events.c.details.type),
            ).select_from(decided),
        )
        .cte("audit")
    )  # fmt: skip
    ctes: list[Any] = [audit]
    if with_notice:
        notice = (
            pg_insert(outbox)
            .from_select(
                list(OUTBOX_COLUMNS),
                select(
                    *(bindparam(f"n_{name}", type_=outbox.c[name].type) for name in OUTBOX_COLUMNS)
                ).select_from(decided),
            )
            .on_conflict_do_nothing(index_elements=[outbox.c.dedup_key])
            .cte("notice")
        )
        ctes.append(notice)
    return Direct(
        select(select(func.count()).select_from(decided).scalar_subquery()).add_cte(*ctes)
    )


_APPROVE_IN_ONE = {notice: _approve_in_one(with_notice=notice) for notice in (False, True)}


def _approve_shown(*, hr: bool, one_author: bool) -> Direct:
    """What a list showed, still undecided and unchanged since, that the reader may decide."""
    conditions = [
        _ENTRIES.c.status == EntryStatus.SUBMITTED,
        _ENTRIES.c.id.between(bindparam("first_id"), bindparam("last_id")),
        _ENTRIES.c.updated_at <= bindparam("seen_at", type_=_ENTRIES.c.updated_at.type),
        _decidable(hr=hr),
    ]
    if one_author:
        conditions.append(_ENTRIES.c.staff_id == bindparam("author_id"))
    return Direct(
        update(_ENTRIES)
        .where(*conditions)
        .values(_decision())
        .returning(_ENTRIES.c.id, _ENTRIES.c.staff_id, _ENTRIES.c.work_date, _ENTRIES.c.text)
    )


# Built once per kind of reader (HR or not) and list (one author or all).
_APPROVE_SHOWN = {
    (hr, one): _approve_shown(hr=hr, one_author=one)
    for hr in (False, True)
    for one in (False, True)
}


_CONTACT = (Staff.id, Staff.name, Staff.telegram_user_id, Staff.language, Staff.telegram_language)


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

    async def authority_for_telegram(
        self, entry_id: int, telegram_user_id: int, today: date
    ) -> tuple[EntryAuthority, tuple[Any, ...]] | None:
        """``authority`` for whoever is linked to ``telegram_user_id``, with their record
        (``SENDER_COLUMNS``); None if the entry or the person is unknown."""
        rows = await direct.rows(
            self.session,
            _AUTHORITY_BY_TELEGRAM,
            {"entry_id": entry_id, "telegram_user_id": telegram_user_id, "today": today},
        )
        if not rows:
            return None
        row = rows[0]
        return EntryAuthority(*row[:16]), tuple(row[16:])

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

    async def decide_in_one(
        self,
        entry_id: int,
        version: int,
        *,
        status: EntryStatus,
        decider_id: int,
        decider_telegram_id: int | None,
        moment: datetime,
        reason: str | None,
        via: str,
        event: tuple[str, dict[str, Any]],
        notice: dict[str, Any] | None,
    ) -> bool:
        """PostgreSQL, autocommit: decide the entry if still submitted at ``version``, append
        its audit ``event`` (action, details) and queue ``notice`` (an outbox row),
        atomically in one statement; whether it was decided."""
        action, details = event
        values: dict[str, Any] = {
            "entry_id": entry_id,
            "shown_version": version,
            "new_status": status,
            "decider_id": decider_id,
            "decider_telegram_id": decider_telegram_id,
            "moment": moment,
            "reason": reason,
            "via": via,
            "action": action,
            "subject_type": "work_entry",
            "details": details,
        }
        if notice is not None:
            row = {"status": DeliveryStatus.PENDING, "attempts": 0, **notice}
            values.update({f"n_{name}": row.get(name) for name in OUTBOX_COLUMNS})
        ((decided,),) = await direct.rows(
            self.session, _APPROVE_IN_ONE[notice is not None], values
        )
        return bool(decided)

    async def approve_shown(
        self,
        actor_id: int,
        *,
        hr: bool,
        today: date,
        first_id: int,
        last_id: int,
        seen_at: datetime,
        author_id: int | None,
        moment: datetime,
    ) -> list[DecidedRow]:
        """Approve, in one UPDATE, what ``actor_id`` was shown in a list and may decide.

        Shown: undecided entries in the id range, unchanged since ``seen_at`` (an edit
        since would be unseen), optionally of one author. Marked ``decision_via = bulk``.
        """
        statement = _APPROVE_SHOWN[(hr, author_id is not None)]
        rows = await direct.rows(
            self.session,
            statement,
            {
                "new_status": EntryStatus.APPROVED,
                "decider_id": actor_id,
                "moment": moment,
                "reason": None,
                "via": "bulk",
                "actor_id": actor_id,
                "today": today,
                "first_id": first_id,
                "last_id": last_id,
                "seen_at": seen_at,
                "author_id": author_id,
            },
        )
        return [DecidedRow(int(i), int(a), d, t) for i, a, d, t in rows]

    async def approve_stale(
        self, submitted_before: datetime, values: dict[str, Any], *, limit: int
    ) -> list[DecidedRow]:
        """Decide undecided entries unchanged since ``submitted_before`` (auto-approval)."""
        stale = (
            select(_ENTRIES.c.id)
            .where(
                _ENTRIES.c.status == EntryStatus.SUBMITTED,
                _ENTRIES.c.updated_at < submitted_before,
            )
            .order_by(_ENTRIES.c.id)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(_ENTRIES)
            .where(_ENTRIES.c.id.in_(stale), _ENTRIES.c.status == EntryStatus.SUBMITTED)
            .values({**values, "version": _ENTRIES.c.version + 1})
            .returning(_ENTRIES.c.id, _ENTRIES.c.staff_id, _ENTRIES.c.work_date, _ENTRIES.c.text)
        )
        return [DecidedRow(int(i), int(a), d, t) for i, a, d, t in result]

    async def pending(
        self, actor_id: int, *, hr: bool, today: date, offset: int, limit: int
    ) -> tuple[list[PendingRow], int]:
        """A page of the undecided entries ``actor_id`` may decide, oldest first; and how many."""
        where = and_(
            WorkEntry.status == EntryStatus.SUBMITTED,
            _decidable(hr=hr),
        )
        bound = {"actor_id": actor_id, "today": today}
        total = await self.session.scalar(
            select(func.count())
            .select_from(WorkEntry)
            .join(Staff, Staff.id == WorkEntry.staff_id)
            .where(where),
            bound,
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
            .limit(limit),
            bound,
        )
        return [PendingRow(*row) for row in rows], int(total or 0)

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
                author.employee_no,
                WorkEntry.work_date,
                WorkEntry.text,
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
                # Not a change of the entry: its updated_at (when it was submitted) stays.
                .values(escalated_at=now, updated_at=_ENTRIES.c.updated_at)
                .returning(_ENTRIES.c.id)
            )
            marked.extend(int(entry_id) for (entry_id,) in result)
        return marked

    async def contacts(self, staff_ids: Sequence[int]) -> dict[int, Contact]:
        """Chat and languages of these people, by id."""
        found: dict[int, Contact] = {}
        ids = list(dict.fromkeys(staff_ids))
        for start in range(0, len(ids), _CHUNK):
            rows = await self.session.execute(
                select(*_CONTACT).where(Staff.id.in_(ids[start : start + _CHUNK]))
            )
            found.update({int(row[0]): _contact(row) for row in rows})
        return found

    async def hr_contacts(self) -> list[Contact]:
        """Everyone in HR still on staff."""
        rows = await self.session.execute(
            select(*_CONTACT, Staff.roles).where(Staff.status != StaffStatus.LEFT)
        )
        return [_contact(row) for row in rows if row[-1] & Role.HR]

    async def team_contacts(self, supervisor_id: int) -> list[Contact]:
        """The supervisor's direct reports still on staff."""
        rows = await self.session.execute(
            select(*_CONTACT).where(
                Staff.supervisor_id == supervisor_id, Staff.status != StaffStatus.LEFT
            )
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
