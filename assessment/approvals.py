"""Supervisors' decisions on entries: who may decide, one or many at once, and what follows.

An entry counts only once approved. Its author's supervisor decides it, or their
delegate while a delegation is in force, or HR; the supervisor's own supervisor
decides what was escalated to them; the author never does. Every decision is a
conditional update (still submitted, still the version that was shown), so of two
presses exactly one wins, and a press on an edited or deleted entry says so.
No entry of a period under review is requested, listed, escalated or decided, by
anyone, automatically or not (``assessment.periods``; the store's ``entry_open`` is
part of every statement that does it). Every decision and every refused attempt is
audited. A decision closes every copy
of the entry's requests in the same transaction: unsent ones are withdrawn, sent
ones are edited through the outbox to show it and lose their buttons.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from assessment.calendar import WorkCalendar
from assessment.outbox import ROUTINE, Outgoing, enqueue
from assessment.people import StaffMember
from assessment.periods import closed_through
from config.policy import Policy
from storage.enums import Authority, DecisionVia, DeliveryStatus, EntryStatus
from storage.repositories.approvals import (
    WAITING_KIND,
    ActiveDelegation,
    Contact,
    DecidedRow,
    EntryAuthority,
    Overdue,
    PendingRow,
    RequestTarget,
    Unsent,
)
from storage.repositories.audit import Event
from storage.repositories.outbox import RequestCopy
from storage.uow import UnitOfWork

__all__ = [
    "WAITING_KIND",
    "ActiveDelegation",
    "AlreadyDecided",
    "ApprovalError",
    "AuthorNotice",
    "BulkDecided",
    "Closing",
    "Contact",
    "Decided",
    "Decision",
    "PendingRow",
    "RequestTarget",
    "Waiting",
    "approve_shown",
    "auto_approve",
    "decide",
    "delegate",
    "delegation_of",
    "digest_at",
    "digest_people",
    "end_delegation",
    "escalate",
    "pending",
    "queue_requests",
    "refusal",
    "set_digest",
]

SUBJECT = "work_entry"
MAX_REASON = 500
# Entries put before approvers per job tick; the rest wait for the next one.
REQUEST_BATCH = 200
# Request cards one approver's chat may have waiting (this tick's and those still
# unsent); more become one message that opens /pending. The requests job runs every
# 3 seconds and Telegram delivers about one message a second to a chat: up to 3 cards
# a tick are gone before the next, more would pile up faster than they can be read.
COALESCE_ABOVE = 3
# Decided entries whose requests are closed per statement: within both engines' cap on
# bound parameters, and a few hundred edits queued at a time, so a bulk approval of
# thousands of entries is a string of short statements rather than one long one.
CLOSE_BATCH = 500


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
    DELEGATION_CYCLE = "delegation_cycle"  # the chosen person's entries come back to the asker
    CLOSED_PERIOD = "closed_period"  # the entry's period is under review


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
    decided_by: str | None  # None: approved automatically (the policy's auto-approval)
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
    """How many entries were approved in one go, and how many of those shown were left
    because their period is under review."""

    approved: int
    closed: int = 0


@dataclass(frozen=True, slots=True)
class Closing:
    """A decision as every copy of the entry's requests shows it once closed."""

    decision: Decision
    decided_by: str | None  # None: approved automatically
    at: datetime
    reason: str | None


Render = Callable[[AuthorNotice], Outgoing | None]
# The line a closed request shows below its text, in its reader's language.
Close = Callable[[Closing, Contact], str]


def refusal(actor: StaffMember, entry: EntryAuthority) -> ApprovalError | None:
    """Why ``actor`` may not decide ``entry``, or None if they may.

    Who may decide is the store's one rule (``EntryAuthority.authority``, read with
    the entry); this only explains a refusal in the terms the person is told.
    """
    if entry.authority is not None:
        return None
    if entry.author.staff_id == actor.id:
        return ApprovalError.OWN_ENTRY
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
    await uow.audit.add(
        Event(
            "entry.decision_refused",
            SUBJECT,
            entry_id,
            at=moment,
            actor_staff_id=actor.id,
            actor_telegram_id=actor.telegram_user_id,
            details={"decision": decision.value, "why": why.value},
        )
    )
    await uow.commit()
    return why


