"""A period's bonus run end to end: HR assigns an allowance, previews (/bonus: totals and
the spreadsheet), publishes; each person is told their figure in their language; a
second publish is refused; an appeal's new grade is paid by a correction.

November 2026 is scored and published (``store_facts``); the Permits Office's clerks
have a post difficulty of 1.15 and the default policy's base is 1000.00 CNY.
"""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select, update

from assessment.results import notices_key
from bot.emulator import EmulatorDriver
from handlers.context import WorkledgerApplication
from storage.enums import BonusRunStatus
from storage.models import BonusRun, PeriodScore, Staff

from .chat import Message, answer_to_press, buttons, introduce, say
from .conftest import eventually
from .people import Organisation, seed
from .test_results import IN_CALIBRATION, Given, store_facts

pytestmark = pytest.mark.e2e

PEOPLE = [Given("E010", 88), Given("E011", 82), Given("E101", 72)]
HARDSHIP = Decimal("300.00")


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    bot.bot_data.clock.set(IN_CALIBRATION, frozen=True)
    return organisation


async def published(bot: WorkledgerApplication) -> None:
    """November scored and published, every score of it (the publication's claim)."""
    await store_facts(bot, "2026-11", PEOPLE, published=True)
    async with bot.bot_data.database.uow() as uow:
        await uow.claims.claim(notices_key("2026-11"), bot.bot_data.clock.now())
        await uow.commit()


async def grades(bot: WorkledgerApplication) -> dict[str, str]:
    """Employee number -> the published grade that counts."""
    async with bot.bot_data.database.uow() as uow:
        rows = await uow.session.execute(
            select(Staff.employee_no, PeriodScore.calibrated_grade_id, PeriodScore.grade_id).join(
                Staff, Staff.id == PeriodScore.staff_id
            )
        )
        return {number: calibrated or grade for number, calibrated, grade in rows}


def expected(bot: WorkledgerApplication, grade: str, allowance: Decimal = Decimal(0)) -> Decimal:
    coefficient = bot.bot_data.policy.grade(grade).coefficient
    return (Decimal(1000) * coefficient * Decimal("1.15") + allowance).quantize(Decimal("0.01"))


def yuan(amount: Decimal, symbol: str = "CN¥") -> str:
    return f"{symbol}{amount:,.2f}"


async def preview(driver: EmulatorDriver, org: Organisation, text: str) -> tuple[Message, bytes]:
    await driver.send_text(org.hr, text)
    card, sheet = await driver.wait_for_message(org.hr.id, count=2, timeout=10)
    return card, await driver.file_bytes(sheet["document"]["file_id"])


async def told(driver: EmulatorDriver, chat_id: int, start: str) -> str:
    async def find() -> list[str]:
        return [
            str(m["text"])
            for m in await driver.messages(chat_id)
            if str(m.get("text", "")).startswith(start)
        ]

    found = await eventually(find, within=10)
    return found[-1]


