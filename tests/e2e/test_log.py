"""Logging work from the phone, end to end: quick log, /log, edits, /today, /month."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from babel.dates import format_skeleton
from sqlalchemy import func, select, update

from assessment.calendar import WorkCalendar, set_leave
from bot.app import build_application, running
from bot.emulator import EmulatedUser, EmulatorDriver
from config.policy import load_policy
from config.settings import Settings
from handlers.callbacks import EntryAction, LogAnswer
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import EntryStatus
from storage.models import Conversation, EntryAttachment, EntryRevision, Staff, WorkEntry

from .chat import Message, answer_to_press, buttons, current, press
from .people import Organisation, seed

pytestmark = pytest.mark.e2e


def png(width: int = 8, height: int = 6) -> bytes:
    """A valid (blank, greyscale) PNG, as a phone camera would send something."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def org(bot: WorkledgerApplication) -> Organisation:
    return await seed(bot.bot_data.database)


def today_of(application: WorkledgerApplication) -> date:
    """The organisation's today, as the bot sees it."""
    return datetime.now(application.bot_data.settings.zone).date()


def label(day: date) -> str:
    """A day as the bot writes it in English."""
    return str(format_skeleton("MMMEd", day, locale="en"))


async def say(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id)
    return reply


async def choose(
    driver: EmulatorDriver, user: EmulatedUser, message: Message, data: str
) -> Message:
    """Press the button carrying ``data``; return the message once it changed."""
    label_ = next(text for text, d in buttons(message).items() if d == data)
    return await press(driver, user, message, label_)


async def stored(database: Database, employee_no: str = "E011") -> list[WorkEntry]:
    async with database.uow() as uow:
        return list(
            await uow.session.scalars(
                select(WorkEntry)
                .join(Staff, Staff.id == WorkEntry.staff_id)
                .where(Staff.employee_no == employee_no)
                .order_by(WorkEntry.id)
            )
        )