def _standing(entry: EntryAuthority, version: int) -> ApprovalError | AlreadyDecided | None:
    if entry.status is EntryStatus.DELETED:
        return ApprovalError.DELETED
    if entry.status is not EntryStatus.SUBMITTED:
        return AlreadyDecided(entry.status, entry.decided_by, entry.decided_at)
    if not entry.open:
        return ApprovalError.CLOSED_PERIOD
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
    policy: Policy,
    now: datetime,
) -> tuple[EntryAuthority, Authority] | ApprovalError | AlreadyDecided:
    """Whether ``actor`` may make ``decision`` on this version of the entry now, and how.

    Used before asking for a reason, so nobody is asked for one in vain; ``decide``
    checks everything again. A refusal is audited, and so is a decision refused because
    the entry's period is under review.
    """
    closed = closed_through(today, policy)
    entry = await uow.approvals.authority_of(entry_id, actor.id, today, closed_through=closed)
    if entry is None:
        return await _refused(uow, actor, entry_id, decision, ApprovalError.UNKNOWN_ENTRY, now)
    why = refusal(actor, entry)
    if why is not None:
        return await _refused(uow, actor, entry_id, decision, why, now)
    assert entry.authority is not None
    standing = _standing(entry, version)
    if standing is ApprovalError.CLOSED_PERIOD:
        return await _refused(uow, actor, entry_id, decision, standing, now)
    return (entry, entry.authority) if standing is None else standing


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
    close: Close,
    shown_in: tuple[int, int] | None = None,
    policy: Policy,
    now: datetime,
) -> Decided | ApprovalError | AlreadyDecided:
    """Approve, return or reject the version of an entry that was shown to ``actor``.

    Statements: the entry with the presser's authority over it (one SELECT), one
    conditional UPDATE, the audit event, the author's notice, the closing of the
    entry's other requests (``shown_in``, the (chat id, message id) pressed, is
    closed by the caller's answer), COMMIT.
    """
    cleaned: str | None = None
    if decision.needs_reason:
        cleaned = (reason or "").strip()
        if not cleaned:
            return ApprovalError.REASON_NEEDED
        if len(cleaned) > MAX_REASON:
            return ApprovalError.REASON_TOO_LONG
    found = await check(
        uow, actor, entry_id, version, decision, today=today, policy=policy, now=now
    )
    if not isinstance(found, tuple):
        return found
    entry, how = found
    closed = closed_through(today, policy)
    # Read before the UPDATE takes SQLite's write lock, so that closing the copies holds
    # it for one statement (the edits) only; the writes re-check each copy's state.
    copies = await uow.outbox.request_copies([entry_id], shown_in=shown_in)
    won = await uow.approvals.decide(
        entry_id,
        version,
        status=decision.status,
        decider_id=actor.id,
        moment=now,
        reason=cleaned,
        via=DecisionVia.of(how),
        today=today,
        closed_through=closed,
    )
    if not won:
        # Someone else was quicker, the author changed it, the actor's authority ended
        # (a delegation), or the reviewer signed a reopened period off, between the two
        # statements.
        await uow.rollback()
        again = await uow.approvals.authority_of(entry_id, actor.id, today, closed_through=closed)
        if again is None:
            return ApprovalError.UNKNOWN_ENTRY
        return _standing(again, version) or refusal(actor, again) or ApprovalError.EDITED
    await uow.audit.add(
        Event(
            f"entry.{decision.status.value}",
            SUBJECT,
            entry_id,
            at=now,
            actor_staff_id=actor.id,
            actor_telegram_id=actor.telegram_user_id,
            details={"version": version, "via": how.value, "reason": cleaned},
        )
    )
    notice = render(
        AuthorNotice(
            entry.author, decision, actor.name, ((entry_id, entry.work_date, entry.text),), cleaned
        )
    )
    if notice is not None:
        await uow.outbox.add_one(notice.row(now))
    closing = Closing(decision, actor.name, now, cleaned)
    await _close_requests(uow, copies, closing, close, now=now)
    await uow.commit()
    return Decided(entry_id, decision, actor.name, now, cleaned, entry.author.name)


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
    close: Close,
    policy: Policy,
    now: datetime,
) -> BulkDecided:
    """Approve, in one go, what a list showed ``actor`` and is still theirs to decide.

    A list (/pending's page, a digest) shows entries ``first_id``..``last_id`` as they
    were at ``seen_at``; one conditional UPDATE approves those still submitted and
    unchanged since, that ``actor`` may decide (optionally of one author). Then the
    audit events in one INSERT ... SELECT, one notice per author, the closing of
    their requests, COMMIT. Entries of a period under review are left, and counted.
    """
    moment = now
    closed = closed_through(today, policy)
    decided = await uow.approvals.approve_shown(
        actor.id,
        today=today,
        first_id=first_id,
        last_id=last_id,
        seen_at=seen_at,
        author_id=author_id,
        moment=moment,
        closed_through=closed,
    )
    left = await uow.approvals.closed_shown(
        actor.id,
        today=today,
        first_id=first_id,
        last_id=last_id,
        seen_at=seen_at,
        author_id=author_id,
        closed_through=closed,
    )
    await _after_bulk(uow, decided, actor, moment, render, close, {"via": "bulk"})
    return BulkDecided(len(decided), left)


