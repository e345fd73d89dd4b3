"""Supervisors' decisions on entries: who may decide, one or many at once, and what follows.

An entry counts only once approved. Its author's supervisor decides it, or their
delegate while a delegation is in force, or HR; the supervisor's own supervisor
decides what was escalated to them; the author never does. Every decision is a
conditional update (still submitted, still the version that was shown), so of two
presses exactly one wins, and a press on an edited or deleted entry says so.
Every decision and every refused attempt is audited.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from assessment.calendar import WorkCalendar
from assessment.outbox import Outgoing, enqueue
from assessment.people import Role, StaffMember
from config.policy import Policy
from storage.enums import EntryStatus
from storage.repositories.approvals import (
    ActiveDelegation,
    Contact,
    DecidedRow,
    EntryAuthority,
    Overdue,
    PendingRow,
    RequestTarget,
)
from storage.uow import UnitOfWork

__all__ = [
    "ActiveDelegation",
    "AlreadyDecided",
    "ApprovalError",
    "AuthorNotice",
    "BulkDecided",
    "Contact",
    "Decided",
    "Decision",
    "PendingRow",
    "RequestTarget",
    "approve_by_telegram",
    "approve_shown",
    "authority_of",
    "auto_approve",
    "decide",
    "delegate",
    "end_delegation",
    "escalate",
    "pending",
    "queue_requests",
]

SUBJECT = "work_entry"
MAX_REASON = 500
# Entries put before approvers per job tick; the rest wait for the next one.
REQUEST_BATCH = 200


class Decision(enum.StrEnum):
    """What a supervisor makes of an entry."""

    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"

    @property
    def status(self) -> EntryStatus:
        """The entry's status after this decision."""
        return {
            Decision.APPROVE: EntryStatus.APPROVED,
            Decision.RETURN: EntryStatus.RETURNED,
            Decision.REJECT: EntryStatus.REJECTED,
        }[self]

    @property
    def needs_reason(self) -> bool:
        """Return and Reject tell the author why."""
        return self is not Decision.APPROVE


class ApprovalError(enum.Enum):
    """Why a decision was not made."""

    UNKNOWN_ENTRY = "unknown_entry"
    DELETED = "deleted"
    EDITED = "edited"  # changed since the button was shown: look again
    NOT_ALLOWED = "not_allowed"
    OWN_ENTRY = "own_entry"
    REASON_NEEDED = "reason_needed"
    REASON_TOO_LONG = "reason_too_long"
    BAD_DATE = "bad_date"
    UNKNOWN_PERSON = "unknown_person"
    SELF_DELEGATE = "self_delegate"


