"""/export of the bonus lines and the career records, and the key tasks in /record, end to
end: HR opens the files and checks them against the store; staff cannot export."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import ExportRun
from handlers.context import WorkledgerApplication
from storage.models import BonusLine, BonusRun, Staff
from tests.service.export_seed import FORMULA_NAME, HR_TELEGRAM, PERIOD
from tests.service.record_seed import HARDSHIP, KEY_TASK, Paid, seed_paid

from .chat import Message, answer_to_press, buttons, say, stop_timed_jobs

pytestmark = pytest.mark.e2e

HR = EmulatedUser(id=HR_TELEGRAM, first_name="Hu", language_code="en")
STAFF = EmulatedUser(id=9003, first_name="Su", language_code="en")


@pytest.fixture
async def paid(bot: WorkledgerApplication) -> Paid:
    stop_timed_jobs(bot)
    return await seed_paid(bot.bot_data.database, bot.bot_data.policy)


async def _document(driver: EmulatorDriver, menu: Message, label: str) -> tuple[Any, bytes]:
    await driver.press(HR, menu["message_id"], buttons(menu)[label])
    [sent] = await driver.wait_for_message(HR.id, timeout=20)
    return sent, await driver.file_bytes(sent["document"]["file_id"])


async def test_hr_receives_the_bonus_lines_as_xlsx_and_csv_matching_the_store(
    bot: WorkledgerApplication, driver: EmulatorDriver, paid: Paid
) -> None:
    async with bot.bot_data.database.uow() as uow:
        stored = {
            (number, employee_no): line
            for line, number, employee_no in await uow.session.execute(
                select(BonusLine, BonusRun.number, Staff.employee_no)
                .join(BonusRun, BonusRun.id == BonusLine.run_id)
                .join(Staff, Staff.id == BonusLine.staff_id)
                .where(BonusRun.number.is_not(None))
            )
        }
    step = bot.bot_data.policy.bonus.rounding
    menu = await say(driver, HR, f"/export {PERIOD}")
    sent, content = await _document(driver, menu, "Bonus lines · XLSX")
    assert sent["document"]["file_name"] == "bonus-2026-11.xlsx"
    assert sent["caption"] == "“Bonus lines” of 2026-11: 4 rows"
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    rows = {
        (row[0].value, row[4].value): dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=2)
    }
    assert set(rows) == set(stored)
    for key, line in stored.items():
        amount = rows[key]["Bonus (CNY)"]
        assert amount.data_type == "n" and Decimal(str(amount.value)) == line.amount * step
        change = rows[key]["Paid or recovered by this run (CNY)"].value
        assert Decimal(str(change)) == line.change * step
    assert rows[1, "E011"]["Name"].value == FORMULA_NAME and rows[1, "E011"]["Name"].quotePrefix
    assert rows[1, "E011"]["Allowances and their reasons"].value == (
        f"Urgent task CN¥200.00: {KEY_TASK}"
    )
    assert rows[2, "E012"]["Run"].value == "correction"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    menu = await say(driver, HR, f"/export {PERIOD}")
    sent, content = await _document(driver, menu, "Bonus lines · CSV")
    assert sent["document"]["file_name"] == "bonus-2026-11.csv"
    header, *lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    by_key = {(int(line[0]), line[4]): dict(zip(header, line, strict=True)) for line in lines}
    assert set(by_key) == set(stored)
    for key, line in stored.items():
        assert Decimal(by_key[key]["Bonus (CNY)"]) == line.amount * step
    assert by_key[1, "E011"]["Name"] == "'" + FORMULA_NAME
    assert (
        by_key[2, "E012"]["Allowances and their reasons"] == f"Hardship post CN¥300.00: {HARDSHIP}"
    )


async def test_staff_see_their_key_task_in_the_record_and_cannot_export(
    bot: WorkledgerApplication, driver: EmulatorDriver, paid: Paid
) -> None:
    own = (await say(driver, STAFF, "/record"))["text"]
    assert f"Key tasks:\n• November 2026: Urgent task: {KEY_TASK}\n" in own
    assert HARDSHIP not in own  # an allowance for a hardship post is no task

    # HR reads it too, and its workbook has the key tasks' sheet.
    card = await say(driver, HR, "/record E011")
    assert f"• November 2026: Urgent task: {KEY_TASK}" in card["text"]
    _, content = await _document(driver, card, "Export as XLSX")
    tasks = list(openpyxl.load_workbook(io.BytesIO(content))["Key tasks"].iter_rows())
    assert [cell.value for cell in tasks[0]] == ["Period", "Key task", "Reason", "Assigned on"]
    assert [cell.value for cell in tasks[1][:3]] == [PERIOD, "Urgent task", KEY_TASK]
    assert tasks[1][2].quotePrefix and tasks[1][3].value.date() == date(2026, 12, 2)

    menu = await say(driver, HR, f"/export {PERIOD}")
    sent, content = await _document(driver, menu, "Career records · XLSX")
    assert sent["document"]["file_name"] == "record.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert sent["caption"] == f"“Career records”: {len(rows)} rows"
    assert ("E011", FORMULA_NAME, "Permits Office", "key task", PERIOD) in {r[:5] for r in rows}
    assert {r[0] for r in rows} == {"E011", "E012"}

    # Staff cannot export either, by the command or by a forged press.
    reply = await say(driver, STAFF, f"/export {PERIOD}")
    assert "permission" in reply["text"] and not buttons(reply)
    for kind in ("bonus", "record"):
        forged = ExportRun(kind, PERIOD, "csv").pack()
        assert "permission" in await answer_to_press(driver, STAFF, reply, forged)
    assert not any(m.get("document") for m in await driver.messages(STAFF.id))