async def _after_bulk(
    uow: UnitOfWork,
    decided: Sequence[DecidedRow],
    actor: StaffMember | None,
    moment: datetime,
    render: Render,
    close: Close,
    details: dict[str, Any],
) -> None:
    if decided:
        await uow.audit.add_for_entries(
            [row.entry_id for row in decided],
            Event(
                "entry.approved",
                SUBJECT,
                None,
                at=moment,
                actor_staff_id=None if actor is None else actor.id,
                actor_telegram_id=None if actor is None else actor.telegram_user_id,
                details=details,
            ),
        )
        by_author: dict[int, list[tuple[int, date, str]]] = {}
        for row in decided:
            by_author.setdefault(row.author_id, []).append((row.entry_id, row.work_date, row.text))
        contacts = await uow.approvals.contacts(list(by_author))
        name = None if actor is None else actor.name
        notices = [
            render(AuthorNotice(contacts[author], Decision.APPROVE, name, tuple(items), None))
            for author, items in by_author.items()
        ]
        await enqueue(uow, [n for n in notices if n is not None], now=moment)
        closing = Closing(Decision.APPROVE, name, moment, None)
        entry_ids = [row.entry_id for row in decided]
        for start in range(0, len(entry_ids), CLOSE_BATCH):
            batch = entry_ids[start : start + CLOSE_BATCH]
            copies = await uow.outbox.request_copies(batch, shown_in=None)
            await _close_requests(uow, copies, closing, close, now=moment)
    await uow.commit()


async def _close_requests(
    uow: UnitOfWork,
    copies: Sequence[RequestCopy],
    closing: Closing,
    close: Close,
    *,
    now: datetime,
) -> None:
    """Close these copies of requests about decided entries, in the caller's transaction:
    those not sent yet are withdrawn; the others get an edit through the outbox that
    keeps their text, adds ``close``'s line in their reader's language and drops the
    buttons (once each; one still being sent is edited once it is)."""
    unsent = [copy.outbox_id for copy in copies if copy.status is DeliveryStatus.PENDING]
    withdrawn = await uow.outbox.withdraw_unsent(unsent) if unsent else set()
    # One line per reader, one statement per language: a bulk decision reads the same
    # on every copy of one person.
    lines: dict[int, str] = {}
    by_line: dict[str, list[int]] = {}
    for copy in copies:
        if copy.outbox_id not in withdrawn:
            reader = copy.reader
            if reader.staff_id not in lines:
                lines[reader.staff_id] = close(closing, reader)
            by_line.setdefault(lines[reader.staff_id], []).append(copy.outbox_id)
    for line, outbox_ids in by_line.items():
        await uow.outbox.close_copies(outbox_ids, line=line, priority=ROUTINE, now=now)


async def pending(
    uow: UnitOfWork,
    actor: StaffMember,
    *,
    today: date,
    page: int,
    per_page: int,
    policy: Policy,
) -> tuple[list[PendingRow], int]:
    """A page of what waits for ``actor``'s decision, oldest first; and how many wait
    (entries of a period under review can no longer be decided, so are not listed)."""
    return await uow.approvals.pending(
        actor.id,
        today=today,
        offset=max(page, 0) * per_page,
        limit=per_page,
        closed_through=closed_through(today, policy),
    )


