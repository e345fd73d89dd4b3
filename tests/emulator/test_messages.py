"""Sending, editing and deleting messages, with Telegram's limits and error texts."""

from __future__ import annotations

import json

import pytest

from bot.emulator import EmulatedUser, EmulatorDriver
from tests.emulator.conftest import TOKEN, RawApi

BUTTON = {"inline_keyboard": [[{"text": "Approve", "callback_data": "ap:1"}]]}


@pytest.fixture
async def chat(driver: EmulatorDriver, ann: EmulatedUser) -> int:
    await driver.add_user(ann)
    return ann.id


async def test_unknown_method_is_400_not_404(api: RawApi) -> None:
    assert await api.fails("sendCarrierPigeon", 400) == "Bad Request: method not found"


async def test_method_names_are_case_insensitive(api: RawApi, driver: EmulatorDriver) -> None:
    me = await api.ok("GETME")
    assert me["is_bot"] is True
    assert me["username"] == "workledger_bot"
    assert me["id"] == int(TOKEN.split(":")[0])
    assert [c["method"] for c in await driver.calls()] == ["getMe"]


async def test_form_encoded_body_with_json_fields(api: RawApi, chat: int) -> None:
    data = {"chat_id": str(chat), "text": "Hi", "reply_markup": json.dumps(BUTTON)}
    url = f"{api.running.base_url}{TOKEN}/sendMessage"
    async with api.session.post(url, data=data) as response:
        body = await response.json()
    assert body["result"]["reply_markup"] == BUTTON
    assert body["result"]["chat"] == {
        "id": chat,
        "type": "private",
        "first_name": "Ann",
        "username": "ann",
    }


async def test_get_with_query_string(api: RawApi, chat: int) -> None:
    url = f"{api.running.base_url}{TOKEN}/sendMessage"
    async with api.session.get(url, params={"chat_id": chat, "text": "via GET"}) as response:
        assert (await response.json())["result"]["text"] == "via GET"


async def test_message_ids_increase_per_chat(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser, bo: EmulatedUser
) -> None:
    await driver.send_text(ann, "hello")  # message 1 in Ann's chat
    await driver.add_user(bo)
    first = await api.ok("sendMessage", chat_id=ann.id, text="a")
    second = await api.ok("sendMessage", chat_id=ann.id, text="b")
    other = await api.ok("sendMessage", chat_id=bo.id, text="c")
    assert (first["message_id"], second["message_id"], other["message_id"]) == (2, 3, 1)
    assert first["from"]["is_bot"] is True
    assert isinstance(first["date"], int)


async def test_text_limits(api: RawApi, chat: int) -> None:
    assert await api.fails("sendMessage", 400, chat_id=chat, text="") == (
        "Bad Request: message text is empty"
    )
    assert await api.fails("sendMessage", 400, chat_id=chat, text=" \n ") == (
        "Bad Request: message text is empty"
    )
    assert await api.fails("sendMessage", 400, chat_id=chat) == (
        "Bad Request: message text is empty"
    )
    assert await api.fails("sendMessage", 400, chat_id=chat, text="x" * 4097) == (
        "Bad Request: message is too long"
    )
    # The limit is on the parsed text: markup does not count, characters do (not bytes).
    assert await api.ok("sendMessage", chat_id=chat, text="界" * 4096)
    long_html = "<b>" + "x" * 4096 + "</b>"
    assert await api.ok("sendMessage", chat_id=chat, text=long_html, parse_mode="HTML")


async def test_text_is_trimmed_like_telegram(api: RawApi, chat: int) -> None:
    message = await api.ok("sendMessage", chat_id=chat, text="  <b>hi</b> \n", parse_mode="HTML")
    assert message["text"] == "hi"
    assert message["entities"] == [{"offset": 0, "length": 2, "type": "bold"}]


async def test_callback_data_limit(api: RawApi, chat: int) -> None:
    def markup(data: str) -> dict[str, object]:
        return {"inline_keyboard": [[{"text": "x", "callback_data": data}]]}

    ok = await api.ok("sendMessage", chat_id=chat, text="t", reply_markup=markup("é" * 32))
    assert ok["reply_markup"] == markup("é" * 32)  # 64 bytes exactly
    for bad in ("é" * 32 + "x", "", "a" * 65):
        description = await api.fails(
            "sendMessage", 400, chat_id=chat, text="t", reply_markup=markup(bad)
        )
        assert description == "Bad Request: BUTTON_DATA_INVALID"


