"""/stats end to end: HR's figures of the organisation with a chart, a supervisor's of
their own people, staff refused. The figures are those of ``tests.service.stats_data``."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.emulator import EmulatorDriver
from handlers.context import WorkledgerApplication
from tests.service.stats_data import NOW, seed_stats

from .chat import introduce, say, stop_timed_jobs
from .people import Organisation, seed

pytestmark = pytest.mark.e2e


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    stop_timed_jobs(bot)
    bot.bot_data.clock.set(NOW, frozen=True)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    await seed_stats(bot.bot_data.database)
    return organisation


async def _stats(driver: EmulatorDriver, user_id: int, user: object) -> tuple[str, bytes]:
    before = (await driver.messages(user_id))[-1]["message_id"]
    await driver.send_text(user, "/stats")  # type: ignore[arg-type]
    text, chart = await driver.wait_for_message(
        user_id, count=2, since_message_id=before, timeout=60
    )
    assert chart.get("photo"), "the chart comes after the text"
    return text["text"], await driver.file_bytes(chart["photo"][-1]["file_id"])


async def test_hr_gets_the_organisations_figures_and_a_chart(
    driver: EmulatorDriver, org: Organisation
) -> None:
    text, png = await _stats(driver, org.hr.id, org.hr)
    assert Image.open(io.BytesIO(png)).format == "PNG"
    assert text.startswith("Statistics of the whole organisation\n")
    assert "• Human Resources (1): 20% this period" in text
    assert "• Permits Office (4): 25% this period, 1% this year" in text
    assert "• Permits Office: 2 waiting, median 2 h (5 decided)" in text
    assert "• Human Resources: 0 waiting, median 30 min (1 decided)" in text
    assert "Grades, October 2026:" in text
    assert "• Permits Office: Excellent 1, Good 3, Competent 1 (top grade 1 of at most 1)" in text
    assert "Bonus paid for October 2026 (run 1): CN¥3.80" in text
    assert "• Permits Office: CN¥2.80" in text
    assert "Reviews and appeals of October 2026:" in text
    assert "• Reviews: changed 1, upheld 1" in text
    assert "• Appeals: awaiting a decision 1" in text


async def test_a_supervisor_sees_only_their_people_and_staff_are_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    text, _ = await _stats(driver, org.supervisor.id, org.supervisor)
    assert text.startswith("Statistics of your people\n")
    assert "• Permits Office (2): 40% this period" in text
    assert "Human Resources" not in text
    assert "• Permits Office: 1 waiting, median 2 h (5 decided)" in text
    assert "• Permits Office: Excellent 1, Good 1" in text
    assert "at most" not in text
    assert "• Permits Office: CN¥1.50" in text
    assert "• Reviews: changed 1\n" in text, "HR's own review is not one of theirs"

    # Who is theirs is read from the roster every time: Ma Qing moves to another team.
    async with bot.bot_data.database.uow() as uow:
        [ma] = await uow.staff.by_employee_nos([org.unlinked_no])
        ma.supervisor_id = None
        await uow.commit()
    text, _ = await _stats(driver, org.supervisor.id, org.supervisor)
    assert "• Permits Office (1): 60% this period" in text
    assert "• Permits Office: Excellent 1" in text and "Good" not in text

    refused = await say(driver, org.staff, "/stats")
    assert refused["text"] == "Sorry, you do not have permission to do that."
    assert not any(m.get("photo") for m in await driver.messages(org.staff.id))