@dataclass(frozen=True, slots=True)
class Waiting:
    """Many requests to one approver told in one message: ``count`` entries wait for them
    (all of what /pending lists), ``latest`` the newest request it stands for."""

    latest: RequestTarget
    count: int


async def queue_requests(
    uow: UnitOfWork,
    *,
    today: date,
    render: Callable[[RequestTarget], Outgoing | None],
    waiting: Callable[[Waiting], Outgoing | None],
    policy: Policy,
    now: datetime,
) -> int:
    """Put newly submitted entry versions before their approvers, once each; how many.

    The approver is the author's supervisor, or their delegate while a delegation
    is in force. Supervisors who chose a daily digest get theirs from ``digest``.

    Each request is a card with its buttons (``render``), unless more than
    ``COALESCE_ABOVE`` cards would wait for one approver's chat (this tick's and those
    still unsent), or a message for many still waits there. Then the unsent ones are
    withdrawn and one message (``waiting``) says how many entries wait (all that /pending
    lists, so it replaces an unsent one for many) and opens /pending, where each is
    decided. Every request is recorded as put before its approver either way, so none is
    sent again; escalation goes by when entries were submitted, not by what was sent.
    """
    moment = now
    closed = closed_through(today, policy)
    targets = await uow.approvals.to_request(
        today=today, limit=REQUEST_BATCH, closed_through=closed
    )
    if not targets:
        return 0
    # Everything read first, the writes after: on SQLite the first write takes the one
    # write lock, and the counts of what waits (what /pending counts, over the whole
    # store) would hold it while everyone else's quick logs wait.
    by_approver: dict[int, list[RequestTarget]] = {}
    for target in targets:
        by_approver.setdefault(target.approver_id, []).append(target)
    unsent = await uow.approvals.unsent_requests(
        [approver for approver, theirs in by_approver.items() if theirs[0].approver_chat]
    )
    counts: dict[int, int] = {}
    for approver, theirs in by_approver.items():
        queued = unsent.get(approver, [])
        if theirs[0].approver_chat is not None and _folds(len(theirs), queued):
            counts[approver] = await uow.approvals.waiting(
                approver, today=today, closed_through=closed
            )
    noted = await uow.approvals.record_requests(
        [(t.entry_id, t.version, t.approver_id, "submitted") for t in targets], moment
    )
    messages: list[Outgoing | None] = []
    for approver, every in by_approver.items():
        # Another process may have put some before their approver meanwhile: not again.
        theirs = [t for t in every if (t.entry_id, t.version, t.approver_id) in noted]
        if not theirs or theirs[0].approver_chat is None:
            continue  # not joined yet: what waits is in their /pending
        queued = unsent.get(approver, [])
        if approver not in counts or not _folds(len(theirs), queued):
            messages.extend(render(target) for target in theirs)
            continue
        # Folded in: the unsent cards, and an unsent message for many whose count is now
        # short. One a sender took meanwhile stays and arrives; /pending lists it too.
        await uow.outbox.withdraw_unsent([message.outbox_id for message in queued])
        messages.append(waiting(Waiting(theirs[-1], counts[approver])))
    await enqueue(uow, [m for m in messages if m is not None], now=moment)
    await uow.commit()
    return len(targets)


