"""/export: HR gets a period's ledger as a document, checked against the store."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from assessment import exports
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers import exports as export_handlers
from handlers.callbacks import ExportRun
from handlers.context import WorkledgerApplication
from storage.models import Staff, WorkEntry
from tests.service.export_seed import FORMULA_NAME, HR_TELEGRAM, PERIOD, Seeded, seed_exports

from .chat import Message, answer_to_press, buttons, current, stop_timed_jobs
from .conftest import eventually

pytestmark = pytest.mark.e2e

HR = EmulatedUser(id=HR_TELEGRAM, first_name="Hu", language_code="en")
SUPERVISOR = EmulatedUser(id=9002, first_name="Sun", language_code="en")


@pytest.fixture
async def seeded(bot: WorkledgerApplication) -> Seeded:
    stop_timed_jobs(bot)
    return await seed_exports(bot.bot_data.database, bot.bot_data.policy, entries=12)


async def _menu(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    await driver.send_text(user, text)
    [menu] = await driver.wait_for_message(user.id)
    return menu


async def _document(driver: EmulatorDriver, menu: Message, label: str) -> tuple[Any, bytes]:
    await driver.press(HR, menu["message_id"], buttons(menu)[label])
    [sent] = await driver.wait_for_message(HR.id, timeout=20)
    return sent, await driver.file_bytes(sent["document"]["file_id"])


async def test_hr_receives_the_work_ledger_as_xlsx_matching_the_store(
    bot: WorkledgerApplication, driver: EmulatorDriver, seeded: Seeded
) -> None:
    menu = await _menu(driver, HR, f"/export {PERIOD}")
    assert "Exports of 2026-11" in menu["text"]
    assert {"Work ledger · XLSX", "Scores and grades · CSV", "Audit log · XLSX"} <= set(
        buttons(menu)
    )
    sent, content = await _document(driver, menu, "Work ledger · XLSX")
    assert sent["document"]["file_name"] == "ledger-2026-11.xlsx"
    assert sent["caption"] == "“Work ledger” of 2026-11: 12 rows"

    async def finished() -> Message | None:
        now = await current(driver, HR.id, menu["message_id"])
        return now if now["text"] == sent["caption"] else None

    await eventually(finished)  # the progress message ends with the count

    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    rows = {
        row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)
    }
    async with bot.bot_data.database.uow() as uow:
        stored = list(
            await uow.session.execute(
                select(WorkEntry, Staff)
                .join(Staff, Staff.id == WorkEntry.staff_id)
                .where(WorkEntry.work_date.between(date(2026, 11, 1), date(2026, 11, 30)))
            )
        )
    assert sorted(rows) == sorted(entry.id for entry, _ in stored)
    for entry, person in stored:
        row = rows[entry.id]
        assert row["Employee no."].value == person.employee_no
        assert row["Name"].value == person.name
        assert row["Work done"].value == entry.text
        assert row["Work date"].value.date() == entry.work_date
        assert Decimal(str(row["Quantity"].value)) == entry.quantity
        assert row["Quantity"].data_type == "n"
        assert row["Status"].value == entry.status.value
    formula = rows[seeded.entries_in_period[0]]["Name"]
    assert formula.value == FORMULA_NAME and formula.data_type == "s" and formula.quotePrefix
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


async def test_scores_as_csv_in_the_requesters_language(
    bot: WorkledgerApplication, driver: EmulatorDriver, seeded: Seeded
) -> None:
    chinese = EmulatedUser(id=HR_TELEGRAM, first_name="Hu", language_code="zh-hans")
    async with bot.bot_data.database.uow() as uow:
        hr = await uow.staff.by_telegram_id(HR_TELEGRAM)
        assert hr is not None
        hr.language = "zh_Hans"
        await uow.commit()
    menu = await _menu(driver, chinese, f"/export {PERIOD}")
    label = next(text for text in buttons(menu) if text.endswith("CSV") and "分数" in text)
    sent, content = await _document(driver, menu, label)
    assert sent["document"]["file_name"] == "scores-2026-11.csv"
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert header[0] == "工号" and "最终等次" in header
    by_no = {row[0]: row for row in rows}
    assert by_no["E011"][1] == "'" + FORMULA_NAME
    assert by_no["E012"][1] == "'+Ma Qing"


async def test_only_hr_may_export_and_each_press_is_checked(
    bot: WorkledgerApplication, driver: EmulatorDriver, seeded: Seeded
) -> None:
    reply = await _menu(driver, SUPERVISOR, f"/export {PERIOD}")
    assert "permission" in reply["text"] and not buttons(reply)
    forged = ExportRun("ledger", PERIOD, "xlsx").pack()
    assert "permission" in await answer_to_press(driver, SUPERVISOR, reply, forged)
    # HR lost the role since the menu was shown: the press is refused.
    menu = await _menu(driver, HR, f"/export {PERIOD}")
    async with bot.bot_data.database.uow() as uow:
        hr = await uow.staff.by_telegram_id(HR_TELEGRAM)
        assert hr is not None
        hr.roles = hr.roles & ~hr.roles.HR
        await uow.commit()
    assert "permission" in await answer_to_press(
        driver, HR, menu, buttons(menu)["Work ledger · XLSX"]
    )
    assert not any(m.get("document") for m in await driver.messages(SUPERVISOR.id))
    assert not any(m.get("document") for m in await driver.messages(HR.id))


async def test_no_export_in_a_group_and_a_bad_period(
    bot: WorkledgerApplication, driver: EmulatorDriver, seeded: Seeded
) -> None:
    await driver.create_group(-100600, "HR team")
    await driver.send_text(HR, f"/export {PERIOD}", chat_id=-100600)
    [reply] = await driver.wait_for_message(-100600)
    assert "private chat" in reply["text"] and not buttons(reply)
    reply = await _menu(driver, HR, "/export 2026-13")
    assert "/export [YYYY-MM]" in reply["text"] and not buttons(reply)


async def test_the_progress_message_counts_the_rows_as_they_are_written(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "BATCH_SIZE", 5)
    monkeypatch.setattr(export_handlers, "PROGRESS_EVERY", 0.0)
    menu = await _menu(driver, HR, f"/export {PERIOD}")
    sent, _ = await _document(driver, menu, "Work ledger · CSV")

    async def finished() -> Message | None:
        now = await current(driver, HR.id, menu["message_id"])
        return now if now["text"] == sent["caption"] else None

    now = await eventually(finished)
    # Building..., 5, 10 and 12 of 12 rows, then the count: each an edit of the one message.
    assert now["edit_count"] >= 5
    assert not buttons(now), "the buttons go with the first edit: no second press of them"
