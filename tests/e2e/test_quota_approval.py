"""The quota's wider top-grade share, approved and withdrawn in /results, end to end.

The bot's clock stands on 9 December 2026, in November's calibration. The Permits Office
has four people scored (92, 91, 85 and 72): under the default policy's 20% of four,
counted down, nobody may have Excellent; with the approved 25%, one may. An
administrator (E002) approves and withdraws; HR (E001) calibrates.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from assessment.period_scoring import score_one
from assessment.periods import parse_key
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import ResultsQuota
from handlers.context import WorkledgerApplication
from storage.enums import Role
from storage.models import AssessmentPeriod, AuditEvent, PeriodScore, QuotaApproval, Staff

from .chat import Message, answer_to_press, buttons, introduce, press, say
from .people import Organisation, seed
from .test_results import Given, store_facts

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")
IN_CALIBRATION = datetime(2026, 12, 9, 10, 0, tzinfo=ZONE)
ADMIN = EmulatedUser(id=9020, first_name="Ke", language_code="en")
NOT_PERMITTED = "Sorry, you do not have permission to do that."
FOUR = [Given("E010", 92), Given("E011", 91), Given("E100", 85), Given("E101", 72)]


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    async with bot.bot_data.database.uow() as uow:
        [hr] = await uow.staff.by_employee_nos(["E001"])
        uow.session.add(
            Staff(employee_no="E002", name="Ke Ming", department_id=hr.department_id,
                  roles=Role.STAFF | Role.ADMIN, telegram_user_id=ADMIN.id, language="en")
        )  # fmt: skip
        await uow.commit()
    await introduce(driver, organisation.hr, organisation.supervisor, ADMIN)
    bot.bot_data.clock.set(IN_CALIBRATION, frozen=True)
    await store_facts(bot, "2026-11", FOUR)
    return organisation


async def office_card(driver: EmulatorDriver, user: EmulatedUser) -> Message:
    overview = await say(driver, user, "/results")
    return await press(driver, user, overview, "Permits Office")


async def grades(bot: WorkledgerApplication) -> dict[str, tuple[str, str | None]]:
    """Employee number -> (grade given under the quota, HR's calibrated grade)."""
    async with bot.bot_data.database.uow() as uow:
        rows = await uow.session.execute(
            select(Staff.employee_no, PeriodScore.grade_id, PeriodScore.calibrated_grade_id).join(
                Staff, Staff.id == PeriodScore.staff_id
            )
        )
        return {number: (grade, calibrated) for number, grade, calibrated in rows}


async def approvals(bot: WorkledgerApplication) -> list[QuotaApproval]:
    async with bot.bot_data.database.uow() as uow:
        return list(await uow.session.scalars(select(QuotaApproval)))


async def audit(bot: WorkledgerApplication, action: str) -> list[AuditEvent]:
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        )


async def change_quota(driver: EmulatorDriver, card: Message, label: str, reason: str) -> str:
    """The administrator presses Approve or Withdraw, then sends the reason: the reply."""
    await driver.press(ADMIN, card["message_id"], buttons(card)[label])
    [question] = await driver.wait_for_message(ADMIN.id)
    assert question["text"].startswith("Why "), question["text"]
    return str((await say(driver, ADMIN, reason))["text"])


async def calibrate(driver: EmulatorDriver, org: Organisation, label: str, grade: str) -> str:
    """HR gives the person on ``label`` the grade ``grade`` with a reason: the reply."""
    card = await press(driver, org.hr, await office_card(driver, org.hr), label)
    await driver.press(org.hr, card["message_id"], buttons(card)[grade])
    [question] = await driver.wait_for_message(org.hr.id)
    assert question["text"].startswith("Why give"), question["text"]
    return str((await say(driver, org.hr, "Led the permit backlog clearance"))["text"])