def _folds(new: int, queued: Sequence[Unsent]) -> bool:
    """Whether an approver's new requests and their unsent ones become one message."""
    return any(message.many for message in queued) or new + len(queued) > COALESCE_ABOVE


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
    now: datetime,
) -> int:
    """Send entries undecided for the policy's workdays higher up; how many.

    Each goes to the supervisor's own supervisor (HR when there is none), and the
    supervisor is told. ``render(entries, higher, supervisor, hr)`` builds the
    messages for one supervisor's escalated entries (``hr`` when nobody is higher).
    Marked once: a second process or a second run escalates nothing twice.
    """
    moment = now
    today = moment.astimezone(zone).date()
    days = calendar.previous_workdays(today, policy.approvals.escalate_after_workdays)
    cutoff = _start_of(days[0], zone)
    overdue = await uow.approvals.overdue(
        cutoff, limit=REQUEST_BATCH, closed_through=closed_through(today, policy)
    )
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
        await uow.audit.add_many(
            [
                Event(
                    "entry.escalated",
                    SUBJECT,
                    e.entry_id,
                    at=moment,
                    details={"to": higher, "from": supervisor},
                )
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
    close: Close,
    now: datetime,
) -> int:
    """Approve, marked as such, entries left undecided past the policy's limit, if it has one."""
    limit = policy.approvals.auto_approve_after_workdays
    if limit is None:
        return 0
    moment = now
    today = moment.astimezone(zone).date()
    cutoff = _start_of(calendar.previous_workdays(today, limit)[0], zone)
    decided = await uow.approvals.approve_stale(
        cutoff,
        {
            "status": EntryStatus.APPROVED,
            "decided_by_id": None,
            "decided_at": moment,
            "decision_reason": None,
            "decision_via": DecisionVia.AUTO,
            "updated_at": moment,
        },
        limit=REQUEST_BATCH,
        closed_through=closed_through(today, policy),
    )
    await _after_bulk(
        uow, decided, None, moment, render, close, {"via": "auto", "after_workdays": limit}
    )
    return len(decided)


async def _delegates_back(uow: UnitOfWork, start: int, asker: int, today: date) -> bool:
    """Whether the delegations in force lead from ``start`` back to ``asker`` (a circle)."""
    seen = {start}
    current = start
    while (found := await uow.approvals.delegation_of(current, today)) is not None:
        current = found.delegate_id
        if current == asker:
            return True
        if current in seen:
            return False
        seen.add(current)
    return False


async def delegate(
    uow: UnitOfWork,
    supervisor: StaffMember,
    employee_no: str,
    until: date,
    *,
    today: date,
    render: Callable[[ActiveDelegation, Contact], Outgoing | None],
    now: datetime,
) -> ActiveDelegation | ApprovalError:
    """Let another person decide ``supervisor``'s entries until ``until`` (included).

    The delegate and the team are told (``render(delegation, recipient)``); the
    delegation ends by itself after ``until``.
    """
    moment = now
    if until < today or until > today + timedelta(days=366):
        return ApprovalError.BAD_DATE
    people = await uow.staff.by_employee_nos([employee_no])
    if not people or not StaffMember.of(people[0]).is_active:
        return ApprovalError.UNKNOWN_PERSON
    chosen = people[0]
    if chosen.id == supervisor.id:
        return ApprovalError.SELF_DELEGATE
    if await _delegates_back(uow, chosen.id, supervisor.id, today):
        return ApprovalError.DELEGATION_CYCLE
    await uow.approvals.delegate(supervisor.id, chosen.id, until, moment)
    await uow.audit.add(
        Event(
            "approvals.delegated",
            "staff",
            supervisor.id,
            at=moment,
            actor_staff_id=supervisor.id,
            details={"delegate": chosen.employee_no, "until": until.isoformat()},
        )
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
        await uow.audit.add(
            Event(
                "approvals.delegation_ended",
                "staff",
                supervisor.id,
                at=now,
                actor_staff_id=supervisor.id,
            )
        )
    await uow.commit()
    return bool(ended)


async def set_digest(uow: UnitOfWork, staff_id: int, at: str | None, *, now: datetime) -> None:
    """Requests at once (``at`` None) or one daily digest at ``at`` ("17:00"); commits."""
    await uow.approvals.set_digest(staff_id, at)
    await uow.audit.add(
        Event(
            "approvals.digest_set",
            "staff",
            staff_id,
            at=now,
            actor_staff_id=staff_id,
            details={"at": at},
        )
    )
    await uow.commit()


async def digest_at(uow: UnitOfWork, staff_id: int) -> str | None:
    """When the person gets their daily digest; None: requests come at once."""
    return await uow.approvals.digest_at(staff_id)


async def digest_people(uow: UnitOfWork) -> list[tuple[int, str]]:
    """(staff id, "HH:MM") of everyone on staff who chose a daily digest."""
    return await uow.approvals.digest_people()


async def delegation_of(
    uow: UnitOfWork, supervisor_id: int, today: date
) -> ActiveDelegation | None:
    """The supervisor's delegation in force ``today``, if any."""
    return await uow.approvals.delegation_of(supervisor_id, today)
