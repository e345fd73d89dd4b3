"""Menu rows in the outbox: the sender republishes the menu of whoever owns the chat now."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from assessment.menus import MENU_KIND
from assessment.outbox import Outgoing, enqueue
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage

from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _menus_set(driver: EmulatorDriver, chat_id: int) -> list[list[dict[str, Any]]]:
    """The commands of each accepted setMyCommands for this private chat, oldest first."""
    menus = []
    for call in await driver.calls("setMyCommands"):
        scope = _decoded(call["params"].get("scope")) or {}
        if call["status"] == 200 and scope.get("type") == "chat" and scope["chat_id"] == chat_id:
            menus.append(_decoded(call["params"]["commands"]))
    return menus


async def _menu_rows(database: Database) -> list[DeliveryStatus]:
    async with database.uow() as uow:
        return list(
            await uow.session.scalars(
                select(OutboxMessage.status)
                .where(OutboxMessage.kind == MENU_KIND)
                .order_by(OutboxMessage.id)
            )
        )


async def _all_published(database: Database) -> bool:
    rows = await _menu_rows(database)
    return bool(rows) and all(status is DeliveryStatus.SENT for status in rows)


async def test_a_chat_unlinked_before_its_menu_went_out_gets_the_default_menu(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    org: Organisation = await seed(bot.bot_data.database)
    unlinked = EmulatedUser(id=4242, first_name="Gone", language_code="en")
    for user in (org.left, unlinked):
        await driver.send_text(user, "/help")
        await driver.wait_for_message(user.id)
    async with bot.bot_data.database.uow() as uow:
        # 4242's account was unlinked after the change was queued; Lou has left.
        await enqueue(
            uow,
            [
                Outgoing(chat_id=unlinked.id, kind=MENU_KIND),
                Outgoing(chat_id=org.left.id, kind=MENU_KIND),
            ],
        )
        await uow.commit()
    await eventually(lambda: _all_published(bot.bot_data.database))
    deleted = [
        int((_decoded(call["params"]["scope"]))["chat_id"])
        for call in await driver.calls("deleteMyCommands")
    ]
    assert deleted == [4242]
    [menu] = await _menus_set(driver, org.left.id)
    assert [command["command"] for command in menu] == ["help"], "who has left keeps only /help"
