"""A press or message delivered twice is answered once, and nothing is logged as an error.

Telegram redelivers an update when it did not hear back in time, and two bot processes
(on PostgreSQL) or a restart can each receive the same one. The copy that loses the
claim must stay silent: a second answer to a press fails at Telegram, and must not
reach the log as an error or the person as an apology.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from telegram import Update

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.approval_jobs import send_requests
from handlers.context import WorkledgerApplication
from storage.enums import EntryStatus
from storage.models import AuditEvent, WorkEntry

from .chat import buttons, introduce
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

STRANGER = EmulatedUser(id=9077, first_name="Zed", language_code="en")


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.supervisor, organisation.staff)
    return organisation


def errors_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]


async def test_a_press_delivered_three_times_at_once_decides_once_and_is_answered_once(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await driver.send_text(org.staff, "Processed 12 permits")
    await driver.wait_for_message(org.staff.id)
    await send_requests(bot.bot_data, datetime.now(UTC))
    [ask] = await driver.wait_for_message(org.supervisor.id, timeout=8)
    caplog.set_level(logging.INFO)
    update = await driver.press(org.supervisor, ask["message_id"], buttons(ask)["Approve"])
    # Polled once by the bot, and twice more at the same moment: as another bot
    # process, or a webhook retry, would receive it while the first is being handled.
    copies = [Update.de_json(update, bot.bot) for _ in range(2)]
    await asyncio.gather(*(bot.process_update(copy) for copy in copies))
    query_id = update["callback_query"]["id"]
    [answer] = await eventually(lambda: driver.callback_answers(query_id))
    assert str(answer["text"]).startswith("✅ Approved by Sun Li")
    await driver.send_text(org.supervisor, "/help")  # handled after the polled copy
    await driver.wait_for_message(org.supervisor.id)
    assert await driver.callback_answers(query_id) == [answer]
    assert errors_in(caplog) == []
    # The copies did race: at least one got past the gate and lost the claim.
    assert any("dropped a redelivered update" in r.getMessage() for r in caplog.records)
    async with bot.bot_data.database.uow() as uow:
        [entry] = await uow.session.scalars(select(WorkEntry))
        decisions = await uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.startswith("entry.approved"))
        )
        assert (entry.status, list(decisions)) == (EntryStatus.APPROVED, ["entry.approved"])


async def test_a_redelivered_refusal_is_answered_once(
    bot: WorkledgerApplication, driver: EmulatorDriver, caplog: pytest.LogCaptureFixture
) -> None:
    await driver.send_text(STRANGER, "/help")
    [greeting] = await driver.wait_for_message(STRANGER.id)
    caplog.set_level(logging.INFO)
    press = await driver.press(STRANGER, greeting["message_id"], "ap:1:1:a", forge=True)
    query_id = press["callback_query"]["id"]
    [refused] = await eventually(lambda: driver.callback_answers(query_id))
    assert "not linked" in str(refused["text"])
    await driver.send_raw_update(press)
    command = await driver.send_text(STRANGER, "/team")
    [told] = await driver.wait_for_message(STRANGER.id)
    await driver.send_raw_update(command)
    await driver.send_text(STRANGER, "/help")  # handled after both redeliveries
    [helped] = await driver.wait_for_message(STRANGER.id)
    assert "/help" in helped["text"]
    texts = [message["text"] for message in await driver.messages(STRANGER.id)]
    assert texts == [greeting["text"], told["text"], helped["text"]]
    assert await driver.callback_answers(query_id) == [refused]
    assert errors_in(caplog) == []


async def test_a_second_answer_to_a_press_is_no_error(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A press that only shows something claims nothing before answering: copies of it
    handled at once each answer, and Telegram refuses all answers but the first."""
    await driver.send_text(org.staff, "Counter duty")
    await driver.wait_for_message(org.staff.id)
    await driver.send_text(org.staff, "/today")
    [today] = await driver.wait_for_message(org.staff.id)
    caplog.set_level(logging.INFO)
    update = await driver.press(org.staff, today["message_id"], buttons(today)["✎ 1"])
    copies = [Update.de_json(update, bot.bot) for _ in range(2)]
    await asyncio.gather(*(bot.process_update(copy) for copy in copies))
    await driver.send_text(org.staff, "/help")  # handled after the polled copy
    await eventually(lambda: _last_is_help(driver, org))
    query_id = update["callback_query"]["id"]
    assert len(await driver.callback_answers(query_id)) == 1
    assert errors_in(caplog) == []
    assert any("answered before" in r.getMessage() for r in caplog.records)


async def _last_is_help(driver: EmulatorDriver, org: Organisation) -> bool | None:
    messages = await driver.messages(org.staff.id)
    return True if "/help" in messages[-1].get("text", "") else None
