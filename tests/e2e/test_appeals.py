"""Review (复核) and appeal (申诉) of a published result, end to end.

November 2026 is published on 9 December 2026 for the Permits Office's five people:
Sun Li (E010) and Su Yi (E011) tie at 91, so under 20% of five (one place) neither gets
Excellent and the place stays free; Ma Qing 85, Cao Lin 80, Tang Wen 72. HR (E001)
decides reviews; the administrator (E002, the head) decides appeals.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.appeals import run_clocks
from handlers.callbacks import AppealOpen
from handlers.context import WorkledgerApplication
from storage.enums import Role
from storage.models import AppealCase, AuditEvent, OutboxMessage, QuotaApproval, Staff

from .chat import Message, answer_to_press, buttons, introduce, stop_timed_jobs
from .conftest import eventually
from .people import COLLEAGUE, Organisation, seed_with_colleague
from .test_results import Given, _score_of, store_facts

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
PUBLISHED = datetime(2026, 12, 9, 10, 0, tzinfo=ZONE)
ADMIN = EmulatedUser(id=9020, first_name="Ke", language_code="en")
NOT_PERMITTED = "Sorry, you do not have permission to do that."
# Seconds to wait for a reply: /score draws a chart, slow on a busy machine.
WAIT = 20.0
FIVE = [
    Given("E010", 91),
    Given("E011", 91),
    Given("E100", 85),
    Given("E020", 80),
    Given("E101", 72),
]


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed_with_colleague(bot.bot_data.database)
    async with bot.bot_data.database.uow() as uow:
        [hr] = await uow.staff.by_employee_nos(["E001"])
        uow.session.add(
            Staff(employee_no="E002", name="Ke Ming", department_id=hr.department_id,
                  roles=Role.STAFF | Role.ADMIN, telegram_user_id=ADMIN.id, language="en")
        )  # fmt: skip
        await uow.commit()
    stop_timed_jobs(bot)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff, ADMIN)
    bot.bot_data.clock.set(PUBLISHED, frozen=True)
    return organisation


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=ZONE)


async def reply_to(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    before = await last_id(driver, user)
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id, since_message_id=before, timeout=WAIT)
    return reply


async def last_id(driver: EmulatorDriver, user: EmulatedUser) -> int:
    messages = await driver.messages(user.id)
    return int(messages[-1]["message_id"]) if messages else 0


async def score_card(driver: EmulatorDriver, user: EmulatedUser) -> Message:
    """/score's text (the chart follows it)."""
    before = await last_id(driver, user)
    await driver.send_text(user, "/score")
    text, _chart = await driver.wait_for_message(
        user.id, count=2, since_message_id=before, timeout=WAIT
    )
    return text


async def press_for_message(
    driver: EmulatorDriver, user: EmulatedUser, message: Message, label: str, count: int = 1
) -> list[Message]:
    """Press a button that answers with new messages; those messages."""
    before = await last_id(driver, user)
    data = next(d for text, d in buttons(message).items() if text.startswith(label))
    await driver.press(user, message["message_id"], data)
    return await driver.wait_for_message(
        user.id, count=count, since_message_id=before, timeout=WAIT
    )


async def arrives(driver: EmulatorDriver, user: EmulatedUser, start: str) -> Message:
    """The message to ``user`` starting with ``start`` (queued through the outbox)."""

    async def found() -> Message | None:
        return next(
            (m for m in await driver.messages(user.id) if (m.get("text") or "").startswith(start)),
            None,
        )

    return await eventually(found, within=WAIT)


async def audit(bot: WorkledgerApplication, action: str) -> list[AuditEvent]:
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        )


async def cases(bot: WorkledgerApplication) -> list[AppealCase]:
    async with bot.bot_data.database.uow() as uow:
        return list(await uow.session.scalars(select(AppealCase).order_by(AppealCase.id)))


async def file_request(
    driver: EmulatorDriver, user: EmulatedUser, card: Message, label: str, reason: str
) -> str:
    """Press ``label`` (Ask for review / Appeal), send the reason: the bot's reply."""
    [prompt] = await press_for_message(driver, user, card, label)
    assert "then your reason as a message" in prompt["text"], prompt["text"]
    return str((await reply_to(driver, user, reason))["text"])