async def test_an_administrator_approves_the_wider_share_and_withdraws_it(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # HR sees the quota but may not widen it; the administrator may.
    card = await office_card(driver, org.hr)
    assert "Top grade (Excellent): 0 given, at most 0 of 4 (20%)." in card["text"]
    assert not any(label.startswith("Approve the wider") for label in buttons(card))
    card = await office_card(driver, ADMIN)
    assert "Top grade (Excellent): 0 given, at most 0 of 4 (20%)." in card["text"]
    assert "Approve the wider share (25%)" in buttons(card)
    assert (await grades(bot))["E010"] == ("good", None), "no place under 20% of four"

    # A forged press by HR (not an administrator) is refused and records nothing.
    async with bot.bot_data.database.uow() as uow:
        period = await uow.session.scalar(
            select(AssessmentPeriod).where(AssessmentPeriod.key == "2026-11")
        )
        [office] = [s.department_id for s in await uow.staff.by_employee_nos(["E010"])]
    assert period is not None
    forged = ResultsQuota(period.id, office, 1).pack()
    assert await answer_to_press(driver, org.hr, card, forged) == NOT_PERMITTED
    assert await approvals(bot) == []

    # Approved, with a reason: recorded, audited, and the grades given under 25%.
    reply = await change_quota(
        driver, card, "Approve the wider share (25%)", "Bureau exceeded its annual targets"
    )
    assert reply == (
        "The wider top-grade share is approved for Permits Office in November 2026: "
        "at most 1 of 4 may have Excellent."
    )
    [approval] = await approvals(bot)
    async with bot.bot_data.database.uow() as uow:
        [admin] = await uow.staff.by_employee_nos(["E002"])
    assert (approval.scope_key, approval.department_id) == (str(office), office)
    assert approval.approved_by_id == admin.id
    assert approval.reason == "Bureau exceeded its annual targets"
    assert approval.approved_at.astimezone(ZONE) == IN_CALIBRATION
    assert approval.withdrawn_at is None
    [event] = await audit(bot, "quota.approved")
    assert event.actor_staff_id == admin.id
    assert event.details == {
        "period": "2026-11",
        "scope": str(office),
        "share": "0.25",
        "reason": "Bureau exceeded its annual targets",
    }
    assert (await grades(bot))["E010"] == ("excellent", None)
    assert (await grades(bot))["E011"] == ("good", None), "one place: the best score's"

    card = await office_card(driver, ADMIN)
    assert "Top grade (Excellent): 1 given, at most 1 of 4 (25%)." in card["text"]
    assert (
        "Wider share approved by Ke Ming on 2026-12-09: Bureau exceeded its annual targets"
        in card["text"]
    )
    assert "Withdraw the wider share" in buttons(card)
    # The supervisor's card counts the same places.
    policy = bot.bot_data.policy
    month = parse_key("2026-11", policy)
    assert month is not None
    async with bot.bot_data.database.uow() as uow:
        [su_yi] = await uow.staff.by_employee_nos(["E011"])
        found = await score_one(uow, policy, month, su_yi.id)
    assert found is not None
    assert (found[1].quota.cap, found[1].places_left) == (1, 0)

    # HR's calibration may give the place to another (Sun Li down, Su Yi up); withdrawing
    # is then refused, since the calibrated Excellent needs the wider share.
    told = await calibrate(driver, org, "E010 Sun Li", "Good")
    assert told.startswith("Sun Li (E010)'s grade is now Good"), told
    told = await calibrate(driver, org, "E011 Su Yi", "Excellent")
    assert told.startswith("Su Yi (E011)'s grade is now Excellent"), told
    reply = await change_quota(driver, card, "Withdraw the wider share", "Approved in error")
    assert reply == (
        "Not withdrawn: HR's calibrated grades in Permits Office need the wider share. "
        "Under the ordinary share at most 0 may have Excellent; HR would have to "
        "calibrate first."
    )
    assert (await approvals(bot))[0].withdrawn_at is None
    assert await audit(bot, "quota.withdrawn") == []

    # Once HR calibrated it back, withdrawing goes through and the grades are given afresh.
    told = await calibrate(driver, org, "E011 Su Yi", "Good")
    assert told.startswith("Su Yi (E011)'s grade is now Good"), told
    card = await office_card(driver, ADMIN)
    reply = await change_quota(driver, card, "Withdraw the wider share", "Approved in error")
    assert reply == (
        "The wider top-grade share of Permits Office in November 2026 is withdrawn: at most "
        "0 of 4 may have Excellent, and the grades are given afresh."
    )
    [approval] = await approvals(bot)
    assert approval.withdrawn_at is not None and approval.withdrawn_by_id == admin.id
    assert approval.withdrawal_reason == "Approved in error"
    [event] = await audit(bot, "quota.withdrawn")
    assert event.details == {
        "period": "2026-11",
        "scope": str(office),
        "reason": "Approved in error",
    }
    after = await grades(bot)
    assert after["E010"] == ("good", "good"), "given afresh under 20%; HR's grade kept"
    assert after["E011"] == ("good", "good")
    card = await office_card(driver, ADMIN)
    assert "Top grade (Excellent): 0 given, at most 0 of 4 (20%)." in card["text"]
    assert "Approve the wider share (25%)" in buttons(card)


async def test_publication_counts_the_approved_share_and_then_it_stays(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Human Resources reviewed too, so that nobody blocks the publication.
    await store_facts(bot, "2026-11", [Given("E001", 75), Given("E002", 75)])
    card = await office_card(driver, ADMIN)
    await change_quota(driver, card, "Approve the wider share (25%)", "Targets exceeded")
    card = await office_card(driver, ADMIN)
    overview = await say(driver, org.hr, "/results")
    before = (await driver.messages(org.hr.id))[-1]["message_id"]
    await driver.press(org.hr, overview["message_id"], buttons(overview)["Publish"])
    replies = await driver.wait_for_message(org.hr.id, count=2, since_message_id=before)
    assert replies[0]["text"] == "November 2026 is published.", replies[0]["text"]
    assert (await grades(bot))["E010"] == ("excellent", None)

    # Published: no button, and a press made before is refused.
    fresh = await office_card(driver, ADMIN)
    assert not any("wider share" in label for label in buttons(fresh))
    assert await answer_to_press(
        driver, ADMIN, card, buttons(card)["Withdraw the wider share"]
    ) == ("That period's results are published: they change only through an appeal.")
    assert (await approvals(bot))[0].withdrawn_at is None
