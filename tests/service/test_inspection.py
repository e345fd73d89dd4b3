"""The sandbox's inspector: the roster as cards and one person's state, read-only and bounded.

A small organisation made as real data is: a roster import, invitations redeemed,
entries through the entry rules, leave recorded, messages queued through the outbox.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from assessment.calendar import WorkCalendar, set_leave
from assessment.entries import EntryView, NewEntry, Rules, create_entry, quick_log
from assessment.invitations import invite, redeem
from assessment.outbox import Outgoing, enqueue
from assessment.roster import COLUMNS, import_roster, parse_roster
from bot.sandbox.inspect import PersonCard, inspect_person, roster_people
from config.clock import Clock
from config.policy import Policy, load_policy
from config.settings import Settings
from handlers.context import BotData
from storage.engine import Database
from storage.repositories.audit import Event

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Tuesday: the entry rules allow backdating to the Friday before, in November.
TODAY = date(2025, 12, 2)
NOW = datetime.combine(TODAY, time(10, 0), tzinfo=SHANGHAI)
LI, ZHANG = 7001, 7003
ROSTER = "\n".join(
    [
        ",".join(COLUMNS),
        "E1,Li Wei,Permits,Clerk,service,1.15,E3,,zh_Hans,",
        "E2,Wang Fang,Permits,Clerk,service,1.15,E3,,,",
        "E3,Zhang Qiang,Permits,Head,management,1.3,,staff;hr,,",
        "E4,Chen Mei,Enforcement,Officer,law_enforcement,1.2,,,en,second_line",
        "",
    ]
).encode()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
async def data(db: Database, database_url: str, policy: Policy) -> AsyncIterator[BotData]:
    """The running bot's shared data as the sandbox gets it, over the organisation."""
    bot_data = BotData()
    bot_data.configure(Settings(_env_file=None, database_url=database_url), policy)  # type: ignore[call-arg]
    bot_data.clock = Clock.at(NOW)
    bot_data.attach(db)
    yield bot_data
    bot_data.detach()


@pytest.fixture
async def codes(data: BotData, db: Database, policy: Policy) -> list[str]:
    """The organisation: imported, two people joined; the invitation codes used."""
    now = NOW.astimezone(UTC)
    async with db.uow() as uow:
        await import_roster(
            uow, parse_roster(ROSTER, "roster.csv", policy), actor_staff_id=None,
            mark_missing_left=False, dry_run=False, now=now,
        )  # fmt: skip
    async with db.uow() as uow:
        issued = await invite(
            uow, ["E1", "E3"], actor_staff_id=None, ttl=timedelta(days=7), now=now
        )
    for invitation, account in zip(issued, (LI, ZHANG), strict=True):
        async with db.uow() as uow:
            await redeem(uow, invitation.code, account, now=now, max_failures=5)
    async with db.uow() as uow:
        wang = await uow.staff.by_employee_no("E2")
        assert wang is not None
        await set_leave(uow, wang.id, TODAY, by=wang.id, now=now)
    return [invitation.code for invitation in issued]


async def _li(db: Database) -> int:
    async with db.uow() as uow:
        li = await uow.staff.by_employee_no("E1")
        assert li is not None
        return li.id


async def _entries(db: Database, policy: Policy) -> None:
    li = await _li(db)
    rules = Rules(policy, WorkCalendar(policy), TODAY, SHANGHAI)
    now = NOW.astimezone(UTC)
    for day, text, hours in (
        (date(2025, 11, 28), "Last month's inspections", None),
        (date(2025, 12, 1), "Inspected the night market", Decimal("3.50")),
    ):
        async with db.uow() as uow:
            made = await create_entry(uow, li, NewEntry(day, text, hours=hours), rules, now=now)
        assert isinstance(made, EntryView), made
    async with db.uow() as uow:
        made = await quick_log(
            uow, li, "Answered 14 permit questions", today=TODAY, zone=SHANGHAI,
            limits=policy.entries, policy=policy, now=now,
        )  # fmt: skip
    assert isinstance(made, EntryView), made


