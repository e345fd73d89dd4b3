"""The first conversation: /start and /help in the user's language, through real HTTP."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from telegram import Update
from telegram.ext import CommandHandler

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.context import WorkledgerApplication, WorkledgerContext
from storage.enums import Role
from storage.models import Department, Post, Staff

from .conftest import TOKEN

pytestmark = pytest.mark.e2e


async def _reply_to(driver: EmulatorDriver, user: EmulatedUser, text: str) -> str:
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id)
    return str(reply["text"])


@pytest.mark.parametrize(
    ("language_code", "expected"),
    [
        ("zh-hans", "欢迎使用工作台账"),
        ("zh-CN", "欢迎使用工作台账"),
        ("zh-TW", "歡迎使用工作台帳"),
        ("zh-hant", "歡迎使用工作台帳"),
        ("en", "Welcome to workledger"),
        ("en-US", "Welcome to workledger"),
        (None, "欢迎使用工作台账"),
        ("de", "欢迎使用工作台账"),
    ],
)
async def test_start_answers_in_the_users_language(
    bot: WorkledgerApplication, driver: EmulatorDriver, language_code: str | None, expected: str
) -> None:
    user = EmulatedUser(id=2001, first_name="Ada", language_code=language_code)
    reply = await _reply_to(driver, user, "/start")
    assert expected in reply
    assert "Ada" in reply


async def test_linked_member_is_greeted_by_name_in_their_stored_language(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    async with bot.bot_data.database.uow() as uow:
        department = await uow.departments.add(Department(name="Permits Office"))
        post = await uow.posts.add(
            Post(department_id=department.id, name="Clerk", post_type="service",
                 difficulty=Decimal("1.1"))
        )  # fmt: skip
        await uow.staff.add(
            Staff(employee_no="E7", name="王芳", department_id=department.id, post_id=post.id,
                  roles=Role.STAFF, language="zh_Hant", telegram_user_id=3001)
        )  # fmt: skip
        await uow.commit()
    user = EmulatedUser(id=3001, first_name="Fang", language_code="en")
    reply = await _reply_to(driver, user, "/start")
    assert reply.startswith("歡迎回來，王芳")


async def test_help_lists_commands(bot: WorkledgerApplication, driver: EmulatorDriver) -> None:
    reply = await _reply_to(driver, EmulatedUser(id=2002, first_name="Bo"), "/help")
    assert "/start" in reply
    assert "/help" in reply


async def test_a_redelivered_update_is_handled_once(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    user = EmulatedUser(id=2003, first_name="Cy", language_code="en")
    update = await driver.send_text(user, "/start")
    await driver.wait_for_message(user.id)
    await driver.send_raw_update(update)
    # Updates are handled in order: once /help is answered, the duplicate was seen.
    await driver.send_text(user, "/help")
    await driver.wait_for_message(user.id)
    texts = [message["text"] for message in await driver.messages(user.id)]
    assert len(texts) == 2
    assert texts[0].startswith("Welcome to workledger")
    assert "/help" in texts[1]


async def test_menus_are_published_per_language(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    english = await driver.my_commands({"type": "all_private_chats"}, "en")
    chinese = await driver.my_commands({"type": "all_private_chats"}, "zh")
    default = await driver.my_commands({"type": "all_private_chats"}, None)
    assert [c["command"] for c in english] == ["start", "help"]
    assert english[1]["description"] == "What this bot can do"
    assert chinese[1]["description"] == "本机器人的功能"
    assert default == chinese


async def test_a_failing_handler_gets_an_apology_without_details(
    application: WorkledgerApplication,
    driver: EmulatorDriver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def explode(update: Update, context: WorkledgerContext) -> None:
        raise RuntimeError(f"internal detail at /bot{TOKEN}/x")

    # Ahead of the catch-all fallback that ends group 0.
    application.handlers[0].insert(0, CommandHandler("explode", explode))
    from bot.app import running

    async with running(application):
        for user, expected in [
            (EmulatedUser(id=2004, first_name="Di", language_code="en"), "Sorry"),
            (EmulatedUser(id=2005, first_name="Ed", language_code="zh-TW"), "抱歉"),
        ]:
            with caplog.at_level(logging.ERROR):
                reply = await _reply_to(driver, user, "/explode")
            assert expected in reply
            assert "internal detail" not in reply
    assert "internal detail" in caplog.text
