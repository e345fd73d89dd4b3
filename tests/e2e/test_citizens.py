"""Citizens' "one matter, one rating": a QR code's deep link, stars, a comment, a code
used twice, and a burst HR confirms, through the real bot and the emulator."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from assessment.period_scoring import score_one
from assessment.periods import period_of
from bot.app import build_application, running
from bot.emulator import EmulatedUser, EmulatorDriver
from config.policy import CitizenRules, load_policy
from config.settings import Settings
from handlers.context import WorkledgerApplication
from storage.enums import RaterKind
from storage.models import AuditEvent, CitizenRating, Rating

from .chat import answer_to_press, buttons, introduce, press_for_edit, say, stop_timed_jobs
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

LINK = re.compile(r"https://t\.me/[^?\s]+\?start=(c_[A-Za-z0-9_-]+)")


def citizen(number: int, language: str = "en") -> EmulatedUser:
    """A stranger to the bot: no staff record."""
    return EmulatedUser(id=70_000 + number, first_name=f"Citizen {number}", language_code=language)


async def _code(driver: EmulatorDriver, org: Organisation) -> str:
    """The payload of the QR code /rate gives the clerk (Su Yi, a service post)."""
    await driver.send_text(org.staff, "/rate")
    received = await driver.wait_for_message(org.staff.id, count=2)
    [photo] = [m for m in received if m.get("photo")]
    found = LINK.search(photo["caption"])
    assert found is not None, photo["caption"]
    return found.group(1)


async def _stars(driver: EmulatorDriver, user: EmulatedUser, payload: str) -> dict:
    return await say(driver, user, f"/start {payload}")


async def test_a_citizen_rates_through_the_qr_link_once_and_comments(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    stop_timed_jobs(bot)
    org = await seed(bot.bot_data.database)
    payload = await _code(driver, org)
    assert len(payload) != 32, "never the length of an invitation code"

    # A citizen whose Telegram app speaks Simplified Chinese is asked in Chinese.
    first = citizen(1, "zh-hans")
    card = await _stars(driver, first, payload)
    assert "Su Yi" in card["text"] and "星" in card["text"]
    assert len(buttons(card)) == 5
    answer, thanked = await press_for_edit(driver, first, card, buttons(card)["★★★★"])
    assert answer == "None"
    assert "★★★★" in thanked["text"] and "谢谢" in thanked["text"]
    reply = await say(driver, first, "Very quick, thank you")
    assert "谢谢" in reply["text"]

    # The same code again, by someone else or by the same citizen: refused.
    second = citizen(2)
    refused = await _stars(driver, second, payload)
    assert refused["text"] == (
        "This code has already been used for a rating. Thank you all the same."
    )
    assert not buttons(refused)
    again = await answer_to_press(driver, first, card, buttons(card)["★★"])
    assert again == "此评价码已使用过。仍然感谢您！"
    # A press signed for another account is refused even with a fresh code.
    fresh = await _code(driver, org)
    theirs = await _stars(driver, second, fresh)
    forged = await answer_to_press(driver, first, theirs, buttons(theirs)["★"])
    assert forged == "此按钮已失效。"

    async with bot.bot_data.database.uow() as uow:
        [stored] = list(await uow.session.scalars(select(CitizenRating)))
        ratings = list(await uow.session.scalars(select(Rating)))
        events = list(await uow.session.scalars(select(AuditEvent)))
    assert (stored.stars, stored.status, stored.comment) == (4, "counted", "Very quick, thank you")
    # Stored only as a keyed hash: not the id, nor a plain hash of it.
    assert str(first.id) not in stored.citizen_hash and len(stored.citizen_hash) == 64
    assert [(r.rater_kind, r.indicator_id, r.value) for r in ratings] == [
        (RaterKind.SERVICE_RECIPIENT, "citizen_satisfaction", 4)
    ]
    assert all(str(first.id) not in str(e.details) for e in events)
    assert str(first.id) not in str(events)

    # The clerk sees the average and the comment, never who wrote it.
    await driver.send_text(org.staff, "/rate")
    received = await driver.wait_for_message(org.staff.id, count=2)
    [summary] = [m for m in received if not m.get("photo")]
    assert "4.0 of 5 on average, from 1 rating." in summary["text"]
    assert "• Very quick, thank you" in summary["text"]
    assert first.first_name not in summary["text"]


async def test_a_post_citizens_do_not_rate_gets_no_code(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    stop_timed_jobs(bot)
    org = await seed(bot.bot_data.database)
    # The supervisor's department is a service office too; HR has no post at all.
    reply = await say(driver, org.hr, "/rate")
    assert reply["text"] == "No citizen's rating waits for your check."
    # No QR code follows: the next message is the answer to /help.
    helped = await say(driver, org.hr, "/help")
    assert helped["text"].startswith("workledger: one record a day")
    # A made-up code is no rating code: it is read as a (wrong) invitation.
    forged = await _stars(driver, citizen(3), "c_" + "A" * 27)
    assert forged["text"].startswith("This invitation code is not valid.")


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[WorkledgerApplication]:
    """The bot under a policy that calls more than 2 ratings an hour for one person a burst."""
    policy = load_policy()
    policy = policy.model_copy(update={"citizens": CitizenRules(burst_max=2, burst_minutes=60)})
    async with running(build_application(settings, policy)) as started:
        yield started


async def test_a_burst_is_flagged_and_counts_once_hr_confirms(
    strict: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    bot = strict
    stop_timed_jobs(bot)
    org = await seed(bot.bot_data.database)
    await introduce(driver, org.hr)
    for number in (11, 12, 13):
        user = citizen(number)
        card = await _stars(driver, user, await _code(driver, org))
        await press_for_edit(driver, user, card, buttons(card)["★★★★★" if number < 13 else "★"])
    data = bot.bot_data
    async with data.database.uow() as uow:
        stored = list(await uow.session.scalars(select(CitizenRating).order_by(CitizenRating.id)))
        staff_id = stored[0].staff_id
        period = period_of(data.clock.now().astimezone(data.settings.zone).date(), data.policy)
        before = await score_one(uow, data.policy, period, staff_id)
    assert [(r.status, r.flags) for r in stored] == [
        ("counted", ""), ("counted", ""), ("flagged", "burst")
    ]  # fmt: skip
    assert before is not None
    [satisfaction] = [
        i for i in before[0].breakdown.indicators if i.indicator_id == "citizen_satisfaction"
    ]
    assert (satisfaction.raw, satisfaction.sample_size) == (Decimal(5), 2), "not counted yet"

    # HR is told, through the outbox, once however many are flagged.
    [told] = await driver.wait_for_message(org.hr.id)
    assert told["text"].startswith("Some citizens' ratings look suspicious")
    await driver.send_text(org.hr, "/rate")
    received = await driver.wait_for_message(org.hr.id, count=2)
    assert received[0]["text"] == "1 citizen's rating waits for your check (oldest first):"
    flag = received[1]
    assert "★ for Su Yi (E011)" in flag["text"]
    assert "many ratings for this person in a short time" in flag["text"]
    assert list(buttons(flag)) == ["Confirm", "Discard"]
    # Only HR decides: the clerk's forged press is refused by the gate.
    refused = await answer_to_press(driver, org.staff, flag, buttons(flag)["Confirm"])
    assert refused == "Sorry, you do not have permission to do that."
    _, decided = await press_for_edit(driver, org.hr, flag, buttons(flag)["Confirm"])
    assert decided["text"] == "Confirmed: the rating counts."
    twice = await answer_to_press(driver, org.hr, flag, buttons(flag)["Discard"])
    assert twice == "This rating has already been decided."

    async with data.database.uow() as uow:
        after = await score_one(uow, data.policy, period, staff_id)
        [event] = list(
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "citizen_rating.confirmed")
            )
        )
    assert after is not None
    [satisfaction] = [
        i for i in after[0].breakdown.indicators if i.indicator_id == "citizen_satisfaction"
    ]
    assert satisfaction.raw is not None and satisfaction.sample_size == 3
    assert round(satisfaction.raw, 6) == Decimal("3.666667"), "(5 + 5 + 1) / 3"
    assert event.subject_id == str(stored[2].id)


async def test_the_printable_window_code_is_a_pdf_for_the_person_only(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    stop_timed_jobs(bot)
    org = await seed(bot.bot_data.database)
    await driver.send_text(org.staff, "/rate")
    received = await driver.wait_for_message(org.staff.id, count=2)
    [photo] = [m for m in received if m.get("photo")]
    # Someone else's press for the clerk's window is refused.
    refused = await answer_to_press(
        driver, org.supervisor, photo, buttons(photo)["Printable window code"]
    )
    assert refused == "Sorry, you do not have permission to do that."
    await driver.press(org.staff, photo["message_id"], buttons(photo)["Printable window code"])
    [sheet] = await driver.wait_for_message(org.staff.id)
    assert sheet["document"]["file_name"] == "window-E011.pdf"
    assert "1 time a day" in sheet["caption"]
    pdf = await driver.file_bytes(sheet["document"]["file_id"])
    assert pdf.startswith(b"%PDF")
