"""Watchers of the emulated chats (the sandbox page's live events): every change, in order."""

from __future__ import annotations

from typing import Any

from bot.emulator import EmulatedUser, EmulatorDriver
from bot.emulator.state import BotApiEmulator

from .conftest import RawApi


async def test_watchers_see_every_change_of_a_chat(
    emulator: BotApiEmulator, driver: EmulatorDriver, api: RawApi, ann: EmulatedUser
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    stop = emulator.watch(lambda kind, payload: seen.append((kind, payload)))

    def broken(kind: str, payload: dict[str, Any]) -> None:
        raise RuntimeError("a broken watcher")

    emulator.watch(broken)  # never breaks the Bot API, nor the other watchers
    await driver.send_text(ann, "hello")
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    sent = await api.ok(
        "sendMessage",
        chat_id=ann.id,
        text="<b>Hi</b>",
        parse_mode="HTML",
        reply_markup=keyboard,
    )
    await api.ok(
        "editMessageText",
        chat_id=ann.id,
        message_id=sent["message_id"],
        text="Bye",
        reply_markup=keyboard,
    )
    update = await driver.press(ann, sent["message_id"], "go")
    query_id = update["callback_query"]["id"]
    await api.ok("answerCallbackQuery", callback_query_id=query_id, text="Done")
    await api.ok("deleteMessage", chat_id=ann.id, message_id=sent["message_id"])
    stop()
    await driver.send_text(ann, "after")

    assert [kind for kind, _ in seen] == ["message", "message", "message", "answer", "message"]
    user_message, bot_message, edited, answer, deleted = (payload for _, payload in seen)
    assert (user_message["text"], user_message["from_bot"]) == ("hello", False)
    assert bot_message["text"] == "Hi"
    assert bot_message["entities"] == [{"offset": 0, "length": 2, "type": "bold"}]
    assert (edited["message_id"], edited["text"], edited["edit_count"]) == (
        sent["message_id"],
        "Bye",
        1,
    )
    assert edited["reply_markup"] == keyboard
    assert (answer["chat_id"], answer["text"]) == (ann.id, "Done")
    assert (deleted["message_id"], deleted["deleted"]) == (sent["message_id"], True)
    assert all(payload.get("chat_id") == ann.id for _, payload in seen)
