"""HR looks back at notices: figures, who has not read one, reminders, delivery lists."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.app import build_application
from bot.emulator import EmulatedUser, EmulatorDriver
from config.policy import load_policy
from config.settings import Settings
from handlers.callbacks import NoticeDetails, NoticeExport, NoticeRemind
from handlers.context import WorkledgerApplication, WorkledgerContext
from locales import translator
from storage.enums import DeliveryStatus, NoticeStatus, Role
from storage.models import Notice, NoticeAck, OutboxMessage, Staff

from .chat import Message, answer_to_press, buttons, current, introduce, press
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

TEXT = "Fire drill on Friday <10:00>, everyone to the car park please"


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.supervisor, organisation.staff)
    return organisation


async def _ready_to_send(driver: EmulatorDriver, org: Organisation) -> Message:
    """HR's notice to everyone, written and its preview shown with the Send button."""
    await driver.send_text(org.hr, "/broadcast")
    await driver.wait_for_message(org.hr.id)
    await driver.send_text(org.hr, TEXT)
    [kinds] = await driver.wait_for_message(org.hr.id)
    preview = await press(driver, org.hr, kinds, "Everyone")
    return await press(driver, org.hr, preview, "Ask to confirm reading: off")


async def _broadcast_to_everyone(driver: EmulatorDriver, org: Organisation) -> int:
    """Send a notice asking for read confirmation to everyone through /broadcast."""
    preview = await _ready_to_send(driver, org)
    progress = await press(driver, org.hr, preview, "Send to 3 people")

    async def finished() -> Message | None:
        message = await current(driver, org.hr.id, progress["message_id"])
        return message if "delivery finished" in message["text"] else None

    final = await eventually(finished, within=60)
    return int(final["text"].split("#", 1)[1].split(":", 1)[0])


async def _read(driver: EmulatorDriver, user: EmulatedUser, copy: Message) -> None:
    """The user presses "I have read this" under ``copy``."""
    label = next(label for label in buttons(copy) if label in ("I have read this", "我已阅读"))
    answer = await answer_to_press(driver, user, copy, buttons(copy)[label])
    assert "recorded" in answer or "记录" in answer, answer


async def _notice_copy(driver: EmulatorDriver, user: EmulatedUser) -> Message:
    return next(m for m in await driver.messages(user.id) if "Fire drill" in str(m.get("text")))


async def _notices(driver: EmulatorDriver, org: Organisation) -> Message:
    await driver.send_text(org.hr, "/notices")
    [listing] = await driver.wait_for_message(org.hr.id)
    return listing


async def _document(
    driver: EmulatorDriver, org: Organisation, details: Message, label: str
) -> Any:
    await driver.press(org.hr, details["message_id"], buttons(details)[label])
    [sent] = await driver.wait_for_message(org.hr.id)
    return sent["document"], await driver.file_bytes(sent["document"]["file_id"])


