"""The inbox in the bot: replay at start, poison given up, failures finished, polling trouble."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

import handlers.log
from bot.app import build_application, running
from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from bot.inbox import MAX_ATTEMPTS
from config.policy import load_policy
from config.settings import Settings
from storage.engine import Database
from storage.models import InboxUpdate, Staff, WorkEntry
from storage.repositories.inbox import Received

from .conftest import TOKEN, eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def org(db: Database, driver: EmulatorDriver) -> Organisation:
    people = await seed(db)
    for user in (people.staff, people.supervisor):
        await driver.add_user(user)
    return people


def _text_update(update_id: int, user: EmulatedUser, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {"id": user.id, "is_bot": False, "first_name": user.first_name,
                     "language_code": user.language_code},
            "text": text,
        },
    }  # fmt: skip


async def _store(db: Database, update: dict[str, Any], *, attempts: int = 1) -> None:
    chat = update["message"]["chat"]["id"]
    async with db.uow() as uow:
        await uow.inbox.accept([Received(update["update_id"], chat, update)], at=datetime.now(UTC))
        for _ in range(attempts - 1):
            await uow.inbox.attempt([update["update_id"]])
        await uow.commit()


async def _entries(db: Database, user: EmulatedUser) -> list[str]:
    async with db.uow() as uow:
        return list(
            await uow.session.scalars(
                select(WorkEntry.text)
                .join(Staff, Staff.id == WorkEntry.staff_id)
                .where(Staff.telegram_user_id == user.id)
                .order_by(WorkEntry.id)
            )
        )


async def _finished(db: Database, update_id: int) -> bool:
    async with db.uow() as uow:
        row = await uow.session.get(InboxUpdate, update_id)
        return row is not None and row.finished_at is not None


async def test_a_stored_update_is_handled_at_start_and_one_that_kept_failing_is_given_up(
    settings: Settings,
    db: Database,
    driver: EmulatorDriver,
    org: Organisation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Stored before a crash, never handled; and one that was handed over MAX_ATTEMPTS times
    # (each time the process died with it): it must not take the bot down at every start.
    await _store(db, _text_update(5001, org.staff, "Stored before the crash"))
    await _store(db, _text_update(5002, org.staff, "Poison"), attempts=MAX_ATTEMPTS)
    await _store(db, _text_update(5003, org.staff, "After the poison"))
    caplog.set_level(logging.INFO, logger="bot.inbox")
    async with running(build_application(settings, load_policy())):
        first, second = await driver.wait_for_message(org.staff.id, count=2, timeout=15)
        assert "Stored before the crash" in first["text"]
        assert "After the poison" in second["text"]
        await eventually(lambda: _finished(db, 5003))
        assert await _finished(db, 5002)
    assert await _entries(db, org.staff) == ["Stored before the crash", "After the poison"]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "update 5002" in warning.getMessage() and "giving it up" in warning.getMessage()


async def test_an_update_that_failed_is_finished_and_not_handled_again_at_the_next_start(
    settings: Settings,
    db: Database,
    driver: EmulatorDriver,
    org: Organisation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def store_fails(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the store is down")

    with monkeypatch.context() as patch:
        patch.setattr(handlers.log.entries, "quick_log", store_fails)
        async with running(build_application(settings, load_policy())):
            update = await driver.send_text(org.staff, "Filing")
            [apology] = await driver.wait_for_message(org.staff.id)
            assert apology["text"].startswith("Sorry, something went wrong")
        # Stopped cleanly: what the handlers finished is written down before the store closes.
        assert await _finished(db, update["update_id"])

    async with running(build_application(settings, load_policy())):
        # Anything replayed comes before this in the chat's order.
        await driver.send_text(org.staff, "Counter duty")
        await driver.wait_for_message(org.staff.id, since_message_id=apology["message_id"])
    texts = [message["text"] for message in await driver.messages(org.staff.id)]
    assert len(texts) == 2, texts
    assert await _entries(db, org.staff) == ["Counter duty"]


async def test_a_redelivered_update_is_stored_once_and_handed_over_once(
    bot: Any, db: Database, driver: EmulatorDriver, org: Organisation
) -> None:
    update = await driver.send_text(org.staff, "Counter duty, morning")
    await driver.wait_for_message(org.staff.id)
    await driver.send_raw_update(update)  # Telegram sends it again
    await driver.send_text(org.staff, "/today")
    await driver.wait_for_message(org.staff.id)
    async with db.uow() as uow:
        stored = list(await uow.session.scalars(select(InboxUpdate.update_id)))
    assert update["update_id"] in stored
    assert len(stored) == 2, "the text and /today, the text once"
    assert len(await driver.messages(org.staff.id)) == 2


async def test_get_updates_failing_is_logged_once_and_polling_resumes(
    settings: Settings, driver: EmulatorDriver, org: Organisation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.polling")
    async with running(build_application(settings, load_policy())):
        await driver.inject_fault(502, method="getUpdates", times=3)
        await driver.send_text(org.staff, "Counter duty")
        [reply] = await driver.wait_for_message(org.staff.id, timeout=20)
        assert reply["text"].startswith("Logged for")
    mine = [r for r in caplog.records if r.name == "bot.polling"]
    warnings = [r for r in mine if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "cannot get updates" in warnings[0].getMessage()
    assert not warnings[0].exc_info, "no traceback"
    assert any(r.getMessage() == "receiving updates again" for r in mine)


async def test_another_poller_with_the_same_token_is_one_warning_not_a_storm(
    settings: Settings,
    emulator: RunningEmulator,
    driver: EmulatorDriver,
    org: Organisation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.polling")
    url = f"{emulator.base_url}{TOKEN}/getUpdates"

    def conflicts() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "another process" in r.getMessage()]

    async with (
        running(build_application(settings, load_policy())),
        aiohttp.ClientSession() as http,
    ):

        async def superseded() -> bool:
            # A second getUpdates takes over, as Telegram answers the first with 409 Conflict.
            async with http.post(url, json={"timeout": 0}) as response:
                await response.read()
            return bool(conflicts())

        await eventually(superseded, within=15)
        await driver.send_text(org.staff, "Counter duty")
        [reply] = await driver.wait_for_message(org.staff.id, timeout=20)
        assert reply["text"].startswith("Logged for")
    assert not any(r.exc_info for r in conflicts()), "no traceback"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Another process holding the write lock is SQLite's: this one runs on SQLite only.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_message_the_busy_store_cannot_take_waits_at_telegram_and_is_logged_once(
    settings: Settings,
    database_url: str,
    db: Database,
    driver: EmulatorDriver,
    org: Organisation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.polling")
    # Another process (the command line, say) holds SQLite's write lock.
    other = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with running(build_application(settings, load_policy())):
            await driver.send_text(org.staff, "Counter duty, morning")

            async def told() -> list[logging.LogRecord]:
                return [r for r in caplog.records if "cannot store updates" in r.getMessage()]

            [warning] = await eventually(told, within=20)
            assert "Counter duty" not in warning.getMessage(), "no message text in the log"
            assert not warning.exc_info
            other.execute("COMMIT")
            [reply] = await driver.wait_for_message(org.staff.id, timeout=30)
            assert reply["text"].startswith("Logged for")
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    assert await _entries(db, org.staff) == ["Counter duty, morning"]
    assert len(await driver.messages(org.staff.id)) == 1
