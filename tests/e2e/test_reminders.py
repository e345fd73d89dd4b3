"""Workday reminders through the emulator: who gets one, once, its buttons, the team summary.

The jobs are driven directly at fixed moments (``send_daily_reminders(bot_data, now)``),
and the bot's clock (which the buttons and the outbox sender read) stands still on the
same day, moved on where a job runs later, so nothing depends on today's date.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from assessment.calendar import set_leave
from bot.app import build_application
from bot.emulator import EmulatedUser, EmulatorDriver
from config.policy import load_policy
from config.settings import Settings
from handlers import reminders
from handlers.context import WorkledgerApplication
from storage.engine import Database
from storage.enums import EntryStatus
from storage.models import AuditEvent, Conversation, LeaveDay, OutboxMessage, WorkEntry

from .chat import Message, buttons, current, introduce, stop_timed_jobs
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
THURSDAY = date(2025, 11, 20)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


REMINDER_TIME = at(THURSDAY, 17, 31)


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    # The buttons and /team act on "today": the bot's clock stands still on the Thursday
    # the jobs run on.
    bot.bot_data.clock.set(REMINDER_TIME, frozen=True)
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.hr, organisation.supervisor, organisation.staff)
    return organisation


async def _staff_id(bot: WorkledgerApplication, employee_no: str) -> int:
    async with bot.bot_data.database.uow() as uow:
        staff = await uow.staff.by_employee_no(employee_no)
        assert staff is not None
        return staff.id


async def _log(bot: WorkledgerApplication, employee_no: str, day: date) -> None:
    staff_id = await _staff_id(bot, employee_no)
    async with bot.bot_data.database.uow() as uow:
        uow.session.add(
            WorkEntry(
                staff_id=staff_id, work_date=day, text="permits", status=EntryStatus.SUBMITTED
            )
        )
        await uow.commit()


async def _leave(bot: WorkledgerApplication, employee_no: str, day: date) -> None:
    staff_id = await _staff_id(bot, employee_no)
    async with bot.bot_data.database.uow() as uow:
        await set_leave(uow, staff_id, day, by=staff_id, now=datetime.now(UTC))


async def _queued(bot: WorkledgerApplication, kind: str) -> list[OutboxMessage]:
    async with bot.bot_data.database.uow() as uow:
        return list(
            await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def _data(message: Message, action: str) -> str:
    return next(data for data in buttons(message).values() if data.endswith(f":{action}"))


async def _press(driver: EmulatorDriver, user: EmulatedUser, message: Message, action: str) -> str:
    """Press the reminder's button for ``action``; returns the bot's answer to the press.

    ``message`` is the reminder as received: the press may come after the button is gone.
    """
    update = await driver.press(user, message["message_id"], _data(message, action), forge=True)
    [answer] = await eventually(lambda: driver.callback_answers(update["callback_query"]["id"]))
    return str(answer.get("text") or "")


async def test_a_workday_reminder_goes_to_whoever_has_not_logged_in_their_language(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Sun Li's phone is in Chinese; Su Yi logged already; Hu Rong is on leave.
    chinese_phone = EmulatedUser(id=org.supervisor.id, first_name="Sun", language_code="zh-CN")
    await driver.send_text(chinese_phone, "/help")
    await driver.wait_for_message(chinese_phone.id)
    await _log(bot, "E011", THURSDAY)
    await _leave(bot, "E001", THURSDAY)

    assert await reminders.send_daily_reminders(bot.bot_data, REMINDER_TIME) == 1
    [reminder] = await driver.wait_for_message(org.supervisor.id, timeout=10)
    assert "2025年11月20日" in reminder["text"], "the date in the recipient's language"
    assert {data.rsplit(":", 1)[1] for data in buttons(reminder).values()} == {
        "log",
        "snooze",
        "leave",
    }
    [row] = await _queued(bot, "daily_reminder")
    assert row.dedup_key == f"daily-reminder/2025-11-20/staff/{row.staff_id}"
    assert row.chat_id == org.supervisor.id
    for user in (org.hr, org.staff, org.left):
        texts = [m.get("text", "") for m in await driver.messages(user.id)]
        assert not [text for text in texts if "have not logged" in text], user


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 10, 1),  # National Day
        date(2025, 10, 5),  # a Sunday inside the golden week
        date(2025, 11, 22),  # an ordinary Saturday
    ],
)
async def test_no_reminder_on_a_day_off(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation, day: date
) -> None:
    assert await reminders.send_daily_reminders(bot.bot_data, at(day, 18, 0)) is None
    assert await reminders.send_team_summaries(bot.bot_data, at(day, 19, 0)) is None
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_a_make_up_saturday_is_reminded(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    assert await reminders.send_daily_reminders(bot.bot_data, at(date(2025, 10, 11), 18)) == 3
    [reminder] = await driver.wait_for_message(org.staff.id, timeout=10)
    assert "Oct 11, 2025" in reminder["text"]


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


async def test_a_restart_or_a_second_process_sends_nothing_twice(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    second_instance: WorkledgerApplication,
) -> None:
    # The bot was down at 17:30 and starts at 19:00: it still reminds, late, that day.
    late = at(THURSDAY, 19, 0)
    bot.bot_data.clock.set(late)
    assert await reminders.send_daily_reminders(bot.bot_data, late) == 3
    for user in (org.hr, org.supervisor, org.staff):
        await driver.wait_for_message(user.id, timeout=10)
    assert await reminders.send_daily_reminders(second_instance.bot_data, late) is None
    later = late + timedelta(minutes=1)
    assert await reminders.send_daily_reminders(second_instance.bot_data, later) is None
    assert await reminders.send_daily_reminders(bot.bot_data, later) is None
    await driver.send_text(org.staff, "/help")  # a round trip: the sender had its chance
    await driver.wait_for_message(org.staff.id)
    sent = [
        int(call["params"]["chat_id"])
        for call in await driver.calls("sendMessage")
        if "have not logged" in str(call["params"].get("text"))
    ]
    assert sorted(sent) == sorted([org.hr.id, org.supervisor.id, org.staff.id])
    # Friday morning: Thursday is never reminded again.
    friday = at(date(2025, 11, 21), 9, 0)
    assert await reminders.send_daily_reminders(second_instance.bot_data, friday) is None


async def test_the_reminder_buttons(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    assert await reminders.send_daily_reminders(bot.bot_data, REMINDER_TIME) == 3
    [for_hr] = await driver.wait_for_message(org.hr.id, timeout=10)
    [for_sue] = await driver.wait_for_message(org.staff.id, timeout=10)
    [for_sun] = await driver.wait_for_message(org.supervisor.id, timeout=10)

    # On leave today: recorded (and audited), and the reminder says so.
    await _press(driver, org.hr, for_hr, "leave")

    async def edited() -> Message | None:
        now = await current(driver, org.hr.id, for_hr["message_id"])
        return now if now.get("edit_count") else None

    confirmation = await eventually(edited)
    assert confirmation["text"] == (
        "Noted: you are on leave today, Nov 20, 2025. No more reminders today."
    )
    hr_id = await _staff_id(bot, "E001")
    async with bot.bot_data.database.uow() as uow:
        leave = await uow.session.scalar(select(LeaveDay).where(LeaveDay.staff_id == hr_id))
        assert leave is not None and leave.day == THURSDAY
        assert (
            await uow.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "leave.recorded", AuditEvent.actor_staff_id == hr_id)
            )
            == 1
        )

    # Remind me in an hour: one more reminder queued for 18:31, without that button.
    answer = await _press(driver, org.staff, for_sue, "snooze")
    assert answer.startswith("I will remind you again at 6:31"), answer
    [snoozed] = await _queued(bot, "daily_reminder_snooze")
    assert snoozed.dedup_key == f"daily-reminder-snooze/2025-11-20/staff/{snoozed.staff_id}"
    assert snoozed.next_attempt_at == REMINDER_TIME + timedelta(hours=1)
    # When the bot's clock reaches 18:31, the sender delivers it.
    bot.bot_data.clock.set(snoozed.next_attempt_at)
    [again] = await driver.wait_for_message(org.staff.id, timeout=10)
    assert "You have not logged any work for Nov 20, 2025 yet." in again["text"]
    assert sorted(data.rsplit(":", 1)[1] for data in buttons(again).values()) == ["leave", "log"]

    async def without_snooze() -> Message | None:
        now = await current(driver, org.staff.id, for_sue["message_id"])
        return None if "snooze" in str(buttons(now)) else now

    await eventually(without_snooze)
    # Pressed again (an old client may still show the button): still one more reminder only.
    assert await _press(driver, org.staff, for_sue, "snooze") == (
        "I will already remind you again later today."
    )
    assert len(await _queued(bot, "daily_reminder_snooze")) == 1

    # Log now: the guided /log begins, with its first question.
    await _press(driver, org.supervisor, for_sun, "log")
    [question] = await driver.wait_for_message(org.supervisor.id)
    assert buttons(question), "the question of the entry's date, with its choices"
    sun_id = await _staff_id(bot, "E010")
    async with bot.bot_data.database.uow() as uow:
        conversation = await uow.session.get(Conversation, sun_id)
        assert conversation is not None and conversation.kind == "log"

    # A button of an earlier day's reminder changes nothing.
    update = await driver.press(
        org.staff, for_sue["message_id"], "rmd:2025-11-19:leave", forge=True
    )
    [stale] = await eventually(lambda: driver.callback_answers(update["callback_query"]["id"]))
    assert stale["text"] == "This reminder is about an earlier day."
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(LeaveDay)) == 1


async def test_supervisors_get_their_teams_day_and_see_it_in_team(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Sun Li's reports: Su Yi (on leave) and Ma Qing (not joined, so never logs here).
    await _leave(bot, "E011", THURSDAY)
    bot.bot_data.clock.set(at(THURSDAY, 18, 31))
    assert await reminders.send_team_summaries(bot.bot_data, at(THURSDAY, 18, 31)) == 1
    [summary] = await driver.wait_for_message(org.supervisor.id, timeout=10)
    assert summary["text"].splitlines() == [
        "Team log for Nov 20, 2025",
        "1 person has not logged any work yet:",
        "• Ma Qing (E100), not joined yet",
        "On leave: Su Yi (E011)",
    ]
    [row] = await _queued(bot, "team_summary")
    assert row.dedup_key == f"team-summary/2025-11-20/staff/{row.staff_id}"
    assert await reminders.send_team_summaries(bot.bot_data, at(THURSDAY, 18, 32)) is None

    await driver.send_text(org.supervisor, "/team")
    [team] = await driver.wait_for_message(org.supervisor.id)
    lines = team["text"].splitlines()
    assert "Today, Nov 20, 2025:" in lines
    assert "E011 Su Yi: joined; on leave today" in lines
    assert "E100 Ma Qing: not joined yet; not logged yet" in lines


async def test_a_chinese_supervisors_team_lists_read_as_chinese(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Names with employee numbers, "not joined", leave: pieces put together in code, in
    # Chinese with Chinese punctuation, not "Su Yi (E011)" or "已加入; 今天休假".
    chinese_phone = EmulatedUser(id=org.supervisor.id, first_name="Sun", language_code="zh-CN")
    await driver.send_text(chinese_phone, "/help")
    await driver.wait_for_message(chinese_phone.id)
    await _leave(bot, "E011", THURSDAY)
    bot.bot_data.clock.set(at(THURSDAY, 18, 31))
    assert await reminders.send_team_summaries(bot.bot_data, at(THURSDAY, 18, 31)) == 1
    [summary] = await driver.wait_for_message(org.supervisor.id, timeout=10)
    assert summary["text"].splitlines() == [
        "团队2025年11月20日工作记录情况",
        "1 人尚未记录工作：",
        "• Ma Qing（E100），尚未加入",
        "休假：Su Yi（E011）",
    ]

    await driver.send_text(chinese_phone, "/team")
    [team] = await driver.wait_for_message(org.supervisor.id)
    lines = team["text"].splitlines()
    assert "今天（2025年11月20日）：" in lines
    assert "E011 Su Yi：已加入；今天休假" in lines
    assert "E100 Ma Qing：尚未加入；尚未记录" in lines


async def test_a_supervisor_whose_team_all_logged_gets_no_summary(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # The entries' approval requests would reach the supervisor whenever their job ran.
    stop_timed_jobs(bot)
    await _log(bot, "E011", THURSDAY)
    await _log(bot, "E100", THURSDAY)
    assert await reminders.send_team_summaries(bot.bot_data, at(THURSDAY, 18, 31)) == 0
    await driver.send_text(org.supervisor, "/team")
    [team] = await driver.wait_for_message(org.supervisor.id)
    assert "E011 Su Yi: joined; logged today" in team["text"].splitlines()
    assert "E100 Ma Qing: not joined yet; logged today" in team["text"].splitlines()
