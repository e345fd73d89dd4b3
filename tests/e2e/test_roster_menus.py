"""Menus a roster import changed, republished by whichever bot runs: once, even if it was down."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assessment.menus import MENU_KIND
from assessment.outbox import Outgoing, enqueue
from bot.app import build_application, running
from bot.emulator import EmulatedUser, EmulatorDriver
from bot.roster_cli import EXIT_OK, staff_import
from config.policy import load_policy
from config.settings import Settings
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import DeliveryStatus
from storage.models import OutboxMessage

from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

HEADER = (
    "employee_no,name,department,post,post_type,difficulty,supervisor_no,roles,language,status"
)
# Su Yi (E011, linked, English) becomes HR; the people the file leaves out are only reported.
PROMOTION = "\n".join(
    [HEADER, "E011,Su Yi,Permits Office,Clerk,service,1.15,E010,staff;hr,,", ""]
).encode()
HR_COMMANDS = {"invite", "unlink", "import", "broadcast", "notices"}


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


async def _import_from_the_command_line(settings: Settings, path: Path) -> int:
    # ``workledger staff import FILE`` as it runs: its own event loop, its own store connection.
    return await asyncio.to_thread(
        staff_import, settings, load_policy(), path, mark_missing_left=False, dry_run=False
    )


@contextlib.asynccontextmanager
async def _webhook_instance(settings: Settings) -> AsyncIterator[WorkledgerApplication]:
    """Another bot process on the same store, behind a webhook (so it polls nothing)."""
    application = build_application(settings, load_policy())
    await application.initialize()
    assert application.post_init is not None and application.post_shutdown is not None
    await application.post_init(application)
    try:
        yield application
    finally:
        application.bot_data.stop_background.set()
        await asyncio.gather(*application.bot_data.background)
        await application.post_shutdown(application)
        await application.shutdown()


async def test_the_running_bot_shows_a_command_line_promotion_once(
    bot: WorkledgerApplication, driver: EmulatorDriver, tmp_path: Path, settings: Settings
) -> None:
    org: Organisation = await seed(bot.bot_data.database)
    await driver.send_text(org.staff, "/help")  # Telegram scopes menus only to known chats
    await driver.wait_for_message(org.staff.id)
    roster = tmp_path / "roster.csv"
    roster.write_bytes(PROMOTION)

    assert await _import_from_the_command_line(settings, roster) == EXIT_OK

    async def published() -> list[list[dict[str, Any]]]:
        return await _menus_set(driver, org.staff.id)

    [menu] = await eventually(published)
    commands = {command["command"]: command["description"] for command in menu}
    assert set(commands) >= HR_COMMANDS
    assert commands["import"] == "Import the staff roster (CSV or XLSX)", "in Su Yi's English"
    effective = await driver.effective_commands(org.staff.id)
    assert {command["command"] for command in effective} >= HR_COMMANDS
    await eventually(lambda: _all_published(bot.bot_data.database))

    # The same file again changes nobody's roles: nothing more is queued or published.
    assert await _import_from_the_command_line(settings, roster) == EXIT_OK
    assert await _menu_rows(bot.bot_data.database) == [DeliveryStatus.SENT]
    assert len(await _menus_set(driver, org.staff.id)) == 1


async def test_bots_that_start_later_publish_a_change_once_between_them(
    driver: EmulatorDriver, tmp_path: Path, settings: Settings
) -> None:
    database = Database(settings.database_url)
    try:
        org = await seed(database)
        await driver.send_text(org.staff, "/help")  # the chat exists; no bot is running
        roster = tmp_path / "roster.csv"
        roster.write_bytes(PROMOTION)
        assert await _import_from_the_command_line(settings, roster) == EXIT_OK
        assert await _menu_rows(database) == [DeliveryStatus.PENDING]

        async with (
            running(build_application(settings, load_policy())),
            _webhook_instance(settings),
        ):

            async def published() -> list[list[dict[str, Any]]]:
                return await _menus_set(driver, org.staff.id)

            [menu] = await eventually(published)
            assert {command["command"] for command in menu} >= HR_COMMANDS
            # Settled: no sender can claim the row again.
            await eventually(lambda: _all_published(database))
        assert len(await _menus_set(driver, org.staff.id)) == 1
    finally:
        await database.dispose()


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
            now=bot.bot_data.clock.now(),
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