async def test_a_review_changes_a_grade_within_the_quota_and_tells_the_person(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await store_facts(bot, "2026-11", FIVE, published=True)
    bot.bot_data.clock.set(at(date(2026, 12, 10)), frozen=True)
    card = await score_card(driver, org.staff)
    assert "Grade: Good" in card["text"]
    assert list(buttons(card)) == ["I have read it", "Ask for review", "Appeal"]
    assert (
        "You may ask for review of November 2026 until Jan 8, 2027 (29 days left).\n"
        "You may appeal November 2026 until Jan 8, 2027 (29 days left)."
    ) in card["text"]

    # Ask: the window is 30 days from the publication (9 December), the last day included.
    [prompt] = await press_for_message(driver, org.staff, card, "Ask for review")
    assert prompt["text"].startswith(
        "Ask for review of your result for November 2026: the last day to ask is "
        "Jan 8, 2027 (29 days left)."
    ), prompt["text"]
    # A document first, kept as evidence by its file id; then the reason files it.
    before = await last_id(driver, org.staff)
    await driver.send_document(org.staff, "counter-log.pdf", b"%PDF-1.4 counter log")
    [noted] = await driver.wait_for_message(org.staff.id, since_message_id=before, timeout=WAIT)
    assert noted["text"].startswith("Noted: 1 document as evidence.")
    filed = await reply_to(driver, org.staff, "The counter log shows 40 more permits than counted")
    assert filed["text"] == (
        "Your request for review of November 2026 is filed: it is to be decided by "
        "Jan 9, 2027 (30 days left)."
    )
    [case] = await cases(bot)
    assert (case.kind, case.status, case.due_on) == ("review", "open", date(2027, 1, 9))
    assert [item["kind"] for item in case.evidence] == ["document"]
    assert case.evidence[0]["name"] == "counter-log.pdf"
    # Asking twice is refused: one review per result.
    again = await answer_to_press(driver, org.staff, card, buttons(card)["Ask for review"])
    assert again == "You have asked for this already: see /appeal."

    # HR (the reviewer) is told through the outbox and opens the case: the breakdown,
    # the supervisor's review, the reason and the document.
    told = await arrives(driver, org.hr, "New review request from Su Yi (E011)")
    assert "to be decided by Jan 9, 2027 (30 days left)" in told["text"]
    # The administrator decides appeals, not reviews: not told.
    assert not any("Su Yi" in (m.get("text") or "") for m in await driver.messages(ADMIN.id))
    shown, document = await press_for_message(driver, org.hr, told, "Open the case", count=2)
    assert shown["text"].startswith("Review requested by Su Yi (E011) for November 2026")
    assert "Reason: The counter log shows 40 more permits than counted" in shown["text"]
    assert "Supervisor's review: signed off by Sun Li on Dec 9, 2026." in shown["text"]
    assert "Score: 91" in shown["text"] and "How it is made up:" in shown["text"]
    assert document["document"]["file_name"] == "counter-log.pdf"
    # Only a decider opens a case; the person cannot, however they forge the press.
    forged = AppealOpen(case.id).pack()
    assert await answer_to_press(driver, org.staff, card, forged) == NOT_PERMITTED

    # Excellent, with a reason: the free place under the quota.
    [question] = await press_for_message(driver, org.hr, shown, "Grade: Excellent")
    assert question["text"].startswith("Why give Excellent?")
    decided = await reply_to(driver, org.hr, "The uncounted permits lift her above 90")
    assert decided["text"] == (
        "Decided: Su Yi (E011)'s grade for November 2026 is now Excellent (was Good)."
    )
    score = await _score_of(bot, "E011")
    assert (score.grade_id, score.calibrated_grade_id) == ("good", "excellent")
    [event] = await audit(bot, "review.decided")
    before, after = event.details["before"], event.details["after"]
    assert (before["grade"], after["grade"]) == ("good", "excellent")
    assert before["score"] == after["score"] and float(before["score"]) == 91
    assert event.details["reason"] == "The uncounted permits lift her above 90"

    # The person is told privately, with the days left to appeal (15 from the decision).
    outcome = await arrives(driver, org.staff, "Your review of November 2026 is decided")
    assert outcome["text"] == (
        "Your review of November 2026 is decided: your grade is now Excellent (was Good).\n"
        "Reason: The uncounted permits lift her above 90\n"
        "You may appeal until Dec 25, 2026 (15 days left)."
    )
    assert list(buttons(outcome)) == ["Appeal"]
    assert "Grade: Excellent" in (await score_card(driver, org.staff))["text"]

    # The place is taken now: Sun Li's review cannot take a second one.
    sun_card = await score_card(driver, org.supervisor)
    await file_request(driver, org.supervisor, sun_card, "Ask for review", "Same score as Su Yi")
    told = await arrives(driver, org.hr, "New review request from Sun Li (E010)")
    [shown] = await press_for_message(driver, org.hr, told, "Open the case", count=1)
    await press_for_message(driver, org.hr, shown, "Grade: Excellent")
    refused = await reply_to(driver, org.hr, "Tied with Su Yi")
    assert refused["text"] == (
        "That would give more top grades than the quota allows in this scope."
    )
    assert (await _score_of(bot, "E010")).calibrated_grade_id is None

    # The supervisor sees their report's case and its outcome, never the reason.
    listing = await reply_to(driver, org.supervisor, "/appeal")
    assert (
        "Su Yi (E011): Review · November 2026: grade changed to Excellent on Dec 10, 2026"
        in listing["text"]
    )
    assert "counter log" not in listing["text"]
    # A colleague outside the supervisor's role sees only their own (none).
    colleague = await reply_to(driver, COLLEAGUE, "/appeal")
    assert "Su Yi" not in colleague["text"]
    # The person's /appeal lists the case and the appeal still open to them.
    mine = await reply_to(driver, org.staff, "/appeal")
    assert "Review · November 2026: grade changed to Excellent on Dec 10, 2026" in mine["text"]
    assert "You may appeal November 2026 until Dec 25, 2026 (15 days left)." in mine["text"]


async def test_an_appeal_one_day_late_is_refused_and_one_in_time_is_extended_once(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await store_facts(bot, "2026-11", FIVE, published=True)
    # The last day of the direct appeal (30 days from 9 December): still in time.
    bot.bot_data.clock.set(at(date(2027, 1, 8), hour=22), frozen=True)
    card = await score_card(driver, org.staff)
    filed = await file_request(driver, org.staff, card, "Appeal", "My counter log was ignored")
    assert filed == (
        "Your appeal of November 2026 is filed: it is to be decided by Mar 9, 2027 (60 days left)."
    )

    # One day later Sun Li is refused, with the day it was due.
    bot.bot_data.clock.set(at(date(2027, 1, 9), hour=0), frozen=True)
    sun_card = await score_card(driver, org.supervisor)
    late = await answer_to_press(driver, org.supervisor, sun_card, buttons(sun_card)["Appeal"])
    assert late == "Too late: an appeal of November 2026 could be made until Jan 8, 2027."
    review = buttons(sun_card)["Ask for review"]
    late_review = await answer_to_press(driver, org.supervisor, sun_card, review)
    assert late_review == "Too late: a review of November 2026 could be asked until Jan 8, 2027."
    assert len(await cases(bot)) == 1

    # The appeal goes to the head (the administrator), not to HR, who may not open it.
    told = await arrives(driver, ADMIN, "New appeal from Su Yi (E011)")
    [case] = await cases(bot)
    hr_open = AppealOpen(case.id).pack()
    assert await answer_to_press(driver, org.hr, told, hr_open) == NOT_PERMITTED

    bot.bot_data.clock.set(at(date(2027, 1, 9)), frozen=True)
    [shown] = await press_for_message(driver, ADMIN, told, "Open the case")
    assert "to be decided by Mar 9, 2027 (59 days left)" in shown["text"]
    [question] = await press_for_message(driver, ADMIN, shown, "Extend by 30 days")
    assert question["text"].startswith("Why put this appeal's decision back by 30 days?")
    extended = await reply_to(driver, ADMIN, "Awaiting the counter log from the archive")
    assert extended["text"] == (
        "Extended: the appeal is now to be decided by Apr 8, 2027 (89 days left)."
    )
    told_person = await arrives(driver, org.staff, "The decision on your appeal")
    assert told_person["text"] == (
        "The decision on your appeal of November 2026 is put back: it is due by "
        "Apr 8, 2027 (89 days left).\nReason: Awaiting the counter log from the archive"
    )
    [event] = await audit(bot, "appeal.extended")
    assert (event.details["before"], event.details["after"]) == ("2027-03-09", "2027-04-08")

    # Only once: the old card's button is stale, a fresh card has no button.
    again = await answer_to_press(driver, ADMIN, shown, buttons(shown)["Extend by 30 days"])
    assert again == "This case was decided or changed meanwhile: see /appeal."
    [fresh] = await press_for_message(driver, ADMIN, told, "Open the case")
    assert not any(label.startswith("Extend") for label in buttons(fresh))

    # The clocks: the head is reminded 3 days before the last day, once, and the case
    # is escalated once past it.
    data = bot.bot_data
    assert await run_clocks(data, date(2027, 4, 5), at(date(2027, 4, 5))) == 1
    assert await run_clocks(data, date(2027, 4, 5), at(date(2027, 4, 5), hour=11)) == 0
    assert await run_clocks(data, date(2027, 4, 9), at(date(2027, 4, 9))) == 1
    async with data.database.uow() as uow:
        texts = list(
            await uow.session.scalars(
                select(OutboxMessage.text)
                .where(OutboxMessage.kind == "appeal", OutboxMessage.chat_id == ADMIN.id)
                .order_by(OutboxMessage.id)
            )
        )
    assert texts[-2] == (
        "The appeal by Su Yi (E011) for November 2026 is to be decided by "
        "Apr 8, 2027 (3 days left)."
    )
    assert texts[-1] == (
        "Overdue: the appeal by Su Yi (E011) for November 2026 was due on Apr 8, 2027 "
        "(1 day late)."
    )

    # The head decides the appeal with a changed score: the grade follows it, within the
    # quota (the one place is free), and the person is told; the decision is final.
    [fresh] = await press_for_message(driver, ADMIN, told, "Open the case")
    [question] = await press_for_message(driver, ADMIN, fresh, "Change the score")
    assert question["text"].startswith("Send the new score (0 to 100) and then the reason")
    unclear = await reply_to(driver, ADMIN, "about ninety-three")
    assert unclear["text"].startswith("Please send the new score (0 to 100)"), "asked again"
    decided = await reply_to(driver, ADMIN, "93.5 The archive's counter log was found")
    assert decided["text"] == (
        "Decided: Su Yi (E011)'s score for November 2026 is now 93.5, grade Excellent "
        "(was 91, Good)."
    )
    outcome = await arrives(driver, org.staff, "Your appeal of November 2026 is decided")
    assert outcome["text"] == (
        "Your appeal of November 2026 is decided: your score is now 93.5 and your grade "
        "Excellent (was 91, Good).\nReason: The archive's counter log was found\n"
        "This decision is final in the bot."
    )
    score = await _score_of(bot, "E011")
    assert (float(score.score), score.calibrated_grade_id) == (93.5, "excellent")
    text = (await score_card(driver, org.staff))["text"]
    assert "Score: 93.5\nGrade: Excellent\n" in text
    assert "Changed on review or appeal; computed from the records: 91" in text
    [event] = await audit(bot, "appeal.decided")
    assert (event.details["before"]["grade"], event.details["after"]["grade"]) == (
        "good",
        "excellent",
    )
    assert float(event.details["after"]["score"]) == 93.5


async def test_the_wider_share_for_a_changed_grade_takes_the_administrators_approval(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Four scored: 20% of four is no place, 25% (with approval) is one.
    four = [Given("E010", 92), Given("E011", 91), Given("E100", 85), Given("E101", 72)]
    await store_facts(bot, "2026-11", four, published=True)
    bot.bot_data.clock.set(at(date(2026, 12, 10)), frozen=True)
    card = await score_card(driver, org.staff)
    await file_request(driver, org.staff, card, "Ask for review", "Best clearance rate")
    told = await arrives(driver, org.hr, "New review request from Su Yi (E011)")
    [shown] = await press_for_message(driver, org.hr, told, "Open the case")
    assert not any(label.startswith("Approve") for label in buttons(shown)), "HR may not"
    await press_for_message(driver, org.hr, shown, "Grade: Excellent")
    refused = await reply_to(driver, org.hr, "Best clearance rate in the bureau")
    assert refused["text"].startswith("That needs the wider top-grade share")
    assert (await _score_of(bot, "E011")).calibrated_grade_id is None

    # The head sees the open case in /appeal and approves the wider share, with a reason.
    listing = await reply_to(driver, ADMIN, "/appeal")
    assert "Su Yi (E011): Review · November 2026: open" in listing["text"]
    [overseen] = await press_for_message(driver, ADMIN, listing, "Open: Su Yi (E011)")
    assert list(buttons(overseen)) == ["Approve the wider share (25%)"], "not a decider"
    [question] = await press_for_message(driver, ADMIN, overseen, "Approve the wider share")
    assert question["text"].startswith("Why approve the wider top-grade share")
    approved = await reply_to(driver, ADMIN, "Bureau exceeded its annual targets")
    assert approved["text"].startswith(
        "The wider top-grade share is approved for this case's scope: at most 1 of 4"
    )
    async with bot.bot_data.database.uow() as uow:
        [approval] = list(await uow.session.scalars(select(QuotaApproval)))
    assert approval.reason == "Bureau exceeded its annual targets"
    [event] = await audit(bot, "quota.approved")
    [case] = await cases(bot)
    assert event.details["case"] == case.id

    # Now the reviewer may give the top grade: the one place.
    [shown] = await press_for_message(driver, org.hr, told, "Open the case")
    await press_for_message(driver, org.hr, shown, "Grade: Excellent")
    decided = await reply_to(driver, org.hr, "Best clearance rate in the bureau")
    assert decided["text"] == (
        "Decided: Su Yi (E011)'s grade for November 2026 is now Excellent (was Good)."
    )
    assert (await _score_of(bot, "E011")).calibrated_grade_id == "excellent"