async def test_hr_previews_publishes_and_each_person_is_told_once(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await published(bot)
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(Staff).where(Staff.employee_no == "E010").values(language="zh_Hans")
        )
        await uow.commit()
    given = await grades(bot)

    reply = await say(driver, org.hr, "/allowance 2026-11 E011 hardship Mountain station")
    assert reply["text"] == "E011: Hardship post (CN¥300.00) for November 2026."

    card, content = await preview(driver, org, "/bonus 2026-11")
    amounts = {
        "E010": expected(bot, given["E010"]),
        "E011": expected(bot, given["E011"], HARDSHIP),
        "E101": expected(bot, given["E101"]),
    }
    total = sum(amounts.values(), Decimal(0))
    text = str(card["text"])
    assert text.startswith("Bonus run for November 2026 (preview)")
    assert f"3 people, {yuan(total)} in all." in text
    assert "Permits Office" in text
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2", "the header stays in view"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Employee no." and rows[0][8] == "Bonus"
    lines = {row[0]: row for row in rows[1:]}
    assert {number: Decimal(str(row[8])) for number, row in lines.items()} == amounts
    assert Decimal(str(lines["E011"][7])) == HARDSHIP
    assert Decimal(str(lines["E011"][5])) == Decimal("1.15")

    publish = buttons(card)["Publish and notify"]
    await driver.press(org.hr, card["message_id"], publish)
    done = await told(driver, org.hr.id, "The bonus of November 2026 is published")
    assert done.endswith("Its notices are on their way to 2 people."), done

    staff_notice = await told(driver, org.staff.id, "Your bonus for November 2026")
    assert staff_notice.startswith(f"Your bonus for November 2026: {yuan(amounts['E011'])}.")
    assert "x post difficulty 1.15" in staff_notice
    assert "Allowances: CN¥300.00." in staff_notice
    chinese = await told(driver, org.supervisor.id, "你的2026年11月奖金")
    assert yuan(amounts["E010"], "¥") in chinese

    # Pressed again, or previewed again without a reason: nothing is paid twice.
    again = await answer_to_press(driver, org.hr, card, publish)
    assert again == "This bonus run is published already; it cannot change."
    refused = await say(driver, org.hr, "/bonus 2026-11")
    assert str(refused["text"]).startswith("This period's bonus is paid already.")
    async with bot.bot_data.database.uow() as uow:
        runs = list(await uow.session.scalars(select(BonusRun)))
    assert [(r.number, r.status) for r in runs] == [(1, BonusRunStatus.PUBLISHED)]
    assert len([m for m in await driver.messages(org.staff.id) if "bonus" in m["text"]]) == 1

    # An appeal makes Su Yi (E011) Excellent: a correction pays the difference, to her only.
    async with bot.bot_data.database.uow() as uow:
        [su] = await uow.staff.by_employee_nos(["E011"])
        await uow.session.execute(
            update(PeriodScore)
            .where(PeriodScore.staff_id == su.id)
            .values(calibrated_grade_id="excellent", calibration_reason="Appeal upheld")
        )
        await uow.commit()
    card, _ = await preview(driver, org, "/bonus 2026-11 Appeal upheld")
    assert str(card["text"]).startswith(
        "Bonus correction for November 2026 (preview): Appeal upheld"
    )
    await driver.press(org.hr, card["message_id"], buttons(card)["Publish and notify"])
    done = await told(driver, org.hr.id, "The bonus of November 2026 is published (run 2)")
    assert done.endswith("Its notice is on its way to 1 person."), done
    now_due = expected(bot, "excellent", HARDSHIP)
    correction = await told(driver, org.staff.id, "A correction of your bonus")
    assert f"You are now entitled to {yuan(now_due)}; paid before: {yuan(amounts['E011'])}." in (
        correction
    )
    assert f"This correction pays you {yuan(now_due - amounts['E011'])}." in correction
    assert not [m for m in await driver.messages(org.supervisor.id) if "更正" in m["text"]]


async def test_only_hr_runs_bonuses(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await published(bot)
    reply = await say(driver, org.staff, "/bonus 2026-11")
    assert reply["text"] == "Sorry, you do not have permission to do that."
    async with bot.bot_data.database.uow() as uow:
        assert list(await uow.session.scalars(select(BonusRun))) == []


async def test_a_discarded_or_replaced_preview_is_never_published(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await published(bot)
    first, _ = await preview(driver, org, "/bonus 2026-11")
    await driver.press(org.hr, first["message_id"], buttons(first)["Discard"])
    assert await told(driver, org.hr.id, "The preview is discarded") == (
        "The preview is discarded; nothing was paid."
    )
    refused = await answer_to_press(driver, org.hr, first, buttons(first)["Publish and notify"])
    assert refused == "This preview was replaced by a newer one."
    second, _ = await preview(driver, org, "/bonus 2026-11")
    third, _ = await preview(driver, org, "/bonus 2026-11")
    replaced = await answer_to_press(driver, org.hr, second, buttons(second)["Publish and notify"])
    assert replaced == "This preview was replaced by a newer one."
    await driver.press(org.hr, third["message_id"], buttons(third)["Publish and notify"])
    await told(driver, org.hr.id, "The bonus of November 2026 is published (run 1)")
    async with bot.bot_data.database.uow() as uow:
        runs = list(await uow.session.scalars(select(BonusRun).order_by(BonusRun.id)))
    assert [r.status for r in runs] == [
        BonusRunStatus.DISCARDED,
        BonusRunStatus.DISCARDED,
        BonusRunStatus.PUBLISHED,
    ]
