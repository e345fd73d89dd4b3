"""The driver API: acting as users and reading what they received."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from bot.emulator import (
    BotApiEmulator,
    DriverError,
    EmulatedUser,
    EmulatorDriver,
    start_emulator,
)
from tests.emulator.conftest import RawApi

BUTTONS = {
    "inline_keyboard": [
        [
            {"text": "Approve", "callback_data": "ap:7"},
            {"text": "Reject", "callback_data": "rj:7"},
        ]
    ]
}


async def test_press_checks_message_and_button_unless_forged(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    await driver.send_text(ann, "/start")
    sent = await api.ok("sendMessage", chat_id=ann.id, text="Entry 7", reply_markup=BUTTONS)
    mid = sent["message_id"]

    with pytest.raises(DriverError, match="no button with callback_data 'ap:8'"):
        await driver.press(ann, mid, "ap:8")
    with pytest.raises(DriverError, match="no bot message 99"):
        await driver.press(ann, 99, "ap:7")
    with pytest.raises(DriverError, match="no bot message 1"):
        await driver.press(ann, 1, "ap:7")  # the user's own message

    forged = await driver.press(ann, mid, "ap:8", forge=True)
    assert forged["callback_query"]["data"] == "ap:8"
    gone = await driver.press(ann, 99, "ap:7", forge=True)
    assert gone["callback_query"]["message"]["date"] == 0  # an inaccessible message

    real = await driver.press(ann, mid, "rj:7")
    assert real["callback_query"]["message"]["reply_markup"] == BUTTONS
    updates = await api.ok("getUpdates")
    assert [u["update_id"] for u in updates] == [1, 2, 3, 4]


async def test_wait_for_message_after_the_users_action(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    await driver.send_text(ann, "/start")
    # The bot answers before the test starts waiting: still found.
    await api.ok("sendMessage", chat_id=ann.id, text="Welcome")
    (welcome,) = await driver.wait_for_message(ann.id)
    assert welcome["text"] == "Welcome"

    async def bot_replies() -> None:
        await asyncio.sleep(0.1)
        await api.ok("sendMessage", chat_id=ann.id, text="one")
        await api.ok("sendMessage", chat_id=ann.id, text="two")

    task = asyncio.create_task(bot_replies())
    replies = await driver.wait_for_message(ann.id, count=2, timeout=2)
    await task
    assert [m["text"] for m in replies] == ["one", "two"]
    assert all(m["from_bot"] for m in replies)

    # Explicit since_message_id looks back.
    again = await driver.wait_for_message(ann.id, since_message_id=welcome["message_id"])
    assert [m["text"] for m in again] == ["one"]
    everything = await driver.messages(ann.id, include_user=True)
    assert [m["text"] for m in everything] == ["/start", "Welcome", "one", "two"]


async def test_wait_for_message_timeout_explains(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    await driver.send_text(ann, "/start")
    await api("sendMessage", chat_id=ann.id, text="<b>broken", parse_mode="HTML")
    with pytest.raises(TimeoutError) as caught:
        await driver.wait_for_message(ann.id, timeout=0.2)
    report = str(caught.value)
    assert "no 1 new bot message(s) in chat 1001" in report
    assert "#1 user 1001: '/start'" in report
    assert "sendMessage -> 400 Bad Request: can't parse entities" in report


async def test_wait_for_call_and_calls(api: RawApi, driver: EmulatorDriver) -> None:
    waiting = asyncio.create_task(driver.wait_for_call("setMyCommands", timeout=2))
    await asyncio.sleep(0.05)
    await api.ok("setMyCommands", commands=[{"command": "log", "description": "Log work"}])
    call = await waiting
    assert call["status"] == 200
    assert call["params"]["commands"] == [{"command": "log", "description": "Log work"}]
    assert isinstance(call["at"], float)
    with pytest.raises(TimeoutError, match="no getMe call"):
        await driver.wait_for_call("getMe", timeout=0.1)
    assert [c["method"] for c in await driver.calls()] == ["setMyCommands"]


async def test_command_menus_per_scope_and_language(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser, bo: EmulatedUser
) -> None:
    staff = [{"command": "log", "description": "Log work"}]
    staff_zh = [{"command": "log", "description": "记录工作"}]
    hr = [*staff, {"command": "broadcast", "description": "Broadcast"}]
    await api.ok("setMyCommands", commands=staff)
    await api.ok("setMyCommands", commands=staff_zh, language_code="zh")
    # A per-chat menu needs a chat that exists.
    assert await api.fails(
        "setMyCommands", 400, commands=hr, scope={"type": "chat", "chat_id": ann.id}
    ) == ("Bad Request: chat not found")
    await driver.add_user(ann)
    await driver.add_user(bo)
    await api.ok("setMyCommands", commands=hr, scope={"type": "chat", "chat_id": ann.id})

    assert await api.ok("getMyCommands") == staff
    assert await api.ok("getMyCommands", language_code="zh") == staff_zh
    assert await api.ok("getMyCommands", scope={"type": "all_private_chats"}) == []
    assert await driver.my_commands({"type": "chat", "chat_id": ann.id}) == hr
    assert await driver.effective_commands(ann.id) == hr
    assert await driver.effective_commands(bo.id) == staff_zh  # bo's app is zh-hans

    assert await api.fails("setMyCommands", 400, commands=[{"command": "Log", "description": "x"}])
    assert await api.fails("setMyCommands", 400, commands=[{"command": "a", "description": ""}])
    assert await api.fails("setMyCommands", 400, commands=staff, language_code="chinese")
    await api.ok("deleteMyCommands", language_code="zh")
    assert await driver.my_commands(language_code="zh") == []


async def test_group_chats(api: RawApi, driver: EmulatorDriver, ann: EmulatedUser) -> None:
    with pytest.raises(DriverError, match="create_group first"):
        await driver.send_text(ann, "hi", chat_id=-500)
    await driver.create_group(-500, "Team")
    update = await driver.send_text(ann, "/today@workledger_bot", chat_id=-500)
    assert update["message"]["chat"] == {"id": -500, "type": "group", "title": "Team"}
    assert update["message"]["entities"][0]["length"] == len("/today@workledger_bot")
    await api.ok("sendMessage", chat_id=-500, text="See private chat")
    assert [m["text"] for m in await driver.wait_for_message(-500)] == ["See private chat"]


async def test_writing_to_the_bot_unblocks_it(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    await driver.add_user(ann)
    await driver.block(ann.id)
    assert await api.fails("sendMessage", 403, chat_id=ann.id, text="x")
    await driver.send_text(ann, "/start")
    assert await api.ok("sendMessage", chat_id=ann.id, text="x")


async def test_reset(api: RawApi, driver: EmulatorDriver, ann: EmulatedUser) -> None:
    await driver.send_text(ann, "hi")
    await driver.inject_fault(500)
    await driver.reset()
    assert await driver.calls() == []
    assert await driver.chats() == []
    assert await api.ok("getUpdates") == []
    assert await api.fails("sendMessage", 400, chat_id=ann.id, text="x")


async def test_in_process_use_without_http(ann: EmulatedUser) -> None:
    emulator = BotApiEmulator()
    update = emulator.send_text(ann, "/start")
    assert update["message"]["text"] == "/start"
    assert await emulator.updates.get_updates(None, 100, 0) == [update]
    with pytest.raises(DriverError):
        emulator.file_bytes("nope")
    await emulator.aclose()


async def test_closing_ends_a_pending_long_poll_promptly() -> None:
    running = await start_emulator()
    async with aiohttp.ClientSession() as session:
        poll = asyncio.create_task(
            session.post(f"{running.base_url}1:x/getUpdates", json={"timeout": 30})
        )
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await running.close()
        assert time.monotonic() - started < 1.5
        async with await poll as response:
            assert (await response.json())["result"] == []


async def test_driver_reports_unknown_actions(driver: EmulatorDriver) -> None:
    with pytest.raises(DriverError, match="unknown driver action"):
        await driver._call("teleport")