async def test_list_details_reminders_and_a_second_press(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    notice_id = await _broadcast_to_everyone(driver, org)
    await _read(driver, org.staff, await _notice_copy(driver, org.staff))

    listing = await _notices(driver, org)
    assert listing["text"].startswith("Latest notices, newest first:")
    assert f"#{notice_id} · " in listing["text"]
    assert "· Fire drill on Friday <10:00>, everyone…\n" in listing["text"], "plain, cut at 40"
    assert "3 recipients · delivered 3 · failed 0 · unreachable 0 · read 1" in listing["text"]

    details = await press(driver, org.hr, listing, f"#{notice_id} ")
    text = details["text"]
    assert f"Notice #{notice_id} from Hu Rong" in text
    assert "Audience: everyone" in text
    assert "Not joined at the time, so not sent: E100, E101" in text
    assert "Not read yet: 2 people\nE001 Hu Rong\nE010 Sun Li" in text
    assert "E011" not in text, "Su Yi has read it"
    assert list(buttons(details)) == ["Remind them", "Export CSV", "Export XLSX", "Back"]

    hr_before = len(await driver.messages(org.hr.id))
    last = {
        u.id: (await driver.messages(u.id))[-1]["message_id"] for u in (org.hr, org.supervisor)
    }
    answer = await answer_to_press(driver, org.hr, details, buttons(details)["Remind them"])
    assert answer == "Reminders queued for 2 people."
    for user in (org.hr, org.supervisor):
        [reminder] = await driver.wait_for_message(
            user.id, timeout=10, since_message_id=last[user.id]
        )
        assert reminder["text"].startswith(
            "Reminder: please read the notice from Hu Rong and press “I have read this”."
        )
        assert "Fire drill on Friday <10:00>" in reminder["text"]
        assert list(buttons(reminder)) == ["I have read this"]
    staff_texts = [str(m.get("text")) for m in await driver.messages(org.staff.id)]
    assert not any("Reminder" in t for t in staff_texts), "who has read it is not reminded"

    again = await answer_to_press(driver, org.hr, details, buttons(details)["Remind them"])
    assert again == "They were already reminded this hour; nothing new was sent."
    async with bot.bot_data.database.uow() as uow:
        reminders = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "notice_reminder")
        )
    assert reminders == 2
    assert len(await driver.messages(org.hr.id)) == hr_before + 1, "only the one reminder"

    # The reminder carries the read button: Sun Li confirms from it.
    reminder = (await driver.messages(org.supervisor.id))[-1]
    await _read(driver, org.supervisor, reminder)
    details = await press(driver, org.hr, details, "Back")
    assert details["text"].startswith("Latest notices")
    assert "read 2" in details["text"]
    details = await press(driver, org.hr, details, f"#{notice_id} ")
    assert "Not read yet: 1 person\nE001 Hu Rong" in details["text"]
    assert "E010" not in details["text"]


