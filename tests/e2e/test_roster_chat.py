"""HR imports the roster by sending it to the bot: preview, apply, and the people it lacks."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from assessment import roster_import
from assessment.roster import RosterRules
from assessment.roster_worker import PackedRoster
from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.context import WorkledgerApplication, WorkledgerContext
from storage.enums import StaffStatus, UploadStatus
from storage.models import AuditEvent, OutboxMessage, RosterImportTurn, RosterUpload, Staff
from storage.repositories.roster import RosterRepository
from tests.faults import fail_once

from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

HEADER = (
    "employee_no,name,department,post,post_type,difficulty,supervisor_no,roles,language,status"
)
ROSTER = "\n".join(
    [
        HEADER,
        "E001,Hu Rong,Human Resources,HR Officer,management,1.0,,staff;hr,,",
        "E010,Sun Li,Permits Office,Section Chief,management,1.3,,staff,,",
        "E011,Su Yi,Permits Office,Clerk,service,1.15,E010,staff,,",
        "E100,Ma Qing,Permits Office,Clerk,service,1.15,E010,staff,,",
        "E200,Bai Xue,Permits Office,Clerk,service,1.15,E011,staff,en,",
        "E900,Lou Gone,Permits Office,Clerk,service,1.15,,staff,,left",
    ]
).encode()


@pytest.fixture
async def org(bot: WorkledgerApplication) -> Organisation:
    return await seed(bot.bot_data.database)


async def _people(bot: WorkledgerApplication) -> dict[str, Staff]:
    async with bot.bot_data.database.uow() as uow:
        return {s.employee_no: s for s in await uow.session.scalars(select(Staff))}


async def _upload(driver: EmulatorDriver, user: EmulatedUser, content: bytes) -> dict[str, Any]:
    await driver.send_document(user, "roster.csv", content, mime_type="text/csv")
    [reply] = await driver.wait_for_message(user.id)
    return reply


async def _press_and_read(
    driver: EmulatorDriver, user: EmulatedUser, message: dict[str, Any], label: str
) -> dict[str, Any]:
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    button = next(b for b in buttons if b["text"].startswith(label))
    before = message["text"]
    await driver.press(user, message["message_id"], button["callback_data"])

    async def changed() -> dict[str, Any] | None:
        for current in await driver.messages(user.id):
            if current["message_id"] == message["message_id"] and current["text"] != before:
                return current
        return None

    return await eventually(changed)


async def test_hr_sends_a_roster_previews_applies_and_marks_the_missing_left(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.staff, "/help")  # Telegram scopes menus only to known chats
    await driver.wait_for_message(org.staff.id)
    preview = await _upload(driver, org.hr, ROSTER)
    assert preview["text"].startswith("Dry run: nothing was written.")
    assert "1 person added" in preview["text"]
    assert "E200" not in await _people(bot), "a preview writes nothing"

    applied = await _press_and_read(driver, org.hr, preview, "Apply")
    assert "1 person added" in applied["text"] and "Dry run" not in applied["text"]
    people = await _people(bot)
    assert people["E200"].supervisor_id == people["E011"].id
    assert people["E011"].telegram_user_id == org.staff.id, "links survive a re-import"
    assert people["E101"].status is StaffStatus.ACTIVE, "missing people are only reported"

    async def menu_has_team() -> bool:
        return "team" in [c["command"] for c in await driver.effective_commands(org.staff.id)]

    assert await eventually(menu_has_team), "E011 now has a report, so their menu gained /team"

    asked = await _press_and_read(driver, org.hr, applied, "Mark 1 missing person")
    assert asked["text"] == "Mark 1 person as having left?\nTang Wen (E101)"
    assert (await _people(bot))["E101"].status is StaffStatus.ACTIVE, "asking marks nobody"
    marked = await _press_and_read(driver, org.hr, asked, "Confirm")
    assert marked["text"] == "1 person marked as having left."
    assert (await _people(bot))["E101"].status is StaffStatus.LEFT
    async with bot.bot_data.database.uow() as uow:
        actions = [e.action for e in await uow.session.scalars(select(AuditEvent))]
    assert "roster.imported" in actions and "staff.marked_left" in actions


async def test_a_second_press_and_someone_elses_press_change_nothing(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _upload(driver, org.hr, ROSTER)
    cancelled = await _press_and_read(driver, org.hr, preview, "Cancel")
    assert cancelled["text"] == "Import cancelled; nothing was written."
    apply = next(
        b["callback_data"]
        for row in preview["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "Apply"
    )
    for user, expected in [
        (org.hr, "already dealt with"),
        (org.supervisor, "permission"),
    ]:
        update = await driver.press(user, preview["message_id"], apply, forge=True)
        query_id = update["callback_query"]["id"]

        async def answered(query_id: str = query_id) -> list[dict[str, Any]]:
            return await driver.callback_answers(query_id)

        [answer] = await eventually(answered)
        assert expected in answer["text"]
    assert "E200" not in await _people(bot)


async def test_a_broken_roster_lists_its_problems_and_writes_nothing(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    broken = (HEADER + "\nE300,,Permits Office,Clerk,service,9,E404,staff;boss,,\n").encode()
    reply = await _upload(driver, org.hr, broken)
    assert reply["text"].startswith("The roster was not imported")
    assert "row 2, column name" in reply["text"]
    assert "row 2, column difficulty" in reply["text"]
    assert "row 2, column roles" in reply["text"]
    assert "reply_markup" not in reply or not reply["reply_markup"]
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Staff)) == 6


async def test_only_hr_may_send_a_roster(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    reply = await _upload(driver, org.staff, ROSTER)
    assert "permission" in reply["text"]
    chinese = EmulatedUser(id=org.supervisor.id, first_name="Sun", language_code="zh-CN")
    reply = await _upload(driver, chinese, b"\x89PNG not a roster")
    assert "权限" in reply["text"]


async def test_marking_the_missing_left_asks_first_and_keeps_the_hr_member_pressing(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    # A file without HR's own row: HR (E001, the only HR member) is missing from it too.
    without_hr = b"\n".join(line for line in ROSTER.split(b"\n") if not line.startswith(b"E001"))
    preview = await _upload(driver, org.hr, without_hr)
    applied = await _press_and_read(driver, org.hr, preview, "Apply")
    asked = await _press_and_read(driver, org.hr, applied, "Mark 2 missing people")
    assert asked["text"] == (
        "Mark 1 person as having left?\n"
        "Tang Wen (E101)\n"
        "Not marked as having left: Hu Rong (E001), the person asking."
    )
    labels = [b["text"] for row in asked["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Confirm", "Cancel"]

    # Cancel goes back to the question, writing nothing; asking again is possible.
    back = await _press_and_read(driver, org.hr, asked, "Cancel")
    assert back["text"] == "Nobody was marked as having left."
    assert (await _people(bot))["E101"].status is StaffStatus.ACTIVE
    asked = await _press_and_read(driver, org.hr, back, "Mark 2 missing people")
    assert asked["text"].startswith("Mark 1 person as having left?")

    marked = await _press_and_read(driver, org.hr, asked, "Confirm")
    assert marked["text"] == (
        "1 person marked as having left.\n"
        "Not marked as having left: Hu Rong (E001), the person asking."
    )
    people = await _people(bot)
    assert people["E101"].status is StaffStatus.LEFT
    assert people["E001"].status is StaffStatus.ACTIVE
    # A stale Cancel from the question changes nothing and offers no button again.
    cancel = next(
        b["callback_data"]
        for row in asked["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "Cancel"
    )
    update = await driver.press(org.hr, asked["message_id"], cancel, forge=True)

    async def answered() -> list[dict[str, Any]]:
        return await driver.callback_answers(update["callback_query"]["id"])

    [answer] = await eventually(answered)
    assert "already dealt with" in answer["text"]
    # HR still has HR's commands.
    await driver.send_text(org.hr, "/import")
    [reply] = await driver.wait_for_message(org.hr.id)
    assert reply["text"].startswith("Send me the roster as a file")


async def test_the_confirmation_lists_many_names_within_telegrams_limit(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    many = [
        f"E5{n:03},Person Number {n:03},Permits Office,Clerk,service,1.15,,staff,,"
        for n in range(400)
    ]
    everyone = (ROSTER.decode() + "\n" + "\n".join(many)).encode()
    applied = await _press_and_read(
        driver, org.hr, await _upload(driver, org.hr, everyone), "Apply"
    )
    # Now a file with only HR: 405 people (the four seeded, E200 and the 400) are missing.
    only_hr = "\n".join([HEADER, ROSTER.decode().split("\n")[1]]).encode()
    applied = await _press_and_read(
        driver, org.hr, await _upload(driver, org.hr, only_hr), "Apply"
    )
    asked = await _press_and_read(driver, org.hr, applied, "Mark 405 missing people")
    text = asked["text"]
    assert text.startswith("Mark 405 people as having left?\nSun Li (E010)\nSu Yi (E011)")
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    shown = text.count("\n") - 1
    assert 50 < shown < 405
    assert text.endswith(f"...and {405 - shown} more")


# -- read once, in a worker, and the very file previewed ----------------------------------


async def _uploads(bot: WorkledgerApplication) -> list[RosterUpload]:
    async with bot.bot_data.database.uow() as uow:
        return list(await uow.session.scalars(select(RosterUpload)))


async def test_apply_imports_what_the_preview_read_without_reading_the_file_again(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _upload(driver, org.hr, ROSTER)
    [upload] = await _uploads(bot)
    assert upload.digest == hashlib.sha256(ROSTER).hexdigest()
    assert len(await driver.calls("getFile")) == 1
    applied = await _press_and_read(driver, org.hr, preview, "Apply")
    assert "1 person added" in applied["text"]
    assert len(await driver.calls("getFile")) == 1, "Apply used the roster the preview read"
    assert "E200" in await _people(bot)


async def test_another_process_applies_by_reading_the_same_file_again(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _upload(driver, org.hr, ROSTER)
    [upload] = await _uploads(bot)
    # A process that did not preview it (restarted, or another bot on the same store).
    bot.bot_data.roster_files.checked.forget(upload.id)
    applied = await _press_and_read(driver, org.hr, preview, "Apply")
    assert "1 person added" in applied["text"]
    assert len(await driver.calls("getFile")) == 2
    assert "E200" in await _people(bot)


async def test_a_file_that_is_not_the_one_previewed_is_not_imported(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _upload(driver, org.hr, ROSTER)
    [upload] = await _uploads(bot)
    bot.bot_data.roster_files.checked.forget(upload.id)
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(RosterUpload).where(RosterUpload.id == upload.id).values(digest="0" * 64)
        )
        await uow.commit()
    refused = await _press_and_read(driver, org.hr, preview, "Apply")
    assert refused["text"] == (
        "The roster was not imported: 1 problem.\n"
        "the file is no longer the one previewed: send it again"
    )
    assert "E200" not in await _people(bot)
    [upload] = await _uploads(bot)
    assert upload.status is UploadStatus.PREVIEWED


async def test_a_control_character_deep_in_the_file_is_refused_with_its_cell(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    filler = [
        f"E{n:04d},Person {n},Permits Office,Clerk,service,1.15,E010,staff,," for n in range(400)
    ]
    content = "\n".join(
        [ROSTER.decode(), *filler, "E777,Li\x00Wei,Permits Office,Clerk,service,1.15,,,,"]
    )
    assert content.index("\x00") > 8192
    reply = await _upload(driver, org.hr, content.encode())
    assert reply["text"] == (
        "The roster was not imported: 1 problem.\n"
        "row 408, column name: the cell holds an invisible control character (Li\\x00Wei); "
        "delete the character U+0000, shown as \\x.. in the value"
    )
    assert not await _uploads(bot)


async def test_other_people_are_answered_while_a_roster_is_read(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    files = bot.bot_data.roster_files
    release = asyncio.Event()
    reading = asyncio.Event()
    read = files.workers.read

    async def slow_read(data: bytes, filename: str, rules: RosterRules) -> PackedRoster:
        reading.set()
        await release.wait()
        return await read(data, filename, rules)

    files.workers.read = slow_read  # type: ignore[method-assign]
    await driver.send_document(org.hr, "roster.csv", ROSTER, mime_type="text/csv")
    await asyncio.wait_for(reading.wait(), 10)
    await driver.send_text(org.staff, "/help")
    [help_reply] = await driver.wait_for_message(org.staff.id)
    assert help_reply["text"], "answered while the roster waits for its reader"
    assert not await driver.messages(org.hr.id), "the roster is still being read"
    release.set()
    [preview] = await driver.wait_for_message(org.hr.id)
    assert preview["text"].startswith("Dry run: nothing was written.")


async def _answer_to(driver: EmulatorDriver, update: dict[str, Any]) -> str:
    query_id = update["callback_query"]["id"]

    async def answered() -> list[dict[str, Any]]:
        return await driver.callback_answers(query_id)

    [answer] = await eventually(answered)
    return str(answer.get("text", ""))


def _button(message: dict[str, Any], label: str) -> str:
    return next(
        b["callback_data"]
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == label
    )


async def test_an_apply_that_stops_part_way_is_handed_back_and_apply_again_finishes_it(
    bot: WorkledgerApplication,
    driver: EmulatorDriver,
    org: Organisation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    preview = await _upload(driver, org.hr, ROSTER)
    # The store fails once in the import's last transaction: the people are written (in
    # the transactions before), the import's record and the upload's end are not.
    fail_once(monkeypatch, RosterRepository, "add_supervisor_role", RuntimeError("disk I/O error"))
    pressed = await driver.press(org.hr, preview["message_id"], _button(preview, "Apply"))
    told = await _answer_to(driver, pressed)
    assert told == "The import stopped part-way: part of it is written. Press Apply to finish it."
    people = await _people(bot)
    assert people["E200"].supervisor_id == people["E011"].id, "what was written stays"
    [upload] = await _uploads(bot)
    assert (upload.status, upload.applying_since) == (UploadStatus.PREVIEWED, None)
    assert upload.stopped_at is not None
    # Cancelling would leave half an import: refused, and said why.
    cancel = await driver.press(org.hr, preview["message_id"], _button(preview, "Cancel"))
    assert "part of it is written" in await _answer_to(driver, cancel)
    assert (await _uploads(bot))[0].status is UploadStatus.PREVIEWED

    # Apply again: the import finds the people written and writes the rest.
    applied = await _press_and_read(driver, org.hr, preview, "Apply")
    assert "1 person added" not in applied["text"], "E200 was added the first time"
    [upload] = await _uploads(bot)
    assert (upload.status, upload.stopped_at) == (UploadStatus.APPLIED, None)
    async with bot.bot_data.database.uow() as uow:
        imported = await uow.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "roster.imported")
        )
    assert imported == 1


async def _dead_apply(bot: WorkledgerApplication, upload_id: int, *, beat_ago: timedelta) -> None:
    """What an Apply leaves in the store when its process is killed mid-import: the upload
    marked as being applied, the import's turn last beaten ``beat_ago``."""
    async with bot.bot_data.database.uow() as uow:
        beat = datetime.now(UTC) - beat_ago
        await uow.session.execute(
            update(RosterUpload).where(RosterUpload.id == upload_id).values(applying_since=beat)
        )
        uow.session.add(RosterImportTurn(slot=1, import_id="d" * 32, beat_at=beat))
        await uow.commit()


