"""A period under review is closed, end to end: every path refuses its entries, until HR
reopens one person's period.

The bot's clock stands on 30 November 2026 while entries are logged and put before the
supervisor, then on 4 December, the first day of November's supervisor review (the
default policy: self-assessment due on the 3rd).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from assessment.people import StaffMember
from bot.app import build_application
from bot.emulator import EmulatedUser, EmulatorDriver
from config.policy import load_policy
from config.settings import Settings
from handlers.approval_jobs import send_digests, send_escalations, send_requests
from handlers.callbacks import LogAnswer
from handlers.context import WorkledgerApplication
from handlers.menus import menu_commands
from storage.enums import EntryStatus
from storage.models import AuditEvent, Staff, WorkEntry

from .chat import Message, answer_to_press, buttons, introduce
from .conftest import eventually
from .people import COLLEAGUE, Organisation, seed_with_colleague

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
LAST_OPEN_DAY = datetime(2026, 11, 30, 10, 0, tzinfo=ZONE)  # a Monday
REVIEW_STARTS = datetime(2026, 12, 4, 10, 0, tzinfo=ZONE)  # a Friday
# Either side of the midnight that starts November's review, in the organisation's zone
# (a conversation is forgotten after a day, so the edits begin late on the 3rd).
LATE_ON_THE_3RD = datetime(2026, 12, 3, 23, 50, tzinfo=ZONE)
EARLY_ON_THE_4TH = datetime(2026, 12, 4, 0, 10, tzinfo=ZONE)
CLOSED = (
    "That day's assessment period is under review: its entries can no longer be added, "
    "changed or decided. If something must change, HR can reopen it."
)


@pytest.fixture
def application(settings: Settings) -> WorkledgerApplication:
    """The bot with auto-approval on (after 5 workdays), so that it too can be refused."""
    policy = load_policy()
    approvals = policy.approvals.model_copy(update={"auto_approve_after_workdays": 5})
    return build_application(settings, policy.model_copy(update={"approvals": approvals}))


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed_with_colleague(bot.bot_data.database)
    await introduce(
        driver, organisation.hr, organisation.supervisor, organisation.staff, COLLEAGUE
    )
    set_clock(bot, LAST_OPEN_DAY)
    return organisation


def set_clock(bot: WorkledgerApplication, moment: datetime) -> None:
    bot.bot_data.clock.set(moment, frozen=True)


async def say(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id)
    return reply


async def stored(bot: WorkledgerApplication) -> list[WorkEntry]:
    async with bot.bot_data.database.uow() as uow:
        return list(await uow.session.scalars(select(WorkEntry).order_by(WorkEntry.id)))


async def requests(
    bot: WorkledgerApplication, driver: EmulatorDriver, approver: EmulatedUser, count: int
) -> list[Message]:
    await send_requests(bot.bot_data, bot.bot_data.clock.now())
    return await driver.wait_for_message(approver.id, count=count, timeout=8)


async def test_the_authors_paths_are_closed(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    user = org.staff
    edit_card = await say(driver, user, "Counter duty")
    delete_card = await say(driver, user, "Archive")
    typed_card = await say(driver, user, "Visits")
    # An edit begun while November is open, answered once it is closed (a plain message).
    set_clock(bot, LATE_ON_THE_3RD)
    await driver.press(user, typed_card["message_id"], buttons(typed_card)["Edit text"])
    [question] = await driver.wait_for_message(user.id)
    assert question["text"].startswith("Describe the work")

    set_clock(bot, EARLY_ON_THE_4TH)
    assert (await say(driver, user, "Visits to 12 households"))["text"] == CLOSED
    for label, card in (("Edit text", edit_card), ("+ Hours", edit_card), ("Delete", delete_card)):
        assert await answer_to_press(driver, user, card, buttons(card)[label]) == CLOSED, label
    # /log dated back into November: neither offered nor accepted, typed or pressed.
    november_30 = LogAnswer("date", "2026-11-30").pack()
    question = await say(driver, user, "/log")
    assert november_30 not in buttons(question).values()
    assert (await say(driver, user, "11-30"))["text"] == CLOSED
    assert await answer_to_press(driver, user, question, november_30) == CLOSED
    assert (await say(driver, user, "/cancel"))["text"].startswith("Cancelled")
    # Today's plain messages are December's: still logged.
    assert (await say(driver, user, "Front desk"))["text"].startswith("Logged for")

    # A /log begun on the 3rd for 30 November and saved once it is closed: refused at Save.
    set_clock(bot, LATE_ON_THE_3RD)
    draft = await say(driver, user, "/log")
    assert november_30 in buttons(draft).values()
    indicator = await _press_for_reply(driver, user, draft, november_30, by_data=True)
    set_clock(bot, EARLY_ON_THE_4TH)
    hours = await _press_for_reply(driver, user, indicator, "Skip")
    described = await _press_for_reply(driver, user, hours, "Skip")
    assert described["text"].startswith("Describe the work")
    evidence = await say(driver, user, "Late entry")
    summary = await _press_for_reply(driver, user, evidence, "Skip")
    assert await answer_to_press(driver, user, summary, buttons(summary)["Save"]) == CLOSED

    entries = await stored(bot)
    assert [(e.text, e.status, e.version) for e in entries] == [
        ("Counter duty", EntryStatus.SUBMITTED, 1),
        ("Archive", EntryStatus.SUBMITTED, 1),
        ("Visits", EntryStatus.SUBMITTED, 1),
        ("Front desk", EntryStatus.SUBMITTED, 1),
    ]
    assert entries[-1].work_date == date(2026, 12, 4)


async def _conversation_step(bot: WorkledgerApplication, step: str) -> bool:
    async with bot.bot_data.database.uow() as uow:
        staff = (await uow.staff.by_employee_nos(["E011"]))[0]
        stored = await uow.conversations.get(staff.id)
        return stored is not None and stored.step == step


async def _press_for_reply(
    driver: EmulatorDriver,
    user: EmulatedUser,
    message: Message,
    label: str,
    *,
    by_data: bool = False,
) -> Message:
    """Press a /log question's button (by its label, or its data); the question it leads
    to (the same message edited, or a new one)."""
    before = message.get("edit_count")
    data = label if by_data else buttons(message)[label]
    await driver.press(user, message["message_id"], data)

    async def changed() -> Message | None:
        latest = await driver.messages(user.id)
        same = next(m for m in latest if m["message_id"] == message["message_id"])
        if same.get("edit_count") != before:
            return same
        return latest[-1] if latest[-1]["message_id"] != message["message_id"] else None

    return await eventually(changed)


async def test_the_approvers_paths_are_closed_until_hr_reopens(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    for text in ("One", "Two"):
        await say(driver, org.staff, text)
    await say(driver, COLLEAGUE, "Colleague's work")
    cards = await requests(bot, driver, org.supervisor, 3)
    listing = await say(driver, org.supervisor, "/pending")
    assert listing["text"].startswith("3 entries wait for your decision")

    set_clock(bot, REVIEW_STARTS)
    for card, label in zip(cards, ("Approve", "Return", "Reject"), strict=True):
        assert await answer_to_press(driver, org.supervisor, card, buttons(card)[label]) == CLOSED
    bulk = await answer_to_press(
        driver, org.supervisor, listing, buttons(listing)["Approve all 3 on this page"]
    )
    assert bulk == (
        "3 entries were left: their period is under review and can no longer be decided."
    )
    assert (await say(driver, org.supervisor, "/pending"))["text"] == (
        "Nothing is waiting for your decision."
    )
    # The digest has nothing to list, escalation and auto-approval nothing to do, although
    # every entry has waited far longer than either allows.
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(WorkEntry).values(submitted_at=LAST_OPEN_DAY - timedelta(days=20))
        )
        await uow.session.execute(
            update(Staff).where(Staff.employee_no == "E010").values(approval_digest_at="09:00")
        )
        await uow.commit()
    assert await send_digests(bot.bot_data, bot.bot_data.clock.now()) == 0
    assert await send_escalations(bot.bot_data, bot.bot_data.clock.now()) == 0
    assert {(e.status, e.escalated_at) for e in await stored(bot)} == {
        (EntryStatus.SUBMITTED, None)
    }

    # HR reopens Su Yi's November: her entries are decided and escalated again; Cao Lin's
    # November stays closed.
    reply = await say(driver, org.hr, "/reopen E011 2026-11 Leave was recorded late")
    assert reply["text"].startswith("November 2026 is reopened for Su Yi (E011)")
    approved = await answer_to_press(
        driver, org.supervisor, cards[0], buttons(cards[0])["Approve"]
    )
    assert approved.startswith("✅ Approved by Sun Li")
    assert await send_escalations(bot.bot_data, bot.bot_data.clock.now()) == 1
    entries = await stored(bot)
    assert [(e.status, e.decision_via) for e in entries] == [
        (EntryStatus.APPROVED, "supervisor"),
        (EntryStatus.APPROVED, "auto"),  # escalated, then approved automatically
        (EntryStatus.SUBMITTED, None),
    ]
    assert entries[1].escalated_at is not None and entries[2].escalated_at is None
    async with bot.bot_data.database.uow() as uow:
        refused = list(
            await uow.session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == "entry.decision_refused")
            )
        )
    assert [r["why"] for r in refused] == ["closed_period"] * 3


async def test_hr_reopens_with_a_reason_and_nobody_else_does(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    card = await say(driver, org.staff, "Counter duty")
    set_clock(bot, REVIEW_STARTS)
    assert await answer_to_press(driver, org.staff, card, buttons(card)["Edit text"]) == CLOSED
    refused = await say(driver, org.supervisor, "/reopen E011 2026-11 Please")
    assert refused["text"] == "Sorry, you do not have permission to do that."
    answers = {
        "/reopen": "To reopen one person's period under review",
        "/reopen E011": "Please give the reason after the employee number.",
        "/reopen E011 2026-13 Typo": "To reopen one person's period under review",
        "/reopen E999 2026-11 Leave": "Nobody on staff has that employee number.",
        "/reopen E011 2026-12 Early": "That period is not under review yet",
    }
    for command, start in answers.items():
        assert (await say(driver, org.hr, command))["text"].startswith(start), command
    done = await say(driver, org.hr, "/reopen e011 Leave was recorded late")
    assert done["text"].startswith("November 2026 is reopened for Su Yi (E011)")
    again = await say(driver, org.hr, "/reopen E011 2026-11 Twice")
    assert again["text"].startswith("That period is reopened for this person already")
    await driver.press(org.staff, card["message_id"], buttons(card)["Edit text"])
    [question] = await driver.wait_for_message(org.staff.id)
    assert question["text"].startswith("Describe the work")
    assert (await say(driver, org.staff, "Counter duty, 40 visitors"))["text"].startswith(
        "Changed."
    )
    async with bot.bot_data.database.uow() as uow:
        events = list(
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "period.reopened")
            )
        )
    assert [e.details["reason"] for e in events] == ["Leave was recorded late"]
    # HR's menu offers the command; the supervisor's does not.
    async with bot.bot_data.database.uow() as uow:
        hr, boss = (StaffMember.of(s) for s in await uow.staff.by_employee_nos(["E001", "E010"]))
    assert "reopen" in {command.command for command in menu_commands(hr, "en")}
    assert "reopen" not in {command.command for command in menu_commands(boss, "en")}
