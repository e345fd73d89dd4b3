"""HR starts a period's calibration before its day, from /results, end to end.

The bot's clock stands on 5 December 2026, in November's supervisor review (the default
policy: calibration from 8 December). The facts are stored as ``test_results`` stores
them: everyone reviewed but Ma Qing (E100), whose check nobody started.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.emulator import EmulatorDriver
from handlers.callbacks import ResultsCalibrate
from handlers.context import WorkledgerApplication
from storage.models import AssessmentPeriod, AuditEvent

from .chat import Message, answer_to_press, buttons, current, introduce, press, say
from .conftest import eventually
from .people import Organisation, seed
from .test_results import NOVEMBER, store_facts

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
IN_REVIEW = datetime(2026, 12, 5, 10, 0, tzinfo=ZONE)
NOT_PERMITTED = "Sorry, you do not have permission to do that."


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    bot.bot_data.clock.set(IN_REVIEW, frozen=True)
    await store_facts(bot, "2026-11", NOVEMBER)
    return organisation


async def november(bot: WorkledgerApplication) -> AssessmentPeriod:
    async with bot.bot_data.database.uow() as uow:
        found = await uow.session.scalar(
            select(AssessmentPeriod).where(AssessmentPeriod.key == "2026-11")
        )
    assert found is not None
    return found


async def started_events(bot: WorkledgerApplication) -> list[AuditEvent]:
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "period.calibration_started")
            )
        )


async def test_hr_starts_calibration_early_once_confirmed(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    overview = await say(driver, org.hr, "/results")
    assert overview["text"].startswith("Results of November 2026 · supervisor review")
    assert "Publish" not in buttons(overview)
    assert "Start calibration now" in buttons(overview)

    # Asked once: the whole period's review ends, one person is still unreviewed.
    asked = await press(driver, org.hr, overview, "Start calibration now")
    assert asked["text"] == (
        "Start the calibration of November 2026 now, before its day (2026-12-08)? It ends "
        "the supervisor review for the whole period.\n\n"
        "1 person is not reviewed yet: their reviewer may still sign off, and Publish "
        "waits for them or for their exclusion."
    )
    assert list(buttons(asked)) == ["Yes, start calibration now", "Back"]
    assert (await november(bot)).calibration_started_at is None, "nothing before the yes"

    confirm = buttons(asked)["Yes, start calibration now"]
    update = await driver.press(org.hr, asked["message_id"], confirm)
    [answer] = await eventually(lambda: driver.callback_answers(update["callback_query"]["id"]))
    assert answer["text"] == "Calibration of November 2026 has started."

    async def edited() -> Message | None:
        now = await current(driver, org.hr.id, asked["message_id"])
        return now if now["text"].startswith("Results of") else None

    shown = await eventually(edited)
    assert shown["text"].startswith("Results of November 2026 · calibration")
    assert {"Publish", "Publish at a time…"} <= set(buttons(shown))
    assert "Start calibration now" not in buttons(shown)

    stored = await november(bot)
    assert stored.calibration_started_at is not None
    assert stored.calibration_started_at.astimezone(ZONE) == IN_REVIEW
    [event] = await started_events(bot)
    assert event.details == {"period": "2026-11", "unreviewed": 1}
    async with bot.bot_data.database.uow() as uow:
        [hr] = await uow.staff.by_employee_nos(["E001"])
    assert stored.calibration_started_by_id == event.actor_staff_id == hr.id

    # The stage rule now says calibration for everyone: /results anew, and Publish
    # still waits for the unreviewed person.
    overview = await say(driver, org.hr, "/results")
    assert overview["text"].startswith("Results of November 2026 · calibration")
    update = await driver.press(org.hr, overview["message_id"], buttons(overview)["Publish"])
    [refusal] = await eventually(lambda: driver.callback_answers(update["callback_query"]["id"]))
    assert str(refusal["text"]).startswith("Not published: 1 person is not reviewed yet")

    # Pressed again (the old confirmation): refused, nothing recorded twice.
    again = await answer_to_press(driver, org.hr, asked, confirm)
    assert again == "That period's calibration has started already."
    assert len(await started_events(bot)) == 1
    assert (await november(bot)).calibration_started_at == stored.calibration_started_at


async def test_a_forged_or_stale_start_is_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    overview = await say(driver, org.hr, "/results")
    period = await november(bot)
    forged = ResultsCalibrate(period.id, period.version, 1).pack()

    # Not HR: the supervisor and a staff member forge the press.
    for user in (org.supervisor, org.staff):
        listing = await say(driver, user, "/help")
        assert await answer_to_press(driver, user, listing, forged) == NOT_PERMITTED
    assert (await november(bot)).calibration_started_at is None

    # HR, with another version than the period's (a card shown before an exclusion, say).
    stale = ResultsCalibrate(period.id, period.version + 1, 1).pack()
    answer = await answer_to_press(driver, org.hr, overview, stale)
    assert answer.startswith("These results changed since they were shown.")
    assert (await november(bot)).calibration_started_at is None
    assert await started_events(bot) == []

    # Before the supervisor review (1 December: November's self-assessment), never.
    bot.bot_data.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=ZONE), frozen=True)
    early = await answer_to_press(driver, org.hr, overview, forged)
    assert early == "That period is not under review yet."
    assert (await november(bot)).calibration_started_at is None
    assert await started_events(bot) == []
