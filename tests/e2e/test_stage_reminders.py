"""The monthly check's reminders through the emulator: in each recipient's language, once.

The job is driven directly at fixed moments (``send_stage_reminders(bot_data, now)``),
with the bot's clock (which the outbox sender reads) standing still at the same moment,
so nothing depends on today's date. Reviews are written straight into the store, as
/self and /review leave them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from assessment.periods import ensure_period, parse_key
from bot.app import build_application
from bot.emulator import EmulatorDriver
from config.policy import load_policy
from config.settings import Settings
from handlers.context import WorkledgerApplication
from handlers.stage_reminders import send_stage_reminders
from storage.engine import Database
from storage.enums import EntryStatus
from storage.models import OutboxMessage, PeriodReview, Staff, WorkEntry

from .chat import introduce
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
SELF_DUE = date(2026, 12, 1)  # 3 December less reminder_days_before_due (2)
REVIEW_DUE = date(2026, 12, 4)  # 7 December less 2 is a Saturday: the Friday before
OVERDUE = date(2026, 12, 9)  # 7 December and escalate_after_days (2)
NOVEMBER_WORKDAYS = [
    date(2026, 11, day)
    for day in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30)
]


def at(day: date, hour: int = 9, minute: int = 31) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    # Su Yi reads Simplified Chinese, Hu Rong Traditional; Sun Li chose nothing, and their
    # phone is in English.
    async with bot.bot_data.database.uow() as uow:
        for number, language in (("E011", "zh_Hans"), ("E001", "zh_Hant")):
            await uow.session.execute(
                update(Staff).where(Staff.employee_no == number).values(language=language)
            )
        await uow.commit()
    return organisation


async def _staff_id(bot: WorkledgerApplication, employee_no: str) -> int:
    async with bot.bot_data.database.uow() as uow:
        staff = await uow.staff.by_employee_no(employee_no)
        assert staff is not None
        return staff.id


async def _entries(bot: WorkledgerApplication, employee_no: str) -> None:
    """Su Yi's November: every workday but the last two, one returned, one pending."""
    staff_id = await _staff_id(bot, employee_no)
    statuses = {date(2026, 11, 3): EntryStatus.RETURNED, date(2026, 11, 4): EntryStatus.SUBMITTED}
    async with bot.bot_data.database.uow() as uow:
        for day in NOVEMBER_WORKDAYS[:-2]:
            uow.session.add(
                WorkEntry(
                    staff_id=staff_id,
                    work_date=day,
                    text="permits",
                    status=statuses.get(day, EntryStatus.APPROVED),
                )
            )
        await uow.commit()


async def _signed_off(bot: WorkledgerApplication, employee_no: str) -> None:
    staff_id = await _staff_id(bot, employee_no)
    november = parse_key("2026-11", bot.bot_data.policy)
    assert november is not None
    moment = datetime(2026, 12, 5, tzinfo=UTC)
    async with bot.bot_data.database.uow() as uow:
        period_id = await ensure_period(uow, november, now=moment)
        person = await uow.session.get(Staff, staff_id)
        assert person is not None
        uow.session.add(
            PeriodReview(
                period_id=period_id,
                staff_id=staff_id,
                department_id=person.department_id,
                reviewer_id=person.supervisor_id,
                self_text="done",
                self_submitted_at=moment,
                signed_off_at=moment,
                signed_off_by_id=person.supervisor_id,
            )
        )
        await uow.commit()


async def _send(bot: WorkledgerApplication, now: datetime) -> dict[str, int | None]:
    bot.bot_data.clock.set(now, frozen=True)
    return await send_stage_reminders(bot.bot_data, now)


async def _texts(driver: EmulatorDriver, chat_id: int) -> list[str]:
    return [str(message.get("text", "")) for message in await driver.messages(chat_id)]


