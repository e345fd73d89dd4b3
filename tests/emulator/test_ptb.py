"""The real python-telegram-bot, over HTTP, against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.emulator import EmulatedUser, EmulatorDriver, RunningEmulator
from tests.emulator.conftest import TOKEN

APPROVE = InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="ap:1")]])


@pytest.fixture
async def bot(running: RunningEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=running.base_url, base_file_url=running.base_file_url) as bot:
        yield bot


async def test_bot_round_trip(bot: Bot, driver: EmulatorDriver, ann: EmulatedUser) -> None:
    assert bot.username == "workledger_bot"
    await driver.send_text(ann, "/start")
    (update,) = await bot.get_updates(timeout=1)
    assert update.message is not None
    assert update.message.text == "/start"
    assert update.message.chat.id == ann.id

    sent = await bot.send_message(
        ann.id, "<b>Entry</b> #1", parse_mode="HTML", reply_markup=APPROVE
    )
    assert sent.text == "Entry #1"
    assert sent.reply_markup == APPROVE

    pressed = await driver.press(ann, sent.message_id, "ap:1")
    (update,) = await bot.get_updates(offset=update.update_id + 1, timeout=1)
    query = update.callback_query
    assert query is not None
    assert query.id == pressed["callback_query"]["id"]
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert await query.answer("Approved") is True
    edited = await query.edit_message_text("Entry #1 — approved")
    assert not isinstance(edited, bool)
    assert edited.edit_date is not None
    (answer,) = await driver.callback_answers(query.id)
    assert answer["text"] == "Approved"

    document = await bot.send_document(ann.id, b"month,score\n11,92\n", filename="score.csv")
    assert document.document is not None
    file = await bot.get_file(document.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"month,score\n11,92\n"

    await bot.set_my_commands([("log", "Log work")], language_code="en")
    assert [c.command for c in await bot.get_my_commands(language_code="en")] == ["log"]


async def test_bot_sees_injected_faults(
    bot: Bot, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    await driver.add_user(ann)
    await driver.inject_fault(429, retry_after=3)
    with pytest.raises(RetryAfter) as retry:
        await bot.send_message(ann.id, "hi")
    assert retry.value.retry_after == timedelta(seconds=3)

    await driver.inject_fault(500, method="sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(ann.id, "hi")

    await driver.block(ann.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ann.id, "hi")
    await driver.unblock(ann.id)

    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ann.id, "x" * 5000)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            ann.id,
            "x",
            reply_markup=InlineKeyboardMarkup.from_button(
                InlineKeyboardButton("x", callback_data="d" * 65)
            ),
        )
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "hi")
    # Unknown method: 400, not the InvalidToken PTB raises for 404.
    with pytest.raises(BadRequest, match="Method not found"):
        await bot.do_api_request("sendCarrierPigeon")
    assert [m["text"] for m in await driver.messages(ann.id)] == []


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        f"Welcome, args={context.args}", reply_markup=APPROVE
    )


async def _approve(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Done")
    await query.edit_message_text(f"Approved ({query.data})")


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    assert update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text.upper())


@pytest.fixture
async def application(running: RunningEmulator) -> AsyncIterator[Application]:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(running.base_url)
        .base_file_url(running.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_approve, pattern=r"^ap:"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


@pytest.mark.usefixtures("application")
async def test_application_polling(driver: EmulatorDriver, ann: EmulatedUser) -> None:
    await driver.send_text(ann, "/start INV-42")
    (welcome,) = await driver.wait_for_message(ann.id)
    assert welcome["text"] == "Welcome, args=['INV-42']"

    update = await driver.press(ann, welcome["message_id"], "ap:1")
    call = await driver.wait_for_call("editMessageText")
    assert call["status"] == 200
    (message,) = await driver.messages(ann.id)
    assert message["text"] == "Approved (ap:1)"
    assert message["reply_markup"] is None
    (answer,) = await driver.callback_answers(update["callback_query"]["id"])
    assert answer["text"] == "Done"

    sent = await driver.send_text(ann, "wrote the monthly report")
    (echo,) = await driver.wait_for_message(ann.id)
    assert echo["text"] == "WROTE THE MONTHLY REPORT"
    assert echo["message_id"] == sent["message"]["message_id"] + 1
