"""A decision closes every copy of the entry's approval requests, on a real database.

Unsent copies are withdrawn; copies sent, or in a sender's hands, get one edit each
through the outbox (their text, the decision in their reader's language, no buttons);
the copy that was pressed is left to the presser's answer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assessment import approvals
from assessment.approvals import Decided, Decision
from assessment.calendar import WorkCalendar
from assessment.people import StaffMember
from bot.delivery import LEASE
from config.policy import Policy, load_policy
from handlers.approval_messages import (
    render_closing,
    render_escalation,
    render_notice,
    render_request,
    render_waiting,
)
from handlers.callbacks import PendingPage
from storage.engine import Database
from storage.enums import DeliveryStatus, Role
from storage.models import ApprovalRequest, Department, OutboxMessage, Staff, WorkEntry

TODAY = date(2026, 11, 23)  # a Monday
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
POLICY = load_policy()
LONG_AGO = NOW - timedelta(days=20)

render = functools.partial(render_notice, "en")
close = functools.partial(render_closing, "en", ZONE)
request = functools.partial(render_request, "en")
escalation = functools.partial(render_escalation, "en")
waiting = functools.partial(render_waiting, "en")


@dataclass(frozen=True)
class People:
    higher: StaffMember
    boss: StaffMember
    author: StaffMember


@pytest.fixture
async def people(db: Database) -> People:
    async with db.uow() as uow:
        office = await uow.departments.add(Department(name="Office"))

        async def add(no: str, boss: Staff | None, chat: int, language: str) -> Staff:
            return await uow.staff.add(
                Staff(employee_no=no, name=no, department_id=office.id,
                      roles=Role.STAFF | Role.SUPERVISOR, telegram_user_id=chat,
                      supervisor_id=None if boss is None else boss.id, language=language)
            )  # fmt: skip

        higher = await add("H1", None, 2, "en")
        boss = await add("B1", higher, 3, "zh_Hans")  # reads Chinese
        author = await add("A1", boss, 4, "en")
        await uow.commit()
        return People(*(StaffMember.of(s) for s in (higher, boss, author)))


async def entry_of(db: Database, author: StaffMember, at: datetime = NOW) -> int:
    async with db.uow() as uow:
        entry = await uow.entries.add(
            WorkEntry(staff_id=author.id, work_date=TODAY, text="Counter duty", created_at=at,
                      submitted_at=at, updated_at=at)
        )  # fmt: skip
        await uow.commit()
        return entry.id


async def queue_requests(db: Database) -> None:
    async with db.uow() as uow:
        await approvals.queue_requests(
            uow, today=TODAY, render=request, waiting=waiting, now=NOW, policy=POLICY
        )


async def claim(db: Database) -> list[tuple[int, str, int | None]]:
    """What a sender would take now: (row id, kind, message id it edits); committed."""
    async with db.uow() as uow:
        rows = await uow.outbox.claim("test-sender", 1000, NOW, LEASE)
        taken = [(row.id, row.kind, row.telegram_message_id) for row in rows]
        await uow.commit()
    return taken


async def settle_sent(db: Database, message_ids: dict[int, int]) -> None:
    """Telegram took these claimed rows, as ``{row id: message id}``."""
    async with db.uow() as uow:
        await uow.outbox.settle(
            [
                {"id": row_id, "status": DeliveryStatus.SENT, "telegram_message_id": message_id,
                 "finished_at": NOW, "lease_owner": None, "lease_until": None}
                for row_id, message_id in message_ids.items()
            ]
        )  # fmt: skip
        await uow.commit()


async def send_all(db: Database, first_message_id: int = 100) -> dict[int, int]:
    """Claim and settle everything due as sent; ``{row id: message id}``."""
    taken = {row_id: first_message_id + n for n, (row_id, _, _) in enumerate(await claim(db))}
    await settle_sent(db, taken)
    return taken


async def outbox(db: Database, kind: str) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list(
            await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


async def decide(
    db: Database,
    actor: StaffMember,
    entry_id: int,
    decision: Decision = Decision.APPROVE,
    *,
    reason: str | None = None,
    shown_in: tuple[int, int] | None = None,
) -> None:
    async with db.uow() as uow:
        entry = await uow.entries.get(entry_id)
        assert entry is not None
        result = await approvals.decide(
            uow, actor, entry_id, entry.version, decision, reason=reason, today=TODAY,
            render=render, close=close, shown_in=shown_in, now=NOW, policy=POLICY,
        )  # fmt: skip
    assert isinstance(result, Decided)


async def test_a_request_not_sent_yet_is_never_sent(db: Database, people: People) -> None:
    entry = await entry_of(db, people.author)
    await queue_requests(db)
    [copy] = await outbox(db, "approval_request")
    assert copy.status is DeliveryStatus.PENDING and copy.request_entry_id == entry
    # Decided from /pending before the sender took the request.
    await decide(db, people.boss, entry)
    assert await outbox(db, "approval_request") == []
    assert await outbox(db, "approval_closed") == []
    assert [kind for _, kind, _ in await claim(db)] == ["approval_decision"]


async def test_a_request_being_sent_is_closed_once_it_has_arrived(
    db: Database, people: People
) -> None:
    entry = await entry_of(db, people.author)
    await queue_requests(db)
    [(copy_id, _, _)] = await claim(db)  # in a sender's hands: it may be reaching Telegram
    await decide(db, people.boss, entry, Decision.RETURN, reason="Add the numbers")
    [edit] = await outbox(db, "approval_closed")
    assert (edit.edits_id, edit.status, edit.dedup_key) == (
        copy_id, DeliveryStatus.PENDING, f"approval-closed/{copy_id}"
    )  # fmt: skip
    assert [kind for _, kind, _ in await claim(db)] == ["approval_decision"], "the edit waits"
    await settle_sent(db, {copy_id: 41})
    [(edit_id, kind, edits_message)] = await claim(db)
    assert (edit_id, kind, edits_message) == (edit.id, "approval_closed", 41)
    [copy] = await outbox(db, "approval_request")
    [edit] = await outbox(db, "approval_closed")
    assert edit.chat_id == copy.chat_id == 3 and edit.reply_markup is None
    # The reader's language (B1 reads Chinese), not the code's default.
    assert edit.text == f"{copy.text}\n\n↩️ B1已于2026/11/23 10:00退回：Add the numbers"
    async with db.uow() as uow:
        again = await uow.outbox.close_copies([copy_id], line="again", priority=50, now=NOW)
        assert again == 0, "one edit per copy"


async def test_an_escalated_decision_closes_the_supervisors_copy_not_the_pressed_one(
    db: Database, people: People
) -> None:
    entry = await entry_of(db, people.author, LONG_AGO)
    await queue_requests(db)
    await send_all(db, first_message_id=5)
    policy = load_policy()
    async with db.uow() as uow:
        assert await approvals.escalate(
            uow, policy, WorkCalendar(policy), ZONE, render=escalation, now=NOW
        ) == 1  # fmt: skip
    sent = await send_all(db, first_message_id=50)
    [upward] = [row for row in await outbox(db, "approval_escalated") if row.chat_id == 2]
    assert upward.request_entry_id == entry
    await decide(db, people.higher, entry, shown_in=(2, sent[upward.id]))
    [boss_copy] = await outbox(db, "approval_request")
    [edit] = await outbox(db, "approval_closed")
    assert (edit.edits_id, edit.chat_id) == (boss_copy.id, 3), "the pressed copy is not edited"
    assert edit.text == f"{boss_copy.text}\n\n✅ H1已于2026/11/23 10:00通过"


async def test_bulk_and_automatic_approvals_close_their_requests_in_batches(
    db: Database, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(approvals, "CLOSE_BATCH", 2)
    # A card each (not one message for many), so that each has copies to close.
    monkeypatch.setattr(approvals, "COALESCE_ABOVE", 10)
    bulk = [await entry_of(db, people.author, NOW - timedelta(minutes=5)) for _ in range(5)]
    await queue_requests(db)
    await send_all(db)
    async with db.uow() as uow:
        done = await approvals.approve_shown(
            uow, people.boss, today=TODAY, first_id=min(bulk), last_id=max(bulk),
            seen_at=NOW, render=render, close=close, now=NOW, policy=POLICY,
        )  # fmt: skip
    assert done.approved == 5
    closed = await outbox(db, "approval_closed")
    copies = {row.id: row for row in await outbox(db, "approval_request")}
    assert sorted(copies[row.edits_id].request_entry_id for row in closed) == bulk
    assert {row.text.rsplit("\n\n", 1)[1] for row in closed} == {"✅ B1已于2026/11/23 10:00通过"}

    stale = [await entry_of(db, people.author, LONG_AGO) for _ in range(3)]
    await queue_requests(db)
    await send_all(db, first_message_id=200)
    policy = load_policy()
    auto: Policy = policy.model_copy(
        update={
            "approvals": policy.approvals.model_copy(update={"auto_approve_after_workdays": 5})
        }
    )
    async with db.uow() as uow:
        assert await approvals.auto_approve(
            uow, auto, WorkCalendar(auto), ZONE, render=render, close=close, now=NOW
        ) == 3  # fmt: skip
    copies = {row.id: row for row in await outbox(db, "approval_request")}
    automatic = [
        row for row in await outbox(db, "approval_closed") if row.id not in {c.id for c in closed}
    ]
    assert sorted(copies[row.edits_id].request_entry_id for row in automatic) == stale
    assert {row.text.rsplit("\n\n", 1)[1] for row in automatic} == {
        "✅ 已于2026/11/23 10:00自动通过"
    }


# --- many requests to one approver: one message ---------------------------------------


async def requested(db: Database) -> int:
    async with db.uow() as uow:
        return len(list(await uow.session.scalars(select(ApprovalRequest.id))))


async def test_many_new_requests_to_one_approver_are_one_message_and_each_is_recorded(
    db: Database, people: People
) -> None:
    entries = [await entry_of(db, people.author) for _ in range(approvals.COALESCE_ABOVE + 1)]
    await queue_requests(db)
    assert await outbox(db, "approval_request") == []
    [one] = await outbox(db, approvals.WAITING_KIND)
    assert (one.chat_id, one.staff_id) == (3, people.boss.id)
    # In the approver's language, with the count of what /pending lists.
    assert one.text.startswith("4条记录待您审核。")
    [[button]] = one.reply_markup["inline_keyboard"]
    assert button["callback_data"] == PendingPage(0).pack()
    assert await requested(db) == len(entries), "each request is recorded as put before them"
    await queue_requests(db)
    assert len(await outbox(db, approvals.WAITING_KIND)) == 1, "none is put there again"
    # Decided elsewhere, nothing is left to close: the message opens the live list.
    await decide(db, people.boss, entries[0])
    assert await outbox(db, "approval_closed") == []


async def test_unsent_cards_are_folded_into_the_message_and_sent_ones_are_not(
    db: Database, people: People
) -> None:
    first = [await entry_of(db, people.author) for _ in range(3)]
    await queue_requests(db)
    assert [c.request_entry_id for c in await outbox(db, "approval_request")] == first
    await send_all(db)  # three cards arrived: they stay
    second = [await entry_of(db, people.author) for _ in range(3)]
    await queue_requests(db)
    assert len(await outbox(db, "approval_request")) == 6, "three more fit"
    third = await entry_of(db, people.author)
    await queue_requests(db)
    # Three cards still unsent and one more: the unsent are withdrawn, one message instead.
    cards = await outbox(db, "approval_request")
    assert [c.request_entry_id for c in cards] == first
    [one] = await outbox(db, approvals.WAITING_KIND)
    assert one.text.startswith("7条记录待您审核。"), "all seven wait"
    # A later one while that message is unsent replaces it with a new count.
    await entry_of(db, people.author)
    await queue_requests(db)
    [again] = await outbox(db, approvals.WAITING_KIND)
    assert again.dedup_key != one.dedup_key and again.text.startswith("8条记录待您审核。")
    # Every entry can still be decided, and the cards that were sent are closed.
    for entry in [*first, *second, third]:
        await decide(db, people.boss, entry)
    closed = await outbox(db, "approval_closed")
    assert sorted(c.edits_id for c in closed) == sorted(c.id for c in cards)


async def test_many_escalated_at_once_are_one_message_to_the_higher_supervisor(
    db: Database, people: People
) -> None:
    stale = [await entry_of(db, people.author, LONG_AGO) for _ in range(5)]
    policy = load_policy()
    async with db.uow() as uow:
        assert await approvals.escalate(
            uow, policy, WorkCalendar(policy), ZONE, render=escalation, now=NOW
        ) == 5  # fmt: skip
    [one] = [m for m in await outbox(db, approvals.WAITING_KIND) if m.staff_id == people.higher.id]
    assert one.text.startswith("5 entries (A1) were left undecided too long by B1")
    assert [
        m for m in await outbox(db, "approval_escalated") if m.staff_id == people.higher.id
    ] == []
    async with db.uow() as uow:
        assert (
            await uow.approvals.waiting(people.higher.id, today=TODAY, closed_through=date.min)
            == 5
        )
    for entry in stale:
        await decide(db, people.higher, entry)
