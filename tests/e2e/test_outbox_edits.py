"""Edits through the outbox against the emulator: after the message they edit, once, or failed.

An edit row (``edits_id``) is how a decided entry's approval requests lose their
buttons; these tests hold the sender to its part: it waits for the message it edits,
and settles an edit that cannot be made as failed, without retrying (one that would
change nothing, as sent: the message already reads so).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from assessment.outbox import Outgoing, enqueue
from bot.delivery import LEASE, DeliveryLimits, Sender, delivery_bot
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from config.clock import Clock
from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage

from .conftest import TOKEN, eventually

pytestmark = pytest.mark.e2e

FAST = DeliveryLimits(messages_per_second=200, private_chat_interval=0.05, group_interval=3.0)
BUTTONS = {"inline_keyboard": [[{"text": "Approve", "callback_data": "ap:1:1:a"}]]}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _user(driver: EmulatorDriver, user_id: int) -> int:
    await driver.add_user(EmulatedUser(id=user_id, first_name=f"U{user_id}"))
    return user_id


async def _queue(db: Database, *messages: Outgoing) -> list[int]:
    async with db.uow() as uow:
        await enqueue(uow, messages, now=datetime.now(UTC))
        await uow.commit()
        keys = [m.dedup_key for m in messages]
        found = await uow.session.execute(
            select(OutboxMessage.dedup_key, OutboxMessage.id).where(
                OutboxMessage.dedup_key.in_(keys)
            )
        )
        ids = {key: row_id for key, row_id in found}
    return [ids[key] for key in keys]


async def _edit(db: Database, of: int, text: str, key: str) -> int:
    """Queue an edit of the message row ``of`` sent (or will send): ``text``, no buttons."""
    async with db.uow() as uow:
        [chat] = await uow.session.scalars(
            select(OutboxMessage.chat_id).where(OutboxMessage.id == of)
        )
        now = datetime.now(UTC)
        await uow.outbox.add_many(
            [
                {
                    "chat_id": chat, "kind": "approval_closed", "text": text,
                    "dedup_key": key, "priority": 50, "next_attempt_at": now,
                    "created_at": now, "edits_id": of,
                }
            ]
        )  # fmt: skip
        await uow.commit()
        [edit] = await uow.session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)
        )
    return int(edit)


async def _row(db: Database, row_id: int) -> OutboxMessage:
    async with db.uow() as uow:
        row = await uow.session.get(OutboxMessage, row_id)
    assert row is not None
    return row


async def _settled(db: Database, *row_ids: int) -> bool:
    async with db.uow() as uow:
        states = list(
            await uow.session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.id.in_(row_ids))
            )
        )
    return all(s in (DeliveryStatus.SENT, DeliveryStatus.FAILED) for s in states)


async def _drain(db: Database, emulator: RunningEmulator, *row_ids: int) -> None:
    """Run one sender until these rows are settled for good."""
    stop = asyncio.Event()
    bot = delivery_bot(TOKEN, emulator.base_url, emulator.base_file_url, 8)
    await bot.initialize()
    task = asyncio.create_task(Sender(db, bot, FAST, clock=Clock()).run(stop))
    try:
        await eventually(lambda: _settled(db, *row_ids), within=20)
    finally:
        stop.set()
        await task
        await bot.shutdown()


async def test_an_edit_queued_before_its_message_is_sent_waits_for_it(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    user = await _user(driver, 7001)
    # The request is still unsent when the edit that closes it is queued.
    [request] = await _queue(
        db, Outgoing(chat_id=user, kind="approval_request", text="Entry", markup=BUTTONS,
                     dedup_key="request/1")
    )  # fmt: skip
    edit = await _edit(db, request, "Entry\n\nApproved", "closed/1")
    async with db.uow() as uow:
        claimed = [row.id for row in await uow.outbox.claim("early", 9, datetime.now(UTC), LEASE)]
        await uow.rollback()
    assert claimed == [request], "the edit waits for the request"
    await _drain(db, emulator, request, edit)
    [message] = await driver.messages(user)
    assert message["text"] == "Entry\n\nApproved"
    assert "reply_markup" not in message or not message["reply_markup"]
    assert message["edit_count"] == 1
    sent, edited = await _row(db, request), await _row(db, edit)
    assert (sent.status, edited.status) == (DeliveryStatus.SENT, DeliveryStatus.SENT)
    assert edited.telegram_message_id == sent.telegram_message_id == message["message_id"]


async def test_an_edit_that_cannot_be_made_fails_without_retries_and_an_unchanged_one_is_sent(
    db: Database, emulator: RunningEmulator, driver: EmulatorDriver
) -> None:
    user, broken = await _user(driver, 7002), await _user(driver, 7003)
    await driver.inject_fault(400, method="sendMessage", chat_id=broken, times=5)
    deleted, unchanged, never = await _queue(
        db,
        Outgoing(chat_id=user, kind="approval_request", text="One", markup=BUTTONS,
                 dedup_key="request/deleted"),
        Outgoing(chat_id=user, kind="approval_request", text="Two", dedup_key="request/same"),
        Outgoing(chat_id=broken, kind="approval_request", text="Three", markup=BUTTONS,
                 dedup_key="request/never"),
    )  # fmt: skip
    await _drain(db, emulator, deleted, unchanged, never)
    assert (await _row(db, never)).status is DeliveryStatus.FAILED
    bot = delivery_bot(TOKEN, emulator.base_url, emulator.base_file_url, 2)
    async with bot:
        message_id = (await _row(db, deleted)).telegram_message_id
        assert message_id is not None
        await bot.delete_message(user, message_id)
    edits = [
        await _edit(db, deleted, "One\n\nApproved", "closed/deleted"),
        await _edit(db, unchanged, "Two", "closed/same"),
        await _edit(db, never, "Three\n\nApproved", "closed/never"),
    ]
    await _drain(db, emulator, *edits)
    rows = [await _row(db, edit) for edit in edits]
    assert [(row.status, row.attempts) for row in rows] == [
        (DeliveryStatus.FAILED, 1),
        # The message already reads so: delivered, with the message it names.
        (DeliveryStatus.SENT, 1),
        (DeliveryStatus.FAILED, 1),
    ]
    assert [row.error for row in rows] == [
        "Message to edit not found",
        None,
        "Message to edit not found: it was never sent",
    ]
    assert rows[1].telegram_message_id == (await _row(db, unchanged)).telegram_message_id
    calls = await driver.calls("editMessageText")
    assert len(calls) == 2, "one try each, and none for the message that was never sent"