async def test_the_roster_shows_hr_and_supervisors_first_with_who_joined_and_who_is_away(
    data: BotData, codes: list[str]
) -> None:
    people = await roster_people(data)
    assert [person.employee_no for person in people] == ["E3", "E1", "E2", "E4"]
    cards = {person.employee_no: person for person in people}
    assert cards["E1"] == PersonCard(
        telegram_user_id=LI, employee_no="E1", name="Li Wei", roles=("staff",),
        department="Permits", post="Clerk", supervisor="Zhang Qiang", language="zh_Hans",
        on_leave=False, joined=True,
    )  # fmt: skip
    assert cards["E3"].roles == ("staff", "supervisor", "hr")
    assert (cards["E2"].joined, cards["E2"].telegram_user_id, cards["E2"].on_leave) == (
        False,
        None,
        True,
    )
    assert cards["E4"].department == "Enforcement"


async def test_a_persons_record_entries_this_month_outbox_and_audit(
    data: BotData, db: Database, policy: Policy, codes: list[str]
) -> None:
    await _entries(db, policy)
    li = await _li(db)
    async with db.uow() as uow:
        zhang = await uow.staff.by_employee_no("E3")
        wang = await uow.staff.by_employee_no("E2")
        assert zhang is not None and wang is not None
        [(latest, _)] = (await uow.entries.of_staff(li, TODAY, TODAY))[:1]
        # What their supervisor did about one of their entries, and about someone else.
        await uow.audit.add_many(
            [
                Event("entry.approved", "work_entry", latest.id, at=NOW, actor_staff_id=zhang.id),
                Event("leave.removed", "staff", wang.id, at=NOW, actor_staff_id=zhang.id),
            ]
        )
        await enqueue(
            uow,
            [Outgoing(chat_id=LI, kind="notice", staff_id=li,
                      text="Join us: https://t.me/workledger_bot?start=SECRETCODE123\nline two")],
            now=NOW,
        )  # fmt: skip
        await uow.commit()

    state = await inspect_person(data, LI)

    dumped = json.dumps(state)  # JSON-ready through and through
    assert "SECRETCODE123" not in dumped
    for code in codes:
        assert code not in dumped
    assert state["now"] == NOW.isoformat()
    record = state["record"]
    assert record["employee_no"] == "E1"
    assert record["roles"] == ["staff"]
    assert record["supervisor"] == "Zhang Qiang"
    assert record["language"] == "zh_Hans"
    assert record["status"] == "active"
    assert record["joined"] is True
    assert state["month"] == {"from": "2025-12-01", "to": "2025-12-31"}
    # This month's only, newest day first; November's entry is not among them.
    assert [(e["date"], e["text"], e["hours"], e["status"]) for e in state["entries"]] == [
        ("2025-12-02", "Answered 14 permit questions", None, "submitted"),
        ("2025-12-01", "Inspected the night market", "3.5", "submitted"),
    ]
    [message] = [m for m in state["outbox"] if m["kind"] == "notice"]
    assert message["state"] == "pending"
    assert message["sent"] is None
    assert message["first_line"] == "Join us: https://t.me/workledger_bot?start=…"
    actions = [event["action"] for event in state["audit"]]
    # By them (their three entries, November's too), about them, about their entries.
    assert actions.count("entry.logged") == 3, actions
    assert {"staff.invited", "staff.linked", "entry.approved"} <= set(actions)
    assert "leave.removed" not in actions, "about someone else"
    [approved] = [event for event in state["audit"] if event["action"] == "entry.approved"]
    assert approved["by_them"] is False
    assert approved["subject_id"] == str(latest.id)
    ids = [event["id"] for event in state["audit"]]
    assert ids == sorted(ids, reverse=True), "newest first"


async def test_a_stranger_has_no_record_and_empty_lists(data: BotData, codes: list[str]) -> None:
    assert await inspect_person(data, 424242) == {
        "record": None,
        "entries": [],
        "outbox": [],
        "audit": [],
        "now": NOW.isoformat(),
    }


async def test_the_lists_are_bounded(data: BotData, db: Database, codes: list[str]) -> None:
    li = await _li(db)
    now = NOW.astimezone(UTC)
    async with db.uow() as uow:
        await enqueue(
            uow,
            [
                Outgoing(chat_id=LI, kind="notice", staff_id=li, text=f"notice {n}")
                for n in range(60)
            ],
            now=now,
        )
        await uow.audit.add_many(
            [Event("leave.recorded", "staff", li, at=now, actor_staff_id=li) for _ in range(40)]
        )
        await uow.commit()

    state = await inspect_person(data, LI)

    assert len(state["outbox"]) == 50
    assert state["outbox"][0]["first_line"] == "notice 59", "the latest first"
    assert len(state["audit"]) == 30
