"""HR broadcasts a notice: compose, audience, preview, send, progress, read confirmations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.context import WorkledgerApplication
from storage.models import Notice, NoticeAck, OutboxMessage

from .chat import Message, buttons, current, introduce, press
from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e


@pytest.fixture
async def org(bot: WorkledgerApplication, driver: EmulatorDriver) -> Organisation:
    organisation = await seed(bot.bot_data.database)
    await introduce(driver, organisation.supervisor, organisation.staff)
    return organisation


async def _compose(
    driver: EmulatorDriver, org: Organisation, text: str, *, department: str | None
) -> Message:
    """Go from /broadcast to the preview; returns the preview message."""
    await driver.send_text(org.hr, "/broadcast")
    [prompt] = await driver.wait_for_message(org.hr.id)
    assert "Send me the notice" in prompt["text"]
    await driver.send_text(org.hr, text)
    [kinds] = await driver.wait_for_message(org.hr.id)
    assert kinds["text"] == "Who should receive it?"
    if department is None:
        return await press(driver, org.hr, kinds, "Everyone")
    toggles = await press(driver, org.hr, kinds, "By department")
    toggles = await press(driver, org.hr, toggles, department)
    assert f"✓ {department}" in buttons(toggles)
    return await press(driver, org.hr, toggles, "Done")


async def _finished(driver: EmulatorDriver, org: Organisation, message_id: int) -> Message:
    async def done() -> Message | None:
        message = await current(driver, org.hr.id, message_id)
        return message if "delivery finished" in message["text"] else None

    return await eventually(done, within=60)


async def test_a_department_broadcast_with_read_confirmation(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # Sun Li's phone is set to Chinese; the bot remembers that from his last message.
    chinese_phone = EmulatedUser(id=org.supervisor.id, first_name="Sun", language_code="zh-CN")
    await driver.send_text(chinese_phone, "/help")
    await driver.wait_for_message(chinese_phone.id)
    preview = await _compose(
        driver, org, "Fire drill on Friday <10:00>", department="Permits Office"
    )
    assert "Fire drill on Friday &lt;10:00&gt;" not in preview["text"], "HTML renders, not shows"
    assert "Fire drill on Friday <10:00>" in preview["text"]
    assert "Recipients: 2 people" in preview["text"]
    assert "E100, E101" in preview["text"], "people not linked are listed, not skipped"
    preview = await press(driver, org.hr, preview, "Ask to confirm reading: off")
    assert "Read confirmation: asked" in preview["text"]
    progress = await press(driver, org.hr, preview, "Send to 2 people")
    assert progress["text"].startswith("Notice #")

    # Each copy is in its recipient's language: Su Yi chose English, Sun Li's app is Chinese.
    for user, header, button in [
        (org.staff, "Notice from Hu Rong", "I have read this"),
        (org.supervisor, "来自Hu Rong的通知", "我已阅读"),
    ]:
        [copy] = await driver.wait_for_message(user.id, timeout=10)
        assert copy["text"].startswith(header)
        assert "Fire drill on Friday <10:00>" in copy["text"]
        assert button in buttons(copy)
    final = await _finished(driver, org, progress["message_id"])
    assert "Sent 2 of 2" in final["text"]
    assert "E100, E101" in final["text"]
    assert final["edit_count"] >= 2, "the progress message updated itself"

    copy = (await driver.messages(org.staff.id))[-1]
    await driver.press(org.staff, copy["message_id"], buttons(copy)["I have read this"])
    update_ = await driver.press(
        org.staff, copy["message_id"], buttons(copy)["I have read this"], forge=True
    )
    answers = await eventually(lambda: driver.callback_answers(update_["callback_query"]["id"]))
    assert "already confirmed" in answers[0]["text"]
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(NoticeAck)) == 1


async def test_someone_elses_read_button_changes_nothing(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _compose(driver, org, "Only Permits", department="Permits Office")
    preview = await press(driver, org.hr, preview, "Ask to confirm reading: off")
    await press(driver, org.hr, preview, "Send to 2 people")
    [copy] = await driver.wait_for_message(org.staff.id, timeout=10)
    # HR was not a recipient: a replayed press from HR's account is refused.
    update_ = await driver.press(
        org.hr, copy["message_id"], buttons(copy)["I have read this"], forge=True
    )
    answers = await eventually(lambda: driver.callback_answers(update_["callback_query"]["id"]))
    assert "not sent to you" in answers[0]["text"]
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(NoticeAck)) == 0


async def test_blocked_recipients_are_reported_and_faults_are_absorbed(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.block(org.supervisor.id)
    preview = await _compose(driver, org, "To everyone", department=None)
    assert "Recipients: 3 people" in preview["text"]
    await driver.inject_fault(429, method="sendMessage", chat_id=org.staff.id, retry_after=1)
    await driver.inject_fault(500, method="sendMessage", chat_id=org.hr.id, times=1)
    progress = await press(driver, org.hr, preview, "Send to 3 people")
    final = await _finished(driver, org, progress["message_id"])
    assert "Sent 2 of 3" in final["text"] and "unreachable 1" in final["text"]
    calls = await driver.calls("sendMessage")
    delivered = [c for c in calls if c["status"] == 200 and "Notice from" in str(c["params"])]
    assert sorted(int(c["params"]["chat_id"]) for c in delivered) == sorted(
        [org.staff.id, org.hr.id]
    ), "each reachable recipient got exactly one copy"


async def test_the_progress_message_is_finished_even_when_its_edits_fail(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _compose(driver, org, "Edits may fail", department=None)
    progress = await press(driver, org.hr, preview, "Send to 3 people")
    # The next edits of HR's progress message fail as a loaded server's would: the
    # text is not recorded as shown, so a later tick shows it.
    await driver.inject_fault(502, method="editMessageText", chat_id=org.hr.id, times=2)
    final = await _finished(driver, org, progress["message_id"])
    assert "Sent 3 of 3" in final["text"]
    failed = [c for c in await driver.calls("editMessageText") if c["status"] == 502]
    assert len(failed) == 2, "both injected failures were met"

    async def closed() -> datetime | None:
        # Recorded just after the emulator shows the edit.
        async with bot.bot_data.database.uow() as uow:
            return await uow.session.scalar(select(Notice.finished_at))

    await eventually(closed, within=10)


async def test_a_scheduled_notice_waits_for_its_time(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _compose(driver, org, "Later", department="Permits Office")
    preview = await press(driver, org.hr, preview, "Change when")
    assert "Sending: at" in preview["text"]
    progress = await press(driver, org.hr, preview, "Send to 2 people")
    assert "scheduled for" in progress["text"]
    await driver.send_text(org.hr, "/help")  # a round trip: the bot is idle, not slow
    await driver.wait_for_message(org.hr.id)
    assert [m for m in await driver.messages(org.staff.id) if "Later" in str(m.get("text"))] == []

    # The copies are queued beside the handlers: bring their time forward only once they
    # are all in the outbox, or a copy queued after the change keeps the old time.
    async def copies_queued() -> bool:
        async with bot.bot_data.database.uow() as uow:
            count = select(func.count()).select_from(OutboxMessage)
            return await uow.session.scalar(count.where(OutboxMessage.notice_id.is_not(None))) == 2

    await eventually(copies_queued)
    async with bot.bot_data.database.uow() as uow:
        soon = datetime.now(UTC) + timedelta(seconds=1)
        await uow.session.execute(update(Notice).values(send_at=soon))
        await uow.session.execute(update(OutboxMessage).values(next_attempt_at=soon))
        await uow.commit()
    [copy] = await driver.wait_for_message(org.staff.id, timeout=10)
    assert "Later" in copy["text"]
    [call] = [c for c in await driver.calls("sendMessage") if "Later" in str(c["params"])][:1]
    assert float(call["at"]) >= soon.timestamp() - 0.05


async def test_non_hr_cannot_broadcast(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.staff, "/broadcast")
    [reply] = await driver.wait_for_message(org.staff.id)
    assert "permission" in reply["text"]
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Notice)) == 0


async def test_cancel_drops_the_draft(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.hr, "/broadcast")
    await driver.wait_for_message(org.hr.id)
    await driver.send_text(org.hr, "/cancel")
    [reply] = await driver.wait_for_message(org.hr.id)
    assert reply["text"] == "Cancelled; nothing was sent."
    await driver.send_text(org.hr, "just chatting")
    [reply] = await driver.wait_for_message(org.hr.id)
    assert reply["text"].startswith("Logged for"), "no draft captures it: it is a quick log"
