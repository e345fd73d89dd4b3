"""Who may decide whose entries, what waits for them, and the decisions themselves.

``authority`` is the one definition of who may decide an entry: a SQL expression
used alike by the single press (``authority_of``), the lists (/pending, digests),
the bulk approval's UPDATE and the requests put before approvers. Each of them also
carries ``entry_open`` (``storage.repositories.periods``), the closed-period rule, bound
to ``closed_through``: no entry of a period under review is listed, requested,
escalated or decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    case,
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

from storage.enums import Authority, DecisionVia, DeliveryStatus, EntryStatus, Role, StaffStatus
from storage.models import ApprovalRequest, Delegation, OutboxMessage, Staff, WorkEntry
from storage.repositories.base import Repository, Unindexed, rows_as
from storage.repositories.periods import entry_open

_ENTRIES = cast(Table, WorkEntry.__table__)
_STAFF = cast(Table, Staff.__table__)
_DELEGATIONS = cast(Table, Delegation.__table__)
_REQUESTS = cast(Table, ApprovalRequest.__table__)
# Both SQLite and asyncpg cap the bound parameters of one statement.
_CHUNK = 500
# The one message that stands for many requests to one approver ("12 entries wait").
WAITING_KIND = "approval_waiting"


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
    """An entry as a press finds it, and in what capacity the presser may decide it."""

    entry_id: int
    version: int
    status: EntryStatus
    work_date: date
    text: str
    decided_at: datetime | None
    decided_by: str | None
    author: Contact
    authority: Authority | None  # None: the presser may not decide it
    open: bool = True  # False: its period is under review (``entry_open``)


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
class Unsent:
    """A message asking someone for decisions that no sender has taken yet."""

    outbox_id: int
    # The one message for many (``WAITING_KIND``), rather than a card for one entry.
    many: bool


@dataclass(frozen=True, slots=True)
class ActiveDelegation:
    """A delegation in force."""

    supervisor_id: int
    supervisor_name: str
    delegate_id: int
    delegate_name: str
    delegate_employee_no: str
    until: date


def _in_force(today: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(_DELEGATIONS.c.until >= today, _DELEGATIONS.c.ended_at.is_(None))


@dataclass(frozen=True, slots=True)
class _Reach:
    """The sets of authors ``authority`` names, for one actor (each a SELECT of staff ids)."""

    team: Any  # the actor supervises them
    delegated: Any  # their supervisor delegated to the actor, in force
    below: Any  # their supervisor's supervisor is the actor (escalated entries)
    unsupervised: Any  # no supervisor, or one who left (HR)
    topmost: Any  # nobody on staff above their supervisor (escalated entries, HR)
    active: ColumnElement[bool]  # the actor has not left
    in_hr: ColumnElement[bool]  # the actor is in HR


def _reach(actor_id: Any, today: ColumnElement[Any]) -> _Reach:
    author = aliased(Staff, name="auth_author")
    supervisor = aliased(Staff, name="auth_supervisor")
    higher = aliased(Staff, name="auth_higher")
    actor = aliased(Staff, name="auth_actor")
    return _Reach(
        team=select(author.id).where(author.supervisor_id == actor_id),
        delegated=(
            select(author.id)
            .join(_DELEGATIONS, _DELEGATIONS.c.supervisor_id == author.supervisor_id)
            .where(_DELEGATIONS.c.delegate_id == actor_id, _in_force(today))
        ),
        below=(
            select(author.id)
            .join(supervisor, supervisor.id == author.supervisor_id)
            .where(supervisor.supervisor_id == actor_id)
        ),
        unsupervised=(
            select(author.id)
            .outerjoin(supervisor, supervisor.id == author.supervisor_id)
            .where(or_(supervisor.id.is_(None), supervisor.status == StaffStatus.LEFT))
        ),
        topmost=(
            select(author.id)
            .join(supervisor, supervisor.id == author.supervisor_id)
            .outerjoin(higher, higher.id == supervisor.supervisor_id)
            .where(or_(higher.id.is_(None), higher.status == StaffStatus.LEFT))
        ),
        active=exists().where(actor.id == actor_id, actor.status != StaffStatus.LEFT),
        in_hr=exists().where(actor.id == actor_id, actor.roles.op("&")(int(Role.HR)) != 0),
    )


def authority(actor_id: Any, today: ColumnElement[Any]) -> ColumnElement[Any]:
    """In what capacity ``actor_id`` may decide the ``work_entries`` row at hand; NULL: not.

    The one rule, as SQL on ``work_entries`` alone (correlated subqueries), so it can
    serve as a column (a press), a condition (lists, bulk UPDATE) or per row with the
    approver as a column (requests). Never the author, never someone who left:
    - ``supervisor``: the author's supervisor;
    - ``delegate``: whom the author's supervisor delegated to, while it is in force;
    - ``higher``: the supervisor's own supervisor, once the entry was escalated;
    - ``hr``: HR, for what nobody above the author can decide: no supervisor (or one
      who left), or escalated with nobody (still on staff) above the supervisor.
    """
    reach = _reach(actor_id, today)
    staff_id = _ENTRIES.c.staff_id
    escalated = _ENTRIES.c.escalated_at.is_not(None)
    return case(
        (or_(staff_id == actor_id, ~reach.active), null()),
        (staff_id.in_(reach.team), literal(Authority.SUPERVISOR.value)),
        (staff_id.in_(reach.delegated), literal(Authority.DELEGATE.value)),
        (and_(escalated, staff_id.in_(reach.below)), literal(Authority.HIGHER.value)),
        (
            and_(
                reach.in_hr,
                or_(
                    staff_id.in_(reach.unsupervised),
                    and_(escalated, staff_id.in_(reach.topmost)),
                ),
            ),
            literal(Authority.HR.value),
        ),
        else_=null(),
    )


def decidable(
    actor_id: Any, today: ColumnElement[Any], *, in_hr: bool, postgresql: bool
) -> ColumnElement[bool]:
    """The submitted entries ``authority`` lets ``actor_id`` decide (open or not).

    For someone outside HR (``in_hr`` False) led by the authors the rule can name them
    for (team, delegated, below): only those authors' entries are tested, found by the
    (staff_id, ...) index, not every submitted entry in the store; a supervisor's count
    of what waits then reads their team's entries, not all 60,000 submitted ones. HR may
    decide for everyone without a supervisor, which can be most of the staff: there the
    status index leads, as before. Either way the same entries as ``authority``, which is
    still tested on each: every branch of it but HR's needs the author in one of those
    sets (``tests/service/test_approval_rules.py`` holds both to a model of the rule).

    On PostgreSQL the authors are an array computed once (``= ANY(ARRAY(...))``), an
    index condition: as an ``IN`` it plans a join and charges each probe of the index the
    rule's hashed subplans again, and so reads every submitted entry instead.
    """
    submitted = _ENTRIES.c.status == EntryStatus.SUBMITTED
    rule = authority(actor_id, today).is_not(None)
    if in_hr:
        return and_(submitted, rule)
    reach = _reach(actor_id, today)
    authors = union_all(reach.team, reach.delegated, reach.below)
    # Led by those authors, not by the status index (SQLite has no statistics to tell).
    return and_(
        Unindexed(_ENTRIES.c.status) == EntryStatus.SUBMITTED,
        (
            _ENTRIES.c.staff_id == any_(func.array(authors.scalar_subquery()))
            if postgresql
            else _ENTRIES.c.staff_id.in_(authors)
        ),
        rule,
    )


_ACTOR = bindparam("actor_id", type_=Integer())
_TODAY = bindparam("today", type_=Date())


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


def _entry_authority() -> Any:
    author = aliased(Staff, name="author")
    decider = aliased(Staff, name="decider")
    return (
        select(
            _ENTRIES.c.id.label("entry_id"),
            _ENTRIES.c.version,
            _ENTRIES.c.status,
            _ENTRIES.c.work_date,
            _ENTRIES.c.text,
            _ENTRIES.c.decided_at,
            decider.name.label("decided_by"),
            author.id.label("author_id"),
            author.name.label("author_name"),
            author.telegram_user_id.label("author_chat"),
            author.language.label("author_language"),
            author.telegram_language.label("author_telegram_language"),
            authority(_ACTOR, _TODAY).label("authority"),
            entry_open().label("open"),
        )
        .join(author, author.id == _ENTRIES.c.staff_id)
        .outerjoin(decider, decider.id == _ENTRIES.c.decided_by_id)
        .where(_ENTRIES.c.id == bindparam("entry_id"))
    )


# Built once: every press runs these.
_ENTRY_AUTHORITY = _entry_authority()
_DECIDE_ONE = (
    update(_ENTRIES)
    .where(
        _ENTRIES.c.id == bindparam("entry_id"),
        _ENTRIES.c.version == bindparam("shown_version"),
        _ENTRIES.c.status == EntryStatus.SUBMITTED,
        # Checked again as it is written: a delegation may have ended since the read.
        authority(_ACTOR, _TODAY).is_not(None),
        entry_open(),
    )
    .values(_decision())
    .returning(_ENTRIES.c.id)
)


def _shown(*, one_author: bool) -> list[ColumnElement[bool]]:
    """What a list showed, still undecided and unchanged since, that the reader may decide
    (whether it is open aside: the approval adds ``entry_open``, the count of what was
    left its negation)."""
    conditions = [
        _ENTRIES.c.status == EntryStatus.SUBMITTED,
        _ENTRIES.c.id.between(bindparam("first_id"), bindparam("last_id")),
        _ENTRIES.c.updated_at <= bindparam("seen_at", type_=_ENTRIES.c.updated_at.type),
        # Escalated since it was shown: it was not on this reader's list then.
        or_(
            _ENTRIES.c.escalated_at.is_(None),
            _ENTRIES.c.escalated_at <= bindparam("seen_at", type_=_ENTRIES.c.escalated_at.type),
        ),
        authority(_ACTOR, _TODAY).is_not(None),
    ]
    if one_author:
        conditions.append(_ENTRIES.c.staff_id == bindparam("author_id"))
    return conditions


def _approve_shown(*, one_author: bool) -> Any:
    """Approve what a list showed (``_shown``) that is open."""
    return (
        update(_ENTRIES)
        .where(*_shown(one_author=one_author), entry_open())
        .values(_decision())
        .returning(
            _ENTRIES.c.id.label("entry_id"),
            _ENTRIES.c.staff_id.label("author_id"),
            _ENTRIES.c.work_date,
            _ENTRIES.c.text,
        )
    )


_APPROVE_SHOWN = {one: _approve_shown(one_author=one) for one in (False, True)}
_CLOSED_SHOWN = {
    one: select(func.count()).select_from(_ENTRIES).where(*_shown(one_author=one), ~entry_open())
    for one in (False, True)
}


# What /pending lists and counts (the undecided open entries the actor may decide), by
# (in HR, on PostgreSQL) (``decidable``). Built once: every count runs these.
_WAITING = {
    (in_hr, pg): and_(decidable(_ACTOR, _TODAY, in_hr=in_hr, postgresql=pg), entry_open())
    for in_hr in (False, True)
    for pg in (False, True)
}
_WAITING_COUNT = {
    key: select(func.count()).select_from(_ENTRIES).where(where) for key, where in _WAITING.items()
}


def _contact_columns(person: Any) -> list[Any]:
    return [
        person.id.label("staff_id"),
        person.name,
        person.telegram_user_id.label("chat_id"),
        person.language,
        person.telegram_language,
    ]


class ApprovalRepository(Repository):
    """Approvals: authority, pending lists, conditional decisions, requests, delegations."""

    async def authority_of(
        self, entry_id: int, actor_id: int, today: date, *, closed_through: date
    ) -> EntryAuthority | None:
        """The entry, its author, in what capacity ``actor_id`` may decide it ``today``
        (``authority``) and whether it is open (``entry_open``); None if there is no such
        entry. One statement."""
        result = await self.session.execute(
            _ENTRY_AUTHORITY,
            {
                "entry_id": entry_id,
                "actor_id": actor_id,
                "today": today,
                "closed_through": closed_through,
            },
        )
        row = result.mappings().one_or_none()
        if row is None:
            return None
        return EntryAuthority(
            entry_id=row["entry_id"],
            version=row["version"],
            status=row["status"],
            work_date=row["work_date"],
            text=row["text"],
            decided_at=row["decided_at"],
            decided_by=row["decided_by"],
            author=Contact(
                staff_id=row["author_id"],
                name=row["author_name"],
                chat_id=row["author_chat"],
                language=row["author_language"],
                telegram_language=row["author_telegram_language"],
            ),
            authority=None if row["authority"] is None else Authority(row["authority"]),
            open=bool(row["open"]),
        )

    async def decide(
        self,
        entry_id: int,
        version: int,
        *,
        status: EntryStatus,
        decider_id: int,
        moment: datetime,
        reason: str | None,
        via: DecisionVia,
        today: date,
        closed_through: date,
    ) -> bool:
        """Decide one entry only if it is still submitted at ``version``, ``decider_id``
        may still decide it ``today`` (one press wins) and it is open (``entry_open``)."""
        decided = await self.session.scalar(
            _DECIDE_ONE,
            {
                "entry_id": entry_id,
                "shown_version": version,
                "new_status": status,
                "decider_id": decider_id,
                "moment": moment,
                "reason": reason,
                "via": via,
                "actor_id": decider_id,
                "today": today,
                "closed_through": closed_through,
            },
        )
        return decided is not None

    async def approve_shown(
        self,
        actor_id: int,
        *,
        today: date,
        first_id: int,
        last_id: int,
        seen_at: datetime,
        author_id: int | None,
        moment: datetime,
        closed_through: date,
    ) -> list[DecidedRow]:
        """Approve, in one UPDATE, what ``actor_id`` was shown in a list and may decide.

        Shown: undecided entries in the id range, unchanged since ``seen_at`` (an edit
        since would be unseen), optionally of one author. Marked ``decision_via = bulk``.
        """
        result = await self.session.execute(
            _APPROVE_SHOWN[author_id is not None],
            {
                "new_status": EntryStatus.APPROVED,
                "decider_id": actor_id,
                "moment": moment,
                "reason": None,
                "via": DecisionVia.BULK,
                "actor_id": actor_id,
                "today": today,
                "first_id": first_id,
                "last_id": last_id,
                "seen_at": seen_at,
                "author_id": author_id,
                "closed_through": closed_through,
            },
        )
        return rows_as(result, DecidedRow)

    async def closed_shown(
        self,
        actor_id: int,
        *,
        today: date,
        first_id: int,
        last_id: int,
        seen_at: datetime,
        author_id: int | None,
        closed_through: date,
    ) -> int:
        """How many entries of what ``approve_shown`` was given it left for being closed:
        its conditions but ``entry_open``, negated (the same one rule)."""
        count = await self.session.scalar(
            _CLOSED_SHOWN[author_id is not None],
            {
                "actor_id": actor_id,
                "today": today,
                "first_id": first_id,
                "last_id": last_id,
                "seen_at": seen_at,
                "author_id": author_id,
                "closed_through": closed_through,
            },
        )
        return int(count or 0)

    async def approve_stale(
        self,
        submitted_before: datetime,
        values: Mapping[str, Any],
        *,
        limit: int,
        closed_through: date,
    ) -> list[DecidedRow]:
        """Decide undecided open entries unchanged since ``submitted_before`` (auto-approval);
        an entry of a period under review is not approved (``entry_open``)."""
        stale = (
            select(_ENTRIES.c.id)
            .where(
                _ENTRIES.c.status == EntryStatus.SUBMITTED,
                _ENTRIES.c.submitted_at < submitted_before,
                entry_open(),
            )
            .order_by(_ENTRIES.c.id)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(_ENTRIES)
            .where(
                _ENTRIES.c.id.in_(stale),
                _ENTRIES.c.status == EntryStatus.SUBMITTED,
                entry_open(),
            )
            .values({**values, "version": _ENTRIES.c.version + 1})
            .returning(
                _ENTRIES.c.id.label("entry_id"),
                _ENTRIES.c.staff_id.label("author_id"),
                _ENTRIES.c.work_date,
                _ENTRIES.c.text,
            ),
            {"closed_through": closed_through},
        )
        return rows_as(result, DecidedRow)

    async def pending(
        self, actor_id: int, *, today: date, offset: int, limit: int, closed_through: date
    ) -> tuple[list[PendingRow], int]:
        """A page of the undecided open entries ``actor_id`` may decide, oldest first; and
        how many."""
        where = _WAITING[await self._waiting_key(actor_id)]
        bound = {"actor_id": actor_id, "today": today, "closed_through": closed_through}
        total = await self.session.scalar(
            select(func.count()).select_from(_ENTRIES).where(where), bound
        )
        result = await self.session.execute(
            select(
                _ENTRIES.c.id.label("entry_id"),
                _ENTRIES.c.version,
                _STAFF.c.id.label("author_id"),
                _STAFF.c.name.label("author_name"),
                _STAFF.c.employee_no,
                _ENTRIES.c.work_date,
                _ENTRIES.c.text,
                _ENTRIES.c.indicator_id,
                _ENTRIES.c.quantity,
                _ENTRIES.c.hours,
                _ENTRIES.c.updated_at,
            )
            .join(_STAFF, _STAFF.c.id == _ENTRIES.c.staff_id)
            .where(where)
            .order_by(_ENTRIES.c.id)
            .offset(offset)
            .limit(limit),
            bound,
        )
        return rows_as(result, PendingRow), int(total or 0)

    async def waiting(self, actor_id: int, *, today: date, closed_through: date) -> int:
        """How many undecided open entries ``actor_id`` may decide (what /pending counts)."""
        total = await self.session.scalar(
            _WAITING_COUNT[await self._waiting_key(actor_id)],
            {"actor_id": actor_id, "today": today, "closed_through": closed_through},
        )
        return int(total or 0)

    async def _waiting_key(self, actor_id: int) -> tuple[bool, bool]:
        """Which of ``_WAITING`` serves ``actor_id``: (in HR, on PostgreSQL)."""
        roles = await self.session.scalar(select(Staff.roles).where(Staff.id == actor_id))
        in_hr = roles is not None and bool(int(roles) & int(Role.HR))
        return in_hr, self.dialect == "postgresql"

    async def unsent_requests(self, approver_ids: Sequence[int]) -> dict[int, list[Unsent]]:
        """The messages asking these approvers for decisions that no sender has taken yet
        (requests, escalated requests, ``WAITING_KIND`` messages), by approver, oldest first.

        Served by the outbox's (staff_id, status) index: a person has few unsent messages.
        """
        unsent: dict[int, list[Unsent]] = {}
        if not approver_ids:
            return unsent
        rows = await self.session.execute(
            select(OutboxMessage.staff_id, OutboxMessage.id, OutboxMessage.kind)
            .where(
                OutboxMessage.staff_id.in_(list(approver_ids)),
                OutboxMessage.status == DeliveryStatus.PENDING,
                OutboxMessage.edits_id.is_(None),
                or_(
                    OutboxMessage.request_entry_id.is_not(None),
                    OutboxMessage.kind == WAITING_KIND,
                ),
            )
            .order_by(OutboxMessage.id)
        )
        for staff_id, outbox_id, kind in rows:
            unsent.setdefault(int(staff_id or 0), []).append(
                Unsent(int(outbox_id), kind == WAITING_KIND)
            )
        return unsent

    async def to_request(
        self, *, today: date, limit: int, closed_through: date
    ) -> list[RequestTarget]:
        """Submitted open entry versions not yet put before their approver, whose approver
        wants them at once: the supervisor, or the delegate while a delegation is in force
        (unless the delegate wrote the entry, or has left), if ``authority`` lets them
        decide it."""
        author = aliased(Staff, name="author")
        supervisor = aliased(Staff, name="supervisor")
        approver = aliased(Staff, name="approver")
        chosen = aliased(Staff, name="chosen")
        # Never the entry's own author, nor someone who left: then the supervisor decides.
        delegate = (
            select(_DELEGATIONS.c.delegate_id)
            .join(chosen, chosen.id == _DELEGATIONS.c.delegate_id)
            .where(
                _DELEGATIONS.c.supervisor_id == author.supervisor_id,
                _in_force(literal(today, Date())),
                _DELEGATIONS.c.delegate_id != author.id,
                chosen.status != StaffStatus.LEFT,
            )
            .order_by(_DELEGATIONS.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        requested = exists().where(
            _REQUESTS.c.entry_id == _ENTRIES.c.id,
            _REQUESTS.c.entry_version == _ENTRIES.c.version,
        )
        result = await self.session.execute(
            select(
                _ENTRIES.c.id.label("entry_id"),
                _ENTRIES.c.version,
                approver.id.label("approver_id"),
                author.name.label("author_name"),
                author.employee_no,
                _ENTRIES.c.work_date,
                _ENTRIES.c.text,
                approver.telegram_user_id.label("approver_chat"),
                approver.language.label("approver_language"),
                approver.telegram_language.label("approver_telegram_language"),
            )
            .join(author, author.id == _ENTRIES.c.staff_id)
            .join(supervisor, supervisor.id == author.supervisor_id)
            .join(approver, approver.id == func.coalesce(delegate, author.supervisor_id))
            .where(
                _ENTRIES.c.status == EntryStatus.SUBMITTED,
                ~requested,
                supervisor.approval_digest_at.is_(None),
                authority(approver.id, literal(today, Date())).is_not(None),
                entry_open(),
            )
            .order_by(_ENTRIES.c.id)
            .limit(limit),
            {"closed_through": closed_through},
        )
        return rows_as(result, RequestTarget)

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

    async def overdue(
        self, submitted_before: datetime, *, limit: int, closed_through: date
    ) -> list[Overdue]:
        """Undecided open entries submitted before ``submitted_before`` and not escalated
        yet, with whom they go to: ``higher_id``, or HR when that is None. An entry of a
        period under review is no longer escalated (``entry_open``)."""
        author = aliased(Staff)
        supervisor = aliased(Staff)
        higher = aliased(Staff)
        rows = await self.session.execute(
            select(
                WorkEntry.id.label("entry_id"),
                WorkEntry.version,
                author.id.label("author_id"),
                author.name.label("author_name"),
                author.supervisor_id,
                # Nobody (still on staff) above the supervisor: HR decides (``authority``).
                case((higher.status != StaffStatus.LEFT, higher.id), else_=null()).label(
                    "higher_id"
                ),
                author.employee_no,
                WorkEntry.work_date,
                WorkEntry.text,
            )
            .join(author, author.id == WorkEntry.staff_id)
            .outerjoin(supervisor, supervisor.id == author.supervisor_id)
            .outerjoin(higher, higher.id == supervisor.supervisor_id)
            .where(
                WorkEntry.status == EntryStatus.SUBMITTED,
                WorkEntry.escalated_at.is_(None),
                WorkEntry.submitted_at < submitted_before,
                entry_open(),
            )
            .order_by(WorkEntry.id)
            .limit(limit),
            {"closed_through": closed_through},
        )
        return rows_as(rows, Overdue)

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

    async def contacts(self, staff_ids: Sequence[int]) -> dict[int, Contact]:
        """Chat and languages of these people, by id."""
        found: dict[int, Contact] = {}
        ids = list(dict.fromkeys(staff_ids))
        for start in range(0, len(ids), _CHUNK):
            rows = await self.session.execute(
                select(*_contact_columns(Staff)).where(Staff.id.in_(ids[start : start + _CHUNK]))
            )
            found.update({contact.staff_id: contact for contact in rows_as(rows, Contact)})
        return found

    async def hr_contacts(self) -> list[Contact]:
        """Everyone in HR still on staff."""
        rows = await self.session.execute(
            select(*_contact_columns(Staff)).where(
                Staff.status != StaffStatus.LEFT, Staff.roles.op("&")(int(Role.HR)) != 0
            )
        )
        return rows_as(rows, Contact)

    async def team_contacts(self, supervisor_id: int) -> list[Contact]:
        """The supervisor's direct reports still on staff."""
        rows = await self.session.execute(
            select(*_contact_columns(Staff)).where(
                Staff.supervisor_id == supervisor_id, Staff.status != StaffStatus.LEFT
            )
        )
        return rows_as(rows, Contact)

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
        found = rows_as(
            await self.session.execute(
                select(
                    Delegation.supervisor_id,
                    supervisor.name.label("supervisor_name"),
                    Delegation.delegate_id,
                    delegate.name.label("delegate_name"),
                    delegate.employee_no.label("delegate_employee_no"),
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
            ),
            ActiveDelegation,
        )
        return found[0] if found else None

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
