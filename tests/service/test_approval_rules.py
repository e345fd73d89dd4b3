"""Who may decide an entry: every path agrees, over generated organisations.

The rule is written once (``storage.repositories.approvals.authority``). Here a small
model of it, written from the README's words, is held against every path that uses
it: the single press, /pending (and so the digests, and the count a folded request
message gives), the bulk approval's UPDATE, the requests put before approvers, and
escalation. Organisations are drawn by hypothesis: supervisor chains, people who left,
HR members, delegations in and out of force, escalated entries, entries in every status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete

from storage.engine import Database
from storage.enums import Authority, EntryStatus, Role, StaffStatus
from storage.models import (
    ApprovalRequest,
    Delegation,
    Department,
    OutboxMessage,
    Staff,
    WorkEntry,
)
from tests.service.properties import examples, run

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
FAR_FUTURE = NOW + timedelta(days=365)
# Who may decide, whatever the periods: none closed here (tests/service/test_closed_periods.py).
OPEN = date.min


@dataclass(frozen=True)
class Person:
    supervisor: int | None  # index of the supervisor among the people drawn
    hr: bool
    left: bool


@dataclass(frozen=True)
class Grant:
    supervisor: int
    delegate: int
    until: int  # days from today; negative: over
    ended: bool


@dataclass(frozen=True)
class Entry:
    author: int
    status: EntryStatus
    escalated: bool


@dataclass(frozen=True)
class Organisation:
    people: tuple[Person, ...]
    grants: tuple[Grant, ...]
    entries: tuple[Entry, ...]


@st.composite
def organisations(draw: st.DrawFn) -> Organisation:
    size = draw(st.integers(min_value=2, max_value=7))
    people = tuple(
        Person(
            # Supervisors come earlier in the list: no loops, as the roster import ensures.
            supervisor=draw(st.none() | st.integers(0, n - 1)) if n else None,
            hr=draw(st.booleans()),
            left=draw(st.integers(0, 5)) == 0,
        )
        for n in range(size)
    )
    index = st.integers(0, size - 1)
    # Delegations from people who have a team, so that they matter.
    bosses = sorted({p.supervisor for p in people if p.supervisor is not None})
    boss = st.sampled_from(bosses) if bosses else index
    grants = tuple(
        draw(
            st.lists(st.builds(Grant, boss, index, st.integers(-1, 1), st.booleans()), max_size=3)
        )
    )
    entries = tuple(
        draw(
            st.lists(
                st.builds(
                    Entry,
                    index,
                    st.sampled_from(
                        [EntryStatus.SUBMITTED] * 3 + [EntryStatus.APPROVED, EntryStatus.DELETED]
                    ),
                    st.booleans(),
                ),
                min_size=1,
                max_size=10,
            )
        )
    )
    return Organisation(people, grants, entries)


def model(org: Organisation, actor: int, entry: Entry) -> Authority | None:
    """The rule in the README's words: who may decide ``entry``, and in what capacity."""
    people = org.people
    if actor == entry.author or people[actor].left:
        return None
    boss = people[entry.author].supervisor
    if boss == actor:
        return Authority.SUPERVISOR
    if boss is not None and any(
        g.supervisor == boss and g.delegate == actor and g.until >= 0 and not g.ended
        for g in org.grants
    ):
        return Authority.DELEGATE
    higher = None if boss is None else people[boss].supervisor
    if entry.escalated and higher == actor:
        return Authority.HIGHER
    nobody_above = boss is None or people[boss].left
    nobody_higher = higher is None or people[higher].left
    if people[actor].hr and (nobody_above or (entry.escalated and nobody_higher)):
        return Authority.HR
    return None


def requested_of(org: Organisation, entry: Entry) -> int | None:
    """Whom a submitted entry's request goes to: the latest delegate in force of the
    supervisor who is neither its author nor gone, else the supervisor; None: nobody."""
    if entry.status is not EntryStatus.SUBMITTED:
        return None
    boss = org.people[entry.author].supervisor
    if boss is None:
        return None
    delegates = [
        g.delegate
        for g in org.grants
        if g.supervisor == boss
        and g.until >= 0
        and not g.ended
        and g.delegate != entry.author
        and not org.people[g.delegate].left
    ]
    approver = delegates[-1] if delegates else boss
    return None if model(org, approver, entry) is None else approver