async def _stopped_told(bot: WorkledgerApplication) -> int:
    async with bot.bot_data.database.uow() as uow:
        return int(
            await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "roster_stopped")
            )
            or 0
        )


async def _run_job(bot: WorkledgerApplication, name: str) -> None:
    assert bot.job_queue is not None
    [job] = bot.job_queue.get_jobs_by_name(name)
    await job.callback(WorkledgerContext.from_job(job, bot))


async def test_an_apply_killed_mid_import_goes_back_to_hr_who_finishes_it(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    preview = await _upload(driver, org.hr, ROSTER)
    [upload] = await _uploads(bot)
    # A live import (its turn beaten just now) is left alone: it may be this very Apply.
    await _dead_apply(bot, upload.id, beat_ago=timedelta(seconds=1))
    await _run_job(bot, "stopped-roster-applies")
    assert (await _uploads(bot))[0].applying_since is not None
    assert await _stopped_told(bot) == 0, "HR is told nothing"
    # Meanwhile Apply and Cancel say it is being imported (and change nothing).
    for label in ("Apply", "Cancel"):
        pressed = await driver.press(org.hr, preview["message_id"], _button(preview, label))
        assert await _answer_to(driver, pressed) == (
            "This roster file is being imported. If the import stops, you will be told, "
            "and can press Apply again."
        )
    assert (await _uploads(bot))[0].status is UploadStatus.PREVIEWED

    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(delete(RosterImportTurn))
        await uow.commit()
    await _dead_apply(bot, upload.id, beat_ago=roster_import.TURN_STALE * 2)
    await _run_job(bot, "stopped-roster-applies")
    [told] = await driver.wait_for_message(org.hr.id, timeout=8)
    assert told["text"] == (
        "The import of roster.csv stopped part-way when the bot stopped: part of it is "
        "written. Press Apply to finish it."
    )
    [upload] = await _uploads(bot)
    assert (upload.applying_since, upload.status) == (None, UploadStatus.PREVIEWED)
    assert upload.stopped_at is not None
    # A second tick (or another process's) hands nothing back twice.
    await _run_job(bot, "stopped-roster-applies")
    assert await _stopped_told(bot) == 1

    applied = await _press_and_read(driver, org.hr, told, "Apply")
    assert "1 person added" in applied["text"]
    people = await _people(bot)
    assert people["E200"].supervisor_id == people["E011"].id
    assert (await _uploads(bot))[0].status is UploadStatus.APPLIED