async def count(database: Database, model: type[object]) -> int:
    async with database.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_plain_message_is_todays_entry(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    reply = await say(driver, org.staff, "Processed 12 permits at the counter")
    today = today_of(bot)
    assert reply["text"].startswith(f"Logged for {label(today)}.")
    assert "submitted" in reply["text"]
    assert {"+ Indicator", "+ Quantity", "+ Hours", "+ Evidence", "Change date", "Edit text",
            "Delete"} <= set(buttons(reply))  # fmt: skip
    [entry] = await stored(bot.bot_data.database)
    assert (entry.work_date, entry.text, entry.status) == (
        today,
        "Processed 12 permits at the counter",
        EntryStatus.SUBMITTED,
    )


async def test_a_redelivered_plain_message_is_logged_once(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    update = await driver.send_text(org.staff, "Counter duty, morning")
    await driver.wait_for_message(org.staff.id)
    await driver.send_raw_update(update)  # Telegram delivers it again (a webhook retry)
    # Updates are handled in order: once /today is answered, the duplicate was seen.
    await driver.send_text(org.staff, "/today")
    await driver.wait_for_message(org.staff.id)
    texts = [message["text"] for message in await driver.messages(org.staff.id)]
    assert len(texts) == 2, texts
    assert texts[0].startswith("Logged for")
    assert [entry.text for entry in await stored(bot.bot_data.database)] == [
        "Counter duty, morning"
    ]


async def test_a_plain_message_is_answered_in_the_members_language(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(Staff).where(Staff.employee_no == "E011").values(language="zh_Hant")
        )
        await uow.commit()
    reply = await say(driver, org.staff, "窗口受理")
    assert reply["text"].startswith("已記錄"), reply["text"]
    assert "+ 指標" in buttons(reply)


async def test_empty_and_overlong_messages_are_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    reply = await say(driver, org.staff, "  \n\t  ")
    assert "empty" in reply["text"]
    reply = await say(driver, org.staff, "x" * 2001)
    assert "at most 2000 characters" in reply["text"]
    assert "Nothing was saved" in reply["text"]
    assert await stored(bot.bot_data.database) == []
    assert await count(bot.bot_data.database, Conversation) == 0


async def test_a_guided_backdated_entry_with_indicator_quantity_and_photo(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    user = org.staff
    question = await say(driver, user, "/log")
    assert question["text"].startswith("Which day is the entry for?")
    offered = sorted(d for d in buttons(question).values() if d.startswith("la:date:"))
    assert LogAnswer("date", today_of(bot).isoformat()).pack() in offered
    earliest = offered[0]
    day = date.fromisoformat(earliest.rsplit(":", 1)[1])
    assert day < today_of(bot), "the window reaches back at least three workdays"

    question = await choose(driver, user, question, earliest)
    assert question["text"].startswith("Which indicator")
    question = await press(driver, user, question, "Permits processed")
    assert question["text"] == "How many permits? Type a number."
    question = await say(driver, user, "１２")
    assert question["text"].startswith("How many hours did it take?")
    question = await say(driver, user, "1.5h")
    assert question["text"].startswith("Describe the work")
    question = await say(driver, user, "Counter duty, 12 building permits")
    assert question["text"].startswith("Send photos or documents")
    photo = await driver.send_photo(user, png())
    [added] = await driver.wait_for_message(user.id)
    assert added["text"] == "Added 1 of at most 5. Send more, or press Done."
    summary = await press(driver, user, added, "Done")
    assert summary["text"].startswith("Please check the entry")
    assert "Quantity: 12 permits" in summary["text"]
    assert await stored(bot.bot_data.database) == [], "nothing is written before Save"
    saved = await press(driver, user, summary, "Save")
    assert saved["text"].startswith(f"Saved: your entry for {label(day)}.")

    [entry] = await stored(bot.bot_data.database)
    assert (entry.work_date, entry.indicator_id, entry.quantity, entry.hours) == (
        day,
        "permits_processed",
        Decimal(12),
        Decimal("1.5"),
    )
    async with bot.bot_data.database.uow() as uow:
        [attachment] = await uow.entries.attachments(entry.id)
    assert attachment.kind == "photo"
    assert attachment.file_id == photo["message"]["photo"][-1]["file_id"]
    assert await count(bot.bot_data.database, Conversation) == 0


async def test_a_future_date_is_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    user = org.staff
    question = await say(driver, user, "/log")
    tomorrow = today_of(bot) + timedelta(days=1)
    assert LogAnswer("date", tomorrow.isoformat()).pack() not in buttons(question).values()
    reply = await say(driver, user, tomorrow.isoformat())
    assert reply["text"] == "Work cannot be logged for a day that has not come yet."
    forged = LogAnswer("date", tomorrow.isoformat()).pack()
    assert "has not come yet" in await answer_to_press(driver, user, question, forged)
    still = await current(driver, user.id, question["message_id"])
    assert still["text"] == question["text"], "the question still stands"
    assert await stored(bot.bot_data.database) == []


async def test_cancel_leaves_without_writing(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    user = org.staff
    question = await say(driver, user, "/log")
    question = await choose(
        driver, user, question, LogAnswer("date", today_of(bot).isoformat()).pack()
    )
    assert question["text"].startswith("Which indicator")
    reply = await say(driver, user, "/cancel")
    assert reply["text"] == "Cancelled; nothing was saved."
    assert await stored(bot.bot_data.database) == []
    assert await count(bot.bot_data.database, Conversation) == 0
    stale = await answer_to_press(driver, user, question, LogAnswer("indicator", "x").pack())
    assert "Nothing is in progress" in stale
    assert (await say(driver, user, "/cancel"))["text"] == "Nothing to cancel."
    # No conversation any more: a plain message is a quick log again.
    assert (await say(driver, user, "Filing"))["text"].startswith("Logged for")


async def test_the_conversation_survives_a_restart(
    settings: Settings, driver: EmulatorDriver
) -> None:
    database = Database(settings.database_url)
    try:
        org = await seed(database)
    finally:
        await database.dispose()
    user = org.staff
    async with running(build_application(settings, load_policy())) as first:
        today = today_of(first)
        question = await say(driver, user, "/log")
        await choose(driver, user, question, LogAnswer("date", today.isoformat()).pack())
        question = await current(driver, user.id, question["message_id"])
    async with running(build_application(settings, load_policy())) as second:
        question = await press(driver, user, question, "Skip")
        assert question["text"].startswith("How many hours")
        await say(driver, user, "2")
        await say(driver, user, "Archive work")
        evidence = (await driver.messages(user.id))[-1]
        summary = await press(driver, user, evidence, "Skip")
        saved = await press(driver, user, summary, "Save")
        assert saved["text"].startswith("Saved")
        [entry] = await stored(second.bot_data.database)
        assert (entry.work_date, entry.hours, entry.text) == (today, Decimal(2), "Archive work")


async def test_an_edit_keeps_the_old_text(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    user = org.staff
    entry_card = await say(driver, user, "Counter")
    await driver.press(user, entry_card["message_id"], buttons(entry_card)["Edit text"])
    [question] = await driver.wait_for_message(user.id)
    assert question["text"].startswith("Describe the work")
    changed = await say(driver, user, "Counter duty, 30 visitors")
    assert changed["text"].startswith("Changed.")
    assert "Counter duty, 30 visitors" in changed["text"]
    [entry] = await stored(bot.bot_data.database)
    assert (entry.text, entry.version) == ("Counter duty, 30 visitors", 2)
    async with bot.bot_data.database.uow() as uow:
        [revision] = await uow.entries.revisions(entry.id)
    assert revision.text == "Counter"


async def test_delete_then_stale_and_forged_presses_are_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    user = org.staff
    first = await say(driver, user, "Meeting")
    second = await say(driver, user, "Visit")
    entries = await stored(bot.bot_data.database)
    # Someone else's entry: the supervisor forges a press on it.
    own = await say(driver, org.supervisor, "Review")
    forged = EntryAction(entries[0].id, "text").pack()
    assert "Only the author" in await answer_to_press(driver, org.supervisor, own, forged)

    confirm = await press(driver, user, first, "Delete")
    assert set(buttons(confirm)) == {"Yes, delete it", "Keep it"}
    deleted = await press(driver, user, confirm, "Yes, delete it")
    assert deleted["text"].startswith("Deleted.")
    assert buttons(deleted) == {}
    stale = EntryAction(entries[0].id, "hours").pack()
    assert await answer_to_press(driver, user, first, stale) == "This entry was deleted."
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(WorkEntry)
            .where(WorkEntry.id == entries[1].id)
            .values(status=EntryStatus.APPROVED, version=WorkEntry.version + 1)
        )
        await uow.commit()
    decided = buttons(second)["+ Hours"]
    assert "already decided" in await answer_to_press(driver, user, second, decided)
    statuses = [(e.status, e.text) for e in await stored(bot.bot_data.database)]
    assert statuses == [(EntryStatus.DELETED, "Meeting"), (EntryStatus.APPROVED, "Visit")]
    assert await count(bot.bot_data.database, EntryRevision) == 1
    assert await count(bot.bot_data.database, EntryAttachment) == 0


async def test_the_month_shows_a_missing_workday_and_leave(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    database = bot.bot_data.database
    # Last month is over whatever today is: every workday of it is the test's to fill.
    last_month_end = today_of(bot).replace(day=1) - timedelta(days=1)
    workdays = WorkCalendar(load_policy()).workdays(last_month_end.replace(day=1), last_month_end)
    missing, on_leave = workdays[1], workdays[2]
    async with database.uow() as uow:
        staff = await uow.staff.by_employee_no("E011")
        assert staff is not None
        for day in workdays:
            if day not in (missing, on_leave):
                uow.session.add(WorkEntry(staff_id=staff.id, work_date=day, text=f"Work {day}"))
        await uow.commit()
    async with database.uow() as uow:
        await set_leave(uow, staff.id, on_leave, by=None, now=datetime.now(UTC))

    this_month = await say(driver, org.staff, "/month")
    previous = next(text for text in buttons(this_month) if text.startswith("‹ "))
    record = await press(driver, org.staff, this_month, previous)
    text = record["text"]
    assert f"{len(workdays) - 2} entries" in text
    assert "1 workday without an entry" in text
    assert "1 day of leave" in text
    assert f"⚠️ {label(missing)}: no entry" in text
    assert text.count("no entry") == 1
    assert f"🌴 {label(on_leave)}: on leave" in text
    assert "✎ 1" in buttons(record)


async def test_a_long_day_is_paged(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    database = bot.bot_data.database
    async with database.uow() as uow:
        staff = await uow.staff.by_employee_no("E011")
        assert staff is not None
        for number in range(25):
            uow.session.add(
                WorkEntry(staff_id=staff.id, work_date=today_of(bot), text=f"Task {number}")
            )
        await uow.commit()
    first = await say(driver, org.staff, "/today")
    assert "Page 1 of 2" in first["text"]
    assert len(first["text"]) < 4096
    second = await press(driver, org.staff, first, "▶")
    assert "Page 2 of 2" in second["text"]
    assert "Task 24" in second["text"]
    await driver.press(org.staff, second["message_id"], buttons(second)["✎ 1"])
    [opened] = await driver.wait_for_message(org.staff.id)
    assert "Task 20" in opened["text"]
    assert "Edit text" in buttons(opened)


async def test_the_apology_says_whether_anything_was_saved(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import handlers.log

    async def reply_fails(*_args: object) -> None:
        raise RuntimeError("the reply could not be built")

    # After the commit: the entry is kept, and the person is told so.
    monkeypatch.setattr(handlers.log, "_confirm", reply_fails)
    after = await say(driver, org.staff, "Counter duty")
    assert after["text"].startswith("Sorry, something went wrong on our side after your change")
    assert [e.text for e in await stored(bot.bot_data.database)] == ["Counter duty"]

    # Before it: nothing was written, and the person hears exactly that.
    async def store_fails(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the store is down")

    monkeypatch.setattr(handlers.log.entries, "quick_log", store_fails)
    before = await say(driver, org.staff, "Filing")
    assert before["text"] == (
        "Sorry, something went wrong on our side and nothing was saved. Please try again."
    )
    assert [e.text for e in await stored(bot.bot_data.database)] == ["Counter duty"]