async def _store(db: Database, org: Organisation) -> tuple[list[int], list[int]]:
    """Write the organisation; the staff ids and entry ids, in the order drawn."""
    async with db.uow() as uow:
        for table in (ApprovalRequest, OutboxMessage, WorkEntry, Delegation):
            await uow.session.execute(delete(table))
        await uow.session.execute(delete(Staff))
        await uow.session.execute(delete(Department))
        office = await uow.departments.add(Department(name="Office"))
        ids: list[int] = []
        for n, person in enumerate(org.people):
            staff = await uow.staff.add(
                Staff(
                    employee_no=f"E{n}",
                    name=f"P{n}",
                    department_id=office.id,
                    roles=Role.STAFF | (Role.HR if person.hr else Role.NONE),
                    status=StaffStatus.LEFT if person.left else StaffStatus.ACTIVE,
                    supervisor_id=None if person.supervisor is None else ids[person.supervisor],
                    telegram_user_id=1000 + n,
                )
            )
            ids.append(staff.id)
        for grant in org.grants:
            uow.session.add(
                Delegation(
                    supervisor_id=ids[grant.supervisor],
                    delegate_id=ids[grant.delegate],
                    until=TODAY + timedelta(days=grant.until),
                    created_at=NOW,
                    ended_at=NOW if grant.ended else None,
                )
            )
        entry_ids = []
        for entry in org.entries:
            stored = await uow.entries.add(
                WorkEntry(
                    staff_id=ids[entry.author],
                    work_date=TODAY,
                    text="Work",
                    status=entry.status,
                    created_at=NOW,
                    submitted_at=NOW,
                    updated_at=NOW,
                    escalated_at=NOW if entry.escalated else None,
                )
            )
            entry_ids.append(stored.id)
        await uow.commit()
    return ids, entry_ids


async def _every_path_agrees(url: str, org: Organisation) -> None:
    db = Database(url)
    try:
        ids, entry_ids = await _store(db, org)
        submitted = {
            entry_ids[n] for n, e in enumerate(org.entries) if e.status is EntryStatus.SUBMITTED
        }
        async with db.uow() as uow:
            for actor, actor_id in enumerate(ids):
                expected = {
                    entry_ids[n]: model(org, actor, entry) for n, entry in enumerate(org.entries)
                }
                # The single press.
                for entry_id, how in expected.items():
                    found = await uow.approvals.authority_of(
                        entry_id, actor_id, TODAY, closed_through=OPEN
                    )
                    assert found is not None
                    assert found.authority == how, (actor, entry_id, org)
                # The list (and so the digest) offers exactly what the press allows.
                rows, total = await uow.approvals.pending(
                    actor_id, today=TODAY, offset=0, limit=100, closed_through=OPEN
                )
                allowed = {i for i, how in expected.items() if how is not None and i in submitted}
                assert {row.entry_id for row in rows} == allowed, (actor, org)
                assert total == len(allowed)
                # What the folded request message says waits (``queue_requests``): the same.
                waiting = await uow.approvals.waiting(actor_id, today=TODAY, closed_through=OPEN)
                assert waiting == len(allowed), (actor, org)
                # Approve all on the list: exactly those, and nothing is kept.
                decided = await uow.approvals.approve_shown(
                    actor_id,
                    today=TODAY,
                    first_id=min(entry_ids),
                    last_id=max(entry_ids),
                    seen_at=FAR_FUTURE,
                    author_id=None,
                    moment=NOW,
                    closed_through=OPEN,
                )
                assert {row.entry_id for row in decided} == allowed, (actor, org)
                await uow.rollback()
            # Requests go only to someone the press lets decide, never to the entry's author,
            # and every entry with someone to ask gets one.
            targets = await uow.approvals.to_request(today=TODAY, limit=100, closed_through=OPEN)
            for target in targets:
                found = await uow.approvals.authority_of(
                    target.entry_id, target.approver_id, TODAY, closed_through=OPEN
                )
                assert found is not None and found.authority is not None, (target, org)
            asked = {t.entry_id: t.approver_id for t in targets}
            for n, entry in enumerate(org.entries):
                approver = requested_of(org, entry)
                expected = None if approver is None else ids[approver]
                assert asked.get(entry_ids[n]) == expected, (entry, org)
            # Escalation sends an entry to someone who may then decide it.
            overdue = await uow.approvals.overdue(FAR_FUTURE, limit=100, closed_through=OPEN)
            await uow.approvals.mark_escalated([o.entry_id for o in overdue], NOW)
            hr = [n for n, p in enumerate(org.people) if p.hr and not p.left]
            for item in overdue:
                if item.higher_id is not None:
                    found = await uow.approvals.authority_of(
                        item.entry_id, item.higher_id, TODAY, closed_through=OPEN
                    )
                    assert found is not None and found.authority is not None, org
                else:
                    # HR decides it: any of them but its author.
                    for person in (p for p in hr if ids[p] != item.author_id):
                        found = await uow.approvals.authority_of(
                            item.entry_id, ids[person], TODAY, closed_through=OPEN
                        )
                        assert found is not None and found.authority is not None, org
            await uow.rollback()
    finally:
        await db.dispose()


@examples(60)
@given(org=organisations())
def test_every_path_agrees_on_who_may_decide(url: str, org: Organisation) -> None:
    run(_every_path_agrees(url, org))