async def test_bad_markup(api: RawApi, chat: int) -> None:
    text_only = {"inline_keyboard": [[{"text": "x"}]]}
    assert "text buttons are unallowed" in await api.fails(
        "sendMessage", 400, chat_id=chat, text="t", reply_markup=text_only
    )
    bad_url = {"inline_keyboard": [[{"text": "x", "url": "not a url"}]]}
    assert await api.fails("sendMessage", 400, chat_id=chat, text="t", reply_markup=bad_url) == (
        "Bad Request: BUTTON_URL_INVALID"
    )
    url = f"{api.running.base_url}{TOKEN}/sendMessage"
    data = {"chat_id": str(chat), "text": "t", "reply_markup": "{oops"}
    async with api.session.post(url, data=data) as response:
        assert response.status == 400


async def test_reply_keyboard_is_kept_on_the_chat_not_the_message(
    api: RawApi, driver: EmulatorDriver, chat: int
) -> None:
    keyboard = {"keyboard": [["Yes", "No"]], "resize_keyboard": True}
    message = await api.ok("sendMessage", chat_id=chat, text="Sure?", reply_markup=keyboard)
    assert "reply_markup" not in message  # Telegram only echoes inline keyboards
    (state,) = await driver.chats()
    assert state["keyboard"] == keyboard
    await api.ok("sendMessage", chat_id=chat, text="ok", reply_markup={"remove_keyboard": True})
    assert (await driver.chats())[0]["keyboard"] is None


async def test_html_parse_errors(api: RawApi, chat: int) -> None:
    async def error(text: str) -> str:
        return await api.fails("sendMessage", 400, chat_id=chat, text=text, parse_mode="HTML")

    prefix = "Bad Request: can't parse entities: "
    assert await error("a <br> b") == prefix + 'Unsupported start tag "br" at byte offset 2'
    assert await error("<b>bold") == prefix + 'Can\'t find end tag corresponding to start tag "b"'
    assert await error("<b><i>x</b></i>") == (
        prefix + 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'
    )
    assert await error("x</b>") == prefix + "Unexpected end tag at byte offset 1"
    assert await error("1 < 2") == prefix + 'Unsupported start tag "" at byte offset 2'
    assert await error("<span>s</span>") == (
        prefix + 'Tag "span" must have class "tg-spoiler" at byte offset 0'
    )
    # The same text escaped, and MarkdownV2, are fine.
    assert await api.ok("sendMessage", chat_id=chat, text="1 &lt; 2", parse_mode="HTML")
    assert await api.ok("sendMessage", chat_id=chat, text="*b* 1 < 2", parse_mode="MarkdownV2")


