"""/export builds its file in a worker process of its own: what HR sees when that worker
is killed, hangs, or the bot stops mid-export (a clear message, no half file sent, no
temporary file left), and two exports at once."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import tempfile
from pathlib import Path

import openpyxl
import pytest

from assessment.export_worker import NICENESS
from bot.app import running
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.context import WorkledgerApplication
from storage.enums import Role
from tests.service.export_seed import HR_TELEGRAM, PERIOD, Seeded, seed_exports

from .chat import Message, buttons, current, stop_timed_jobs
from .conftest import eventually

pytestmark = pytest.mark.e2e

HR = EmulatedUser(id=HR_TELEGRAM, first_name="Hu", language_code="en")
SECOND_HR = EmulatedUser(id=9002, first_name="Sun", language_code="en")
LEDGER = "Work ledger · XLSX"
FAILED = (
    "“Work ledger” of 2026-11 could not be built: the export stopped before it was "
    "finished, and nothing was sent. Send /export 2026-11 to try again."
)


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bot's temporary folder (its exports' and their workers'), to see it emptied."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def _seeded(bot: WorkledgerApplication) -> Seeded:
    stop_timed_jobs(bot)
    return await seed_exports(bot.bot_data.database, bot.bot_data.policy, entries=12)


async def _menu(driver: EmulatorDriver, user: EmulatedUser) -> Message:
    await driver.send_text(user, f"/export {PERIOD}")
    [menu] = await driver.wait_for_message(user.id)
    return menu


async def _worker_of(bot: WorkledgerApplication) -> int:
    """The pid of the export's worker, as soon as it is started (it starts in a second)."""

    async def started() -> int | None:
        pids = bot.bot_data.exports.pids
        return pids[0] if pids else None

    return await eventually(started, within=30)


async def _says(driver: EmulatorDriver, user: EmulatedUser, menu: Message, text: str) -> None:
    async def shown() -> bool:
        return (await current(driver, user.id, menu["message_id"]))["text"] == text

    await eventually(shown, within=30)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _left(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir()]


async def _documents(driver: EmulatorDriver, user: EmulatedUser) -> list[Message]:
    return [m for m in await driver.messages(user.id) if m.get("document")]


async def _ledger_asked_for(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> tuple[Message, int]:
    """HR presses the ledger's XLSX in /export's menu: the menu, and the worker building it."""
    menu = await _menu(driver, HR)
    await driver.press(HR, menu["message_id"], buttons(menu)[LEDGER])
    return menu, await _worker_of(bot)


async def test_the_file_is_built_in_a_worker_process_gone_once_it_is_sent(
    bot: WorkledgerApplication, driver: EmulatorDriver, scratch: Path
) -> None:
    await _seeded(bot)
    _, pid = await _ledger_asked_for(bot, driver)
    assert pid != os.getpid()
    # Below the bot's priority: on a busy machine the bot's updates get the CPU first.
    lower = min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)

    async def lowered() -> bool:
        return os.getpriority(os.PRIO_PROCESS, pid) == lower

    await eventually(lowered)
    [sent] = await driver.wait_for_message(HR.id, timeout=60)
    assert sent["caption"] == "“Work ledger” of 2026-11: 12 rows"
    content = await driver.file_bytes(sent["document"]["file_id"])
    assert openpyxl.load_workbook(io.BytesIO(content)).active.max_row == 13
    assert bot.bot_data.exports.pids == [] and _gone(pid)
    assert _left(scratch) == [], "no temporary file is left"


async def test_a_worker_killed_mid_export_is_told_to_hr_and_nothing_is_sent(
    bot: WorkledgerApplication, driver: EmulatorDriver, scratch: Path
) -> None:
    await _seeded(bot)
    menu, pid = await _ledger_asked_for(bot, driver)
    # Killed as it starts or reads (the kernel's memory killer, an operator's kill -9).
    os.kill(pid, signal.SIGKILL)
    await _says(driver, HR, menu, FAILED)
    assert await _documents(driver, HR) == [], "no half file is sent"
    assert bot.bot_data.exports.pids == []
    assert _left(scratch) == [], "the half file and the worker's files are removed"
    # The next export has a worker of its own, and is whole.
    again = await _menu(driver, HR)
    await driver.press(HR, again["message_id"], buttons(again)[LEDGER])
    [sent] = await driver.wait_for_message(HR.id, timeout=60)
    assert sent["caption"] == "“Work ledger” of 2026-11: 12 rows"


async def test_a_hung_worker_is_killed_and_hr_is_told(
    bot: WorkledgerApplication, driver: EmulatorDriver, scratch: Path
) -> None:
    await _seeded(bot)
    workers = bot.bot_data.exports
    workers.timeout = workers.start_timeout = 1.0
    menu, pid = await _ledger_asked_for(bot, driver)
    os.kill(pid, signal.SIGSTOP)  # alive, and silent from now on
    await _says(driver, HR, menu, FAILED)
    assert await _documents(driver, HR) == []
    assert workers.pids == [] and _gone(pid), "the silent worker was killed"
    assert _left(scratch) == []


async def test_two_exports_at_once_each_in_its_own_worker(
    bot: WorkledgerApplication, driver: EmulatorDriver, scratch: Path
) -> None:
    await _seeded(bot)
    async with bot.bot_data.database.uow() as uow:
        second = await uow.staff.by_telegram_id(SECOND_HR.id)
        assert second is not None
        second.roles = second.roles | Role.HR
        await uow.commit()
    menus = [await _menu(driver, HR), await _menu(driver, SECOND_HR)]
    seen: set[int] = set()
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            pids = bot.bot_data.exports.pids
            seen.update(pids)
            most = max(most, len(pids))
            await asyncio.sleep(0.005)

    watching = asyncio.create_task(watch())
    try:
        for user, menu in zip((HR, SECOND_HR), menus, strict=True):
            label = LEDGER if user is HR else "Work ledger · CSV"
            await driver.press(user, menu["message_id"], buttons(menu)[label])
        [first] = await driver.wait_for_message(HR.id, timeout=60)
        [other] = await driver.wait_for_message(SECOND_HR.id, timeout=60)
    finally:
        watching.cancel()
    assert first["document"]["file_name"] == "ledger-2026-11.xlsx"
    assert other["document"]["file_name"] == "ledger-2026-11.csv"
    content = await driver.file_bytes(other["document"]["file_id"])
    assert len(content.decode("utf-8-sig").splitlines()) == 13
    assert most == 2 and len(seen) == 2, "built side by side, each by a worker of its own"
    assert _left(scratch) == []


async def test_the_bot_stopping_mid_export_stops_its_worker_and_sends_nothing(
    application: WorkledgerApplication, driver: EmulatorDriver, scratch: Path
) -> None:
    async with running(application) as bot:
        await _seeded(bot)
        _, pid = await _ledger_asked_for(bot, driver)
        # Mid-export however fast the machine: it builds nothing more until it is killed.
        os.kill(pid, signal.SIGSTOP)
    # As at SIGTERM: the press waited its grace, then the worker was killed with the bot;
    # the export it was building unwinds in its task (as a stopping process's tasks do).
    assert _gone(pid)

    async def unwound() -> bool:
        return application.bot_data.exports.pids == [] and _left(scratch) == []

    await eventually(unwound, within=30)
    assert await _documents(driver, HR) == []