async def test_close_your_period_in_each_recipients_language(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await _entries(bot, "E011")
    assert await _send(bot, at(date(2026, 11, 30))) == {}, "the day before"
    assert await _send(bot, at(SELF_DUE, 9, 29)) == {}, "before 09:30"
    # Hu Rong, Sun Li, Su Yi; not Lou (left), Ma Qing and Tang Wen (not joined).
    assert await _send(bot, at(SELF_DUE)) == {"monthly-check/2026-11/self-due": 3}

    [for_su] = await driver.wait_for_message(org.staff.id, timeout=10)
    assert for_su["text"].splitlines() == [
        "您2026年11月的自评将于2026年12月3日截止。请完成本期考核：",
        "• 2个工作日没有记录：11月27日、11月30日。请用 /log 补记。",
        "• 1条记录被退回修改：请通过 /month 查看。",
        "• 1条记录仍在等待审核。",
        "• 您的自评尚未提交：请发送 /self。",
    ]
    [for_sun] = await driver.wait_for_message(org.supervisor.id, timeout=10)
    days = ", ".join(f"Nov {day.day}" for day in NOVEMBER_WORKDAYS)
    assert for_sun["text"].splitlines() == [
        "Your self-assessment of November 2026 is due on Dec 3, 2026. Close your period:",
        f"• 21 workdays with no entry: {days}. Log them with /log.",
        "• Your self-assessment is still missing: send /self.",
    ]
    [for_hu] = await driver.wait_for_message(org.hr.id, timeout=10)
    lines = for_hu["text"].splitlines()
    assert lines[0] == "您2026年11月的自評將於2026年12月3日截止。請完成本期考核："
    assert lines[1].startswith("• 21個工作日沒有記錄：11月2日、11月3日、")
    assert lines[-1] == "• 您的自評尚未提交：請傳送 /self。"
    assert not [t for t in await _texts(driver, org.left.id) if "/self" in t], "left"

    # One row per person, keyed by the period, the reminder and them (beside them, the
    # approval request E011's entries sent their supervisor, whenever its job ran).
    rows = await _outbox_rows(bot)
    ids = [await _staff_id(bot, number) for number in ("E001", "E010", "E011")]
    reminders = [row for row in rows if (row.dedup_key or "").startswith("monthly-check/")]
    assert sorted(row.dedup_key or "" for row in reminders) == sorted(
        f"monthly-check/2026-11/self-due/staff/{staff_id}" for staff_id in ids
    )
    assert await _send(bot, at(date(2026, 12, 2))) == {}, "the day after"


async def _outbox_rows(bot: WorkledgerApplication) -> list[OutboxMessage]:
    async with bot.bot_data.database.uow() as uow:
        return list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_supervisors_are_reminded_of_their_teams_reviews(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    assert await _send(bot, at(date(2026, 12, 3))) == {}
    assert await _send(bot, at(REVIEW_DUE)) == {"monthly-check/2026-11/review-due": 1}
    [reminder] = await driver.wait_for_message(org.supervisor.id, timeout=10)
    # Ma Qing has not joined the bot, but is reviewed all the same.
    assert reminder["text"].splitlines() == [
        "Your team's reviews of November 2026 are due on Dec 7, 2026.",
        "2 reviews are not signed off yet: Su Yi (E011), Ma Qing (E100)",
        "Open /review to review them.",
    ]
    assert await _send(bot, at(date(2026, 12, 5))) == {}


async def test_hr_learn_of_reviews_overdue_only_once_they_are(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await _signed_off(bot, "E011")
    assert await _send(bot, at(date(2026, 12, 8))) == {}, "not overdue yet"
    assert await _send(bot, at(OVERDUE)) == {"monthly-check/2026-11/review-overdue": 1}
    [notice] = await driver.wait_for_message(org.hr.id, timeout=10)
    # Hu Rong, Sun Li and Tang Wen have no supervisor; Ma Qing is Sun Li's to review.
    assert notice["text"].splitlines() == [
        "2026年11月的考核已逾期：截止日期為2026年12月7日。",
        "4份考核尚未簽核。按考核人：",
        "• 無考核人：3",
        "• Sun Li（E010）：1",
    ]
    assert not [t for t in await _texts(driver, org.supervisor.id) if "overdue" in t]


@pytest.fixture
async def second_instance(settings: Settings) -> AsyncIterator[WorkledgerApplication]:
    """Another bot process on the same database (not polling: it only runs jobs)."""
    application = build_application(settings, load_policy())
    database = Database(settings.database_url)
    application.bot_data.attach(database)
    try:
        yield application
    finally:
        await database.dispose()


async def test_two_bots_on_one_store_send_each_reminder_once(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    second_instance: WorkledgerApplication,
) -> None:
    now = at(SELF_DUE)
    bot.bot_data.clock.set(now, frozen=True)
    before = len(await driver.calls("sendMessage"))  # the setup's own messages (/help...)
    first, second = await asyncio.gather(
        send_stage_reminders(bot.bot_data, now),
        send_stage_reminders(second_instance.bot_data, now),
    )
    key = "monthly-check/2026-11/self-due"
    assert sorted([first[key], second[key]], key=str) == [3, None]
    # Ticks later that day, on both: nothing more.
    for application in (bot, second_instance):
        assert await send_stage_reminders(application.bot_data, at(SELF_DUE, 15)) == {key: None}
    for user in (org.hr, org.supervisor, org.staff):
        await driver.wait_for_message(user.id, timeout=10)
    await driver.send_text(org.staff, "/help")  # a round trip: the sender had its chance
    [helped] = await driver.wait_for_message(org.staff.id)
    sent = [
        int(call["params"]["chat_id"])
        for call in (await driver.calls("sendMessage"))[before:]
        if "/self" in str(call["params"].get("text"))
        and call["params"].get("text") != helped["text"]
    ]
    assert sorted(sent) == sorted([org.hr.id, org.supervisor.id, org.staff.id])


async def test_the_bots_minute_job_sends_them_by_its_clock(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    assert bot.job_queue is not None
    [job] = bot.job_queue.get_jobs_by_name("monthly-check")
    bot.bot_data.clock.set(at(REVIEW_DUE, 9, 29), frozen=True)
    await job.run(bot)
    bot.bot_data.clock.set(at(REVIEW_DUE), frozen=True)
    await job.run(bot)
    [reminder] = await driver.wait_for_message(org.supervisor.id, timeout=10)
    assert "/review" in reminder["text"]
    await job.run(bot)
    async with bot.bot_data.database.uow() as uow:
        kinds = list(await uow.session.scalars(select(OutboxMessage.dedup_key)))
    assert kinds == [f"monthly-check/2026-11/review-due/staff/{await _staff_id(bot, 'E010')}"]
