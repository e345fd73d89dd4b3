"""People and access end to end: invitations, linking, roles, menus, language, groups."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from bot.emulator import EmulatedUser, EmulatorDriver
from handlers.callbacks import InviteDepartment, SetLanguage
from handlers.context import WorkledgerApplication
from storage.models import AuditEvent, Invitation, Staff

from .conftest import eventually
from .people import Organisation, seed

pytestmark = pytest.mark.e2e

LINK = re.compile(r"https://t\.me/workledger_bot\?start=([A-Za-z0-9_-]+)")


@pytest.fixture
async def org(bot: WorkledgerApplication) -> Organisation:
    return await seed(bot.bot_data.database)


async def _say(driver: EmulatorDriver, user: EmulatedUser, text: str) -> str:
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id)
    return str(reply.get("text") or reply.get("caption"))


async def _invite(driver: EmulatorDriver, org: Organisation, employee_no: str) -> str:
    caption = await _say(driver, org.hr, f"/invite {employee_no}")
    match = LINK.search(caption)
    assert match, caption
    return match.group(1)


async def _linked_count(bot: WorkledgerApplication) -> int:
    async with bot.bot_data.database.uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(Staff).where(Staff.telegram_user_id.is_not(None))
        )
    return int(count or 0)


async def test_invitation_links_once_and_refuses_reuse_and_guesses(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    code = await _invite(driver, org, org.unlinked_no)
    [photo] = await driver.messages(org.hr.id)
    assert photo["photo"], "the invitation comes with a QR code"
    newcomer = EmulatedUser(id=7001, first_name="Ma", language_code="zh-hans")
    reply = await _say(driver, newcomer, f"/start {code}")
    assert "马" not in reply and "Ma Qing" in reply and org.unlinked_no in reply
    assert reply.startswith("欢迎")
    assert "me" in [c["command"] for c in await driver.effective_commands(newcomer.id)]

    thief = EmulatedUser(id=7002, first_name="X", language_code="en")
    assert "already been used" in await _say(driver, thief, f"/start {code}")
    guessed = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    assert "not valid" in await _say(driver, thief, f"/start {guessed}")
    assert await _linked_count(bot) == 5


async def test_an_expired_invitation_is_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    code = await _invite(driver, org, org.unlinked_no)
    async with bot.bot_data.database.uow() as uow:
        await uow.session.execute(
            update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    user = EmulatedUser(id=7003, first_name="Ma", language_code="en")
    assert "expired" in await _say(driver, user, f"/start {code}")


async def test_the_sixth_wrong_code_in_an_hour_is_refused(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    code = await _invite(driver, org, org.unlinked_no)
    guesser = EmulatedUser(id=7004, first_name="G", language_code="en")
    for attempt in range(5):
        assert "not valid" in await _say(driver, guesser, f"/start wrong{attempt}")
    assert "try again after" in await _say(driver, guesser, f"/start {code}")
    assert await _linked_count(bot) == 4


async def test_menus_differ_by_role(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    code = await _invite(driver, org, org.unlinked_no)
    await _say(driver, EmulatedUser(id=7005, first_name="Ma"), f"/start {code}")
    # Choosing a language republishes the menu of people who were linked before.
    for user in (org.supervisor, org.hr):
        await driver.send_text(user, "/language")
        [question] = await driver.wait_for_message(user.id)
        await driver.press(user, question["message_id"], SetLanguage("en").pack())

    async def menu(user_id: int) -> list[str] | None:
        names = [c["command"] for c in await driver.effective_commands(user_id)]
        return names if "me" in names else None

    staff = ["me", "log", "today", "month", "self", "language"]
    assert await eventually(lambda: menu(7005)) == [*staff, "score", "appeal", "record", "help"]
    assert await eventually(lambda: menu(org.supervisor.id)) == [
        *staff, "team", "review", "pending", "settings", "delegate", "score", "appeal", "record",
        "help",
    ]  # fmt: skip
    assert await eventually(lambda: menu(org.hr.id)) == [
        *staff, "pending", "settings", "invite", "unlink", "import", "broadcast", "notices",
        "reopen", "results", "thirdparty", "peers", "bonus", "allowance", "score", "appeal",
        "annual", "honour", "training", "record", "help",
    ]  # fmt: skip


async def test_language_choice_changes_the_next_messages_and_the_menu(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.staff, "/language")
    [question] = await driver.wait_for_message(org.staff.id)
    assert question["text"] == "Choose your language:"
    await driver.press(org.staff, question["message_id"], SetLanguage("zh_Hant").pack())

    async def edited() -> str | None:
        [message] = await driver.messages(org.staff.id)
        return str(message["text"]) if message["text"] != question["text"] else None

    assert await eventually(edited) == "語言已設定：繁體中文"
    assert "我的" in (await _say(driver, org.staff, "/help"))
    commands = await driver.effective_commands(org.staff.id)
    assert commands[0]["description"] == "我的人事資料"


async def test_non_hr_is_refused_in_their_language(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    assert "permission" in await _say(driver, org.staff, f"/invite {org.unlinked_no}")
    stranger = EmulatedUser(id=7006, first_name="Q", language_code="zh-TW")
    assert "尚未" in await _say(driver, stranger, "/me")
    assert "left" in await _say(driver, org.left, "/me")
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Invitation)) == 0


async def test_forged_and_malformed_button_presses_change_nothing(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.staff, "/help")
    [message] = await driver.wait_for_message(org.staff.id)
    for data, expected in [
        (InviteDepartment(1).pack(), "permission"),
        ("ivd:not-a-number", "no longer valid"),
        ("lg:klingon", "no longer valid"),
        ("zz:1", "no longer valid"),
    ]:
        query_id = (await driver.press(org.staff, message["message_id"], data, forge=True))[
            "callback_query"
        ]["id"]

        async def answered(query_id: str = query_id) -> list[dict[str, object]]:
            return await driver.callback_answers(query_id)

        [answer] = await eventually(answered)
        assert expected in str(answer["text"])
    async with bot.bot_data.database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Invitation)) == 0


async def test_group_chats_get_only_a_pointer(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.create_group(-100500, "Permits Office")
    await driver.send_text(org.staff, "/me", chat_id=-100500)
    [reply] = await driver.wait_for_message(-100500)
    assert "private chat" in reply["text"]
    assert "Su Yi" not in reply["text"] and "E011" not in reply["text"]


async def test_me_and_team(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    me = await _say(driver, org.staff, "/me")
    assert "Su Yi (E011)" in me and "Permits Office" in me and "Sun Li" in me
    assert "1.15" in me
    team = await _say(driver, org.supervisor, "/team")
    assert "2 people report to you; 1 joined." in team
    assert "E100 Ma Qing: not joined yet" in team


async def test_department_sheet_and_unlink(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    await driver.send_text(org.hr, "/invite")
    [choice] = await driver.wait_for_message(org.hr.id)
    buttons = [b for row in choice["reply_markup"]["inline_keyboard"] for b in row]
    permits = next(b for b in buttons if b["text"] == "Permits Office")
    await driver.press(org.hr, choice["message_id"], permits["callback_data"])
    [document] = await driver.wait_for_message(org.hr.id)
    [summary, _] = await driver.messages(org.hr.id)
    assert summary["text"] == "2 invitations for Permits Office."
    page = (await driver.file_bytes(document["document"]["file_id"])).decode()
    assert page.count("<svg") == 2 and "Ma Qing" in page and "Tang Wen" in page

    assert "unlinked" in await _say(driver, org.hr, "/unlink E011")
    assert "not linked" in await _say(driver, org.staff, "/me")
    async with bot.bot_data.database.uow() as uow:
        actions = [e.action for e in await uow.session.scalars(select(AuditEvent))]
    assert actions.count("staff.invited") == 2 and "staff.unlinked" in actions


_user_ids = itertools.count(800_000)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payload=st.text(max_size=300))
async def test_arbitrary_start_payloads_never_raise_and_never_link(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation, payload: str
) -> None:
    user = EmulatedUser(id=next(_user_ids), first_name="Fuzz", language_code="en")
    text = f"/start {payload}"
    await driver.send_text(user, text)
    [reply] = await driver.wait_for_message(user.id)
    assert "Sorry, something went wrong" not in reply["text"]
    assert await _linked_count(bot) == 4
