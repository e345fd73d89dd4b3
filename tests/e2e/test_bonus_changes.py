"""A period's bonus changed after HR set it, end to end: an allowance withdrawn in chat
(the preview's totals follow; once the run is published, the next correction recovers it
and the person is told; every bad input answered in the user's language), and a review
that raises a grade leading HR, by the button of the prompt it sends them, to a
correction that pays exactly the difference.

The Permits Office's clerks have a post difficulty of 1.15; the default policy's base is
1000.00 CNY and its hardship allowance 300.00.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select, update

from assessment.results import notices_key
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import BonusCorrect, BonusWithdraw
from handlers.context import WorkledgerApplication
from storage.models import AuditEvent, BonusAllowance, Staff

from .chat import Message, answer_to_press, buttons, introduce, stop_timed_jobs
from .people import Organisation, seed, seed_with_colleague
from .test_appeals import FIVE, PUBLISHED, arrives, at, file_request, reply_to, score_card
from .test_bonus import HARDSHIP, expected, grades, preview, published, told, yuan
from .test_results import IN_CALIBRATION, store_facts

pytestmark = pytest.mark.e2e

NOT_PERMITTED = "Sorry, you do not have permission to do that."
RECOVERED = (
    "Withdrawn: Su Yi (E011)'s Hardship post (CN¥300.00) for November 2026. "
    "Reason: Moved to the city office in October\n"
    "Bonus run 1 of November 2026 paid it: the next correction (/bonus 2026-11 REASON) "
    "recovers CN¥300.00 from Su Yi (E011)."
)
REASON = "已发布的结果经复核或申诉后变更。"
NOT_IN_FORCE = "That allowance is not in force: it was withdrawn, or never assigned."
QUESTION = (
    "Why withdraw Su Yi (E011)'s Hardship post for November 2026? Send the reason (or /cancel)."
)


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    bot.bot_data.clock.set(IN_CALIBRATION, frozen=True)
    return organisation


async def allowances(bot: WorkledgerApplication) -> list[BonusAllowance]:
    async with bot.bot_data.database.uow() as uow:
        return list(await uow.session.scalars(select(BonusAllowance)))


async def withdrawals(bot: WorkledgerApplication) -> list[AuditEvent]:
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "bonus.allowance_withdrawn")
            )
        )


async def listed(driver: EmulatorDriver, user: EmulatedUser, text: str) -> Message:
    return await reply_to(driver, user, text)


async def ask_to_withdraw(driver: EmulatorDriver, org: Organisation, card: Message) -> str:
    before = await last_message_id(driver, org.hr)
    await driver.press(org.hr, card["message_id"], buttons(card)["Withdraw: Hardship post"])
    [question] = await driver.wait_for_message(org.hr.id, since_message_id=before, timeout=10)
    return str(question["text"])


async def last_message_id(driver: EmulatorDriver, user: EmulatedUser) -> int:
    messages = await driver.messages(user.id)
    return int(messages[-1]["message_id"]) if messages else 0


def total_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.endswith(" in all."))


async def test_hr_withdraws_an_allowance_and_the_preview_pays_without_it(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await published(bot)
    given = await grades(bot)
    assigned = await reply_to(driver, org.hr, "/allowance 2026-11 E011 hardship Mountain station")
    assert assigned["text"] == "E011: Hardship post (CN¥300.00) for November 2026."
    with_it, _ = await preview(driver, org, "/bonus 2026-11")
    total = sum((expected(bot, given[n]) for n in ("E010", "E011", "E101")), HARDSHIP)
    assert total_line(str(with_it["text"])) == f"3 people, {yuan(total)} in all."

    card = await listed(driver, org.hr, "/allowance 2026-11 E011")
    assert card["text"] == (
        "Su Yi (E011)'s allowances for November 2026:\n"
        "• Hardship post (CN¥300.00): Mountain station"
    )
    assert list(buttons(card)) == ["Withdraw: Hardship post"]
    # Asked, then cancelled: it stands.
    assert await ask_to_withdraw(driver, org, card) == QUESTION
    cancelled = await reply_to(driver, org.hr, "/cancel")
    assert cancelled["text"] == "Cancelled; the allowance stands."
    assert [a.withdrawn_at for a in await allowances(bot)] == [None]

    # A document is no reason; then the reason withdraws it.
    assert await ask_to_withdraw(driver, org, card) == QUESTION
    before = await last_message_id(driver, org.hr)
    await driver.send_document(org.hr, "memo.pdf", b"%PDF-1.4 memo")
    [refused] = await driver.wait_for_message(org.hr.id, since_message_id=before, timeout=10)
    assert refused["text"] == "Please send the reason as a text message."
    done = await reply_to(driver, org.hr, "Moved to the city office in October")
    assert done["text"] == (
        "Withdrawn: Su Yi (E011)'s Hardship post (CN¥300.00) for November 2026. "
        "Reason: Moved to the city office in October\n"
        "The period's next preview (/bonus 2026-11) pays without it."
    )
    [event] = await withdrawals(bot)
    assert event.details["reason"] == "Moved to the city office in October"

    # The preview computed before would pay it: set aside. The next one pays without it.
    stale = await answer_to_press(driver, org.hr, with_it, buttons(with_it)["Publish and notify"])
    assert stale == "This preview was replaced by a newer one."
    without, content = await preview(driver, org, "/bonus 2026-11")
    assert total_line(str(without["text"])) == f"3 people, {yuan(total - HARDSHIP)} in all."
    assert content
    # Pressed again: not in force any more.
    again = await answer_to_press(driver, org.hr, card, buttons(card)["Withdraw: Hardship post"])
    assert again == NOT_IN_FORCE
    assert len(await withdrawals(bot)) == 1


async def test_every_bad_withdrawal_is_answered_in_the_users_language(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await published(bot)
    await reply_to(driver, org.hr, "/allowance 2026-11 E011 hardship Mountain station")
    [allowance] = await allowances(bot)
    answers = {
        "/allowance 2026-11 E999": "Nobody on the roster has that employee number.",
        "/allowance 2025-01 E011": "There is no such period.",
        "/allowance 2026-11 E010": "Sun Li (E010) has no allowance for November 2026.",
    }
    for text, answer in answers.items():
        assert (await reply_to(driver, org.hr, text))["text"] == answer, text
    usage = await reply_to(driver, org.hr, "/allowance 2026-13 E011")
    assert str(usage["text"]).endswith(
        "To see or withdraw a person's allowances: /allowance YYYY-MM EMPLOYEE_NO"
    )
    card = await reply_to(driver, org.hr, "/allowance 2026-11 E011")
    # Forged presses: by someone not HR, of an allowance there is not.
    forged = BonusWithdraw(allowance.id).pack()
    assert await answer_to_press(driver, org.staff, card, forged) == NOT_PERMITTED
    nothing = BonusWithdraw(allowance.id + 1000).pack()
    assert await answer_to_press(driver, org.hr, card, nothing) == NOT_IN_FORCE
    not_a_case = BonusCorrect(allowance.id + 1000, 1).pack()
    assert await answer_to_press(driver, org.hr, card, not_a_case) == (
        "There is no changed result of that case to correct."
    )
    # Too long a reason: asked again; nothing written.
    await driver.press(org.hr, card["message_id"], buttons(card)["Withdraw: Hardship post"])
    await arrives(driver, org.hr, "Why withdraw")
    too_long = await reply_to(driver, org.hr, "x" * 501)
    assert too_long["text"] == "That reason is too long: at most 500 characters."
    assert await withdrawals(bot) == []
    await reply_to(driver, org.hr, "/cancel")

    # In Chinese for HR who reads Chinese.
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(Staff).where(Staff.employee_no == "E001").values(language="zh_Hans")
        )
        await uow.commit()
    chinese = await reply_to(driver, org.hr, "/allowance 2026-11 E999")
    assert chinese["text"] == "名册中没有这个工号。"
    none = await reply_to(driver, org.hr, "/allowance 2026-11 E010")
    assert none["text"] == "Sun Li（E010）2026年11月没有津贴。"
    assert [a.withdrawn_at for a in await allowances(bot)] == [None]


async def test_hr_withdraws_a_paid_allowance_and_the_correction_recovers_it(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await published(bot)
    given = await grades(bot)
    await reply_to(driver, org.hr, "/allowance 2026-11 E011 hardship Mountain station")
    card = await reply_to(driver, org.hr, "/allowance 2026-11 E011")
    # The reason is asked before publication and given after: withdrawn, to be recovered.
    assert await ask_to_withdraw(driver, org, card) == QUESTION
    run, _ = await preview(driver, org, "/bonus 2026-11")
    await driver.press(org.hr, run["message_id"], buttons(run)["Publish and notify"])
    await told(driver, org.hr.id, "The bonus of November 2026 is published (run 1)")
    notice = await told(driver, org.staff.id, "Your bonus for November 2026")
    assert "Allowances: CN¥300.00." in notice
    late = await reply_to(driver, org.hr, "Moved to the city office in October")
    assert late["text"] == RECOVERED
    [event] = await withdrawals(bot)
    assert (event.details["paid_by"], event.details["kind"]) == (1, "hardship")
    # The card's button, pressed again: not in force any more.
    stale = await answer_to_press(driver, org.hr, card, buttons(card)["Withdraw: Hardship post"])
    assert stale == NOT_IN_FORCE

    # An allowance assigned after publication is listed with the note and its button;
    # withdrawn before any correction paid it, there is nothing to recover.
    later = await reply_to(driver, org.hr, "/allowance 2026-11 E010 hardship Night shifts")
    assert later["text"] == (
        "E010: Hardship post (CN¥300.00) for November 2026.\n"
        "The bonus of November 2026 is published already: only a correction pays it "
        "(/bonus 2026-11 REASON)."
    )
    shown = await reply_to(driver, org.hr, "/allowance 2026-11 E010")
    assert shown["text"] == (
        "Sun Li (E010)'s allowances for November 2026:\n"
        "• Hardship post (CN¥300.00): Night shifts\n\n"
        "Bonus run 1 of November 2026 is published: an allowance it paid and withdrawn now "
        "is recovered by the next correction (/bonus 2026-11 REASON)."
    )
    assert list(buttons(shown)) == ["Withdraw: Hardship post"]
    await driver.press(org.hr, shown["message_id"], buttons(shown)["Withdraw: Hardship post"])
    await arrives(driver, org.hr, "Why withdraw Sun Li (E010)'s Hardship post")
    unpaid = await reply_to(driver, org.hr, "Assigned to the wrong person")
    assert str(unpaid["text"]).endswith(
        "\nThe period's next preview (/bonus 2026-11) pays without it."
    )

    # The correction recovers exactly the allowance, from Su Yi only.
    correction, content = await preview(driver, org, "/bonus 2026-11 Hardship allowance withdrawn")
    text = str(correction["text"])
    assert text.startswith(
        "Bonus correction for November 2026 (preview): Hardship allowance withdrawn"
    ), text
    assert f"This run pays or recovers -{yuan(HARDSHIP)} in all." in text
    total = sum((expected(bot, given[n]) for n in ("E010", "E011", "E101")), Decimal(0))
    assert total_line(text) == f"3 people, {yuan(total)} in all."
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    assert sheet is not None
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    # Allowances, bonus, paid before, paid by this run.
    assert rows["E011"][7:11] == (
        Decimal(0),
        expected(bot, given["E011"]),
        expected(bot, given["E011"], HARDSHIP),
        -HARDSHIP,
    )
    assert rows["E010"][10] == rows["E101"][10] == 0
    await driver.press(org.hr, correction["message_id"], buttons(correction)["Publish and notify"])
    done = await told(driver, org.hr.id, "The bonus of November 2026 is published (run 2)")
    assert done.endswith("Its notice is on its way to 1 person."), done
    recovered = await told(driver, org.staff.id, "A correction of your bonus")
    assert recovered.splitlines()[:3] == [
        "A correction of your bonus for November 2026: Hardship allowance withdrawn",
        f"You are now entitled to {yuan(expected(bot, given['E011']))}; paid before: "
        f"{yuan(expected(bot, given['E011'], HARDSHIP))}.",
        f"This correction recovers {yuan(HARDSHIP)}.",
    ]
    assert "Allowances:" not in recovered
    assert [a.withdrawn_at is not None for a in await allowances(bot)] == [True, True]


async def test_a_review_that_raises_a_grade_leads_hr_to_a_correction_of_the_difference(
    bot: WorkledgerApplication, driver: EmulatorDriver
) -> None:
    org = await seed_with_colleague(bot.bot_data.database)
    stop_timed_jobs(bot)
    await introduce(driver, org.hr, org.supervisor, org.staff)
    bot.bot_data.clock.set(PUBLISHED, frozen=True)
    await store_facts(bot, "2026-11", FIVE, published=True)
    async with bot.bot_data.database.uow() as uow:
        await uow.claims.claim(notices_key("2026-11"), bot.bot_data.clock.now())
        await uow.commit()
    assert (await grades(bot))["E011"] == "good"
    # The next day, before anything is sent: the clock moves no more while messages go.
    bot.bot_data.clock.set(at(date(2026, 12, 10)), frozen=True)

    run, _ = await preview(driver, org, "/bonus 2026-11")
    await driver.press(org.hr, run["message_id"], buttons(run)["Publish and notify"])
    await told(driver, org.hr.id, "The bonus of November 2026 is published (run 1)")
    was_paid = expected(bot, "good")
    first = await told(driver, org.staff.id, "Your bonus for November 2026")
    assert first.startswith(f"Your bonus for November 2026: {yuan(was_paid)}.")

    # Su Yi asks for review; HR raises her grade to Excellent (the free place).
    card = await score_card(driver, org.staff)
    await file_request(driver, org.staff, card, "Ask for review", "Forty permits uncounted")
    request = await arrives(driver, org.hr, "New review request from Su Yi (E011)")
    before = await last_message_id(driver, org.hr)
    await driver.press(org.hr, request["message_id"], buttons(request)["Open the case"])
    [case] = await driver.wait_for_message(org.hr.id, since_message_id=before, timeout=20)
    grade = next(d for t, d in buttons(case).items() if t.startswith("Grade: Excellent"))
    before = await last_message_id(driver, org.hr)
    await driver.press(org.hr, case["message_id"], grade)
    await driver.wait_for_message(org.hr.id, since_message_id=before, timeout=20)
    # The reply and the prompt (through the outbox) may come in either order.
    await driver.send_text(org.hr, "The uncounted permits lift her above 90")
    decided = await arrives(driver, org.hr, "Decided: ")
    assert decided["text"] == (
        "Decided: Su Yi (E011)'s grade for November 2026 is now Excellent (was Good)."
    )

    # HR is told once which person and period changed, with no money.
    prompt = await arrives(driver, org.hr, "Su Yi (E011)'s grade for November 2026 was changed")
    assert prompt["text"] == (
        "Su Yi (E011)'s grade for November 2026 was changed on review: Good → Excellent. "
        "Bonus run 1 paid the grade before: a correction pays or recovers the difference."
    )
    assert list(buttons(prompt)) == ["Preview the correction"]
    # The person hears of the decision, not of money, until the correction is published.
    outcome = await arrives(driver, org.staff, "Your review of November 2026 is decided")
    assert "CN¥" not in outcome["text"]
    texts = [str(m.get("text") or "") for m in await driver.messages(org.staff.id)]
    assert [text for text in texts if "CN¥" in text] == [first]

    before = await last_message_id(driver, org.hr)
    await driver.press(org.hr, prompt["message_id"], buttons(prompt)["Preview the correction"])
    correction, sheet = await driver.wait_for_message(
        org.hr.id, count=2, since_message_id=before, timeout=20
    )
    difference = expected(bot, "excellent") - was_paid
    assert difference == Decimal("115.00")
    text = str(correction["text"])
    # The correction's reason, given in every notice of it, is in the organisation's
    # language (zh_Hans here) and names nobody.
    assert text.startswith(f"Bonus correction for November 2026 (preview): {REASON}"), text
    assert f"This run pays or recovers {yuan(difference)} in all." in text
    assert sheet["document"]["file_name"].endswith(".xlsx")
    await driver.press(org.hr, correction["message_id"], buttons(correction)["Publish and notify"])
    done = await told(driver, org.hr.id, "The bonus of November 2026 is published (run 2)")
    assert done.endswith("Its notice is on its way to 1 person."), done
    paid = await told(driver, org.staff.id, "A correction of your bonus")
    assert paid.startswith(f"A correction of your bonus for November 2026: {REASON}")
    assert f"You are now entitled to {yuan(expected(bot, 'excellent'))}" in paid
    assert f"This correction pays you {yuan(difference)}." in paid
    # The prompt's button, pressed again: the correction is paid; nothing is computed.
    again = await answer_to_press(
        driver, org.hr, prompt, buttons(prompt)["Preview the correction"]
    )
    assert again == "A correction published since then pays this change already: see /bonus."
    prompts = [
        m
        for m in await driver.messages(org.hr.id)
        if str(m.get("text", "")).startswith("Su Yi (E011)'s grade for November 2026 was")
    ]
    assert len(prompts) == 1
