"""Who may decide what, on a real database: the rule the buttons and lists share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assessment import approvals
from assessment.approvals import AlreadyDecided, ApprovalError, Decided, Decision
from assessment.calendar import WorkCalendar
from assessment.people import StaffMember
from config.policy import Policy, load_policy
from storage.engine import Database
from storage.enums import EntryStatus, Role, StaffStatus
from storage.models import AuditEvent, Department, Staff, WorkEntry

TODAY = date(2026, 11, 23)  # a Monday
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
POLICY = load_policy()


@dataclass(frozen=True)
class People:
    hr: StaffMember
    higher: StaffMember
    boss: StaffMember
    author: StaffMember
    colleague: StaffMember
    other: StaffMember
    top: StaffMember


@pytest.fixture
async def people(db: Database) -> People:
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Office"))

        async def add(no: str, roles: Role, boss: Staff | None, telegram: int) -> Staff:
            return await uow.staff.add(
                Staff(employee_no=no, name=no, department_id=office.id, roles=roles,
                      supervisor_id=None if boss is None else boss.id, telegram_user_id=telegram)
            )  # fmt: skip

        hr = await add("HR1", Role.STAFF | Role.HR, None, 1)
        higher = await add("H1", Role.STAFF | Role.SUPERVISOR, None, 2)
        boss = await add("B1", Role.STAFF | Role.SUPERVISOR, higher, 3)
        author = await add("A1", Role.STAFF, boss, 4)
        colleague = await add("A2", Role.STAFF, boss, 5)
        other = await add("O1", Role.STAFF, higher, 6)
        top = await add("T1", Role.STAFF, None, 7)
        await uow.commit()
        return People(
            *(StaffMember.of(s) for s in (hr, higher, boss, author, colleague, other, top))
        )


async def entry_of(db: Database, author: StaffMember, at: datetime = NOW) -> int:
    async with db.uow() as uow:
        entry = await uow.entries.add(
            WorkEntry(staff_id=author.id, work_date=TODAY, text="Work", created_at=at,
                      submitted_at=at, updated_at=at)
        )  # fmt: skip
        await uow.commit()
        return entry.id


async def how(db: Database, actor: StaffMember, entry_id: int, today: date = TODAY) -> str:
    async with db.uow() as uow:
        found = await approvals.check(
            uow, actor, entry_id, 1, Decision.APPROVE, today=today, now=NOW, policy=POLICY
        )
    return found[1] if isinstance(found, tuple) else str(found)


def no_notice(_notice: approvals.AuthorNotice) -> None:
    return None


def plain_line(closing: approvals.Closing, _reader: approvals.Contact) -> str:
    return f"{closing.decision.value} by {closing.decided_by}"


async def test_only_the_chain_above_the_author_may_decide(db: Database, people: People) -> None:
    entry = await entry_of(db, people.author)
    assert await how(db, people.boss, entry) == "supervisor"
    # HR decides what nobody above the author can: not what a supervisor is there for.
    assert await how(db, people.hr, entry) == str(ApprovalError.NOT_ALLOWED)
    assert await how(db, people.author, entry) == str(ApprovalError.OWN_ENTRY)
    assert await how(db, people.colleague, entry) == str(ApprovalError.NOT_ALLOWED)
    assert await how(db, people.other, entry) == str(ApprovalError.NOT_ALLOWED)
    # The supervisor's own supervisor decides only what was escalated to them.
    assert await how(db, people.higher, entry) == str(ApprovalError.NOT_ALLOWED)
    async with db.uow() as uow:
        await uow.approvals.mark_escalated([entry], NOW)
        await uow.commit()
    assert await how(db, people.higher, entry) == "higher"
    assert await how(db, people.hr, entry) == str(ApprovalError.NOT_ALLOWED)
    # Nobody above: HR. Someone with no supervisor, or whose supervisor left.
    alone = await entry_of(db, people.top)
    assert await how(db, people.hr, alone) == "hr"
    async with db.uow() as uow:
        boss = await uow.staff.get(people.boss.id)
        assert boss is not None
        boss.status = StaffStatus.LEFT
        await uow.commit()
    later = await entry_of(db, people.colleague)
    assert await how(db, people.hr, later) == "hr"
    assert await how(db, people.boss, later) == str(ApprovalError.NOT_ALLOWED), "left"
    # HR may not decide their own entries either.
    own = await entry_of(db, people.hr)
    assert await how(db, people.hr, own) == str(ApprovalError.OWN_ENTRY)
    async with db.uow() as uow:
        refused = await uow.session.scalars(
            select(AuditEvent.actor_staff_id).where(AuditEvent.action == "entry.decision_refused")
        )
        assert sorted(refused) == sorted(
            [
                people.hr.id,
                people.author.id,
                people.colleague.id,
                people.other.id,
                people.higher.id,
                people.hr.id,
                people.boss.id,
                people.hr.id,
            ]
        )


async def test_a_delegate_decides_until_the_day_included(db: Database, people: People) -> None:
    entry = await entry_of(db, people.author)
    assert await how(db, people.other, entry) == str(ApprovalError.NOT_ALLOWED)
    async with db.uow() as uow:
        delegation = await approvals.delegate(
            uow, people.boss, "O1", TODAY + timedelta(days=2), today=TODAY,
            render=lambda _d, _c: None, now=NOW,
        )  # fmt: skip
    assert not isinstance(delegation, ApprovalError)
    assert delegation.delegate_id == people.other.id
    assert await how(db, people.other, entry, TODAY + timedelta(days=2)) == "delegate"
    assert await how(db, people.other, entry, TODAY + timedelta(days=3)) == str(
        ApprovalError.NOT_ALLOWED
    )
    async with db.uow() as uow:
        assert await approvals.end_delegation(uow, people.boss, now=NOW)
    assert await how(db, people.other, entry) == str(ApprovalError.NOT_ALLOWED)
    async with db.uow() as uow:
        assert (
            await approvals.delegate(
                uow,
                people.boss,
                "B1",
                TODAY,
                today=TODAY,
                render=lambda _d, _c: None,
                now=NOW,
            )
            is ApprovalError.SELF_DELEGATE
        )
        assert (
            await approvals.delegate(
                uow,
                people.boss,
                "NOBODY",
                TODAY,
                today=TODAY,
                render=lambda _d, _c: None,
                now=NOW,
            )
            is ApprovalError.UNKNOWN_PERSON
        )
        assert await approvals.delegate(
            uow, people.boss, "O1", TODAY - timedelta(days=1), today=TODAY,
            render=lambda _d, _c: None, now=NOW,
        ) is ApprovalError.BAD_DATE  # fmt: skip


async def test_lists_show_what_their_reader_may_decide(db: Database, people: People) -> None:
    mine = await entry_of(db, people.author)
    alone = await entry_of(db, people.top)
    async with db.uow() as uow:
        boss, boss_total = await approvals.pending(
            uow, people.boss, today=TODAY, page=0, per_page=5, policy=POLICY
        )
        hr, _ = await approvals.pending(
            uow, people.hr, today=TODAY, page=0, per_page=5, policy=POLICY
        )
        colleague, none = await approvals.pending(
            uow, people.colleague, today=TODAY, page=0, per_page=5, policy=POLICY
        )
    assert [row.entry_id for row in boss] == [mine] and boss_total == 1
    assert [row.entry_id for row in hr] == [alone], "HR: what has nobody above it"
    assert colleague == [] and none == 0


async def test_a_reason_is_needed_to_return_or_reject(db: Database, people: People) -> None:
    entry = await entry_of(db, people.author)
    async with db.uow() as uow:
        for reason, error in (
            (None, ApprovalError.REASON_NEEDED),
            ("   ", ApprovalError.REASON_NEEDED),
            ("x" * (approvals.MAX_REASON + 1), ApprovalError.REASON_TOO_LONG),
        ):
            result = await approvals.decide(
                uow, people.boss, entry, 1, Decision.RETURN, reason=reason, today=TODAY,
                render=no_notice, close=plain_line, now=NOW, policy=POLICY,
            )  # fmt: skip
            assert result is error
        result = await approvals.decide(
            uow, people.boss, entry, 1, Decision.RETURN, reason=" Add numbers ", today=TODAY,
            render=no_notice, close=plain_line, now=NOW, policy=POLICY,
        )  # fmt: skip
        assert isinstance(result, Decided) and result.reason == "Add numbers"
        again = await approvals.decide(
            uow,
            people.boss,
            entry,
            1,
            Decision.APPROVE,
            today=TODAY,
            render=no_notice,
            close=plain_line,
            now=NOW,
            policy=POLICY,
        )
        assert isinstance(again, AlreadyDecided) and again.by == "B1"
        stored = await uow.entries.get(entry)
    assert stored is not None
    assert (stored.status, stored.version, stored.decision_via) == (
        EntryStatus.RETURNED, 2, "supervisor"
    )  # fmt: skip


async def test_escalation_once_and_auto_approval(db: Database, people: People) -> None:
    old = await entry_of(db, people.author, NOW - timedelta(days=20))
    fresh = await entry_of(db, people.author)
    policy = load_policy()
    sent: list[tuple[list[int], str | None, str | None, int]] = []

    def render(entries, higher, supervisor, hr):  # type: ignore[no-untyped-def]
        sent.append(
            (
                [e.entry_id for e in entries],
                higher and higher.name,
                supervisor and supervisor.name,
                len(hr),
            )
        )
        return []

    calendar = WorkCalendar(policy)
    async with db.uow() as uow:
        assert await approvals.escalate(uow, policy, calendar, ZONE, render=render, now=NOW) == 1
    async with db.uow() as uow:
        assert await approvals.escalate(uow, policy, calendar, ZONE, render=render, now=NOW) == 0
    assert sent == [([old], "H1", "B1", 0)]
    auto: Policy = policy.model_copy(
        update={
            "approvals": policy.approvals.model_copy(update={"auto_approve_after_workdays": 5})
        }
    )
    async with db.uow() as uow:
        assert (
            await approvals.auto_approve(
                uow, auto, calendar, ZONE, render=no_notice, close=plain_line, now=NOW
            )
            == 1
        )
    async with db.uow() as uow:
        states = dict(
            (
                await uow.session.execute(
                    select(WorkEntry.id, WorkEntry.decision_via).order_by(WorkEntry.id)
                )
            ).all()
        )
        events = await uow.audit.events("work_entry")
    assert states == {old: "auto", fresh: None}
    assert [(e.action, e.subject_id, e.details) for e in events][-1] == (
        "entry.approved", str(old), {"via": "auto", "after_workdays": 5}
    )  # fmt: skip


async def test_escalation_comes_after_three_full_workdays(db: Database, people: People) -> None:
    # Monday 23 November: the three workdays before are Wed 18, Thu 19 and Fri 20.
    tuesday_evening = datetime(2026, 11, 17, 18, 0, tzinfo=ZONE).astimezone(UTC)
    wednesday_morning = datetime(2026, 11, 18, 9, 0, tzinfo=ZONE).astimezone(UTC)
    waited = await entry_of(db, people.author, tuesday_evening)
    not_yet = await entry_of(db, people.author, wednesday_morning)
    policy = load_policy()
    async with db.uow() as uow:
        done = await approvals.escalate(
            uow, policy, WorkCalendar(policy), ZONE, render=lambda *_: [], now=NOW
        )
    assert done == 1
    async with db.uow() as uow:
        escalated = dict(
            (await uow.session.execute(select(WorkEntry.id, WorkEntry.escalated_at))).all()
        )
    assert escalated[waited] is not None
    assert escalated[not_yet] is None


async def test_approve_all_leaves_what_came_to_the_reader_after_the_list(
    db: Database, people: People
) -> None:
    shown = await entry_of(db, people.author, NOW - timedelta(hours=1))
    seen_at = NOW - timedelta(minutes=30)
    # Escalated to the supervisor's supervisor after their list was shown.
    async with db.uow() as uow:
        await uow.approvals.mark_escalated([shown], NOW)
        await uow.commit()
    async with db.uow() as uow:
        late = await approvals.approve_shown(
            uow, people.higher, today=TODAY, first_id=shown, last_id=shown, seen_at=seen_at,
            render=no_notice, now=NOW, close=lambda _closing: None, policy=POLICY,
        )  # fmt: skip
    assert late.approved == 0, "it was not on that list"
    async with db.uow() as uow:
        fresh = await approvals.approve_shown(
            uow, people.higher, today=TODAY, first_id=shown, last_id=shown,
            seen_at=NOW + timedelta(minutes=1), render=no_notice, now=NOW,
            close=lambda _closing: None, policy=POLICY,
        )  # fmt: skip
    assert fresh.approved == 1


async def test_a_delegation_that_would_close_a_circle_is_refused(
    db: Database, people: People
) -> None:
    until = TODAY + timedelta(days=3)
    async with db.uow() as uow:
        first = await approvals.delegate(
            uow, people.higher, "B1", until, today=TODAY, render=lambda _d, _c: None, now=NOW
        )
        assert not isinstance(first, ApprovalError)
        back = await approvals.delegate(
            uow, people.boss, "H1", until, today=TODAY, render=lambda _d, _c: None, now=NOW
        )
        assert back is ApprovalError.DELEGATION_CYCLE
        onward = await approvals.delegate(
            uow, people.boss, "O1", until, today=TODAY, render=lambda _d, _c: None, now=NOW
        )
        assert not isinstance(onward, ApprovalError)
        # H1 -> B1 -> O1: O1 may not hand their own team back to H1 through the chain.
        around = await approvals.delegate(
            uow, people.other, "H1", until, today=TODAY, render=lambda _d, _c: None, now=NOW
        )
        assert around is ApprovalError.DELEGATION_CYCLE


async def test_a_delegates_own_entries_go_to_the_supervisor(db: Database, people: People) -> None:
    async with db.uow() as uow:
        made = await approvals.delegate(
            uow, people.boss, "A1", TODAY + timedelta(days=3), today=TODAY,
            render=lambda _d, _c: None, now=NOW,
        )  # fmt: skip
        assert not isinstance(made, ApprovalError)
    own = await entry_of(db, people.author)
    colleague = await entry_of(db, people.colleague)
    async with db.uow() as uow:
        targets = {t.entry_id: t.approver_id for t in await uow.approvals.to_request(
            today=TODAY, limit=10, closed_through=date.min
        )}  # fmt: skip
    assert targets[own] == people.boss.id, "never to its own author"
    assert targets[colleague] == people.author.id, "the team's other entries to the delegate"
