"""The demo organisation inside the running bot, as the sandbox starts it: the emulated
users registered with the Bot API emulator, the demo built once the store is open (after
``post_init``) and before the bot's jobs start; then what the outbox holds is delivered
to their chats, and a demo person can use the bot."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from sqlalchemy import func, select

from bot.app import running
from bot.emulator import EmulatedUser, EmulatorDriver
from bot.sandbox.demo import DemoSummary, build_demo, demo_people
from config.clock import Clock
from handlers.context import BotData, WorkledgerApplication
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


async def test_the_demo_is_delivered_and_usable(
    application: WorkledgerApplication,
    driver: EmulatorDriver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    people = demo_people()
    users = {
        person.employee_no: EmulatedUser(
            person.telegram_user_id,
            person.first_name,
            language_code=person.language_code,
            last_name=person.last_name,
        )
        for person in people
    }
    for user in users.values():
        await driver.add_user(user)
    data = application.bot_data
    # A Monday morning: the last workday's entries wait for their supervisors.
    data.clock = Clock(datetime.fromisoformat("2026-11-16T10:00:00+08:00"))
    built: list[DemoSummary] = []
    opened = application.post_init
    assert opened is not None

    async def post_init(started: WorkledgerApplication) -> None:
        await opened(started)
        built.append(await build_demo(started.bot_data))

    application.post_init = post_init
    async with running(application):
        await _delivered_and_usable(data, driver, users, built)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _delivered_and_usable(
    data: BotData,
    driver: EmulatorDriver,
    users: dict[str, EmulatedUser],
    built: list[DemoSummary],
) -> None:
    people = demo_people()
    assert [summary.people for summary in built] == [len(people)]

    async def delivered() -> bool:
        async with data.database.uow() as uow:
            waiting = await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)))
            )
        return waiting == 0

    await eventually(delivered, within=120.0)
    async with data.database.uow() as uow:
        statuses = dict(
            (
                await uow.session.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                )
            ).all()
        )
    assert set(statuses) == {DeliveryStatus.SENT}, statuses

    # Each person's chat opens on a few messages (their score notice among them), not on
    # the history; each has their menu; supervisors have what waits for them.
    by_no = {person.employee_no: person for person in people}
    for person in people:
        chat = await driver.messages(person.telegram_user_id)
        assert len(chat) <= 8, (person.employee_no, [m.get("text") for m in chat])
        if person.employee_no != "A01":  # left out of the period by HR: no score
            assert chat, person.employee_no
        assert await driver.effective_commands(person.telegram_user_id)
    supervisor = await driver.messages(by_no["B02"].telegram_user_id)
    assert any(message.get("reply_markup") for message in supervisor)

    # A demo officer logs as anyone would, and is answered.
    officer = users["B03"]
    last = (await driver.messages(officer.id))[-1]["message_id"]
    await driver.send_text(officer, "今天在夜市开展联合整治")
    replies = await driver.wait_for_message(officer.id, since_message_id=last, timeout=10.0)
    assert replies