async def test_chat_not_found_and_blocked(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    # Ann never started the bot: Telegram answers "chat not found".
    assert await api.fails("sendMessage", 400, chat_id=ann.id, text="hi") == (
        "Bad Request: chat not found"
    )
    await driver.send_text(ann, "/start")
    await driver.block(ann.id)
    assert await api.fails("sendMessage", 403, chat_id=ann.id, text="hi") == (
        "Forbidden: bot was blocked by the user"
    )
    assert await api.fails("sendChatAction", 403, chat_id=ann.id, action="typing")
    await driver.unblock(ann.id)
    assert await api.ok("sendMessage", chat_id=ann.id, text="hi")
    assert await api.fails("sendMessage", 400, chat_id="@someone", text="hi") == (
        "Bad Request: chat not found"
    )


async def test_edit_text(api: RawApi, driver: EmulatorDriver, chat: int) -> None:
    sent = await api.ok("sendMessage", chat_id=chat, text="Entry 1", reply_markup=BUTTON)
    mid = sent["message_id"]
    edited = await api.ok(
        "editMessageText",
        chat_id=chat,
        message_id=mid,
        text="Entry 1 <i>approved</i>",
        parse_mode="HTML",
    )
    assert edited["text"] == "Entry 1 approved"
    assert isinstance(edited["edit_date"], int)
    # No reply_markup in the edit removes the buttons, as on Telegram.
    assert "reply_markup" not in edited
    (view,) = await driver.messages(chat)
    assert view["edit_count"] == 1
    assert view["source"] == "Entry 1 <i>approved</i>"
    assert view["reply_markup"] is None


async def test_edit_errors(api: RawApi, driver: EmulatorDriver, ann: EmulatedUser) -> None:
    await driver.send_text(ann, "my own message")  # message 1, from the user
    sent = await api.ok("sendMessage", chat_id=ann.id, text="same", reply_markup=BUTTON)
    mid = sent["message_id"]

    async def edit(method: str, **params: object) -> str:
        return await api.fails(method, 400, chat_id=ann.id, **params)

    assert await edit("editMessageText", message_id=99, text="x") == (
        "Bad Request: message to edit not found"
    )
    assert await edit("editMessageText", message_id=1, text="x") == (
        "Bad Request: message can't be edited"
    )
    not_modified = await edit("editMessageText", message_id=mid, text="same", reply_markup=BUTTON)
    assert not_modified.startswith("Bad Request: message is not modified: ")
    assert (await edit("editMessageReplyMarkup", message_id=mid, reply_markup=BUTTON)).startswith(
        "Bad Request: message is not modified"
    )
    assert await edit("editMessageCaption", message_id=mid, caption="c") == (
        "Bad Request: there is no caption in the message to edit"
    )
    assert await api.ok("editMessageReplyMarkup", chat_id=ann.id, message_id=mid)
    assert (await edit("editMessageReplyMarkup", message_id=mid)).startswith(
        "Bad Request: message is not modified"
    )


async def test_delete(api: RawApi, driver: EmulatorDriver, chat: int) -> None:
    mid = (await api.ok("sendMessage", chat_id=chat, text="bye"))["message_id"]
    assert await api.ok("deleteMessage", chat_id=chat, message_id=mid) is True
    assert await api.fails("deleteMessage", 400, chat_id=chat, message_id=mid) == (
        "Bad Request: message to delete not found"
    )
    assert await api.fails("editMessageText", 400, chat_id=chat, message_id=mid, text="x") == (
        "Bad Request: message to edit not found"
    )
    assert (await driver.messages(chat))[0]["deleted"] is True


async def test_answer_callback_query(
    api: RawApi, driver: EmulatorDriver, ann: EmulatedUser
) -> None:
    await driver.add_user(ann)
    sent = await api.ok("sendMessage", chat_id=ann.id, text="Entry", reply_markup=BUTTON)
    update = await driver.press(ann, sent["message_id"], "ap:1")
    query = update["callback_query"]
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["from"]["id"] == ann.id

    assert await api.fails(
        "answerCallbackQuery", 400, callback_query_id=query["id"], text="x" * 201
    ) == ("Bad Request: MESSAGE_TOO_LONG")
    assert await api.ok("answerCallbackQuery", callback_query_id=query["id"], text="Approved")
    # A query can only be answered once.
    assert "query is too old" in await api.fails(
        "answerCallbackQuery", 400, callback_query_id=query["id"]
    )
    assert "query is too old" in await api.fails(
        "answerCallbackQuery", 400, callback_query_id="nope"
    )
    (answer,) = await driver.callback_answers(query["id"])
    assert answer["text"] == "Approved"
    assert answer["show_alert"] is False


async def test_chat_action_and_get_chat(api: RawApi, driver: EmulatorDriver, chat: int) -> None:
    assert await api.ok("sendChatAction", chat_id=chat, action="typing") is True
    assert await api.fails("sendChatAction", 400, chat_id=chat, action="dancing")
    info = await api.ok("getChat", chat_id=chat)
    assert info["id"] == chat
    assert info["type"] == "private"
    await driver.create_group(-100123, "Team A")
    group = await api.ok("getChat", chat_id=-100123)
    assert (group["type"], group["title"]) == ("group", "Team A")
    assert (await driver.create_group(-1001234567890, "Big"))["type"] == "supergroup"
