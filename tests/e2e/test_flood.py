"""Flood control from the phone, end to end: entries a minute and a day, and an approver
who gets one message for a burst of requests instead of a card each."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import build_application
from bot.emulator import EmulatedUser, EmulatorDriver
from config.policy import Policy, load_policy
from config.settings import Settings
from handlers.approval_jobs import send_requests
from handlers.callbacks import LogAnswer, PendingPage
from handlers.context import WorkledgerApplication
from storage.enums import EntryStatus
from storage.models import AuditEvent, Conversation, OutboxMessage, WorkEntry

from .chat import Message, answer_to_press, buttons, introduce, press
from .conftest import eventually
from .people import COLLEAGUE, Organisation, seed_with_colleague

pytestmark = pytest.mark.e2e

PER_MINUTE = 3
PER_DAY = 5


def flood_policy() -> Policy:
    policy = load_policy()
    limits = policy.entries.model_copy(
        update={"max_per_minute": PER_MINUTE, "max_per_day": PER_DAY}
    )
    return policy.model_copy(update={"entries": limits})


@pytest.fixture
def application(settings: Settings) -> WorkledgerApplication:
    """The bot as production builds it, with small limits so that tests reach them."""
    return build_application(settings, flood_policy())


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed_with_colleague(bot.bot_data.database)
    # Telegram lets a bot write only to people who talked to it first.
    await introduce(
        driver, organisation.hr, organisation.supervisor, organisation.staff, COLLEAGUE
    )
    return organisation


def at_ten(bot: WorkledgerApplication) -> datetime:
    """10:00 today in the organisation's time zone: the bot's clock stands still there."""
    zone = bot.bot_data.settings.zone
    moment = datetime.combine(datetime.now(zone).date(), time(10), tzinfo=zone)
    bot.bot_data.clock.set(moment, frozen=True)
    return moment


async def say(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id)
    return reply


async def written(bot: WorkledgerApplication) -> tuple[int, int]:
    """Entries and audit events of entries in the store."""
    async with bot.bot_data.database.uow() as uow:
        rows = await uow.session.scalar(select(func.count()).select_from(WorkEntry))
        events = await uow.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.subject_type == "work_entry")
        )
    return int(rows or 0), int(events or 0)


async def test_past_the_minutes_limit_an_entry_is_refused_until_the_oldest_is_a_minute_old(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    start = at_ten(bot)
    for n in range(PER_MINUTE):
        assert (await say(driver, org.staff, f"Counter duty {n}"))["text"].startswith("Logged for")
    assert await written(bot) == (PER_MINUTE, PER_MINUTE)
    bot.bot_data.clock.set(start + timedelta(seconds=20), frozen=True)
    refused = await say(driver, org.staff, "One too many")
    assert refused["text"].startswith(
        "You can log at most 3 entries a minute. Nothing was saved; you can log again at 10:01:00"
    ), refused["text"]
    assert buttons(refused) == {}
    assert await written(bot) == (PER_MINUTE, PER_MINUTE), "nothing written, nothing audited"
    bot.bot_data.clock.set(start + timedelta(minutes=1), frozen=True)
    assert (await say(driver, org.staff, "Next minute"))["text"].startswith("Logged for")
    # Each person has their own limit.
    assert (await say(driver, COLLEAGUE, "Filing"))["text"].startswith("Logged for")
    assert (await written(bot))[0] == PER_MINUTE + 2


async def test_past_the_days_limit_an_entry_is_refused_until_tomorrow(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    start = at_ten(bot)
    for n in range(PER_DAY):
        bot.bot_data.clock.set(start + timedelta(minutes=n), frozen=True)
        assert (await say(driver, org.staff, f"Counter duty {n}"))["text"].startswith("Logged for")
    bot.bot_data.clock.set(start + timedelta(hours=8), frozen=True)
    refused = await say(driver, org.staff, "Evening work")
    assert refused["text"] == (
        "You can log at most 5 entries a day. Nothing was saved; you can log again tomorrow."
    )
    assert await written(bot) == (PER_DAY, PER_DAY)
    midnight = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=start.tzinfo)
    bot.bot_data.clock.set(midnight, frozen=True)
    assert (await say(driver, org.staff, "Early start"))["text"].startswith("Logged for")


async def test_a_guided_entry_refused_at_save_keeps_its_draft_for_later(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    user = org.staff
    start = at_ten(bot)
    today = start.date()
    question = await say(driver, user, "/log")
    question = await press(driver, user, question, "Today")
    question = await press(driver, user, question, "Skip")  # the indicator
    question = await press(driver, user, question, "Skip")  # the hours
    assert question["text"].startswith("Describe the work"), question["text"]
    question = await say(driver, user, "Inspection of three sites")
    summary = await press(driver, user, question, "Done")
    assert summary["text"].startswith("Please check the entry")
    # The minute fills up meanwhile (a plain message now answers /log, so these come in
    # from elsewhere: written straight to the store, as another bot process would).
    async with bot.bot_data.database.uow() as uow:
        author = (await uow.staff.by_employee_nos(["E011"]))[0]
        for n in range(PER_MINUTE):
            await uow.entries.insert(
                {"staff_id": author.id, "work_date": today, "text": f"from elsewhere {n}",
                 "status": EntryStatus.SUBMITTED, "created_at": start, "submitted_at": start,
                 "updated_at": start, "version": 1}
            )  # fmt: skip
        await uow.commit()
    said = await answer_to_press(driver, user, summary, LogAnswer("confirm", "save").pack())
    assert said.startswith("You can log at most 3 entries a minute. Nothing was saved;"), said
    assert said.endswith("Your draft is kept: press Save again then.")
    assert len(said) <= 200, "a button's alert holds 200 characters"
    assert (await written(bot))[0] == PER_MINUTE
    async with bot.bot_data.database.uow() as uow:
        kept = await uow.session.scalar(select(func.count()).select_from(Conversation))
    assert kept == 1
    bot.bot_data.clock.set(start + timedelta(minutes=1), frozen=True)
    saved = await press(driver, user, summary, "Save")
    assert saved["text"].startswith("Saved: your entry for"), saved["text"]
    assert (await written(bot))[0] == PER_MINUTE + 1


async def waiting_for(bot: WorkledgerApplication, chat: int) -> dict[str, int]:
    """The messages queued for a chat, by kind."""
    async with bot.bot_data.database.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.kind, func.count())
            .where(OutboxMessage.chat_id == chat)
            .group_by(OutboxMessage.kind)
        )
        return {kind: int(n) for kind, n in rows}


async def test_a_burst_of_entries_reaches_the_supervisor_as_one_message_to_decide_them_all(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # The request job runs when the test says, not every 3 seconds in between.
    [job] = bot.job_queue.get_jobs_by_name("approval-requests") if bot.job_queue else []
    job.enabled = False
    start = at_ten(bot)
    for user, count in ((org.staff, 3), (COLLEAGUE, 2)):
        for n in range(count):
            await say(driver, user, f"Work {n} of {user.first_name}")
    await send_requests(bot.bot_data, bot.bot_data.clock.now())
    [one] = await driver.wait_for_message(org.supervisor.id, timeout=30)
    assert one["text"].startswith("5 entries wait for your decision."), one["text"]
    assert buttons(one) == {"Open the list": PendingPage(0).pack()}
    queued = await waiting_for(bot, org.supervisor.id)
    assert queued.get("approval_request", 0) == 0 and queued["approval_waiting"] == 1
    # Every entry is accounted for: none is put before the supervisor again.
    assert await send_requests(bot.bot_data, bot.bot_data.clock.now()) == 0

    listed = await press(driver, org.supervisor, one, "Open the list")
    assert listed["text"].startswith("5 entries wait for your decision (page 1 of 1):")
    assert "Su Yi" in listed["text"] and "Cao Lin" in listed["text"]
    done = await press(driver, org.supervisor, listed, "Approve all 5 on this page")
    assert done["text"] == "Nothing is waiting for your decision."
    async with bot.bot_data.database.uow() as uow:
        statuses = list(await uow.session.scalars(select(WorkEntry.status)))
    assert statuses == [EntryStatus.APPROVED] * 5

    # A single entry still gets its own card, with its buttons.
    bot.bot_data.clock.set(start + timedelta(minutes=1), frozen=True)
    await say(driver, org.staff, "Counter duty")

    async def queued() -> int:
        # The reply may go out before the entry's request is there to be sent: ask again.
        return await send_requests(bot.bot_data, bot.bot_data.clock.now())

    assert await eventually(queued, within=30) == 1
    messages = await driver.wait_for_message(org.supervisor.id, timeout=30)
    card = messages[-1]
    assert card["text"].startswith("Entry to approve: Su Yi (E011)"), card["text"]
    assert set(buttons(card)) == {"Approve", "Return", "Reject"}