@dataclass(frozen=True, slots=True)
class AlreadyDecided:
    """Someone decided the entry first."""

    status: EntryStatus
    by: str | None
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AuthorNotice:
    """What the author of decided entries is told (rendered in their language by the caller)."""

    author: Contact
    decision: Decision
    decided_by: str
    entries: tuple[tuple[int, date, str], ...]  # (id, work date, text)
    reason: str | None


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision made."""

    entry_id: int
    decision: Decision
    decided_by: str
    at: datetime
    reason: str | None
    author_name: str


@dataclass(frozen=True, slots=True)
class BulkDecided:
    """How many entries were approved in one go."""

    approved: int


Render = Callable[[AuthorNotice], Outgoing | None]


def authority_of(actor: StaffMember, entry: EntryAuthority) -> str | ApprovalError:
    """How ``actor`` may decide ``entry`` (``supervisor``, ``delegate``, ``higher``, ``hr``)."""
    if actor.id == entry.author_id:
        return ApprovalError.OWN_ENTRY
    if not actor.is_active:
        return ApprovalError.NOT_ALLOWED
    if entry.supervisor_id == actor.id:
        return "supervisor"
    if entry.delegated:
        return "delegate"
    if entry.escalated and entry.higher_id == actor.id:
        return "higher"
    if actor.has(Role.HR):
        return "hr"
    return ApprovalError.NOT_ALLOWED


async def _refused(
    uow: UnitOfWork,
    actor: StaffMember,
    entry_id: int,
    decision: Decision,
    why: ApprovalError,
    moment: datetime,
) -> ApprovalError:
    # Refused attempts are evidence too (a forged press, a colleague trying).
    await uow.audit.append(
        "entry.decision_refused",
        SUBJECT,
        entry_id,
        at=moment,
        actor_staff_id=actor.id,
        actor_telegram_id=actor.telegram_user_id,
        details={"decision": decision.value, "why": why.value},
    )
    await uow.commit()
    return why


def _standing(entry: EntryAuthority, version: int) -> ApprovalError | AlreadyDecided | None:
    if entry.status is EntryStatus.DELETED:
        return ApprovalError.DELETED
    if entry.status is not EntryStatus.SUBMITTED:
        return AlreadyDecided(entry.status, entry.decided_by, entry.decided_at)
    if entry.version != version:
        return ApprovalError.EDITED
    return None


async def check(
    uow: UnitOfWork,
    actor: StaffMember,
    entry_id: int,
    version: int,
    decision: Decision,
    *,
    today: date,
    now: datetime | None = None,
) -> tuple[EntryAuthority, str] | ApprovalError | AlreadyDecided:
    """Whether ``actor`` may make ``decision`` on this version of the entry now, and how.

    Used before asking for a reason, so nobody is asked for one in vain; ``decide``
    checks everything again. A refusal is audited.
    """
    moment = now or datetime.now(UTC)
    entry = await uow.approvals.authority(entry_id, actor.id, today)
    if entry is None:
        return await _refused(uow, actor, entry_id, decision, ApprovalError.UNKNOWN_ENTRY, moment)
    how = authority_of(actor, entry)
    if isinstance(how, ApprovalError):
        return await _refused(uow, actor, entry_id, decision, how, moment)
    standing = _standing(entry, version)
    return (entry, how) if standing is None else standing


async def decide(
    uow: UnitOfWork,
    actor: StaffMember,
    entry_id: int,
    version: int,
    decision: Decision,
    *,
    reason: str | None = None,
    today: date,
    render: Render,
    now: datetime | None = None,
) -> Decided | ApprovalError | AlreadyDecided:
    """Approve, return or reject the version of an entry that was shown to ``actor``.

    Statements: the entry with its author's chain and the delegation (one SELECT),
    one conditional UPDATE, the audit event, the author's notice, COMMIT.
    """
    moment = now or datetime.now(UTC)
    cleaned: str | None = None
    if decision.needs_reason:
        cleaned = (reason or "").strip()
        if not cleaned:
            return ApprovalError.REASON_NEEDED
        if len(cleaned) > MAX_REASON:
            return ApprovalError.REASON_TOO_LONG
    found = await check(uow, actor, entry_id, version, decision, today=today, now=moment)
    if not isinstance(found, tuple):
        return found
    entry, how = found
    return await _decided(
        uow, actor, entry, how, version, decision, cleaned, today, render, moment
    )


async def _decided(
    uow: UnitOfWork,
    actor: StaffMember,
    entry: EntryAuthority,
    how: str,
    version: int,
    decision: Decision,
    reason: str | None,
    today: date,
    render: Render,
    moment: datetime,
) -> Decided | ApprovalError | AlreadyDecided:
    entry_id = entry.entry_id
    won = await uow.approvals.decide(
        entry_id,
        version,
        status=decision.status,
        decider_id=actor.id,
        moment=moment,
        reason=reason,
        via=how,
    )
    if not won:
        # Someone else was quicker (or the author changed it) between the two statements.
        await uow.rollback()
        again = await uow.approvals.authority(entry_id, actor.id, today)
        if again is None:
            return ApprovalError.UNKNOWN_ENTRY
        return _standing(again, version) or ApprovalError.EDITED
    await uow.audit.append(
        f"entry.{decision.status.value}",
        SUBJECT,
        entry_id,
        at=moment,
        actor_staff_id=actor.id,
        actor_telegram_id=actor.telegram_user_id,
        details={"version": version, "via": how, "reason": reason},
    )
    notice = render(
        AuthorNotice(
            entry.author, decision, actor.name, ((entry_id, entry.work_date, entry.text),), reason
        )
    )
    if notice is not None:
        await uow.outbox.add_one(notice.row(moment))
    await uow.commit()
    return Decided(entry_id, decision, actor.name, moment, reason, entry.author_name)


async def approve_by_telegram(
    uow: UnitOfWork,
    telegram_user_id: int,
    entry_id: int,
    version: int,
    *,
    today: date,
    render: Render,
    now: datetime | None = None,
) -> tuple[StaffMember, Decided | ApprovalError | AlreadyDecided] | None:
    """An Approve press in one go, before the gate: who pressed and the entry, read together.

    None when the presser is not a linked, active member (or the entry is unknown):
    the press then takes the ordinary way through the gate, which answers it.

    The update is not claimed: the conditional UPDATE already lets a press decide at
    most once, and a redelivered press is answered "already approved". Use an
    autocommit unit of work: on PostgreSQL the whole write is then one statement.
    """
    moment = now or datetime.now(UTC)
    found = await uow.approvals.authority_for_telegram(entry_id, telegram_user_id, today)
    if found is None:
        return None
    entry, sender = found
    actor = StaffMember(*sender)
    if not actor.is_active:
        return None
    how = authority_of(actor, entry)
    if isinstance(how, ApprovalError):
        return actor, await _refused(uow, actor, entry_id, Decision.APPROVE, how, moment)
    standing = _standing(entry, version)
    if standing is not None:
        return actor, standing
    if uow.dialect == "postgresql" and uow.autocommit:
        # One round trip: the decision, its audit event and the author's notice.
        notice = render(
            AuthorNotice(
                entry.author, Decision.APPROVE, actor.name,
                ((entry_id, entry.work_date, entry.text),), None,
            )
        )  # fmt: skip
        won = await uow.approvals.decide_in_one(
            entry_id,
            version,
            status=EntryStatus.APPROVED,
            decider_id=actor.id,
            decider_telegram_id=actor.telegram_user_id,
            moment=moment,
            reason=None,
            via=how,
            event=("entry.approved", {"version": version, "via": how, "reason": None}),
            notice=None if notice is None else notice.row(moment),
        )
        if not won:
            again = await uow.approvals.authority(entry_id, actor.id, today)
            if again is None:
                return actor, ApprovalError.UNKNOWN_ENTRY
            return actor, _standing(again, version) or ApprovalError.EDITED
        return actor, Decided(
            entry_id, Decision.APPROVE, actor.name, moment, None, entry.author_name
        )
    result = await _decided(
        uow, actor, entry, how, version, Decision.APPROVE, None, today, render, moment
    )
    return actor, result


async def approve_shown(
    uow: UnitOfWork,
    actor: StaffMember,
    *,
    today: date,
    first_id: int,
    last_id: int,
    seen_at: datetime,
    author_id: int | None = None,
    render: Render,
    now: datetime | None = None,
) -> BulkDecided:
    """Approve, in one go, what a list showed ``actor`` and is still theirs to decide.

    A list (/pending's page, a digest) shows entries ``first_id``..``last_id`` as they
    were at ``seen_at``; one conditional UPDATE approves those still submitted and
    unchanged since, that ``actor`` may decide (optionally of one author). Then the
    audit events in one INSERT ... SELECT and one notice per author, COMMIT.
    """
    moment = now or datetime.now(UTC)
    decided = await uow.approvals.approve_shown(
        actor.id,
        hr=actor.has(Role.HR),
        today=today,
        first_id=first_id,
        last_id=last_id,
        seen_at=seen_at,
        author_id=author_id,
        moment=moment,
    )
    await _after_bulk(uow, decided, actor, moment, render, {"via": "bulk"})
    return BulkDecided(len(decided))


async def _after_bulk(
    uow: UnitOfWork,
    decided: Sequence[DecidedRow],
    actor: StaffMember | None,
    moment: datetime,
    render: Render,
    details: dict[str, Any],
) -> None:
    if decided:
        await uow.audit.record_for_entries(
            [row.entry_id for row in decided],
            "entry.approved",
            at=moment,
            actor_staff_id=None if actor is None else actor.id,
            actor_telegram_id=None if actor is None else actor.telegram_user_id,
            details=details,
        )
        by_author: dict[int, list[tuple[int, date, str]]] = {}
        for row in decided:
            by_author.setdefault(row.author_id, []).append((row.entry_id, row.work_date, row.text))
        contacts = await uow.approvals.contacts(list(by_author))
        name = actor.name if actor is not None else ""
        notices = [
            render(AuthorNotice(contacts[author], Decision.APPROVE, name, tuple(items), None))
            for author, items in by_author.items()
            if actor is not None
        ]
        await enqueue(uow, [n for n in notices if n is not None], now=moment)
    await uow.commit()


async def pending(
    uow: UnitOfWork, actor: StaffMember, *, today: date, page: int, per_page: int
) -> tuple[list[PendingRow], int]:
    """A page of what waits for ``actor``'s decision, oldest first; and how many wait."""
    return await uow.approvals.pending(
        actor.id,
        hr=actor.has(Role.HR),
        today=today,
        offset=max(page, 0) * per_page,
        limit=per_page,
    )


async def queue_requests(
    uow: UnitOfWork,
    *,
    today: date,
    render: Callable[[RequestTarget], Outgoing | None],
    now: datetime | None = None,
) -> int:
    """Put newly submitted entry versions before their approvers, once each; how many.

    The approver is the author's supervisor, or their delegate while a delegation
    is in force. Supervisors who chose a daily digest get theirs from ``digest``.
    """
    moment = now or datetime.now(UTC)
    targets = await uow.approvals.to_request(today=today, limit=REQUEST_BATCH)
    if not targets:
        return 0
    noted = await uow.approvals.record_requests(
        [(t.entry_id, t.version, t.approver_id, "submitted") for t in targets], moment
    )
    messages = [render(t) for t in targets if (t.entry_id, t.version, t.approver_id) in noted]
    await enqueue(uow, [m for m in messages if m is not None], now=moment)
    await uow.commit()
    return len(targets)


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


async def escalate(
    uow: UnitOfWork,
    policy: Policy,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    *,
    render: Callable[
        [Sequence[Overdue], Contact | None, Contact | None, Sequence[Contact]],
        Iterable[Outgoing],
    ],
    now: datetime | None = None,
) -> int:
    """Send entries undecided for the policy's workdays higher up; how many.

    Each goes to the supervisor's own supervisor (HR when there is none), and the
    supervisor is told. ``render(entries, higher, supervisor, hr)`` builds the
    messages for one supervisor's escalated entries (``hr`` when nobody is higher).
    Marked once: a second process or a second run escalates nothing twice.
    """
    moment = now or datetime.now(UTC)
    today = moment.astimezone(zone).date()
    days = calendar.previous_workdays(today, policy.approvals.escalate_after_workdays)
    cutoff = _start_of(days[0], zone)
    overdue = await uow.approvals.overdue(cutoff, limit=REQUEST_BATCH)
    marked = set(await uow.approvals.mark_escalated([e.entry_id for e in overdue], moment))
    groups: dict[tuple[int | None, int | None], list[Overdue]] = {}
    for entry in overdue:
        if entry.entry_id in marked:
            groups.setdefault((entry.higher_id, entry.supervisor_id), []).append(entry)
    messages: list[Outgoing] = []
    requests: list[tuple[int, int, int, str]] = []
    people = await uow.approvals.contacts(
        [person for pair in groups for person in pair if person is not None]
    )
    hr = await uow.approvals.hr_contacts() if any(h is None for h, _ in groups) else []
    for (higher, supervisor), entries in groups.items():
        messages.extend(
            render(
                entries,
                None if higher is None else people.get(higher),
                None if supervisor is None else people.get(supervisor),
                hr if higher is None else (),
            )
        )
        if higher is not None:
            requests.extend((e.entry_id, e.version, higher, "escalated") for e in entries)
        await uow.audit.record_many(
            [
                {
                    "at": moment,
                    "action": "entry.escalated",
                    "subject_type": SUBJECT,
                    "subject_id": str(e.entry_id),
                    "details": {"to": higher, "from": supervisor},
                }
                for e in entries
            ]
        )
    await uow.approvals.record_requests(requests, moment)
    await enqueue(uow, messages, now=moment)
    await uow.commit()
    return len(marked)


async def auto_approve(
    uow: UnitOfWork,
    policy: Policy,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    *,
    render: Render,
    now: datetime | None = None,
) -> int:
    """Approve, marked as such, entries left undecided past the policy's limit, if it has one."""
    limit = policy.approvals.auto_approve_after_workdays
    if limit is None:
        return 0
    moment = now or datetime.now(UTC)
    today = moment.astimezone(zone).date()
    cutoff = _start_of(calendar.previous_workdays(today, limit)[0], zone)
    decided = await uow.approvals.approve_stale(
        cutoff,
        {
            "status": EntryStatus.APPROVED,
            "decided_by_id": None,
            "decided_at": moment,
            "decision_reason": None,
            "decision_via": "auto",
            "updated_at": moment,
        },
        limit=REQUEST_BATCH,
    )
    await _after_bulk(uow, decided, None, moment, render, {"via": "auto", "after_workdays": limit})
    return len(decided)


async def delegate(
    uow: UnitOfWork,
    supervisor: StaffMember,
    employee_no: str,
    until: date,
    *,
    today: date,
    render: Callable[[ActiveDelegation, Contact], Outgoing | None],
    now: datetime | None = None,
) -> ActiveDelegation | ApprovalError:
    """Let another person decide ``supervisor``'s entries until ``until`` (included).

    The delegate and the team are told (``render(delegation, recipient)``); the
    delegation ends by itself after ``until``.
    """
    moment = now or datetime.now(UTC)
    if until < today or until > today + timedelta(days=366):
        return ApprovalError.BAD_DATE
    people = await uow.staff.by_employee_nos([employee_no])
    if not people or not StaffMember.of(people[0]).is_active:
        return ApprovalError.UNKNOWN_PERSON
    chosen = people[0]
    if chosen.id == supervisor.id:
        return ApprovalError.SELF_DELEGATE
    await uow.approvals.delegate(supervisor.id, chosen.id, until, moment)
    await uow.audit.record(
        "approvals.delegated",
        "staff",
        supervisor.id,
        actor_staff_id=supervisor.id,
        details={"delegate": chosen.employee_no, "until": until.isoformat()},
    )
    found = await uow.approvals.delegation_of(supervisor.id, today)
    assert found is not None
    told = [
        *(await uow.approvals.contacts([chosen.id])).values(),
        *(c for c in await uow.approvals.team_contacts(supervisor.id) if c.staff_id != chosen.id),
    ]
    messages = [render(found, contact) for contact in told]
    await enqueue(uow, [m for m in messages if m is not None], now=moment)
    await uow.commit()
    return found


async def end_delegation(uow: UnitOfWork, supervisor: StaffMember, *, now: datetime) -> bool:
    """End the supervisor's delegation now; False if there was none."""
    ended = await uow.approvals.end_delegations(supervisor.id, now)
    if ended:
        await uow.audit.record(
            "approvals.delegation_ended", "staff", supervisor.id, actor_staff_id=supervisor.id
        )
    await uow.commit()
    return bool(ended)
