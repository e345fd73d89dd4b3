"""A choice among many departments comes a page at a time: Telegram takes 100 buttons."""

from __future__ import annotations

import pytest

from bot.emulator import EmulatorDriver
from handlers.context import WorkledgerApplication
from handlers.formatting import BUTTONS_PER_PAGE
from storage.models import Department

from .chat import Message, buttons, introduce, press
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

MANY = 150  # and the two the organisation has: four pages of 40


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    async with bot.bot_data.database.uow() as uow:
        for number in range(MANY):
            await uow.departments.add(Department(name=f"Unit {number:03d}"))
        await uow.commit()
    await introduce(driver, organisation.hr)
    return organisation


def departments_in(message: Message) -> list[str]:
    return [label.removeprefix("✓ ") for label in buttons(message) if "Unit" in label]


def button_count(message: Message) -> int:
    return sum(len(row) for row in message["reply_markup"]["inline_keyboard"])


async def test_invite_offers_every_department_a_page_at_a_time(
    driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.hr, "/invite")
    [offer] = await driver.wait_for_message(org.hr.id)
    seen: list[str] = []
    while True:
        assert button_count(offer) <= 100
        seen += departments_in(offer)
        if "»" not in buttons(offer):
            break
        offer = await press(driver, org.hr, offer, "»")
    assert seen == [f"Unit {number:03d}" for number in range(MANY)]
    offer = await press(driver, org.hr, offer, "«")
    assert "Unit 080" in departments_in(offer)
    done = await press(driver, org.hr, offer, "Unit 081")
    assert "Everyone in Unit 081 has already joined." in done["text"]


async def test_a_broadcast_audience_among_many_departments(
    driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.hr, "/broadcast")
    await driver.wait_for_message(org.hr.id)
    await driver.send_text(org.hr, "Fire drill")
    [kinds] = await driver.wait_for_message(org.hr.id)
    toggles = await press(driver, org.hr, kinds, "By department")
    assert button_count(toggles) == BUTTONS_PER_PAGE + 3  # », Back, Done
    assert "Unit 100" not in departments_in(toggles)
    for _ in range(2):
        toggles = await press(driver, org.hr, toggles, "»")
    toggles = await press(driver, org.hr, toggles, "Unit 100")
    # The choice is marked, and the page stays where it was pressed.
    assert "✓ Unit 100" in buttons(toggles)
    assert button_count(toggles) == BUTTONS_PER_PAGE + 4  # «, », Back, Done
    preview = await press(driver, org.hr, toggles, "Done")
    assert "Audience: Unit 100" in preview["text"]
