"""The sandbox's time travel through the real bot: the clock moves, and what is due happens."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.emulator import EmulatorDriver
from bot.sandbox.timetravel import MOVES, clock_status, move_clock
from handlers.context import WorkledgerApplication
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage

from .chat import introduce, say
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


async def _organisation(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    org = await seed(bot.bot_data.database)
    await introduce(driver, org.hr, org.supervisor, org.staff)
    return org


async def test_moving_to_the_reminders_reminds_at_once_whoever_has_not_logged(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    # A Thursday morning; the supervisor logs, the others do not.
    bot.bot_data.clock.set(at(date(2025, 11, 20), 10, 0), frozen=True)
    org = await _organisation(bot, driver)
    reply = await say(driver, org.supervisor, "Checked twelve permit files for the market")
    assert "have not logged" not in reply["text"]

    moment = await move_clock(bot, "reminders")

    assert moment == at(date(2025, 11, 20), 17, 30)
    assert bot.bot_data.clock.now() == moment
    # Well before the jobs' own next tick (a minute): the move ran them.
    [reminder] = await driver.wait_for_message(org.staff.id, timeout=10)
    assert "You have not logged any work for" in reminder["text"]
    await driver.wait_for_message(org.hr.id, timeout=10)
    texts = [message.get("text", "") for message in await driver.messages(org.supervisor.id)]
    assert not [text for text in texts if "have not logged" in text]


async def test_moving_to_the_self_assessment_day_tells_staff_it_is_open(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    bot.bot_data.clock.set(at(date(2025, 11, 20), 10, 0), frozen=True)
    org = await _organisation(bot, driver)

    moment = await move_clock(bot, "self_review")

    assert moment == at(date(2025, 11, 25), 9, 30)  # a Tuesday
    assert clock_status(bot.bot_data)["stage"] == "self_assessment"
    [notice] = await driver.wait_for_message(org.staff.id, timeout=10)
    assert "is open until" in notice["text"]


async def test_moving_to_the_review_due_day_and_publication_changes_the_stage(
    bot: WorkledgerApplication,
) -> None:
    bot.bot_data.clock.set(at(date(2025, 12, 1), 10, 0), frozen=True)
    before = clock_status(bot.bot_data)
    assert before["period"] == "2025-11"
    assert before["stage"] == "self_assessment"
    assert before["weekday"] == "Monday"
    assert before["workday"] is True
    assert before["today_period"] == "2025-12"
    assert set(before["moves"]) == set(MOVES)

    moment = await move_clock(bot, "review_due")

    assert moment == at(date(2025, 12, 7), 9, 30)
    assert before["moves"]["review_due"] == moment.isoformat()
    during = clock_status(bot.bot_data)
    assert during["now"] == moment.isoformat()
    assert (during["period"], during["stage"]) == ("2025-11", "supervisor_review")

    moment = await move_clock(bot, "publication")
    assert moment == at(date(2025, 12, 8), 9, 30)
    assert clock_status(bot.bot_data)["stage"] == "calibration"


async def test_moves_only_go_forward_and_unknown_ones_are_refused(
    bot: WorkledgerApplication,
) -> None:
    # Saturday evening, after the reminder time: the next reminders are Monday's.
    bot.bot_data.clock.set(at(date(2025, 11, 22), 18, 0), frozen=True)
    assert await move_clock(bot, "reminders") == at(date(2025, 11, 24), 17, 30)
    assert await move_clock(bot, "next_workday") == at(date(2025, 11, 25), 9, 0)
    # Half an hour later November's self-assessment opens; the next one is December's.
    assert await move_clock(bot, "self_review") == at(date(2025, 11, 25), 9, 30)
    assert await move_clock(bot, "self_review") == at(date(2025, 12, 25), 9, 30)
    # Two moves at once (two tabs): the second starts from where the first went.
    moved = await asyncio.gather(move_clock(bot, "next_workday"), move_clock(bot, "next_workday"))
    assert sorted(moved) == [at(date(2025, 12, 26), 9, 0), at(date(2025, 12, 29), 9, 0)]
    with pytest.raises(ValueError, match="unknown move"):
        await move_clock(bot, "yesterday")
    assert bot.bot_data.clock.now() == at(date(2025, 12, 29), 9, 0)


async def test_a_message_in_a_senders_hands_is_not_sent_again_after_a_move(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    start = at(date(2025, 11, 20), 10, 0)
    bot.bot_data.clock.set(start, frozen=True)
    org = await _organisation(bot, driver)
    # Claimed a moment ago by a sender that is sending it now (its lease: a minute).
    async with bot.bot_data.database.uow() as uow:
        held = OutboxMessage(
            chat_id=org.staff.id, kind="notice", text="Held by another sender",
            status=DeliveryStatus.SENDING, lease_owner="elsewhere",
            lease_until=start + timedelta(minutes=1), attempts=1,
        )  # fmt: skip
        uow.session.add(held)
        await uow.commit()

    moment = await move_clock(bot, "next_workday")

    await say(driver, org.staff, "/help")  # a round trip: the sender had its chance
    texts = [message.get("text", "") for message in await driver.messages(org.staff.id)]
    assert "Held by another sender" not in texts
    async with bot.bot_data.database.uow() as uow:
        row = await uow.session.get(OutboxMessage, held.id)
        assert row is not None
        assert (row.status, row.lease_owner) == (DeliveryStatus.SENDING, "elsewhere")
        assert row.lease_until == moment + timedelta(minutes=1)