async def test_delivery_list_as_csv_and_xlsx(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.block(org.supervisor.id)
    notice_id = await _broadcast_to_everyone(driver, org)
    await _read(driver, org.staff, await _notice_copy(driver, org.staff))
    details = await press(driver, org.hr, await _notices(driver, org), f"#{notice_id} ")
    assert "delivered 2 · failed 0 · unreachable 1 · read 1" in details["text"]
    header = [
        "Employee no.", "Name", "Department", "Delivery status",
        "Delivered at (Asia/Shanghai)", "Error", "Read confirmed at (Asia/Shanghai)",
    ]  # fmt: skip

    document, content = await _document(driver, org, details, "Export CSV")
    assert document["file_name"] == f"notice-{notice_id}-delivery.csv"
    assert content.startswith(b"\xef\xbb\xbf"), "a byte-order mark, for Excel"
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == header
    by_number = {row[0]: row for row in rows[1:]}
    assert sorted(by_number) == ["E001", "E010", "E011"]
    assert by_number["E011"][1:4] == ["Su Yi", "Permits Office", "delivered"]
    assert by_number["E001"][3] == "delivered" and by_number["E001"][6] == ""
    assert by_number["E010"][3] == "unreachable" and by_number["E010"][4] == ""
    assert by_number["E010"][5], "the reason is kept"
    read_at = datetime.strptime(by_number["E011"][6], "%Y-%m-%d %H:%M:%S")
    delivered_at = datetime.strptime(by_number["E011"][4], "%Y-%m-%d %H:%M:%S")
    shanghai_now = datetime.now(UTC).astimezone(bot.bot_data.settings.zone).replace(tzinfo=None)
    assert delivered_at <= read_at <= shanghai_now
    assert (shanghai_now - read_at).total_seconds() < 120, "organisation time, not UTC"

    document, content = await _document(driver, org, details, "Export XLSX")
    assert document["file_name"] == f"notice-{notice_id}-delivery.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == header
    assert all(cell.font.bold for cell in sheet[1])
    xlsx_rows = {row[0]: row for row in cells[1:]}
    assert sorted(xlsx_rows) == ["E001", "E010", "E011"]
    assert xlsx_rows["E010"][3] == "unreachable"
    su_yi = xlsx_rows["E011"]
    assert isinstance(su_yi[4], datetime) and isinstance(su_yi[6], datetime)
    assert su_yi[6].tzinfo is None and su_yi[6] == read_at
    assert sheet.column_dimensions["B"].width >= 8


async def test_hr_reads_the_list_in_chinese(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    notice_id = await _broadcast_to_everyone(driver, org)
    chinese_hr = EmulatedUser(id=org.hr.id, first_name="Hu", language_code="zh-CN")
    await driver.send_text(chinese_hr, "/notices")
    [listing] = await driver.wait_for_message(org.hr.id)
    assert f"#{notice_id}" in listing["text"] and "Fire drill" in listing["text"]
    chinese = translator("zh_Hans")
    assert listing["text"].startswith(chinese.gettext("Latest notices, newest first:"))
    assert "年" in listing["text"], "dates in Chinese too"


async def test_no_notices_yet(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    listing = await _notices(driver, org)
    assert listing["text"] == "No notices have been sent yet. /broadcast sends one."
    assert not buttons(listing)


async def test_forged_presses_drafts_and_an_empty_notice(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    listing = await _notices(driver, org)
    async with bot.bot_data.database.uow() as uow:
        hr = await uow.session.scalar(select(Staff).where(Staff.employee_no == "E001"))
        assert hr is not None
        draft = Notice(created_by_id=hr.id, audience={"kind": "everyone"}, text="secret draft")
        cancelled = Notice(
            created_by_id=hr.id, status=NoticeStatus.CANCELLED, audience={}, text="gone"
        )
        empty = Notice(
            created_by_id=hr.id, status=NoticeStatus.DONE, audience={"kind": "everyone"},
            text="nobody", requires_ack=True, queued_at=datetime.now(UTC),
        )  # fmt: skip
        uow.session.add_all([draft, cancelled, empty])
        await uow.commit()
    missing = "There is no sent notice with this number."
    for data in [
        NoticeDetails(999_999).pack(),
        NoticeDetails(draft.id).pack(),
        NoticeDetails(cancelled.id).pack(),
        NoticeRemind(draft.id).pack(),
        NoticeExport(cancelled.id, "csv").pack(),
    ]:
        assert await answer_to_press(driver, org.hr, listing, data) == missing, data
    assert "secret draft" not in str(await driver.messages(org.hr.id))

    # A notice that reached nobody still exports a header.
    await driver.press(
        org.hr, listing["message_id"], NoticeExport(empty.id, "csv").pack(), forge=True
    )
    [sent] = await driver.wait_for_message(org.hr.id)
    rows = list(
        csv.reader(
            io.StringIO((await driver.file_bytes(sent["document"]["file_id"])).decode("utf-8-sig"))
        )
    )
    assert len(rows) == 1 and rows[0][0] == "Employee no."
    await driver.press(
        org.hr, listing["message_id"], NoticeExport(empty.id, "xlsx").pack(), forge=True
    )
    [sent] = await driver.wait_for_message(org.hr.id)
    sheet = openpyxl.load_workbook(
        io.BytesIO(await driver.file_bytes(sent["document"]["file_id"]))
    ).active
    assert sheet.max_row == 1
    answer = await answer_to_press(driver, org.hr, listing, NoticeRemind(empty.id).pack())
    assert answer == "There is nobody left to remind."


async def test_only_hr_sees_notices(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    notice_id = await _broadcast_to_everyone(driver, org)
    await driver.send_text(org.staff, "/notices")
    [reply] = await driver.wait_for_message(org.staff.id)
    assert "permission" in reply["text"] and "Fire drill" not in reply["text"]
    copy = await _notice_copy(driver, org.staff)
    for data in [NoticeDetails(notice_id).pack(), NoticeRemind(notice_id).pack()]:
        assert "permission" in await answer_to_press(driver, org.staff, copy, data)
    async with bot.bot_data.database.uow() as uow:
        assert (
            await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "notice_reminder")
            )
            == 0
        )


async def test_a_long_unread_list_is_cut_to_fit_one_message(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Stored as if delivered: this is about rendering, not about sending 400 messages.
    now = datetime.now(UTC)
    async with bot.bot_data.database.uow() as uow:
        hr = await uow.session.scalar(select(Staff).where(Staff.employee_no == "E001"))
        assert hr is not None
        notice = Notice(
            created_by_id=hr.id, status=NoticeStatus.DONE, audience={"kind": "everyone"},
            text="<b>Long</b> list &amp; <i>more</i>", requires_ack=True, recipients=400,
            queued_at=now,
        )  # fmt: skip
        uow.session.add(notice)
        await uow.session.flush()
        people = [
            Staff(
                employee_no=f"L{n:04d}",
                name=f"Colleague with a long name number {n}",
                department_id=hr.department_id,
                roles=Role.STAFF,
                telegram_user_id=500_000 + n,
            )
            for n in range(400)
        ]
        uow.session.add_all(people)
        await uow.session.flush()
        uow.session.add_all(
            OutboxMessage(
                chat_id=person.telegram_user_id or 0,
                staff_id=person.id,
                notice_id=notice.id,
                kind="notice",
                status=DeliveryStatus.SENT,
                finished_at=now,
            )
            for person in people
        )
        uow.session.add(NoticeAck(notice_id=notice.id, staff_id=people[0].id, acked_at=now))
        await uow.commit()
    details = await press(driver, org.hr, await _notices(driver, org), f"#{notice.id} ")
    text = details["text"]
    assert "\nLong list & more\n" in text, "tags dropped, entities decoded"
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert "Not read yet: 399 people" in text
    assert "L0000" not in text and "L0001 Colleague" in text
    shown = text.count("Colleague with a long name")
    assert text.endswith(f"...and {399 - shown} more")
    assert 50 < shown < 399


async def test_the_send_press_keeps_its_progress_message_when_a_job_tick_comes_first(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    """The progress job waits while a Send press puts up its message: it neither posts one
    of its own nor closes the notice on it, leaving the press's message at its start."""
    preview = await _ready_to_send(driver, org)
    # Telegram has the press's answer wait 3 s, after the notice is queued: the job, every
    # 2 s, comes in between.
    await driver.inject_fault(429, method="answerCallbackQuery", retry_after=3)
    progress = await press(driver, org.hr, preview, "Send to 3 people", within=20)

    async def finished() -> Message | None:
        message = await current(driver, org.hr.id, progress["message_id"])
        return message if "delivery finished" in message["text"] else None

    final = await eventually(finished, within=60)
    assert "Sent 3 of 3; failed 0; unreachable 0." in final["text"]
    shown = [m for m in await driver.messages(org.hr.id) if "Notice #" in str(m.get("text"))]
    assert [m["message_id"] for m in shown] == [progress["message_id"]], "one progress message"


async def test_another_process_showing_the_first_figures_leaves_one_progress_message(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation, settings: Settings
) -> None:
    """A second bot process on the same store whose progress job ticks between the
    notice's queueing and the press's first figures shows them in the confirmation (its
    message recorded with the queueing), not in a message of its own; the press, finding
    the step taken, shows nothing over it; the author ends with one progress message."""
    other = build_application(settings, load_policy())
    await other.initialize()
    assert other.post_init is not None and other.post_shutdown is not None
    await other.post_init(other)
    other.bot_data.stop_background.set()  # its sender stays out: only its job runs
    await asyncio.gather(*other.bot_data.background)
    try:
        preview = await _ready_to_send(driver, org)
        # The press's answer waits 3 s after the notice is queued; the other process's
        # job runs in between.
        await driver.inject_fault(429, method="answerCallbackQuery", retry_after=3)
        await driver.press(org.hr, preview["message_id"], buttons(preview)["Send to 3 people"])

        async def queued() -> bool:
            async with bot.bot_data.database.uow() as uow:
                status = await uow.session.scalar(select(Notice.status))
            return status is not None and status != NoticeStatus.DRAFT

        await eventually(queued, within=10)
        assert other.job_queue is not None
        [job] = other.job_queue.get_jobs_by_name("notice-progress")
        await job.callback(WorkledgerContext.from_job(job, other))
        shown = await current(driver, org.hr.id, preview["message_id"])
        assert shown["text"].startswith("Notice #"), "the other process showed it in place"

        async def finished() -> Message | None:
            message = await current(driver, org.hr.id, preview["message_id"])
            return message if "delivery finished" in message["text"] else None

        final = await eventually(finished, within=60)
        assert "Sent 3 of 3; failed 0; unreachable 0." in final["text"]
        progress = [
            m for m in await driver.messages(org.hr.id) if "Notice #" in str(m.get("text"))
        ]
        assert [m["message_id"] for m in progress] == [preview["message_id"]]
    finally:
        await other.shutdown()
        await other.post_shutdown(other)
